"""``spyglass view``: run the Streamlit app on a store.

The app finds its store in ``$SPYGLASS_DB`` (set here from ``--db``), like every other
``spyglass`` command, so no argument parsing happens inside the Streamlit script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Found next to this module, not in the working directory: works from any cwd and when installed.
APP_PATH = Path(__file__).resolve().parent / "app.py"
DEFAULT_HOST = "127.0.0.1"  # this machine only: traces hold prompts, documents and user data
DEFAULT_PORT = 8501


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


def run(db: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the viewer until Ctrl-C; returns the server's exit status."""
    env = dict(os.environ, SPYGLASS_DB=os.path.abspath(db))
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    print(f"Spyglass viewer on {env['SPYGLASS_DB']}: http://{shown}:{port}  (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {host}: anyone who can reach this address can read the traces",
            file=sys.stderr,
            flush=True,
        )
    proc = subprocess.Popen(streamlit_command(host, port), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the server too (same process group); let it finish
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
