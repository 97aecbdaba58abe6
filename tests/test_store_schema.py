"""The store file as a public interface: exact schema, migrations, and refusing files that
are not ours or are newer, without touching them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

import tracer
from tracer.store import _schema
from tracer.store._connect import STORE, try_open_write

EXPECTED_TABLES = {
    "spyglass_meta",
    "spyglass_migrations",
    "spans",
    "events",
    "documents",
    "decisions",
    "traces",
    "spool_ingested",
    "dropped_spans",
    "search_terms",
    "search_words",
    "evaluations",
    "annotations",
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [catalog, table],
        ).fetchall()
    ]


def _store_at_version(path: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A store as an older Spyglass left it: only migrations up to ``version`` applied.
    Returns the open write connection (the caller closes it)."""
    con = try_open_write(str(path))
    assert con is not None
    saved = list(_schema.MIGRATIONS)
    _schema.MIGRATIONS[:] = [m for m in saved if m[0] <= version]
    try:
        _schema.migrate(con, STORE, str(path))
    finally:
        _schema.MIGRATIONS[:] = saved
    return con


def test_migrations_build_the_documented_schema_in_memory() -> None:
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS fresh")
    assert _schema.migrate(con, "fresh", ":memory:") == 0
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'fresh'"
        ).fetchall()
    }
    assert tables == EXPECTED_TABLES
    assert _columns(con, "fresh", "spans")[:8] == [
        ("seq", "BIGINT"),
        ("trace_id", "VARCHAR"),
        ("span_id", "VARCHAR"),
        ("parent_span_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("span_type", "VARCHAR"),
        ("start_time", "TIMESTAMP"),
    ]
    names = [c for c, _ in _columns(con, "fresh", "spans")]
    for required in ("end_time", "status_code", "attributes"):
        assert required in names
    assert dict(_columns(con, "fresh", "spans"))["attributes"] == "JSON"
    assert con.execute("SELECT value FROM fresh.spyglass_meta WHERE key = 'schema_version'").fetchall() == [
        (str(_schema.SCHEMA_VERSION),)
    ]
    assert [r[0] for r in con.execute("SELECT version FROM fresh.spyglass_migrations ORDER BY 1").fetchall()] == [
        v for v, _, _ in _schema.MIGRATIONS
    ]
    # Migrating again is a no-op.
    assert _schema.migrate(con, "fresh", ":memory:") == _schema.SCHEMA_VERSION


def test_a_version_1_store_is_migrated_in_place(db_path: Path) -> None:
    """Stores written by an older Spyglass gain the later tables and keep their rows."""
    con = _store_at_version(db_path, 1)
    con.execute(f"INSERT INTO {STORE}.spans (seq, trace_id, span_id, name) VALUES (1, 't', 's', 'old')")
    assert _schema.stored_version(con, STORE, str(db_path)) == 1
    con.close()
    tracer.configure(db=db_path)  # opens, migrates to the current version
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT value FROM spyglass_meta WHERE key = 'schema_version'").fetchall() == [
            (str(_schema.SCHEMA_VERSION),)
        ]
        assert con.execute("SELECT name FROM spans").fetchall() == [("old",)]
        assert con.execute("SELECT count(*) FROM search_terms").fetchall() == [(0,)]
        assert [r[0] for r in con.execute("SELECT version FROM spyglass_migrations ORDER BY 1").fetchall()] == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]
    finally:
        con.close()


def test_a_version_4_store_gains_the_logical_call_columns_and_counts_its_modified_answers(db_path: Path) -> None:
    con = _store_at_version(db_path, 4)
    con.execute(
        f"INSERT INTO {STORE}.spans (seq, trace_id, span_id, name, span_type, input_tokens) "
        f"VALUES (1, 't', 's', 'old', 'llm', 7)"
    )
    con.execute(
        f"INSERT INTO {STORE}.decisions (trace_id, span_id, seq, position, name, verdict) "
        f"VALUES ('t', 's', 1, 0, 'tone', 'modify'), ('t', 's', 1, 1, 'pii', 'pass')"
    )
    con.execute(
        f"INSERT INTO {STORE}.traces (trace_id, span_count, llm_count, blocked_count, flagged_count) "
        f"VALUES ('t', 1, 1, 0, 0)"
    )
    con.close()
    tracer.configure(db=db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        # Rows from before were not marked: each counts, as it did.
        assert con.execute("SELECT llm_parent_span_id, usage_counted FROM spans").fetchall() == [(None, True)]
        assert con.execute("SELECT modified_count FROM traces").fetchall() == [(1,)]
    finally:
        con.close()


def test_every_span_attribute_is_in_the_attributes_json(configured: Path, store: tracer.Store) -> None:
    @tracer.trace_llm(model="gpt-4o-mini", attributes={"custom.key": "v", "custom.list": ["a", "b"]})
    def call() -> str:
        return "hi"

    call()
    assert tracer.flush()
    con = duckdb.connect(str(configured), read_only=True)
    row = con.execute("""SELECT attributes->>'$."custom.key"', attributes->'$."custom.list"',
                                attributes->>'$."gen_ai.request.model"', model FROM spans""").fetchall()
    con.close()
    assert row == [("v", '["a","b"]', "gpt-4o-mini", "gpt-4o-mini")]


def test_foreign_duckdb_file_is_refused_and_untouched(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    before = _digest(db_path)
    with pytest.raises(tracer.ForeignStoreError, match="not a Spyglass store"):
        tracer.configure(db=db_path)
    with pytest.raises(tracer.ForeignStoreError):
        tracer.Store(db_path).list_traces()
    assert _digest(db_path) == before


def test_non_duckdb_file_is_refused_and_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = _digest(db_path)
    with pytest.raises(tracer.ForeignStoreError, match="not a DuckDB database"):
        tracer.configure(db=db_path)
    with pytest.raises(tracer.ForeignStoreError):
        tracer.Store(db_path).counts()
    assert _digest(db_path) == before


def test_newer_schema_is_refused_with_upgrade_advice(db_path: Path) -> None:
    con = try_open_write(str(db_path))
    assert con is not None
    _schema.migrate(con, STORE, str(db_path))
    con.execute(f"UPDATE {STORE}.spyglass_meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    before = _digest(db_path)
    with pytest.raises(tracer.NewerSchemaError, match="schema version 999.*Upgrade spyglass"):
        tracer.configure(db=db_path)
    with pytest.raises(tracer.NewerSchemaError):
        tracer.Store(db_path).list_traces()
    assert _digest(db_path) == before


def test_missing_store_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(tracer.StoreNotFound, match="no Spyglass store at"):
        tracer.Store(tmp_path / "nope.duckdb").list_traces()
    assert not (tmp_path / "nope.duckdb").exists()


def test_exporter_contract(db_path: Path) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    from tracer.store import DuckDBSpanExporter

    exporter = DuckDBSpanExporter(str(db_path))
    assert exporter.export([]) == SpanExportResult.SUCCESS
    exporter.shutdown()
    exporter.shutdown()  # idempotent
    assert exporter.export([]) == SpanExportResult.FAILURE


def test_a_reader_upgrades_an_older_store(db_path: Path) -> None:
    """The viewer opened on a store written by an older Spyglass: it is migrated, then read."""
    _store_at_version(db_path, 2).close()
    store = tracer.Store(db_path)
    assert store.list_traces() == [] and store.counts()["spans"] == 0
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT value FROM spyglass_meta WHERE key = 'schema_version'").fetchall() == [
            (str(_schema.SCHEMA_VERSION),)
        ]
    finally:
        con.close()


def test_version_4_adds_the_reason_of_dropped_spans_keeping_old_rows(db_path: Path) -> None:
    con = _store_at_version(db_path, 3)
    con.execute(f"INSERT INTO {STORE}.dropped_spans VALUES (now()::TIMESTAMP, 1, 'h', 7)")
    assert _schema.migrate(con, STORE, str(db_path)) == 3
    assert _columns(con, STORE, "dropped_spans") == [
        ("time", "TIMESTAMP"),
        ("pid", "INTEGER"),
        ("host", "VARCHAR"),
        ("count", "BIGINT"),
        ("reason", "VARCHAR"),
    ]
    assert con.execute(f"SELECT count, reason FROM {STORE}.dropped_spans").fetchall() == [(7, None)]
    con.close()
