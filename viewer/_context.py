"""The context of an answer beyond retrieved documents, and what to say when there is none.
Pure: no Streamlit (``_context_panel.py`` draws it).

Context is the trace's documents (retriever spans, and documents passed to a ``@trace_llm``
function) and its tool results (tool spans' outputs, ``tool``-role messages and tool-call
responses in a prompt). When an LLM answer's trace has none of it, the Context panel says
why and how to fix it. The usual cause: retrieval ran, but in a trace of its own, because
nothing enclosed the retriever and the LLM call (``_elsewhere.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tracer import attributes as A

from . import _elsewhere
from . import _messages as M

TOOL_PREFIX = "tool:"  # the grounding check's id of a tool result (tracer/_evidence.py)


@dataclass(frozen=True)
class ToolResult:
    """A tool's result as the Context panel shows it. ``id`` is the one the grounding check
    gives it (``tool:<name>``, ``#2`` on for a second result of one tool; ``tracer._evidence``),
    so that a sentence it supports can point at it."""

    id: str
    name: str  # the tool's name (its span's name when it recorded none)
    text: str
    span_id: str | None
    call_id: str | None = None


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _tool_span_result(span: Mapping[str, Any]) -> tuple[str, str, str, str | None] | None:
    attrs = span.get("attributes") or {}
    value = attrs.get(A.GEN_AI_TOOL_CALL_RESULT)
    if value is None:
        value = attrs.get(A.OI_OUTPUT_VALUE)
    if value in (None, ""):
        return None
    return (str(attrs.get(A.GEN_AI_TOOL_NAME) or span.get("name") or "tool"), M.to_display(M.parse_json(value)),
            str(span["span_id"]), _opt(attrs.get(A.GEN_AI_TOOL_CALL_ID)))


def _prompt_results(span: Mapping[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """Tool results in one LLM span's prompt, named after the tool call they answer."""
    names: dict[str, str] = {}
    out = []
    for msg in M.prompt(span.get("attributes") or {}).messages:
        for part in msg.parts:
            if part.kind == "tool_call" and part.id:
                names[part.id] = part.name or part.id
            elif part.kind == "tool_call_response" or (msg.role == "tool" and part.kind == "text"):
                if part.text.strip():
                    name = names.get(part.id or "", msg.name or part.id or "tool")
                    out.append((name, part.text, str(span["span_id"]), part.id))
    return out


def tool_results(spans: Sequence[Mapping[str, Any]]) -> list[ToolResult]:
    """Tool spans' outputs, then tool results quoted in LLM prompts that no tool span
    recorded (a tool run outside any traced function), each once."""
    found = [r for r in map(_tool_span_result, (s for s in spans if s.get("span_type") == A.SPAN_TYPE_TOOL)) if r]
    for span in spans:
        if span.get("span_type") == A.SPAN_TYPE_LLM:
            found.extend(_prompt_results(span))
    out: list[ToolResult] = []
    seen: set[tuple[str, str]] = set()
    count: dict[str, int] = {}
    for name, text, span_id, call_id in found:
        key = (name, M.normalise(text))
        if key in seen:
            continue
        seen.add(key)
        count[name] = count.get(name, 0) + 1
        tool_id = TOOL_PREFIX + name + (f"#{count[name]}" if count[name] > 1 else "")
        out.append(ToolResult(tool_id, name, text, span_id, call_id))
    return out


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
