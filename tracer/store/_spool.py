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

from ._location import spool_base

_counter = itertools.count()
_STALE_TMP_SECONDS = 3600


def spool_dir(store_path: str) -> str:
    """``<store>.spool`` beside a file; on this host for a server (see ``_location.spool_base``)."""
    return spool_base(store_path) + ".spool"


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


# --- shared spools (a server's, on this host): a file is claimed before it is shipped ---------
# Several processes on a host ship the same server's spool, with no lock between them: a
# writer renames a file to a hidden claimed name (atomic: one rename wins) before shipping it,
# and deletes it after the commit that also records its name in ``spool_ingested``.
_CLAIM = ".claim-"


def claim(path: str) -> str | None:
    """Take ``path`` for this process: its new (hidden) name, or ``None`` if another took it."""
    folder, name = os.path.split(path)
    claimed = os.path.join(folder, f".{name}{_CLAIM}{socket.gethostname()}-{os.getpid()}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    return claimed


def unclaim(claimed: str) -> None:
    """Give a claimed file back (shipping it failed): the next writer ships it."""
    folder, name = os.path.split(claimed)
    original = name[1 : name.rindex(_CLAIM)]
    try:
        os.rename(claimed, os.path.join(folder, original))
    except FileNotFoundError:
        pass


def original_name(claimed: str) -> str:
    name = os.path.basename(claimed)
    return name[1 : name.rindex(_CLAIM)] if _CLAIM in name else name


def recover_claims(store_path: str) -> None:
    """Give back the files claimed by processes of this host that died while shipping them."""
    folder = spool_dir(store_path)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    host = socket.gethostname()
    for name in names:
        if _CLAIM not in name or not name.startswith("."):
            continue
        owner = name[name.rindex(_CLAIM) + len(_CLAIM) :]
        owner_host, _, pid = owner.rpartition("-")
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        unclaim(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def size(store_path: str) -> int:
    """Bytes of spool files waiting (claimed ones included)."""
    total = 0
    try:
        entries = list(os.scandir(spool_dir(store_path)))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file():
                total += entry.stat().st_size
        except FileNotFoundError:
            continue
    return total
