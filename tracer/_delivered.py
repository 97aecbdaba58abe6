"""What the user actually received, after post-processing: one rule for the viewer and export.

A post-processing decision (``tracer.record_decision``) can block the answer (verdict
``block``) or change it (``modify``); ``pass`` and ``flag`` leave it as it was. The first
``block`` decides; else the last ``modify``. What the user got is the deciding decision's
``after`` text, else the output of the step that made it (never the judged answer itself).
It applies to one answer (see :func:`affected`).

Pure functions over stored rows: decisions as in the ``decisions`` table (``name``,
``verdict``, ``before_text``, ``after_text``, ``span_id``, ``time``), spans as in ``spans``
(``span_id``, ``parent_span_id``, ``span_type``, ``start_time``, ``attributes``).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import attributes as A
from ._content import output_text

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
    return output_text(json.loads(attrs) if isinstance(attrs, str) else attrs)


def of_trace(
    decisions: Sequence[Mapping[str, Any]], spans: Sequence[Mapping[str, Any]], answers: Iterable[str | None] = ()
) -> Delivered:
    """The outcome of a trace's decisions (in order); ``answers``: the texts of its LLM
    answers, which the deciding step's return value is then known not to be."""
    blocked = next((d for d in decisions if d.get("verdict") == "block"), None)
    modified = [d for d in decisions if d.get("verdict") == "modify"]
    decision = blocked or (modified[-1] if modified else None)
    if decision is None:
        return Delivered(DELIVERED)
    first = next(d for d in decisions if d.get("verdict") in ("block", "modify"))  # what the model said
    original = first.get("before_text")
    received = decision.get("after_text")
    if received is None:
        # Else what the deciding step returned, unless that is the answer it judged: a check
        # that blocks and hands its input back never "delivered" the blocked text.
        step = next((s for s in spans if str(s.get("span_id")) == decision.get("span_id")), None)
        returned = _output(step)
        judged = {t.strip() for t in (original, decision.get("before_text"), *answers) if isinstance(t, str)}
        if returned is not None and returned.strip() not in judged and (not blocked or judged):
            received = returned
    return Delivered(BLOCKED if blocked else MODIFIED, decision, received, original)


def _ancestors(span_id: str, parents: Mapping[str, str | None]) -> set[str]:
    out: set[str] = set()
    pid = parents.get(span_id)
    while pid and pid not in out:
        out.add(pid)
        pid = parents.get(pid)
    return out


def _started_by(span: Mapping[str, Any] | None, limit: Any) -> bool:
    start = span.get("start_time") if span is not None else None
    return not (isinstance(limit, _dt.datetime) and isinstance(start, _dt.datetime) and start > limit)


def affected(result: Delivered, spans: Sequence[Mapping[str, Any]], answers: Mapping[str, str | None]) -> set[str]:
    """Which one of ``answers`` (logical LLM calls: span id -> answer text, in the order they
    started) the outcome applies to: a decision judges one answer, and earlier calls (a query
    rewrite, an agent's tool-calling turn) keep their own output. Failing closed: when a
    block or modify is there, some answer is never left looking delivered.

    1. The answer whose text is the decision's ``before`` text.
    2. Made by a guardrail span: the last answer that started before it, outside it; else,
       when the guardrail wraps the call, the first answer inside it (a judge comes after).
    3. Else the last answer that started before the decision; else the last answer.
    """
    if not result.changed or result.decision is None or not answers:
        return set()
    decision = result.decision
    before = decision.get("before_text")
    if isinstance(before, str):
        same = [sid for sid, text in answers.items() if isinstance(text, str) and text.strip() == before.strip()]
        if same:
            return {same[-1]}
    by_id = {str(s["span_id"]): s for s in spans}
    parents = {sid: s.get("parent_span_id") for sid, s in by_id.items()}
    step = decision.get("span_id")
    when = decision.get("time")
    if step in by_id and by_id[step].get("span_type") in (A.SPAN_TYPE_POSTPROCESS, None):
        inside = [sid for sid in answers if sid == step or step in _ancestors(sid, parents)]
        outside = [
            sid for sid in answers if sid not in inside and _started_by(by_id.get(sid), by_id[step].get("start_time"))
        ]
        if outside:
            return {outside[-1]}
        inside = [sid for sid in inside if sid != step and _started_by(by_id.get(sid), when)]
        if inside:
            return {inside[0]}
    earlier = [sid for sid in answers if _started_by(by_id.get(sid), when)]
    return {earlier[-1] if earlier else list(answers)[-1]}
