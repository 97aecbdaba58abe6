"""One logical LLM call is counted once: marks on LLM spans nested in other LLM spans.

A ``@trace_llm`` function that calls an instrumented client, or two client instrumentations
stacked on one call (ours and contrib's, say), give LLM spans inside LLM spans. Counting each
would count the call twice, and its tokens twice. So when a span starts (in the span
processor's ``on_start``, where the parent is still running and its attributes are readable,
whoever instrumented it), an LLM span inside another gets ``spyglass.llm.parent_span_id``: the
nearest enclosing LLM span, which is the logical call. That enclosing span gets
``spyglass.llm.inner_calls``, how many LLM spans are nested directly in it, and, when one of
them ends having reported usage, ``spyglass.llm.inner_usage``: their usage is the call's, and
its own is not added again. The store turns both into columns and the
``traces`` summary counts by them (docs/schema.md, "One call, counted once").

The same link fills in an attribute the conventions require on inference spans,
``gen_ai.provider.name``: a ``@trace_llm`` function given no provider (and no model that names
one) takes the provider of the first client call inside that reports one, when that call ends.
Only our own spans, only while they have none: a provider given or read from the model is
never replaced.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span

from . import attributes as A
from .conventions import canonical, span_type

# Live spans only, by span id: the nearest LLM span at or above each, and for a nested LLM
# span the one enclosing it. Entries leave when their span ends; a span that never ends would
# stay, so past this size the oldest entries go.
_MAX_LIVE = 100_000
_owner: dict[int, Span] = {}
_enclosing: dict[int, Span] = {}
_bump = threading.Lock()  # two threads may start calls inside one LLM span at once


def on_start(span: Span, parent_context: otel_context.Context | None) -> None:
    own_id = span.get_span_context().span_id
    if own_id in _owner or A.LLM_PARENT_SPAN_ID in (span.attributes or {}):
        return  # seen already: two of our processors on one provider (after a re-configure, say)
    parent = trace.get_current_span(parent_context)
    parent_id = parent.get_span_context().span_id
    owner = _owner.get(parent_id)
    if owner is None and isinstance(parent, Span) and _is_llm(parent.attributes):
        owner = parent  # an LLM span started on a provider without this hook
    if _is_llm(span.attributes):
        if owner is not None and owner.is_recording():
            span.set_attribute(A.LLM_PARENT_SPAN_ID, format(owner.get_span_context().span_id, "016x"))
            with _bump:
                so_far = (owner.attributes or {}).get(A.LLM_INNER_CALLS)
                owner.set_attribute(A.LLM_INNER_CALLS, (so_far if isinstance(so_far, int) else 0) + 1)
            _remember(_enclosing, own_id, owner)
        owner = span
    if owner is not None:
        _remember(_owner, own_id, owner)


def _remember(live: dict[int, Span], span_id: int, owner: Span) -> None:
    if len(live) >= _MAX_LIVE:
        live.pop(next(iter(live)), None)  # the oldest: dicts keep insertion order
    live[span_id] = owner


def on_end(span: ReadableSpan) -> None:
    ctx = span.context
    if ctx is None or not _owner:
        return
    _owner.pop(ctx.span_id, None)
    owner = _enclosing.pop(ctx.span_id, None) if _enclosing else None
    if owner is None or not owner.is_recording():
        return
    attributes = span.attributes or {}
    # A nested call that reported usage: the enclosing call's own is not added again. One that
    # reported none (a stream without usage, a peer that records none) leaves it counted.
    if _has_usage(attributes):
        owner.set_attribute(A.LLM_INNER_USAGE, True)
    provider = attributes.get(A.GEN_AI_PROVIDER_NAME)
    if provider:
        own = owner.attributes or {}
        if A.SPAN_TYPE in own and not own.get(A.GEN_AI_PROVIDER_NAME):  # ours, and none given
            owner.set_attribute(A.GEN_AI_PROVIDER_NAME, provider)


# Where usage sits flat, in the conventions we read: found with lookups, on the app's thread.
_USAGE_KEYS = (
    A.GEN_AI_USAGE_INPUT_TOKENS,
    A.GEN_AI_USAGE_OUTPUT_TOKENS,
    A.OI_LLM_TOKEN_COUNT_PROMPT,
    A.OI_LLM_TOKEN_COUNT_COMPLETION,
    A.OI_LLM_TOKEN_COUNT_TOTAL,
    A.GEN_AI_USAGE_PROMPT_TOKENS,
    A.GEN_AI_USAGE_COMPLETION_TOKENS,
    A.TL_LLM_USAGE_TOTAL_TOKENS,
)


def _has_usage(attributes: Any) -> bool:
    if any(attributes.get(key) is not None for key in _USAGE_KEYS):
        return True
    if A.SPAN_TYPE in attributes:
        return False  # ours: the keys above are all there is
    # A convention that keeps usage inside JSON (Logfire's response_data): its normaliser reads it.
    view = canonical(attributes)
    return view.get(A.GEN_AI_USAGE_INPUT_TOKENS) is not None or view.get(A.GEN_AI_USAGE_OUTPUT_TOKENS) is not None


def _is_llm(attributes: Any) -> bool:
    return bool(attributes) and span_type(attributes) == A.SPAN_TYPE_LLM
