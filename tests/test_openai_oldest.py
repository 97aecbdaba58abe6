"""The openai tests against the OLDEST supported client (openai 1.40.0), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_OPENAI_OLDEST=1 python -m pytest tests/test_openai_oldest.py -q

The newest supported client is the one installed, exercised by the rest of the suite.
"""

from __future__ import annotations

from pathlib import Path

from ._oldest import opt_in, run_oldest

FLAG = "SPYGLASS_OPENAI_OLDEST"
OLDEST = "1.40.0"
# httpx 0.28 removed the ``proxies`` argument that openai 1.40 still passes.
EXTRA = ["httpx<0.28", "vcrpy>=6"]
FILES = ["tests/test_openai_cassettes.py", "tests/test_openai_synthetic.py", "tests/test_openai_instrumentation.py"]


@opt_in(FLAG)
def test_suite_passes_on_the_oldest_supported_openai(tmp_path: Path) -> None:
    run_oldest(FLAG, "openai", OLDEST, EXTRA, FILES, tmp_path, install_checkout=True)
