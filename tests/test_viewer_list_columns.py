"""The trace list's columns (issue 10): question and answer previews (what the user received,
after post-processing), the grounding and annotation columns, the column chooser, flags and
trace ids shown whole, and missing numbers shown empty. In-process (AppTest) on the viewer
tests' store, plus one real-Chromium test of what the table draws."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import tracer
from tracer import attributes as A
from viewer import _preview, _trace_list

from . import _viewer_store as vs

EVERYTHING = "everything_wrong"
LONG_QUESTION = "Why " + "is this so very long " * 20 + "?"


@tracer.trace_postprocess(name="guards")
def _guards(text: str) -> str:
    tracer.record_decision("redactor", verdict="modify", before=text, after="[redacted]")
    tracer.record_decision("secret_filter", verdict="block", before=text, after="[withheld]")
    tracer.record_decision("tone", verdict="flag", reason="curt")
    return "[withheld]"


@tracer.trace_step(name=EVERYTHING)
def _everything(question: str) -> str:
    """Every flag at once (error, blocked, modified, flagged): the flags cell's longest text."""
    _guards("the secret is 42")
    raise ValueError("and then it failed")


def _build(path: Path) -> dict[str, str]:
    vs.build(path)
    with vs.no_export_grounding():
        tracer.configure(db=path)
        with pytest.raises(ValueError):
            _everything(LONG_QUESTION)
        assert tracer.flush()
    found = vs.ids(path)
    store = tracer.Store(path)
    store.annotate(found["xss_pipeline"], "correct", "looked fine at first")
    store.annotate(found["xss_pipeline"], "hallucination", "no, it made that up")
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("list-columns") / "spyglass.duckdb"
    return path, _build(path)


@pytest.fixture
def app(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return vs.app_on(built[0], monkeypatch)


def _rows(at: AppTest) -> dict[str, dict[str, Any]]:
    return {r["root"]: r for r in at.dataframe[0].value.to_dict("records")}


# --- previews ----------------------------------------------------------------------------
def test_question_and_answer_previews(app: AppTest) -> None:
    rows = _rows(vs.run(app))
    # The question argument, not the LLM's whole prompt (the context around the question).
    assert rows["rag_pipeline"]["question"] == vs.QUESTION
    # Blocked: what the user received, never the answer post-processing kept from them.
    assert rows["rag_pipeline"]["answer"] == vs.BLOCKED_AFTER
    assert not any(vs.BLOCKED_BEFORE in str(v) for r in rows.values() for v in r.values())
    assert not any(vs.ANSWER in str(v) for r in rows.values() for v in r.values())
    # Model output as it was written: plain text in a cell, never HTML.
    assert rows["xss_pipeline"]["question"] == "Say something bold"
    assert rows["xss_pipeline"]["answer"] == vs.XSS_OUTPUT
    assert rows["failing_pipeline"]["question"] == "Will this time out?"
    # No LLM call: the root span's input and output.
    assert (rows["warmup_probe"]["question"], rows["warmup_probe"]["answer"]) == ("ping", "pong")
    assert (rows["slow_step"]["question"], rows["slow_step"]["answer"]) == ("", "done")
    # Cut to one line of 120 characters.
    long = rows[EVERYTHING]["question"]
    assert len(long) == _preview.MAX_CHARS and long.endswith("…") and long.startswith("Why is this so very long")
    assert rows[EVERYTHING]["answer"] == "[withheld]"  # the first block decides


def test_grounding_and_annotation_columns(app: AppTest) -> None:
    rows = _rows(vs.run(app))
    assert rows["xss_pipeline"]["grounding"] == "hallucination suspected · 0.00"
    # The grounded answer was blocked: its grounding is about the text before post-processing.
    assert rows["rag_pipeline"]["grounding"] == "grounded · 0.93 (before post-processing)"
    assert rows["slow_step"]["grounding"] == ""
    assert rows["xss_pipeline"]["annotation"] == "hallucination (+1)"  # the newest, and one more
    assert rows["rag_pipeline"]["annotation"] == ""
    assert rows[EVERYTHING]["flags"] == "error, blocked, modified, flagged"


def test_previews_are_read_once_per_page(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = tracer.Store.trace_previews

    def counted(self: tracer.Store, trace_ids: Any) -> Any:
        calls.append(list(trace_ids))
        return real(self, trace_ids)

    def no_get_trace(self: tracer.Store, trace_id: str) -> Any:
        raise AssertionError("the list read a whole trace")

    monkeypatch.setattr(tracer.Store, "trace_previews", counted)
    monkeypatch.setattr(tracer.Store, "get_trace", no_get_trace)
    at = vs.run(app)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(at.dataframe[0].value["trace id"])


# --- the column chooser ------------------------------------------------------------------
def test_column_chooser_hides_and_shows_a_column_across_reruns(
    app: AppTest, built: tuple[Path, dict[str, str]]
) -> None:
    at = vs.run(app)
    assert "question" in at.dataframe[0].value.columns and "models" not in at.dataframe[0].value.columns
    picked = [c for c in _trace_list.DEFAULT_COLUMNS if c != "question"] + ["models"]
    at.multiselect(key=_trace_list.COLUMNS_KEY).set_value(picked)
    vs.run(at)
    columns = list(at.dataframe[0].value.columns)
    assert "question" not in columns and "models" in columns
    assert columns == [c for c in _trace_list.COLUMNS if c in picked]  # the table's order, whatever the pick's
    assert _rows(at)["rag_pipeline"]["models"] == "gpt-4o"
    vs.run(at)  # a plain rerun (Refresh, auto-refresh)
    assert list(at.dataframe[0].value.columns) == columns
    # Opening a trace draws no chooser (Streamlit then forgets its widget state); back on the list it is kept.
    vs.run(at, trace=built[1]["rag_pipeline"])
    assert not at.dataframe
    at.query_params.clear()
    vs.run(at)
    assert list(at.dataframe[0].value.columns) == columns


def test_no_none_in_the_rendered_frame(app: AppTest) -> None:
    at = vs.run(app)
    frame = at.dataframe[0]
    df = frame.value
    texts = df.select_dtypes(exclude="number").drop(columns=["time (UTC)"])
    assert not texts.isin(["None", "nan", "NaN", "<NA>"]).any().any()
    assert not texts.isna().any().any()
    # Missing numbers stay missing (not 0) and are drawn empty, not as Streamlit's grey "None".
    rows = _rows(at)
    assert pd.isna(rows["slow_step"]["cost ($)"]) and pd.isna(rows["slow_step"]["tokens"])
    assert rows["rag_pipeline"]["tokens"] == 150
    assert frame.proto.placeholder == ""


# --- the pure parts ----------------------------------------------------------------------
def test_cut() -> None:
    assert _preview.cut(None) == "" and _preview.cut("  a\n\n b\tc ") == "a b c"
    assert _preview.cut("x" * 120) == "x" * 120
    assert _preview.cut("x" * 121) == "x" * 119 + "…"


def test_trace_previews(built: tuple[Path, dict[str, str]]) -> None:
    path, found = built
    store = tracer.Store(path)
    wanted = [found["rag_pipeline"], "0" * 32, found["xss_pipeline"]]
    got = store.trace_previews(wanted)
    assert list(got) == [found["rag_pipeline"], found["xss_pipeline"]]  # unknown ids left out
    rag = got[found["rag_pipeline"]]
    full = store.get_trace(found["rag_pipeline"])
    assert full is not None
    assert [s["span_id"] for s in rag["spans"]] == [s["span_id"] for s in full["spans"]]
    # Attributes of the spans the previews read only: the root, LLM and post-processing spans.
    for span in rag["spans"]:
        wanted_attrs = span["parent_span_id"] is None or span["span_type"] in (A.SPAN_TYPE_LLM, "postprocess")
        assert bool(span["attributes"]) == wanted_attrs, span["name"]
    assert [d["verdict"] for d in rag["decisions"]] == [d["verdict"] for d in full["decisions"]] == ["pass", "block"]
    assert [e["label"] for e in rag["evaluations"]] == ["grounded"] and rag["annotations"] == []
    xss = got[found["xss_pipeline"]]
    assert [a["label"] for a in xss["annotations"]] == ["correct", "hallucination"]
    assert store.trace_previews([]) == {}


# --- in a real browser -------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser_page(built: tuple[Path, dict[str, str]]) -> Iterator[tuple[Any, str]]:
    from .test_viewer_browser import chromium_page, serve

    with serve(built[0]) as url, chromium_page() as page:
        yield page, url


def _text_width(page: Any, text: str) -> float:
    """How wide the table's font draws ``text``, in CSS pixels (a canvas measures it as the grid does)."""
    return float(
        page.evaluate(
            """([text, sel]) => {
                const ctx = document.createElement("canvas").getContext("2d");
                const grid = document.querySelector(sel);
                ctx.font = "14px " + getComputedStyle(grid).fontFamily;
                return ctx.measureText(text).width;
            }""",
            [text, '[data-testid="stDataFrame"]'],
        )
    )


def test_flags_and_trace_ids_are_drawn_whole(
    browser_page: tuple[Any, str], built: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    page, url = browser_page
    trace_id = built[1][EVERYTHING]
    page.goto(url)
    grid = page.locator('[data-testid="stDataFrame"]')
    cells = page.locator('[data-testid="stDataFrame"] tbody td')
    cells.first.wait_for(state="attached")
    # The flags column sits in the first screen of the table, no scrolling needed.
    page.locator('[data-testid="stDataFrame"] thead th', has_text="flags").wait_for(state="attached")
    cells.filter(has_text="error, blocked, modified, flagged").first.wait_for(state="attached")
    page.screenshot(path=str(tmp_path / "list.png"), full_page=True)
    # The grid draws only the columns in view: scroll it right to the trace ids.
    box = grid.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(5000, 0)
    cells.filter(has_text=trace_id).first.wait_for(state="attached")
    grid.screenshot(path=str(tmp_path / "list-right.png"))
    assert trace_id in cells.all_text_contents()  # the whole id, as one cell's text
    # Drawn whole: each text fits its column with the cell's padding to spare.
    widths = {name: _trace_list._COLUMNS[name]["width"] for name in ("flags", "trace id")}
    for name, text in (("flags", "error, blocked, modified, flagged"), ("trace id", trace_id)):
        assert _text_width(page, text) + 2 * 8 <= widths[name], (name, widths[name])
