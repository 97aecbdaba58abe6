"""The dashboards' reads (``Store.metrics_over_time``, ``Store.compare_prompt_versions``) on
both engines, with exact numbers worked out by hand from ``_dashboard_store.TRACES`` (spans
written through the real tracer's provider at fixed times, grounding results, annotations)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import tracer
from tracer import TraceFilter
from tracer.store.reader import wilson_interval

from . import _viewer_store as vs
from ._dashboard_store import T0, write


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    """Every test here runs on a DuckDB file and on a PostgreSQL database: one contract."""
    return any_store_db


@pytest.fixture
def store(db_path: Path | str) -> tracer.Store:
    write(db_path)
    return tracer.Store(db_path)


def _at(minutes: int) -> dt.datetime:
    return (T0 + dt.timedelta(minutes=minutes)).replace(tzinfo=None)


def _by_group(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert all(r["bucket"] is None for r in rows)
    return {r["group"]: r for r in rows}


def test_the_store_counts_the_nested_call_once(store: tracer.Store) -> None:
    first = store.list_traces(limit=100)[-1]
    assert first["llm_count"] == 1 and first["input_tokens"] == 100 and first["output_tokens"] == 20


def test_every_trace_per_hour(store: tracer.Store) -> None:
    rows = store.metrics_over_time(bucket="hour")
    assert [(r["bucket"], r["group"]) for r in rows] == [(_at(0), "(all)"), (_at(60), "(all)")]
    ten, eleven = rows
    assert (ten["traces"], ten["calls"], ten["errors"], ten["tokens"]) == (3, 3, 1, 720)
    assert ten["error_rate"] == pytest.approx(1 / 3) and ten["cost_usd"] == pytest.approx(0.013)
    # Linear interpolation between the closest ranks (numpy's default), on both engines.
    assert (ten["p50_ms"], ten["p95_ms"], ten["p99_ms"]) == pytest.approx((200, 290, 298))
    assert (eleven["traces"], eleven["calls"], eleven["errors"], eleven["tokens"]) == (3, 2, 0, 165)
    assert eleven["error_rate"] == 0 and eleven["cost_usd"] == pytest.approx(0.0055)
    assert (eleven["p50_ms"], eleven["p95_ms"], eleven["p99_ms"]) == pytest.approx((500, 950, 990))


def test_a_day_bucket_and_the_whole_range_agree(store: tracer.Store) -> None:
    (day,) = store.metrics_over_time(bucket="day")
    (whole,) = store.metrics_over_time(bucket=None)
    assert day["bucket"] == _at(-600) and whole["bucket"] is None  # midnight, UTC
    assert {k: v for k, v in day.items() if k != "bucket"} == pytest.approx(
        {k: v for k, v in whole.items() if k != "bucket"}
    )
    assert whole["traces"] == 6 and whole["p50_ms"] == pytest.approx(350)


def test_by_prompt_version_user_and_root(store: tracer.Store) -> None:
    versions = _by_group(store.metrics_over_time(bucket=None, by="prompt_version"))
    assert {g: r["traces"] for g, r in versions.items()} == {"v1": 2, "v2": 3, "(none)": 1}
    assert versions["v2"]["errors"] == 1 and versions["v2"]["error_rate"] == pytest.approx(1 / 3)
    assert versions["v2"]["p50_ms"] == pytest.approx(400) and versions["v2"]["tokens"] == 525
    assert versions["(none)"]["tokens"] is None and versions["(none)"]["cost_usd"] is None  # nothing reported
    users = _by_group(store.metrics_over_time(bucket=None, by="user"))
    assert {g: r["traces"] for g, r in users.items()} == {"ann": 3, "ben": 2, "(none)": 1}
    assert users["ben"]["cost_usd"] == pytest.approx(0.007)
    roots = _by_group(store.metrics_over_time(bucket=None, by="root_name"))
    # Flat: pytest 9.2's approx() refuses a mapping of tuples (9.0 compared them).
    assert {g: r["traces"] for g, r in roots.items()} == {"rag": 3, "chat": 3}
    assert {g: r["p99_ms"] for g, r in roots.items()} == pytest.approx({"rag": 298.0, "chat": 990.0})


def test_by_model_counts_logical_calls(store: tracer.Store) -> None:
    models = _by_group(store.metrics_over_time(bucket=None, by="model"))
    assert set(models) == {"gpt-4o", "gpt-4o-mini", "gpt-4o-mini-2024-07-18"}
    # The function around the client call is one call, under the snapshot that answered.
    snapshot = models["gpt-4o-mini-2024-07-18"]
    assert (snapshot["traces"], snapshot["calls"], snapshot["tokens"]) == (1, 1, 120)
    assert snapshot["cost_usd"] == pytest.approx(0.001) and snapshot["p50_ms"] == pytest.approx(90)
    big = models["gpt-4o"]
    assert (big["calls"], big["errors"], big["error_rate"], big["tokens"]) == (2, 1, 0.5, 470)
    assert (big["p50_ms"], big["p95_ms"]) == pytest.approx((340, 385))  # the calls' 290 and 390 ms
    assert models["gpt-4o-mini"]["calls"] == 2 and models["gpt-4o-mini"]["tokens"] == 295
    per_hour = store.metrics_over_time(bucket="hour", by="model")
    assert [(r["bucket"].hour, r["group"], r["calls"]) for r in per_hour] == [
        (10, "gpt-4o", 1),
        (10, "gpt-4o-mini", 1),
        (10, "gpt-4o-mini-2024-07-18", 1),
        (11, "gpt-4o", 1),
        (11, "gpt-4o-mini", 1),
    ]


def test_groups_past_the_top_are_other(store: tracer.Store) -> None:
    versions = _by_group(store.metrics_over_time(bucket=None, by="prompt_version", top=1))
    assert {g: r["traces"] for g, r in versions.items()} == {"v2": 3, "(other)": 2, "(none)": 1}
    # A tie (two calls each) goes to the first name: gpt-4o stays, the rest is other.
    models = _by_group(store.metrics_over_time(bucket=None, by="model", top=1))
    assert {g: (r["calls"], r["tokens"]) for g, r in models.items()} == {"gpt-4o": (2, 470), "(other)": (3, 415)}


def test_the_filters_apply(store: tracer.Store) -> None:
    (ann,) = store.metrics_over_time(TraceFilter(user_id="ann"), bucket=None)
    assert (ann["traces"], ann["errors"], ann["p50_ms"]) == (3, 1, pytest.approx(300))
    models = _by_group(store.metrics_over_time(TraceFilter(status="ERROR"), bucket=None, by="model"))
    assert list(models) == ["gpt-4o"] and models["gpt-4o"]["calls"] == 1
    assert store.metrics_over_time(TraceFilter(user_id="nobody")) == []
    assert store.metrics_over_time(TraceFilter(text="nowhere"), by="model") == []


def test_bad_arguments_are_refused(store: tracer.Store) -> None:
    with pytest.raises(ValueError):
        store.metrics_over_time(bucket="week")
    with pytest.raises(ValueError):
        store.metrics_over_time(by="service")


def test_prompt_versions_side_by_side(store: tracer.Store) -> None:
    rows = store.compare_prompt_versions()
    assert [r["version"] for r in rows] == ["v2", "v1"]  # the most recently seen first
    v2, v1 = rows
    assert (v1["traces"], v1["grounding_checked"], v1["grounding_suspected"], v1["grounding_no_documents"]) == (
        2,
        2,
        1,
        0,
    )
    assert v1["grounding_rate"] == 0.5 and v1["grounding_score"] == pytest.approx(0.55)
    assert (v1["grounding_rate_low"], v1["grounding_rate_high"]) == pytest.approx(wilson_interval(1, 2))
    assert (v1["errors"], v1["error_rate"], v1["annotated_hallucination"]) == (0, 0.0, 0)
    assert (v1["p50_ms"], v1["p95_ms"]) == pytest.approx((150, 195))
    assert v1["tokens_per_trace"] == pytest.approx(180) and v1["cost_per_trace"] == pytest.approx(0.0015)
    assert v1["first_seen"] == _at(5) and v1["last_seen"] == _at(20)
    # v2: the no-documents answer is left out of the rate; the worst of two verdicts counts;
    # another tool's "grounding" event is not the check's; the annotation is counted apart.
    assert (v2["traces"], v2["grounding_checked"], v2["grounding_suspected"], v2["grounding_no_documents"]) == (
        3,
        2,
        1,
        1,
    )
    assert v2["grounding_rate"] == 0.5 and v2["grounding_score"] == pytest.approx(0.45)
    assert (v2["errors"], v2["annotated_hallucination"]) == (1, 1)
    assert (v2["error_rate_low"], v2["error_rate_high"]) == pytest.approx(wilson_interval(1, 3))
    assert (v2["p50_ms"], v2["p95_ms"]) == pytest.approx((400, 490))
    assert v2["tokens_per_trace"] == pytest.approx(175) and v2["cost_per_trace"] == pytest.approx(0.0155 / 3)


def test_prompt_versions_picked_and_filtered(store: tracer.Store) -> None:
    assert [r["version"] for r in store.compare_prompt_versions(versions=["v1"])] == ["v1"]
    assert store.compare_prompt_versions(versions=[]) == []
    (ben,) = store.compare_prompt_versions(TraceFilter(user_id="ben"), versions=["v2"])
    assert (ben["traces"], ben["grounding_checked"], ben["grounding_suspected"], ben["grounding_score"]) == (
        1,
        1,
        1,
        pytest.approx(0.1),
    )
    assert store.compare_prompt_versions(TraceFilter(user_id="nobody")) == []


def test_nothing_to_show(db_path: Path | str) -> None:
    with vs.no_export_grounding():
        tracer.configure(db=db_path)
    tracer.trace_step(name="unversioned")(lambda: None)()
    assert tracer.flush()
    one = tracer.Store(db_path)
    assert one.metrics_over_time(TraceFilter(user_id="x"), by="model") == []
    assert one.metrics_over_time(bucket=None, by="model") == []  # no LLM call
    assert one.compare_prompt_versions() == []  # no trace has a prompt version


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0) == (None, None)
    low, high = wilson_interval(2, 3)
    assert (round(low, 3), round(high, 3)) == (0.208, 0.939)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0
