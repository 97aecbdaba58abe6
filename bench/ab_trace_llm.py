"""A/B of the traced call alone, for comparing two checkouts on one machine, in one session.

    TREE=/path/to/checkout PYTHONPATH=/path/to/checkout python bench/ab_trace_llm.py

``METER=1`` first sets an SDK MeterProvider (an in-memory reader), so the GenAI client metrics
are recorded too; the traced function then reports usage (``record_usage``), as a real call does.

One process per checkout: ``@trace_llm`` and a bare SDK span, both on a provider with
Spyglass's on-start processor and no exporter (so the store's background thread does not
share the GIL), 9 rounds of 3,000 calls each, the fastest round. Run the two checkouts
alternately, several times: the figures that matter are the ones from the same minutes.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["TREE"], "bench"))
sys.argv = ["x"]
import bench_decorators as b

import tracer
import tracer.testing
from tracer import _call

if os.environ.get("METER") == "1":
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


def answer(question: str, docs: list[dict]) -> str:
    tracer.record_usage(input_tokens=812, output_tokens=64)
    return b.answer(question, docs)


p = tracer.testing.new_tracer_provider()
_call.set_tracer_provider(p)
traced = tracer.trace_llm(model="gpt-4o-mini")(answer)
ot = p.get_tracer("bench")


def bare():
    with ot.start_as_current_span("x"):
        b.answer(b.QUESTION, b.DOCS)


def llm():
    traced(b.QUESTION, b.DOCS)


out = {}
for name, f in (("trace_llm", llm), ("bare", bare)):
    for _ in range(500):
        f()
    runs = []
    for r in range(9):
        t = time.perf_counter_ns()
        for _ in range(3000):
            f()
        runs.append((time.perf_counter_ns() - t) / 3000 / 1000)
    out[name] = min(runs)
print(
    os.environ["TREE"].split("/")[-1] + (" +MeterProvider" if os.environ.get("METER") == "1" else ""),
    "trace_llm {:.1f} µs, bare span {:.1f} µs, ratio {:.2f}".format(
        out["trace_llm"], out["bare"], out["trace_llm"] / out["bare"]
    ),
)
