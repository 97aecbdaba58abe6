"""Trace LangChain (``langchain-core >= 0.3.50``) runs as Spyglass spans.

    import tracer
    from integrations import langchain as spy_langchain

    tracer.configure()
    spy_langchain.instrument()       # idempotent; uninstrument() puts every original back
    chain.invoke({"question": "..."})

Every run LangChain makes becomes a span, parented by LangChain's own run tree
(``run_id`` / ``parent_run_id``), sync, async, ``batch`` and parallel branches alike:

* retrievers -> retriever spans (query, documents with id, content, metadata, score), what
  ``@tracer.trace_retriever`` records, so the Context panel and the grounding check read them;
* chat models and LLMs -> LLM spans: messages, answer, model, provider, usage, cost;
* chains and LCEL runnables (sequences, lambdas, prompts, parsers, parallel maps) -> step spans;
* tools -> ``execute_tool`` spans.

**Why callbacks, not the runnable layer.** Every run, whatever its class (a provider's chat
model, a community retriever, a user's ``BaseTool``), reports to LangChain's callback system
with its run id, its parent's run id, its inputs and outputs. Patching runnables would mean
one patch per method per class family, and subclasses that override ``invoke`` would escape
it. So a :class:`~integrations._langchain_handler.SpyglassCallbackHandler` is added to every
callback manager (``BaseCallbackManager.__init__`` is wrapped, as OpenInference does). A few
small patches (``_langchain_patches.py``) make each run's span *current* while its body runs,
which callbacks alone cannot do safely; that is what nests an instrumented client call (our
openai integration under ``ChatOpenAI``) inside the LangChain LLM span, counted as one call.

``opentelemetry-instrument`` finds :class:`LangChainInstrumentor` through the
``opentelemetry_instrumentor`` entry point.
"""

from __future__ import annotations

import threading

from opentelemetry.trace import TracerProvider

from tracer._guard import guard

from ._core import Patcher, Switch
from ._instrumentor import Instrumentor, Verbs, tracer_source

__all__ = ["SUPPORTED", "LangChainInstrumentor", "instrument", "is_instrumented", "uninstrument"]

SUPPORTED = ("langchain-core >= 0.3.50",)
_SCOPE = "spyglass.integrations.langchain"
_lock = threading.Lock()
_patcher = Patcher()
_handler_switch: Switch | None = None  # the handler's, while instrumented


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Trace every LangChain run from now on. A second call does nothing (``uninstrument()``
    first to switch tracer providers). Spans go to ``tracer_provider``; without one, to the
    provider Spyglass's decorators use at the time of each run (``tracer.configure()``'s,
    ``tracer.testing.capture_spans()``'s, or the global one)."""
    global _handler_switch
    with _lock:
        if _patcher.active:
            return
        with guard("langchain instrument"):
            from ._langchain_handler import SpyglassCallbackHandler
            from ._langchain_patches import TARGETS

            tracers = tracer_source(_SCOPE, tracer_provider)
            _handler_switch = Switch()
            _patcher.apply(TARGETS, tracers, SpyglassCallbackHandler(tracers, _handler_switch))


def uninstrument() -> None:
    """Put every patched function back. The handler stays in callback managers made before
    (a chain built and kept by the app): it is switched off, traces nothing new, and still
    ends the spans of runs that were running. Safe to call when not instrumented."""
    global _handler_switch
    with _lock:
        if _handler_switch is not None:
            _handler_switch.on = False
            _handler_switch = None
        _patcher.revert()


def is_instrumented() -> bool:
    return _patcher.active


class LangChainInstrumentor(Instrumentor):
    """The same instrumentation behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    verbs = Verbs(instrument, uninstrument)
    supported = SUPPORTED
