"""The sidebar's filters live in the URL (AppTest): a link opens the list already filtered,
opening a trace and coming back keeps them, Clear empties them; and the finer filters
(attributes, evaluation scores, annotation label, decisions). The browser writes a bound
widget's value into the URL itself: tests/test_viewer_url_browser.py checks that, and the
back button, in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import tracer
from viewer import _filters

from . import _viewer_store as vs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("filters") / "spyglass.duckdb"
    ids = vs.build(path)
    store = tracer.Store(path)
    store.annotate(ids["xss_pipeline"], "correct", "fine")
    llm = vs.llm_span(path, ids["rag_pipeline"])
    store.add_evaluations([{"trace_id": ids["rag_pipeline"], "span_id": llm, "name": "judge", "score": 0.25}])
    return path, ids


@pytest.fixture
def app(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return vs.app_on(built[0], monkeypatch)


def roots(at: AppTest) -> set[str]:
    return set(at.dataframe[0].value["root"]) if at.dataframe else set()


def query(at: AppTest) -> dict[str, Any]:
    return {k: at.query_params[k] for k in at.query_params}


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_a_link_opens_the_list_filtered(app: AppTest) -> None:
    at = vs.run(app, status="ERROR")
    assert at.selectbox(key="status").value == "ERROR"
    assert roots(at) == {"failing_pipeline"}


def test_opening_a_trace_and_coming_back_keeps_the_filters(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    at = vs.run(app, user_id="u-bob")
    assert roots(at) == {"xss_pipeline", "slow_step"}
    at.query_params["trace"] = built[1]["xss_pipeline"]
    at.run()
    assert _one(query(at)["user_id"]) == "u-bob"
    at.button(key="back").click().run()
    assert "trace" not in query(at)
    assert _one(query(at)["user_id"]) == "u-bob"
    assert roots(at) == {"xss_pipeline", "slow_step"}


def test_clear_empties_the_filters_and_the_url(app: AppTest) -> None:
    at = vs.run(app, status="ERROR", decision="any")
    assert roots(at) == set()  # the failing pipeline decided nothing
    at.button(key="clear_filters").click().run()
    assert at.selectbox(key="status").value == "(any)"
    assert at.selectbox(key="decision").value == "(any)"
    assert len(roots(at)) == 5


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"attr": "gen_ai.request.model = gpt-4o"}, {"rag_pipeline"}),
        ({"attr": "gen_ai.request.model ~ GPT-4O"}, {"rag_pipeline", "xss_pipeline", "failing_pipeline"}),
        ({"annotation": "correct"}, {"xss_pipeline"}),
        ({"evaluation": "judge"}, {"rag_pipeline"}),
        ({"evaluation": "judge", "min_score": "0.5"}, set()),
        ({"max_score": "0.3"}, {"rag_pipeline", "xss_pipeline"}),  # any evaluation: xss's grounding is 0.0
        ({"evaluation": "grounding", "min_score": "0.9"}, {"rag_pipeline"}),
        ({"decision": "pass"}, {"rag_pipeline"}),
    ],
)
def test_finer_filters(app: AppTest, params: dict[str, str], expected: set[str]) -> None:
    at = vs.run(app, **params)
    assert roots(at) == expected, query(at)
    more = next(e for e in at.expander if e.proto.label == "More filters")
    assert more.proto.expanded or "decision" in params  # "More filters" opens itself


def test_a_bad_attribute_filter_says_why_and_filters_by_the_rest(app: AppTest) -> None:
    at = vs.run(app, attr="gen_ai.request.model = gpt-4o; gen_ai.usage.input_tokens > many")
    assert any("needs a number" in e.value for e in at.error)
    assert roots(at) == {"rag_pipeline"}


def test_more_filters_are_drawn_only_while_open(app: AppTest) -> None:
    at = vs.run(app)
    more = next(e for e in at.expander if e.proto.label == "More filters")
    assert not more.proto.expanded
    assert not [s for s in at.selectbox if s.key == "evaluation"]  # folded: its widgets are not drawn
    at.session_state[_filters.MORE_OPEN] = True  # what opening it does
    at.run()
    assert at.selectbox(key="evaluation").value == "(any)"


def test_more_filters_offers_the_stores_keys_and_labels(app: AppTest) -> None:
    app.session_state[_filters.MORE_OPEN] = True
    at = vs.run(app)
    assert "judge" in at.selectbox(key="evaluation").options
    assert "correct" in at.selectbox(key="annotation").options
    assert "gen_ai.request.model" in (at.text_input(key="attr").help or "")


def test_a_link_opens_a_search(app: AppTest) -> None:
    at = vs.run(app, q="potassium")  # only in a document of rag_pipeline
    assert at.text_input(key="q").value == "potassium"
    assert roots(at) == {"rag_pipeline"}
