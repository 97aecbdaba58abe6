"""``spyglass copy``: move a store between a DuckDB file and a PostgreSQL server (either way,
or file to file), resumable, and never storing a span twice.

Copying is re-ingesting. The source's spans are read in ``seq`` order, a chunk at a time, and
each chunk is turned back into the staging batch the exporter makes (``_rows.STAGING_SCHEMA``:
the span columns as stored, plus ``_events`` and ``_documents`` as JSON lists) and written with
the destination's own writer. So documents, decisions, evaluations from events and trace
summaries are derived by the destination exactly as for live spans; only what is not derived
from spans is copied as rows: evaluations written later (``seq IS NULL``: ``spyglass check``),
annotations and ``dropped_spans``.

No duplicates: before a chunk is written, its spans already in the destination (by
``(trace_id, span_id)``) are left out, and rows are inserted only where no equal row is there.
Resumable: after each chunk the destination's ``spyglass_meta`` records how far the copy got
(``copied_from:<source>``); a rerun starts there, and the dedupe covers a chunk cut midway.

The SQL of each engine is in its own module (``_copy_duckdb.py``, ``postgres/_copy.py``),
behind :class:`Side`; everything here is engine-independent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from ._location import display, is_postgres, resolve
from ._rows import STAGING_SCHEMA
from ._schema import SPAN_COLUMNS, StoreError, StoreUnreachable
from .reader import Store

#: Spans read, rebuilt and written at a time.
CHUNK_SPANS = 5_000
# Rows (evaluations, annotations, dropped_spans) inserted per statement.
_ROWS_AT_ONCE = 10_000
#: What a span's ``seq`` column is read as: every column of ``spans``, in order, ``seq`` first.
SPAN_NAMES = [name for name, _ in SPAN_COLUMNS]


@dataclass(frozen=True)
class RowTable:
    """A table copied as rows, not derived from spans: its columns, the columns that say two
    rows are the same one, and which of its rows are copied."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    where: str = "TRUE"


ROW_TABLES = (
    # Evaluations with a seq come from span events: the destination derives them again.
    RowTable(
        "evaluations",
        ("trace_id", "span_id", "time", "name", "score", "label", "explanation", "details", "source"),
        ("trace_id", "span_id", "name", "time", "source"),
        "seq IS NULL",
    ),
    RowTable("annotations", ("id", "trace_id", "span_id", "label", "note", "author", "created_at"), ("id",)),
    RowTable(
        "dropped_spans",
        ("time", "pid", "host", "count", "reason"),
        ("time", "pid", "host", "count", "reason"),
    ),
)


class Side(Protocol):
    """One engine's SQL for a copy. ``con`` is what ``Store.connect()`` gives on that engine;
    a writing connection is :meth:`writing`'s, inside one transaction."""

    def meta(self, con: Any, key: str) -> str | None:
        """A value of ``spyglass_meta``."""

    def count_spans(self, con: Any, after: int) -> int:
        """How many spans have a seq above ``after``."""

    def stable_seq(self, con: Any) -> int:
        """The highest seq whose span keeps it (a DuckDB file's spans still in its spool get
        theirs when ingested): how far progress may be recorded."""

    def read_spans(self, con: Any, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` spans with a seq above ``after``, in seq order, as :data:`SPAN_NAMES`
        (JSON columns as text)."""

    def read_events(self, con: Any, trace_ids: list[str], first: int, last: int) -> list[tuple[Any, ...]]:
        """``(seq, time_us, name, attributes)`` of the events of the spans of ``trace_ids`` with a
        seq in ``[first, last]``, by seq and position (attributes as JSON text)."""

    def read_documents(self, con: Any, trace_ids: list[str], first: int, last: int) -> list[tuple[Any, ...]]:
        """``(seq, document_id, content, score, metadata)`` likewise (metadata as JSON text)."""

    def existing_spans(self, con: Any, trace_ids: list[str]) -> set[tuple[str, str]]:
        """``(trace_id, span_id)`` of the stored spans of ``trace_ids``."""

    def read_rows(self, con: Any, table: RowTable) -> list[tuple[Any, ...]]:
        """The rows of ``table`` to copy, as its columns (JSON as text)."""

    def writing(self, store: Store, wait: float) -> AbstractContextManager[Any]:
        """A connection in a transaction that commits at the end of the block, waiting up to
        ``wait`` s for a DuckDB file's write lock (``StoreBusy`` after)."""

    def insert_missing(self, con: Any, table: RowTable, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert the ``rows`` that no stored row equals on ``table.key``; returns how many."""

    def set_meta(self, con: Any, key: str, value: str) -> None:
        """Insert or replace a value of ``spyglass_meta``."""


def side_for(db: str) -> Side:
    if is_postgres(db):
        from .postgres._copy import PostgresSide  # psycopg: only for a server store

        return PostgresSide()
    from ._copy_duckdb import DuckDBSide

    return DuckDBSide()


class CopyInterrupted(StoreUnreachable):
    """The destination (or the source) became unreachable partway; a rerun resumes."""


@dataclass
class CopyResult:
    """What a copy did (``spans_*`` count source spans read in this run)."""

    source: str  # display forms: never a password
    destination: str
    resumed_after: int = 0  # the source seq the run started after (0: from the start)
    spans_read: int = 0
    spans_copied: int = 0  # stored in the destination
    spans_present: int = 0  # already there, left out
    spans_spooled: int = 0  # in the destination's spool (a DuckDB file busy) when written
    spans_dropped: int = 0  # refused by the destination
    rows_added: dict[str, int] | None = None  # per table of ROW_TABLES
    complete: bool = True  # nothing left in the destination's spool

    @property
    def ok(self) -> bool:
        return self.complete and not self.spans_dropped


def progress_key(source_url: str, created_at: str | None) -> str:
    """The ``spyglass_meta`` key of a copy's progress: the source's place and its creation
    time, so that a store made again at the same place is copied from its start."""
    return f"copied_from:{display(source_url)}#{created_at or '?'}"


def copy_store(
    source: str,
    destination: str,
    *,
    chunk: int = CHUNK_SPANS,
    restart: bool = False,
    drain_timeout: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> CopyResult:
    """Copy every span and every row not derived from spans of ``source`` into ``destination``
    (each a DuckDB file path or a PostgreSQL URL). ``restart``: ignore the recorded progress
    and look at every source span again (those already there are still left out).

    Raises :class:`StoreError`: :class:`CopyInterrupted` when a server stops answering midway
    (the message says where; run it again to resume)."""
    from ._exporter import _writer_for

    src_url, dst_url = resolve(source), resolve(destination)
    if src_url == dst_url:
        raise StoreError(f"{display(src_url)} is both the source and the destination of the copy")
    src_side, dst_side = side_for(src_url), side_for(dst_url)
    src_store = Store(src_url)
    with src_store.connect() as con:
        key = progress_key(src_url, src_side.meta(con, "created_at"))
    writer = _writer_for(dst_url)
    result = CopyResult(display(src_url), display(dst_url), rows_added={t.name: 0 for t in ROW_TABLES})
    try:
        writer.validate()  # creates the destination; a foreign, newer or unreachable one raises here
        # An earlier run cut short may have left a chunk in the spool: in before deduping against it.
        writer.drain(drain_timeout)
        dst_store = Store(dst_url)
        _copy_spans(src_store, src_side, dst_store, dst_side, writer, key, chunk, restart, progress, result)
        _copy_rows(src_store, src_side, dst_store, dst_side, result)
        if result.spans_spooled:
            result.complete = writer.drain(drain_timeout)
    finally:
        writer.release()
    return result


def _copy_spans(
    src: Store,
    src_side: Side,
    dst: Store,
    dst_side: Side,
    writer: Any,
    key: str,
    chunk: int,
    restart: bool,
    progress: Callable[[int, int], None] | None,
    result: CopyResult,
) -> None:
    with dst.connect() as con:
        recorded = dst_side.meta(con, key)
    after = 0 if restart or recorded is None else int(recorded)
    result.resumed_after = after
    with src.connect() as con:
        total = src_side.count_spans(con, after)
    while True:
        try:
            with src.connect() as con:
                spans = src_side.read_spans(con, after, chunk)
                if not spans:
                    break
                trace_ids = sorted({s[1] for s in spans})
                first, last = spans[0][0], spans[-1][0]
                events = src_side.read_events(con, trace_ids, first, last)
                documents = src_side.read_documents(con, trace_ids, first, last)
                stable = src_side.stable_seq(con)
            with dst.connect() as con:
                present = dst_side.existing_spans(con, trace_ids)
            batch = staging_table([s for s in spans if (s[1], s[2]) not in present], events, documents)
            outcome = writer.write(batch) if batch.num_rows else None
        except StoreUnreachable as exc:
            raise CopyInterrupted(_stopped(exc, result, after)) from None
        result.spans_read += len(spans)
        result.spans_present += len(spans) - batch.num_rows
        if outcome is not None:
            result.spans_copied += outcome.stored
            result.spans_spooled += outcome.spooled
            result.spans_dropped += sum(outcome.dropped.values())
            if outcome.spooled and is_postgres(writer.path):
                # This host's spool holds the chunk (shipped by the next write to that server,
                # the rerun's first): progress stays before it.
                raise CopyInterrupted(_stopped(None, result, after, f"{writer.path} stopped answering"))
        after = last
        _record(dst, dst_side, key, min(last, stable), wait=0.0)
        if progress is not None:
            progress(result.spans_read, max(total, result.spans_read))
    if progress is not None and result.spans_read == 0:
        progress(0, 0)


def _stopped(exc: BaseException | None, result: CopyResult, after: int, why: str = "") -> str:
    return (
        f"{why or ' '.join(str(exc).split())}; the copy stopped after source seq {after:,} "
        f"({result.spans_copied:,} spans copied in this run). Run the same command again to resume."
    )


def _record(dst: Store, side: Side, key: str, seq: int, wait: float) -> None:
    """Record progress; a DuckDB file busy now is skipped (the next chunk records it, and a
    rerun's dedupe covers what was not recorded)."""
    from ._connect import StoreBusy

    try:
        with side.writing(dst, wait) as con:
            side.set_meta(con, key, str(seq))
    except StoreBusy:
        pass


def _copy_rows(src: Store, src_side: Side, dst: Store, dst_side: Side, result: CopyResult) -> None:
    assert result.rows_added is not None
    for table in ROW_TABLES:
        with src.connect() as con:
            rows = src_side.read_rows(con, table)
        for part in _parts(rows, _ROWS_AT_ONCE):
            with dst_side.writing(dst, dst.timeout) as con:
                result.rows_added[table.name] += dst_side.insert_missing(con, table, part)


def _parts(rows: list[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --- a chunk of stored spans back into a staging batch ---------------------------------------
def staging_table(
    spans: Sequence[tuple[Any, ...]], events: Sequence[tuple[Any, ...]], documents: Sequence[tuple[Any, ...]]
) -> pa.Table:
    """The staging batch (``STAGING_SCHEMA``) that ingest turns into exactly these rows again:
    ``spans`` as :data:`SPAN_NAMES`, ``events`` and ``documents`` as :meth:`Side.read_events`
    and :meth:`Side.read_documents` give them (those of spans not in ``spans`` are ignored)."""
    by_seq_events = _grouped(events, _event_json)
    by_seq_docs = _grouped(documents, _document_json)
    columns: dict[str, list[Any]] = {name: [] for name in STAGING_SCHEMA.names}
    for span in spans:
        for name, value in zip(SPAN_NAMES[1:], span[1:]):
            columns[name].append(value)
        columns["_events"].append(by_seq_events.get(span[0]))
        columns["_documents"].append(by_seq_docs.get(span[0]))
    return pa.Table.from_pydict(columns, schema=STAGING_SCHEMA)


def _grouped(rows: Sequence[tuple[Any, ...]], encode: Callable[[tuple[Any, ...]], str]) -> dict[int, str]:
    """Per seq, the JSON list of its rows (in the order given: position order)."""
    parts: dict[int, list[str]] = {}
    for row in rows:
        parts.setdefault(row[0], []).append(encode(row))
    return {seq: "[" + ",".join(items) + "]" for seq, items in parts.items()}


def _object(fields: Sequence[tuple[str, str | None]]) -> str:
    """A JSON object of already-encoded values; a SQL NULL leaves its key out, so that ingest's
    ``->``/``->>`` read NULL again (a JSON ``null`` would read as the JSON value ``null``)."""
    return "{" + ",".join(f'"{name}":{value}' for name, value in fields if value is not None) + "}"


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(str(value), ensure_ascii=False)


def _event_json(row: tuple[Any, ...]) -> str:
    _, time_us, name, attributes = row
    return _object(
        [("time_us", None if time_us is None else str(int(time_us))), ("name", _text(name)), ("attributes", attributes)]
    )


def _score(value: float | None) -> str | None:
    """A score as ingest reads it (``TRY_CAST(d->>'score' AS DOUBLE)``): a JSON number, or the
    text of a value JSON has no number for (``inf``, ``nan``), which the cast reads back."""
    if value is None:
        return None
    return repr(float(value)) if math.isfinite(value) else json.dumps(str(value))


def _document_json(row: tuple[Any, ...]) -> str:
    _, document_id, content, score, metadata = row
    return _object(
        [("id", _text(document_id)), ("content", _text(content)), ("score", _score(score)), ("metadata", metadata)]
    )
