"""The LlamaIndex tests against the OLDEST supported llama-index-core (0.12.0), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_LLAMA_INDEX_OLDEST=1 python -m pytest tests/test_llama_index_oldest.py -q

``SPYGLASS_OLDEST_VENV=/path`` reuses a venv built before. The newest supported release is
the one installed, exercised by the rest of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OLDEST = "llama-index-core==0.12.0"
OLD_ENV = [
    OLDEST,
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "pytest-timeout>=2.3",
    "pydantic>=2",
    "opentelemetry-api>=1.27",
    "opentelemetry-sdk>=1.27",
    "wrapt>=1.16",
    "duckdb>=1.1",
    "pyarrow>=14",
]
REPO = Path(__file__).resolve().parent.parent
# test_llama_index_openai.py needs openai and vcrpy, which this venv leaves out: it skips there.
FILES = ["tests/test_llama_index.py"]


@pytest.mark.skipif(
    os.environ.get("SPYGLASS_LLAMA_INDEX_OLDEST") != "1", reason="opt-in: SPYGLASS_LLAMA_INDEX_OLDEST=1"
)
def test_suite_passes_on_the_oldest_supported_llama_index(tmp_path: Path) -> None:
    venv = Path(os.environ.get("SPYGLASS_OLDEST_VENV", tmp_path / "venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *OLD_ENV], check=True, timeout=900)
    version = subprocess.run(
        [str(py), "-c", "from importlib.metadata import version; print(version('llama-index-core'))"],
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
        # The checkout on the path instead of an install: nothing is built into the repo.
        env={**os.environ, "SPYGLASS_LLAMA_INDEX_OLDEST": "", "PYTHONPATH": str(REPO)},
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " skipped" not in proc.stdout, proc.stdout[-2000:]
