"""The span processor: trace-level attributes on start, bounded batching on end.

Written instead of the SDK's ``BatchSpanProcessor`` for two guarantees it lacks: the
number of dropped spans is counted and recorded (in the store and in :func:`stats`), and
``force_flush`` returns only once the spans can be queried.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Optional

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._context import stamp_trace_attributes
from ._guard import guard

logger = logging.getLogger("spyglass")


class SpyglassSpanProcessor(SpanProcessor):
    def __init__(self, exporter: SpanExporter, *, max_queue_size: int = 32_768, max_batch_size: int = 8_192,
                 schedule_delay: float = 0.5) -> None:
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.schedule_delay = schedule_delay
        self.dropped = 0
        self.exported = 0
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._cond = threading.Condition()
        # Batches being exported, by number, so that a flush waits only for the batches taken
        # before it started (the worker keeps taking new ones under load).
        self._batches = threading.Condition()
        self._next_batch = 0
        self._in_flight: set[int] = set()
        self._stopped = False
        self._last_drop_log = 0.0
        self._worker = threading.Thread(target=self._run, name="spyglass-exporter", daemon=True)
        self._worker.start()

    # --- SpanProcessor ---------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        with guard("trace attributes"):
            stamp_trace_attributes(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self._stopped:
            return
        queue = self._queue
        if len(queue) >= self.max_queue_size:
            self._drop()
            return
        queue.append(span)  # deque.append is atomic: no lock on the traced call's path
        if len(queue) >= self.max_batch_size:
            with self._cond:
                self._cond.notify()

    def _drop(self) -> None:
        self.dropped += 1
        record = getattr(getattr(self.exporter, "writer", None), "record_dropped", None)
        if record is not None:
            record(1)
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            logger.warning("spyglass: export queue full (%d spans); %d spans dropped so far",
                           self.max_queue_size, self.dropped)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every span that ended before this call, then drain the exporter; False on timeout.

        Only those spans: under steady load the queue never empties, and a flush that waited
        for it would never return.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        with self._batches:
            taken_before = self._next_batch  # batches the worker already took are ours to wait for
        if not self._export_some(len(self._queue), deadline):
            return False
        with self._batches:
            while any(b < taken_before for b in self._in_flight):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._batches.wait(left)
        remaining = max(0.0, deadline - time.monotonic())
        return bool(self.exporter.force_flush(int(remaining * 1000))) if hasattr(self.exporter, "force_flush") \
            else True

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with self._cond:
            self._cond.notify()
        self._worker.join(timeout=5)
        self._export_some(len(self._queue))
        self.exporter.shutdown()

    # --- the background thread ----------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped:
            with self._cond:
                if len(self._queue) < self.max_batch_size:
                    self._cond.wait(self.schedule_delay)
            self._export_some(len(self._queue))

    def _export_some(self, count: int, deadline: float | None = None) -> bool:
        """Export up to ``count`` spans from the head of the queue; False if ``deadline`` passed."""
        sent = 0
        while sent < count and self._queue:
            if deadline is not None and time.monotonic() > deadline:
                return False
            batch: list[ReadableSpan] = []
            while self._queue and len(batch) < min(self.max_batch_size, count - sent):
                try:
                    batch.append(self._queue.popleft())
                except IndexError:  # another thread took the last one
                    break
            sent += len(batch)
            if batch:
                self._export_batch(batch)
        return True

    def _export_batch(self, batch: list[ReadableSpan]) -> None:
        with self._batches:
            number = self._next_batch
            self._next_batch += 1
            self._in_flight.add(number)
        try:
            ok = False
            with guard("export"):
                ok = self.exporter.export(batch) == SpanExportResult.SUCCESS
            if ok:
                self.exported += len(batch)
            else:  # the exporter already logged why; these spans are gone, so count them
                self.dropped += len(batch)
                record = getattr(getattr(self.exporter, "writer", None), "record_dropped", None)
                if record is not None:
                    record(len(batch))
        finally:
            with self._batches:
                self._in_flight.discard(number)
                self._batches.notify_all()
