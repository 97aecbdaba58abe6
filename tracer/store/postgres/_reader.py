"""The read API on a PostgreSQL store: :class:`tracer.Store`'s methods in PostgreSQL's SQL.

Only the SQL is here. What the rows are shaped into is shared with the DuckDB store
(``reader.assemble_*``), as are the filters (``TraceFilter.where`` with :data:`PG_FILTERS`).

Each thread keeps one connection (in autocommit mode: a read holds no transaction open);
:meth:`PostgresStore.snapshot` runs the reads of a block in one read-only REPEATABLE READ
transaction, so a page's reads agree with each other as on a DuckDB file. The spool on
this host (batches waiting for an unreachable server) is not read: it is shipped to the
server when it is back, and every host has its own (docs/deploy.md).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from .. import _search, _snippets
from .._connect import StoreNotFound
from .._location import display, resolve
from .._schema import StoreError
from ..reader import (
    _DATE_SUFFIX,
    ANNOTATION_LABELS,
    EVALUATION_COLUMNS,
    MAX_TEXT_MATCHES,
    SPAN_SUMMARY_COLUMNS,
    TRACE_COLUMNS,
    AnnotationNotFound,
    FilterSQL,
    Store,
    TraceFilter,
    assemble_previews,
    assemble_trace,
)
from ._schema import migrate, search_vector
from ._writer import PostgresWriter, StoreUnreachable, connect

PG_FILTERS = FilterSQL(
    param="%s",
    in_list="{column} = ANY(%s)",
    contains="{column} @> ARRAY[%s]::text[]",
    has_all="{column} @> %s::text[]",
    joined_matches="array_to_string({column}, %s) ~ %s",
    attribute="(attributes ->> {p})",
    attribute_key=str,
    # A cast that fails would fail the whole query: only what reads as a number is cast.
    as_number=(
        "(SELECT CASE WHEN v ~ '^\\s*-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?\\s*$' THEN v::float8 END "
        "FROM (SELECT {value} AS v) x)"
    ),
    matches="({text} ~ {p})",
    # Byte-order comparisons: they use the text_pattern_ops indexes of migration 6 whatever
    # the database's collation.
    in_range="{column} ~>=~ %s AND {column} ~<~ %s",
    quantile="percentile_cont({q}) WITHIN GROUP (ORDER BY {column})",
)
# A connection idle this long is checked before use, so that a server restarted meanwhile
# costs a reconnect rather than an error on the next page.
_IDLE_CHECK_S = 2.0
_INHERITED: list[psycopg.Connection] = []  # a forked child's copies of its parent's connections
_TABLES = ("spans", "events", "documents", "decisions", "traces", "evaluations", "annotations")
_DECISION_COLUMNS = "trace_id, span_id, position, time, name, verdict, action, reason, score, before_text, after_text"
_EVENT_COLUMNS = "trace_id, span_id, position, time, name, attributes"
_DOCUMENT_COLUMNS = "trace_id, span_id, position, document_id, content, score, metadata"
_SNAPSHOT_RE = rf"^(.+){_DATE_SUFFIX}$"


# Spans matching a query, newest first: the indexed ones from span_search's GIN index; those
# of batches not indexed yet by a regular expression per word and prefix (computing their
# vectors on the spot costs ~300 us a span). The ranges are read first: a plan made without
# knowing them scans the whole table. Whole words go through plainto_tsquery as before (its
# parser splits "gpt-4o" as the vectors were split); a prefix is a tsquery prefix, 'batt':*.
_INDEXED_MATCHES = "SELECT seq FROM span_search WHERE search @@ ({tsquery})"
_SPAN_TEXT = (
    "(coalesce(s.name, '') || ' ' || coalesce(s.status_message, '') || ' ' || coalesce(s.attributes::text, ''))"
)


def _word_pattern(word: str) -> str:
    """A whole word, case aside, in PostgreSQL's regular expressions; also right after a JSON
    escape ("\\nHello" holds "hello"), as the index reads it."""
    return _prefix_pattern(word) + r"\M"


def _prefix_pattern(prefix: str) -> str:
    """A word beginning with ``prefix``, as :func:`_word_pattern` reads words."""
    return r"(\m|\\[nrtbf])" + re.escape(prefix)


def _tsquery(query: _search.Query) -> tuple[str, list[str]]:
    """The ``tsquery`` of a query's words and prefixes, and its parameters."""
    parts, params = [], []
    if query.words:
        parts.append("plainto_tsquery('simple', %s)")
        params.append(" ".join(query.words))
    for prefix in query.prefixes:
        # A prefix is \w characters only (``_search.parse``), so it is safe inside quotes.
        parts.append("to_tsquery('simple', %s)")
        params.append(f"'{prefix}':*")
    return " && ".join(parts), params


def _matches(con: psycopg.Connection, text: str, limit: int) -> tuple[str, list[Any]]:
    """SQL giving the seq of the newest ``limit`` spans matching ``text``, and its parameters."""
    query = _search.parse(text)
    ranges = con.execute("SELECT first_seq, last_seq FROM search_batches ORDER BY first_seq").fetchall()
    tsquery, params = _tsquery(query)
    sql = _INDEXED_MATCHES.format(tsquery=tsquery)
    if ranges:
        patterns = [_word_pattern(w) for w in query.words] + [_prefix_pattern(p) for p in query.prefixes]
        between = " OR ".join("s.seq BETWEEN %s AND %s" for _ in ranges)
        each = " AND ".join(f"{_SPAN_TEXT} ~* %s" for _ in patterns)
        sql += f" UNION SELECT s.seq FROM spans s WHERE ({between}) AND {each}"
        params += [v for r in ranges for v in r] + patterns
    return f"SELECT seq FROM ({sql}) hits ORDER BY seq DESC LIMIT %s", [*params, int(limit)]


# Index the oldest pending batch, at most ``%s`` seqs of it (~0.5 s of server time for 1,000
# spans of 1.5 KB), so that a reader's budget is kept: the batch is taken (others indexing at
# once skip it), its first part indexed, and the rest left pending.
_INDEX_SEQS_AT_ONCE = 1_000
_INDEX_BATCHES = f"""
    WITH part AS (
      SELECT ctid, first_seq, least(last_seq, first_seq + %s - 1) AS upto, last_seq FROM search_batches
      ORDER BY first_seq LIMIT 1 FOR UPDATE SKIP LOCKED),
    shrunk AS (
      UPDATE search_batches b SET first_seq = part.upto + 1 FROM part
      WHERE b.ctid = part.ctid AND part.upto < part.last_seq RETURNING 1),
    gone AS (
      DELETE FROM search_batches b USING part WHERE b.ctid = part.ctid AND part.upto >= part.last_seq RETURNING 1),
    added AS (
      INSERT INTO span_search
      SELECT s.seq, {search_vector("s")} FROM part JOIN spans s ON s.seq BETWEEN part.first_seq AND part.upto
      ON CONFLICT (seq) DO NOTHING RETURNING 1)
    SELECT (SELECT count(*) FROM part), (SELECT count(*) FROM added)"""


def _rows(cursor: psycopg.Cursor) -> list[dict[str, Any]]:
    names = [d.name for d in cursor.description or []]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _text(value: str | None) -> str | None:
    """PostgreSQL text holds no NUL character (see ``_writer._without_nul``)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _searchable(text: str) -> bool:
    """Whether a query has a word or a prefix to look for (``_matches`` needs one)."""
    return not _search.parse(text).empty


class PostgresStore(Store):
    """A Spyglass store on a PostgreSQL server. Made by ``tracer.Store("postgresql://...")``.

    The read methods not defined here are :class:`Store`'s own, on this engine's words (``_sql``)."""

    _sql = PG_FILTERS

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self._url = resolve(path)
        self.path = display(self._url)  # never the password
        self.timeout = timeout
        self._local = threading.local()
        self._writer = PostgresWriter(self._url)  # type: ignore[assignment]  # ships this host's spool
        self._ready = False

    # --- connection ------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        con: psycopg.Connection | None = getattr(self._local, "pg", None)
        if con is not None and self._local.pid != os.getpid():
            # A forked child: the parent's connection is never used or closed here (closing it
            # would end the parent's session); the child connects on its own.
            _INHERITED.append(con)
            con = None
        if con is not None and not con.closed and not con.broken:
            if time.monotonic() - self._local.used < _IDLE_CHECK_S:
                self._local.used = time.monotonic()
                return con
            try:  # idle for a while: the server may have restarted meanwhile (one round trip)
                con.execute("SELECT 1")
                self._local.used = time.monotonic()
                return con
            except psycopg.Error:
                con.close()
        con = connect(self._url, timeout=min(self.timeout, 10))
        try:
            if not self._ready:
                # A new database gets the schema (so a viewer started before any app shows an
                # empty store); a foreign or newer one is refused here, unchanged.
                migrate(con, self.path)
                self._ready = True
        except BaseException:
            con.close()
            raise
        self._local.pg = con
        self._local.pid = os.getpid()
        self._local.used = time.monotonic()
        return con

    @contextmanager
    def _guarded(self) -> Iterator[psycopg.Connection]:
        con = self._connection()  # StoreUnreachable, ForeignStoreError... as they are
        try:
            yield con
        except psycopg.Error as exc:
            if con.broken or con.closed:
                self._local.pg = None
                raise StoreUnreachable(f"lost the connection to {self.path}: {exc}") from None
            raise StoreError(f"a query on {self.path} failed: {exc}") from exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside the block sees the same committed data (one REPEATABLE READ,
        read-only transaction on this thread's connection)."""
        if getattr(self._local, "held", False):
            yield
            return
        with self._guarded() as con:
            self._local.held = True
            self._local.memo = {}  # Store._memo: one answer per question inside the transaction
            try:
                con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    yield
                finally:
                    if not con.closed and not con.broken:
                        con.execute("ROLLBACK")
            finally:
                self._local.held = False
                self._local.memo = None

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:  # type: ignore[override]
        """This thread's ``psycopg`` connection to the store (parameters are ``%s``). A
        PostgreSQL error raised inside the block leaves it as a :class:`StoreError`."""
        with self._guarded() as con:
            yield con

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Connection]:
        """Where annotations and evaluations are written: this thread's connection, or one of
        their own inside :meth:`snapshot` (whose transaction is read-only)."""
        if not getattr(self._local, "held", False):
            with self.connect() as con:
                yield con
            return
        con = connect(self._url, timeout=min(self.timeout, 10))
        try:
            yield con
        except psycopg.Error as exc:
            raise StoreError(f"a write to {self.path} failed: {exc}") from exc
        finally:
            con.close()

    def check(self) -> None:
        """Raise now what every read would raise: :class:`StoreUnreachable`, ``ForeignStoreError``,
        ``NewerSchemaError``."""
        with self.connect():
            pass

    # --- trace list ------------------------------------------------------------------
    def _where(self, con: Any, filters: TraceFilter | None) -> tuple[str, list[Any]]:
        flt = filters or TraceFilter()
        where, params = flt.where(PG_FILTERS)
        if flt.text and flt.text.strip():
            if not _searchable(flt.text):
                return "FALSE", []
            where += " AND trace_id = ANY(%s)"
            params.append(self._memo(("text", flt.text), lambda: self._matching_traces(con, str(flt.text))))
        return where, params

    def _matching_traces(self, con: Any, text: str) -> list[str]:
        # The matching trace ids first, as a list: a plan made with the match query inside the
        # trace list's (as a semi-join) was measured at 1 s where the two steps take 6 ms.
        matches, matched = _matches(con, text, MAX_TEXT_MATCHES)
        seqs = [r[0] for r in con.execute(matches, matched).fetchall()]
        ids = {r[0] for r in con.execute("SELECT DISTINCT trace_id FROM spans WHERE seq = ANY(%s)", [seqs])}
        by_span, by_trace = self._id_matches(con, text, MAX_TEXT_MATCHES)
        ids.update(trace_id for _, trace_id in by_span)
        ids.update(by_trace)
        return sorted(ids)

    def trace_previews(self, trace_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(str(t) for t in trace_ids))
        if not ids:
            return {}
        with self.connect() as con:
            found = [r[0] for r in con.execute("SELECT trace_id FROM traces WHERE trace_id = ANY(%s)", [ids])]
            if not found:
                return {}
            spans = _rows(
                con.execute(
                    "SELECT trace_id, span_id, parent_span_id, span_type, start_time, name, llm_parent_span_id, "
                    "usage_counted, CASE WHEN parent_span_id IS NULL OR span_type IN ('llm', 'postprocess') "
                    "THEN attributes END AS attributes FROM spans WHERE trace_id = ANY(%s) ORDER BY start_time, seq",
                    [found],
                )
            )
            decisions = _rows(
                con.execute(
                    f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE trace_id = ANY(%s) ORDER BY seq, position",
                    [found],
                )
            )
            evaluations = _rows(
                con.execute(
                    f"SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE trace_id = ANY(%s) ORDER BY time", [found]
                )
            )
            annotations = _rows(
                con.execute("SELECT * FROM annotations WHERE trace_id = ANY(%s) ORDER BY created_at", [found])
            )
        return assemble_previews(ids, found, spans, decisions, evaluations, annotations)

    def facets(self, max_values: int | None = None) -> dict[str, list[str]]:
        limit = "" if max_values is None else f" LIMIT {int(max_values)}"
        with self.connect() as con:

            def distinct(expr: str) -> list[str]:
                sql = f"SELECT DISTINCT v FROM (SELECT {expr} AS v FROM traces) t WHERE v IS NOT NULL ORDER BY v{limit}"
                return [r[0] for r in con.execute(sql).fetchall()]

            models = (
                "WITH m AS (SELECT DISTINCT unnest(models) AS v FROM traces) SELECT DISTINCT v FROM "
                "(SELECT v FROM m UNION ALL SELECT substring(v FROM %s) FROM m) x "
                f"WHERE v IS NOT NULL AND v <> '' ORDER BY v{limit}"
            )
            return {
                "models": [r[0] for r in con.execute(models, [_SNAPSHOT_RE]).fetchall()],
                "span_types": distinct("unnest(span_types)"),
                "prompt_versions": distinct("prompt_version"),
                "sessions": distinct("session_id"),
                "users": distinct("user_id"),
                "tags": distinct("unnest(tags)"),
                **self._scored_facets(con, limit),
            }

    # --- summary charts ---------------------------------------------------------------
    # --- one trace -------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> dict[str, Any] | None:
        with self.connect() as con:
            found = _rows(con.execute(f"SELECT {', '.join(TRACE_COLUMNS)} FROM traces WHERE trace_id = %s", [trace_id]))
            if not found:
                return None
            one = [trace_id]
            return assemble_trace(
                found[0],
                _rows(
                    con.execute(
                        f"SELECT seq, {', '.join(SPAN_SUMMARY_COLUMNS)}, attributes FROM spans "
                        "WHERE trace_id = %s ORDER BY start_time, seq",
                        one,
                    )
                ),
                # Each document once, where it first appeared, by text (see reader.py).
                _rows(
                    con.execute(
                        f"SELECT {_DOCUMENT_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY CASE WHEN "
                        "coalesce(content, '') = '' THEN document_id END, content ORDER BY seq, position) AS first "
                        "FROM documents WHERE trace_id = %s) d WHERE first = 1 ORDER BY seq, position",
                        one,
                    )
                ),
                _rows(
                    con.execute(
                        f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE trace_id = %s ORDER BY seq, position", one
                    )
                ),
                _rows(
                    con.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE trace_id = %s ORDER BY seq, position", one)
                ),
                _rows(
                    con.execute(f"SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE trace_id = %s ORDER BY time", one)
                ),
                _rows(con.execute("SELECT * FROM annotations WHERE trace_id = %s ORDER BY created_at", one)),
            )

    # --- search ----------------------------------------------------------------------
    def search(self, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Spans whose content has every word of ``text`` (whole words, any case; ``batt*`` a
        word beginning with "batt"), or whose span id begins with ``text`` when it is a hex id
        prefix, newest first: from ``span_search``, and a scan of the batches not indexed yet."""
        cols = ", ".join(SPAN_SUMMARY_COLUMNS)
        with self.connect() as con:
            seqs: set[int] = set()
            if _searchable(text):
                # The seqs first: with the match query inside, the planner walked spans by seq (380 ms on
                # 1M spans). And with the cap the trace list uses, not ``limit``: under a small LIMIT it
                # walks span_search backwards by seq, hoping for early matches (286 ms for a rare word).
                matches, params = _matches(con, text, MAX_TEXT_MATCHES)
                seqs.update(r[0] for r in con.execute(matches, params).fetchall())
            seqs.update(seq for seq, _ in self._id_matches(con, text, int(limit))[0])
            if not seqs:
                return []
            newest = sorted(seqs, reverse=True)[: int(limit)]
            return _rows(con.execute(f"SELECT {cols} FROM spans WHERE seq = ANY(%s) ORDER BY seq DESC", [newest]))

    def build_search_index(self, *, budget_s: float | None = None) -> tuple[int, int]:
        """Index the batches not indexed yet (at most ``budget_s`` seconds of work; other
        readers indexing at once take other batches). Returns ``(indexed up to seq, last seq)``."""
        deadline = None if budget_s is None else time.monotonic() + budget_s
        with self._writing() as con:
            while deadline is None or time.monotonic() < deadline:
                with con.transaction():
                    ((taken, _added),) = con.execute(_INDEX_BATCHES, [_INDEX_SEQS_AT_ONCE]).fetchall()
                if not taken:
                    break
            ((top, pending),) = con.execute(
                "SELECT (SELECT COALESCE(max(seq), 0) FROM spans), (SELECT min(first_seq) FROM search_batches)"
            ).fetchall()
        return (int(top) if pending is None else int(pending) - 1), int(top)

    def search_snippets(self, trace_ids: Sequence[str], text: str) -> dict[str, _snippets.Snippet]:
        query = _search.parse(text)
        ids = list(dict.fromkeys(str(t) for t in trace_ids))
        if not ids or (query.empty and query.id_prefix is None):
            return {}
        # The matching spans of the page's traces (every span, with an id prefix: it may be the one named).
        patterns = (
            []
            if query.id_prefix is not None
            else [_word_pattern(w) for w in query.words] + [_prefix_pattern(p) for p in query.prefixes]
        )
        verify = " AND ".join(f"{_SPAN_TEXT} ~* %s" for _ in patterns) or "TRUE"
        with self.connect() as con:
            spans = _rows(
                con.execute(
                    "SELECT s.trace_id, s.span_id, s.name, s.span_type, s.status_message, s.attributes::text AS attributes "
                    f"FROM spans s WHERE s.trace_id = ANY(%s) AND {verify} ORDER BY s.start_time, s.seq",
                    [ids, *patterns],
                )
            )
        return _snippets.of_traces(query, ids, spans)

    # --- housekeeping ----------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self.connect() as con:
            out = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in _TABLES}
            # The DuckDB store's word tables; here span_search (a tsvector per span) does their work.
            out["search_terms"] = out["search_words"] = 0
            out["dropped_spans"] = int(
                con.execute("SELECT COALESCE(sum(count), 0) FROM dropped_spans").fetchall()[0][0]
            )
            return out

    # --- what users add ---------------------------------------------------------------
    def annotate(
        self, trace_id: str, label: str, note: str = "", *, span_id: str | None = None, author: str | None = None
    ) -> str:
        if label not in ANNOTATION_LABELS:
            raise ValueError(f"label must be one of {', '.join(ANNOTATION_LABELS)}, not {label!r}")
        annotation_id = uuid.uuid4().hex
        with self._writing() as con:
            con.execute(
                "INSERT INTO annotations VALUES (%s, %s, %s, %s, %s, %s, now() AT TIME ZONE 'UTC')",
                [annotation_id, trace_id, span_id, label, _text(note), _text(author)],
            )
        return annotation_id

    def update_annotation(self, annotation_id: str, *, label: str | None = None, note: str | None = None) -> None:
        if label is None and note is None:
            raise ValueError("give a label or a note to change")
        if label is not None and label not in ANNOTATION_LABELS:
            raise ValueError(f"label must be one of {', '.join(ANNOTATION_LABELS)}, not {label!r}")
        sets = [f"{column} = %s" for column, value in (("label", label), ("note", note)) if value is not None]
        values = [_text(value) for value in (label, note) if value is not None]
        with self._writing() as con:
            changed = con.execute(
                f"UPDATE annotations SET {', '.join(sets)} WHERE id = %s", [*values, annotation_id]
            ).rowcount
        if not changed:
            raise AnnotationNotFound(f"no annotation {annotation_id!r} in {self.path} (deleted meanwhile?)")

    def delete_annotation(self, annotation_id: str) -> bool:
        with self._writing() as con:
            return con.execute("DELETE FROM annotations WHERE id = %s", [annotation_id]).rowcount > 0

    def add_evaluations(self, rows: Sequence[dict[str, Any]], *, source: str = "check") -> int:
        values = [
            [
                r["trace_id"],
                r["span_id"],
                r.get("name", "grounding"),
                r.get("score"),
                _text(r.get("label")),
                _text(r.get("explanation")),
                json.dumps(r.get("details"), default=str).replace("\\u0000", "\\ufffd"),
                source,
            ]
            for r in rows
        ]
        if values:
            with self._writing() as con, con.transaction():
                con.cursor().executemany(
                    "INSERT INTO evaluations VALUES (%s, %s, NULL, now() AT TIME ZONE 'UTC', %s, %s, %s, %s, %s, %s)",
                    values,
                )
        return len(values)

    def ingest_pending(self, timeout: float = 10.0) -> bool:
        """Ship the batches this host spooled while the server was unreachable. True when none is left."""
        return self._writer.drain(timeout)


__all__ = ["PG_FILTERS", "PostgresStore", "StoreNotFound"]
