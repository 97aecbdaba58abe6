"""``spyglass demo``: write a realistic set of traces into a demo store, then open the viewer.

Each run starts the demo store afresh, which is only safe while the demo wrote everything in
it: a store holding annotations, other apps' traces or later evaluation results is left as it
is unless the caller says ``force`` (``spyglass demo --force``, or yes when asked).
"""

from __future__ import annotations

import os

import tracer
from tracer.store import Store, StoreError, is_postgres
from tracer.store._connect import STORE, try_open_write
from tracer.store._schema import stored_version

from .rag import QUESTIONS, Question, run

DEFAULT_DEMO_DB = "spyglass-demo.duckdb"
DEMO_SERVICE = "lighthouse-support-demo"
_DEMO_EVALUATION_SOURCE = "export"  # the grounding check run as the demo's traces are written
_CHECK_TIMEOUT_S = 5.0

__all__ = [
    "DEFAULT_DEMO_DB",
    "DEMO_SERVICE",
    "QUESTIONS",
    "DemoStoreHoldsWork",
    "Question",
    "build_demo_store",
    "not_written_by_the_demo",
    "run",
]


class DemoStoreHoldsWork(StoreError):
    """The demo store holds something the demo did not write; it was left untouched."""

    def __init__(self, path: str, held: list[str]) -> None:
        self.path = path
        self.held = held
        self.what = _and(held)  # "2 annotations and 3 traces of other apps"
        super().__init__(
            f"{path} holds {self.what} that `spyglass demo` did not write, so it was left untouched. "
            f"Look at it with `spyglass view --db {path}`, write the demo to another file with "
            f"--db OTHER.duckdb, or pass --force to replace it (deleting them)."
        )


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _many(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def not_written_by_the_demo(path: str) -> list[str]:
    """What the store at ``path`` holds that the demo did not write, as phrases ("2 annotations",
    "3 traces of other apps"); empty when replacing it loses nothing. Raises the store's own
    errors (a foreign, damaged, newer or busy file)."""
    store = Store(path, timeout=_CHECK_TIMEOUT_S)
    with store.connect() as con:  # spans still in the spool files count too: they are read the same way
        ((annotations,),) = con.execute("SELECT count(*) FROM annotations").fetchall()
        ((traces,),) = con.execute(
            "SELECT count(*) FROM traces WHERE service_name IS DISTINCT FROM ?", [DEMO_SERVICE]
        ).fetchall()
        ((evaluations,),) = con.execute(
            "SELECT count(*) FROM evaluations WHERE source IS DISTINCT FROM ?", [_DEMO_EVALUATION_SOURCE]
        ).fetchall()
    held = []
    if annotations:
        held.append(_many(annotations, "annotation"))
    if traces:
        held.append(_many(traces, "trace") + " of other apps")
    if evaluations:
        held.append(_many(evaluations, "evaluation result") + " added later (`spyglass check`...)")
    return held


def _reset(path: str, *, force: bool) -> None:
    """Start from an empty demo store; never delete a file that is not a Spyglass store, nor,
    unless ``force``, one holding what the demo did not write."""
    if not os.path.exists(path):
        return
    if not force:
        held = not_written_by_the_demo(path)
        if held:
            raise DemoStoreHoldsWork(path, held)
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


def build_demo_store(path: str = DEFAULT_DEMO_DB, *, echo: bool = True, force: bool = False) -> str:
    """Write the demo's traces into a fresh store at ``path``; returns its absolute path.

    Raises :class:`DemoStoreHoldsWork` when the store there holds annotations, other apps'
    traces or evaluation results added later, unless ``force``; a file that is not a
    Spyglass store is refused even then."""
    if is_postgres(path):
        # The demo replaces its store each run: never a team's database.
        raise StoreError(
            "`spyglass demo` writes a DuckDB file of its own; give it --db FILE.duckdb, not a PostgreSQL URL "
            "(copy the demo to a server afterwards with `spyglass copy`)"
        )
    path = os.path.abspath(path)
    _reset(path, force=force)
    tracer.configure(db=path, service_name=DEMO_SERVICE)
    run(echo=echo)
    tracer.flush()
    return path
