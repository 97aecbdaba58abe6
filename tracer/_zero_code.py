"""``OTEL_TRACES_EXPORTER=spyglass``: Spyglass's store behind OpenTelemetry's zero-code path.

    pip install opentelemetry-distro
    OTEL_TRACES_EXPORTER=spyglass opentelemetry-instrument python app.py

``opentelemetry-instrument`` runs the SDK's auto-configuration
(``opentelemetry.sdk._configuration._initialize_components``) before the app. For traces,
``_init_tracing`` creates an SDK ``TracerProvider``, makes it the global provider, and only
then instantiates the class of each ``opentelemetry_traces_exporter`` entry point, with no
arguments, and adds it to that provider wrapped in the SDK's ``BatchSpanProcessor``. The
instrumentors (ours, ``spyglass_openai``, among them) are loaded after that.

A plain exporter behind that ``BatchSpanProcessor`` would miss most of what
``tracer.configure()`` gives: trace-level attributes stamped when a span starts, nested LLM
spans marked when they start, flush at exit and on SIGTERM within ``exit_timeout``,
spooling instead of dropping, and a count of every span dropped (``tracer.stats()``). Those
live in Spyglass's span processor, not in the exporter. So :class:`ZeroCodeSpanExporter`,
when it is instantiated and the global provider is an SDK ``TracerProvider`` (always so
under ``_init_tracing``), calls ``tracer.configure(tracer_provider=...)`` on that provider:
Spyglass's processor joins it, exactly as it joins an application's own provider, and the
spans are stored by it. The exporter itself then exports nothing, so that no span is
stored twice; the SDK's ``BatchSpanProcessor`` around it hands it spans that it discards.
The store is ``SPYGLASS_DB`` (default ``./spyglass.duckdb``) and the other ``SPYGLASS_*``
variables apply, as for ``configure()``; a store that is not Spyglass's to write (another
database, a newer Spyglass's) raises its ``StoreError`` here, which
``opentelemetry-instrument`` logs before running the app untraced.

Constructed anywhere else while no SDK provider is global (by hand, or by a configurator
that instantiates exporters before it sets the provider), it cannot know which provider it
will be added to, so it is a plain exporter over :class:`tracer.store.DuckDBSpanExporter`,
with whatever guarantees the processor around it gives. In your own code, call
``tracer.configure()`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._config import _check_store, _grounding_from_env, configure, default_db_path
from .store import DuckDBSpanExporter
from .store._location import resolve


class ZeroCodeSpanExporter(SpanExporter):
    """The ``spyglass`` traces exporter of the ``opentelemetry_traces_exporter`` entry point."""

    def __init__(self) -> None:
        self._store: DuckDBSpanExporter | None = None
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            configure(tracer_provider=provider)  # our processor stores this provider's spans
            return
        self._store = DuckDBSpanExporter(resolve(default_db_path()), grounding=_grounding_from_env())
        _check_store(self._store)  # a foreign or newer store fails here, as in configure()

    @property
    def attached(self) -> bool:
        """True when Spyglass's own processor stores the spans and this exporter drops its copies."""
        return self._store is None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._store is None:
            return SpanExportResult.SUCCESS  # stored once already, by our processor
        return self._store.export(spans)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        # Attached: the provider's force_flush() reaches our processor directly.
        return True if self._store is None else self._store.force_flush(timeout_millis)

    def shutdown(self) -> None:
        # Attached: exit hooks and the provider's shutdown() stop our processor.
        if self._store is not None:
            self._store.shutdown()
