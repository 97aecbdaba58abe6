"""The viewer's screens and filters, run in-process with ``streamlit.testing`` (AppTest) on a
store written by the real tracer (``tests/_viewer_store.py``)."""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import tracer
import viewer
from viewer import _data, _filters, _trace_list

from . import _viewer_store as vs
from .conftest import ENGINES


@pytest.fixture(scope="module", params=ENGINES)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    """The same traces in a DuckDB file, then in a PostgreSQL database: one viewer on both."""
    path: Any = tmp_path_factory.mktemp("viewer") / "spyglass.duckdb"
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        path = server.create_database(server.new_name("viewer"))
    return path, vs.build(path)


@pytest.fixture
def app(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return vs.app_on(built[0], monkeypatch)


run = vs.run


def roots(at: AppTest) -> list[str]:
    if not at.dataframe:
        return []
    return list(at.dataframe[0].value["root"])


def texts(at: AppTest) -> str:
    """Everything shown as text or code (where the viewer puts captured content)."""
    return "\n".join([t.value for t in at.text] + [c.value for c in at.code])


def markdowns(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# --- screen 1: the trace list ------------------------------------------------------------
def test_trace_list_newest_first_with_columns_and_flags(app: AppTest) -> None:
    at = run(app)
    assert roots(at) == ["warmup_probe", "failing_pipeline", "slow_step", "xss_pipeline", "rag_pipeline"]
    df = at.dataframe[0].value
    assert (
        list(df.columns)
        == list(_trace_list.DEFAULT_COLUMNS)
        == [
            "time (UTC)",
            "root",
            "question",
            "answer",
            "status",
            "flags",
            "grounding",
            "annotation",
            "hallucination",
            "duration (ms)",
            "LLM calls",
            "tokens",
            "cost ($)",
            "trace id",
        ]
    )
    rows = {r["root"]: r for r in df.to_dict("records")}
    assert rows["rag_pipeline"]["flags"] == "blocked"
    assert rows["xss_pipeline"]["flags"] == "flagged"
    assert rows["failing_pipeline"]["flags"] == "error" and rows["failing_pipeline"]["status"] == "ERROR"
    assert rows["rag_pipeline"]["tokens"] == 150 and rows["rag_pipeline"]["LLM calls"] == 1
    assert "models" not in rows["rag_pipeline"]  # hidden by default; tests/test_viewer_list_columns.py shows it
    assert rows["rag_pipeline"]["cost ($)"] == pytest.approx(0.002)
    assert "5 traces" in at.caption[-1].value or any("5 traces" in c.value for c in at.caption)
    # the summary charts, folded and not drawn until opened: then the latency histogram,
    # tokens and cost per model
    charts = next(e for e in at.expander if e.proto.label == "Summary charts")
    assert not charts.proto.expanded and not at.get("vega_lite_chart")
    at.session_state[_trace_list.CHARTS_KEY] = True  # what a click on the box does
    at.run()
    assert len(at.get("vega_lite_chart")) == 3
    at.run()  # they stay open on the next run
    assert len(at.get("vega_lite_chart")) == 3


FILTERS: list[tuple[str, Any, set[str]]] = [
    ("status", "ERROR", {"failing_pipeline"}),
    ("decision", "block", {"rag_pipeline"}),
    ("decision", "flag", {"xss_pipeline"}),
    ("model", "gpt-4o", {"rag_pipeline"}),
    ("kind", "retriever", {"rag_pipeline"}),
    ("prompt", "qa-v1", {"xss_pipeline", "failing_pipeline"}),
    ("session_id", "s-slow", {"slow_step"}),
    ("user_id", "u-bob", {"xss_pipeline", "slow_step"}),
    ("tags", ["prod", "beta"], {"rag_pipeline"}),
    ("min_cost", 0.001, {"rag_pipeline"}),
    ("time", "last 24 hours", {"warmup_probe", "failing_pipeline", "slow_step", "xss_pipeline", "rag_pipeline"}),
]


@pytest.mark.parametrize("key,value,expected", FILTERS, ids=[f"{k}={v}" for k, v, _ in FILTERS])
def test_each_filter(app: AppTest, key: str, value: Any, expected: set[str]) -> None:
    if key in _filters.MORE:
        app.session_state[_filters.MORE_OPEN] = True  # drawn while "More filters" is open
    at = run(app)
    widget = (
        at.multiselect(key=key)
        if key == "tags"
        else (at.number_input(key=key) if key.startswith("min_") else at.selectbox(key=key))
    )
    widget.set_value(value).run()
    assert not at.exception
    assert set(roots(at)) == expected


def test_min_latency_filter(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    # Thresholds from the stored durations: on a loaded machine any span may be slow.
    traces = tracer.Store(built[0]).list_traces(limit=100)
    threshold = next(t["duration_ms"] for t in traces if t["root_name"] == "slow_step")
    app.session_state[_filters.MORE_OPEN] = True
    at = run(app)
    at.number_input(key="min_ms").set_value(float(threshold)).run()
    assert set(roots(at)) == {t["root_name"] for t in traces if t["duration_ms"] >= threshold} >= {"slow_step"}


def test_time_range_custom_dates_outside_the_data(app: AppTest) -> None:
    at = run(app)
    at.selectbox(key="time").set_value("custom").run()
    at.date_input(key="dates").set_value((_dt.date(2020, 1, 1), _dt.date(2020, 1, 2))).run()
    assert roots(at) == []
    assert any("No trace matches" in i.value for i in at.info)


def test_full_text_search(app: AppTest) -> None:
    at = run(app)
    at.text_input(key="q").input("potassium").run()  # only in document d3 of rag_pipeline
    assert roots(at) == ["rag_pipeline"]
    at.text_input(key="q").input("BOLD claim").run()  # in the xss answer; any case, all words
    assert roots(at) == ["xss_pipeline"]
    at.text_input(key="q").input("zyzzyva").run()
    assert roots(at) == []


def test_pagination(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_trace_list, "PAGE_SIZES", (2, 3))
    monkeypatch.setattr(_trace_list, "DEFAULT_PAGE_SIZE", 2)
    at = run(app)
    assert roots(at) == ["warmup_probe", "failing_pipeline"]
    at.get("pagination")[0].set_value(3).run()
    assert roots(at) == ["rag_pipeline"]
    at.selectbox(key="f_page_size").set_value(3).run()
    assert roots(at) == ["warmup_probe", "failing_pipeline", "slow_step"]


def test_open_a_trace_from_the_list(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    at = run(app)
    at.selectbox(key="open_trace").set_value(built[1]["rag_pipeline"]).run()
    assert at.query_params["trace"] == built[1]["rag_pipeline"]
    assert at.subheader[0].value == "rag\\_pipeline"  # escaped: names are shown as literal text
    assert at.button(key="back")


# --- screens 2 and 3: trace detail and span detail --------------------------------------
def test_trace_detail_opens_on_the_llm_span_with_four_panels(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    at = run(app, trace=built[1]["rag_pipeline"])
    assert len(at.get("vega_lite_chart")) == 1  # the waterfall
    span_box = at.selectbox(key=f"span-{built[1]['rag_pipeline']}")
    assert [o.split(" · ")[0].strip("\u00a0└ ") for o in span_box.options] == [
        "rag_pipeline",
        "vector_search",
        "chat gpt-4o",
        "guardrail",
    ]
    assert span_box.value == 2  # the LLM span
    shown, md = texts(at), markdowns(at)
    # Context: rank order, ids, scores, which documents reached the prompt
    for d in vs.DOCS:
        assert d["content"] in shown
    assert "#1** · d1 · score 0.920 · :green-badge[in prompt: exact match]" in md
    assert "#2** · d2 · score 0.810 · :green-badge[in prompt: normalised match]" in md
    assert "#3** · d3 · score 0.120 · :gray-badge[dropped: not in prompt]" in md
    assert '"source": "README"' in shown
    # Prompt: system instructions, messages by role, tools, template, variables, version
    assert vs.SYSTEM in shown and vs.INPUT_MESSAGES[0]["parts"][0]["content"] in shown
    assert "**user**" in md and "lookup\\_term" in shown.replace("lookup_term", "lookup\\_term")
    assert vs.TEMPLATE in shown and '"question": "Where does Spyglass keep its traces?"' in shown
    assert any("prompt version qa\\-v2" in c.value for c in at.caption)
    # Output: text, tool call, finish reason
    assert vs.ANSWER in shown and '"term": "DuckDB"' in shown
    assert any("finish reason: tool\\_calls" in c.value for c in at.caption)
    assert any("tool call: lookup\\_term (id call\\_7)" in c.value for c in at.caption)
    # Decisions: both steps, verdicts, reason, before -> after diff
    assert "**pii\\_filter**" in md and "**secret\\_filter**" in md
    assert "reason: mentions a password" in shown
    diff = next(c.value for c in at.code if c.language == "diff")
    assert f"-{vs.BLOCKED_BEFORE}" in diff and f"+{vs.BLOCKED_AFTER}" in diff
    # Below: usage, TTFT, model parameters, raw attributes
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["input tokens"] == "120" and metrics["output tokens"] == "30"
    assert metrics["time to first token"] == "250.0 ms" and metrics["cost"] == "$0.002000"
    assert '"gen_ai.request.temperature": 0.2' in shown
    assert '"gen_ai.input.messages"' in shown  # raw attributes JSON


def test_selecting_another_span(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    tid = built[1]["rag_pipeline"]
    at = run(app, trace=tid)
    at.selectbox(key=f"span-{tid}").set_value(1).run()  # the retriever
    assert at.subheader[1].value == "vector\\_search"
    assert at.query_params["span"]
    assert any(c.value == "input (function arguments)" for c in at.caption)
    assert vs.QUESTION in texts(at)


def test_decorated_llm_falls_back_to_input_and_output_value(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    at = run(app, trace=built[1]["xss_pipeline"])
    shown = texts(at)
    assert "Say something bold" in shown  # input.value, a plain string
    assert vs.XSS_OUTPUT in [t.value for t in at.text]  # st.text: shown literally, never as HTML
    assert "markup in answer" in shown
    assert not any("<b>" in m.value or "<script" in m.value for m in at.markdown)


def test_error_span_shows_the_stack_trace(app: AppTest, built: tuple[Path, dict[str, str]]) -> None:
    at = run(app, trace=built[1]["failing_pipeline"])
    assert at.error and at.error[0].value == "This span failed"
    shown = texts(at)
    assert f"TimeoutError: {vs.ERROR_MESSAGE}" in shown
    assert "Traceback (most recent call last)" in shown


def test_unknown_trace_id(app: AppTest) -> None:
    at = run(app, trace="0" * 32)
    assert at.warning and "No trace" in at.warning[0].value
    at.button(key="back").click().run()
    assert roots(at)


# --- live: new traces, auto-refresh ------------------------------------------------------
def test_new_traces_appear_on_refresh_and_auto_refresh_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "live.duckdb"
    vs.add_trace(path, "first")
    monkeypatch.setenv("SPYGLASS_DB", str(path))
    at = run(AppTest.from_file(str(viewer.APP_PATH), default_timeout=30))
    assert roots(at) == ["first"]
    vs.add_trace(path, "second")
    at.button(key="refresh").click().run()
    assert roots(at) == ["second", "first"]
    at.toggle(key="auto_refresh").set_value(True).run()
    assert not at.exception and roots(at) == ["second", "first"]


# --- edge cases: a clear message, never a traceback --------------------------------------
def _message(at: AppTest) -> tuple[str, str]:
    for level in ("info", "warning", "error"):
        found = getattr(at, level)
        if found:
            return level, found[0].value
    raise AssertionError("no message shown")


def test_missing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_DB", str(tmp_path / "nowhere.duckdb"))
    at = run(AppTest.from_file(str(viewer.APP_PATH), default_timeout=30))
    level, text = _message(at)
    assert level == "info" and "No Spyglass store at" in text
    assert not (tmp_path / "nowhere.duckdb").exists()  # looking does not create it


def test_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()  # created by a writer that has not migrated it yet
    monkeypatch.setenv("SPYGLASS_DB", str(path))
    at = run(AppTest.from_file(str(viewer.APP_PATH), default_timeout=30))
    assert _message(at) == ("info", at.info[0].value) and "no traces yet" in at.info[0].value


@pytest.mark.parametrize("kind", ["text file", "other duckdb"])
def test_foreign_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    import duckdb

    path = tmp_path / "foreign.duckdb"
    if kind == "text file":
        path.write_text("not a database\n" * 100)
    else:
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE customers (id INTEGER)")
    before = path.read_bytes()
    monkeypatch.setenv("SPYGLASS_DB", str(path))
    at = run(AppTest.from_file(str(viewer.APP_PATH), default_timeout=30))
    level, text = _message(at)
    assert level == "error" and "not a Spyglass store" in text
    assert path.read_bytes() == before


def test_store_held_by_a_writer(
    built: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process holding the file read-write for long (not a Spyglass writer, which holds it
    for one batch): the viewer says so and recovers on Refresh once it lets go."""
    if isinstance(built[0], str):
        pytest.skip("a DuckDB file's write lock; a PostgreSQL store takes concurrent writers")
    path = tmp_path / "held.duckdb"
    path.write_bytes(built[0].read_bytes())
    monkeypatch.setattr(_data, "READ_TIMEOUT_S", 0.3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                "sys.stdin.readline()"
            ),
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("SPYGLASS_DB", str(path))
        at = run(AppTest.from_file(str(viewer.APP_PATH), default_timeout=30))
        level, text = _message(at)
        assert level == "warning" and "being written by another process" in text
    finally:
        holder.communicate("\n", timeout=10)
    at.button(key="refresh").click().run()
    assert not at.exception and len(roots(at)) == 5


@pytest.fixture(autouse=True)
def _fresh_resource_cache() -> Iterator[None]:
    """``st.cache_resource`` outlives an AppTest: the Store objects are keyed by path, and
    a test that patches the read timeout must not get a Store made with the old one."""
    _data.store.clear()
    yield
