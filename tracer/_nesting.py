"""One logical LLM call is counted once: marks on LLM spans nested in other LLM spans.

A ``@trace_llm`` function that calls an instrumented client, or two client instrumentations
stacked on one call (ours and contrib's, say), give LLM spans inside LLM spans. Counting each
would count the call twice, and its tokens twice. So when a span starts (in the span
processor's ``on_start``, where the parent is still running and its attributes are readable,
whoever instrumented it), an LLM span inside another gets ``spyglass.llm.parent_span_id``: the
nearest enclosing LLM span, which is the logical call. That enclosing span gets
``spyglass.llm.inner_calls``, how many LLM spans are nested directly in it: their usage is
the call's, and its own is not added again. The store turns both into columns and the
``traces`` summary counts by them (docs/schema.md, "One call, counted once").
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span

from . import attributes as A
from .conventions import span_type

# Live spans only, by span id: the nearest LLM span at or above each. Entries leave when their
# span ends; a span that never ends would stay, so the map is emptied past this size.
_MAX_LIVE = 100_000
_owner: dict[int, Span] = {}
_bump = threading.Lock()  # two threads may start calls inside one LLM span at once


def on_start(span: Span, parent_context: otel_context.Context | None) -> None:
    parent = trace.get_current_span(parent_context)
    parent_id = parent.get_span_context().span_id
    owner = _owner.get(parent_id)
    if owner is None and isinstance(parent, ReadableSpan) and _is_llm(parent.attributes):
        owner = parent  # an LLM span started on a provider without this hook
    own_id = span.get_span_context().span_id
    if _is_llm(span.attributes):
        if owner is not None and owner.is_recording():
            span.set_attribute(A.LLM_PARENT_SPAN_ID, format(owner.get_span_context().span_id, "016x"))
            with _bump:
                so_far = (owner.attributes or {}).get(A.LLM_INNER_CALLS) or 0
                owner.set_attribute(A.LLM_INNER_CALLS, int(so_far) + 1)
        owner = span
    if owner is not None:
        if len(_owner) >= _MAX_LIVE:
            _owner.clear()
        _owner[own_id] = owner


def on_end(span: ReadableSpan) -> None:
    ctx = span.context
    if ctx is not None and _owner:
        _owner.pop(ctx.span_id, None)


def _is_llm(attributes: Any) -> bool:
    return bool(attributes) and span_type(attributes) == A.SPAN_TYPE_LLM
