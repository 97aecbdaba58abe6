"""Opening a store file: the lock rules of DuckDB, in one place.

DuckDB lets one process hold a file read-write, or several hold it read-only, never both;
two opens of the same file inside one process also conflict unless they share an
instance. Every open here goes through an in-memory connection that ATTACHes the file, so
a reader can add in-memory tables beside it (see ``reader.py``).
"""

from __future__ import annotations

import os
import random
import time

import duckdb

from ._schema import ForeignStoreError, StoreError

STORE = "store"  # the catalog name the store file is attached under


class StoreBusy(StoreError):
    """Another process holds the file in a conflicting mode."""


class StoreNotFound(StoreError):
    """No store at this path yet."""


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return (isinstance(exc, duckdb.ResourceInUseException) or "Could not set lock" in text
            or "Conflicting lock" in text or "already attached" in text or "file handle conflict" in text)


def _attach(path: str, read_only: bool, zstd: bool,
            onto: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """ATTACH the file as ``store``, onto ``onto`` (kept open on failure) or a new instance."""
    con = onto if onto is not None else duckdb.connect(":memory:")
    try:
        if zstd:
            # Compressing text is the bottleneck of ingest; zstd is both faster to write and
            # 2-3x smaller than DuckDB's default choice for long strings.
            con.execute("SET force_compression = 'zstd'")
        mode = " (READ_ONLY)" if read_only else ""
        con.execute(f"ATTACH '{_quote(path)}' AS {STORE}{mode}")
        return con
    except duckdb.Error as exc:
        if onto is None:
            con.close()
        if _is_lock_conflict(exc):
            raise StoreBusy(f"{path} is in use by another process: {exc}") from exc
        if "not a valid DuckDB database" in str(exc) or "Invalid Input Error: The file" in str(exc):
            raise ForeignStoreError(f"{path} exists but is not a DuckDB database, so not a Spyglass store; "
                                    f"it was left untouched. ({exc})") from exc
        if read_only and "does not exist" in str(exc):
            raise StoreNotFound(f"no Spyglass store at {path} yet: run your traced app (or `spyglass demo`) "
                                f"first, or pass the right --db / SPYGLASS_DB") from exc
        raise StoreError(f"cannot open {path}: {exc}") from exc


def _quote(path: str) -> str:
    return path.replace("'", "''")


def try_open_write(path: str, zstd: bool = True,
                   onto: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection | None:
    """The write lock if it is free right now, else ``None``; never waits. With ``onto``, the
    file is attached to that connection (release it with :func:`release`)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        return _attach(path, read_only=False, zstd=zstd, onto=onto)
    except StoreBusy:
        return None


def open_write(path: str, timeout: float, zstd: bool = True,
               onto: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection | None:
    """The write lock, waiting up to ``timeout`` seconds for the holders to let go."""
    return _retry(lambda: try_open_write(path, zstd, onto), timeout)


def release(con: duckdb.DuckDBPyConnection, kept: bool) -> None:
    """Let go of the store file: DETACH from a kept connection, else close it."""
    if kept:
        con.execute(f"DETACH {STORE}")
    else:
        con.close()


def open_read(path: str, timeout: float, onto: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only attach, retried while a writer holds the lock (writers hold it briefly).

    ``onto``: attach to this (long-lived, in-memory) connection instead of a new instance;
    creating a DuckDB instance costs ~12 ms, attaching ~1 ms. ``DETACH store`` lets go.
    """
    if not os.path.exists(path):
        raise StoreNotFound(f"no Spyglass store at {path} yet: run your traced app (or `spyglass demo`) "
                            f"first, or pass the right --db / SPYGLASS_DB")

    def attempt() -> duckdb.DuckDBPyConnection | None:
        try:
            return _attach(path, read_only=True, zstd=False, onto=onto)
        except StoreBusy:
            return None

    con = _retry(attempt, timeout)
    if con is None:
        raise StoreBusy(f"{path} stayed locked by another process for {timeout:.0f} s; a process holding it "
                        f"read-write for long is not a Spyglass writer (they hold it for one batch)")
    return con


def _retry(attempt, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        con = attempt()
        if con is not None or time.monotonic() >= deadline:
            return con
        # Jittered exponential backoff so that N waiting processes do not retry in lockstep.
        time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.1)
