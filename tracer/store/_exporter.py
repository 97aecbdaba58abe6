"""An OpenTelemetry ``SpanExporter`` that writes into a Spyglass store: a DuckDB file, or a
PostgreSQL server (``postgresql://...``; ``postgres/_writer.py``), through the same contract.

Besides the exporter contract (``export`` returns FAILURE instead of raising, ``shutdown``
may be called more than once), it tells Spyglass's processor what became of every span
(:meth:`write_batch`), spools a batch without touching DuckDB at exit (:meth:`spool_batch`),
and survives ``fork`` (:meth:`after_fork`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._evaluate import ExportTimeGrounding
from .._forklock import ForkLock
from .._guard import guard, logger
from .._outcome import STORE_REFUSED, UNENCODABLE, UNWRITABLE, Outcome
from . import _spool
from ._location import is_postgres
from ._rows import convert
from ._schema import StoreError
from ._writer import REFUSED, StoreWriter

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider

    from .._evaluation_events import EvaluationEvents


def _always() -> bool:
    return True


def _writer_for(db: str) -> StoreWriter:
    if is_postgres(db):
        from .postgres._writer import PostgresWriter  # psycopg: only for a server store

        return PostgresWriter(db)  # type: ignore[return-value]  # the same contract (duck-typed)
    return StoreWriter(db)


class DuckDBSpanExporter(SpanExporter):
    def __init__(
        self,
        path: str,
        *,
        drain_timeout: float = 30.0,
        grounding: bool = True,
        logger_provider: LoggerProvider | None = None,
    ) -> None:
        self.writer = _writer_for(path)
        self.drain_timeout = drain_timeout
        self._shutdown = False
        # Check LLM answers against their trace's documents here, on the export thread.
        self._grounding = ExportTimeGrounding() if grounding else None
        # Its results also leave as OTel log-based events, for other back ends
        # (tracer/_evaluation_events.py); imported with the first result, not before.
        self._logger_provider = logger_provider
        self._events: EvaluationEvents | None = None
        self._ground_until: float | None = None
        # The processor's worker and anyone calling ``export`` directly may export at once;
        # a fork waits for the batch being exported (see _forklock.py).
        self._lock = ForkLock()
        self._refusal_logged: set[str] = set()

    @property
    def path(self) -> str:
        return self.writer.path

    # --- what Spyglass's processor calls -------------------------------------------------
    def write_batch(self, spans: Sequence[ReadableSpan], claim: Callable[[], bool] = _always) -> Outcome | None:
        """Store ``spans`` and say what became of each; ``None`` if ``claim()`` says another
        thread took the batch meanwhile (shutdown spooling it past the exit deadline)."""
        with self._lock:
            events = None
            if self._grounding is not None:
                events = self._grounding.observe(spans, until=self._ground_until)  # guarded inside
                if events:
                    if self._events is None:
                        from .._evaluation_events import EvaluationEvents

                        self._events = EvaluationEvents(self._logger_provider)
                    self._events.publish(spans, events)  # guarded inside
            table, left_out = convert(spans, events)
            if not claim():
                return None
            outcome = Outcome().drop(UNENCODABLE, left_out)
            if table.num_rows == 0:
                return outcome
            try:
                written = self.writer.write(table)
            except REFUSED as exc:  # not ours to write (any more): a foreign, newer or damaged file
                self._log_refusal(exc)
                return outcome.drop(f"{STORE_REFUSED}: {type(exc).__name__}", table.num_rows)
            except (StoreError, OSError) as exc:  # neither the store nor its spool can be written
                self._log_refusal(exc)
                return outcome.drop(UNWRITABLE, table.num_rows)
            outcome.stored += written.stored
            outcome.spooled += written.spooled
            for reason, n in written.dropped.items():
                outcome.drop(reason, n)
            return outcome

    def spool_batch(self, spans: Sequence[ReadableSpan]) -> Outcome:
        """Past the exit deadline: put ``spans`` in the spool without DuckDB or grounding (the
        worker may still be inside a write, and there is no time for checks)."""
        table, left_out = convert(spans)
        outcome = Outcome().drop(UNENCODABLE, left_out)
        if table.num_rows:
            try:
                _spool.write(self.path, table)
                outcome.spooled += table.num_rows
            except OSError as exc:
                self._log_refusal(exc)
                outcome.drop(UNWRITABLE, table.num_rows)
        return outcome

    def record_dropped(self, count: int, reason: str) -> None:
        self.writer.record_dropped(count, reason)

    def hurry(self, until: float) -> None:
        """Exit has begun: checks that can be run later (``spyglass check``) stop at ``until``."""
        self._ground_until = until
        self.writer.spool_bytes = self.writer.spool_seconds = 0  # the spool is drained last, by close()

    def close(self, timeout: float, may_drain: bool) -> None:
        """Shutdown within ``timeout`` s; ``may_drain`` is False while a write may still be under
        way on another thread (the spool files are durable and the next writer ingests them)."""
        if self._shutdown:
            return
        self._shutdown = True
        if may_drain and timeout > 0:
            with guard("DuckDB drain"):
                self.writer.drain(min(self.drain_timeout, timeout))
        if may_drain:  # no write under way: let go of the connection (a server's, or DuckDB's instance)
            with guard("store close"):
                self.writer.release()

    # --- fork ----------------------------------------------------------------------------
    def before_fork(self) -> None:
        self._lock.before_fork()
        self.writer.before_fork()

    def after_fork_in_parent(self) -> None:
        self.writer.after_fork_in_parent()
        self._lock.after_fork_in_parent()

    def after_fork(self) -> None:
        self._lock.after_fork_in_child()
        self.writer.after_fork()
        if self._grounding is not None:
            self._grounding = ExportTimeGrounding()

    # --- the SpanExporter contract --------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        outcome: Outcome | None = None
        with guard("DuckDB export"):
            outcome = self.write_batch(spans)
        return SpanExportResult.SUCCESS if outcome is not None and not outcome.dropped else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Leave nothing in the spool: wait (bounded) for the write lock and ingest it."""
        with guard("DuckDB drain"):
            return self.writer.drain(min(self.drain_timeout, timeout_millis / 1000))
        return False

    def shutdown(self) -> None:
        self.close(self.drain_timeout, True)

    def _log_refusal(self, exc: BaseException) -> None:
        kind = type(exc).__name__
        if kind not in self._refusal_logged:
            self._refusal_logged.add(kind)
            logger.error(
                "spyglass: cannot store spans in %s: %s. They are dropped and counted "
                "(tracer.stats().dropped_reasons); your app goes on.",
                self.path,
                str(exc).rstrip("."),
            )
        # Later ones: the counts say it; the guard's report keeps the traceback at DEBUG.
        logger.debug("spyglass: store write failed", exc_info=exc)
