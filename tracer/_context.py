"""Trace-level attributes (session, user, tags, metadata, prompt version) and carrying the
current trace into threads and executors.

Trace-level attributes live in the OpenTelemetry ``Context``, so they follow the same
rules as the current span: they propagate through ``await``, and into threads only when the
context is carried there (:func:`with_context`, :class:`ContextThreadPoolExecutor`). Our
span processor copies them onto every span started inside, whoever starts it (our
decorators or another instrumentation).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from . import _nesting
from . import attributes as A
from ._guard import guard
from ._serialize import to_text
from ._settings import settings

_KEY = otel_context.create_key("spyglass-trace-attributes")
_R = TypeVar("_R")


@dataclass(frozen=True)
class TraceAttributes:
    session_id: str | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    prompt_version: str | None = None
    # as_span_attributes(), computed once per block rather than once per span started in it.
    _attributes: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def merged(self, other: TraceAttributes) -> TraceAttributes:
        """Inner values win; tags accumulate; metadata merges key by key."""
        return TraceAttributes(
            session_id=other.session_id or self.session_id,
            user_id=other.user_id or self.user_id,
            tags=tuple(dict.fromkeys(self.tags + other.tags)),
            metadata={**self.metadata, **other.metadata},
            prompt_version=other.prompt_version or self.prompt_version,
        )

    def as_span_attributes(self) -> dict[str, Any]:
        """The span attributes of these values. Shared between spans: do not modify."""
        if self._attributes is None:
            object.__setattr__(self, "_attributes", self._compute_attributes())  # frozen: a cache, not state
        return self._attributes  # type: ignore[return-value]

    def _compute_attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.session_id:
            out[A.SESSION_ID] = self.session_id
            out[A.GEN_AI_CONVERSATION_ID] = self.session_id
        if self.user_id:
            out[A.USER_ID] = self.user_id
        if self.tags:
            out[A.TAGS] = list(self.tags)
            out[A.OI_TAGS] = list(self.tags)
        if self.metadata:
            # Through the capture serializer: any value, cycles, and secret keys redacted.
            text = to_text(dict(self.metadata), settings())[0]
            out[A.METADATA] = text
            out[A.OI_METADATA] = text
        if self.prompt_version:
            out[A.PROMPT_VERSION] = self.prompt_version
        return out


def current_trace_attributes(ctx: otel_context.Context | None = None) -> TraceAttributes | None:
    value = otel_context.get_value(_KEY, ctx)
    return value if isinstance(value, TraceAttributes) else None


def stamp_trace_attributes(span: Span, parent_context: otel_context.Context | None = None) -> None:
    """Copy the trace-level attributes of ``parent_context`` (default: current) onto ``span``."""
    attrs = current_trace_attributes(parent_context)
    if attrs is not None:
        span.set_attributes(attrs.as_span_attributes())


class TraceAttributesProcessor(SpanProcessor):
    """Only the ``on_start`` half of Spyglass's processor: trace-level attributes on every span.

    For a provider that exports elsewhere (``tracer.testing``); ``configure()`` does not need it.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        with guard("trace attributes"):  # the SDK does not catch errors of on_start
            stamp_trace_attributes(span, parent_context)
            _nesting.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        _nesting.on_end(span)


@contextmanager
def trace_attributes(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    tags: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    prompt_version: str | None = None,
) -> Iterator[TraceAttributes]:
    """Attach session, user, tags, metadata and prompt version to every span started inside.

    Nested blocks merge with the outer one: inner values win, tags accumulate.
    """
    new = TraceAttributes(
        session_id=session_id,
        user_id=user_id,
        tags=tuple(str(t) for t in tags),
        metadata=dict(metadata or {}),
        prompt_version=prompt_version,
    )
    outer = current_trace_attributes()
    merged = outer.merged(new) if outer else new
    token = otel_context.attach(otel_context.set_value(_KEY, merged))
    try:
        yield merged
    finally:
        otel_context.detach(token)


def with_context(fn: Callable[..., _R]) -> Callable[..., _R]:
    """Bind ``fn`` to the current context (span and trace attributes), for another thread.

    ``executor.submit(tracer.with_context(work), item)`` makes spans started in ``work``
    children of the current span. Each call runs in a fresh copy, so one wrapped function
    can be called many times, concurrently.
    """
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> _R:
        return captured.copy().run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in the context of the code that submitted them."""

    def submit(self, fn: Callable[..., _R], /, *args: Any, **kwargs: Any):
        return super().submit(with_context(fn), *args, **kwargs)
