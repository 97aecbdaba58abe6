"""The grounding check on traced spans: at export time, and on demand with `spyglass check`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracer
from tracer import TraceFilter
from tracer import attributes as A

from .conftest import REPO

DOCS = [{"id": "kb-1", "content": "The L2 lamp battery lasts 12 hours and charges over USB-C in 3 hours."}]


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    """The store contract: every test here runs on a DuckDB file and on a PostgreSQL database."""
    return any_store_db


def _pipeline():
    @tracer.trace_retriever
    def retrieve(question: str) -> list[dict]:
        return DOCS

    @tracer.trace_llm(model="m")
    def answer(question: str, docs: list) -> str:
        if "made" in question:
            return "The battery lasts 12 hours. It is made in Norway by Fjord Power in 2019."
        return "The battery lasts 12 hours and charges over USB-C in 3 hours."

    @tracer.trace_step
    def rag(question: str) -> str:
        return answer(question, retrieve(question))

    return rag


def test_answers_are_checked_at_export(configured: Path, store: tracer.Store) -> None:
    rag = _pipeline()
    rag("How long does the battery last?")
    rag("Where is the battery made?")
    assert tracer.flush()
    evaluations = store.evaluations("grounding")
    assert sorted(e["label"] for e in evaluations) == ["grounded", "hallucination"]
    [bad] = [e for e in evaluations if e["label"] == "hallucination"]
    details = json.loads(bad["details"])
    output = "The battery lasts 12 hours. It is made in Norway by Fjord Power in 2019."
    [unsupported] = [s for s in details["sentences"] if not s["supported"]]
    assert output[unsupported["start"] : unsupported["end"]] == unsupported["text"]
    assert "Norway" in unsupported["text"] and bad["source"] == "export"
    # The evaluation is stored as the conventions' gen_ai.evaluation.result event of the LLM span.
    detail = store.get_trace(bad["trace_id"])
    assert detail is not None
    llm = next(s for s in detail["spans"] if s["span_type"] == "llm")
    assert llm["span_id"] == bad["span_id"] and len(detail["spans"]) == 3
    event = next(e for e in detail["events"] if e["name"] == A.GEN_AI_EVALUATION_RESULT_EVENT)
    assert event["span_id"] == llm["span_id"]
    attrs = json.loads(event["attributes"])
    assert attrs[A.GEN_AI_EVALUATION_SCORE_LABEL] == "hallucination" and attrs[A.GEN_AI_EVALUATION_NAME] == "grounding"
    [flagged] = store.list_traces(TraceFilter(hallucination=True))
    assert flagged["trace_id"] == bad["trace_id"] and flagged["suspected_hallucination"]


def test_export_time_check_can_be_switched_off(db_path: Path) -> None:
    tracer.configure(db=db_path, grounding=False)
    try:
        _pipeline()("Where is the battery made?")
        assert tracer.flush()
        assert tracer.Store(db_path).evaluations() == []
    finally:
        tracer.configure(db=db_path)


def test_spyglass_check_fills_in_what_export_did_not(db_path: Path) -> None:
    tracer.configure(db=db_path, grounding=False)
    try:
        rag = _pipeline()
        rag("How long does the battery last?")
        rag("Where is the battery made?")
        assert tracer.flush()
    finally:
        tracer.configure(db=db_path)
    cli = [sys.executable, "-m", "tracer.cli", "--db", str(db_path), "check"]
    first = subprocess.run(cli, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert first.returncode == 0, first.stderr
    assert "checked 2 of 2" in first.stdout and "1 suspected hallucinations" in first.stdout
    again = subprocess.run(cli, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert "checked 0 of 0" in again.stdout  # nothing is checked twice
    labels = sorted(e["label"] for e in tracer.Store(db_path).evaluations())
    assert labels == ["grounded", "hallucination"]


def test_a_broken_check_never_breaks_export(
    configured: Path, store: tracer.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracer import _evaluate
    from tracer._guard import set_raise_internal_errors

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("scorer exploded")

    monkeypatch.setattr(_evaluate, "check_span", boom)
    set_raise_internal_errors(False)
    _pipeline()("Where is the battery made?")
    assert tracer.flush()
    assert store.count_traces() == 1 and store.evaluations() == []


def test_grounding_threshold_sets_the_cut_for_every_check(db_path: Path) -> None:
    with pytest.raises(ValueError, match="probability"):
        tracer.configure(db=db_path, grounding_threshold=1.5)
    tracer.configure(db=db_path, grounding_threshold=0.999)
    try:
        _pipeline()("Where is the battery made?")  # flagged at the default cuts (the first test)
        assert tracer.flush()
    finally:
        tracer.configure(db=db_path)
    [row] = tracer.Store(db_path).evaluations("grounding")
    details = json.loads(row["details"])
    assert row["label"] == "grounded" and details["cuts"]["sentence"] == 0.999
