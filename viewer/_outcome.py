"""What the user actually received, after post-processing. Pure: no Streamlit.

A post-processing decision (``tracer.record_decision``) can block the answer (verdict
``block``) or change it (``modify``). The viewer then shows what the user got: the trace is
*blocked by <decision>* or *modified by <decision>*, the delivered text is the decision's
``after`` (else the post-processing span's output), and the original answer and its grounding
are shown as *before post-processing*: a blocked answer is never shown as a green "grounded".
A ``pass`` or ``flag`` decision leaves the answer as it was (delivered).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer import _delivered as D

from . import _messages as M

BLOCKED, MODIFIED, DELIVERED = D.BLOCKED, D.MODIFIED, D.DELIVERED
KINDS = D.KINDS
BEFORE = "before post-processing"


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | modified | blocked
    decision: M.Decision | None = None  # the one that blocked, or the last one that modified
    received: str | None = None  # the text the user got, when known
    original: str | None = None  # the answer before post-processing, when the decision kept it
    row: Mapping[str, Any] | None = field(default=None, compare=False)  # the stored decision row

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


def of_trace(
    rows: Sequence[Mapping[str, Any]], spans: Sequence[Mapping[str, Any]], answers: Iterable[str | None] = ()
) -> Outcome:
    """The trace's outcome from its stored decision rows, by ``tracer._delivered``'s rule
    (the one ``spyglass export`` follows too); ``answers``: the texts of its LLM answers."""
    found = D.of_trace(rows, spans, answers)
    decision = next((d for d, row in zip(M.decisions(rows), rows) if row is found.decision), None)
    return Outcome(found.kind, decision, found.received, found.original, found.decision)


def affected(outcome: Outcome, spans: Sequence[Mapping[str, Any]], answers: Mapping[str, str | None]) -> set[str]:
    """Which of ``answers`` (logical calls' span ids -> answer text, in order) the outcome
    applies to (``tracer._delivered``)."""
    if outcome.row is None:
        return set()
    return D.affected(D.Delivered(outcome.kind, outcome.row), spans, answers)
