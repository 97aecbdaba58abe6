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

import functools
import threading
from collections.abc import Collection
from typing import Any

from opentelemetry.trace import TracerProvider

from tracer._call import tracer_for
from tracer.version import __version__

from ._core import Patcher, fixed_tracer
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
_SCOPE = "spyglass.integrations.openai"
_lock = threading.Lock()
_patcher = Patcher()


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Patch the openai client. A second call does nothing (``uninstrument()`` first to switch
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
        _patcher.apply(TARGETS, tracers, OpenAIAdapter())


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


class OpenAIInstrumentor(_Base):  # pyright: ignore[reportGeneralTypeIssues] - object when the package is absent
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
