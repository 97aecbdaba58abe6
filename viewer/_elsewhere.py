"""Parts of one request that landed in other traces. Pure: no Streamlit.

When nothing encloses a pipeline's calls (no ``@tracer.trace_step`` function, no ``with
tracer.span(...)`` block around them), each top-level call is a trace of its own: the
retrieval, the answer and the post-processing of one request end up in three traces (README.md,
"Tracing your code"). The viewer recognises that by time: a trace of the same service with a
retriever span that started in the few seconds before the answer's, or one with a
post-processing span that started in the few seconds after it began.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

# How far apart the parts of one request still look like one request (an app's retrieval,
# call and guard run within a few seconds).
NEARBY_S = 10.0
README_SECTION = "Tracing your code"
README_ANCHOR = "#tracing-your-code"
README = f'README.md, section "{README_SECTION}" ({README_ANCHOR})'


def before(trace: Mapping[str, Any]) -> tuple[_dt.datetime, _dt.datetime] | None:
    """``[since, until)`` for traces that started in the few seconds before this one (or with it)."""
    start = trace.get("start_time")
    if not isinstance(start, _dt.datetime):
        return None
    return start - _dt.timedelta(seconds=NEARBY_S), start + _dt.timedelta(microseconds=1)


def after(trace: Mapping[str, Any]) -> tuple[_dt.datetime, _dt.datetime] | None:
    """``[since, until)`` for traces that started while this one ran or in the few seconds after."""
    start = trace.get("start_time")
    if not isinstance(start, _dt.datetime):
        return None
    end = trace.get("end_time")
    if not isinstance(end, _dt.datetime):
        end = start
    return start, end + _dt.timedelta(seconds=NEARBY_S)


def others(trace: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """The trace-list ``rows`` that are other traces of the same service, nearest first; not
    those with an LLM call of their own (a whole request: its retrieval or guard is its own)."""
    found = [
        r
        for r in rows
        if r.get("trace_id") != trace.get("trace_id")
        and r.get("service_name") == trace.get("service_name")
        and "llm" not in (r.get("span_types") or ())
    ]
    start = trace.get("start_time")
    if isinstance(start, _dt.datetime):
        found.sort(
            key=lambda r: (
                abs((r["start_time"] - start).total_seconds())
                if isinstance(r.get("start_time"), _dt.datetime)
                else float("inf")
            )
        )
    return tuple(found)


def distance(row: Mapping[str, Any], trace: Mapping[str, Any]) -> str:
    """How far from this trace another one started: ``0.4 ms earlier``, ``2.1 s later``."""
    a, b = row.get("start_time"), trace.get("start_time")
    if not (isinstance(a, _dt.datetime) and isinstance(b, _dt.datetime)):
        return ""
    seconds = (b - a).total_seconds()
    word = "earlier" if seconds >= 0 else "later"
    seconds = abs(seconds)
    return f"{seconds * 1000:.1f} ms {word}" if seconds < 1 else f"{seconds:.1f} s {word}"


def _name(value: Any, default: str) -> str:
    text = str(value or "")
    return text if text.isidentifier() else default


def wrap_example(retriever: str | None, answer: str | None, guard: str | None) -> str:
    """The fix, in the user's own function names where the store has them."""
    body = []
    if retriever:
        body.append(f"    docs = {_name(retriever, 'search')}(question)")
        call = f"{_name(answer, 'answer')}(question, docs)"
    else:
        call = f"{_name(answer, 'answer')}(question)"
    body.append(f"    return {_name(guard, 'guard')}({call})" if guard else f"    return {call}")
    return (
        "@tracer.trace_step  # one trace per request\n"
        "def pipeline(question):\n" + "\n".join(body) + "\n\n"
        "# or, around code that is no function:\n"
        'with tracer.span("pipeline"):\n'
        "    ..."
    )
