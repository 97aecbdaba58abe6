"""``spyglass demo``: write a realistic set of traces into a demo store, then open the viewer."""

from __future__ import annotations

import os

import tracer
from tracer.store import StoreError
from tracer.store._connect import STORE, try_open_write
from tracer.store._schema import stored_version

from .rag import QUESTIONS, Question, run

DEFAULT_DEMO_DB = "spyglass-demo.duckdb"

__all__ = ["DEFAULT_DEMO_DB", "QUESTIONS", "Question", "build_demo_store", "run"]


def _reset(path: str) -> None:
    """Start from an empty demo store; never delete a file that is not a Spyglass store."""
    if not os.path.exists(path):
        return
    con = try_open_write(path)
    if con is None:
        raise StoreError(f"{path} is in use by another process; close it or pass another --db")
    try:
        stored_version(con, STORE, path)  # raises on a foreign or newer file
    finally:
        con.close()
    for suffix in ("", ".wal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def build_demo_store(path: str = DEFAULT_DEMO_DB, *, echo: bool = True) -> str:
    path = os.path.abspath(path)
    _reset(path)
    tracer.configure(db=path, service_name="lighthouse-support-demo")
    run(echo=echo)
    tracer.flush()
    return path
