"""The PostgreSQL store's schema and its migrations: the same tables, columns and version
numbers as the DuckDB file (``tracer/store/_schema.py``, docs/schema.md), in PostgreSQL types.

Differences, all in docs/schema.md ("PostgreSQL"): ``JSON`` columns are ``jsonb``; lists are
``text[]``; the search index is ``span_search`` (a ``tsvector`` per span, GIN-indexed) in place
of ``search_terms``; ``seq`` comes from the sequence ``spyglass_seq``.

Tables live in the connection's current schema (``public`` unless the URL sets
``options=-csearch_path=...``). A schema holding other tables and no ``spyglass_meta`` is
refused and never changed; so is one with a newer schema version.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import psycopg

from .._schema import APP_ID, SCHEMA_VERSION, SPAN_COLUMNS, ForeignStoreError, NewerSchemaError

Migration = Callable[[psycopg.Connection], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []
# One lock id for "a process is migrating this database": 8 processes starting at once on a
# new database must not create the tables 8 times.
_MIGRATE_LOCK = 0x5059_4753  # "PYGS"

_TYPES = {
    "BIGINT": "bigint",
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "VARCHAR[]": "text[]",
    "JSON": "jsonb",
}


def pg_type(duckdb_type: str) -> str:
    return _TYPES[duckdb_type]


# What a span's search vector holds: the span's name, its status message and every attribute,
# as text, JSON escapes turned to spaces ("\nHello" gives "hello"), the first 100,000
# characters only (a tsvector holds at most 1 MB; docs/schema.md says so). The `simple`
# configuration lower-cases and splits into words, with no stemming and no stop words:
# whole words, any case, as DuckDB's search matches.
def search_vector(span: str) -> str:
    """The ``tsvector`` of the spans row ``span`` (a table alias)."""
    return (
        f"to_tsvector('simple'::regconfig, regexp_replace(left(coalesce({span}.name, '') || ' ' || "
        f"coalesce({span}.status_message, '') || ' ' || coalesce({span}.attributes::text, ''), 100000), "
        "'\\\\+[nrtbf\"\\\\/]', ' ', 'g'))"
    )


def migration(version: int, name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((version, name, fn))
        MIGRATIONS.sort(key=lambda m: m[0])
        return fn

    return register


def _columns(columns: list[tuple[str, str]]) -> str:
    return ",\n  ".join(f"{name} {pg_type(typ)}" for name, typ in columns)


@migration(1, "initial schema")
def _initial(con: psycopg.Connection) -> None:
    con.execute("CREATE SEQUENCE spyglass_seq")
    con.execute(f"CREATE TABLE spans (\n  {_columns(SPAN_COLUMNS[:27])},\n  PRIMARY KEY (seq))")
    con.execute("""
        CREATE TABLE events (
          trace_id text, span_id text, seq bigint, position integer,
          time timestamp, name text, attributes jsonb)""")
    con.execute("""
        CREATE TABLE documents (
          trace_id text, span_id text, seq bigint, position integer,
          document_id text, content text, score double precision, metadata jsonb)""")
    con.execute("""
        CREATE TABLE decisions (
          trace_id text, span_id text, seq bigint, position integer, time timestamp,
          name text, verdict text, action text, reason text, score double precision,
          before_text text, after_text text)""")
    con.execute("""
        CREATE TABLE traces (
          trace_id text PRIMARY KEY, root_span_id text, root_name text,
          start_time timestamp, end_time timestamp, duration_ms double precision, status_code text,
          span_count bigint, llm_count bigint, input_tokens bigint, output_tokens bigint,
          cost_usd double precision, models text[], span_types text[], session_id text, user_id text,
          prompt_version text, tags text[], error_count bigint, blocked_count bigint,
          flagged_count bigint, service_name text, min_seq bigint, max_seq bigint)""")
    con.execute("CREATE TABLE spool_ingested (file text PRIMARY KEY, ingested_at timestamp)")
    con.execute("CREATE TABLE dropped_spans (time timestamp, pid integer, host text, count bigint)")
    # DuckDB finds a trace's rows by their seq range (zone maps); PostgreSQL by index.
    for table in ("spans", "events", "documents", "decisions"):
        con.execute(f"CREATE INDEX {table}_trace_id ON {table} (trace_id)")
    con.execute("CREATE INDEX traces_newest ON traces (start_time DESC, trace_id)")


@migration(2, "full-text search index")
def _search_index(con: psycopg.Connection) -> None:
    # PostgreSQL's to_tsvector costs ~300 us per span of 1.5 KB, several times what writing the
    # span costs: as on DuckDB, writers never tokenise. Each committed batch leaves its seq
    # range in search_batches (in its own transaction, so a batch committed late is never
    # skipped), and readers index those ranges later (Store.build_search_index); a search
    # scans the ranges not indexed yet, so results are complete meanwhile.
    con.execute("CREATE TABLE span_search (seq bigint PRIMARY KEY, search tsvector)")
    con.execute("CREATE INDEX span_search_words ON span_search USING gin (search)")
    con.execute("CREATE TABLE search_batches (first_seq bigint, last_seq bigint)")
    con.execute("CREATE INDEX search_batches_first ON search_batches (first_seq)")


@migration(3, "evaluations and annotations")
def _evaluations(con: psycopg.Connection) -> None:
    con.execute("""
        CREATE TABLE evaluations (
          trace_id text, span_id text, seq bigint, time timestamp, name text,
          score double precision, label text, explanation text, details jsonb, source text)""")
    con.execute("""
        CREATE TABLE annotations (
          id text PRIMARY KEY, trace_id text, span_id text, label text, note text,
          author text, created_at timestamp)""")
    con.execute("CREATE INDEX evaluations_trace_id ON evaluations (trace_id)")
    con.execute("CREATE INDEX evaluations_span_id ON evaluations (span_id)")
    con.execute("CREATE INDEX annotations_trace_id ON annotations (trace_id)")


@migration(4, "reason of dropped spans")
def _drop_reason(con: psycopg.Connection) -> None:
    con.execute("ALTER TABLE dropped_spans ADD COLUMN reason text")


@migration(5, "logical LLM calls and post-processing outcome")
def _logical_calls(con: psycopg.Connection) -> None:
    con.execute("ALTER TABLE spans ADD COLUMN llm_parent_span_id text")
    con.execute("ALTER TABLE spans ADD COLUMN usage_counted boolean DEFAULT true")
    con.execute("ALTER TABLE traces ADD COLUMN modified_count bigint DEFAULT 0")
    con.execute("""UPDATE traces SET modified_count = (SELECT count(*) FROM decisions d
                   WHERE d.trace_id = traces.trace_id AND d.verdict = 'modify')""")
    con.execute("CREATE INDEX spans_llm_calls ON spans (seq) WHERE span_type = 'llm' AND llm_parent_span_id IS NULL")


@migration(6, "search vocabulary for prefix search")
def _id_prefixes(con: psycopg.Connection) -> None:
    # Prefix search needs no vocabulary here (a tsquery prefix, 'batt':*, reads the GIN index);
    # what this version adds is the lookup of trace and span id prefixes: btree ranges in
    # byte order whatever the database's collation (text_pattern_ops; ~>=~ and ~<~ use them).
    con.execute("CREATE INDEX spans_span_id_prefix ON spans (span_id text_pattern_ops)")
    con.execute("CREATE INDEX traces_trace_id_prefix ON traces (trace_id text_pattern_ops)")


def _tables(con: psycopg.Connection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    return {r[0] for r in rows}


def stored_version(con: psycopg.Connection, where: str) -> int | None:
    """The schema version of the connected database; ``None`` when it has no tables yet.
    Raises ``ForeignStoreError`` / ``NewerSchemaError`` for a database that is not ours to use."""
    tables = _tables(con)
    if not tables:
        return None
    if "spyglass_meta" not in tables:
        raise ForeignStoreError(
            f"{where} is a PostgreSQL database but not a Spyglass store (its schema has tables "
            f"{sorted(tables)[:5]} and no spyglass_meta). Spyglass leaves it untouched: give a database of its "
            f"own, or another schema with options=-csearch_path=spyglass in the URL."
        )
    meta: dict[str, str] = dict(
        con.execute("SELECT key, value FROM spyglass_meta WHERE key IN ('app', 'schema_version')").fetchall()
    )
    if meta.get("app") != APP_ID or "schema_version" not in meta:
        raise ForeignStoreError(f"{where} has a spyglass_meta table but no Spyglass schema version; left untouched.")
    version = int(meta["schema_version"])
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"{where} has schema version {version}, newer than this Spyglass understands ({SCHEMA_VERSION}). "
            f"Upgrade spyglass (pip install -U spyglass) to read or write it; the database was not changed."
        )
    return version


def migrate(con: psycopg.Connection, where: str) -> int | None:
    """Bring the database up to :data:`SCHEMA_VERSION` in one transaction; returns the version
    it had. ``con`` must not be inside a transaction (it is left outside one)."""
    version = stored_version(con, where)
    if version == SCHEMA_VERSION:
        return version
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATE_LOCK])
        version = stored_version(con, where)  # another process may have migrated meanwhile
        if version is None:
            con.execute("CREATE TABLE spyglass_meta (key text PRIMARY KEY, value text)")
            con.execute(
                "CREATE TABLE spyglass_migrations (version integer PRIMARY KEY, name text, applied_at timestamp)"
            )
            con.execute(
                "INSERT INTO spyglass_meta VALUES ('app', %s), ('schema_version', '0'), ('created_at', %s), "
                "('engine', 'postgres')",
                [APP_ID, _dt.datetime.now(_dt.timezone.utc).isoformat()],
            )
        start = version or 0
        for number, name, fn in MIGRATIONS:
            if number <= start:
                continue
            fn(con)
            con.execute("INSERT INTO spyglass_migrations VALUES (%s, %s, now() AT TIME ZONE 'UTC')", [number, name])
            con.execute("UPDATE spyglass_meta SET value = %s WHERE key = 'schema_version'", [str(number)])
    return version
