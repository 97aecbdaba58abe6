"""Lose nothing: exit with a slow batch in flight, fork, SIGTERM during flush, poison values,
stores that cannot be written, colliding ids. Real processes and real stores; every loss
count is exact (docs/reliability.md states the guarantees these check)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from opentelemetry import trace

import tracer
from tracer import attributes as A

from ._procs import FLUSH_FOREVER, FORK_WHILE_EXPORTING, MULTIPROCESSING, REPO, SLOW_EXIT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork and signals are POSIX")


def _run(
    code: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _counts(db: Path) -> tuple[int, int]:
    """(rows, distinct span ids) in ``spans``, spool files included (read through the Store)."""
    store = tracer.Store(db)
    with store.connect() as con:
        rows, distinct = con.execute("SELECT count(*), count(DISTINCT span_id) FROM spans").fetchall()[0]
    return int(rows), int(distinct)


# --- 1. exit ---------------------------------------------------------------------------------


def test_exit_with_a_slow_batch_in_flight_stores_every_span(db_path: Path) -> None:
    """At f3de9bd: 0 of 1,800 spans stored (the exporter thread was killed mid-batch)."""
    proc = _run(SLOW_EXIT, str(db_path), "200", "4")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _counts(db_path) == (600, 600)


def test_exit_past_its_bound_spools_the_rest_instead_of_dropping_it(db_path: Path) -> None:
    code = """
    import sys, time, tracer
    tracer.configure(db=sys.argv[1], schedule_delay=3600, exit_timeout=0.05, grounding=False)
    for i in range(30_000):
        with tracer.span("s", input="x" * 200):
            pass
    started = time.monotonic()
    tracer.shutdown()
    s = tracer.stats()
    print(time.monotonic() - started)
    """
    proc = _run(code, str(db_path))
    assert proc.returncode == 0, proc.stderr
    assert "spooled to disk" in proc.stderr  # the bound passed: said, and nothing discarded
    assert _counts(db_path) == (30_000, 30_000)


# --- 2. fork ---------------------------------------------------------------------------------


def test_a_child_forked_while_the_parent_exports_stores_its_spans_once(db_path: Path) -> None:
    """At f3de9bd: the child hung for good in flush() on a lock it inherited."""
    proc = _run(FORK_WHILE_EXPORTING, str(db_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    parent_spans, codes = proc.stdout.split(" ", 1)
    assert json.loads(codes) == [0, 0, 0]
    with duckdb.connect(str(db_path), read_only=True) as con:
        by_name = dict(con.execute("SELECT name, count(*) FROM spans GROUP BY 1").fetchall())
        distinct = con.execute("SELECT count(DISTINCT span_id) = count(*) FROM spans").fetchall()[0][0]
    assert by_name == {"parent": int(parent_spans), "child": 300}
    assert distinct  # no span stored twice (the parent's queue is not exported by its children)


@pytest.mark.parametrize("how", ["pool", "process"])
def test_multiprocessing_fork_children_store_every_span_once(db_path: Path, how: str) -> None:
    """At f3de9bd: fork Pool and Process children stored 0 of 100 spans, and each child
    stored the parent's 50 queued spans again."""
    proc = _run(MULTIPROCESSING, str(db_path), how, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(db_path), read_only=True) as con:
        by_name = dict(con.execute("SELECT name, count(*) FROM spans GROUP BY 1").fetchall())
        assert con.execute("SELECT count(DISTINCT span_id) FROM spans").fetchall()[0][0] == 150
    assert by_name == {"parent": 50, "child": 100}


# --- 3. SIGTERM ------------------------------------------------------------------------------


def test_sigterm_during_flush_exits_promptly_and_keeps_every_span(tmp_path: Path) -> None:
    """At f3de9bd: 1 to 6 of 8 trials hung (the handler re-entered the export lock)."""
    for trial in range(6):
        db = tmp_path / f"t{trial}.duckdb"
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(FLUSH_FOREVER), str(db), "3000"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(0.05 * trial)
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        assert time.monotonic() - started < 15, f"trial {trial}: SIGTERM took too long"
        assert proc.returncode == -signal.SIGTERM, err
        assert _counts(db) == (3000, 3000), f"trial {trial}"


def test_sigterm_with_a_slow_batch_exits_within_the_bound(db_path: Path) -> None:
    code = SLOW_EXIT + "\nimport time\ntime.sleep(60)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(db_path), "200", "3"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert time.monotonic() - started < 3 + 10, err  # exit_timeout, plus one small batch being written
    assert proc.returncode == -signal.SIGTERM, err
    assert _counts(db_path) == (600, 600)


# --- 4. and 5. one bad value costs that value; flush tells the truth ---------------------------
def _poison(kind: str) -> None:
    if kind == "huge int":
        trace.get_current_span().set_attribute("rows", 10**5000)
    elif kind == "surrogate attribute":
        trace.get_current_span().set_attribute("f", "\udcff")
    elif kind == "surrogate exception":
        raise FileNotFoundError("report-\udcff.csv")


@pytest.mark.parametrize("kind", ["huge int", "surrogate attribute", "surrogate exception", "surrogate session"])
def test_a_bad_value_costs_that_value_never_the_batch(configured: Path, kind: str) -> None:
    """At f3de9bd: each of these lost its whole batch (201 of 201 spans), and flush() said True."""
    tracer.flush()

    @tracer.trace_step
    def good(i: int) -> int:
        return i

    @tracer.trace_step
    def bad() -> None:
        _poison(kind)

    for i in range(100):
        good(i)
    try:
        if kind == "surrogate session":
            with tracer.trace_attributes(session_id="u-\udcff"):
                bad()
        else:
            bad()
    except FileNotFoundError:
        pass
    for i in range(100):
        good(i)
    assert tracer.flush()
    store = tracer.Store(configured)
    assert store.counts()["spans"] == 201
    with store.connect() as con:
        attrs, session = con.execute("SELECT attributes, session_id FROM spans WHERE name = 'bad'").fetchall()[0]
    replaced = json.loads(attrs).get(A.REPLACED, [])
    if kind == "huge int":
        assert replaced == ["rows"] and json.loads(attrs)["rows"] == "<int of 16610 bits>"
    elif kind == "surrogate attribute":
        assert replaced == ["f"] and json.loads(attrs)["f"] == "\ufffd"
    elif kind == "surrogate session":
        assert session == "u-\ufffd" and A.SESSION_ID in replaced


def test_flush_is_false_when_the_store_was_swapped_for_a_newer_one(configured: Path, tmp_path: Path) -> None:
    """A writer re-checks the store on every open; at f3de9bd it wrote into the newer file."""
    with tracer.span("before"):
        pass
    assert tracer.flush()
    # A real store, upgraded by "a newer Spyglass": every table is there, so a writer that
    # checked the version only once (f3de9bd) went on writing into it.
    newer = tmp_path / "newer.duckdb"
    tracer.configure(db=newer)
    assert tracer.flush()
    tracer.configure(db=configured)
    with duckdb.connect(str(newer)) as con:
        con.execute("UPDATE spyglass_meta SET value = '99' WHERE key = 'schema_version'")
    os.replace(newer, configured)
    digest = configured.read_bytes()
    for _ in range(10):
        with tracer.span("after"):
            pass
    assert not tracer.flush()
    assert tracer.stats().dropped_reasons == {"store refused: NewerSchemaError": 10}
    assert configured.read_bytes() == digest
    assert not (configured.parent / (configured.name + ".spool")).exists()
    tracer.configure(db=tmp_path / "fresh.duckdb")


# --- 6. configure() never raises into the app, never waits ------------------------------------
def test_configure_on_an_unwritable_path_logs_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """At f3de9bd: configure() raised StoreError into the app (read-only file system)."""
    db = "/proc/spyglass-no-such-dir/spans.duckdb"  # /proc refuses new files, even for root
    tracer.configure(db=db)
    assert "cannot write the store" in caplog.text
    for _ in range(7):
        with tracer.span("s"):
            pass
    assert not tracer.flush(timeout=10)
    assert tracer.stats().dropped_reasons == {"store and spool not writable": 7}
    tracer.configure(db=tmp_path / "fresh.duckdb")


def test_configure_on_a_directory_does_not_raise(tmp_path: Path) -> None:
    folder = tmp_path / "a-directory.duckdb"
    folder.mkdir()
    tracer.configure(db=folder)  # at f3de9bd: StoreError raised into the app
    with tracer.span("s"):
        pass
    assert not tracer.flush(timeout=10)
    assert tracer.stats().dropped_reasons == {"store refused: ForeignStoreError": 1}
    assert folder.is_dir() and not list(folder.iterdir())
    tracer.configure(db=tmp_path / "fresh.duckdb")


def test_configure_on_a_damaged_store_keeps_the_app_running_and_the_file_intact(tmp_path: Path) -> None:
    """At f3de9bd: configure() accepted a store cut in half, rewrote it and dropped every span
    while flush() said True."""
    db = tmp_path / "cut.duckdb"
    tracer.configure(db=db)
    for _ in range(2000):
        with tracer.span("old", input="x" * 300):
            pass
    assert tracer.flush()
    tracer.configure(db=tmp_path / "other.duckdb")
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)
    before = db.read_bytes()
    tracer.configure(db=db)  # logs, never raises
    for _ in range(5):
        with tracer.span("new"):
            pass
    assert not tracer.flush(timeout=10)
    assert tracer.stats().dropped_reasons == {"store refused: DamagedStoreError": 5}
    assert db.read_bytes() == before
    with pytest.raises(tracer.DamagedStoreError):
        tracer.Store(db).counts()
    tracer.configure(db=tmp_path / "fresh.duckdb")


def test_configure_does_not_wait_for_a_store_another_process_holds(db_path: Path) -> None:
    """At f3de9bd: configure() blocked 5.0 s."""
    tracer.configure(db=db_path)
    tracer.shutdown()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(30)",
            str(db_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        tracer.configure(db=db_path)
        assert time.monotonic() - started < 1.0
        with tracer.span("while held"):
            pass
        assert not tracer.flush(timeout=1)  # spooled, not yet in the file
        assert tracer.stats().spooled == 1
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert tracer.flush(timeout=30)
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM spans WHERE name = 'while held'").fetchall() == [(1,)]


# --- 9. ids ----------------------------------------------------------------------------------
def test_processes_that_seed_random_alike_get_distinct_ids(db_path: Path) -> None:
    """At f3de9bd: two processes calling random.seed(0) produced the same trace and span ids."""
    code = """
    import random, sys, tracer
    tracer.configure(db=sys.argv[1], grounding=False)
    random.seed(0)
    for i in range(20):
        with tracer.span("root"):
            with tracer.span("child"):
                pass
    assert tracer.flush(timeout=60)
    """
    for _ in range(2):
        proc = _run(code, str(db_path))
        assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT trace_id), count(DISTINCT span_id) FROM spans").fetchall() == [
            (40, 80)
        ]
