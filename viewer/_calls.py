"""Logical LLM calls: a ``@trace_llm`` function around an instrumented client is one call.

Such a call leaves LLM spans inside LLM spans (the decorator's, then the client's; or two
client instrumentations stacked on one request). The store marks them (docs/schema.md, "One
call, counted once"): a nested LLM span has ``llm_parent_span_id``, the nearest enclosing LLM
span, and a span whose nested calls carry the usage has ``usage_counted`` false. The trace's
totals (``traces.llm_count``, tokens, cost) already follow that rule; this module lets the
span detail follow it too: it opens on the outermost span, and when that span has no
messages or no usage of its own it shows those of the call inside, saying where they come from.

The marks are read from the span row, else from its ``spyglass.llm.parent_span_id``
attribute, else from the tree (the nearest LLM ancestor), which is the same rule. Pure: no
Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracer import attributes as A

Span = Mapping[str, Any]


def _attrs(span: Span) -> Mapping[str, Any]:
    return span.get("attributes") or {}


def is_llm(span: Span) -> bool:
    return span.get("span_type") == A.SPAN_TYPE_LLM


def streamed(span: Span) -> bool:
    """The call was streamed: it asked to stream (``gen_ai.request.stream``, set by the
    instrumentations only on streaming calls) or a traced generator counted what it yielded."""
    attrs = _attrs(span)
    return attrs.get(A.GEN_AI_REQUEST_STREAM) is True or attrs.get(A.STREAM_ITEMS) is not None


def model(span: Span) -> str | None:
    """The model of an LLM span: the stored column (the response's model when known), else
    the requested one."""
    attrs = _attrs(span)
    found = span.get("model") or attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL)
    return None if found in (None, "") else str(found)


def provider(span: Span) -> str | None:
    attrs = _attrs(span)
    found = span.get("provider") or attrs.get(A.GEN_AI_PROVIDER_NAME) or attrs.get(A.OI_LLM_PROVIDER)
    return None if found in (None, "") else str(found)


def has_messages(span: Span) -> bool:
    attrs = _attrs(span)
    return attrs.get(A.GEN_AI_INPUT_MESSAGES) not in (None, "", "[]")


def has_output_messages(span: Span) -> bool:
    return _attrs(span).get(A.GEN_AI_OUTPUT_MESSAGES) not in (None, "", "[]")


def has_usage(span: Span) -> bool:
    return span.get("input_tokens") is not None or span.get("output_tokens") is not None


class Calls:
    """The LLM spans of one trace (rows of ``get_trace()['spans']``) and how they nest."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self._by_id = {str(s["span_id"]): s for s in spans}
        self._order = [str(s["span_id"]) for s in spans]
        self._parent: dict[str, str | None] = {}
        for s in spans:
            if is_llm(s):
                self._parent[str(s["span_id"])] = self._llm_parent(s)

    def _llm_parent(self, span: Span) -> str | None:
        marked = span.get("llm_parent_span_id") or _attrs(span).get(A.LLM_PARENT_SPAN_ID)
        if marked:
            return str(marked)
        if "llm_parent_span_id" in span and span.get("usage_counted") is not None:
            return None  # the store looked and found no enclosing LLM span
        seen: set[str] = set()
        parent = span.get("parent_span_id")
        while parent and parent in self._by_id and parent not in seen:  # the nearest LLM ancestor
            seen.add(parent)
            above = self._by_id[parent]
            if is_llm(above):
                return str(parent)
            parent = above.get("parent_span_id")
        return None

    def parent(self, span_id: str) -> Span | None:
        """The LLM span this one is nested in (``None`` for a logical call or a non-LLM span)."""
        pid = self._parent.get(span_id)
        return self._by_id.get(pid) if pid else None

    def is_logical(self, span: Span) -> bool:
        """An LLM span that no other LLM span encloses: one call in "LLM calls"."""
        return is_llm(span) and not self._parent.get(str(span["span_id"]))

    def inner(self, span_id: str) -> list[Span]:
        """Every LLM span nested in this one, at any depth, in the trace's order."""
        out = []
        for sid in self._order:
            pid = self._parent.get(sid)
            while pid:
                if pid == span_id:
                    out.append(self._by_id[sid])
                    break
                pid = self._parent.get(pid)
        return out

    def usage_counted(self, span: Span) -> bool:
        """Whether the trace's totals count this span's usage: not when LLM spans nested in
        it carry the usage instead."""
        stored = span.get("usage_counted")
        if stored is not None:
            return bool(stored)
        return not any(self._parent.get(sid) == str(span["span_id"]) for sid in self._order)

    def logical(self) -> list[Span]:
        return [self._by_id[sid] for sid in self._order if self.is_logical(self._by_id[sid])]


@dataclass(frozen=True)
class Borrowed:
    """What the span detail shows of a logical call that lacks it itself, and from where."""

    content: Span | None  # the nested span whose messages are shown (the one that answered)
    usage: tuple[Span, ...]  # the nested spans whose usage is the call's
    totals: Mapping[str, Any]  # their usage, summed


def where(spans: Sequence[Span]) -> str:
    """``the openai call inside: chat gpt-4o-mini`` (or ``the 2 calls inside: a, b``)."""
    names = ", ".join(dict.fromkeys(str(s.get("name") or "?") for s in spans))
    if len(spans) == 1:
        who = provider(spans[0])
        return f"the {who + ' ' if who else ''}call inside: {names}"
    return f"the {len(spans)} calls inside: {names}"


def _sum(spans: Sequence[Span], key: str) -> Any:
    values = [s[key] for s in spans if s.get(key) is not None]
    return sum(values) if values else None


def borrowed(calls: Calls, span: Span) -> Borrowed | None:
    """For an LLM span that has LLM spans nested in it: the nested span to show messages from
    (the request the client really sent: a decorated function's own messages are its
    arguments, before it added the system prompt and the documents), and the nested spans to
    take usage from when it has none of its own. ``None`` when nothing is nested in it."""
    if not is_llm(span):
        return None
    inner = calls.inner(str(span["span_id"]))
    if not inner:
        return None
    # The call that produced the answer: the last nested one with messages (a tool loop ends
    # on it), preferring one with output.
    with_msgs = [s for s in inner if has_messages(s)]
    answered = [s for s in with_msgs if has_output_messages(s)]
    content = (answered or with_msgs)[-1] if with_msgs else None
    usage: tuple[Span, ...] = ()
    if not has_usage(span):
        usage = tuple(s for s in inner if calls.usage_counted(s) and has_usage(s))
    if content is None and not usage:
        return None
    totals = {k: _sum(usage, k) for k in ("input_tokens", "output_tokens", "cost_usd")}
    return Borrowed(content=content, usage=usage, totals=totals)
