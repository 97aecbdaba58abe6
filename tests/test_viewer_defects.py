"""Issue 10's viewer defects, each in the screen a user saw it on (AppTest, on stores written
by the real tracer), and the model filter they depend on (``Store``, real DuckDB):

- successful spans read ``status UNSET``;
- the service reads ``unknown_service:python`` when the app named none;
- the model facet splits ``gpt-4o-mini`` from its dated snapshot ``gpt-4o-mini-2024-07-18``;
- the per-model charts are single dots on a month-named axis;
- the compare screen's rank column reads ``None``.

The search box that did not reset is a browser test (``test_viewer_defects_browser.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

import tracer
from tracer import TraceFilter, attributes

from . import _viewer_store as vs

# LLM calls at fixed times, all within one hour of one day: a chart bucketed by day (or
# hour) has one point per model. (model reported, minutes after T0, input tokens.)
T0 = _dt.datetime(2025, 6, 1, 10, 0, tzinfo=_dt.timezone.utc)
CALLS = [
    ("gpt-4o-mini", 0, 10),
    ("gpt-4o-mini-2024-07-18", 10, 20),
    ("gpt-4o-mini", 20, 30),
    ("gpt-4o-mini-2024-07-18", 30, 40),
    ("gpt-4o-2024-08-06", 5, 50),
    ("gpt-4o-2024-08-06", 15, 60),
    ("claude-3-5-sonnet-20241022", 25, 70),
]


def _write_calls(path: Path) -> None:
    """Each call one trace, as an instrumented client writes it (gen_ai.* keys), at its time."""
    with vs.no_export_grounding():
        provider = tracer.configure(db=path)
    otel = provider.get_tracer("tests.viewer_defects")
    for model, minutes, tokens in CALLS:
        start = int((T0 + _dt.timedelta(minutes=minutes)).timestamp() * 1e9)
        span = otel.start_span(
            f"chat {model}",
            start_time=start,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": tokens,
                "gen_ai.usage.output_tokens": 1,
                attributes.COST_USD: tokens / 1e6,
            },
        )
        span.end(end_time=start + 2_000_000)
    assert tracer.flush()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("defects") / "spyglass.duckdb"
    return path, vs.build(path)


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("defects-calls") / "spyglass.duckdb"
    _write_calls(path)
    return path


def _frame(at: AppTest, column: str) -> Any:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _charts(at: AppTest) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each Vega-Lite chart drawn: its spec and its data rows (sent as Arrow IPC)."""
    out = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        rows: list[dict[str, Any]] = []
        for ds in chart.proto.datasets:
            rows += pa.ipc.open_stream(ds.data.data).read_all().to_pylist()
        out.append((spec, rows))
    return out


def _chart(at: AppTest, title: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    def text(spec: dict[str, Any]) -> Any:
        t = spec.get("title")
        return t.get("text") if isinstance(t, dict) else t

    return next((spec, rows) for spec, rows in _charts(at) if text(spec) == title)


# --- status: a span that ended without error reads OK --------------------------------------
def test_a_span_that_ended_without_error_reads_ok_in_list_tree_and_detail(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = built
    stored = {s["name"]: s["status_code"] for s in tracer.Store(path).get_trace(ids["rag_pipeline"])["spans"]}  # type: ignore[index]
    assert stored["chat gpt-4o"] == "UNSET"  # what OpenTelemetry records for success: it stays so

    at = vs.run(vs.app_on(path, monkeypatch))
    shown = dict(zip(_frame(at, "status")["root"], _frame(at, "status")["status"]))
    assert shown["rag_pipeline"] == "OK" and shown["failing_pipeline"] == "ERROR"

    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["rag_pipeline"])
    heading = next(t.value for t in at.text if t.value.startswith("llm · chat"))
    assert "status OK" in heading, heading
    _, waterfall = next((s, r) for s, r in _charts(at) if any("span_id" in row for row in r))
    assert {row["status"] for row in waterfall} == {"OK"}
    assert "UNSET" not in vs.texts(at)

    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["failing_pipeline"])
    heading = next(t.value for t in at.text if t.value.startswith("llm"))
    assert "status ERROR" in heading
    _, waterfall = next((s, r) for s, r in _charts(at) if any("span_id" in row for row in r))
    assert {row["status"] for row in waterfall} == {"ERROR"}


def test_status_labels() -> None:
    from viewer import _labels

    assert [_labels.status(c) for c in ("UNSET", "OK", "ERROR", None)] == ["OK", "OK", "ERROR", "?"]


# --- service: OpenTelemetry's placeholder is not a name ------------------------------------
@pytest.fixture(scope="module")
def unnamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store written on a provider of its own with the SDK's default resource: the process's
    global provider carries the service name of whichever test configured it first (another
    test's demo, under pytest-xdist)."""
    from opentelemetry.sdk.trace import TracerProvider

    path = tmp_path_factory.mktemp("unnamed") / "spyglass.duckdb"
    tracer.configure(db=path, tracer_provider=TracerProvider())
    try:
        with vs.no_export_grounding():
            vs.rag(vs.QUESTION)
        tracer.flush()
    finally:
        tracer.configure(db=tmp_path_factory.mktemp("unnamed-after") / "spyglass.duckdb")
    return path, vs.ids(path)


def test_a_trace_of_an_app_that_named_no_service_says_so(
    unnamed: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = unnamed
    trace = tracer.Store(path).get_trace(ids["rag_pipeline"])["trace"]  # type: ignore[index]
    # The OTel SDK's placeholder (unknown_service:<the interpreter's name>), stored as is.
    assert trace["service_name"].startswith("unknown_service:")
    at = vs.run(vs.app_on(path, monkeypatch), trace=ids["rag_pipeline"])
    facts = next(t for t in at.text if t.value.startswith("trace id:"))
    assert "unknown_service" not in vs.texts(at)
    assert "service: —" in facts.value
    assert "OTEL_SERVICE_NAME" in facts.help and "service_name=" in facts.help


def test_service_labels() -> None:
    from viewer import _labels

    assert _labels.service("kb-app") == ("kb-app", None)
    for placeholder in ("unknown_service:python", "unknown_service", "", None):
        shown, help_text = _labels.service(placeholder)
        assert shown == "—" and help_text and "OTEL_SERVICE_NAME" in help_text


# --- models: a dated snapshot is grouped under its base model ------------------------------
def test_base_model() -> None:
    from tracer.store.reader import base_model

    assert base_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert base_model("claude-3-5-sonnet-20241022") == "claude-3-5-sonnet"
    assert base_model("gpt-4-0613") == "gpt-4"
    for plain in ("gpt-4o-mini", "gpt-4o", "o1", "gpt-3.5-turbo-16k", "-2024-07-18", "gemini-1.5-pro-002"):
        assert base_model(plain) == plain


def _roots(store: tracer.Store, flt: TraceFilter) -> list[str]:
    return sorted(str(t["root_name"]) for t in store.list_traces(flt, limit=100))


def test_model_filter_matches_a_base_model_and_its_snapshots(calls: Path) -> None:
    store = tracer.Store(calls)
    assert store.count_traces(TraceFilter(model="gpt-4o-mini")) == 4
    assert (
        _roots(store, TraceFilter(model="gpt-4o-mini"))
        == ["chat gpt-4o-mini"] * 2 + ["chat gpt-4o-mini-2024-07-18"] * 2
    )
    # the exact snapshot still selects itself only
    assert _roots(store, TraceFilter(model="gpt-4o-mini-2024-07-18")) == ["chat gpt-4o-mini-2024-07-18"] * 2
    # a base model that no span reports by that name: its snapshots; never another model's
    assert _roots(store, TraceFilter(model="gpt-4o")) == ["chat gpt-4o-2024-08-06"] * 2
    assert _roots(store, TraceFilter(model="claude-3-5-sonnet")) == ["chat claude-3-5-sonnet-20241022"]
    assert store.count_traces(TraceFilter(model="gpt-4")) == 0
    assert store.count_traces(TraceFilter(model="gpt-4o-mini-2024")) == 0
    # the other filters still AND with it
    assert store.count_traces(TraceFilter(model="gpt-4o-mini", min_duration_ms=1e6)) == 0


def test_model_facet_offers_each_base_model_with_its_snapshots(calls: Path) -> None:
    assert tracer.Store(calls).facets()["models"] == [
        "claude-3-5-sonnet",
        "claude-3-5-sonnet-20241022",
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
    ]


def test_model_filter_in_the_viewer_groups_snapshots(calls: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = vs.run(vs.app_on(calls, monkeypatch))
    options = at.selectbox(key="model").options
    mini = options.index(next(o for o in options if o.startswith("gpt-4o-mini ")))
    assert "snapshot" in options[mini] and options[mini + 1].endswith("gpt-4o-mini-2024-07-18")
    at.selectbox(key="model").set_value("gpt-4o-mini").run()
    assert sorted(_frame(at, "root")["root"]) == ["chat gpt-4o-mini"] * 2 + ["chat gpt-4o-mini-2024-07-18"] * 2
    at.selectbox(key="model").set_value("gpt-4o-mini-2024-07-18").run()
    assert list(_frame(at, "root")["root"]) == ["chat gpt-4o-mini-2024-07-18"] * 2


# --- charts: a time bucket the data fills, lines with more than one point ------------------
def test_per_model_charts_over_half_an_hour_use_minute_buckets(calls: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = vs.run(vs.with_charts(vs.app_on(calls, monkeypatch)))  # "all time": the calls span 30 minutes
    for title in ("Tokens per model", "Cost ($) per model"):
        spec, rows = _chart(at, title)
        if title.startswith("Tokens"):
            per_model: dict[str, int] = {}
            for row in rows:
                per_model[row["model"]] = per_model.get(row["model"], 0) + 1
            assert per_model["gpt-4o-mini-2024-07-18"] == 2 and per_model["gpt-4o-mini"] == 2, rows
            assert len({row["bucket"] for row in rows}) == len(CALLS)  # one minute bucket each
        assert spec["mark"]["type"] == "line"
        x = spec["encoding"]["x"]
        assert x["type"] == "temporal" and x["axis"]["format"] == "%H:%M"
        # ticks on round minutes inside the data, so no label names a time between two buckets
        assert [(v["hours"], v["minutes"]) for v in x["axis"]["values"]] == [(10, 0), (10, 10), (10, 20), (10, 30)]


def test_a_chart_of_calls_with_no_cost_is_no_chart() -> None:
    from viewer._trace_list import usage_chart

    rows = [
        {"bucket": _dt.datetime(2025, 6, 1, 10, m), "model": "m", "tokens": 5, "cost_usd": None, "calls": 1}
        for m in (0, 10)
    ]
    assert usage_chart(rows, "cost_usd", "Cost ($) per model", "minute") is None  # "no data for this chart"
    assert usage_chart(rows, "tokens", "Tokens per model", "minute") is not None


def test_per_model_charts_of_calls_in_one_minute_are_bars(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = vs.run(vs.with_charts(vs.app_on(built[0], monkeypatch)))  # every trace written within a second
    spec, rows = _chart(at, "Tokens per model")
    assert spec["mark"]["type"] == "bar"
    assert {row["model"] for row in rows} == {"gpt-4o", "gpt-4o-mini"}


# --- compare: a document on one side only has no rank on the other -------------------------
def test_compare_shows_no_none_for_a_missing_rank(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = built
    at = vs.run(vs.app_on(path, monkeypatch), compare=f"{ids['rag_pipeline']},{ids['xss_pipeline']}")
    context = _frame(at, "rank A")
    assert list(context["document"]) == ["d1", "d2", "d3"]  # only the rag trace retrieved any
    assert not context.isna().any().any(), context.to_dict("records")  # Streamlit draws a null as "None"
    assert list(context["rank B"]) == ["—"] * 3
    assert list(context["rank A"]) == ["1", "2", "3"]
