"""The anthropic tests against the OLDEST supported client (anthropic 0.45.0), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_ANTHROPIC_OLDEST=1 python -m pytest tests/test_anthropic_oldest.py -q

0.45 still has the legacy ``completions`` resource, so the completion cassette, skipped on
2.x, runs here. The newest supported client is the one installed, exercised by the rest of
the suite.
"""

from __future__ import annotations

from pathlib import Path

from ._oldest import opt_in, run_oldest

FLAG = "SPYGLASS_ANTHROPIC_OLDEST"
OLDEST = "0.45.0"  # 0.40-0.44: MessageStream re-reads the response itself (see docs)
# httpx 0.28 removed the ``proxies`` argument that clients of late 2024 still pass.
EXTRA = ["httpx<0.28", "vcrpy>=6", "pyyaml>=6"]
FILES = ["tests/test_anthropic_cassettes.py", "tests/test_anthropic_synthetic.py"]


@opt_in(FLAG)
def test_suite_passes_on_the_oldest_supported_anthropic(tmp_path: Path) -> None:
    out = run_oldest(FLAG, "anthropic", OLDEST, EXTRA, FILES, tmp_path)
    assert "no client.completions.create" not in out  # the legacy cassette ran here
