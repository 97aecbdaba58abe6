"""The SQL of ``spyglass copy`` (``tracer/store/_copy.py``) on a PostgreSQL store.

``con`` is the store's psycopg connection (``Store.connect()``: autocommit, JSON read as
text). A chunk's events and documents are found by trace id (indexed) within its seq range.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg

from .._copy import SPAN_NAMES, RowTable
from ..reader import Store
from ._reader import PostgresStore

_SPANS = ", ".join(SPAN_NAMES)
# A timestamp's microseconds since the epoch, exactly on every version (extract(epoch) is a
# double before PostgreSQL 14).
_TIME_US = (
    "(extract(epoch FROM date_trunc('second', time))::bigint * 1000000 "
    "+ extract(microseconds FROM time)::bigint %% 1000000)"
)


def _no_nul(value: Any) -> Any:
    """PostgreSQL text holds no NUL, jsonb no ``\\u0000`` (as the writer's ``_without_nul``)."""
    if isinstance(value, str) and ("\x00" in value or "\\u0000" in value):
        return value.replace("\x00", "\ufffd").replace("\\u0000", "\\ufffd")
    return value


class PostgresSide:
    def meta(self, con: psycopg.Connection, key: str) -> str | None:
        row = con.execute("SELECT value FROM spyglass_meta WHERE key = %s", [key]).fetchone()
        return None if row is None else str(row[0])

    def count_spans(self, con: psycopg.Connection, after: int) -> int:
        return int(con.execute("SELECT count(*) FROM spans WHERE seq > %s", [after]).fetchall()[0][0])

    def stable_seq(self, con: psycopg.Connection) -> int:
        return int(con.execute("SELECT COALESCE(max(seq), 0) FROM spans").fetchall()[0][0])

    def read_spans(self, con: psycopg.Connection, after: int, limit: int) -> list[tuple[Any, ...]]:
        return con.execute(
            f"SELECT {_SPANS} FROM spans WHERE seq > %s ORDER BY seq LIMIT %s", [after, limit]
        ).fetchall()

    def read_events(
        self, con: psycopg.Connection, trace_ids: list[str], first: int, last: int
    ) -> list[tuple[Any, ...]]:
        return con.execute(
            f"SELECT seq, {_TIME_US}, name, attributes FROM events "
            "WHERE trace_id = ANY(%s) AND seq BETWEEN %s AND %s ORDER BY seq, position",
            [trace_ids, first, last],
        ).fetchall()

    def read_documents(
        self, con: psycopg.Connection, trace_ids: list[str], first: int, last: int
    ) -> list[tuple[Any, ...]]:
        return con.execute(
            "SELECT seq, document_id, content, score, metadata FROM documents "
            "WHERE trace_id = ANY(%s) AND seq BETWEEN %s AND %s ORDER BY seq, position",
            [trace_ids, first, last],
        ).fetchall()

    def existing_spans(self, con: psycopg.Connection, trace_ids: list[str]) -> set[tuple[str, str]]:
        rows = con.execute("SELECT trace_id, span_id FROM spans WHERE trace_id = ANY(%s)", [trace_ids]).fetchall()
        return {(r[0], r[1]) for r in rows}

    def read_rows(self, con: psycopg.Connection, table: RowTable) -> list[tuple[Any, ...]]:
        cols = ", ".join(f'"{c}"' for c in table.columns)
        return con.execute(f"SELECT {cols} FROM {table.name} WHERE {table.where}").fetchall()

    @contextmanager
    def writing(self, store: Store, wait: float) -> Iterator[psycopg.Connection]:
        with cast(PostgresStore, store).connect() as con, con.transaction():
            yield con

    def insert_missing(self, con: psycopg.Connection, table: RowTable, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        types: dict[str, str] = dict(
            con.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table.name],
            ).fetchall()
        )
        # One statement: each column as one array parameter, unnested into rows.
        cols = ", ".join(f'"{c}"' for c in table.columns)
        arrays = ", ".join(f"%s::{types[c]}[]" for c in table.columns)
        same = " AND ".join(f'o."{c}" IS NOT DISTINCT FROM n."{c}"' for c in table.key)
        values = [[_no_nul(v) for v in column] for column in zip(*rows)]
        cur = con.execute(
            f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM unnest({arrays}) AS n({cols}) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} o WHERE {same})",
            values,
        )
        return max(cur.rowcount, 0)

    def set_meta(self, con: psycopg.Connection, key: str, value: str) -> None:
        con.execute(
            "INSERT INTO spyglass_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [key, value],
        )
