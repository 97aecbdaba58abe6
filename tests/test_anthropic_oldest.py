"""The anthropic tests against the OLDEST supported client (anthropic 0.45.0), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_ANTHROPIC_OLDEST=1 python -m pytest tests/test_anthropic_oldest.py -q

0.45 still has the legacy ``completions`` resource, so the completion cassette, skipped on
2.x, runs here. The newest supported client is the one installed, exercised by the rest of
the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OLDEST = "anthropic==0.45.0"  # 0.40-0.44: MessageStream re-reads the response itself (see docs)
# httpx 0.28 removed the ``proxies`` argument that clients of late 2024 still pass.
OLD_ENV = [
    OLDEST,
    "httpx<0.28",
    "vcrpy>=6",
    "pyyaml>=6",
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
FILES = ["tests/test_anthropic_cassettes.py", "tests/test_anthropic_synthetic.py"]


@pytest.mark.skipif(os.environ.get("SPYGLASS_ANTHROPIC_OLDEST") != "1", reason="opt-in: SPYGLASS_ANTHROPIC_OLDEST=1")
def test_suite_passes_on_the_oldest_supported_anthropic(tmp_path: Path) -> None:
    venv = Path(os.environ.get("SPYGLASS_ANTHROPIC_OLDEST_VENV", tmp_path / "venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *OLD_ENV], check=True, timeout=900)
    version = subprocess.run(
        [str(py), "-c", "import anthropic; print(anthropic.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert version == OLDEST.split("==")[1]
    proc = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *FILES],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "SPYGLASS_ANTHROPIC_OLDEST": "", "PYTHONPATH": str(REPO)},
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "no client.completions.create" not in proc.stdout  # the legacy cassette ran here
