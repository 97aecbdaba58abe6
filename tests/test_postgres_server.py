"""The PostgreSQL test server itself: tests/_postgres.py and the fixtures in tests/conftest.py."""

from __future__ import annotations

from typing import Any

import pytest


def _connect(url: str) -> Any:
    # Imported here: the fixtures skip (or fail under CI=true) when psycopg is missing.
    import psycopg

    return psycopg.connect(url, connect_timeout=5)


def test_a_query_runs_on_a_fresh_empty_database(postgres_url: str) -> None:
    with _connect(postgres_url) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)


def test_two_fresh_databases_are_independent(postgres_server: Any, postgres_url: str) -> None:
    other = postgres_server.new_name("other")
    other_url = postgres_server.create_database(other)
    try:
        assert other_url != postgres_url
        with _connect(postgres_url) as conn:
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES ('mine')")
        with _connect(other_url) as conn:
            assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)
    finally:
        postgres_server.drop_database(other)


def test_stop_then_start_keeps_the_data_and_the_url(postgres_server: Any, postgres_url: str) -> None:
    import psycopg

    with _connect(postgres_url) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (42)")
    postgres_server.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            _connect(postgres_url).close()
    finally:
        postgres_server.start()
    with _connect(postgres_url) as conn:
        assert conn.execute("SELECT v FROM t").fetchone() == (42,)
