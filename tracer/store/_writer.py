"""Getting batches into the store without ever waiting on, or failing because of, another
process. See docs/schema.md, "Concurrency", for why this design.

``write`` takes the write lock only if it is free *now*: then it ingests this batch and any
spool files, and lets go. Otherwise it spools the batch and returns. ``drain`` waits for
the lock (bounded) so that ``tracer.flush()`` and exit leave everything in the file.

What can go wrong, and what happens (docs/reliability.md):

* the file is not ours to write (foreign, newer, damaged; checked on *every* open, since a
  file can be swapped under a running writer): ``REFUSED`` errors are raised, the file is
  never touched;
* the file cannot be opened (read-only file system, permissions, a directory): the batch
  goes to the spool, or ``OSError`` is raised if that cannot be written either;
* DuckDB rejects rows of a batch: the batch is split until the rejected rows are isolated;
  only they are dropped, and counted.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

import duckdb
import pyarrow as pa

from .._forklock import ForkLock
from .._outcome import Outcome
from . import _spool
from ._connect import STORE, open_write, release, try_open_write
from ._ingest import ingest_batch
from ._rows import conform
from ._schema import DamagedStoreError, ForeignStoreError, NewerSchemaError, StoreError, migrate

logger = logging.getLogger("spyglass")

#: Errors that mean "this file is not ours to write": never retried into, never spooled beside.
REFUSED: tuple[type[StoreError], ...] = (ForeignStoreError, NewerSchemaError, DamagedStoreError)
REJECTED = "rejected by DuckDB"
# Spool bytes (compressed Parquet on disk) ingested per transaction.
_CHUNK_BYTES = 16 * 1024 * 1024
# DuckDB instances a forked child inherited: never used, never closed there (closing one
# would touch threads and locks that exist only in the parent).
_ABANDONED: list[duckdb.DuckDBPyConnection] = []


def rejects_rows(exc: BaseException) -> bool:
    """DuckDB refused the *content* of a batch (not the file, not the disk)."""
    return isinstance(
        exc,
        (
            duckdb.ConversionException,
            duckdb.InvalidInputException,
            duckdb.ConstraintException,
            duckdb.OutOfRangeException,
        ),
    )


def split_rejected(
    commit: Callable[[pa.Table], None], table: pa.Table, rejects: Callable[[BaseException], bool] = rejects_rows
) -> int:
    """Commit ``table`` in halves until the rows the store refuses are alone; returns their number."""
    try:
        commit(table)
        return 0
    except Exception as exc:
        if not rejects(exc):
            raise
        if table.num_rows == 1:
            logger.warning("spyglass: the store refused a span; dropped and counted: %s", exc)
            return 1
    half = table.num_rows // 2
    return split_rejected(commit, table.slice(0, half), rejects) + split_rejected(commit, table.slice(half), rejects)


class StoreWriter:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._lock = ForkLock()  # one ingest at a time from this process; a fork waits for it
        self._dropped_unrecorded: dict[str, int] = {}
        # How much of the spool a write ingests besides its own batch (see _ingest); exit
        # sets both to 0 (``hurry``): its writes carry only their own batch.
        self.spool_bytes = _CHUNK_BYTES
        self.spool_seconds = 2.0
        # Set by drain when the store cannot be opened at all (not merely busy).
        self.drain_hopeless = False
        self._drain_warned = False
        self._committed = False  # set once a transaction holding the batch being written commits
        self.spooled_batches = 0
        self.direct_batches = 0
        # One in-memory DuckDB for the life of the writer; the file is attached per batch
        # and detached after (a new instance per batch costs ~12 ms).
        self._db: duckdb.DuckDBPyConnection | None = None

    def _instance(self) -> duckdb.DuckDBPyConnection:
        if self._db is None:
            self._db = duckdb.connect(":memory:")
        return self._db

    def validate(self, timeout: float = 5.0) -> bool:
        """Create or migrate the store now, so that a foreign or newer file fails here, clearly.
        False when another process held the file for ``timeout`` s (we will on first ingest)."""
        con = open_write(self.path, timeout)
        if con is None:
            return False
        try:
            migrate(con, STORE, self.path)
            return True
        finally:
            con.close()

    def record_dropped(self, count: int, reason: str) -> None:
        """Remember lost spans; the next ingest writes them to ``dropped_spans``."""
        with self._lock:
            self._dropped_unrecorded[reason] = self._dropped_unrecorded.get(reason, 0) + count

    def write(self, table: pa.Table) -> Outcome:
        """Ingest now if the store is free, else spool. Raises ``REFUSED`` errors for a file
        that is not ours, ``OSError``/``StoreError`` when neither it nor the spool can be written."""
        with self._lock:
            try:
                con = try_open_write(self.path, onto=self._instance())
            except REFUSED:
                raise
            except (StoreError, OSError) as exc:  # cannot open it at all: keep the batch on disk
                return self._spool(table, exc)
            if con is None:
                return self._spool(table, None)
            self._committed = False
            try:
                rejected = self._ingest(con, table)
            except REFUSED:
                raise
            except (duckdb.Error, OSError) as exc:
                if not self._committed:  # the disk (full?), not the rows: keep them
                    return self._spool(table, exc)
                # The batch is in: what failed was later work (the backlog, bookkeeping).
                # Spooling the batch again would store it twice.
                logger.warning("spyglass: after storing a batch in %s: %s", self.path, exc)
                rejected = 0
            finally:
                with _quiet():
                    release(con, kept=True)
            self.direct_batches += 1
            outcome = Outcome(stored=table.num_rows - rejected)
            return outcome.drop(REJECTED, rejected)

    def _spool(self, table: pa.Table, cause: BaseException | None) -> Outcome:
        try:
            _spool.write(self.path, table)
        except OSError as exc:
            raise OSError(f"cannot write the store ({cause or 'busy'}) nor its spool ({exc})") from exc
        if cause is not None:
            logger.warning(
                "spyglass: could not write %s (%s); batch spooled to %s for the next writer",
                self.path,
                cause,
                _spool.spool_dir(self.path),
            )
        self.spooled_batches += 1
        return Outcome(spooled=table.num_rows)

    def drain(self, timeout: float) -> bool:
        """Ingest every spool file present now, waiting up to ``timeout`` s for the lock.

        True when all of them are in the store (files other writers spool meanwhile are
        theirs to flush)."""
        deadline = time.monotonic() + timeout
        self.drain_hopeless = False
        waiting = set(_spool.pending(self.path))
        if not waiting and not self._dropped_unrecorded:
            return True
        with self._lock:
            try:
                con = open_write(self.path, timeout, onto=self._instance())
            except (StoreError, OSError) as exc:  # refused or unreachable: the exporter said why
                logger.debug("spyglass: cannot drain the spool of %s: %s", self.path, exc)
                self.drain_hopeless = True  # waiting longer will not help: flush says False now
                return False
            if con is None:
                return False
            try:
                self._ingest(con, None, deadline, first_bytes=_CHUNK_BYTES)
            except REFUSED as exc:  # swapped for a file not ours: the exporter logged it
                logger.debug("spyglass: cannot drain the spool of %s: %s", self.path, exc)
                self.drain_hopeless = True
                return False
            except (StoreError, duckdb.Error, OSError) as exc:  # the disk, say: retried by later flushes
                (logger.debug if self._drain_warned else logger.warning)(
                    "spyglass: could not ingest the spool of %s: %s", self.path, exc
                )
                self._drain_warned = True
                return False
            finally:
                with _quiet():
                    release(con, kept=True)
        return not waiting & set(_spool.pending(self.path))

    def _ingest(
        self,
        con: duckdb.DuckDBPyConnection,
        table: pa.Table | None,
        deadline: float | None = None,
        first_bytes: int | None = None,
    ) -> int:
        """Ingest ``table`` and the spool files; returns how many rows of ``table`` DuckDB rejected.

        Spool files go in chunks of about ``_CHUNK_BYTES``, one transaction each, while there
        are more and ``deadline`` (default: ``spool_seconds`` from now) has not passed. No
        single transaction grows with the backlog: a write under way cannot be interrupted,
        and exit waits for it (with 8 writers of 50 KB spans exiting at once, one writer
        ingesting everyone's spool in one go outlived the exit bound).
        """
        migrate(con, STORE, self.path)  # on every open: refuses a file swapped in meanwhile
        if deadline is None:
            deadline = time.monotonic() + self.spool_seconds
        rejected, more = self._ingest_chunk(con, table, self.spool_bytes if first_bytes is None else first_bytes)
        while more and time.monotonic() < deadline:
            more = self._ingest_chunk(con, None, _CHUNK_BYTES)[1]
        _spool.clean_stale_tmp(self.path)
        return rejected

    def _ingest_chunk(self, con: duckdb.DuckDBPyConnection, table: pa.Table | None, max_bytes: int) -> tuple[int, bool]:
        """One transaction: ``table`` plus spool files up to ``max_bytes`` on disk (at least one
        when ``max_bytes`` > 0). Returns (rows of ``table`` rejected, whether files were left)."""
        files = _spool.pending(self.path) if max_bytes > 0 else []
        done: set[str] = set()
        if files:
            rows = con.execute(f"SELECT file FROM {STORE}.spool_ingested").fetchall()
            done = {r[0] for r in rows}
        spooled: list[tuple[str, pa.Table]] = []
        size = 0
        more = False
        for path in files:
            if os.path.basename(path) in done:
                continue
            if spooled and size >= max_bytes:
                more = True
                break
            try:
                size += os.path.getsize(path)
                spooled.append((path, conform(_spool.read(path))))
            except Exception as exc:  # a damaged file must not block every later batch
                moved = _spool.quarantine(path)
                logger.error("spyglass: unreadable spool file moved to %s: %s", moved, exc)
        if table is None and not spooled and not self._dropped_unrecorded and not done:
            return 0, more
        rejected = 0
        try:
            self._commit(con, [t for _, t in spooled], [p for p, _ in spooled], table)
        except duckdb.Error as exc:
            if not rejects_rows(exc):
                raise
            # Some rows were refused: commit each spool file on its own, then split the batch.
            for path, part in spooled:
                try:
                    self._commit(con, [part], [path], None)
                except duckdb.Error as part_exc:
                    if not rejects_rows(part_exc):
                        raise
                    moved = _spool.quarantine(path)
                    self._dropped_unrecorded[REJECTED] = self._dropped_unrecorded.get(REJECTED, 0) + part.num_rows
                    logger.error(
                        "spyglass: spool file DuckDB refuses moved to %s (%d spans, counted in dropped_spans): %s",
                        moved,
                        part.num_rows,
                        part_exc,
                    )
            if table is not None:
                rejected = split_rejected(lambda part: self._commit(con, [], [], part), table)
        # Still under the write lock: no reader can be looking at these files right now.
        stale = [p for p in files if os.path.basename(p) in done] + [p for p, _ in spooled if os.path.exists(p)]
        if stale:
            _spool.remove(stale)
            con.execute(
                f"DELETE FROM {STORE}.spool_ingested WHERE file IN (SELECT unnest(?))",
                [[os.path.basename(p) for p in stale]],
            )
        return rejected, more

    def _commit(
        self, con: duckdb.DuckDBPyConnection, spooled: list[pa.Table], files: list[str], table: pa.Table | None
    ) -> None:
        batches = [*spooled, *([table] if table is not None else [])]
        con.execute("BEGIN TRANSACTION")
        try:
            if batches:
                ingest_batch(con, STORE, pa.concat_tables(batches) if len(batches) > 1 else batches[0])
            if files:
                con.executemany(
                    f"INSERT INTO {STORE}.spool_ingested VALUES (?, now()::TIMESTAMP)",
                    [[os.path.basename(p)] for p in files],
                )
            if self._dropped_unrecorded:
                host, pid = socket.gethostname(), os.getpid()
                con.executemany(
                    f"INSERT INTO {STORE}.dropped_spans (time, pid, host, count, reason) "
                    f"VALUES (now()::TIMESTAMP, ?, ?, ?, ?)",
                    [[pid, host, n, reason] for reason, n in self._dropped_unrecorded.items()],
                )
            con.execute("COMMIT")
            if table is not None:
                self._committed = True
        except BaseException:
            with _quiet():  # a failed ROLLBACK must not hide the error that matters
                con.execute("ROLLBACK")
            raise
        self._dropped_unrecorded = {}

    def release(self) -> None:
        """Close the in-memory DuckDB instance (the exporter stopped; a later write opens another)."""
        with self._lock:
            if self._db is not None:
                with _quiet():
                    self._db.close()
                self._db = None

    # --- fork ------------------------------------------------------------------------------
    def before_fork(self) -> None:
        self._lock.before_fork()

    def after_fork_in_parent(self) -> None:
        self._lock.after_fork_in_parent()

    def after_fork(self) -> None:
        """In the child: a lock and a DuckDB instance of its own."""
        self._lock.after_fork_in_child()
        if self._db is not None:
            _ABANDONED.append(self._db)
            self._db = None
        self._dropped_unrecorded = {}
        self.spooled_batches = 0
        self.direct_batches = 0


class _quiet:
    """Swallow a ``duckdb.Error`` during cleanup (the connection may already be unusable)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        return isinstance(exc, duckdb.Error)
