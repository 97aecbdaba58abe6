"""What the user actually received, after post-processing. Pure: no Streamlit.

A post-processing decision (``tracer.record_decision``) can block the answer (verdict
``block``) or change it (``modify``). The viewer then shows what the user got: the trace is
*blocked by <decision>* or *modified by <decision>*, the delivered text is the decision's
``after`` (else the post-processing span's output), and the original answer and its grounding
are shown as *before post-processing*: a blocked answer is never shown as a green "grounded".
A ``pass`` or ``flag`` decision leaves the answer as it was (delivered).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tracer import attributes as A

from . import _messages as M

BLOCKED, MODIFIED, DELIVERED = "blocked", "modified", "delivered"
KINDS = (DELIVERED, MODIFIED, BLOCKED)
BEFORE = "before post-processing"


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | modified | blocked
    decision: M.Decision | None = None  # the one that blocked, or the last one that modified
    received: str | None = None  # the text the user got, when known
    original: str | None = None  # the answer before post-processing, when the decision kept it

    @property
    def changed(self) -> bool:
        return self.kind != DELIVERED

    def headline(self) -> str:
        """``blocked by secret_filter``, ``modified by pii_redactor``, or ``delivered``."""
        if self.decision is None:
            return self.kind
        return f"{self.kind} by {self.decision.name}"


def of_row(row: Mapping[str, Any]) -> str:
    """The outcome of a trace-list row, from the ``traces`` summary's counts."""
    if (row.get("blocked_count") or 0) > 0:
        return BLOCKED
    if (row.get("modified_count") or 0) > 0:
        return MODIFIED
    return DELIVERED


def _output(span: Mapping[str, Any] | None) -> str | None:
    if span is None:
        return None
    value = (span.get("attributes") or {}).get(A.OI_OUTPUT_VALUE)
    if isinstance(value, str) and value.strip()[:1] == '"':
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return value if isinstance(value, str) else None


def of_trace(decisions: Sequence[M.Decision], spans: Sequence[Mapping[str, Any]]) -> Outcome:
    """The first ``block`` decision blocks the answer; else the last ``modify`` one decides
    what was delivered; else it was delivered as generated."""
    blocked = next((d for d in decisions if d.verdict == "block"), None)
    modified = [d for d in decisions if d.verdict == "modify"]
    decision = blocked or (modified[-1] if modified else None)
    if decision is None:
        return Outcome(DELIVERED)
    step = next((s for s in spans if str(s.get("span_id")) == decision.span_id), None)
    received = decision.after if decision.after is not None else _output(step)
    first = next(d for d in decisions if d.verdict in ("block", "modify"))  # what the model said
    return Outcome(BLOCKED if blocked else MODIFIED, decision, received, first.before)


def _ancestors(span_id: str, parents: Mapping[str, str | None]) -> set[str]:
    out: set[str] = set()
    pid = parents.get(span_id)
    while pid and pid not in out:
        out.add(pid)
        pid = parents.get(pid)
    return out


def affected(outcome: Outcome, spans: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> set[str]:
    """Which of ``answers`` (LLM span ids) the outcome applies to: those that started before
    the deciding step, outside it (an LLM judge inside a guardrail is not the answer)."""
    if not outcome.changed or outcome.decision is None:
        return set()
    parents = {str(s["span_id"]): s.get("parent_span_id") for s in spans}
    starts = {str(s["span_id"]): s.get("start_time") for s in spans}
    step = outcome.decision.span_id
    if step is None or step not in parents:
        return set(answers)
    began = starts.get(step)
    out = set()
    for sid in answers:
        if step in _ancestors(sid, parents) or sid == step:
            continue
        start = starts.get(sid)
        if isinstance(began, _dt.datetime) and isinstance(start, _dt.datetime) and start > began:
            continue
        out.add(sid)
    return out
