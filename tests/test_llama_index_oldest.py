"""The LlamaIndex tests against the OLDEST supported llama-index-core (0.12.0), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_LLAMA_INDEX_OLDEST=1 python -m pytest tests/test_llama_index_oldest.py -q

``SPYGLASS_LLAMA_INDEX_OLDEST_VENV=/path`` reuses a venv built before. The newest supported
release is the one installed, exercised by the rest of the suite.
"""

from __future__ import annotations

from pathlib import Path

from ._oldest import opt_in, run_oldest

FLAG = "SPYGLASS_LLAMA_INDEX_OLDEST"
OLDEST = "0.12.0"
# openai and vcrpy for test_llama_index_openai.py (a LlamaIndex LLM over the real client,
# replayed): llama-index-core does not require them, and without them that file would skip.
EXTRA = ["openai", "vcrpy>=6", "pyyaml>=6", "pytest-timeout>=2.3"]
FILES = ["tests/test_llama_index.py", "tests/test_llama_index_openai.py"]


@opt_in(FLAG)
def test_suite_passes_on_the_oldest_supported_llama_index(tmp_path: Path) -> None:
    out = run_oldest(FLAG, "llama-index-core", OLDEST, EXTRA, FILES, tmp_path)
    assert " passed" in out and " skipped" not in out, out[-2000:]
