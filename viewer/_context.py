"""The context of an answer beyond retrieved documents, and what to say when there is none.
Pure: no Streamlit (``_context_panel.py`` draws it).

Context is the trace's documents (retriever spans, and documents passed to a ``@trace_llm``
function) and its tool results (tool spans' outputs, ``tool``-role messages and tool-call
responses in a prompt). When an LLM answer's trace has none of it, the Context panel says
why and how to fix it. The usual cause: retrieval ran, but in a trace of its own, because
nothing enclosed the retriever and the LLM call (``_elsewhere.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracer import _evidence
from tracer import attributes as A

from . import _elsewhere
from . import _messages as M

TOOL_PREFIX = _evidence.TOOL_PREFIX


@dataclass(frozen=True)
class ToolResult:
    """A tool's result as the Context panel shows it. ``id`` is the one the grounding check
    gives it (``tool:<name>``, ``#2`` on for a second result of one tool), so that a sentence
    it supports can point at it: both come from ``tracer._evidence``."""

    id: str
    name: str  # the tool's name (its span's name when it recorded none)
    text: str
    span_id: str | None
    call_id: str | None = None


def tool_results(spans: Sequence[Mapping[str, Any]]) -> list[ToolResult]:
    """Tool spans' outputs, then tool results quoted in LLM prompts that no tool span
    recorded (a tool run outside any traced function), each once."""
    found: list[dict[str, Any]] = []
    for span in spans:
        if span.get("span_type") == A.SPAN_TYPE_TOOL:
            result = _evidence.tool_result(span.get("attributes") or {}, str(span.get("name") or "tool"))
            found.extend(_at(span, [result] if result is not None else []))
    for span in spans:
        if span.get("span_type") == A.SPAN_TYPE_LLM:
            found.extend(_at(span, _evidence.prompt_tool_results(span.get("attributes") or {})))
    return [
        ToolResult(
            d["id"],
            d["metadata"]["tool"],
            M.to_display(M.parse_json(d["content"])),
            d["metadata"].get("span_id"),
            d["metadata"].get("call_id"),
        )
        for d in _evidence.unique(found)
    ]


def _at(span: Mapping[str, Any], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for result in results:  # which span it came from, for the panel's link (not part of identity)
        result["metadata"]["span_id"] = str(span["span_id"])
    return results


@dataclass(frozen=True)
class Missing:
    """Why an answer has no context, for the Context panel to explain."""

    # "other trace": retrieval ran in another trace; "empty retriever": a retriever here
    # returned nothing; "not recorded": no retriever anywhere near.
    reason: str
    traces: tuple[Mapping[str, Any], ...] = ()  # the other traces that retrieved (newest first)
    retrievers: tuple[str, ...] = ()  # names of this trace's retriever spans that found nothing


def needs_hint(data: Mapping[str, Any], documents: Sequence[Any], tools: Sequence[ToolResult]) -> bool:
    """An LLM answer whose trace has no documents and no tool results at all."""
    return not documents and not tools and any(s.get("span_type") == A.SPAN_TYPE_LLM for s in data["spans"])


def missing(data: Mapping[str, Any], nearby: Sequence[Mapping[str, Any]]) -> Missing:
    """Why this trace has no context. ``nearby``: trace-list rows of traces with a retriever
    span that started in ``_elsewhere.before(trace)`` (any service; filtered to this one's here)."""
    trace = data["trace"]
    own = [s for s in data["spans"] if s.get("span_type") == A.SPAN_TYPE_RETRIEVER]
    if own:
        return Missing("empty retriever", retrievers=tuple(dict.fromkeys(str(s.get("name") or "?") for s in own)))
    others = _elsewhere.others(trace, nearby)
    if others:
        return Missing("other trace", traces=others)
    return Missing("not recorded")
