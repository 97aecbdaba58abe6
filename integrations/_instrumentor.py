"""The shell every integration module shares: where its spans go, a patch table applied once,
and the same verbs behind OpenTelemetry's ``BaseInstrumentor``.

An integration module keeps its three public functions (``instrument(tracer_provider=None)``,
``uninstrument()``, ``is_instrumented()``) and its instrumentor class; what those do around the
library-specific part is written here once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from opentelemetry.trace import TracerProvider

from tracer._call import tracer_for
from tracer.version import __version__

from ._core import Adapter, Patcher, Target, TracerSource, fixed_tracer

__all__ = ["Instrumentor", "PatchSet", "Verbs", "tracer_source"]


def tracer_source(scope: str, tracer_provider: TracerProvider | None) -> TracerSource:
    """Spans go to ``tracer_provider``; without one, to the provider Spyglass's decorators use at
    the time of each call (the one ``tracer.configure()`` set up, the one
    ``tracer.testing.capture_spans()`` listens on, or else the global one), so that they nest
    and are captured together."""
    if tracer_provider is None:
        return functools.partial(tracer_for, scope, __version__)
    return fixed_tracer(tracer_provider.get_tracer(scope, __version__))


class PatchSet:
    """One library's patch table, applied once and reverted together: a patching integration's
    ``instrument()`` / ``uninstrument()`` / ``is_instrumented()`` are these three."""

    # ``adapter`` is handed to each target's wrapper factory: an :class:`Adapter` for the
    # default wrappers, or whatever a target's own ``wrap`` factory expects (a vector store's Store).
    def __init__(self, scope: str, table: Sequence[Target], adapter: Adapter | Any) -> None:
        self.scope = scope
        self.table = tuple(table)
        self.adapter = adapter
        self._lock = threading.Lock()
        self._patcher = Patcher()

    def instrument(self, tracer_provider: TracerProvider | None = None) -> None:
        """A second call does nothing (``uninstrument()`` first to switch tracer providers)."""
        with self._lock:
            if not self._patcher.active:
                self._patcher.apply(self.table, tracer_source(self.scope, tracer_provider), self.adapter)

    def uninstrument(self) -> None:
        with self._lock:
            self._patcher.revert()

    @property
    def active(self) -> bool:
        return self._patcher.active


@dataclass(frozen=True)
class Verbs:
    """What an instrumentor class calls: its module's ``instrument`` and ``uninstrument``."""

    instrument: Callable[..., None]
    uninstrument: Callable[[], None]


try:  # optional: only ``opentelemetry-instrument`` needs it
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor as _Base  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised when the package is absent
    _Base = object


class Instrumentor(_Base):  # pyright: ignore[reportGeneralTypeIssues] - object when the package is absent
    """An integration behind OpenTelemetry's ``BaseInstrumentor`` interface; a module subclasses
    it with its :class:`Verbs` and the library versions it supports."""

    verbs: ClassVar[Verbs]
    supported: ClassVar[tuple[str, ...]]

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.supported

    def _instrument(self, **kwargs: Any) -> None:
        self.verbs.instrument(tracer_provider=kwargs.get("tracer_provider"))

    def _uninstrument(self, **kwargs: Any) -> None:
        self.verbs.uninstrument()

    if _Base is object:  # without opentelemetry-instrumentation: the same two verbs

        def instrument(self, **kwargs: Any) -> None:
            self._instrument(**kwargs)

        def uninstrument(self, **kwargs: Any) -> None:
            self._uninstrument(**kwargs)
