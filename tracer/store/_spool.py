"""Spool files: where a process puts a batch when another process holds the store.

Each batch is one Parquet file in ``<store>.spool/``, written under a temporary name and
renamed into place, so a reader never sees half a file. Whoever next holds the write lock
ingests them (and records their names in ``spool_ingested`` in the same transaction, so a
crash between commit and unlink cannot ingest a file twice).
"""

from __future__ import annotations

import itertools
import os
import socket
import time

import pyarrow as pa
import pyarrow.parquet as pq

_counter = itertools.count()
_STALE_TMP_SECONDS = 3600


def spool_dir(store_path: str) -> str:
    return os.path.abspath(store_path) + ".spool"


def write(store_path: str, table: pa.Table) -> str:
    folder = spool_dir(store_path)
    os.makedirs(folder, exist_ok=True)
    name = f"{time.time_ns():020d}-{socket.gethostname()}-{os.getpid()}-{next(_counter)}.parquet"
    final = os.path.join(folder, name)
    tmp = os.path.join(folder, f".{name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, final)  # atomic on POSIX: the file appears whole or not at all
    return final


def pending(store_path: str) -> list[str]:
    """Complete spool files, oldest first (names start with a timestamp)."""
    folder = spool_dir(store_path)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [os.path.join(folder, n) for n in sorted(names) if n.endswith(".parquet") and not n.startswith(".")]


def read(path: str) -> pa.Table:
    return pq.read_table(path)


def quarantine(path: str) -> str:
    """Move an unreadable spool file aside (never delete data we could not read)."""
    folder = os.path.join(os.path.dirname(path), "unreadable")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, os.path.basename(path))
    os.replace(path, target)
    return target


def remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def clean_stale_tmp(store_path: str) -> None:
    """Temporary files left by a writer killed mid-write."""
    folder = spool_dir(store_path)
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    cutoff = time.time() - _STALE_TMP_SECONDS
    for entry in entries:
        try:
            if entry.name.endswith(".tmp") and entry.stat().st_mtime < cutoff:
                remove([entry.path])
        except FileNotFoundError:  # renamed into place by its writer meanwhile
            continue
