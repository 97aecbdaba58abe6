"""The openai tests against the OLDEST supported client (openai 1.40.0), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_OPENAI_OLDEST=1 python -m pytest tests/test_openai_oldest.py -q

The newest supported client is the one installed, exercised by the rest of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OLDEST = "openai==1.40.0"
# httpx 0.28 removed the ``proxies`` argument that openai 1.40 still passes.
OLD_ENV = [
    OLDEST,
    "httpx<0.28",
    "vcrpy>=6",
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "pydantic>=2",
    "opentelemetry-api>=1.27",
    "opentelemetry-sdk>=1.27",
    "wrapt>=1.16",
    "duckdb>=1.1",
    "pyarrow>=14",
]
REPO = Path(__file__).resolve().parent.parent
FILES = ["tests/test_openai_cassettes.py", "tests/test_openai_synthetic.py", "tests/test_openai_instrumentation.py"]


@pytest.mark.skipif(os.environ.get("SPYGLASS_OPENAI_OLDEST") != "1", reason="opt-in: SPYGLASS_OPENAI_OLDEST=1")
def test_suite_passes_on_the_oldest_supported_openai(tmp_path: Path) -> None:
    venv = Path(os.environ.get("SPYGLASS_OLDEST_VENV", tmp_path / "venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *OLD_ENV], check=True, timeout=900)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)], check=True, timeout=900)
    version = subprocess.run(
        [str(py), "-c", "import openai; print(openai.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert version == OLDEST.split("==")[1]
    proc = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", *FILES],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "SPYGLASS_OPENAI_OLDEST": ""},
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
