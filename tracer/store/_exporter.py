"""An OpenTelemetry ``SpanExporter`` that writes into a Spyglass DuckDB store."""

from __future__ import annotations

import threading
from typing import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._evaluate import ExportTimeGrounding
from .._guard import guard
from ._rows import spans_to_table
from ._writer import StoreWriter


class DuckDBSpanExporter(SpanExporter):
    """Honours the exporter contract: ``export`` returns FAILURE instead of raising, and
    ``shutdown`` may be called more than once."""

    def __init__(self, path: str, *, drain_timeout: float = 30.0, grounding: bool = True) -> None:
        self.writer = StoreWriter(path)
        self.drain_timeout = drain_timeout
        self._shutdown = False
        # Check LLM answers against their trace's documents here, on the export thread.
        self._grounding = ExportTimeGrounding() if grounding else None
        # The processor's worker and a flushing thread may export at the same time.
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        return self.writer.path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        with self._lock:
            events = self._grounding.observe(spans) if self._grounding is not None else None  # guarded inside
            with guard("DuckDB export"):
                self.writer.write(spans_to_table(spans, events))
                return SpanExportResult.SUCCESS
        return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Leave nothing in the spool: wait (bounded) for the write lock and ingest it."""
        with guard("DuckDB drain"):
            return self.writer.drain(min(self.drain_timeout, timeout_millis / 1000))
        return False

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self.force_flush()
        self._shutdown = True
