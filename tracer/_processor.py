"""The span processor: trace-level attributes on start, bounded batching on end.

Written instead of the SDK's ``BatchSpanProcessor`` for guarantees it lacks (stated in
docs/reliability.md):

* **Every span is accounted for**: stored, spooled to disk, or dropped with a reason, and the
  counts are in :func:`tracer.stats` and the store's ``dropped_spans`` table.
* ``force_flush`` returns True only once the spans that ended before it can be queried, and
  False when any span was lost since the previous flush.
* **Exit is bounded and lossless**: ``shutdown`` waits up to ``exit_timeout`` for the queue
  and the batch in flight; past it, what the worker has not begun to write is spooled from
  the calling thread instead of being discarded.
* **Signal-safe**: the traced call's thread and ``force_flush`` never hold a Python lock
  that the worker needs. They talk to the worker through ``queue.SimpleQueue`` (C-level,
  no Python lock to re-enter), so ``shutdown`` can run inside a SIGTERM handler that
  interrupted ``force_flush`` without deadlocking.
* **Fork-safe**: a forked child gets a fresh queue, worker and exporter state; the spans the
  parent had queued are the parent's to export, once.
"""

from __future__ import annotations

import collections
import itertools
import os
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import _nesting
from ._context import stamp_trace_attributes
from ._guard import guard, logger
from ._outcome import AFTER_SHUTDOWN, EXIT_TIMEOUT, EXPORTER_FAILED, QUEUE_FULL, Outcome

DEFAULT_EXIT_TIMEOUT = 10.0
# Batches taken once shutdown has begun: small, so that a write under way when the exit
# deadline passes (which cannot be interrupted) finishes soon after it.
_SHUTDOWN_BATCH = 512
# How long one pass of the worker waits for another process's lock to drain the spool.
_DRAIN_SLICE = 1.0
_RETRY_DELAY = 0.05


class _Tally:
    """A counter any thread (or a signal handler) can bump without a lock: ``next()`` on an
    ``itertools.count`` is one C call, atomic under the GIL, where ``x += 1`` is not."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = itertools.count()

    def add(self) -> None:
        next(self._count)

    @property
    def value(self) -> int:
        return int(repr(self._count)[6:-1])  # "count(N)"


class _Waiter:
    __slots__ = ("deadline", "done", "target")

    def __init__(self, target: int, deadline: float) -> None:
        self.target = target
        self.deadline = deadline  # time.monotonic() at which the flush gives up
        self.done: queue.SimpleQueue[bool] = queue.SimpleQueue()


_processors: weakref.WeakSet[SpyglassSpanProcessor] = weakref.WeakSet()
# Set by tracer._config: called at the end of every processor shutdown (SIGTERM deferral).
_after_exit: Any = None


def exit_under_way() -> bool:
    """Whether some processor is between the start and the end of its shutdown."""
    return any(p._stopping and not p._stopped for p in list(_processors))


def _after_fork_in_child() -> None:
    for processor in list(_processors):
        with guard("fork"):
            processor._after_fork()


def _before_fork() -> None:
    for processor in list(_processors):
        processor._exporter_hook("before_fork")


def _after_fork_in_parent() -> None:
    for processor in list(_processors):
        processor._exporter_hook("after_fork_in_parent")


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


class SpyglassSpanProcessor(SpanProcessor):
    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 32_768,
        max_batch_size: int = 8_192,
        schedule_delay: float = 0.5,
        exit_timeout: float = DEFAULT_EXIT_TIMEOUT,
    ) -> None:
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.schedule_delay = schedule_delay
        self.exit_timeout = exit_timeout
        self._init_state()
        _processors.add(self)

    def _init_state(self) -> None:
        """Everything a forked child must not share with its parent."""
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._waiters: collections.deque[_Waiter] = collections.deque()
        # Spans the worker has taken from the queue (raised *before* it takes them, so that
        # ``len(queue) + taken`` read in that order never undercounts) and fully accounted for.
        self._taken = 0
        self._done = 0
        self.reset_counts()
        # Batches taken but not yet being written: shutdown spools these itself when the worker
        # is late. Whoever pops a batch from here owns it (dict.pop is atomic).
        self._unclaimed: dict[int, list[ReadableSpan]] = {}
        self._batch_ids = itertools.count()
        self._stopping = False
        self._stopped = False
        self._last_drop_log = 0.0
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.pid = os.getpid()

    # --- counters ---------------------------------------------------------------------
    def reset_counts(self) -> None:
        """Start counting afresh (a new processor, a forked child, or ``configure()`` pointing
        this one at another store). The worker owns the plain ints; other threads use tallies."""
        self.stored = self.spooled = 0
        self._dropped_by_worker: dict[str, int] = {}
        self._dropped_at_exit: dict[str, int] = {}
        self._queue_full, self._after_shutdown = _Tally(), _Tally()
        self._queue_full_recorded = self._lost_at_last_flush = 0

    @property
    def dropped(self) -> int:
        return sum(self.dropped_reasons().values())

    @property
    def exported(self) -> int:
        """Spans that reached the store or its spool (both are durable and queryable)."""
        return self.stored + self.spooled

    @property
    def queued(self) -> int:
        return len(self._queue)

    def dropped_reasons(self) -> dict[str, int]:
        counts: collections.Counter[str] = collections.Counter()
        counts.update(dict(self._dropped_by_worker))  # dict() copies in one C call
        counts.update(dict(self._dropped_at_exit))
        for reason, tally in ((QUEUE_FULL, self._queue_full), (AFTER_SHUTDOWN, self._after_shutdown)):
            if tally.value:
                counts[reason] += tally.value
        return dict(counts)

    # --- SpanProcessor ---------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with guard("trace attributes"):
            stamp_trace_attributes(span, parent_context)
            _nesting.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        _nesting.on_end(span)
        if self._stopping:
            self._after_shutdown.add()  # a span ending in another atexit hook, say: counted
            if self._after_shutdown.value == 1:
                logger.warning(
                    "spyglass: a span ended after tracing was shut down; it is not stored "
                    "(counted in tracer.stats().dropped_reasons)"
                )
            return
        queue_ = self._queue
        if len(queue_) >= self.max_queue_size:
            self._drop_queue_full()
            return
        queue_.append(span)  # deque.append is atomic: no lock on the traced call's path
        if self._worker is None:
            self._start_worker()
        if len(queue_) >= self.max_batch_size:
            self._wake.put(None)

    def _start_worker(self) -> None:
        # Lazily, so that a forked child that never traces never starts a thread.
        with self._start_lock:
            if self._worker is None and not self._stopping:
                worker = threading.Thread(target=self._run, name="spyglass-exporter", daemon=True)
                worker.start()
                self._worker = worker

    def _drop_queue_full(self) -> None:
        self._queue_full.add()
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            logger.warning(
                "spyglass: export queue full (%d spans); %d spans dropped so far",
                self.max_queue_size,
                self._queue_full.value,
            )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every span that ended before this call is stored (or spooled) and the
        spool is drained. False on timeout, or when any span was dropped since the previous
        flush (``stats().dropped_reasons`` says why)."""
        timeout = timeout_millis / 1000
        if self._stopping:
            return False
        # Queue length first, then ``taken``: see _init_state.
        target = len(self._queue)
        target += self._taken
        waiter = _Waiter(target, time.monotonic() + timeout)
        self._waiters.append(waiter)
        if self._worker is None:
            self._start_worker()
        self._wake.put(None)
        try:
            drained = waiter.done.get(timeout=timeout)
        except queue.Empty:
            return False
        lost = self.dropped
        ok = drained and lost == self._lost_at_last_flush
        self._lost_at_last_flush = lost
        return ok

    def shutdown(self, timeout: float | None = None) -> None:
        """Export what is queued, waiting at most ``timeout`` (default ``exit_timeout``) s;
        past it, spool what the worker has not begun to write. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        limit = self.exit_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        hurry = getattr(self.exporter, "hurry", None)
        if hurry is not None:  # checks that can wait (grounding) stop halfway to the deadline
            hurry(time.monotonic() + limit / 2)
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            self._wake.put(None)
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                self._spool_leftovers(limit)
                # A write under way cannot be cut short: wait for it (one small batch), so the
                # process never exits with a thread inside DuckDB.
                worker.join(max(limit, 10.0))
                if worker.is_alive():
                    logger.error(
                        "spyglass: exporter still writing %.0f s after exit began; spans of the "
                        "batch in flight may be lost",
                        2 * limit,
                    )
        elif self._queue:  # no worker (a child that forked with spans queued later, say)
            self._export_queue()
        self._record_queue_full()
        self._stopped = True
        if _after_exit is not None:  # a SIGTERM arrived while this ran: die by it now
            _after_exit()
        for waiter in list(self._waiters):
            waiter.done.put(False)
        with guard("exporter shutdown"):
            close = getattr(self.exporter, "close", None)
            if close is not None:  # ours: drain the spool within what is left of the bound
                close(max(0.0, deadline - time.monotonic()), worker is None or not worker.is_alive())
            else:
                self.exporter.shutdown()

    # --- the background thread ----------------------------------------------------------
    def _run(self) -> None:
        wake = self._wake
        while True:
            try:
                # A flush still waiting for the spool to drain retries soon, not a delay later.
                wake.get(timeout=_RETRY_DELAY if self._waiters else self.schedule_delay)
            except queue.Empty:
                pass
            while True:  # several wake-ups since: one pass serves them all
                try:
                    wake.get_nowait()
                except queue.Empty:
                    break
            flushing = bool(self._waiters)
            self._export_queue()
            self._record_queue_full()
            if flushing:
                self._answer_waiters()
            if self._stopping and not self._queue:
                return

    def _export_queue(self) -> None:
        """Export, in batches, the spans queued now (new ones wait for the next pass)."""
        left = len(self._queue)
        while left > 0 and self._queue:
            size = min(left, _SHUTDOWN_BATCH if self._stopping else self.max_batch_size)
            self._taken += size  # before taking: see _init_state
            batch: list[ReadableSpan] = []
            popleft = self._queue.popleft
            for _ in range(size):
                try:
                    batch.append(popleft())
                except IndexError:  # shutdown spooled the rest
                    break
            left -= size
            if batch:
                self._export_batch(batch)
            self._done += size

    def _export_batch(self, batch: list[ReadableSpan]) -> None:
        number = next(self._batch_ids)
        self._unclaimed[number] = batch

        def claim() -> bool:
            """The exporter calls this right before it writes: False when shutdown ran out of
            time and spooled this batch itself (then the exporter must not write it)."""
            return self._unclaimed.pop(number, None) is not None

        outcome: Outcome | None = Outcome()
        try:
            with guard("export"):
                outcome = self._write(batch, claim)
        finally:
            if claim() or outcome is not None:  # None: the batch was spooled at exit instead
                self._count(outcome or Outcome(), len(batch))

    def _write(self, batch: Sequence[ReadableSpan], claim: Any) -> Outcome | None:
        write = getattr(self.exporter, "write_batch", None)
        if write is not None:  # ours: says what became of each span
            return write(batch, claim)
        if not claim():
            return None
        if self.exporter.export(batch) == SpanExportResult.SUCCESS:
            return Outcome(stored=len(batch))
        return Outcome(dropped={EXPORTER_FAILED: len(batch)})

    def _count(self, outcome: Outcome, total: int) -> None:
        accounted = outcome.stored + outcome.spooled + sum(outcome.dropped.values())
        if accounted < total:  # the export itself failed (already reported by the guard)
            outcome.dropped[EXPORTER_FAILED] = outcome.dropped.get(EXPORTER_FAILED, 0) + total - accounted
        self.stored += outcome.stored
        self.spooled += outcome.spooled
        for reason, n in outcome.dropped.items():
            _add(self._dropped_by_worker, reason, n)
        if outcome.dropped:
            self._record_dropped(outcome.dropped)

    def _record_dropped(self, dropped: dict[str, int]) -> None:
        record = getattr(self.exporter, "record_dropped", None)
        if record is not None:
            with guard("record dropped"):
                for reason, n in dropped.items():
                    record(n, reason)

    def _record_queue_full(self) -> None:
        """Queue-full drops are counted by a tally on the traced call's thread; the worker
        passes them on to the store's ``dropped_spans`` with the rest."""
        full = self._queue_full.value
        if full > self._queue_full_recorded:
            self._record_dropped({QUEUE_FULL: full - self._queue_full_recorded})
            self._queue_full_recorded = full

    def _answer_waiters(self) -> None:
        """Tell each flush whose spans are all accounted for, once the spool is drained.

        The drain waits for another process's lock at most ~1 s per pass: the worker must get
        back to exporting (a flush waiting 30 s for a busy store would fill the queue).
        Flushes still waiting retry on the next pass, until their own deadline.
        """
        now = time.monotonic()
        for waiter in [w for w in list(self._waiters) if w.deadline <= now]:
            self._forget(waiter)  # the flush gave up (it returned False by itself)
        # Idle (nothing queued, everything taken is accounted for) answers every flush too: a
        # target read while the worker was taking a batch may count part of it twice.
        idle = not self._queue and self._done >= self._taken
        ready = [w for w in list(self._waiters) if idle or w.target <= self._done]
        if not ready:
            return
        drained = False
        with guard("drain"):
            drain = getattr(self.exporter, "force_flush", None)
            budget = min(_DRAIN_SLICE, max(w.deadline for w in ready) - now)
            drained = bool(drain(int(max(budget, 0.0) * 1000))) if drain is not None else True
        if not drained and not getattr(getattr(self.exporter, "writer", None), "drain_hopeless", False):
            return  # still waiting (the store is busy): the next pass (soon: see _run) tries again
        for waiter in ready:
            self._forget(waiter)
            waiter.done.put(drained)

    def _forget(self, waiter: _Waiter) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    # --- exit ---------------------------------------------------------------------------
    def _spool_leftovers(self, limit: float) -> None:
        """Past the exit deadline: spool, from this thread, every span the worker has not begun
        to write (the queue and batches it took but has not claimed)."""
        leftovers: list[ReadableSpan] = []
        for number in list(self._unclaimed):
            batch = self._unclaimed.pop(number, None)
            if batch is not None:
                leftovers.extend(batch)
        while True:
            try:
                leftovers.append(self._queue.popleft())
            except IndexError:
                break
        if not leftovers:
            return
        spool = getattr(self.exporter, "spool_batch", None)
        outcome = Outcome(dropped={EXIT_TIMEOUT: len(leftovers)})
        if spool is not None:
            with guard("exit spool"):
                outcome = spool(leftovers)
        self.spooled += outcome.spooled  # the worker is stuck in a write: no race on these
        self.stored += outcome.stored
        for reason, n in outcome.dropped.items():
            _add(self._dropped_at_exit, reason, n)
        logger.warning(
            "spyglass: exit took longer than %.1f s; %d spans spooled to disk for the next "
            "writer to ingest, %d dropped",
            limit,
            outcome.spooled,
            sum(outcome.dropped.values()),
        )

    # --- fork ---------------------------------------------------------------------------
    def _exporter_hook(self, name: str) -> None:
        """Call the exporter's fork hook ``name`` if it has one (ours waits for a DuckDB write)."""
        hook = getattr(self.exporter, name, None)
        if hook is not None:
            with guard("fork"):
                hook()

    def _after_fork(self) -> None:
        """In a forked child: start over. The parent's queued spans stay the parent's."""
        parent_exporter = self.exporter
        self._init_state()
        reinit = getattr(parent_exporter, "after_fork", None)
        if reinit is not None:
            reinit()
        _register_child_exit(self)


def _add(counts: dict[str, int], reason: str, n: int) -> None:
    counts[reason] = counts.get(reason, 0) + n


def _register_child_exit(processor: SpyglassSpanProcessor) -> None:
    """multiprocessing children end with ``os._exit`` (no atexit), after running its own
    finalizers: flush there, or a fork ``Process``/``Pool`` worker loses every span.

    Its bootstrap clears the finalizers the child inherited *after* this fork hook runs,
    then calls its after-fork callbacks: the finalizer is registered from one of those.
    """
    import sys

    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return

    def on_exit() -> None:
        if processor.pid == os.getpid():
            with guard("child exit"):
                processor.shutdown()

    util.register_after_fork(processor, lambda _: util.Finalize(None, on_exit, exitpriority=0))
