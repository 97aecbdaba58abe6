"""The dashboards screen (``?view=dashboards``) in ``streamlit.testing`` on a real DuckDB store
whose figures are worked out by hand (``_dashboard_store.TRACES``): the breakdown switch, the
charts' data, the totals, the prompt-version A/B pick, the sidebar's filters, empty stores;
and the A/B figures' pure functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

import tracer
from viewer import _prompt_ab

from . import _viewer_store as vs
from ._dashboard_store import write


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboards") / "spyglass.duckdb"
    write(path)
    return path


def dashboards(path: Path, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    return vs.run(vs.app_on(path, monkeypatch), view="dashboards", **query)


def _frame(at: AppTest, column: str) -> Any:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _charts(at: AppTest) -> dict[str, list[dict[str, Any]]]:
    """Each chart's data rows (sent as Arrow IPC), by its title."""
    out = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("title")
        rows: list[dict[str, Any]] = []
        for ds in chart.proto.datasets:
            rows += pa.ipc.open_stream(ds.data.data).read_all().to_pylist()
        out[title.get("text") if isinstance(title, dict) else title] = rows
    return out


def _totals(at: AppTest) -> dict[str, dict[str, Any]]:
    frame = _frame(at, "p95 (ms)")
    return {row["group"]: row for row in frame.to_dict("records")}


def _ab(at: AppTest) -> dict[str, tuple[str, str, str]]:
    frame = _frame(at, "B − A")
    return {row["figure"]: (row["A"], row["B"], row["B − A"]) for row in frame.to_dict("records")}


def test_every_trace_over_time(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch)
    # Two hours of data in an "all time" range: day and hour give too few steps, so minutes.
    assert "6 traces · per minute (UTC)" in vs.captions(at)
    (total,) = _totals(at).values()
    assert (total["group"], total["traces"], total["LLM calls"], total["errors"]) == ("(all)", 6, 5, 1)
    assert total["p50 (ms)"] == pytest.approx(350) and total["tokens"] == 885
    charts = _charts(at)
    assert set(charts) == {"Latency (ms)", "Error rate", "Tokens", "Cost ($)"}
    latency = charts["Latency (ms)"]
    assert {r["series"] for r in latency} == {"p50", "p95", "p99"} and len(latency) == 18  # 6 minutes × 3
    assert sorted(r["value"] for r in charts["Tokens"]) == [55, 110, 120, 240, 360]  # the trace without usage: none
    assert at.get("button_group")[-1].options != ["p50", "p95", "p99"]  # one series: no percentile pick


def test_the_breakdown_switch(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch)
    at.button_group(key="dash_by").set_value("prompt version").run()
    assert not at.exception
    totals = _totals(at)
    assert list(totals) == ["v2", "v1", "(none)"]  # biggest first, no value last
    assert (totals["v2"]["traces"], totals["v2"]["errors"], totals["v2"]["p50 (ms)"]) == (3, 1, 400)
    # By group, the latency chart shows one percentile (p95 to start with) per group.
    latency = _charts(at)["p95 latency (ms)"]
    assert {r["series"] for r in latency} == {"v1", "v2", "(none)"}
    at.button_group(key="dash_pct").set_value("p99").run()
    assert "p99 latency (ms)" in _charts(at)

    at.button_group(key="dash_by").set_value("model").run()
    totals = _totals(at)
    assert {g: r["LLM calls"] for g, r in totals.items()} == {
        "gpt-4o": 2,
        "gpt-4o-mini": 2,
        "gpt-4o-mini-2024-07-18": 1,
    }
    assert "5 LLM calls (each logical call once)" in vs.captions(at)
    assert "p99 latency (ms) of the calls" in _charts(at)  # the percentile picked stays


def test_the_breakdown_comes_from_the_url(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch, dash_by="user")
    assert list(_totals(at)) == ["ann", "ben", "(none)"]
    at = dashboards(built, monkeypatch, dash_by="no such breakdown")
    assert list(_totals(at)) == ["(all)"]


def test_prompt_versions_a_vs_b(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch)
    # B is the version seen last, A the one before it.
    assert (at.selectbox(key="dash_a").value, at.selectbox(key="dash_b").value) == ("v1", "v2")
    ab = _ab(at)
    assert ab["traces"] == ("2", "3", "+1")
    assert ab["grounding rate (95% interval) · grounded of checked"] == (
        "50% (9%–91%) · 1 of 2",
        "50% (9%–91%) · 1 of 2",
        "0 pts",
    )
    assert ab["not checked: no documents"] == ("0", "1", "+1")
    assert ab["mean worst grounding score (0–1)"] == ("0.55", "0.45", "-0.10")
    assert ab["p95 latency (ms)"] == ("195.0", "490.0", "+295.0 ms")
    assert ab["cost per trace ($)"] == ("0.00150", "0.00517", "+0.00367")
    tiles = {m.label: (m.value, m.delta) for m in at.metric}
    assert tiles["p95 latency · B"] == ("490 ms", "+295 ms")
    assert "the difference may be chance" in vs.captions(at)  # 1 of 2 against 1 of 2

    at.selectbox(key="dash_a").set_value("v2").run()
    at.selectbox(key="dash_b").set_value("v1").run()
    assert _ab(at)["traces"] == ("3", "2", "-1")
    at.selectbox(key="dash_b").set_value("v2").run()
    assert "A and B are the same version" in at.warning[0].value


def test_the_pick_comes_from_the_url(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch, dash_a="v2", dash_b="v1")
    assert _ab(at)["traces"] == ("3", "2", "-1")


def test_the_sidebar_filters_apply(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch)
    at.selectbox(key="user_id").set_value("ann").run()
    assert not at.exception
    assert _totals(at)["(all)"]["traces"] == 3 and _totals(at)["(all)"]["errors"] == 1
    assert _ab(at)["traces"] == ("1", "1", "0")  # ann's v1 and v2 traces
    at.selectbox(key="user_id").set_value("(any)").run()
    # A prompt-version filter narrows the charts, but not the comparison (it needs two).
    at.selectbox(key="prompt").set_value("v1").run()
    assert _totals(at)["(all)"]["traces"] == 2
    assert _ab(at)["traces"] == ("2", "3", "+1")
    assert "prompt version filter is left out here" in vs.captions(at)
    at.selectbox(key="prompt").set_value("(any)").run()
    at.selectbox(key="status").set_value("ERROR").run()
    assert _totals(at)["(all)"]["traces"] == 1
    assert "leave 1 (v2)" in at.info[0].value  # one version left: nothing to compare


def test_nothing_matches(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = dashboards(built, monkeypatch)
    at.selectbox(key="user_id").set_value("ben").run()
    at.selectbox(key="status").set_value("ERROR").run()  # ben's traces went well
    assert [i.value for i in at.info] == ["No trace matches these filters."]
    assert not at.get("vega_lite_chart")


def test_an_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spyglass.duckdb"
    tracer.Store(path).annotate("0" * 32, "other")  # a writer creates the store: no trace in it
    assert tracer.Store(path).count_traces() == 0
    at = dashboards(path, monkeypatch)
    assert next(i.value for i in at.info).startswith("This store has no traces yet.")
    assert not at.get("vega_lite_chart") and not at.dataframe


def test_no_llm_call_to_break_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spyglass.duckdb"
    vs.add_trace(path, "warmup_probe")
    at = dashboards(path, monkeypatch, dash_by="model")
    assert "No LLM call in the traces matching these filters" in at.info[0].value
    at = dashboards(path, monkeypatch)
    assert _totals(at)["(all)"]["traces"] == 1
    assert "A comparison needs traces of two prompt versions; these filters leave 0" in at.info[0].value


def test_the_screen_on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same screen on a PostgreSQL store (its own percentile SQL): the same figures."""
    write(postgres_url)
    at = vs.run(vs.app_on(postgres_url, monkeypatch), view="dashboards", dash_by="model")
    assert _totals(at)["gpt-4o"]["p95 (ms)"] == pytest.approx(385)
    assert _ab(at)["p95 latency (ms)"] == ("195.0", "490.0", "+295.0 ms")


# --- the A/B figures, without Streamlit ----------------------------------------------------
ROW = {
    "version": "a",
    "traces": 10,
    "grounding_checked": 0,
    "grounding_suspected": 0,
    "grounding_no_documents": 0,
    "grounding_rate": None,
    "grounding_rate_low": None,
    "grounding_rate_high": None,
    "grounding_score": None,
    "annotated_hallucination": 0,
    "errors": 0,
    "error_rate": 0.0,
    "error_rate_low": 0.0,
    "error_rate_high": 0.28,
    "p50_ms": 10.0,
    "p95_ms": 20.0,
    "tokens_per_trace": None,
    "cost_per_trace": 0.0,
}


def _checked(n: int, grounded: int, traces: int = 100) -> dict[str, Any]:
    low, high = tracer.store.reader.wilson_interval(grounded, n)
    return {
        **ROW,
        "traces": traces,
        "grounding_checked": n,
        "grounding_suspected": n - grounded,
        "grounding_rate": grounded / n,
        "grounding_rate_low": low,
        "grounding_rate_high": high,
    }


def test_missing_figures_read_as_a_dash() -> None:
    table = _prompt_ab.side_by_side(ROW, ROW)
    figures = {r["figure"]: (r["A"], r["B"], r["B − A"]) for r in table.to_dict("records")}
    assert figures["grounding rate (95% interval) · grounded of checked"] == ("– (none checked)",) * 2 + ("–",)
    assert figures["tokens per trace"] == ("–", "–", "–")
    assert figures["error rate (95% interval) · failed of traces"][0] == "0% (0%–28%) · 0 of 10"


def test_the_hints_say_how_far_to_trust_a_difference() -> None:
    assert "needs checked answers" in _prompt_ab.hints(ROW, _checked(40, 30))[0]
    # 3 of 4 against 2 of 3: the intervals overlap.
    assert "may be chance" in _prompt_ab.hints(_checked(3, 2), _checked(4, 3))[0]
    # Far apart, on few answers: said so.
    assert "on few answers" in _prompt_ab.hints(_checked(20, 2), _checked(20, 19))[0]
    # Far apart on many: nothing to add about grounding; about latency only with few traces.
    assert _prompt_ab.hints(_checked(200, 20), _checked(200, 190)) == []
    assert "Fewer than 20 traces" in _prompt_ab.hints(_checked(200, 20, traces=5), _checked(200, 190))[0]


def test_the_defaults_are_the_two_latest_versions() -> None:
    assert _prompt_ab.defaults([{"version": "v3"}, {"version": "v2"}, {"version": "v1"}]) == ("v2", "v3")
