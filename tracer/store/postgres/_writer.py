"""Writing batches into a PostgreSQL store, on the exporter's thread, never blocking the app.

A batch's rows are derived exactly as for a DuckDB file, by the same SQL (``_ingest.py``),
in an empty in-memory DuckDB catalog; then every derived table is sent with ``COPY`` and
the trace summaries are merged with ``INSERT ... ON CONFLICT``, all in one transaction. So
there is one definition of how documents, decisions, evaluations and traces come from spans.

Many writers need no lock dance: PostgreSQL takes concurrent transactions, ``seq`` numbers
come from a sequence, and a trace's summary row is merged under its row lock.

Outage (docs/reliability.md): when the server cannot be reached, batches go to a bounded
spool on this host (``SPYGLASS_SPOOL_MAX_MB``, default 1024; see ``_location.spool_base``) and
attempts back off (0.5 s doubling to 30 s), so a dead server costs one failed connect per
interval, not one per batch. The next write that reaches the server ships the spool in chunks
(claimed file by file: other processes of the host ship the same folder). Beyond the bound,
batches are dropped and counted (``spool full``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg.types.string import TextLoader

from ..._forklock import ForkLock
from ..._outcome import SPOOL_FULL, Outcome
from .. import _spool
from .._ingest import ingest_batch
from .._location import display
from .._rows import STAGING_SCHEMA, conform
from .._schema import SPAN_COLUMNS, StoreError, StoreUnreachable
from .._schema import migrate as migrate_staging
from .._writer import REFUSED, split_rejected
from .._writer import rejects_rows as duckdb_rejects_rows
from ._schema import migrate

logger = logging.getLogger("spyglass")

REJECTED = "rejected by PostgreSQL"
_CHUNK_BYTES = 16 * 1024 * 1024  # spool bytes (compressed Parquet) shipped per transaction
_DEFAULT_SPOOL_MAX_MB = 1024
_BACKOFF_FIRST, _BACKOFF_MAX = 0.5, 30.0
# libpq's smallest connect timeout is 2 s; a refused connection fails at once anyway.
CONNECT_TIMEOUT_S = 2
# The tables a batch adds rows to, in the order they are copied, with their columns.
_COPIED = ("spans", "events", "documents", "decisions", "evaluations")
_SPAN_NAMES = [name for name, _ in SPAN_COLUMNS]
_JSON_COLUMNS = ("attributes", "resource", "_events", "_documents")
# What the derivation runs on: DuckDB instances a forked child inherited are never used there.
_ABANDONED: list[Any] = []


def connect(url: str, *, timeout: float = CONNECT_TIMEOUT_S, autocommit: bool = True) -> psycopg.Connection:
    """A connection to ``url`` (libpq reads the ``PG*`` variables for what the URL leaves out),
    with JSON columns read as text, as the DuckDB store gives them. Raises :class:`StoreUnreachable`
    with the password kept out of the message."""
    try:
        con = psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=max(2, int(timeout)),
            application_name="spyglass",
        )
    except psycopg.Error as exc:
        raise StoreUnreachable(f"cannot connect to the PostgreSQL store {display(url)}: {_first_line(exc)}") from None
    con.adapters.register_loader("jsonb", TextLoader)
    con.adapters.register_loader("json", TextLoader)
    return con


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def rejects_rows(exc: BaseException) -> bool:
    """The server (or the derivation) refused the *content* of a batch, not the connection:
    a value it cannot store, a row over a limit (an index entry, a tsvector)."""
    return duckdb_rejects_rows(exc) or isinstance(
        exc, (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded)
    )


def _without_nul(table: pa.Table) -> pa.Table:
    """PostgreSQL text holds no NUL character and ``jsonb`` no ``\\u0000`` escape: both
    become U+FFFD (docs/schema.md, "PostgreSQL"); DuckDB keeps them."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_string(field.type):
            needle, fix = ("\\u0000", "\\ufffd") if field.name in _JSON_COLUMNS else ("\x00", "\ufffd")
            if pc.any(pc.match_substring(column, needle)).as_py():
                column = pc.replace_substring(column, needle, fix)
        columns.append(column)
    return pa.table(columns, schema=table.schema)


def _pg_array(column: pa.ChunkedArray) -> pa.Array:
    """A list column as PostgreSQL array literals (``{"a","b\\"c"}``), for CSV."""
    col = column.combine_chunks()
    offsets = pc.subtract(col.offsets, col.offsets[0])
    flat = pc.list_flatten(col)
    escaped = pc.replace_substring(pc.replace_substring(flat, "\\", "\\\\"), '"', '\\"')
    quoted = pc.if_else(pc.is_null(flat), pa.scalar("NULL"), pc.binary_join_element_wise('"', escaped, '"', ""))
    lists = pa.ListArray.from_arrays(offsets, quoted, mask=pc.is_null(col))
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")


def _csv(table: pa.Table) -> bytes:
    """``table`` as CSV for ``COPY ... (FORMAT csv)``: Arrow's C++ writer, no Python per row.
    A NULL is an empty field and an empty string a quoted one, as PostgreSQL reads CSV."""
    columns = [_pg_array(c) if pa.types.is_list(c.type) else c for c in table.columns]
    out = pa.BufferOutputStream()
    pa_csv.write_csv(
        pa.table(columns, names=table.column_names),
        out,
        write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return out.getvalue().to_pybytes()


class PostgresWriter:
    """The write side of a PostgreSQL store: :class:`tracer.store._writer.StoreWriter`'s contract."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.path = display(url)  # what messages and the spool are named after: no password
        self._lock = ForkLock()
        self._con: psycopg.Connection | None = None
        self._staging: duckdb.DuckDBPyConnection | None = None
        self._dropped_unrecorded: dict[str, int] = {}
        self.spool_bytes = _CHUNK_BYTES
        self.spool_seconds = 2.0
        self.drain_hopeless = False
        self.spooled_batches = 0
        self.direct_batches = 0
        self.spool_max_bytes = _spool_max_bytes()
        self._down_until = 0.0
        self._backoff = _BACKOFF_FIRST
        self._outage_logged = False
        self._committed = False

    # --- connection ------------------------------------------------------------------------
    def _connection(self, timeout: float = CONNECT_TIMEOUT_S) -> psycopg.Connection:
        if self._con is not None and not self._con.closed:
            return self._con
        con = connect(self._url, timeout=timeout)
        try:
            migrate(con, self.path)  # refuses a foreign or newer database before any write
            con.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _spyglass_traces (LIKE traces INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
        except BaseException:
            con.close()
            raise
        self._con = con
        if self._outage_logged:
            logger.warning("spyglass: the PostgreSQL store %s is reachable again; shipping the spool", self.path)
        self._outage_logged = False
        self._backoff = _BACKOFF_FIRST
        return con

    def _disconnect(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            except psycopg.Error:
                pass  # already broken: nothing left to close
        self._con = None

    def _lost(self, exc: BaseException) -> None:
        """The server is unreachable: back off, and say so once per outage."""
        self._disconnect()
        self._down_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
        if not self._outage_logged:
            self._outage_logged = True
            logger.warning(
                "spyglass: %s; batches are spooled to %s (up to %d MB) and shipped when it is back",
                _first_line(exc),
                _spool.spool_dir(self.path),
                self.spool_max_bytes // 2**20,
            )

    def _staging_db(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with the store's schema, where each batch's rows are derived."""
        if self._staging is None:
            con = duckdb.connect(":memory:")
            con.execute("ATTACH ':memory:' AS staging")
            migrate_staging(con, "staging", "(staging)")
            self._staging = con
        return self._staging

    def validate(self, timeout: float = 5.0) -> bool:
        """Create or migrate the store now. Raises ``ForeignStoreError`` / ``NewerSchemaError``
        for a database that is not ours, :class:`StoreUnreachable` when the server cannot be reached."""
        with self._lock:
            self._connection(timeout=max(timeout, CONNECT_TIMEOUT_S))
            return True

    def record_dropped(self, count: int, reason: str) -> None:
        with self._lock:
            self._dropped_unrecorded[reason] = self._dropped_unrecorded.get(reason, 0) + count

    # --- writing ---------------------------------------------------------------------------
    def write(self, table: pa.Table) -> Outcome:
        """Ship now if the server answers, else spool (bounded). Raises ``REFUSED`` errors for
        a database that is not ours, ``OSError`` when neither it nor the spool can be written."""
        with self._lock:
            if time.monotonic() < self._down_until:
                return self._spool(table)
            try:
                con = self._connection()
            except REFUSED:
                raise
            except StoreUnreachable as exc:
                self._lost(exc)
                return self._spool(table)
            self._committed = False
            try:
                rejected = self._ship(con, table, time.monotonic() + self.spool_seconds, self.spool_bytes)
            except REFUSED:
                raise
            except (psycopg.Error, duckdb.Error, OSError) as exc:
                if con.broken or con.closed:
                    self._lost(exc)
                elif not self._committed:
                    logger.warning("spyglass: writing to %s failed: %s", self.path, _first_line(exc))
                if not self._committed:
                    return self._spool(table)
                rejected = 0  # the batch is in: what failed was later work (the backlog)
            self.direct_batches += 1
            return Outcome(stored=table.num_rows - rejected).drop(REJECTED, rejected)

    def _spool(self, table: pa.Table) -> Outcome:
        if _spool.size(self.path) + table.nbytes // 4 > self.spool_max_bytes:
            return Outcome().drop(SPOOL_FULL, table.num_rows)
        try:
            _spool.write(self.path, table)
        except OSError as exc:
            raise OSError(f"cannot reach {self.path} nor write its spool ({exc})") from exc
        self.spooled_batches += 1
        return Outcome(spooled=table.num_rows)

    def drain(self, timeout: float) -> bool:
        """Ship every spool file present now, within ``timeout`` s. True when all are in."""
        deadline = time.monotonic() + timeout
        self.drain_hopeless = False
        _spool.recover_claims(self.path)
        waiting = set(_spool.pending(self.path))
        if not waiting and not self._dropped_unrecorded:
            return True
        with self._lock:
            try:
                con = self._connection(timeout=max(0.0, deadline - time.monotonic()))
            except (StoreError, OSError) as exc:
                logger.debug("spyglass: cannot ship the spool of %s: %s", self.path, exc)
                self.drain_hopeless = isinstance(exc, REFUSED)
                return False
            try:
                self._ship(con, None, deadline, _CHUNK_BYTES)
            except REFUSED:
                self.drain_hopeless = True
                return False
            except (psycopg.Error, duckdb.Error, OSError) as exc:
                if con.broken or con.closed:
                    self._lost(exc)
                logger.debug("spyglass: could not ship the spool of %s: %s", self.path, exc)
                return False
        return not waiting & set(_spool.pending(self.path))

    def _ship(self, con: psycopg.Connection, table: pa.Table | None, deadline: float, first_bytes: int) -> int:
        """``table`` and spool chunks until ``deadline``; returns how many rows of ``table`` were refused."""
        rejected, more = self._ship_chunk(con, table, first_bytes)
        while more and time.monotonic() < deadline:
            more = self._ship_chunk(con, None, _CHUNK_BYTES)[1]
        _spool.clean_stale_tmp(self.path)
        return rejected

    def _ship_chunk(self, con: psycopg.Connection, table: pa.Table | None, max_bytes: int) -> tuple[int, bool]:
        claimed: list[tuple[str, pa.Table]] = []
        size, more = 0, False
        for path in _spool.pending(self.path) if max_bytes > 0 else []:
            if claimed and size >= max_bytes:
                more = True
                break
            mine = _spool.claim(path)
            if mine is None:
                continue  # another process of this host is shipping it
            try:
                size += os.path.getsize(mine)
                claimed.append((mine, conform(_spool.read(mine))))
            except Exception as exc:  # a damaged file must not block every later batch
                moved = _spool.quarantine(mine)
                logger.error("spyglass: unreadable spool file moved to %s: %s", moved, exc)
        try:
            if claimed:
                names = [_spool.original_name(p) for p, _ in claimed]
                shipped = {r[0] for r in con.execute("SELECT file FROM spool_ingested WHERE file = ANY(%s)", [names])}
                if shipped:  # committed by a writer that died before deleting them
                    _spool.remove([p for p, _ in claimed if _spool.original_name(p) in shipped])
                    claimed = [(p, t) for p, t in claimed if _spool.original_name(p) not in shipped]
            if table is None and not claimed and not self._dropped_unrecorded:
                return 0, more
            rejected = 0
            try:
                self._commit(con, claimed, table)
            except (psycopg.Error, duckdb.Error) as exc:
                if not rejects_rows(exc):
                    raise
                for path, part in claimed:  # each file on its own, then the batch in halves
                    try:
                        self._commit(con, [(path, part)], None)
                    except (psycopg.Error, duckdb.Error) as part_exc:
                        if not rejects_rows(part_exc):
                            raise
                        moved = _spool.quarantine(path)
                        self._count(REJECTED, part.num_rows)
                        logger.error(
                            "spyglass: a spool file %s refused was moved to %s: %s", self.path, moved, part_exc
                        )
                claimed = [(p, t) for p, t in claimed if os.path.exists(p)]  # shipped: removed below
                if table is not None:
                    rejected = split_rejected(lambda part: self._commit(con, [], part), table, rejects_rows)
                    self._committed = True
        except BaseException:
            for path, _ in claimed:
                if os.path.exists(path):
                    _spool.unclaim(path)
            raise
        if claimed:
            _spool.remove([p for p, _ in claimed])
            # Their names were kept only against shipping them twice: they are gone now.
            con.execute(
                "DELETE FROM spool_ingested WHERE file = ANY(%s)", [[_spool.original_name(p) for p, _ in claimed]]
            )
        return rejected, more

    def _count(self, reason: str, n: int) -> None:
        self._dropped_unrecorded[reason] = self._dropped_unrecorded.get(reason, 0) + n

    def _commit(self, con: psycopg.Connection, spooled: list[tuple[str, pa.Table]], table: pa.Table | None) -> None:
        batches = [t for _, t in spooled] + ([table] if table is not None else [])
        with con.transaction():
            if batches:
                self._copy(con, pa.concat_tables(batches) if len(batches) > 1 else batches[0])
            if spooled:
                con.cursor().executemany(
                    "INSERT INTO spool_ingested VALUES (%s, now() AT TIME ZONE 'UTC') ON CONFLICT DO NOTHING",
                    [[_spool.original_name(p)] for p, _ in spooled],
                )
            if self._dropped_unrecorded:
                host, pid = socket.gethostname(), os.getpid()
                con.cursor().executemany(
                    "INSERT INTO dropped_spans (time, pid, host, count, reason) "
                    "VALUES (now() AT TIME ZONE 'UTC', %s, %s, %s, %s)",
                    [[pid, host, n, reason] for reason, n in self._dropped_unrecorded.items()],
                )
        if table is not None:
            self._committed = True
        self._dropped_unrecorded = {}

    def _copy(self, con: psycopg.Connection, table: pa.Table) -> None:
        """Derive the batch's rows in DuckDB, COPY them, merge its trace summaries."""
        table = _without_nul(table.cast(STAGING_SCHEMA))
        n = table.num_rows
        if n == 0:
            return
        seqs = sorted(r[0] for r in con.execute("SELECT nextval('spyglass_seq') FROM generate_series(1, %s)", [n]))
        staging = self._staging_db()
        staging.execute("BEGIN TRANSACTION")
        try:
            spans = ingest_batch(staging, "staging", table, seqs=pa.array(seqs, type=pa.int64()), derive_only=True)
            cur = con.cursor()
            for name in (*_COPIED, "traces"):
                if name == "spans":
                    rows = spans.select(_SPAN_NAMES)
                else:
                    rows = staging.sql(f"SELECT * FROM staging.{name}").arrow()
                    if isinstance(rows, pa.RecordBatchReader):  # DuckDB 1.4+ gives a reader
                        rows = rows.read_all()
                if not rows.num_rows:
                    continue
                target = "_spyglass_traces" if name == "traces" else name
                with cur.copy(f"COPY {target} ({', '.join(rows.column_names)}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(_csv(rows))
            con.execute(_MERGE_TRACES)
            con.execute("INSERT INTO search_batches VALUES (%s, %s)", [seqs[0], seqs[-1]])  # indexed later
        finally:
            staging.execute("ROLLBACK")  # the staging catalog stays empty for the next batch

    def release(self) -> None:
        """Close the connection and the staging DuckDB (the exporter stopped; a later write reconnects)."""
        with self._lock:
            self._disconnect()
            if self._staging is not None:
                self._staging.close()
                self._staging = None

    # --- fork ------------------------------------------------------------------------------
    def before_fork(self) -> None:
        self._lock.before_fork()

    def after_fork_in_parent(self) -> None:
        self._lock.after_fork_in_parent()

    def after_fork(self) -> None:
        """In the child: a lock, a connection and a DuckDB of its own. The parent's are never
        used or closed here (closing a libpq connection would end the parent's session)."""
        self._lock.after_fork_in_child()
        for held in (self._con, self._staging):
            if held is not None:
                _ABANDONED.append(held)
        self._con = None
        self._staging = None
        self._dropped_unrecorded = {}
        self.spooled_batches = 0
        self.direct_batches = 0


def _spool_max_bytes() -> int:
    text = os.environ.get("SPYGLASS_SPOOL_MAX_MB", "").strip()
    try:
        mb = float(text) if text else _DEFAULT_SPOOL_MAX_MB
    except ValueError:
        logger.warning("spyglass: SPYGLASS_SPOOL_MAX_MB=%r is not a number; using %d", text, _DEFAULT_SPOOL_MAX_MB)
        mb = _DEFAULT_SPOOL_MAX_MB
    return int(max(mb, 0) * 2**20)


# The batch's trace summaries merged into those stored: the same rules as the DuckDB store's
# ON CONFLICT in _ingest.py, in PostgreSQL's words. Under the row lock of each trace, so two
# processes adding spans of one trace at once both count.
_MERGE_TRACES = """
INSERT INTO traces SELECT * FROM _spyglass_traces
ON CONFLICT (trace_id) DO UPDATE SET
  root_span_id = COALESCE(EXCLUDED.root_span_id, traces.root_span_id),
  root_name = COALESCE(EXCLUDED.root_name, traces.root_name),
  start_time = least(traces.start_time, EXCLUDED.start_time),
  end_time = greatest(traces.end_time, EXCLUDED.end_time),
  duration_ms = extract(epoch FROM greatest(traces.end_time, EXCLUDED.end_time)
                                   - least(traces.start_time, EXCLUDED.start_time)) * 1000.0,
  status_code = CASE WHEN traces.status_code = 'ERROR' OR EXCLUDED.status_code = 'ERROR' THEN 'ERROR' ELSE 'OK' END,
  span_count = traces.span_count + EXCLUDED.span_count,
  llm_count = traces.llm_count + EXCLUDED.llm_count,
  input_tokens = COALESCE(traces.input_tokens, 0) + COALESCE(EXCLUDED.input_tokens, 0),
  output_tokens = COALESCE(traces.output_tokens, 0) + COALESCE(EXCLUDED.output_tokens, 0),
  cost_usd = CASE WHEN traces.cost_usd IS NULL AND EXCLUDED.cost_usd IS NULL THEN NULL
                  ELSE COALESCE(traces.cost_usd, 0) + COALESCE(EXCLUDED.cost_usd, 0) END,
  models = ARRAY(SELECT DISTINCT unnest(traces.models || EXCLUDED.models) ORDER BY 1),
  span_types = ARRAY(SELECT DISTINCT unnest(traces.span_types || EXCLUDED.span_types) ORDER BY 1),
  session_id = COALESCE(traces.session_id, EXCLUDED.session_id),
  user_id = COALESCE(traces.user_id, EXCLUDED.user_id),
  prompt_version = COALESCE(traces.prompt_version, EXCLUDED.prompt_version),
  tags = ARRAY(SELECT DISTINCT unnest(traces.tags || EXCLUDED.tags) ORDER BY 1),
  error_count = traces.error_count + EXCLUDED.error_count,
  blocked_count = traces.blocked_count + EXCLUDED.blocked_count,
  flagged_count = traces.flagged_count + EXCLUDED.flagged_count,
  service_name = COALESCE(traces.service_name, EXCLUDED.service_name),
  min_seq = least(traces.min_seq, EXCLUDED.min_seq),
  max_seq = greatest(traces.max_seq, EXCLUDED.max_seq),
  modified_count = traces.modified_count + EXCLUDED.modified_count
"""

__all__ = ["REJECTED", "PostgresWriter", "StoreUnreachable", "connect"]
