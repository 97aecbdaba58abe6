"""What the user actually received, after post-processing: one rule for the viewer and export.

A post-processing decision (``tracer.record_decision``) can block the answer (verdict
``block``) or change it (``modify``); ``pass`` and ``flag`` leave it as it was. The first
``block`` decides; else the last ``modify``. What the user got is the deciding decision's
``after`` text, else the output of the step that made it. The answer it applies to is every
LLM answer that started before that step, outside it (an LLM judge inside a guardrail is
not the answer).

Pure functions over stored rows: decisions as in the ``decisions`` table (``name``,
``verdict``, ``before_text``, ``after_text``, ``span_id``), spans as in ``spans`` (``span_id``,
``parent_span_id``, ``start_time``, ``attributes``).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from . import attributes as A

__all__ = ["BLOCKED", "DELIVERED", "KINDS", "MODIFIED", "Delivered", "affected", "of_trace"]

BLOCKED, MODIFIED, DELIVERED = "blocked", "modified", "delivered"
KINDS = (DELIVERED, MODIFIED, BLOCKED)


@dataclass(frozen=True)
class Delivered:
    kind: str  # delivered | modified | blocked
    decision: Mapping[str, Any] | None = None  # the row that blocked, or the last that modified
    received: str | None = None  # the text the user got, when known
    original: str | None = None  # the answer before post-processing, when a decision kept it

    @property
    def changed(self) -> bool:
        return self.kind != DELIVERED


def _output(span: Mapping[str, Any] | None) -> str | None:
    if span is None:
        return None
    attrs = span.get("attributes") or {}
    if isinstance(attrs, str):
        attrs = json.loads(attrs)
    value = attrs.get(A.OI_OUTPUT_VALUE)
    if isinstance(value, str) and value.strip()[:1] == '"':
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return value if isinstance(value, str) else None


def of_trace(decisions: Sequence[Mapping[str, Any]], spans: Sequence[Mapping[str, Any]]) -> Delivered:
    """The outcome of a trace's decisions (in order)."""
    blocked = next((d for d in decisions if d.get("verdict") == "block"), None)
    modified = [d for d in decisions if d.get("verdict") == "modify"]
    decision = blocked or (modified[-1] if modified else None)
    if decision is None:
        return Delivered(DELIVERED)
    step = next((s for s in spans if str(s.get("span_id")) == decision.get("span_id")), None)
    after = decision.get("after_text")
    received = after if after is not None else _output(step)
    first = next(d for d in decisions if d.get("verdict") in ("block", "modify"))  # what the model said
    return Delivered(BLOCKED if blocked else MODIFIED, decision, received, first.get("before_text"))


def _ancestors(span_id: str, parents: Mapping[str, str | None]) -> set[str]:
    out: set[str] = set()
    pid = parents.get(span_id)
    while pid and pid not in out:
        out.add(pid)
        pid = parents.get(pid)
    return out


def affected(result: Delivered, spans: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> set[str]:
    """Which of ``answers`` (LLM span ids) the outcome applies to.

    Made by a post-processing span: the answers that started before it, outside it (an LLM
    judge inside a guardrail is not the answer). Recorded by an enclosing step itself (the
    pipeline calls the model, then decides): the answers that started before the decision.
    """
    if not result.changed or result.decision is None:
        return set()
    by_id = {str(s["span_id"]): s for s in spans}
    parents = {sid: s.get("parent_span_id") for sid, s in by_id.items()}
    step = result.decision.get("span_id")
    if step is None or step not in by_id:
        return set(answers)
    guard = by_id[step].get("span_type") in (A.SPAN_TYPE_POSTPROCESS, None)
    began = by_id[step].get("start_time") if guard else result.decision.get("time")
    out = set()
    for sid in answers:
        if guard and (sid == step or step in _ancestors(sid, parents)):
            continue
        start = by_id.get(sid, {}).get("start_time")
        if isinstance(began, _dt.datetime) and isinstance(start, _dt.datetime) and start > began:
            continue
        out.add(sid)
    return out
