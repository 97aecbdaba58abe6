"""The Chroma and Qdrant tests against the OLDEST supported clients (chromadb 0.5.0, and
0.5.1 for its async client; qdrant-client 1.10.0), each in a venv of its own.

Slow (a venv and a pip install each), so opt-in, one variable per store:

    SPYGLASS_CHROMA_OLDEST=1 python -m pytest tests/test_vectorstores_oldest.py -q -k chroma
    SPYGLASS_CHROMA_ASYNC_OLDEST=1 python -m pytest tests/test_vectorstores_oldest.py -q -k async
    SPYGLASS_QDRANT_OLDEST=1 python -m pytest tests/test_vectorstores_oldest.py -q -k qdrant

``<variable>_VENV=/path`` reuses a venv built before. The newest supported releases are the
ones installed, exercised by the rest of the suite.
"""

from __future__ import annotations

from pathlib import Path

from ._oldest import opt_in, run_oldest

CHROMA_FLAG = "SPYGLASS_CHROMA_OLDEST"
CHROMA_OLDEST = "0.5.0"
CHROMA_EXTRA = [
    # chromadb 0.5.0 reads np.float_ at import (chromadb/api/types.py), gone in numpy 2, and
    # its chroma-hnswlib 0.7.3 wheels are built against numpy 1.x; it pins neither.
    "numpy<2",
    # pyarrow 26 refuses numpy 1.x at import ("pyarrow requires NumPy 2.0 or newer"); 25 is
    # the last that takes it (apache/arrow#48473).
    "pyarrow>=14,<26",
    "pytest-timeout>=2.3",  # the suite's [tool.pytest.ini_options] timeout
]
# The first release with AsyncHttpClient / AsyncCollection: the async test runs there too
# (against 0.5.1's own ``chroma run``, its uvicorn server). A flag of its own: a venv each.
CHROMA_ASYNC_FLAG = "SPYGLASS_CHROMA_ASYNC_OLDEST"
CHROMA_ASYNC_OLDEST = "0.5.1"
QDRANT_FLAG = "SPYGLASS_QDRANT_OLDEST"
QDRANT_OLDEST = "1.10.0"
QDRANT_EXTRA = ["pytest-timeout>=2.3"]


@opt_in(CHROMA_FLAG)
def test_suite_passes_on_the_oldest_supported_chroma(tmp_path: Path) -> None:
    out = run_oldest(CHROMA_FLAG, "chromadb", CHROMA_OLDEST, CHROMA_EXTRA, ["tests/test_chroma.py"], tmp_path)
    # 0.5.0 has no AsyncHttpClient / AsyncCollection: the async test, alone, skips there.
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert " passed" in out and all("no AsyncHttpClient" in line for line in skipped), out[-2000:]


@opt_in(CHROMA_ASYNC_FLAG)
def test_suite_passes_on_the_oldest_chroma_with_an_async_client(tmp_path: Path) -> None:
    files = ["tests/test_chroma.py"]
    out = run_oldest(CHROMA_ASYNC_FLAG, "chromadb", CHROMA_ASYNC_OLDEST, CHROMA_EXTRA, files, tmp_path)
    assert " passed" in out and " skipped" not in out, out[-2000:]


@opt_in(QDRANT_FLAG)
def test_suite_passes_on_the_oldest_supported_qdrant(tmp_path: Path) -> None:
    out = run_oldest(QDRANT_FLAG, "qdrant-client", QDRANT_OLDEST, QDRANT_EXTRA, ["tests/test_qdrant.py"], tmp_path)
    # 1.10 still has search/search_batch, so nothing is skipped there (the newest skips them).
    assert " passed" in out and " skipped" not in out, out[-2000:]
