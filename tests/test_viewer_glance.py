"""The top of the trace screen (AppTest and pure functions): the question and the answer the
user received first, the unsupported sentences least-supported first with the numbers and
names no document holds; streamed calls marked in the tree; a sub-millisecond span drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from viewer import _glance, _trace_detail
from viewer import _grounding as G
from viewer._tree import tree, waterfall

from . import _viewer_store as vs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("glance") / "spyglass.duckdb"
    return path, vs.build(path)


def test_question_and_received_answer_come_first(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = built
    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["rag_pipeline"])
    markdown = [m.value for m in at.markdown]
    texts = [t.value for t in at.text]
    assert "**Question**" in markdown and "**Answer** · what the user received" in markdown
    # the glance's texts come before any panel's: the question, then what the user got
    # (the rag answer was blocked by the secret filter)
    assert texts.index(vs.QUESTION) < texts.index("[answer withheld by the secret filter]")
    assert texts.index(vs.QUESTION) == min(i for i, t in enumerate(texts) if vs.QUESTION in t)


def test_a_suspected_answer_shows_its_unsupported_facts_on_top(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = built
    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["xss_pipeline"])
    badge = next(m.value for m in at.markdown if "unsupported by the context" in m.value)
    assert "names in no document" in badge and badge.endswith("bold")
    assert any(c.value == "sentence 1 · P(unsupported) 1.00" for c in at.caption)
    assert vs.XSS_OUTPUT in [t.value for t in at.text]  # as text, never as HTML


def test_unsupported_sentences_likeliest_first() -> None:
    def sentence(text: str, supported: bool, score: float | None) -> G.Sentence:
        probability = None if score is None else 1 - score
        return G.Sentence(text, None, None, supported, score, None, probability=probability)

    g = G.Grounding(
        "hallucination",
        0.2,
        None,
        (
            sentence("a", False, 0.4),
            sentence("b", True, 0.9),
            sentence("c", False, None),
            sentence("d", False, 0.1),
        ),
    )
    assert [(i, s.text) for i, s in _glance.unsupported_first(g)] == [(4, "d"), (1, "a"), (3, "c")]


def _span(span_id: str, parent: str | None, start_us: int, duration_ms: float, **attributes: object) -> dict:
    import datetime as dt

    return {
        "span_id": span_id,
        "parent_span_id": parent,
        "name": span_id,
        "span_type": "llm" if attributes else "step",
        "start_time": dt.datetime(2026, 1, 1) + dt.timedelta(microseconds=start_us),
        "duration_ms": duration_ms,
        "attributes": attributes,
    }


def test_a_streamed_call_is_marked_in_the_tree() -> None:
    spans = [
        _span("root", None, 0, 2000.0),
        _span("chat", "root", 10, 1500.0, **{"gen_ai.request.stream": True, "gen_ai.request.model": "m"}),
        _span("plain", "root", 20, 10.0, **{"gen_ai.request.model": "m"}),
    ]
    labels = [_trace_detail.label(n) for n in tree(spans)]
    assert labels[1].endswith(_trace_detail.STREAMED) and _trace_detail.STREAMED not in labels[2]


def test_a_sub_millisecond_span_is_drawn_wide_enough_to_click() -> None:
    spans = [_span("root", None, 0, 2000.0), _span("tiny", "root", 1000, 0.05)]
    rows = waterfall(tree(spans))
    for row in rows:
        row["label"] = row["name"]
    chart = _trace_detail.waterfall_chart(rows, "tiny").to_dict()
    data = next(iter(chart["datasets"].values()))
    tiny = next(r for r in data if r["span_id"] == "tiny")
    assert tiny["bar_end_ms"] - tiny["start_ms"] >= 2000.0 * _trace_detail.MIN_BAR_SHARE  # 12 ms of 2 s
    assert tiny["duration_label"] == "50 µs" and tiny["duration_ms"] == pytest.approx(0.05)


def test_panels_can_grow_to_their_content(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from viewer import _panels

    path, ids = built
    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["rag_pipeline"])
    assert at.button_group(key=_panels.LAYOUT_KEY).value == _panels.SIDE_BY_SIDE
    at.button_group(key=_panels.LAYOUT_KEY).set_value(_panels.STACKED).run()
    assert not at.exception
    assert at.button_group(key=_panels.LAYOUT_KEY).value == _panels.STACKED
    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["rag_pipeline"], panels=_panels.STACKED)
    assert at.button_group(key=_panels.LAYOUT_KEY).value == _panels.STACKED  # from a link
