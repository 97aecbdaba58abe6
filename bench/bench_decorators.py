"""Per-call overhead of ``@tracer.trace_llm`` against an undecorated call and a bare OTel span.

    python bench/bench_decorators.py           # 30 rounds x 2,000 calls per variant
    python bench/bench_decorators.py --quick   # 8 rounds x 1,000 calls

All three variants run in one process, on one ``TracerProvider`` (the one ``configure``
installs), interleaved round by round in a rotating order so that noise from other
processes lands on all of them alike. Spyglass is configured as a user would:
``tracer.configure(db=<tmp>)``, content capture on, DuckDB export on its background thread.

Between timed blocks the queue is flushed (untimed), so the exporter thread does not take
the GIL in the middle of another variant's block; what that background export costs per
span is measured and printed separately.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import io
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import TimedAttr, load, revision

import tracer
from tracer import _call
from tracer._settings import settings

TARGET_RATIO = 1.5  # @trace_llm overhead <= 1.5x the overhead of a bare SDK span

QUESTION = "What is the boiling point of water at the top of Mount Everest, and why is it lower?"
DOCS = [
    {"id": "doc-1", "content": "Water boils at about 70 degrees Celsius on the summit of Everest.", "score": 0.92},
    {"id": "doc-2", "content": "Atmospheric pressure falls with altitude, lowering the boiling point.", "score": 0.87},
    {"id": "doc-3", "content": "At sea level water boils at 100 degrees Celsius (212 Fahrenheit).", "score": 0.55},
]
ANSWER = (
    "At the summit of Mount Everest water boils at roughly 70 degrees Celsius, because the air "
    "pressure there is about a third of the pressure at sea level and boiling happens when vapour "
    "pressure equals the ambient pressure."
)
assert 190 <= len(ANSWER) <= 230


def answer(question: str, docs: list[dict]) -> str:
    return ANSWER


def _median_us(samples_ns: list[float], calls: int) -> float:
    return statistics.median(samples_ns) / calls / 1000


def _iqr_us(samples_ns: list[float], calls: int) -> tuple[float, float]:
    q = statistics.quantiles([s / calls / 1000 for s in samples_ns], n=4)
    return q[0], q[2]


def run_block(fn: Callable[[], None], calls: int) -> int:
    """``calls`` calls of ``fn``, timed as one block; returns nanoseconds."""
    rng = range(calls)
    t0 = time.perf_counter_ns()
    for _ in rng:
        fn()
    return time.perf_counter_ns() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short run (8 rounds x 1,000 calls)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    ap.add_argument(
        "--schedule-delay",
        type=float,
        default=0.5,
        help="configure(schedule_delay=...): how often the exporter thread wakes (default 0.5 s, the library default)",
    )
    ap.add_argument("--no-profile", action="store_true", help="skip the breakdown and cProfile sections")
    args = ap.parse_args()
    rounds = args.rounds or (8 if args.quick else 30)
    calls = args.calls or (1_000 if args.quick else 2_000)

    tmp = tempfile.mkdtemp(prefix="spyglass-bench-")
    db = os.path.join(tmp, "bench.duckdb")
    provider = tracer.configure(db=db, schedule_delay=args.schedule_delay)
    s = settings()
    assert s.capture_content, "content capture must be on for this benchmark (unset SPYGLASS_CAPTURE_CONTENT)"
    otel_tracer = provider.get_tracer("bench")

    traced = tracer.trace_llm(model="gpt-4o-mini", prompt_version="qa-v3")(answer)

    def v_plain() -> None:
        answer(QUESTION, DOCS)

    def v_bare() -> None:
        with otel_tracer.start_as_current_span("x"):
            answer(QUESTION, DOCS)

    def v_spyglass() -> None:
        traced(QUESTION, DOCS)

    # Reference, not the target's baseline: what hand-written OTel code recording the same
    # attributes costs (plain json.dumps, no limits, no scrubbing, no guard).
    spec: _call.Spec = inspect.getclosurevars(traced).nonlocals["spec"]
    static = dict(spec.static)

    def v_manual() -> None:
        with otel_tracer.start_as_current_span(spec.name, attributes=static) as span:
            span.set_attribute("input.value", json.dumps({"question": QUESTION, "docs": DOCS}, ensure_ascii=False))
            span.set_attribute("input.mime_type", "application/json")
            result = answer(QUESTION, DOCS)
            span.set_attribute("output.value", result)
            span.set_attribute("output.mime_type", "text/plain")
            span.set_attribute(
                "gen_ai.output.messages",
                json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": result}]}], ensure_ascii=False),
            )

    variants: dict[str, Callable[[], None]] = {
        "undecorated": v_plain,
        "bare OTel span": v_bare,
        "@trace_llm": v_spyglass,
        "hand-written span*": v_manual,
    }
    # Warm up every path (imports, caches, first DuckDB ingest).
    for fn in variants.values():
        run_block(fn, 500)
    tracer.flush()

    samples: dict[str, list[int]] = {k: [] for k in variants}
    export_ns: dict[str, list[float]] = {k: [] for k in variants}  # flush time per span after the block
    names = list(variants)
    t_start = time.monotonic()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            samples[name].append(run_block(variants[name], calls))
            t0 = time.perf_counter_ns()
            tracer.flush()
            export_ns[name].append((time.perf_counter_ns() - t0) / calls)
    elapsed = time.monotonic() - t_start

    med = {k: _median_us(v, calls) for k, v in samples.items()}
    base = med["undecorated"]
    over = {k: med[k] - base for k in med}
    ratio = over["@trace_llm"] / over["bare OTel span"] if over["bare OTel span"] > 0 else float("nan")

    print(f"# bench_decorators  ({rounds} rounds x {calls:,} calls per variant, interleaved; {elapsed:.1f} s)")
    print(
        f"# {time.strftime('%Y-%m-%d')}  spyglass {revision()}  python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, opentelemetry-sdk {_version('opentelemetry-sdk')}, duckdb {_version('duckdb')}, "
        f"{load()}"
    )
    print()
    print(f"{'variant':<19} {'median µs/call':>15} {'IQR':>16} {'overhead µs':>12} {'x bare span':>12}")
    for k in names:
        lo, hi = _iqr_us(samples[k], calls)
        rel = "" if k == "undecorated" else f"{over[k] / over['bare OTel span']:.2f}x"
        print(f"{k:<19} {med[k]:>15.2f} {f'{lo:.2f}-{hi:.2f}':>16} {over[k]:>12.2f} {rel:>12}")
    print()
    met = ratio <= TARGET_RATIO
    paired = statistics.median(
        (sp - pl) / (b - pl)
        for sp, b, pl in zip(samples["@trace_llm"], samples["bare OTel span"], samples["undecorated"])
    )
    print(
        f"@trace_llm overhead / bare span overhead = {ratio:.2f}x  (median of per-round ratios {paired:.2f}x)   "
        f"target <= {TARGET_RATIO}x   {'MET' if met else 'MISSED'}"
    )
    print(
        f"* reference: an OTel span with the same {len(static) + 5} attributes set by hand (json.dumps, no "
        f"limits/scrubbing/guards); @trace_llm overhead / its overhead = "
        f"{over['@trace_llm'] / over['hand-written span*']:.2f}x"
    )
    print()
    print(
        "export cost, not on the traced call (tracer.flush() after each block: spans_to_table + DuckDB "
        "ingest, per span):"
    )
    for k in names[1:]:
        print(f"  {k:<19} {statistics.median(export_ns[k]) / 1000:8.2f} µs/span")
    span_sizes = _span_attr_sizes(db)
    if span_sizes:
        print("  attribute JSON per span in the store: " + ", ".join(f"{n}: {b} B" for n, b in span_sizes))

    if not args.no_profile:
        print()
        in_situ(traced, calls=max(calls, 2_000), rounds=max(5, rounds // 3), plain_us=med["@trace_llm"])
        print()
        breakdown(traced, otel_tracer, calls=max(calls, 2_000), rounds=max(5, rounds // 3))
        print()
        profile(v_spyglass, calls=5_000)
    tracer.shutdown()
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    try:
        return version(dist)
    except Exception:
        return "?"


def _span_attr_sizes(db: str) -> list[tuple[str, int]]:
    tracer.flush()
    try:
        with tracer.Store(db).connect() as con:
            rows = con.execute(
                "SELECT scope || ': ' || name, median(strlen(attributes::VARCHAR))::BIGINT "
                "FROM spans GROUP BY ALL ORDER BY 1"
            ).fetchall()
        return [(r[0], int(r[1])) for r in rows]
    except Exception as exc:  # informational only
        return [("error", str(exc))]  # type: ignore[list-item]


class _TracerProxy:
    """Stands in for ``tracer._call._tracer`` so that ``start_span`` can be timed inside ``Spec.start``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def start_span(self, *a: Any, **k: Any) -> Any:
        return self.inner.start_span(*a, **k)


def in_situ(traced: Callable[..., Any], calls: int, rounds: int, plain_us: float) -> None:
    """Time the pieces of real ``@trace_llm`` calls by wrapping tracer internals in this process.

    Each wrapper adds a fraction of a µs to the pieces that contain it, so read the figures as shares.
    """
    spec: _call.Spec = inspect.getclosurevars(traced).nonlocals["spec"]
    real_tracer = _call._tracer
    proxy = _TracerProxy(real_tracer)
    _call._tracer = proxy  # type: ignore[assignment]
    timers = {
        "Spec.start": TimedAttr(_call.Spec, "start"),
        "Call.finish": TimedAttr(_call.Call, "finish"),
        "Call._end": TimedAttr(_call.Call, "_end"),
        "set_content": TimedAttr(_call, "set_content"),
        "to_text": TimedAttr(_call, "to_text"),
        "output hook": TimedAttr(spec, "output_hook"),
        "start_span": TimedAttr(proxy, "start_span"),
    }
    samples: list[int] = []
    try:
        for timer in timers.values():
            timer.__enter__()
        for _ in range(rounds):
            gc.collect()
            samples.append(run_block(lambda: traced(QUESTION, DOCS), calls))
            tracer.flush()
    finally:
        for timer in reversed(list(timers.values())):
            timer.__exit__()
        _call._tracer = real_tracer  # type: ignore[assignment]
    n = calls * rounds
    per = {k: v.ns / n / 1000 for k, v in timers.items()}
    total = sum(samples) / n / 1000
    wrapped = sum(v.calls for v in timers.values()) / n
    print(
        f"in-situ timing of {n:,} @trace_llm calls (tracer internals wrapped in this process; inclusive µs per "
        f"call; {wrapped:.0f} wrapped calls per call inflate the total vs {plain_us:.1f} µs unwrapped: read as shares):"
    )
    rows = [
        ("whole call (decorator shell included)", total),
        ("  Spec.start", per["Spec.start"]),
        (f"    start_span(name, {len(spec.static)} static attrs)", per["start_span"]),
        ("    input capture (1 set_content) and Call()", per["Spec.start"] - per["start_span"]),
        ("  Call.finish", per["Call.finish"]),
        ("    llm_output hook (2 set_content)", per["output hook"]),
        ("    Call._end (span.end -> processor.on_end)", per["Call._end"]),
        ("  shell, attach/detach, user function", total - per["Spec.start"] - per["Call.finish"]),
        ("all 3 set_content", per["set_content"]),
        ("  of which to_text (walk, json.dumps, scrub)", per["to_text"]),
        ("  of which Span.set_attribute x5, redact hook", per["set_content"] - per["to_text"]),
    ]
    for label, us in rows:
        print(f"  {label:<50} {us:8.2f} µs  {us / total * 100:5.1f}%")


def breakdown(traced: Callable[..., Any], otel_tracer: Any, calls: int, rounds: int) -> None:
    """Where the time of one ``@trace_llm`` call goes: each step of the hot path timed alone.

    Each step runs ``calls`` times in a block, with real spans (ended, so the processor's
    ``on_end`` runs too), and the undecorated loop is subtracted.
    """
    spec: _call.Spec = inspect.getclosurevars(traced).nonlocals["spec"]
    s = settings()
    sdk_tracer = _call._tracer
    static = spec.static
    name = spec.name
    value = spec.inputs((QUESTION, DOCS), {})

    def loop() -> None:
        answer(QUESTION, DOCS)

    def start_end_no_attrs() -> None:
        sdk_tracer.start_span(name).end()

    def start_end_static() -> None:
        sdk_tracer.start_span(name, attributes=static).end()

    def spec_start_end() -> None:  # Spec.start: settings, start_span(static), Call(), input capture
        c = spec.start((QUESTION, DOCS), {})
        c.span.end()

    span_for_attrs = sdk_tracer.start_span("attrs")
    ctx = otel_context.get_current()

    def ctx_attach_detach() -> None:
        otel_context.detach(otel_context.attach(ctx))

    def to_text_input() -> None:
        _call.to_text(value, s)

    def set_content_input() -> None:
        _call.set_content(span_for_attrs, "input.value", value, s, "input.mime_type")

    def to_text_output_messages() -> None:
        _call.to_text([{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}]}], s)

    def llm_output_hook() -> None:  # what Call.finish adds before span.end()
        _call.llm_output(c_holder[0], ANSWER, s)

    c_holder = [spec.start((QUESTION, DOCS), {})]

    def set_attribute_one() -> None:
        span_for_attrs.set_attribute("k", "v")

    def bare_cm() -> None:
        with otel_tracer.start_as_current_span("x"):
            pass

    def full() -> None:
        traced(QUESTION, DOCS)

    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    message = [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}]}]

    def ref_dumps_input() -> None:
        encoder.encode(value)

    def ref_dumps_output() -> None:
        encoder.encode(message)

    steps: list[tuple[str, Callable[[], None]]] = [
        ("loop + undecorated call", loop),
        ("bare: start_as_current_span + end", bare_cm),
        ("start_span(name) + end, no attributes", start_end_no_attrs),
        (f"start_span(name, {len(static)} static attrs) + end", start_end_static),
        ("Spec.start (+ input capture) + end", spec_start_end),
        ("  input to_text (walk + json.dumps)", to_text_input),
        ("  set_content(input) incl. 2 set_attribute", set_content_input),
        ("  one Span.set_attribute", set_attribute_one),
        ("context attach + detach", ctx_attach_detach),
        ("Call.finish's llm_output hook", llm_output_hook),
        ("  output.messages to_text", to_text_output_messages),
        ("full @trace_llm call", full),
        ("reference: C json encoder alone, input", ref_dumps_input),
        ("reference: C json encoder alone, output.messages", ref_dumps_output),
    ]
    res: dict[str, list[int]] = {n: [] for n, _ in steps}
    for _ in range(rounds):
        for n, fn in steps:
            res[n].append(run_block(fn, calls))
            tracer.flush()  # an empty queue before each block: the exporter stays idle while timed
    span_for_attrs.end()
    c_holder[0].span.end()
    base = _median_us(res["loop + undecorated call"], calls)
    print(f"each step alone (medians of {rounds} blocks x {calls:,}; loop cost {base:.2f} µs subtracted):")
    for n, _ in steps:
        if n == "loop + undecorated call":
            continue
        print(f"  {n:<48} {_median_us(res[n], calls) - base:8.2f} µs")


def profile(fn: Callable[[], None], calls: int) -> None:
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        fn()
    pr.disable()
    tracer.flush()
    out = io.StringIO()
    st = pstats.Stats(pr, stream=out)
    st.sort_stats("tottime").print_stats(18)
    text = out.getvalue()
    start = text.find("   ncalls")
    print(
        f"cProfile of {calls:,} @trace_llm calls, top functions by own time (cProfile inflates "
        f"small calls; use for proportions):"
    )
    print(text[start:].rstrip())


if __name__ == "__main__":
    sys.exit(main())
