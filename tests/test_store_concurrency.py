"""Several processes writing one store while a reader queries it: nothing lost, no lock
error reaching anyone. These run real processes on a real DuckDB file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

import tracer
from tracer.store import _spool

from ._procs import start_writer


def _plain_count(db: Path, table: str = "spans") -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()


def test_four_writers_and_a_reader_lose_nothing(db_path: Path) -> None:
    writers = [start_writer(db_path, 5_000, f"w{i}") for i in range(4)]
    store = tracer.Store(db_path)
    reads = 0
    seen: list[int] = []
    deadline = time.monotonic() + 300
    while any(w.poll() is None for w in writers):
        assert time.monotonic() < deadline, "writers still running after 300 s"
        if db_path.exists():
            seen.append(store.counts()["spans"])  # must never raise a lock error
            store.list_traces(limit=20)
            reads += 1
        time.sleep(0.01)
    for w in writers:
        _out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        assert "Traceback" not in err
    assert reads > 5
    assert seen == sorted(seen), "a reader must never see rows disappear"
    # Every writer flushed and exited: plain SQL on the file sees every span.
    assert _plain_count(db_path) == 20_000
    assert _plain_count(db_path, "traces") == 20_000
    con = duckdb.connect(str(db_path), read_only=True)
    per_tag = dict(con.execute("SELECT tags[1], count(*) FROM spans GROUP BY 1").fetchall())
    con.close()
    assert per_tag == {f"w{i}": 5_000 for i in range(4)}
    assert _spool.pending(str(db_path)) == []


def test_sigkill_of_a_writer_leaves_a_readable_store(db_path: Path) -> None:
    tracer.configure(db=db_path)

    @tracer.trace_step
    def before() -> str:
        return "written before the crash"

    before()
    assert tracer.flush()
    victim = start_writer(db_path, 1_000_000, "victim", env={"WRITER_PACE": "0.0001"})
    time.sleep(2.0)  # long enough for several batches to be ingested or spooled
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    store = tracer.Store(db_path)
    counts = store.counts()
    assert counts["spans"] >= 1
    # The store stays writable and readable by plain SQL after the crash.
    before()
    assert tracer.flush()
    assert _plain_count(db_path) == store.counts()["spans"]
    assert any(t["root_name"] == "before" for t in store.list_traces(limit=1000))


def test_reader_sees_spooled_spans_while_lock_is_held_elsewhere(db_path: Path, tmp_path: Path) -> None:
    tracer.configure(db=db_path)

    @tracer.trace_step
    def step(i: int) -> int:
        return i

    step(0)
    assert tracer.flush()
    # Another process holds the file read-only (like a user's SQL session): writers
    # cannot take the write lock, so batches go to the spool.
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys, time, pathlib; c = duckdb.connect(sys.argv[1], read_only=True); "
                "pathlib.Path(sys.argv[2]).touch(); time.sleep(30)"
            ),
            str(db_path),
            str(ready),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the read-only holder did not start"
            time.sleep(0.01)
        for i in range(1, 6):
            step(i)
        assert tracer.flush(timeout=0.5) is False  # cannot ingest yet: says so
        assert len(_spool.pending(str(db_path))) >= 1
        store = tracer.Store(db_path)
        assert store.counts()["spans"] == 6  # ingested + spooled, both visible
        assert len(store.list_traces()) == 6
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert tracer.flush()
    assert _spool.pending(str(db_path)) == []
    assert _plain_count(db_path) == 6


def test_sigterm_flushes_before_dying(db_path: Path) -> None:
    proc = start_writer(db_path, 50, "term", finish="print('ready', flush=True); time.sleep(60)")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGTERM  # the default action still happens
    assert _plain_count(db_path) == 50


def test_exit_without_flush_still_stores_everything(db_path: Path) -> None:
    proc = start_writer(db_path, 300, "atexit", finish="pass")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert _plain_count(db_path) == 300


def test_spans_dropped_when_queue_is_full_are_counted(db_path: Path) -> None:
    tracer.configure(db=db_path, max_queue_size=10, schedule_delay=3600)

    @tracer.trace_step
    def step() -> None:
        return None

    before = tracer.stats().dropped
    for _ in range(100):
        step()
    dropped = tracer.stats().dropped - before
    assert dropped >= 80
    assert tracer.stats().dropped_reasons == {"queue full": dropped}
    assert not tracer.flush()  # it covered spans that were lost: it says so
    assert tracer.flush()  # nothing lost since the previous flush
    counts = tracer.Store(db_path).counts()
    assert counts["dropped_spans"] == dropped
    assert counts["spans"] == 100 - dropped
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT reason, sum(count) FROM dropped_spans GROUP BY 1").fetchall() == [
            ("queue full", dropped)
        ]
    tracer.configure(db=db_path)  # back to defaults for later tests


def test_flush_returns_while_other_threads_keep_tracing(db_path: Path) -> None:
    """flush() exports what ended before it was called; a steady stream of new spans must
    not keep it (or configure(), or exit) waiting for an empty queue that never comes."""
    import threading

    tracer.configure(db=db_path, grounding=False)
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            with tracer.span("busy"):
                pass

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        time.sleep(0.3)
        before = tracer.stats().exported
        started = time.monotonic()
        tracer.flush(timeout=2.0)
        assert time.monotonic() - started < 15  # bounded by the timeout plus one batch, not by the load
        assert tracer.stats().exported > before
    finally:
        stop.set()
        worker.join(timeout=60)
    assert tracer.flush()
    tracer.configure(db=db_path)
