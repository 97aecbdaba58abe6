"""Test helpers for code instrumented with Spyglass: the finished spans, in memory.

    import tracer.testing

    def test_answer_is_traced():
        with tracer.testing.capture_spans() as spans:
            answer("What is the capital of France?")
        llm = spans.one("answer")
        assert llm.attributes["output.value"] == "Paris."
        assert spans.children(llm) == []

No store, no background thread: spans are there as soon as they end. ``capture_spans()``
listens on the provider Spyglass's spans start on (the one ``tracer.configure()`` set up,
or the global SDK provider); when there is none, it makes a private one for the block, so
it works in a test that never calls ``configure()``. Spyglass's client integrations
(``integrations.openai.instrument()``) start their spans on that same provider, so they are
captured too, as children of the decorated call that made them; an integration instrumented
with an explicit ``tracer_provider=`` keeps to that provider. Other libraries'
instrumentations use the global provider: a private provider does not see their spans.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import overload

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import _call
from ._context import TraceAttributesProcessor

__all__ = ["CapturedSpans", "capture_spans", "new_tracer_provider"]


class CapturedSpans(Sequence[ReadableSpan]):
    """The spans that ended inside a :func:`capture_spans` block, in the order they ended."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    def _spans(self) -> tuple[ReadableSpan, ...]:
        return self._exporter.get_finished_spans()

    def __len__(self) -> int:
        return len(self._spans())

    @overload
    def __getitem__(self, index: int) -> ReadableSpan: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ReadableSpan]: ...
    def __getitem__(self, index: int | slice) -> ReadableSpan | Sequence[ReadableSpan]:
        return self._spans()[index]

    def __repr__(self) -> str:
        return f"CapturedSpans({[span.name for span in self._spans()]})"

    def named(self, name: str) -> list[ReadableSpan]:
        """Every span called ``name``."""
        return [span for span in self._spans() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        """The only span called ``name``; fails with the names that did end otherwise."""
        found = self.named(name)
        if len(found) != 1:
            raise AssertionError(
                f"expected one span named {name!r}, found {len(found)} among {[span.name for span in self._spans()]}"
            )
        return found[0]

    def roots(self) -> list[ReadableSpan]:
        """Spans without a parent: one per trace."""
        return [span for span in self._spans() if span.parent is None]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        """The direct children of ``parent``, in the order they ended."""
        span_id = parent.context.span_id if parent.context is not None else None
        return [span for span in self._spans() if span.parent is not None and span.parent.span_id == span_id]

    def clear(self) -> None:
        self._exporter.clear()


class _Tap(SpanProcessor):
    """Hands finished spans to the exporters of the open ``capture_spans()`` blocks.

    The SDK can add a span processor but never remove one, so each provider gets one tap,
    once, and a block that ends unplugs its exporter from it: nothing piles up on the
    provider however many tests run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: tuple[InMemorySpanExporter, ...] = ()  # replaced whole: on_end reads it unlocked

    def plug(self, sink: InMemorySpanExporter) -> None:
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def unplug(self, sink: InMemorySpanExporter) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    def on_end(self, span: ReadableSpan) -> None:
        for sink in self._sinks:
            sink.export((span,))


_taps: weakref.WeakKeyDictionary[TracerProvider, _Tap] = weakref.WeakKeyDictionary()
_taps_lock = threading.Lock()


def _tap(provider: TracerProvider) -> _Tap:
    with _taps_lock:
        tap = _taps.get(provider)
        if tap is None:
            tap = _taps[provider] = _Tap()
            provider.add_span_processor(tap)
        return tap


def new_tracer_provider() -> TracerProvider:
    """An SDK provider that exports nothing, with Spyglass's trace-level attributes
    (:func:`tracer.trace_attributes`) stamped on its spans. Pass it to :func:`capture_spans`
    to keep a test away from the store and from the global provider."""
    provider = TracerProvider()
    provider.add_span_processor(TraceAttributesProcessor())
    return provider


@contextmanager
def capture_spans(tracer_provider: TracerProvider | None = None) -> Iterator[CapturedSpans]:
    """Collect the spans that end inside the block.

    ``tracer_provider``: listen on this provider, and start Spyglass's spans (the decorators'
    and the client integrations') on it for the duration of the block. Default: the provider
    Spyglass uses, or a private one (see :func:`new_tracer_provider`) when no SDK provider is
    set up.
    """
    in_use = _call.tracer_provider()
    provider = tracer_provider
    if provider is None:
        provider = in_use if isinstance(in_use, TracerProvider) else new_tracer_provider()
    previous = _call.explicit_tracer_provider()
    reroute = provider is not in_use
    if reroute:
        _call.set_tracer_provider(provider)
    tap = _tap(provider)
    sink = InMemorySpanExporter()
    tap.plug(sink)
    try:
        yield CapturedSpans(sink)
    finally:
        tap.unplug(sink)
        if reroute:
            _call.set_tracer_provider(previous)
