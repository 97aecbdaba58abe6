"""Damaged, truncated, foreign (SQLite included) and newer stores are refused with the right
``StoreError`` subclass, byte for byte untouched and without a network call, by every entry
point: the read API, the write path, the ``spyglass`` commands and the viewer.

Every file here is real: a store written by the tracer, then cut with ``truncate``, swapped
for a SQLite database, and so on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

import tracer
from tracer import DamagedStoreError, ForeignStoreError, NewerSchemaError, Store, StoreError
from tracer.store import _connect, _schema

from .conftest import REPO

CASES: dict[str, type[StoreError]] = {
    "truncated in half": DamagedStoreError,
    "truncated to 90%": DamagedStoreError,
    "truncated inside the headers": DamagedStoreError,
    "sqlite": ForeignStoreError,
    "text file": ForeignStoreError,
    "empty file": ForeignStoreError,
    "other duckdb": ForeignStoreError,
    "directory": ForeignStoreError,
    "newer schema": NewerSchemaError,
}


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of a few MB, so that cutting it loses blocks that hold spans."""
    path = tmp_path_factory.mktemp("good") / "spyglass.duckdb"
    before = os.environ.get("SPYGLASS_GROUNDING")
    os.environ["SPYGLASS_GROUNDING"] = "false"
    try:
        tracer.configure(db=path)
        for i in range(300):
            with tracer.span(f"step-{i}", input="question " * 100) as s:
                s.set_output(f"answer {i} " * 100)
        assert tracer.flush()
    finally:
        if before is None:
            os.environ.pop("SPYGLASS_GROUNDING", None)
        else:
            os.environ["SPYGLASS_GROUNDING"] = before
    assert Store(path).count_traces() == 300
    return path


def make(case: str, good: Path, tmp_path: Path) -> Path:
    """The file of ``case`` in ``tmp_path``."""
    path = tmp_path / "spyglass.duckdb"
    if case.startswith("truncated"):
        shutil.copy(good, path)
        size = path.stat().st_size
        cut = {
            "truncated in half": size // 2,
            "truncated to 90%": size * 9 // 10,
            "truncated inside the headers": 5000,
        }[case]
        os.truncate(path, cut)
    elif case == "sqlite":
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE spans (id INTEGER)")
        con.close()
    elif case == "text file":
        path.write_text("not a database\n" * 100)
    elif case == "empty file":
        path.write_bytes(b"")
    elif case == "other duckdb":
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE customers (id INTEGER)")
    elif case == "directory":
        path.mkdir()
        (path / "inside.txt").write_text("a file in the directory")
    elif case == "newer schema":
        shutil.copy(good, path)
        with duckdb.connect(str(path)) as con:
            con.execute(
                "UPDATE spyglass_meta SET value = ? WHERE key = 'schema_version'", [str(_schema.SCHEMA_VERSION + 1)]
            )
    else:  # pragma: no cover - a typo in CASES
        raise AssertionError(case)
    return path


def digest(path: Path) -> str:
    """The file's sha256, or of every file under a directory (with its names)."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        h.update(str(p.relative_to(path.parent)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def untouched(path: Path, before: str) -> None:
    assert digest(path) == before, f"{path} was changed"
    assert not Path(f"{path}.wal").exists(), "a WAL was created next to the refused file"


def _snapshot(store: Store) -> None:
    with store.snapshot():
        pass


def _connect_api(store: Store) -> None:
    with store.connect() as con:
        con.execute("SELECT * FROM spans").fetchall()


# Every read (and the reader's own writes): each opens the file and must refuse it.
READS: dict[str, Callable[[Store], Any]] = {
    "list_traces": lambda s: s.list_traces(),
    "count_traces": lambda s: s.count_traces(),
    "facets": lambda s: s.facets(),
    "durations": lambda s: s.durations(),
    "usage_over_time": lambda s: s.usage_over_time(),
    "get_trace": lambda s: s.get_trace("0" * 32),
    "get_traces": lambda s: s.get_traces(["0" * 32]),
    "search": lambda s: s.search("answer"),
    "counts": lambda s: s.counts(),
    "annotations": lambda s: s.annotations(),
    "evaluations": lambda s: s.evaluations(),
    "llm_spans": lambda s: s.llm_spans(),
    "delete_annotation": lambda s: s.delete_annotation("nope"),
    "snapshot": _snapshot,
    "connect": _connect_api,
    "check": lambda s: s.check(),
    "annotate": lambda s: s.annotate("0" * 32, "correct"),
    "add_evaluations": lambda s: s.add_evaluations([{"trace_id": "t", "span_id": "s", "label": "x"}]),
    "build_search_index": lambda s: s.build_search_index(),
}


@pytest.mark.parametrize("case", CASES)
def test_every_read_refuses_the_file_untouched(case: str, good_store: Path, tmp_path: Path) -> None:
    path = make(case, good_store, tmp_path)
    before = digest(path)
    store = Store(path, timeout=2.0)
    for name, read in READS.items():
        started = time.monotonic()
        with pytest.raises(CASES[case]) as caught:
            read(store)
        took = time.monotonic() - started
        assert str(path) in str(caught.value), (name, str(caught.value))
        # No extension download (DuckDB's way into a SQLite file) and no lock wait: at once.
        assert took < 1.0, (name, took)
        untouched(path, before)


# Files refused from their bytes; the other two are DuckDB stores refused by their tables.
BY_CONTENT = [c for c in CASES if c not in ("other duckdb", "newer schema")]


@pytest.mark.parametrize("case", BY_CONTENT)
def test_the_write_path_refuses_the_file_untouched(case: str, good_store: Path, tmp_path: Path) -> None:
    """``try_open_write`` (the writer's way in) raises rather than attaching read-write:
    DuckDB would checkpoint over a truncated file on letting go of it."""
    path = make(case, good_store, tmp_path)
    before = digest(path)
    started = time.monotonic()
    with pytest.raises(CASES[case]):
        _connect.try_open_write(str(path))
    assert time.monotonic() - started < 1.0
    with pytest.raises(CASES[case]):
        _connect.try_open_write(str(path), onto=duckdb.connect(":memory:"))
    untouched(path, before)


@pytest.mark.parametrize("case", ["other duckdb", "newer schema"])
def test_the_writer_refuses_a_foreign_or_newer_schema_untouched(case: str, good_store: Path, tmp_path: Path) -> None:
    path = make(case, good_store, tmp_path)
    before = digest(path)
    con = _connect.try_open_write(str(path))
    assert con is not None
    try:
        with pytest.raises(CASES[case]):
            _schema.migrate(con, _connect.STORE, str(path))
    finally:
        con.close()
    untouched(path, before)


def test_a_sqlite_file_costs_no_extension_download(tmp_path: Path) -> None:
    """Plain DuckDB would fetch its sqlite extension from the internet for this file (seconds,
    or a hang offline); Spyglass knows it by its first 16 bytes."""
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    con.close()
    started = time.monotonic()
    with pytest.raises(ForeignStoreError, match="SQLite"):
        Store(path).list_traces()
    with pytest.raises(ForeignStoreError, match="SQLite"):
        _connect.try_open_write(str(path))
    assert time.monotonic() - started < 1.0


def test_our_attach_never_reaches_for_an_extension(tmp_path: Path) -> None:
    """Even a SQLite file that got past the header check (swapped in between) cannot make the
    attach download anything: auto-install and auto-load are off and the type is explicit."""
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    con.close()
    started = time.monotonic()
    for options in ("TYPE duckdb, READ_ONLY", "READ_ONLY"):
        db = duckdb.connect(":memory:")
        db.execute(_connect._NO_EXTENSIONS)
        with pytest.raises(duckdb.Error) as caught:
            db.execute(f"ATTACH '{path}' AS store ({options})")
        db.close()
        assert "download" not in str(caught.value).lower(), caught.value
    assert isinstance(_connect._attach_error(str(path), caught.value, read_only=True, exists=True), StoreError)
    assert time.monotonic() - started < 1.0


def test_a_block_corrupted_in_place_is_damaged_on_read(good_store: Path, tmp_path: Path) -> None:
    """Same size, bytes flipped inside every data block: DuckDB attaches it and fails on the
    checksum when a query reads a block. That error leaves the Store as DamagedStoreError."""
    path = tmp_path / "spyglass.duckdb"
    shutil.copy(good_store, path)
    block = 262_144
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        for start in range(3 * 4096 + block, size, block):  # block 0 holds the catalog: keep it
            f.seek(start + 4096)
            f.write(b"\xff" * 64)
    before = digest(path)
    store = Store(path)
    for read in (Store.list_traces, Store.facets, _connect_api):  # each reads a corrupted block
        with pytest.raises(DamagedStoreError, match="damaged") as caught:
            read(store)
        assert "checksum" in str(caught.value)
    # The reader's DuckDB instance is still usable afterwards (a fresh one if it had to be).
    assert Store(good_store).count_traces() == 300
    untouched(path, before)


def test_a_valid_store_shorter_than_its_header_says_is_not_damaged(good_store: Path, tmp_path: Path) -> None:
    """DuckDB writes the block count into the header, then trims free blocks off the end of
    the file: a valid file can be shorter than ``block_count`` blocks. Not a truncation."""
    path = tmp_path / "spyglass.duckdb"
    shutil.copy(good_store, path)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE scratch AS SELECT repeat('q', 500) || i AS x FROM range(100000) r(i)")
        con.execute("CHECKPOINT")
        con.execute("DROP TABLE scratch")
        con.execute("CHECKPOINT")
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH '{path}' AS store (READ_ONLY)")
        total, block_size = con.execute(
            "SELECT total_blocks, block_size FROM pragma_database_size() WHERE database_name = 'store'"
        ).fetchall()[0]
    assert path.stat().st_size < 3 * 4096 + total * block_size  # the situation under test
    store = Store(path)
    assert store.count_traces() == 300
    con2 = _connect.try_open_write(str(path))
    assert con2 is not None
    con2.close()


def test_a_directory_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "dir.duckdb"
    path.mkdir()
    with pytest.raises(ForeignStoreError, match="is a directory"):
        _connect.try_open_write(str(path))
    assert list(path.iterdir()) == []


# --- the spyglass command ---------------------------------------------------------------------
def spyglass(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracer.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def refused_by_cli(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spyglass: "), done.stderr
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize("command", [["traces"], ["info"], ["index"], ["check"], ["export"], ["view", "--port", "1"]])
def test_every_command_refuses_a_truncated_store(command: list[str], good_store: Path, tmp_path: Path) -> None:
    path = make("truncated in half", good_store, tmp_path)
    before = digest(path)
    refused_by_cli(spyglass("--db", str(path), *command), "damaged")
    untouched(path, before)


@pytest.mark.parametrize(
    "case,expected",
    [("sqlite", "SQLite"), ("directory", "is a directory"), ("newer schema", "newer"), ("text file", "not a DuckDB")],
)
@pytest.mark.parametrize("command", ["traces", "view"])
def test_commands_refuse_foreign_and_newer_stores(
    case: str, expected: str, command: str, good_store: Path, tmp_path: Path
) -> None:
    path = make(case, good_store, tmp_path)
    before = digest(path)
    started = time.monotonic()
    refused_by_cli(spyglass("--db", str(path), command), expected)
    assert time.monotonic() - started < 30  # never the viewer's server, never a download
    untouched(path, before)


def test_view_on_a_missing_store_fails_before_serving(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.duckdb"
    refused_by_cli(spyglass("--db", str(path), "view", "--port", "1"), "no Spyglass store")
    assert not path.exists()


# --- the viewer ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case,expected",
    [
        ("truncated in half", "damaged"),
        ("sqlite", "SQLite"),
        ("directory", "is a directory"),
        ("newer schema", "newer"),
    ],
)
def test_viewer_shows_a_permanent_error_without_offering_refresh(
    case: str, expected: str, good_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viewer import _data

    from . import _viewer_store as vs

    path = make(case, good_store, tmp_path)
    before = digest(path)
    _data.store.clear()
    at = vs.run(vs.app_on(path, monkeypatch))
    assert at.error, [m.value for m in (*at.info, *at.warning)]
    message = at.error[0].value
    assert expected in message.replace("\\", ""), message
    assert "Refresh" not in message and "IOException" not in message
    assert not at.warning
    untouched(path, before)
