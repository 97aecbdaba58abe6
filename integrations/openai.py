"""Trace every call of the ``openai`` client (``openai>=1.40``) as a GenAI span.

    import openai, tracer
    from integrations import openai as spy_openai

    tracer.configure()
    spy_openai.instrument()          # idempotent; uninstrument() puts every original back
    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[...])

Covered, sync and async: ``chat.completions.create`` / ``parse`` / ``stream``,
``responses.create`` / ``parse`` / ``stream``, ``embeddings.create``, legacy
``completions.create``, each also through ``with_raw_response``. See ``docs/openai.md``.

``opentelemetry-instrument`` finds :class:`OpenAIInstrumentor` through the
``opentelemetry_instrumentor`` entry point (needs ``opentelemetry-instrumentation``, in the
``openai`` extra).
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from ._instrumentor import Instrumentor, PatchSet, Verbs
from ._openai_compat import OpenAIAdapter
from ._openai_targets import TARGETS
from ._pricing import DEFAULT_PRICES, Price, prices, reset_prices, set_prices

__all__ = [
    "DEFAULT_PRICES",
    "OpenAIInstrumentor",
    "Price",
    "instrument",
    "is_instrumented",
    "prices",
    "reset_prices",
    "set_prices",
    "uninstrument",
]

SUPPORTED = ("openai >= 1.40",)
_patches = PatchSet("spyglass.integrations.openai", TARGETS, OpenAIAdapter())


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Patch the openai client. A second call does nothing (``uninstrument()`` first to switch
    tracer providers). Spans go to ``tracer_provider``; without one, to the provider Spyglass's
    decorators use at the time of each call (the one ``tracer.configure()`` set up, the one
    ``tracer.testing.capture_spans()`` listens on, or else the global one), so that they nest
    and are captured together."""
    _patches.instrument(tracer_provider)


def uninstrument() -> None:
    """Put every patched method back exactly as it was. Safe to call when not instrumented."""
    _patches.uninstrument()


def is_instrumented() -> bool:
    return _patches.active


class OpenAIInstrumentor(Instrumentor):
    """The same patches behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    verbs = Verbs(instrument, uninstrument)
    supported = SUPPORTED
