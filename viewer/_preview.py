"""The trace list's preview columns: the question, the answer the user received, the
trace's grounding and its newest annotation. No queries here: it reads what
``Store.trace_previews`` returns for one page (each span's attributes already read as the
panels read them, ``_data.readable``).

The rules are the span detail's, so the list and the detail never disagree: the logical
LLM calls (``_calls``), each call's answer and question (``tracer._evidence.answer``), what
post-processing delivered (``_panels.outcome_for``, by ``tracer._delivered``'s rule) and the
trace's worst grounding (``_grounding.for_trace``). Everything is plain text: the table
shows model output as text, never as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracer import attributes as A
from tracer._content import output_text, question_text
from tracer._evidence import answer

from . import _grounding as G
from . import _outcome as O
from ._calls import Calls
from ._messages import parse_json
from ._panels import outcome_for

MAX_CHARS = 120


@dataclass(frozen=True)
class Preview:
    question: str = ""
    answer: str = ""
    grounding: str = ""
    annotation: str = ""


def cut(text: Any, limit: int = MAX_CHARS) -> str:
    """One line of at most ``limit`` characters: white space runs (newlines too) become one
    space, and a longer text ends in "…"."""
    if text is None:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _root(spans: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    ids = {str(s.get("span_id")) for s in spans}
    return next((s for s in spans if s.get("parent_span_id") not in ids), None)


def _root_input(attrs: Mapping[str, Any]) -> str | None:
    """A root span's input as stored (JSON of the function's arguments), unless empty."""
    value = attrs.get(A.OI_INPUT_VALUE)
    if not isinstance(value, str) or parse_json(value) in ({}, [], "", None):
        return None
    return value


def of_trace(data: Mapping[str, Any], limit: int = MAX_CHARS) -> Preview:
    """The preview of one trace (a value of ``Store.trace_previews``, made ``readable``); the
    question and the answer cut to ``limit`` characters (the session view shows more)."""
    spans = list(data.get("spans") or ())
    calls = Calls(spans)
    pairs = [
        answer(s.get("attributes") or {}, [i.get("attributes") or {} for i in calls.inner(str(s["span_id"]))])
        for s in calls.logical()
    ]
    root = _root(spans)
    root_attrs: Mapping[str, Any] = (root.get("attributes") or {}) if root is not None else {}
    # The root's own question argument first: an LLM call's last user message often holds
    # the retrieved context around the question (a RAG prompt), the argument only the question.
    question = question_text(root_attrs) or next((q for _, q in pairs if q), None) or _root_input(root_attrs)
    outcome, affected = outcome_for(data, calls)
    said: str | None
    if outcome.changed:
        # What the user got, never the text post-processing kept from them.
        said = outcome.received if outcome.received is not None else f"({outcome.headline()})"
    else:
        said = next((a for a, _ in reversed(pairs) if a), None) or output_text(root_attrs)
    return Preview(
        question=cut(question, limit),
        answer=cut(said, limit),
        grounding=grounding(data, outcome, affected),
        annotation=annotation(data.get("annotations") or ()),
    )


def grounding(data: Mapping[str, Any], outcome: O.Outcome, affected: set[str]) -> str:
    """The trace's worst grounding result, e.g. ``grounded · 0.93``; of an answer the user
    never got as is, marked ``(before post-processing)`` as the detail marks it."""
    evaluations = data.get("evaluations") or ()
    g = G.for_trace(evaluations)
    if g is None:
        return ""
    text = g.verdict + (f" · {g.score:.2f}" if g.score is not None else "")
    if outcome.changed and any(G.for_span(evaluations, sid) is not None for sid in affected):
        text += f" ({O.BEFORE})"
    return text


def annotation(rows: Any) -> str:
    """The newest annotation's label (``rows`` oldest first), with how many more there are."""
    labels = [str(r.get("label")) for r in rows if r.get("label")]
    if not labels:
        return ""
    return labels[-1] + (f" (+{len(labels) - 1})" if len(labels) > 1 else "")
