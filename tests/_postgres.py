"""A throwaway PostgreSQL server for the tests: a real ``postgres`` in a temp dir (on /dev/shm
when there is one), on a free port.

Tuned for speed, not durability (no fsync, no synchronous commit, no full-page writes): a test
server holds nothing worth keeping. Runs as the ``postgres`` system user when we are root,
since ``initdb`` and ``postgres`` refuse to run as root.

A test run that is killed leaves its server running (``pg_ctl`` daemonizes it); the next
``PostgresServer`` stops and removes any server whose owning process is gone (``owner.pid``
in each server's temp dir), so orphans never pile up.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

PREFIX = "spyglass-pg-"
USER = "spyglass"
# Loaded into postgresql.conf so a restart (the outage tests) keeps the port and the settings.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    # Fewer idle background wakeups on a 2-core machine that also runs the tests.
    "autovacuum": "off",
    "shared_buffers": "32MB",
}


class PostgresUnavailable(RuntimeError):
    """Something the server needs is not installed: the tests skip (or fail under CI=true)."""


class PostgresError(RuntimeError):
    """The server is installed but could not be set up or started: always a test error."""


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
    # Debian installs each major version side by side; the newest wins.
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    candidates += [Path(d) for d in debian]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found via `pg_config --bindir`, "
        "/usr/lib/postgresql/*/bin or PATH (apt-get install -y postgresql)"
    )


def _major(bindir: str) -> int:
    version = Path(bindir).parent.name
    return int(version) if version.isdigit() else 0


def _bases() -> list[str]:
    """Where a server's temp dir may go, preferred first. A RAM disk when there is one: CREATE
    DATABASE on this machine's root file system took 80-200 ms against 10-15 ms on /dev/shm
    (the files it creates and unlinks, not the bytes); a test server's few hundred MB fit in RAM."""
    shm = "/dev/shm"
    bases = [tempfile.gettempdir()]
    with contextlib.suppress(OSError):
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and st.f_bavail * st.f_frsize >= 2 << 30:
            bases.insert(0, shm)
    return bases


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_postmaster(data: Path) -> None:
    """Immediate stop (SIGQUIT) of the postmaster named by the first line of postmaster.pid."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGQUIT)


class PostgresServer:
    """One PostgreSQL cluster in its own temp dir; ``start()`` it, ``close()`` it when done."""

    def __init__(self, bindir: Path | None = None) -> None:
        try:
            import psycopg  # noqa: F401 - checked here so a missing driver reads as "unavailable"
        except ImportError as exc:
            raise PostgresUnavailable(f"psycopg is not installed (pip install 'psycopg[binary]'): {exc}") from exc
        self.bindir = bindir or find_bindir()
        self._run_as = self._user_prefix()
        self._sweep_orphans()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_bases()[0]))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = _free_port()
        self.is_running = False
        self._names = itertools.count(1)
        self._conn: Any = None  # psycopg.Connection, imported lazily like psycopg everywhere here
        try:
            self._initdb()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # --- setup ------------------------------------------------------------------------------

    def _user_prefix(self) -> list[str]:
        """Run the server's tools as ``postgres`` when root (they refuse root), else as we are."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no `postgres` user to run the server") from exc
        if runuser := shutil.which("runuser"):
            return [runuser, "-u", "postgres", "--"]
        if setpriv := shutil.which("setpriv"):
            return [setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        raise PostgresUnavailable("running as root and neither runuser nor setpriv is there to drop to `postgres`")

    def _tool(self, name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [*self._run_as, str(self.bindir / name), *args]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"{name} took more than {timeout} s: {' '.join(cmd)}\n{self._log_tail()}") from exc
        if done.returncode != 0:
            raise PostgresError(
                f"{name} failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}{done.stderr}{self._log_tail()}"
            )
        return done

    def _initdb(self) -> None:
        if self._run_as:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        # Trust auth on 127.0.0.1 and the socket: the server lives for one test session.
        self._tool("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8")
        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self.root}'"}
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# tests/_postgres.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n--- postgres log ---\n" + "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    @staticmethod
    def _sweep_orphans() -> None:
        """Stop and remove the servers of test runs that were killed before their cleanup."""
        for root in (r for base in _bases() for r in glob.glob(os.path.join(base, PREFIX + "*"))):
            try:
                owner = int(Path(root, "owner.pid").read_text())
            except (OSError, ValueError):
                continue  # not ours, or still being set up
            if _pid_alive(owner):
                continue
            _kill_postmaster(Path(root, "data"))
            shutil.rmtree(root, ignore_errors=True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server (again, after ``stop()``: same port, same data) and wait until it accepts."""
        self._tool("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-s")
        self.is_running = True

    def stop(self) -> None:
        """Fast shutdown: open connections are dropped, committed data stays."""
        self._close_admin()
        self._tool("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "-s")
        self.is_running = False

    def close(self) -> None:
        """Stop the server if it runs and remove its temp dir."""
        try:
            self._close_admin()
            if (self.data / "postmaster.pid").exists():
                try:
                    self.stop()
                except PostgresError:
                    _kill_postmaster(self.data)  # crashed or stuck: don't leave it behind
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- databases --------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def _admin_conn(self) -> Any:
        """One autocommit connection to ``postgres`` (CREATE/DROP DATABASE refuse a transaction),
        kept between calls: a connect costs about as much as the CREATE itself."""
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10)
        return self._conn

    def _close_admin(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def new_name(self, hint: str) -> str:
        """A database name never used on this server, readable in its log (``t12_test_foo``)."""
        stem = re.sub(r"[^a-z0-9_]+", "_", hint.lower())[:40]
        return f"t{next(self._names)}_{stem}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        from psycopg import sql

        conn = self._admin_conn()
        # template0 is always empty (template1 could pick up objects; both cost the same); FILE_COPY
        # (15+) measured 10-12 ms against 16-21 ms for the default WAL_LOG: no fsync to pay for.
        strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0" + strategy).format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop it, ending any connection a test left open."""
        from psycopg import sql

        conn = self._admin_conn()
        # A connection the test just closed takes a few ms to leave; DROP would find it there and
        # sleep 100 ms before looking again (measured: 80 ms a drop instead of 14), so wait briefly.
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
            if not row[0]:
                break
            time.sleep(0.002)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
