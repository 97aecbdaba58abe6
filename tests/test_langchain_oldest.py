"""The LangChain tests against the OLDEST supported langchain-core (0.3.50), in a separate venv.

Slow (a venv and a pip install), so opt-in:

    SPYGLASS_LANGCHAIN_OLDEST=1 python -m pytest tests/test_langchain_oldest.py -q

``SPYGLASS_LANGCHAIN_OLDEST_VENV=/path`` reuses a venv built before. The venv also gets a
langchain-openai of the same era (with openai and vcrpy), so ``ChatOpenAI`` nesting over our
openai integration is covered on the old release too. The newest supported release is the
one installed, exercised by the rest of the suite.
"""

from __future__ import annotations

from pathlib import Path

from ._oldest import opt_in, run_oldest

FLAG = "SPYGLASS_LANGCHAIN_OLDEST"
OLDEST = "0.3.50"
# pip picks the newest langchain-openai 0.3.x that accepts langchain-core 0.3.50 (0.3.12, with
# openai 1.x). InMemoryVectorStore of 0.3 needs numpy, which langchain-core does not require.
EXTRA = ["langchain-openai>=0.3,<0.4", "numpy", "vcrpy>=6", "pyyaml>=6", "pytest-timeout>=2.3"]
FILES = ["tests/test_langchain.py", "tests/test_langchain_store.py"]


@opt_in(FLAG)
def test_suite_passes_on_the_oldest_supported_langchain(tmp_path: Path) -> None:
    out = run_oldest(FLAG, "langchain-core", OLDEST, EXTRA, FILES, tmp_path)
    assert " passed" in out and " skipped" not in out, out[-2000:]
