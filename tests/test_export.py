"""`spyglass export --format jsonl`: an eval dataset from a store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracer

from .conftest import REPO


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    """The store contract: every test here runs on a DuckDB file and on a PostgreSQL database."""
    return any_store_db


def _store(configured: Path) -> tracer.Store:
    @tracer.trace_retriever
    def retrieve(question: str) -> list[dict]:
        return [{"id": "d1", "content": "The lamp has five brightness levels."}]

    @tracer.trace_llm(model="m")
    def answer(question: str, docs: list) -> str:
        return "It has seven levels." if "seven" in question else "It has five levels."

    @tracer.trace_step
    def rag(question: str) -> str:
        return answer(question, retrieve(question))

    rag("How many levels? (seven)")
    rag("How many levels?")
    assert tracer.flush()
    return tracer.Store(configured)


def test_export_jsonl_with_labels_from_annotations_and_checks(configured: Path, tmp_path: Path) -> None:
    store = _store(configured)
    spans = store.llm_spans()
    wrong = next(s for s in spans if "seven" in json.dumps(s["attributes"]))
    store.annotate(wrong["trace_id"], "hallucination", "says seven, the doc says five")
    right = next(s for s in spans if s is not wrong)
    store.add_evaluations(
        [
            {
                "trace_id": right["trace_id"],
                "span_id": right["span_id"],
                "name": "grounding",
                "score": 0.9,
                "label": "grounded",
                "explanation": "all sentences supported",
            }
        ]
    )
    out = tmp_path / "dataset.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "--db", str(configured), "export", "--format", "jsonl", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "2 records written" in done.stderr
    records = {r["trace_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    bad, good = records[wrong["trace_id"]], records[right["trace_id"]]
    assert bad == {
        "trace_id": wrong["trace_id"],
        "span_id": wrong["span_id"],
        "question": "How many levels? (seven)",
        "context": [{"id": "d1", "content": "The lamp has five brightness levels."}],
        "output": "It has seven levels.",
        "outcome": "delivered",
        "label": "hallucination",
        "label_source": "annotation",
        "note": "says seven, the doc says five",
    }
    assert (good["label"], good["label_source"], good["note"]) == (
        "grounded",
        "grounding_check",
        "all sentences supported",
    )
    labelled = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "--db", str(configured), "export", "--labelled-only"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert len(labelled.stdout.splitlines()) == 2
