"""Getting batches into the store without ever waiting on, or failing because of, another
process. See docs/schema.md, "Concurrency", for why this design.

``write`` takes the write lock only if it is free *now*: then it ingests this batch and any
spool files, and lets go. Otherwise it spools the batch and returns. ``drain`` waits for
the lock (bounded) so that ``tracer.flush()`` and exit leave everything in the file.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

import duckdb
import pyarrow as pa

from . import _spool
from ._connect import STORE, open_write, release, try_open_write
from ._ingest import ingest_batch
from ._rows import STAGING_SCHEMA
from ._schema import migrate

logger = logging.getLogger("spyglass")


class StoreWriter:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()  # one ingest at a time from this process
        self._dropped_unrecorded = 0
        self._validated = False
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
            self._validated = True
            return True
        finally:
            con.close()

    def record_dropped(self, count: int) -> None:
        with self._lock:
            self._dropped_unrecorded += count

    def write(self, table: pa.Table) -> str:
        """Ingest now if the store is free, else spool. Returns ``"ingested"`` or ``"spooled"``."""
        with self._lock:
            con = try_open_write(self.path, onto=self._instance())
            if con is None:
                _spool.write(self.path, table)
                self.spooled_batches += 1
                return "spooled"
            try:
                self._ingest(con, table)
            finally:
                release(con, kept=True)
            self.direct_batches += 1
            return "ingested"

    def drain(self, timeout: float) -> bool:
        """Ingest every spool file present now, waiting up to ``timeout`` s for the lock.

        True when all of them are in the store (files other writers spool meanwhile are
        theirs to flush)."""
        waiting = set(_spool.pending(self.path))
        if not waiting and not self._dropped_unrecorded:
            return True
        with self._lock:
            con = open_write(self.path, timeout, onto=self._instance())
            if con is None:
                return False
            try:
                self._ingest(con, None)
            finally:
                release(con, kept=True)
        return not waiting & set(_spool.pending(self.path))

    def _ingest(self, con: duckdb.DuckDBPyConnection, table: pa.Table | None) -> None:
        if not self._validated:
            migrate(con, STORE, self.path)
            self._validated = True
        files = _spool.pending(self.path)
        done: set[str] = set()
        if files:
            rows = con.execute(f"SELECT file FROM {STORE}.spool_ingested").fetchall()
            done = {r[0] for r in rows}
        batches: list[pa.Table] = []
        taken: list[str] = []
        for path in files:
            if os.path.basename(path) in done:
                continue
            try:
                batches.append(_spool.read(path).select(STAGING_SCHEMA.names).cast(STAGING_SCHEMA))
                taken.append(path)
            except Exception as exc:  # a damaged file must not block every later batch
                moved = _spool.quarantine(path)
                logger.error("spyglass: unreadable spool file moved to %s: %s", moved, exc)
        if table is not None:
            batches.append(table)
        con.execute("BEGIN TRANSACTION")
        try:
            if batches:
                ingest_batch(con, STORE, pa.concat_tables(batches) if len(batches) > 1 else batches[0])
            if taken:
                con.executemany(f"INSERT INTO {STORE}.spool_ingested VALUES (?, now()::TIMESTAMP)",
                                [[os.path.basename(p)] for p in taken])
            if self._dropped_unrecorded:
                con.execute(f"INSERT INTO {STORE}.dropped_spans VALUES (now()::TIMESTAMP, ?, ?, ?)",
                            [os.getpid(), socket.gethostname(), self._dropped_unrecorded])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._dropped_unrecorded = 0
        # Still under the write lock: no reader can be looking at these files right now.
        stale = [p for p in files if os.path.basename(p) in done] + taken
        if stale:
            _spool.remove(stale)
            con.execute(f"DELETE FROM {STORE}.spool_ingested WHERE file IN (SELECT unnest(?))",
                        [[os.path.basename(p) for p in stale]])
        _spool.clean_stale_tmp(self.path)
