"""``spyglass view``: run the Streamlit app on a store.

The app finds its store in ``$SPYGLASS_DB`` (set here from ``--db``), like every other
``spyglass`` command, so no argument parsing happens inside the Streamlit script.

The server is a child process in a session of its own, so that this process decides how it
stops: SIGINT, SIGTERM or SIGHUP here is passed on to it, it gets ``STOP_TIMEOUT_S`` to
finish, then SIGKILL; ``run`` then returns ``128 + signal`` (130 for Ctrl-C, 143 for
SIGTERM), as a shell reports a command a signal stopped. On Linux the server also gets
SIGKILL when this process dies without running a handler (SIGKILL, a crash), so no server
is ever left serving the traces on its own.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType

from tracer.store import display_location, resolve_location

# Found next to this module, not in the working directory: works from any cwd and when installed.
APP_PATH = Path(__file__).resolve().parent / "app.py"
DEFAULT_HOST = "127.0.0.1"  # this machine only: traces hold prompts, documents and user data
DEFAULT_PORT = 8501
STOP_TIMEOUT_S = 5.0  # Streamlit stops in about 0.5 s after SIGINT or SIGTERM
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class PortUnavailable(Exception):
    """The server could not listen where it was asked to; the text says what to do instead."""


def streamlit_command(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(int(port)),
        "--server.headless",
        "true",  # no browser launch and no e-mail prompt on first run
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--theme.base",
        "light",
    ]


# --- the port ---------------------------------------------------------------------------
def _bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on ``host:port`` right now (``None``: it could)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return exc
    first: OSError | None = None
    bound = False
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as s:
            # As Tornado (Streamlit's server) binds: a port left in TIME_WAIT by a server that
            # just stopped is free to it, and an IPv6 socket does not claim the IPv4 port.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind(address)
                bound = True
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    return exc
                first = first or exc  # e.g. no IPv6 for "localhost": Tornado skips that address too
    return None if bound else first


def _free_port_after(host: str, port: int, tries: int = 20) -> int | None:
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        if _bind_error(host, candidate) is None:
            return candidate
    return None


def check_port(host: str, port: int) -> None:
    """Raise :class:`PortUnavailable` unless a server can listen on ``host:port`` now.

    Checked before anything else happens (a store written, a server started), so that a
    second ``spyglass view`` or ``spyglass demo`` on a port already serving fails at once."""
    if not 1 <= port <= 65535:
        raise PortUnavailable(f"--port must be between 1 and 65535, not {port}")
    exc = _bind_error(host, port)
    if exc is None:
        return
    if exc.errno == errno.EADDRINUSE:
        other = _free_port_after(host, port)
        hint = f"--port {other}" if other else "--port N"
        raise PortUnavailable(
            f"port {port} on {host} is in use (another `spyglass view` or `spyglass demo`?): stop that one, "
            f"or pass another port, e.g. {hint}"
        )
    if exc.errno == errno.EACCES:
        raise PortUnavailable(f"port {port} needs privileges to listen on; pass a port above 1023, e.g. --port 8501")
    reason = exc.strerror or str(exc)
    raise PortUnavailable(f"cannot listen on {host}:{port} ({reason}); check --host, or pass another --port N")


# --- the server process -----------------------------------------------------------------
# Run first in the server's process on Linux: ask the kernel for SIGKILL when its parent dies
# (prctl(PR_SET_PDEATHSIG), kept across exec), then become the server. Done in the child, not
# in a preexec_fn, which is unsafe in a process with threads (the demo's exporter runs some).
# The request follows the parent *thread*: ``run`` waits in the thread that started it.
_DIE_WITH_PARENT = f"""\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(ctypes.c_int({_PR_SET_PDEATHSIG}), ctypes.c_ulong(signal.SIGKILL))
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the parent died before the request took effect
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def _server_command(host: str, port: int) -> list[str]:
    command = streamlit_command(host, port)
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command[1:]]


def _signal_server(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the server's process group (the server and anything it started)."""
    if proc.poll() is not None:
        return  # already reaped: its group id may belong to someone else by now
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signum)
        elif signum == _KILL:  # Windows: no process groups, and no SIGKILL but terminate()
            proc.kill()
        else:
            proc.send_signal(signum)
    except ProcessLookupError:
        pass


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _StopHandler:
    """Turns a stop signal into :class:`_Stop` while armed; a no-op once disarmed, so a signal
    arriving while the handlers are being put back cannot raise out of ``run``."""

    def __init__(self) -> None:
        self.armed = True

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            raise _Stop(signum)


def _stop(proc: subprocess.Popen[bytes], signum: int) -> int:
    """Pass ``signum`` on, wait ``STOP_TIMEOUT_S`` for the server, then SIGKILL it; ``128 + signum``.
    A second stop signal meanwhile (an impatient Ctrl-C) kills it at once."""
    try:
        _signal_server(proc, signum)
        proc.wait(timeout=STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, _Stop, KeyboardInterrupt):
        # Nothing left to interrupt but the last wait; put back after it: a signal left ignored
        # here would be ignored by every process started from this one later (exec keeps SIG_IGN).
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
        try:
            _signal_server(proc, _KILL)
            proc.wait()  # a SIGKILLed process is reaped at once
        finally:
            for sig, before in previous.items():
                if before is not None:
                    signal.signal(sig, before)
    return 128 + signum


def run(db: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the viewer until stopped. Returns the server's exit status, or ``128 + signal``
    when a signal stopped this process (130 for Ctrl-C, 143 for SIGTERM)."""
    env = dict(os.environ, SPYGLASS_DB=resolve_location(db))
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    print(
        f"Spyglass viewer on {display_location(env['SPYGLASS_DB'])}: http://{shown}:{port}  (Ctrl-C to stop)",
        flush=True,
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {host}: anyone who can reach this address can read the traces",
            file=sys.stderr,
            flush=True,
        )
    # A session of its own: Ctrl-C at a terminal reaches this process only, and this process
    # passes it on (and can tell when to give up waiting).
    proc = subprocess.Popen(_server_command(host, port), env=env, start_new_session=True)
    handler = _StopHandler()
    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    try:
        try:
            for sig in _STOP_SIGNALS:
                # A signal ignored at start stays ignored (SIGINT in a background job, SIGHUP under nohup).
                if sig == signal.SIGTERM or previous[sig] != signal.SIG_IGN:
                    signal.signal(sig, handler)
            code = proc.wait()
        except _Stop as stop:
            return _stop(proc, stop.signum)
        except KeyboardInterrupt:  # Ctrl-C before our handler was in place
            return _stop(proc, signal.SIGINT)
        return code if code >= 0 else 128 - code  # the server killed by a signal: as a shell says it
    finally:
        handler.armed = False
        for sig, before in previous.items():
            if before is not None:  # None: a handler not set from Python; leave ours (a no-op now)
                signal.signal(sig, before)
