"""Stores for the dashboards' tests, every time, duration and count chosen here: spans written
through the real tracer's provider at fixed times (as an instrumented app writes them), then
grounding results (``Store.add_evaluations``) and annotations (``Store.annotate``).

:data:`TRACES` is small enough to check every figure by hand (tests/test_store_dashboards.py);
:func:`many` gives a few hours of two prompt versions for the screen's tests and screenshots.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

import tracer
from tracer import attributes as A

from . import _viewer_store as vs

T0 = dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.timezone.utc)
MS = 1_000_000  # nanoseconds


# (root, minutes after T0, trace ms, prompt version, user, model, tokens in/out, cost, failed,
#  the answer's grounding labels and scores). The first call is a @trace_llm function around
# an instrumented client call: both report usage, counted once, under the client's snapshot.
TRACES: list[dict[str, Any]] = [
    dict(root="rag", at=5, ms=100, version="v1", user="ann", model="gpt-4o-mini", tokens=(100, 20), cost=0.001,
         nested="gpt-4o-mini-2024-07-18", grounding=[("grounded", 0.9)]),
    dict(root="rag", at=20, ms=200, version="v1", user="ben", model="gpt-4o-mini", tokens=(200, 40), cost=0.002,
         grounding=[("hallucination", 0.2)]),
    dict(root="rag", at=40, ms=300, version="v2", user="ann", model="gpt-4o", tokens=(300, 60), cost=0.01,
         failed=True, grounding=[("grounded", 0.8)]),
    dict(root="chat", at=70, ms=400, version="v2", user="ben", model="gpt-4o", tokens=(100, 10), cost=0.005,
         grounding=[("grounded", 0.6), ("hallucination", 0.1)]),
    dict(root="chat", at=90, ms=500, version="v2", user=None, model="gpt-4o-mini", tokens=(50, 5), cost=0.0005,
         grounding=[("no_documents", None)]),
    dict(root="chat", at=110, ms=1000, version=None, user="ann", model=None),
]  # fmt: skip


def write(path: Path | str, traces: list[dict[str, Any]] | None = None) -> list[str]:
    """``traces`` (default :data:`TRACES`), as an app with Spyglass's provider writes them;
    their ids in order."""
    traces = TRACES if traces is None else traces
    with vs.no_export_grounding():
        provider = tracer.configure(db=path)
    otel = provider.get_tracer("tests.dashboards")
    for t in traces:
        start = int((T0 + dt.timedelta(minutes=t["at"])).timestamp() * 1e9)
        attrs: dict[str, Any] = {A.SPAN_TYPE: A.SPAN_TYPE_STEP}
        if t["version"]:
            attrs[A.PROMPT_VERSION] = t["version"]
        if t["user"]:
            attrs[A.USER_ID] = t["user"]
        root = otel.start_span(t["root"], start_time=start, attributes=attrs)
        if t["model"]:
            usage = {
                A.GEN_AI_USAGE_INPUT_TOKENS: t["tokens"][0],
                A.GEN_AI_USAGE_OUTPUT_TOKENS: t["tokens"][1],
                A.COST_USD: t["cost"],
            }
            inside = otel_trace.set_span_in_context(root)
            call = otel.start_span(
                "answer",
                context=inside,
                start_time=start + 5 * MS,
                attributes={A.SPAN_TYPE: A.SPAN_TYPE_LLM, A.GEN_AI_REQUEST_MODEL: t["model"], **usage},
            )
            if t.get("nested"):
                client = otel.start_span(
                    f"chat {t['model']}",
                    context=otel_trace.set_span_in_context(call),
                    start_time=start + 10 * MS,
                    attributes={
                        A.GEN_AI_OPERATION_NAME: "chat",
                        A.GEN_AI_REQUEST_MODEL: t["model"],
                        A.GEN_AI_RESPONSE_MODEL: t["nested"],
                        **usage,
                    },
                )
                client.end(end_time=start + 90 * MS)
            if t.get("failed"):
                call.set_status(Status(StatusCode.ERROR, "model exploded"))
                root.set_status(Status(StatusCode.ERROR, "model exploded"))
            call.end(end_time=start + (t["ms"] - 5) * MS)
        root.end(end_time=start + t["ms"] * MS)
    assert tracer.flush()
    store = tracer.Store(path)
    ids = [str(r["trace_id"]) for r in reversed(store.list_traces(limit=100))]
    evaluations = []
    for trace_id, t in zip(ids, traces):
        for label, score in t.get("grounding", []):
            span = vs.llm_span(path, trace_id)
            evaluations.append({"trace_id": trace_id, "span_id": span, "label": label, "score": score})
    store.add_evaluations(evaluations)
    # Another tool's evaluation named "grounding" (from a span event) is not the grounding check's.
    store.add_evaluations(
        [{"trace_id": ids[2], "span_id": vs.llm_span(path, ids[2]), "label": "hallucination", "score": 0.0}],
        source="span",
    )
    store.annotate(ids[2], "hallucination", "made up a figure")
    store.annotate(ids[0], "correct")
    return ids


def many(hours: int = 6, per_hour: int = 8, seed: int = 7) -> list[dict[str, Any]]:
    """``hours`` of traffic from T0, ``per_hour`` traces an hour: prompt version ``qa-v1`` the
    first half, ``qa-v2`` (better grounded, a little slower and dearer) the second, over
    three models, four users and two root spans; about one trace in ten fails."""
    rng = random.Random(seed)
    models = {"gpt-4o-mini": 0.0002, "gpt-4o": 0.004, "claude-3-5-sonnet": 0.003}
    out = []
    for i in range(hours * per_hour):
        minutes = i * 60 // per_hour + rng.randrange(60 // per_hour)
        late = i >= hours * per_hour // 2
        model = rng.choice(list(models))
        tokens = (rng.randrange(200, 900), rng.randrange(20, 120))
        grounded = rng.random() < (0.85 if late else 0.6)
        out.append(
            dict(
                root=rng.choice(["rag", "rag", "chat"]),
                at=minutes,
                ms=rng.uniform(300, 900) * (1.2 if late else 1.0) + (2500 if rng.random() < 0.05 else 0),
                version="qa-v2" if late else "qa-v1",
                user=rng.choice(["u-ann", "u-ben", "u-cho", "u-dev"]),
                model=model,
                tokens=tokens,
                cost=round(sum(tokens) / 1000 * models[model] * (1.1 if late else 1.0), 6),
                failed=rng.random() < 0.1,
                grounding=[
                    ("grounded", rng.uniform(0.7, 0.98)) if grounded else ("hallucination", rng.uniform(0.1, 0.5))
                ],
            )
        )
    return out
