"""Trace every call of the ``anthropic`` client (``anthropic>=0.45``) as a GenAI span.

    import anthropic, tracer
    from integrations import anthropic as spy_anthropic

    tracer.configure()
    spy_anthropic.instrument()       # idempotent; uninstrument() puts every original back
    anthropic.Anthropic().messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=[...])

Covered, sync and async: ``messages.create`` (also ``stream=True``), ``messages.parse``,
``messages.stream()`` (the stream manager and its helpers), the same on ``beta.messages``,
and the legacy ``completions.create`` on clients that still have it (before 1.0); each also
through ``with_raw_response``. Tool use, prompt-caching usage and cost, extended thinking
(kept apart from the answer) and structured output are recorded. Inside a call Spyglass
traces, the SDK's own OpenTelemetry span (anthropic 2.x) is not made: it would be a second
span for the same call. See docs/integrations.md, "Anthropic".

``opentelemetry-instrument`` finds :class:`AnthropicInstrumentor` through the
``opentelemetry_instrumentor`` entry point (needs ``opentelemetry-instrumentation``).
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from ._anthropic_compat import AnthropicAdapter
from ._anthropic_targets import TARGETS
from ._instrumentor import Instrumentor, PatchSet, Verbs

__all__ = ["AnthropicInstrumentor", "instrument", "is_instrumented", "uninstrument"]

SUPPORTED = ("anthropic >= 0.45",)
_patches = PatchSet("spyglass.integrations.anthropic", TARGETS, AnthropicAdapter())


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Patch the anthropic client. A second call does nothing (``uninstrument()`` first to switch
    tracer providers). Spans go to ``tracer_provider``; without one, to the provider Spyglass's
    decorators use at the time of each call, so that they nest and are captured together."""
    _patches.instrument(tracer_provider)


def uninstrument() -> None:
    """Put every patched method back exactly as it was. Safe to call when not instrumented."""
    _patches.uninstrument()


def is_instrumented() -> bool:
    return _patches.active


class AnthropicInstrumentor(Instrumentor):
    """The same patches behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    verbs = Verbs(instrument, uninstrument)
    supported = SUPPORTED
