"""Opening a store file: the lock rules of DuckDB, in one place.

DuckDB lets one process hold a file read-write, or several hold it read-only, never both;
two opens of the same file inside one process also conflict unless they share an
instance. Every open here goes through an in-memory connection that ATTACHes the file, so
a reader can add in-memory tables beside it (see ``reader.py``).
"""

from __future__ import annotations

import os
import random
import threading
import time

import duckdb

from ._schema import DamagedStoreError, ForeignStoreError, StoreError, damaged

STORE = "store"  # the catalog name the store file is attached under

# DuckDB's file layout (src/storage/single_file_block_manager.cpp): a main header holding
# the magic bytes "DUCK" at offset 8, two database headers of 4 KiB each, then the blocks.
_DUCKDB_MAGIC_AT, _DUCKDB_MAGIC = 8, b"DUCK"
_BLOCK_START = 3 * 4096
_SQLITE_MAGIC = b"SQLite format 3\x00"
# DuckDB opens a SQLite file by downloading its sqlite extension (seconds, and a network
# call from a tracing library): never on our connections. `(TYPE duckdb)` on ATTACH says
# the same for that one file.
_NO_EXTENSIONS = "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false"


class StoreBusy(StoreError):
    """Another process holds the file in a conflicting mode."""


class StoreNotFound(StoreError):
    """No store at this path yet."""


def _not_found(path: str) -> StoreNotFound:
    return StoreNotFound(
        f"no Spyglass store at {path} yet: run your traced app (or `spyglass demo`) "
        f"first, or pass the right --db / SPYGLASS_DB"
    )


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return (
        isinstance(exc, duckdb.ResourceInUseException)
        or "Could not set lock" in text
        or "Conflicting lock" in text
        or "already attached" in text
        or "file handle conflict" in text
    )


def inspect_file(path: str) -> bool:
    """Refuse, from its first bytes and before DuckDB opens it, a file that is not a DuckDB
    database or whose headers are cut off. True when the file exists (it is worth attaching),
    False when there is none yet. Reads only: nothing here can change the file."""
    if os.path.isdir(path):
        raise ForeignStoreError(
            f"{path} is a directory, not a Spyglass store: point SPYGLASS_DB or "
            f"configure(db=...) at a file (it is created on first use)."
        )
    try:
        with open(path, "rb") as f:
            head = f.read(_BLOCK_START)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head.startswith(_SQLITE_MAGIC):
        raise ForeignStoreError(
            f"{path} is a SQLite database, not a Spyglass store (Spyglass stores are DuckDB "
            f"files); it was left untouched."
        )
    if head[_DUCKDB_MAGIC_AT : _DUCKDB_MAGIC_AT + len(_DUCKDB_MAGIC)] != _DUCKDB_MAGIC:
        what = "is empty" if not head else "exists but is not a DuckDB database"
        raise ForeignStoreError(f"{path} {what}, so it is not a Spyglass store; it was left untouched.")
    if len(head) < _BLOCK_START:
        raise DamagedStoreError(
            f"{path} is damaged: a DuckDB file cut off inside its headers ({len(head)} "
            f"bytes). Spyglass left it untouched: restore it from a backup, or "
            f"move it aside and Spyglass starts a new store there."
        )
    return True


# Files whose blocks were found all present, by (path, inode, size, mtime): checking again
# costs a metadata scan, and readers open an unchanged file over and over.
_checked: set[tuple[str, int, int, int]] = set()
_checked_lock = threading.Lock()


def _check_blocks(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Raise :class:`DamagedStoreError` when blocks the attached file needs lie past its end.

    DuckDB attaches a truncated file without complaint and fails only on reading a missing
    block; worse, a read-write attach then checkpoints over it, rewriting the file with the
    missing data gone. Called while the attach holds the file lock, so no writer can change
    it meanwhile. A valid file may be shorter than its header's block count: DuckDB trims
    free blocks at the end of the file after writing the header (``Truncate()``), so only
    blocks in use count.
    """
    st = os.stat(path)
    key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
    with _checked_lock:
        if key in _checked:
            return
    try:
        total, free, block_size = con.execute(
            "SELECT total_blocks, free_blocks, block_size FROM pragma_database_size() WHERE database_name = ?", [STORE]
        ).fetchall()[0]
        on_disk = max(0, (st.st_size - _BLOCK_START) // int(block_size))
        if total > on_disk:
            # More blocks missing than the file has free ones: some in use are gone. (With a
            # WAL the counts can move as it is replayed; the exact check below still holds.)
            if total - on_disk > free and not os.path.exists(path + ".wal"):
                raise DamagedStoreError(_missing(path, st.st_size, total, int(block_size)))
            tables = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [STORE]
                ).fetchall()
            ]
            for table in tables:
                ((last,),) = con.execute(
                    f"SELECT COALESCE(max(block_id), -1) FROM pragma_storage_info('{STORE}.\"{table}\"')"
                ).fetchall()
                if last >= on_disk:
                    raise DamagedStoreError(_missing(path, st.st_size, last + 1, int(block_size)))
    except duckdb.Error as exc:
        raise damaged(path, exc) from exc
    with _checked_lock:
        if len(_checked) > 1024:
            _checked.clear()
        _checked.add(key)


def _missing(path: str, size: int, blocks: int, block_size: int) -> str:
    return (
        f"{path} is damaged: it was cut short (it has {size:,} bytes, but its data extends to "
        f"{_BLOCK_START + blocks * block_size:,}). Spyglass left it untouched: restore it from a backup, "
        f"or move it aside and Spyglass starts a new store there."
    )


def _attach(
    path: str, read_only: bool, zstd: bool, onto: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """ATTACH the file as ``store``, onto ``onto`` (kept open on failure) or a new instance.

    A directory, a foreign or SQLite file, or a damaged DuckDB file raise the matching
    :class:`StoreError` before anything is written to it.
    """
    exists = inspect_file(path)
    if read_only and not exists:
        raise _not_found(path)
    con = onto if onto is not None else duckdb.connect(":memory:")
    attached = False
    try:
        con.execute(_NO_EXTENSIONS)
        if zstd:
            # Compressing text is the bottleneck of ingest; zstd is both faster to write and
            # 2-3x smaller than DuckDB's default choice for long strings.
            con.execute("SET force_compression = 'zstd'")
        mode = ", READ_ONLY" if read_only else ""
        con.execute(f"ATTACH '{_quote(path)}' AS {STORE} (TYPE duckdb{mode})")
        attached = True
        if exists:
            _check_blocks(con, path)
        return con
    except (duckdb.Error, StoreError) as exc:
        if attached:
            # Nothing was written: letting go of a damaged file leaves it as it was.
            con.execute(f"DETACH {STORE}")
        if onto is None:
            con.close()
        if isinstance(exc, StoreError):
            raise
        raise _attach_error(path, exc, read_only, exists) from exc


# What DuckDB raises when a file's bytes are wrong (a block past the end, a checksum that does
# not match, metadata that does not deserialize), as opposed to a query it rejects. A checksum
# mismatch comes as a plain duckdb.Error in 2.0, hence the texts.
_DAMAGE_TYPES = (duckdb.IOException, duckdb.FatalException, duckdb.InternalException, duckdb.SerializationException)
_DAMAGE_TEXTS = ("Corrupt database file", "Could not read enough bytes", "does not match stored checksum")


def store_error(path: str, exc: duckdb.Error) -> StoreError:
    """The :class:`StoreError` for a DuckDB error met on an attached store (``Store`` lets no
    ``duckdb.Error`` out): busy, damaged, or a query that failed."""
    if _is_lock_conflict(exc):
        return StoreBusy(f"{path} is in use by another process: {exc}")
    if isinstance(exc, _DAMAGE_TYPES) or any(text in str(exc) for text in _DAMAGE_TEXTS):
        return damaged(path, exc)
    return StoreError(f"a query on {path} failed: {exc}")


def _attach_error(path: str, exc: duckdb.Error, read_only: bool, exists: bool) -> StoreError:
    text = str(exc)
    if _is_lock_conflict(exc):
        return StoreBusy(f"{path} is in use by another process: {exc}")
    if "not a valid DuckDB database" in text or "Invalid Input Error: The file" in text:
        return ForeignStoreError(
            f"{path} exists but is not a DuckDB database, so not a Spyglass store; it was left untouched. ({exc})"
        )
    if read_only and "does not exist" in text:
        return _not_found(path)
    if exists and any(damage in text for damage in _DAMAGE_TEXTS):
        return damaged(path, exc)
    return StoreError(f"cannot open {path}: {exc}")


def _quote(path: str) -> str:
    return path.replace("'", "''")


def try_open_write(
    path: str, zstd: bool = True, onto: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection | None:
    """The write lock if it is free right now, else ``None``; never waits. With ``onto``, the
    file is attached to that connection (release it with :func:`release`)."""
    inspect_file(path)  # a directory or a foreign file: refused before making its parent
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        return _attach(path, read_only=False, zstd=zstd, onto=onto)
    except StoreBusy:
        return None


def open_write(
    path: str, timeout: float, zstd: bool = True, onto: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection | None:
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
    if not inspect_file(path):
        raise _not_found(path)

    def attempt() -> duckdb.DuckDBPyConnection | None:
        try:
            return _attach(path, read_only=True, zstd=False, onto=onto)
        except StoreBusy:
            return None

    con = _retry(attempt, timeout)
    if con is None:
        raise StoreBusy(
            f"{path} stayed locked by another process for {timeout:.0f} s; a process holding it "
            f"read-write for long is not a Spyglass writer (they hold it for one batch)"
        )
    return con


def _retry(attempt, timeout: float):
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        con = attempt()
        if con is not None or time.monotonic() >= deadline:
            return con
        # Jittered exponential backoff so that N waiting processes do not retry in lockstep.
        time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.1)
