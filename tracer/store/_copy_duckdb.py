"""The SQL of ``spyglass copy`` (``_copy.py``) on a DuckDB file.

Reads go through ``Store.connect()``: ``spans``, ``events``, ``documents`` and ``traces`` are
views that include the spool not ingested yet, so a span spooled by a busy destination counts
as present. What the spool never holds (meta, evaluations written later, annotations,
dropped_spans) is read from the file itself (``store.``). Writes take the write lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from ._connect import STORE, StoreBusy, open_write, store_error
from ._copy import SPAN_NAMES, RowTable
from ._schema import migrate
from .reader import Store

_JSON = {"attributes", "resource", "details", "metadata"}


def _column(name: str) -> str:
    """A column as read: JSON as text, whichever DuckDB version (some give JSON typed)."""
    return f'"{name}"::VARCHAR AS "{name}"' if name in _JSON else f'"{name}"'


_SPANS = ", ".join(_column(name) for name in SPAN_NAMES)


class DuckDBSide:
    def meta(self, con: duckdb.DuckDBPyConnection, key: str) -> str | None:
        row = con.execute(f"SELECT value FROM {STORE}.spyglass_meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def count_spans(self, con: duckdb.DuckDBPyConnection, after: int) -> int:
        return int(con.execute("SELECT count(*) FROM spans WHERE seq > ?", [after]).fetchall()[0][0])

    def stable_seq(self, con: duckdb.DuckDBPyConnection) -> int:
        # Spans still in the spool are numbered after the file's for this read only.
        return int(con.execute(f"SELECT COALESCE(max(seq), 0) FROM {STORE}.spans").fetchall()[0][0])

    def read_spans(self, con: duckdb.DuckDBPyConnection, after: int, limit: int) -> list[tuple[Any, ...]]:
        return con.execute(f"SELECT {_SPANS} FROM spans WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]).fetchall()

    # A chunk's rows by their seq range (zone maps skip the rest); trace ids are not needed.
    def read_events(
        self, con: duckdb.DuckDBPyConnection, trace_ids: list[str], first: int, last: int
    ) -> list[tuple[Any, ...]]:
        return con.execute(
            "SELECT seq, epoch_us(time), name, attributes::VARCHAR FROM events WHERE seq BETWEEN ? AND ? "
            "ORDER BY seq, position",
            [first, last],
        ).fetchall()

    def read_documents(
        self, con: duckdb.DuckDBPyConnection, trace_ids: list[str], first: int, last: int
    ) -> list[tuple[Any, ...]]:
        return con.execute(
            "SELECT seq, document_id, content, score, metadata::VARCHAR FROM documents WHERE seq BETWEEN ? AND ? "
            "ORDER BY seq, position",
            [first, last],
        ).fetchall()

    def existing_spans(self, con: duckdb.DuckDBPyConnection, trace_ids: list[str]) -> set[tuple[str, str]]:
        # Traces first (a small table): a fresh copy finds none and scans no span.
        found = [
            r[0]
            for r in con.execute("SELECT trace_id FROM traces WHERE list_contains(?, trace_id)", [trace_ids]).fetchall()
        ]
        if not found:
            return set()
        rows = con.execute("SELECT trace_id, span_id FROM spans WHERE list_contains(?, trace_id)", [found]).fetchall()
        return {(r[0], r[1]) for r in rows}

    def read_rows(self, con: duckdb.DuckDBPyConnection, table: RowTable) -> list[tuple[Any, ...]]:
        cols = ", ".join(_column(c) for c in table.columns)
        return con.execute(f"SELECT {cols} FROM {STORE}.{table.name} WHERE {table.where}").fetchall()

    @contextmanager
    def writing(self, store: Store, wait: float) -> Iterator[duckdb.DuckDBPyConnection]:
        con = open_write(store.path, wait)
        if con is None:
            raise StoreBusy(f"{store.path} stayed locked by another process for {wait:.0f} s; try again")
        try:
            migrate(con, STORE, store.path)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            raise store_error(store.path, exc) from exc
        finally:
            con.close()

    def insert_missing(self, con: duckdb.DuckDBPyConnection, table: RowTable, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        # One Arrow table for all rows (executemany costs a statement per row).
        con.register("_copied_rows", pa.table({c: pa.array(list(v)) for c, v in zip(table.columns, zip(*rows))}))
        try:
            cols = ", ".join(f'"{c}"' for c in table.columns)
            same = " AND ".join(f'o."{c}" IS NOT DISTINCT FROM n."{c}"' for c in table.key)
            before = con.execute(f"SELECT count(*) FROM {STORE}.{table.name}").fetchall()[0][0]
            con.execute(
                f"INSERT INTO {STORE}.{table.name} ({cols}) SELECT {cols} FROM _copied_rows n "
                f"WHERE NOT EXISTS (SELECT 1 FROM {STORE}.{table.name} o WHERE {same})"
            )
            return int(con.execute(f"SELECT count(*) FROM {STORE}.{table.name}").fetchall()[0][0] - before)
        finally:
            con.unregister("_copied_rows")

    def set_meta(self, con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        con.execute(
            f"INSERT INTO {STORE}.spyglass_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
