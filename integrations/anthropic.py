"""Trace every call of the ``anthropic`` client (``anthropic>=0.40``) as a GenAI span.

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

import functools
import threading
from collections.abc import Collection
from typing import Any

from opentelemetry.trace import TracerProvider

from tracer._call import tracer_for
from tracer.version import __version__

from ._anthropic_compat import AnthropicAdapter
from ._anthropic_targets import TARGETS
from ._core import Patcher, fixed_tracer

__all__ = ["AnthropicInstrumentor", "instrument", "is_instrumented", "uninstrument"]

SUPPORTED = ("anthropic >= 0.40",)
_SCOPE = "spyglass.integrations.anthropic"
_lock = threading.Lock()
_patcher = Patcher()


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Patch the anthropic client. A second call does nothing (``uninstrument()`` first to switch
    tracer providers). Spans go to ``tracer_provider``; without one, to the provider Spyglass's
    decorators use at the time of each call (the one ``tracer.configure()`` set up, the one
    ``tracer.testing.capture_spans()`` listens on, or else the global one), so that they nest
    and are captured together."""
    with _lock:
        if _patcher.active:
            return
        tracers = (
            functools.partial(tracer_for, _SCOPE, __version__)
            if tracer_provider is None
            else fixed_tracer(tracer_provider.get_tracer(_SCOPE, __version__))
        )
        _patcher.apply(TARGETS, tracers, AnthropicAdapter())


def uninstrument() -> None:
    """Put every patched method back exactly as it was. Safe to call when not instrumented."""
    with _lock:
        _patcher.revert()


def is_instrumented() -> bool:
    return _patcher.active


try:  # optional: only ``opentelemetry-instrument`` needs it
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor as _Base  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised when the package is absent
    _Base = object


class AnthropicInstrumentor(_Base):  # pyright: ignore[reportGeneralTypeIssues] - object when the package is absent
    """The same patches behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return SUPPORTED

    def _instrument(self, **kwargs: Any) -> None:
        instrument(tracer_provider=kwargs.get("tracer_provider"))

    def _uninstrument(self, **kwargs: Any) -> None:
        uninstrument()

    if _Base is object:  # without opentelemetry-instrumentation: the same two verbs

        def instrument(self, **kwargs: Any) -> None:
            self._instrument(**kwargs)

        def uninstrument(self, **kwargs: Any) -> None:
            self._uninstrument(**kwargs)
