"""'Check this answer with …' on the trace screen (AppTest): run another scorer on a stored LLM
call, store it as ``grounding/<scorer>``, and compare it with the default check."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracer
from viewer import _check_with
from viewer import _grounding as G

from . import _viewer_store as vs


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "spyglass.duckdb"
    return path, vs.build(path)


def _form(at, span_id: str):
    key = f"checkwith-{span_id}"
    return at.selectbox(key=f"{key}-scorer"), at.button(key=f"{key}-go"), key


def test_check_with_another_scorer_stores_it_and_compares(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = built
    trace_id = ids["rag_pipeline"]
    span_id = vs.llm_span(path, trace_id)
    at = vs.run(vs.app_on(path, monkeypatch), trace=trace_id, span=span_id)
    scorer = _form(at, span_id)[0]
    assert "offline-v1" in scorer.options and "llm-judge" in scorer.options
    scorer.set_value("offline-v1").run()
    _form(at, span_id)[1].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Checked with grounding" in s.value and "offline" in s.value for s in at.success)
    names = [e["name"] for e in tracer.Store(path).evaluations() if e["span_id"] == span_id]
    assert names.count("grounding/offline-v1") == 1 and "grounding" in names
    table = next(d.value for d in at.dataframe if "scorer" in d.value.columns)
    assert list(table["scorer"]) == ["grounding", "lexical-model-v1"]  # the default first


def test_a_missing_detector_is_a_message_not_a_crash(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path, ids = built
    trace_id = ids["rag_pipeline"]
    span_id = vs.llm_span(path, trace_id)
    at = vs.run(vs.app_on(path, monkeypatch), trace=trace_id, span=span_id)
    scorer, _, key = _form(at, span_id)
    scorer.set_value(_check_with.MODEL_CHOICE).run()
    at.text_input(key=f"{key}-model").set_value(str(tmp_path / "nowhere")).run()
    _form(at, span_id)[1].click().run()
    assert not at.exception
    assert any("no model folder" in e.value for e in at.error)
    assert not [e for e in tracer.Store(path).evaluations() if e["name"].startswith("grounding/")]


def test_comparison_rows_rank_sentences_by_probability() -> None:
    def sentence(text: str, supported: bool, probability: float) -> G.Sentence:
        return G.Sentence(text, None, None, supported, 1 - probability, None, probability=probability)

    g = G.Grounding("hallucination", 0.1, None, (sentence("a", False, 0.6), sentence("b", False, 0.9)), scorer="x")
    [row] = _check_with.comparison([("grounding/x", g)])
    assert row == {
        "scorer": "x",
        "verdict": "hallucination suspected",
        "P(unsupported)": 0.9,
        "unsupported": "2 of 2",
        "sentences": "2: b | 1: a",
    }
