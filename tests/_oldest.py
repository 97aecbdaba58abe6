"""One runner for the opt-in "oldest supported release" tests: a venv of its own with the
oldest release pinned, then the library's test files run in it against this checkout.

Slow (a venv and a pip install), so each test is opt-in through its own variable, e.g.
``SPYGLASS_OPENAI_OLDEST=1``; ``<that variable>_VENV=/path`` reuses a venv built before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What every such venv needs besides the library itself: the SDK's dependencies and pytest.
BASE = [
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "pydantic>=2",
    "opentelemetry-api>=1.27",
    "opentelemetry-sdk>=1.27",
    "wrapt>=1.16",
    "duckdb>=1.1",
    "pyarrow>=14",
]


def opt_in(flag: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(os.environ.get(flag) != "1", reason=f"opt-in: {flag}=1")


def run_oldest(
    flag: str,
    distribution: str,
    version: str,
    extra: list[str],
    files: list[str],
    tmp_path: Path,
    *,
    install_checkout: bool = False,
) -> str:
    """Run ``files`` with ``distribution==version`` (and ``extra``) in a venv of their own;
    returns pytest's output. The checkout is put on the path (nothing is built into the repo),
    or, with ``install_checkout``, installed editable without dependencies, for tests that
    need its entry points."""
    venv = Path(os.environ.get(f"{flag}_VENV", tmp_path / "venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        pins = [f"{distribution}=={version}", *extra, *BASE]
        subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], check=True, timeout=900)
        if install_checkout:
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)], check=True, timeout=900
            )
    installed = subprocess.run(
        [str(py), "-c", f"from importlib.metadata import version; print(version({distribution!r}))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert installed == version
    proc = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, flag: ""} if install_checkout else {**os.environ, flag: "", "PYTHONPATH": str(REPO)},
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return proc.stdout
