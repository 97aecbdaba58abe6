"""Dashboards (``?view=dashboards``): latency percentiles, tokens, cost and error rate over
time by model, prompt version, user or root name, and prompt version A vs B (``_prompt_ab``).

Every figure is the store's (``Store.metrics_over_time``), for the sidebar's filters; this
module only picks the time step, shapes the rows for Altair and lays the screen out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from tracer import TraceFilter
from tracer.store.reader import MAX_GROUPS, NO_GROUP, OTHER_GROUP

from . import _data, _prompt_ab
from ._trace_list import FINER, MIN_POINTS, TIME_FORMATS, WHEN_FORMATS, time_ticks

__all__ = ["BREAKDOWNS", "PERCENTILES", "fitting_bucket", "legend_chart", "over_time_chart", "render", "totals_table"]

# What the "Break down by" control offers, and the ``by`` of Store.metrics_over_time.
BREAKDOWNS: dict[str, str | None] = {
    "nothing": None,
    "model": "model",
    "prompt version": "prompt_version",
    "user": "user",
    "root span": "root_name",
}
PERCENTILES = ("p50", "p95", "p99")
BY_KEY, PERCENTILE_KEY = "dash_by", "dash_pct"  # widget keys, and their URL parameters
# Pixels. The element's height is fixed: st.altair_chart's "content" height squeezes the plot
# to a strip.
CHART_HEIGHT = 200
LEGEND_LABEL_PX = 130
LEGEND_HEIGHT = 56


def fitting_bucket(flt: TraceFilter, fetch: Callable[[str], list[dict[str, Any]]]) -> tuple[str, list[dict[str, Any]]]:
    """The time step the trace list's charts would take (``_data.bucket_for`` the filter's
    range), finer while the rows fill fewer than ``MIN_POINTS`` steps; and the rows."""
    bucket = _data.bucket_for(flt.since, flt.until)
    rows = fetch(bucket)
    while bucket in FINER and len({r["bucket"] for r in rows}) < MIN_POINTS:
        bucket = FINER[bucket]
        rows = fetch(bucket)
    return bucket, rows


def _colour(series: Sequence[str], legend: bool) -> alt.Color:
    """One colour per series, the same in every chart of the screen (the domain is every
    series, in order, whatever a chart's own rows hold)."""
    shown = alt.Legend(title=None, labelLimit=LEGEND_LABEL_PX, orient="right") if legend else None
    return alt.Color("series:N", scale=alt.Scale(domain=list(series)), sort=list(series), legend=shown)


def over_time_chart(
    data: pd.DataFrame,
    title: str,
    bucket: str,
    *,
    fmt: str,
    series: Sequence[str],
    name: str,
    unit: str,
    legend: bool = False,
) -> alt.Chart | None:
    """``value`` per ``series`` over ``bucket`` steps (columns ``bucket``, ``series``,
    ``value``, ``n``: how many ``unit`` it is of): lines on a UTC axis, or, when every row
    falls in one step, a bar per series (a line of one point is a lone dot). ``fmt``: the d3
    format of the values; ``series``: every series of the screen, in order (their colours);
    ``name``: what a series is (the tooltip's word); a legend only with ``legend``."""
    data = data.dropna(subset=["value"])
    if data.empty:
        return None
    starts = sorted(set(data["bucket"]))
    tooltip: list[Any] = [
        alt.Tooltip("series:N", title=name),
        alt.Tooltip("value:Q", title=title, format=fmt),
        alt.Tooltip("n:Q", title=unit),
    ]
    if len(starts) == 1:
        when = pd.Timestamp(starts[0]).strftime(WHEN_FORMATS[bucket])
        return (
            alt.Chart(data, title=alt.TitleParams(title, subtitle=f"{when} UTC ({bucket})"))
            .mark_bar()
            .encode(
                x=alt.X("value:Q", title=None, axis=alt.Axis(format=fmt)),
                y=alt.Y("series:N", title=None, axis=alt.Axis(labelLimit=160), sort=list(series)),
                color=_colour(series, False),
                tooltip=tooltip,
            )
            .properties(height=CHART_HEIGHT)
        )
    time_fmt = TIME_FORMATS[bucket]
    return (
        alt.Chart(data, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "bucket:T",
                title=f"UTC, per {bucket}",
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format=time_fmt, values=time_ticks(starts[0], starts[-1], bucket), labelOverlap=True),
            ),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format=fmt)),
            color=_colour(series, legend),
            tooltip=[
                alt.Tooltip("utcyearmonthdatehoursminutes(bucket):T", title=f"{bucket} (UTC)", format=time_fmt),
                *tooltip,
            ],
        )
        .properties(height=CHART_HEIGHT)
    )


def legend_chart(series: Sequence[str]) -> alt.Chart:
    """The groups' colours once, in a row above the four charts (a legend in each would take
    a fifth of every plot's width)."""
    return (
        alt.Chart(pd.DataFrame({"series": list(series)}))
        .mark_circle(opacity=0)
        .encode(
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=list(series)),
                sort=list(series),
                legend=alt.Legend(
                    title=None, orient="top", direction="horizontal", labelLimit=LEGEND_LABEL_PX, symbolType="circle"
                ),
            )
        )
        .properties(height=1)
        .configure_view(stroke=None)
    )


def _long(rows: Sequence[dict[str, Any]], field: str, unit: str, series: str | None = None) -> pd.DataFrame:
    """Rows as the chart reads them: one ``series`` per group (or the name ``series``)."""
    return pd.DataFrame(
        [{"bucket": r["bucket"], "series": series or r["group"], "value": r[field], "n": r[unit]} for r in rows],
        columns=["bucket", "series", "value", "n"],
    )


def _ordered(totals: Sequence[dict[str, Any]], unit: str) -> list[str]:
    """Groups by size, ``(other)`` and ``(none)`` last: the legend and the table's order."""
    rest = {OTHER_GROUP: 1, NO_GROUP: 2}
    return [r["group"] for r in sorted(totals, key=lambda r: (rest.get(r["group"], 0), -r[unit], str(r["group"])))]


def totals_table(totals: Sequence[dict[str, Any]], by: str | None) -> pd.DataFrame:
    """One row per group over the whole range, biggest first. By model the counts are LLM calls."""
    unit = "calls" if by == "model" else "traces"
    order = {group: i for i, group in enumerate(_ordered(totals, unit))}
    rows = sorted(totals, key=lambda r: order[r["group"]])
    table = pd.DataFrame(
        [
            {
                "group": r["group"],
                "traces": r["traces"],
                "LLM calls": r["calls"],
                "errors": r["errors"],
                "error rate": r["error_rate"],
                "p50 (ms)": r["p50_ms"],
                "p95 (ms)": r["p95_ms"],
                "p99 (ms)": r["p99_ms"],
                "tokens": r["tokens"],
                "cost ($)": r["cost_usd"],
            }
            for r in rows
        ]
    )
    for column in ("traces", "LLM calls", "errors", "tokens"):
        table[column] = table[column].astype("Int64")  # a group without usage reads empty, not 0
    return table


_TOTAL_COLUMNS = {
    "error rate": st.column_config.NumberColumn(format="percent", help="errors over traces (by model: over calls)"),
    "p50 (ms)": st.column_config.NumberColumn(format="%.1f"),
    "p95 (ms)": st.column_config.NumberColumn(format="%.1f"),
    "p99 (ms)": st.column_config.NumberColumn(format="%.1f"),
    "cost ($)": st.column_config.NumberColumn(format="%.5f"),
    "tokens": st.column_config.NumberColumn(format="localized"),
}


def _state_default(key: str, options: Sequence[str]) -> None:
    """A value the URL or an earlier run left that is not offered (any more) gives way to the default."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)


def render(path: str, flt: TraceFilter) -> None:
    _state_default(BY_KEY, list(BREAKDOWNS))
    label = st.segmented_control(
        "Break down by", list(BREAKDOWNS), default="nothing", required=True, key=BY_KEY, bind="query-params"
    )
    by = BREAKDOWNS.get(label or "nothing")
    key = repr(flt)
    with _data.snapshot(path):  # one connection for every figure on the screen
        totals = _data.metrics(path, key, flt, None, by)
        bucket, rows = fitting_bucket(flt, lambda b: _data.metrics(path, key, flt, b, by)) if totals else ("day", [])
        versions = _prompt_ab.read(path, flt)
    if not totals:
        if by == "model" and _data.metrics(path, key, flt, None, None):
            st.info("No LLM call in the traces matching these filters: nothing to break down by model.")
        elif flt == TraceFilter():
            st.info("This store has no traces yet. Run your traced app; its traces show up here on Refresh.")
        else:
            st.info("No trace matches these filters.")
        return
    unit = "calls" if by == "model" else "traces"
    count = sum(int(r[unit]) for r in totals)
    grouped = f" · the {MAX_GROUPS} biggest groups, the rest as {OTHER_GROUP}" if by else ""
    what = "LLM calls (each logical call once)" if by == "model" else "traces"
    st.caption(f"{count:,} {what} · per {bucket} (UTC){grouped}")
    _charts(rows, totals, by, bucket, unit)
    st.dataframe(totals_table(totals, by), hide_index=True, column_config=_TOTAL_COLUMNS, placeholder="")
    _prompt_ab.render(path, flt, versions)


def _charts(rows: list[dict[str, Any]], totals: list[dict[str, Any]], by: str | None, bucket: str, unit: str) -> None:
    groups = _ordered(totals, unit)
    order = {group: i for i, group in enumerate(groups)}
    rows = sorted(rows, key=lambda r: (r["bucket"], order.get(r["group"], len(order))))
    name = next((label for label, b in BREAKDOWNS.items() if b == by), "group")
    chart = partial(over_time_chart, bucket=bucket, series=groups, name=name, unit=_UNITS[unit])
    if by is None:
        latency = pd.concat([_long(rows, f"{p}_ms", unit, series=p) for p in PERCENTILES], ignore_index=True)
        latency_chart = chart(latency, "Latency (ms)", fmt=",.0f", series=PERCENTILES, name="percentile", legend=True)
    else:
        pick, key = st.columns([2, 5], vertical_alignment="bottom")
        with pick:
            _state_default(PERCENTILE_KEY, PERCENTILES)
            picked = st.segmented_control(
                "Latency percentile", PERCENTILES, default="p95", required=True, key=PERCENTILE_KEY, bind="query-params"
            )
        with key:
            st.altair_chart(legend_chart(groups), width="stretch", height=LEGEND_HEIGHT)
        pct = picked or "p95"
        title = f"{pct} latency (ms)" + (" of the calls" if by == "model" else "")
        latency_chart = chart(_long(rows, f"{pct}_ms", unit), title, fmt=",.0f")
    charts = (
        latency_chart,
        chart(_long(rows, "error_rate", unit), "Error rate", fmt=".0%"),
        chart(_long(rows, "tokens", unit), "Tokens", fmt=",.0f"),
        chart(_long(rows, "cost_usd", unit), "Cost ($)", fmt="$,.4f"),
    )
    for pair in (charts[:2], charts[2:]):
        for col, drawn in zip(st.columns(2), pair):
            with col:
                if drawn is None:
                    st.caption("no data for this chart")
                else:
                    st.altair_chart(drawn, width="stretch", height=CHART_HEIGHT + 90)


_UNITS = {"calls": "LLM calls", "traces": "traces"}
