"""The PostgreSQL store on a real server (tests/_postgres.py): its schema and migrations, the
refusal of databases that are not ours, credentials kept out of logs and rows, an outage
(batches spooled on this host and shipped when the server is back, within a bound), and
eight processes writing while a reader reads.

The read API itself runs on both engines in tests/test_store_reader.py, and the viewer in
tests/test_viewer_app.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import tracer
from tracer.store import SCHEMA_VERSION, ForeignStoreError, NewerSchemaError, StoreError, _spool
from tracer.store.postgres import PostgresStore, StoreUnreachable
from tracer.store.postgres import _schema as pg_schema

from ._procs import start_writer


@pytest.fixture(autouse=True)
def _spool_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A server store spools on this host, under SPYGLASS_SPOOL_DIR: a folder of the test's."""
    monkeypatch.setenv("SPYGLASS_SPOOL_DIR", str(tmp_path / "spool"))
    yield
    tracer.configure(db=tmp_path / "after.duckdb")  # leave no exporter pointing at a dropped database


def _sql(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as con:
        cur = con.execute(sql, params or None)
        return cur.fetchall() if cur.description else []


@tracer.trace_step(name="unit")
def _unit(i: int) -> int:
    return i


def _write(n: int) -> None:
    for i in range(n):
        _unit(i)


# --- schema and migrations ------------------------------------------------------------------
def test_a_new_database_gets_the_documented_schema(postgres_url: str) -> None:
    tracer.Store(postgres_url).check()
    tables = {
        r[0]
        for r in _sql(postgres_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    }
    assert {
        "spans",
        "events",
        "documents",
        "decisions",
        "traces",
        "evaluations",
        "annotations",
        "dropped_spans",
        "spool_ingested",
        "spyglass_meta",
        "spyglass_migrations",
        "span_search",
        "search_batches",
    } <= tables
    assert _sql(postgres_url, "SELECT value FROM spyglass_meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert [r[0] for r in _sql(postgres_url, "SELECT version FROM spyglass_migrations ORDER BY 1")] == list(
        range(1, SCHEMA_VERSION + 1)
    )
    # The span columns are the DuckDB store's, in the same order (docs/schema.md).
    columns = [
        r[0]
        for r in _sql(
            postgres_url,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'spans' ORDER BY ordinal_position",
        )
    ]
    from tracer.store._schema import SPAN_COLUMNS

    assert columns == [name for name, _ in SPAN_COLUMNS]


def test_an_older_database_is_migrated_keeping_its_rows(postgres_url: str) -> None:
    """A database left at version 3 by an older Spyglass: versions 4 and 5 are applied once."""
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE spyglass_meta (key text PRIMARY KEY, value text)")
        con.execute("CREATE TABLE spyglass_migrations (version integer PRIMARY KEY, name text, applied_at timestamp)")
        con.execute("INSERT INTO spyglass_meta VALUES ('app', 'spyglass'), ('schema_version', '3')")
        for number, name, fn in pg_schema.MIGRATIONS:
            if number <= 3:
                fn(con)
                con.execute("INSERT INTO spyglass_migrations VALUES (%s, %s, now())", [number, name])
        con.execute("INSERT INTO decisions (trace_id, verdict) VALUES ('t1', 'modify')")
        con.execute("INSERT INTO traces (trace_id, span_count) VALUES ('t1', 3)")
    tracer.configure(db=postgres_url)
    assert _sql(postgres_url, "SELECT value FROM spyglass_meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert _sql(postgres_url, "SELECT span_count, modified_count FROM traces") == [(3, 1)]
    _write(3)
    assert tracer.flush()
    assert tracer.Store(postgres_url).count_traces() == 4


def test_eight_processes_migrating_a_new_database_at_once(postgres_url: str) -> None:
    code = "import sys, tracer; tracer.Store(sys.argv[1]).check()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, postgres_url], stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(_sql(postgres_url, "SELECT version FROM spyglass_migrations")) == SCHEMA_VERSION


def test_a_foreign_database_is_refused_and_untouched(postgres_url: str) -> None:
    _sql(postgres_url, "CREATE TABLE customers (id int)")
    with pytest.raises(ForeignStoreError, match="not a Spyglass store"):
        tracer.configure(db=postgres_url)
    with pytest.raises(ForeignStoreError):
        tracer.Store(postgres_url).list_traces()
    tables = [
        r[0]
        for r in _sql(postgres_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    ]
    assert tables == ["customers"]


def test_a_schema_of_its_own_in_a_shared_database(postgres_url: str) -> None:
    """A team database holding other tables: the store goes in a schema named in the URL."""
    _sql(postgres_url, "CREATE TABLE customers (id int)")
    _sql(postgres_url, "CREATE SCHEMA spyglass")
    url = postgres_url + "?options=-csearch_path%3Dspyglass"
    tracer.configure(db=url)
    _write(2)
    assert tracer.flush()
    assert tracer.Store(url).count_traces() == 2
    assert _sql(postgres_url, "SELECT count(*) FROM spyglass.traces") == [(2,)]


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    tracer.Store(postgres_url).check()
    _sql(postgres_url, "UPDATE spyglass_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(NewerSchemaError, match="schema version 99"):
        tracer.configure(db=postgres_url)
    with pytest.raises(NewerSchemaError):
        tracer.Store(postgres_url).list_traces()


# --- what is stored -------------------------------------------------------------------------
def test_credentials_stay_out_of_logs_stats_and_rows(
    postgres_server: Any, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-pw"
    url = postgres_url.replace("spyglass@", f"spyglass:{secret}@")  # trust auth: any password is accepted
    caplog.set_level(logging.DEBUG)
    tracer.configure(db=url)
    _write(3)
    assert tracer.flush()
    assert secret not in str(tracer.stats())
    store = tracer.Store(url)
    assert secret not in store.path
    with store.connect() as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"):
            assert secret not in repr(con.execute(f"SELECT * FROM {table}").fetchall()), table
    # Unreachable: the error, the log and the CLI say where, never with the password.
    dead = f"postgresql://spyglass:{secret}@127.0.0.1:1/nowhere"
    with pytest.raises(StoreUnreachable) as caught:
        tracer.Store(dead).check()
    assert secret not in str(caught.value) and "127.0.0.1:1/nowhere" in str(caught.value)
    result = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "--db", dead, "traces"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "cannot connect" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert secret not in caplog.text


def test_nul_characters_are_stored_as_replacement_characters(postgres_url: str) -> None:
    """PostgreSQL text holds no NUL: a span with one is stored, the NUL as U+FFFD (docs/schema.md)."""
    tracer.configure(db=postgres_url)

    @tracer.trace_retriever
    def search(q: str) -> list[dict]:
        return [{"id": "d\x001", "content": "bin\x00ary", "score": 1.0}]

    with tracer.span("nul\x00name", input="a\x00b") as s:
        s.set_output("out\x00put")
        search("q")
    assert tracer.flush()
    assert tracer.stats().dropped == 0
    store = tracer.Store(postgres_url)
    [t] = store.list_traces()
    detail = store.get_trace(t["trace_id"])
    assert detail is not None
    assert {s["name"] for s in detail["spans"]} == {"nul\ufffdname", "search"}
    assert [d["content"] for d in detail["documents"]] == ["bin\ufffdary"]
    assert store.search("bin") and store.search("ary")  # U+FFFD separates words


# --- outage ---------------------------------------------------------------------------------
def test_an_unreachable_server_spools_and_ships_when_back(
    postgres_server: Any, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    tracer.configure(db=postgres_url, grounding=False)
    _write(5)
    assert tracer.flush()
    store = tracer.Store(postgres_url)  # a reader (the viewer) open across the outage
    assert store.count_traces() == 5
    postgres_server.stop()
    try:
        _write(20)
        assert not tracer.flush(timeout=3)  # nothing lost, but not in the store yet
        assert tracer.stats().dropped == 0
        assert _spool.pending(store.path)
        assert "spooled to" in caplog.text
        with pytest.raises(StoreUnreachable):  # what the viewer shows: "press Refresh"
            store.count_traces()
    finally:
        postgres_server.start()
    assert tracer.flush(timeout=30)
    assert store.count_traces() == 25  # the same reader, reconnected
    postgres_server.stop()  # a restart while the reader is idle: its next read just reconnects
    postgres_server.start()
    time.sleep(2.1)
    assert store.count_traces() == 25
    assert _spool.pending(store.path) == []


def test_beyond_the_spool_bound_spans_are_dropped_and_counted(
    postgres_server: Any, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPYGLASS_SPOOL_MAX_MB", "0")
    tracer.configure(db=postgres_url, grounding=False)
    postgres_server.stop()
    try:
        _write(10)
        assert not tracer.flush(timeout=3)
        assert tracer.stats().dropped_reasons == {"spool full": 10}
    finally:
        postgres_server.start()
    _write(1)
    assert tracer.flush(timeout=30) is False  # it covered the dropped spans: it says so
    counts = tracer.Store(postgres_url).counts()
    assert counts["spans"] == 1 and counts["dropped_spans"] == 10
    assert _sql(postgres_url, "SELECT reason, sum(count)::int FROM dropped_spans GROUP BY 1") == [("spool full", 10)]


def test_a_30_second_outage_mid_run_loses_nothing(postgres_server: Any, postgres_url: str, tmp_path: Path) -> None:
    """A writer process tracing steadily; the server stops for 30 s and comes back. Every span
    is in the store at the end, none dropped (the spool bound is far from reached)."""
    env = {**os.environ, "WRITER_PACE": "0.01", "SPYGLASS_SPOOL_DIR": str(tmp_path / "spool")}
    writer = start_writer(postgres_url, 4_000, "outage", env=env)
    store = PostgresStore(postgres_url)
    deadline = time.monotonic() + 120
    while store.counts()["spans"] < 500:
        assert writer.poll() is None and time.monotonic() < deadline, writer.communicate(timeout=60)
        time.sleep(0.2)
    postgres_server.stop()
    try:
        time.sleep(30)
        assert writer.poll() is None, "the writer should still be tracing through the outage"
        assert list((tmp_path / "spool").rglob("*.parquet")), "batches are spooled during the outage"
    finally:
        postgres_server.start()
    _out, err = writer.communicate(timeout=180)
    assert writer.returncode == 0, err
    assert "Traceback" not in err
    counts = PostgresStore(postgres_url).counts()
    assert counts["spans"] == 4_000 and counts["traces"] == 4_000
    assert counts["dropped_spans"] == 0
    assert not list((tmp_path / "spool").rglob("*.parquet"))


# --- many writers ---------------------------------------------------------------------------
def test_eight_processes_and_a_reader_lose_nothing(postgres_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SPYGLASS_SPOOL_DIR": str(tmp_path / "spool")}
    tracer.Store(postgres_url).check()  # the schema first: the writers then only write
    writers = [start_writer(postgres_url, 5_000, f"w{i}", env=env) for i in range(8)]
    store = tracer.Store(postgres_url)
    seen: list[int] = []
    errors: list[BaseException] = []
    deadline = time.monotonic() + 300
    while any(w.poll() is None for w in writers):
        assert time.monotonic() < deadline, "writers still running after 300 s"
        try:  # what the viewer does: the list, one trace, a search
            seen.append(store.counts()["spans"])
            page = store.list_traces(limit=20)
            if page:
                store.get_trace(page[0]["trace_id"])
            store.search("answer")
        except StoreError as exc:
            errors.append(exc)
        time.sleep(0.05)
    for w in writers:
        _out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        assert "Traceback" not in err
    assert errors == []
    assert len(seen) > 5 and seen == sorted(seen), "a reader must never see rows disappear"
    assert _sql(postgres_url, "SELECT count(*) FROM spans") == [(40_000,)]
    assert _sql(postgres_url, "SELECT count(*) FROM traces") == [(40_000,)]
    assert dict(_sql(postgres_url, "SELECT tags[1], count(*) FROM spans GROUP BY 1")) == {
        f"w{i}": 5_000 for i in range(8)
    }
    assert _sql(postgres_url, "SELECT count(*) FROM dropped_spans") == [(0,)]
    done, top = store.build_search_index()
    assert done == top == _sql(postgres_url, "SELECT max(seq) FROM spans")[0][0]
    assert len(store.search("answer w3", limit=10_000)) == 5_000


# --- spyglass collect -----------------------------------------------------------------------
def test_collect_writes_received_spans_into_the_server(postgres_url: str) -> None:
    """``spyglass collect --db postgresql://...``: OTLP from the SDK's own exporter, stored on
    the server; what it prints names the store without its password."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from .test_otlp_receiver import _free_port, made_spans, stored_names

    secret = "collect-pw"
    db = postgres_url.replace("spyglass@", f"spyglass:{secret}@")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "collect", "--db", db, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{port}/v1/traces"
    try:
        first = proc.stdout.readline()
        assert "receiving OTLP/HTTP traces on" in first and "127.0.0.1" in first, first
        assert secret not in first
        exporter = OTLPSpanExporter(endpoint=url)
        for j in range(5):
            assert exporter.export(made_spans(20, prefix=f"t{j}")).name == "SUCCESS"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "100 spans accepted, 100 stored" in out and "0 dropped" in out
    assert secret not in out + err
    assert len(stored_names(db)) == 100  # type: ignore[arg-type]
    assert tracer.Store(db).count_traces() == 5


def test_a_forked_child_writes_and_reads_on_connections_of_its_own(postgres_url: str) -> None:
    """gunicorn --preload, multiprocessing: the child never touches the parent's connections."""
    tracer.configure(db=postgres_url, grounding=False)
    store = tracer.Store(postgres_url)
    _write(2)
    assert tracer.flush() and store.count_traces() == 2
    pid = os.fork()
    if pid == 0:  # the child: trace, read, exit without the parent's atexit hooks
        code = 1
        try:
            _write(3)
            code = 0 if tracer.flush() and store.count_traces() >= 5 else 3
        finally:
            os._exit(code)
    _write(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tracer.flush()
    assert store.count_traces() == 9  # the parent's connections still work


def test_the_demo_never_replaces_a_server_database(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tracer.cli import main

    assert main(["demo", "--no-view", "--db", postgres_url]) == 2
    assert "writes a DuckDB file of its own" in capsys.readouterr().err
    assert _sql(postgres_url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == [(0,)]


def test_a_row_the_server_refuses_costs_that_span_only(postgres_url: str) -> None:
    """PostgreSQL refuses what DuckDB takes (here an index entry over its size limit): the
    batch is split until the refused span is alone; it is dropped and counted, the rest stored."""
    import secrets

    import pyarrow as pa

    from tracer.store._rows import convert
    from tracer.store.postgres import PostgresWriter

    from .test_otlp_receiver import made_spans

    table, _ = convert(made_spans(9))
    ids = table.column("trace_id").to_pylist()
    ids[4] = secrets.token_hex(6_000)  # 12,000 random characters: over btree's ~2.7 kB per entry
    table = table.set_column(table.schema.get_field_index("trace_id"), "trace_id", pa.array(ids))
    writer = PostgresWriter(postgres_url)
    outcome = writer.write(table)
    assert (outcome.stored, outcome.spooled, outcome.dropped) == (8, 0, {"rejected by PostgreSQL": 1})
    assert _sql(postgres_url, "SELECT count(*) FROM spans") == [(8,)]
    writer.record_dropped(1, "rejected by PostgreSQL")  # what the span processor does with the outcome
    assert writer.drain(timeout=10)
    assert _sql(postgres_url, "SELECT reason, sum(count)::int FROM dropped_spans GROUP BY 1") == [
        ("rejected by PostgreSQL", 1)
    ]
    writer.release()
