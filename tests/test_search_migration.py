"""Schema version 6 (prefix search): a DuckDB store gains ``search_words`` and its index is
rebuilt so that the vocabulary covers every span; a PostgreSQL store gains the id-prefix
indexes. Stores written before keep their spans and search them, prefixes included; and a
prefix is answered through the vocabulary."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg

import tracer
from tracer import TraceFilter
from tracer.store import _schema, _search
from tracer.store._connect import STORE, try_open_write
from tracer.store.postgres import _schema as pg_schema


def _trace(text: str) -> None:
    @tracer.trace_step
    def ask(question: str) -> str:
        return question

    ask(text)


def _migrations_up_to(migrations: list, version: int) -> list:
    """Cut ``migrations`` (in place) to those an older Spyglass had; returns the full list."""
    saved = list(migrations)
    migrations[:] = [m for m in saved if m[0] <= version]
    return saved


def test_a_version_5_duckdb_store_gets_the_vocabulary_and_a_rebuilt_index(db_path: Path) -> None:
    con = try_open_write(str(db_path))
    assert con is not None
    saved = _migrations_up_to(_schema.MIGRATIONS, 5)
    try:
        _schema.migrate(con, STORE, str(db_path))
    finally:
        _schema.MIGRATIONS[:] = saved
    # A span and its trace as version 5 stored them, and the index an older Spyglass built.
    con.execute(
        f"INSERT INTO {STORE}.spans (seq, trace_id, span_id, name, start_time, attributes) VALUES "
        "(1, 'aa11', 'bb22', 'ask', now()::TIMESTAMP, '{\"input.value\": \"how long does the battery last\"}')"
    )
    con.execute(f"INSERT INTO {STORE}.traces (trace_id, start_time, min_seq, max_seq) VALUES ('aa11', now(), 1, 1)")
    con.execute(f"INSERT INTO {STORE}.search_terms VALUES (1, 1)")
    con.execute(f"UPDATE {STORE}.spyglass_meta SET value = '1' WHERE key = 'search_indexed_seq'")
    con.close()
    store = tracer.Store(db_path)  # the reader upgrades it
    assert store.count_traces(TraceFilter(text="batt*")) == 1  # scanned: nothing indexed any more
    with duckdb.connect(str(db_path), read_only=True) as ro:
        assert ro.execute("SELECT value FROM spyglass_meta WHERE key = 'search_indexed_seq'").fetchall() == [("0",)]
        assert ro.execute("SELECT count(*) FROM search_terms").fetchall() == [(0,)]
        assert ro.execute("SELECT max(version) FROM spyglass_migrations").fetchall() == [(6,)]
    assert store.build_search_index() == (1, 1)
    with duckdb.connect(str(db_path), read_only=True) as ro:
        words = {r[0] for r in ro.execute("SELECT word FROM search_words").fetchall()}
    assert {"battery", "long", "last", "ask"} <= words and "the" not in words  # stop words stay out
    assert store.count_traces(TraceFilter(text="batt*")) == 1  # from the index now
    assert store.search_snippets(["aa11"], "batt*")["aa11"].field == "prompt"


def test_a_version_5_postgres_store_gets_the_id_prefix_indexes(postgres_url: str) -> None:
    saved = _migrations_up_to(pg_schema.MIGRATIONS, 5)
    try:
        with psycopg.connect(postgres_url, autocommit=True) as con:
            pg_schema.migrate(con, "test")
    finally:
        pg_schema.MIGRATIONS[:] = saved
    tracer.configure(db=postgres_url)  # migrates to 6
    _trace("how long does the battery last")
    assert tracer.flush()
    with psycopg.connect(postgres_url, autocommit=True) as con:
        indexes = {r[0] for r in con.execute("SELECT indexname FROM pg_indexes").fetchall()}
        versions = [r[0] for r in con.execute("SELECT version FROM spyglass_migrations ORDER BY 1").fetchall()]
    assert {"spans_span_id_prefix", "traces_trace_id_prefix"} <= indexes
    assert versions == [1, 2, 3, 4, 5, 6]
    store = tracer.Store(postgres_url)
    row = store.list_traces()[0]
    assert store.count_traces(TraceFilter(text=row["trace_id"][:6])) == 1
    assert store.count_traces(TraceFilter(text="batt*")) == 1


def test_a_prefix_is_looked_up_in_the_vocabulary(db_path: Path) -> None:
    """The index answers a prefix through ``search_words`` (not by scanning every span): its
    terms are those of the words it begins; a prefix of a stop word is left to the regex."""
    tracer.configure(db=db_path)
    _trace("the battery and the batter lasted within limits")
    assert tracer.flush()
    store = tracer.Store(db_path)
    store.build_search_index()
    with store.connect() as con:
        groups = {q: store._term_groups(con, _search.parse(q)) for q in ("batt*", "wit*", "zzq*", "lasted")}
    assert sorted(groups["batt*"][0]) == sorted([_search.term("battery"), _search.term("batter")])
    assert groups["wit*"] == []  # "with" is a stop word: not in the index, so not answered by it
    assert groups["zzq*"] == [[]]  # begins no indexed word: no indexed span can match
    assert groups["lasted"] == [[_search.term("lasted")]]
    assert store.count_traces(TraceFilter(text="wit*")) == 1  # "within", found by the regex
