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
from ._guard import guard
from ._metrics import instruments
from .conventions import canonical, span_type

# Live spans only, by span id: the nearest LLM span and the nearest embedding span at or above
# each (a call is nested only in a span of its own kind: an embedding made inside a @trace_llm
# is not part of its answer), and for a nested span the one enclosing it. Entries leave when
# their span ends; a span that never ends would stay, so past this size the oldest entries go.
_MAX_LIVE = 100_000
Owners = tuple["Span | None", "Span | None"]  # (LLM, embedding)
_NO_OWNERS: Owners = (None, None)
_owner: dict[int, Owners] = {}
_enclosing: dict[int, Span] = {}
_guessed: set[int] = set()  # live spans whose provider was read from the model's name
_bump = threading.Lock()  # two threads may start calls inside one LLM span at once


def on_start(span: Span, parent_context: otel_context.Context | None) -> None:
    own_id = span.get_span_context().span_id
    if own_id in _owner or A.LLM_PARENT_SPAN_ID in (span.attributes or {}):
        return  # seen already: two of our processors on one provider (after a re-configure, say)
    parent = trace.get_current_span(parent_context)
    parent_id = parent.get_span_context().span_id
    owners = _owner.get(parent_id)
    if owners is None and isinstance(parent, Span):
        kind = _kind(parent.attributes)
        if kind is not None:  # a model span started on a provider without this hook
            owners = _set(_NO_OWNERS, kind, parent)
    kind = _kind(span.attributes)
    if kind is not None:
        owner = owners[kind] if owners is not None else None
        if owner is not None and owner.is_recording():
            span.set_attribute(A.LLM_PARENT_SPAN_ID, format(owner.get_span_context().span_id, "016x"))
            with _bump:
                so_far = (owner.attributes or {}).get(A.LLM_INNER_CALLS)
                owner.set_attribute(A.LLM_INNER_CALLS, (so_far if isinstance(so_far, int) else 0) + 1)
            _remember(_enclosing, own_id, owner)
        owners = _set(owners or _NO_OWNERS, kind, span)
    if owners is not None:
        _remember(_owner, own_id, owners)


def _set(owners: Owners, kind: int, span: Span) -> Owners:
    return (span, owners[1]) if kind == 0 else (owners[0], span)


def _remember(live: dict[int, Any], span_id: int, owner: Any) -> None:
    if len(live) >= _MAX_LIVE:
        live.pop(next(iter(live)), None)  # the oldest: dicts keep insertion order
    live[span_id] = owner


def provider_guessed(span: trace.Span) -> None:
    """``span``'s provider was read from its model's name: a client call inside may correct it."""
    if len(_guessed) >= _MAX_LIVE:
        _guessed.clear()  # spans that never ended; losing a mark only keeps a guess
    _guessed.add(span.get_span_context().span_id)


def on_end(span: ReadableSpan) -> None:
    ctx = span.context
    if _guessed and ctx is not None:
        _guessed.discard(ctx.span_id)
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
    own = owner.attributes or {}
    if A.SPAN_TYPE not in own:
        return  # not ours: another instrumentation's span keeps what it says
    if A.SPAN_TYPE not in attributes and _records_no_metrics(span):
        # Ours leaves the call's metrics to the call, and this instrumentation records none.
        found = instruments()
        if found is not None:
            with guard("metrics"):
                found.record_foreign(span)
    provider = _provider(attributes)
    if provider:
        owner_id = owner.get_span_context().span_id
        # None given, or a guess from the model's name ("gpt-4o" served by Azure): the call
        # inside knows. The first such call wins; one given with provider= is never replaced.
        if not own.get(A.GEN_AI_PROVIDER_NAME) or (owner_id in _guessed and own[A.GEN_AI_PROVIDER_NAME] != provider):
            owner.set_attribute(A.GEN_AI_PROVIDER_NAME, provider)
            _guessed.discard(owner_id)


# Instrumentations known to record no GenAI metrics of their own (OpenInference's). Contrib,
# OpenLLMetry and Logfire record theirs: counting their calls here too would count them twice.
_NO_METRICS_SCOPES = ("openinference.",)


def _records_no_metrics(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name.startswith(_NO_METRICS_SCOPES)


# Where a client span names its provider: the conventions' key, OpenInference's, older gen_ai.
_PROVIDER_KEYS = (A.GEN_AI_PROVIDER_NAME, A.OI_LLM_PROVIDER, A.GEN_AI_SYSTEM)


def _provider(attributes: Any) -> str | None:
    for key in _PROVIDER_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value.lower()  # early OpenLLMetry releases wrote gen_ai.system "OpenAI"
    return None


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


_KIND_INDEX = {A.SPAN_TYPE_LLM: 0, A.SPAN_TYPE_EMBEDDING: 1}


def _kind(attributes: Any) -> int | None:
    """0 for an LLM span, 1 for an embedding span (whoever made it), else None."""
    return _KIND_INDEX.get(span_type(attributes) or "") if attributes else None
