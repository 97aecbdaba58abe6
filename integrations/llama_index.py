"""Trace LlamaIndex (``llama-index-core >= 0.12``) through its instrumentation dispatcher.

    import tracer
    from integrations import llama_index as spy_llama_index

    tracer.configure()               # or configure(instrument=["llama_index"])
    spy_llama_index.instrument()     # idempotent; uninstrument() removes our handlers
    index.as_query_engine().query("...")

A span handler and an event handler are added to LlamaIndex's root dispatcher; nothing is
patched. Recorded, sync and async: retrievers (``retrieve``) as retriever spans whose nodes
are the documents the grounding check reads, query engines (``query``) and synthesizers
(``synthesize``) as step spans, LLM ``chat`` / ``complete`` (streaming too) as LLM spans with
messages, output, usage and cost, query embeddings as embedding spans. See docs/integrations.md.

``opentelemetry-instrument`` finds :class:`LlamaIndexInstrumentor` through the
``opentelemetry_instrumentor`` entry point (needs ``opentelemetry-instrumentation``, in the
``llama-index`` extra).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.trace import TracerProvider

from tracer._guard import guard

from ._core import Switch
from ._instrumentor import Instrumentor, Verbs, tracer_source

__all__ = ["SUPPORTED", "LlamaIndexInstrumentor", "instrument", "is_instrumented", "uninstrument"]

SUPPORTED = ("llama-index-core >= 0.12",)
_SCOPE = "spyglass.integrations.llama_index"
_lock = threading.Lock()
# (span handler, event handler, switch) while instrumented. The handlers' types come from
# llama-index-core, imported only by instrument(): this module imports without it.
_installed: tuple[Any, Any, Switch] | None = None


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Add Spyglass's handlers to LlamaIndex's root dispatcher. A second call does nothing
    (``uninstrument()`` first to switch tracer providers). Spans go to ``tracer_provider``;
    without one, to the provider Spyglass's decorators use at the time of each call, so that
    they nest with them and are captured together."""
    global _installed
    with _lock:
        if _installed is not None:
            return
        from llama_index.core.instrumentation import get_dispatcher

        from ._llama_index_handlers import EventHandler, SpanHandler

        tracers = tracer_source(_SCOPE, tracer_provider)
        switch = Switch()
        spans = SpanHandler(tracers, switch)
        events = EventHandler(spans, switch)
        root = get_dispatcher()
        root.add_span_handler(spans)
        root.add_event_handler(events)
        _installed = (spans, events, switch)


def uninstrument() -> None:
    """Remove our handlers from the root dispatcher, each on its own (one failing does not
    keep the other), and end the spans still open. Safe to call when not instrumented."""
    global _installed
    with _lock:
        if _installed is None:
            return
        spans, events, switch = _installed
        _installed = None
        switch.on = False  # a handler someone else still holds does nothing from now on
        from llama_index.core.instrumentation import get_dispatcher

        root = get_dispatcher()
        # New lists, not remove(): a dispatcher iterating the old one in another thread goes on.
        with guard("llama_index remove span handler"):
            root.span_handlers = [h for h in root.span_handlers if h is not spans]
        with guard("llama_index remove event handler"):
            root.event_handlers = [h for h in root.event_handlers if h is not events]
        with guard("llama_index close spans"):
            spans.close_all()


def is_instrumented() -> bool:
    return _installed is not None


class LlamaIndexInstrumentor(Instrumentor):
    """The same handlers behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    verbs = Verbs(instrument, uninstrument)
    supported = SUPPORTED
