"""The store's schema and its migrations.

The schema is a public interface (``docs/schema.md``): users query it with SQL. Every change
is a numbered migration, a small function applied once inside a transaction and recorded
in ``spyglass_migrations``. A file whose ``schema_version`` is newer than this code knows is
refused; a file that is not a Spyglass store is refused and never modified.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import duckdb

APP_ID = "spyglass"
SCHEMA_VERSION = 6

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []


class StoreError(Exception):
    """A store cannot be used; the message says why and what to do."""


class ForeignStoreError(StoreError):
    """The file exists but is not a Spyglass store (another DuckDB database, or not DuckDB)."""


class NewerSchemaError(StoreError):
    """The store was written by a newer Spyglass."""


class StoreUnreachable(StoreError):
    """A PostgreSQL store's server cannot be reached now (down, wrong host, refused credentials)."""


class DamagedStoreError(StoreError):
    """The file is a DuckDB database but cannot be read: truncated, or corrupt."""


def damaged(path: str, exc: BaseException) -> DamagedStoreError:
    """The error for a DuckDB file that failed while being read (``exc`` says where)."""
    return DamagedStoreError(
        f"{path} is a DuckDB file but it is damaged or truncated, so it cannot be read ({exc}). Spyglass left it "
        f"untouched: restore it from a backup, or move it aside and Spyglass starts a new store there."
    )


def migration(version: int, name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((version, name, fn))
        MIGRATIONS.sort(key=lambda m: m[0])
        return fn

    return register


# Columns of ``spans`` in order; the exporter builds Arrow batches with exactly these.
SPAN_COLUMNS: list[tuple[str, str]] = [
    ("seq", "BIGINT"),
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("parent_span_id", "VARCHAR"),
    ("name", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("span_type", "VARCHAR"),
    ("start_time", "TIMESTAMP"),
    ("end_time", "TIMESTAMP"),
    ("duration_ms", "DOUBLE"),
    ("status_code", "VARCHAR"),
    ("status_message", "VARCHAR"),
    ("service_name", "VARCHAR"),
    ("operation", "VARCHAR"),
    ("provider", "VARCHAR"),
    ("model", "VARCHAR"),
    ("input_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"),
    ("cost_usd", "DOUBLE"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("prompt_version", "VARCHAR"),
    ("tags", "VARCHAR[]"),
    ("error_type", "VARCHAR"),
    ("attributes", "JSON"),
    ("resource", "JSON"),
    ("scope", "VARCHAR"),
    # Added by migration 5 (one logical LLM call counted once; see docs/schema.md).
    ("llm_parent_span_id", "VARCHAR"),
    ("usage_counted", "BOOLEAN"),
]
# The columns migration 1 created; later ones are added by their own migration.
_V1_SPAN_COLUMNS = SPAN_COLUMNS[:27]


@migration(1, "initial schema")
def _initial(con: duckdb.DuckDBPyConnection) -> None:
    cols = ",\n  ".join(f"{name} {typ}" for name, typ in _V1_SPAN_COLUMNS)
    con.execute(f"CREATE TABLE spans (\n  {cols}\n)")
    con.execute("""
        CREATE TABLE events (
          trace_id VARCHAR, span_id VARCHAR, seq BIGINT, position INTEGER,
          time TIMESTAMP, name VARCHAR, attributes JSON)""")
    con.execute("""
        CREATE TABLE documents (
          trace_id VARCHAR, span_id VARCHAR, seq BIGINT, position INTEGER,
          document_id VARCHAR, content VARCHAR, score DOUBLE, metadata JSON)""")
    con.execute("""
        CREATE TABLE decisions (
          trace_id VARCHAR, span_id VARCHAR, seq BIGINT, position INTEGER, time TIMESTAMP,
          name VARCHAR, verdict VARCHAR, action VARCHAR, reason VARCHAR, score DOUBLE,
          before_text VARCHAR, after_text VARCHAR)""")
    con.execute("""
        CREATE TABLE traces (
          trace_id VARCHAR PRIMARY KEY, root_span_id VARCHAR, root_name VARCHAR,
          start_time TIMESTAMP, end_time TIMESTAMP, duration_ms DOUBLE, status_code VARCHAR,
          span_count BIGINT, llm_count BIGINT, input_tokens BIGINT, output_tokens BIGINT,
          cost_usd DOUBLE, models VARCHAR[], span_types VARCHAR[], session_id VARCHAR, user_id VARCHAR,
          prompt_version VARCHAR, tags VARCHAR[], error_count BIGINT, blocked_count BIGINT,
          flagged_count BIGINT, service_name VARCHAR, min_seq BIGINT, max_seq BIGINT)""")
    con.execute("CREATE TABLE spool_ingested (file VARCHAR, ingested_at TIMESTAMP)")
    con.execute("CREATE TABLE dropped_spans (time TIMESTAMP, pid INTEGER, host VARCHAR, count BIGINT)")


@migration(2, "full-text search index")
def _search_index(con: duckdb.DuckDBPyConnection) -> None:
    # See _search.py: one row per distinct word per span; term = crc32(word).
    con.execute("CREATE TABLE search_terms (term UINTEGER, seq BIGINT)")
    con.execute("INSERT INTO spyglass_meta VALUES ('search_indexed_seq', '0')")


@migration(3, "evaluations and annotations")
def _evaluations(con: duckdb.DuckDBPyConnection) -> None:
    # evaluations: results about a span (the grounding check...), from gen_ai.evaluation.result
    # events at ingest or written by `spyglass check`. annotations: human labels from the
    # viewer. Neither ever changes a span row.
    con.execute("""
        CREATE TABLE evaluations (
          trace_id VARCHAR, span_id VARCHAR, seq BIGINT, time TIMESTAMP, name VARCHAR,
          score DOUBLE, label VARCHAR, explanation VARCHAR, details JSON, source VARCHAR)""")
    con.execute("""
        CREATE TABLE annotations (
          id VARCHAR, trace_id VARCHAR, span_id VARCHAR, label VARCHAR, note VARCHAR,
          author VARCHAR, created_at TIMESTAMP)""")


@migration(4, "reason of dropped spans")
def _drop_reason(con: duckdb.DuckDBPyConnection) -> None:
    # Why a process lost spans (queue full, unencodable, store refused...): counts alone
    # cannot tell an overload from a bug. Rows written before this version have NULL.
    con.execute("ALTER TABLE dropped_spans ADD COLUMN reason VARCHAR")


@migration(5, "logical LLM calls and post-processing outcome")
def _logical_calls(con: duckdb.DuckDBPyConnection) -> None:
    # A @trace_llm function around an instrumented client is one call: nested LLM spans name
    # the enclosing one, and a span whose nested calls carry the usage does not count its own.
    # Spans stored before this version were not marked: each counts, as it did.
    # Qualified: a reader's temp views of the same names would shadow the tables (and ALTER
    # TABLE refuses a view) when it migrates its in-memory copy.
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"ALTER TABLE {db}.main.spans ADD COLUMN llm_parent_span_id VARCHAR")
    con.execute(f"ALTER TABLE {db}.main.spans ADD COLUMN usage_counted BOOLEAN DEFAULT true")
    # Answers a decision changed (verdict 'modify'), beside blocked_count: what the user got.
    con.execute(f"ALTER TABLE {db}.main.traces ADD COLUMN modified_count BIGINT DEFAULT 0")
    con.execute(f"""UPDATE {db}.main.traces SET modified_count = (SELECT count(*) FROM {db}.main.decisions d
                    WHERE d.trace_id = traces.trace_id AND d.verdict = 'modify')""")


@migration(6, "search vocabulary for prefix search")
def _search_words(con: duckdb.DuckDBPyConnection) -> None:
    # Each distinct indexed word once, with its term: a query prefix ("batt*") becomes the
    # terms of the words it begins (see _search.py). The words of spans indexed before this
    # version are not known (a term is a hash), so the index starts again from the first span:
    # `spyglass index` (or the viewer, a little at a time) rebuilds it, and until then search
    # scans the spans not indexed, complete but slower.
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"CREATE TABLE {db}.main.search_words (term UINTEGER, word VARCHAR)")
    con.execute(f"DELETE FROM {db}.main.search_terms")
    con.execute(f"UPDATE {db}.main.spyglass_meta SET value = '0' WHERE key = 'search_indexed_seq'")


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main'", [catalog]
    ).fetchall()
    return {r[0] for r in rows}


def stored_version(con: duckdb.DuckDBPyConnection, catalog: str, path: str) -> int | None:
    """The schema version of an attached database; ``None`` when it is empty (a new file)."""
    try:  # the common case, in one query: a Spyglass store (readers call this on every open)
        meta = dict(
            con.execute(
                f"SELECT key, value FROM {catalog}.spyglass_meta WHERE key IN ('app', 'schema_version')"
            ).fetchall()
        )
    except duckdb.CatalogException:  # no such table: decided below from the tables there are
        meta = {}
    except duckdb.Error as exc:  # the table is there but its blocks are not: not "foreign"
        raise damaged(path, exc) from exc
    if meta.get("app") == APP_ID and "schema_version" in meta and int(meta["schema_version"]) <= SCHEMA_VERSION:
        return int(meta["schema_version"])
    try:
        return _classify(con, catalog, path)
    except duckdb.Error as exc:
        raise damaged(path, exc) from exc


def _classify(con: duckdb.DuckDBPyConnection, catalog: str, path: str) -> int | None:
    """The slow path of :func:`stored_version`: a new, foreign, newer or oddly-shaped file."""
    tables = _tables(con, catalog)
    if not tables:
        return None
    if "spyglass_meta" not in tables:
        raise ForeignStoreError(
            f"{path} is a DuckDB database but not a Spyglass store (it has tables {sorted(tables)[:5]} and no "
            f"spyglass_meta). Spyglass leaves it untouched; point SPYGLASS_DB or configure(db=...) elsewhere."
        )
    row = con.execute(f"SELECT value FROM {catalog}.spyglass_meta WHERE key = 'schema_version'").fetchall()
    app = con.execute(f"SELECT value FROM {catalog}.spyglass_meta WHERE key = 'app'").fetchall()
    if not row or not app or app[0][0] != APP_ID:
        raise ForeignStoreError(f"{path} has a spyglass_meta table but no Spyglass schema version; left untouched.")
    version = int(row[0][0])
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"{path} has schema version {version}, newer than this Spyglass understands ({SCHEMA_VERSION}). "
            f"Upgrade spyglass (pip install -U spyglass) to read or write it; the file was not changed."
        )
    return version


def migrate(con: duckdb.DuckDBPyConnection, catalog: str, path: str) -> int:
    """Bring an attached database up to :data:`SCHEMA_VERSION`; returns the version it had."""
    version = stored_version(con, catalog, path)
    if version == SCHEMA_VERSION:
        return version
    con.execute(f"USE {catalog}")
    try:
        con.execute("BEGIN TRANSACTION")
        if version is None:
            con.execute("CREATE TABLE spyglass_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute(
                "CREATE TABLE spyglass_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
            )
            con.execute(
                "INSERT INTO spyglass_meta VALUES ('app', ?), ('schema_version', '0'), ('created_at', ?)",
                [APP_ID, _dt.datetime.now(_dt.timezone.utc).isoformat()],
            )
        start = version or 0
        for number, name, fn in MIGRATIONS:
            if number <= start:
                continue
            fn(con)
            con.execute("INSERT INTO spyglass_migrations VALUES (?, ?, now()::TIMESTAMP)", [number, name])
            con.execute("UPDATE spyglass_meta SET value = ? WHERE key = 'schema_version'", [str(number)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("USE memory")
    return start
