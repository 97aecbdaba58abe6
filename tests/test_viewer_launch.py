"""``spyglass view`` and ``spyglass demo`` as processes: the port checked before anything is
written, a demo store holding someone's work never replaced without asking, a bad store
refused before serving, and the server stopped with its parent (SIGINT, SIGTERM, SIGKILL).

Every process is real: the CLI started with this interpreter, real ports (a listening socket
stands for "in use"), real DuckDB files; servers are health-checked on ``/_stcore/health``.
"""

from __future__ import annotations

import hashlib
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import tracer

from . import _viewer_store as vs
from ._procs import REPO, start_writer

pytest.importorskip("streamlit")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG")
CLI = [sys.executable, "-m", "tracer.cli"]
# Children of a background job start with SIGINT ignored, and Python keeps it so; a user's
# Ctrl-C comes from a terminal, where it is not. The CLI started the way a terminal would.
CLI_AS_FROM_A_TERMINAL = [
    sys.executable,
    "-c",
    (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from tracer.cli import main; sys.exit(main(sys.argv[1:]))"
    ),
]
NO_KEY = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # the demo's local stand-in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def occupied_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def spyglass(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=NO_KEY)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def refused(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, one ``spyglass: ...`` sentence naming each of ``expected``, no server started."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Spyglass viewer on" not in done.stdout, (done.stdout, done.stderr)
    message = done.stderr.strip()
    assert message.startswith("spyglass: ") and len(message.splitlines()) == 1, message
    for text in expected:
        assert text in message, message
    return message


# --- processes -----------------------------------------------------------------------------------
def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by whoever adopted it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _parent_of(int(e)) == pid]


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@contextmanager
def serving(db: Path, cli: list[str] = CLI) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """``spyglass view --db db`` on a free port, healthy: (the CLI process, its server's pid, port).
    Whatever the test does to them, both are gone afterwards (stopped by their pids)."""
    port = _free_port()
    log = open(db.parent / "server.log", "wb")  # noqa: SIM115 - written by the server until the end
    proc = subprocess.Popen(
        [*cli, "view", "--db", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a signal the test sends reaches the CLI process only
        cwd=REPO,
    )
    server: list[int] = []
    try:
        if not _until(lambda: healthy(port) or proc.poll() is not None, 30) or proc.poll() is not None:
            log.flush()
            pytest.fail(f"spyglass view did not start: {(db.parent / 'server.log').read_text()}")
        server = _children(proc.pid)
        assert len(server) == 1, server
        yield proc, server[0], port
    finally:
        for pid in (proc.pid, *server):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("launch") / "spyglass.duckdb"
    vs.build(path)
    return path


@pytest.fixture
def store(store_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "spyglass.duckdb"
    shutil.copy(store_file, path)
    return path


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "spyglass-demo.duckdb"
    done = spyglass("demo", "--no-view", "--db", str(path), timeout=120)
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def demo_with_notes(demo_file: Path, tmp_path: Path) -> Path:
    """A demo store someone annotated two traces of, in the viewer."""
    path = tmp_path / "spyglass-demo.duckdb"
    shutil.copy(demo_file, path)
    store = tracer.Store(path)
    for t in store.list_traces(limit=2):
        store.annotate(t["trace_id"], "hallucination", "made up the warranty")
    assert len(store.annotations()) == 2
    return path


# --- A: the port first, and a demo store holding work is never replaced without asking ------------
def test_view_on_a_port_in_use_fails_before_serving(store: Path) -> None:
    with occupied_port() as port:
        started = time.monotonic()
        message = refused(spyglass("--db", str(store), "view", "--port", str(port)), str(port), "--port")
        assert time.monotonic() - started < 10
    assert "in use" in message


def test_demo_on_a_port_in_use_writes_nothing(demo_with_notes: Path) -> None:
    before = digest(demo_with_notes)
    with occupied_port() as port:
        refused(spyglass("demo", "--db", str(demo_with_notes), "--port", str(port)), str(port), "--port")
    assert digest(demo_with_notes) == before
    assert len(tracer.Store(demo_with_notes).annotations()) == 2


def test_demo_run_again_on_a_port_in_use_by_a_running_demo_writes_nothing(demo_with_notes: Path) -> None:
    """The issue's case: the first one still serves its store on that port."""
    with serving(demo_with_notes) as (_, _, port):
        before = digest(demo_with_notes)
        refused(spyglass("demo", "--db", str(demo_with_notes), "--port", str(port)), str(port), "--port")
        assert digest(demo_with_notes) == before
        assert healthy(port)  # the first one is untouched too


def test_demo_refuses_to_replace_a_store_with_annotations(demo_with_notes: Path) -> None:
    before = digest(demo_with_notes)
    message = refused(spyglass("demo", "--no-view", "--db", str(demo_with_notes)), "2 annotations", "--force", "--db")
    assert "left untouched" in message
    assert digest(demo_with_notes) == before


def test_demo_refuses_to_replace_a_store_with_traces_of_another_app(tmp_path: Path) -> None:
    path = tmp_path / "app.duckdb"
    writer = start_writer(path, 3, "app")
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    before = digest(path)
    refused(spyglass("demo", "--no-view", "--db", str(path)), "3 traces", "--force")
    assert digest(path) == before
    assert tracer.Store(path).count_traces() == 3


def test_demo_force_replaces_it(demo_with_notes: Path) -> None:
    done = spyglass("demo", "--no-view", "--force", "--db", str(demo_with_notes), timeout=120)
    assert done.returncode == 0, done.stderr
    store = tracer.Store(demo_with_notes)
    assert store.annotations() == [] and store.count_traces() == 8


def test_demo_replaces_a_store_it_wrote_itself_without_asking(demo_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "spyglass-demo.duckdb"
    shutil.copy(demo_file, path)
    old = {t["trace_id"] for t in tracer.Store(path).list_traces()}
    done = spyglass("demo", "--no-view", "--db", str(path), timeout=120)
    assert done.returncode == 0, done.stderr
    new = {t["trace_id"] for t in tracer.Store(path).list_traces()}
    assert len(new) == 8 and not new & old  # a fresh set, not appended to the old one


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr; answer its question."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=NO_KEY)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while b"[y/N]" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:  # the child closed the terminal: it asked nothing
                    break
        os.write(master, answer)
        rc = proc.wait(timeout=120)
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
    return rc, out.decode(errors="replace")


def test_demo_on_a_terminal_asks_and_no_keeps_the_store(demo_with_notes: Path) -> None:
    before = digest(demo_with_notes)
    rc, out = _on_a_terminal(["demo", "--no-view", "--db", str(demo_with_notes)], b"n\n")
    assert rc == 2, out
    assert "2 annotations" in out and "[y/N]" in out, out
    assert digest(demo_with_notes) == before


def test_demo_on_a_terminal_asks_and_yes_replaces_it(demo_with_notes: Path) -> None:
    rc, out = _on_a_terminal(["demo", "--no-view", "--db", str(demo_with_notes)], b"y\n")
    assert rc == 0, out
    assert tracer.Store(demo_with_notes).annotations() == []


# --- B: the server stops with the command ------------------------------------------------------
@linux_only
def test_sigterm_stops_the_server_and_exits_143(store: Path) -> None:
    with serving(store) as (proc, server, port):
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)  # the CLI process alone, as `kill PID` or a supervisor does
        assert proc.wait(timeout=15) == 143
        assert time.monotonic() - started < 5
        assert _until(lambda: not _alive(server), 2), "the server outlived spyglass view"
        assert not healthy(port)


@linux_only
def test_sigint_stops_the_server_promptly_and_exits_130(store: Path) -> None:
    with serving(store, CLI_AS_FROM_A_TERMINAL) as (proc, server, port):
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=15) == 130
        assert time.monotonic() - started < 5  # was 10.4 s, then a SIGKILL (rc 247)
        assert _until(lambda: not _alive(server), 2), "the server outlived spyglass view"
        assert not healthy(port)


@linux_only
def test_the_server_dies_with_its_parent_even_on_sigkill(store: Path) -> None:
    with serving(store) as (proc, server, port):
        os.kill(proc.pid, signal.SIGKILL)  # no handler runs: the OS has to take the server down
        proc.wait(timeout=10)
        assert _until(lambda: not _alive(server), 5), "the server outlived spyglass view"
        assert _until(lambda: not healthy(port), 5)


def test_a_server_that_ignores_the_signal_is_killed_after_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from viewer import _launch

    monkeypatch.setattr(_launch, "STOP_TIMEOUT_S", 0.5)
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"1\n"  # its handler is in place
        started = time.monotonic()
        assert _launch._stop(stubborn, signal.SIGTERM) == 143
        assert 0.5 <= time.monotonic() - started < 3
        assert stubborn.returncode == -signal.SIGKILL
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.wait(timeout=10)
        if stubborn.stdout is not None:
            stubborn.stdout.close()


# --- C: a bad store, refused before serving; a permanent error never says Refresh ---------------
@pytest.mark.parametrize("case", ["missing", "text file", "directory"])
def test_view_on_a_bad_store_exits_2_and_serves_nothing(case: str, tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    if case == "text file":
        path.write_text("not a database")
    elif case == "directory":
        path.mkdir()
    port = _free_port()
    started = time.monotonic()
    expected = {"missing": "no Spyglass store", "text file": "not a DuckDB database", "directory": "is a directory"}
    refused(spyglass("--db", str(path), "view", "--port", str(port)), expected[case])
    assert time.monotonic() - started < 10 and not healthy(port)
    assert path.exists() == (case != "missing")


@pytest.mark.parametrize("case", ["directory", "text file"])
def test_viewer_on_a_store_replaced_after_start_shows_a_permanent_error(
    case: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viewer import _data

    _data.store.clear()
    at = vs.run(vs.app_on(store, monkeypatch))
    assert not at.error and not at.warning
    store.unlink()
    if case == "directory":
        store.mkdir()
    else:
        store.write_text("not a database")
    _data.clear_caches()  # as the Refresh button does
    vs.run(at)
    assert len(at.error) == 1 and not at.warning and not at.info, [m.value for m in (*at.warning, *at.info)]
    message = at.error[0].value.replace("\\", "")
    assert "is a directory" in message if case == "directory" else "not a DuckDB database" in message
    assert "Refresh" not in message and "at this moment" not in message
    assert "This file" not in message or case != "directory", message  # a directory is not a file
