"""Screen 1: the trace list. Filters in the sidebar, search box, summary charts, one page of
traces (newest first), and a way to open one."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence
from functools import partial
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from tracer import TraceFilter
from tracer.store import display_location
from tracer.store._snippets import Snippet

from . import _data, _labels, _nav, _preview, _search_hits
from . import _outcome as O
from ._safe import md

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
FLAG_ERROR, FLAG_BLOCKED, FLAG_MODIFIED, FLAG_FLAGGED = "error", "blocked", "modified", "flagged"
HALLUC_SUSPECTED = "suspected"


# --- the table ---------------------------------------------------------------------------
def flags(row: dict[str, Any]) -> list[str]:
    out = []
    if (row.get("error_count") or 0) > 0 or row.get("status_code") == "ERROR":
        out.append(FLAG_ERROR)
    if (row.get("blocked_count") or 0) > 0:
        out.append(FLAG_BLOCKED)
    if (row.get("modified_count") or 0) > 0:
        out.append(FLAG_MODIFIED)
    if (row.get("flagged_count") or 0) > 0:
        out.append(FLAG_FLAGGED)
    return out


def hallucination(row: dict[str, Any]) -> str:
    """``suspected`` when the grounding check or an annotation says so; for an answer that
    post-processing blocked or changed, ``suspected (blocked)``: the user never read it as is."""
    if not row.get("suspected_hallucination"):
        return ""
    outcome = O.of_row(row)
    return HALLUC_SUSPECTED if outcome == O.DELIVERED else f"{HALLUC_SUSPECTED} ({outcome})"


# What a reader scans first on the left; the numbers, then the id (300 px wide) last.
COLUMNS = (
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
    "models",
    "trace id",
)
# The chooser starts with every column but the models (the sidebar's model filter names
# them, and the trace's detail lists them).
DEFAULT_COLUMNS = tuple(c for c in COLUMNS if c != "models")
COLUMNS_KEY, SAVED_COLUMNS_KEY = "f_columns", "list_columns"


def trace_tokens(row: dict[str, Any]) -> int | None:
    found = [int(row[k]) for k in ("input_tokens", "output_tokens") if row.get(k) is not None]
    return sum(found) if found else None


def table(
    rows: Sequence[dict[str, Any]],
    previews: dict[str, _preview.Preview] | None = None,
    matches: dict[str, Snippet] | None = None,
) -> pd.DataFrame:
    """The page's rows as displayed, every column (the chooser picks which are shown).
    "LLM calls", tokens and cost are the ``traces`` summary's: a ``@trace_llm`` function
    around an instrumented client counts once (docs/schema.md). A missing number stays
    missing (``None``; shown empty), never 0. ``previews``: by trace id (``_preview``).
    ``matches`` (a search is on): a "match" column too, where each trace matched."""
    previews = previews or {}
    none = _preview.Preview()
    out = []
    for r in rows:
        p = previews.get(str(r.get("trace_id")), none)
        out.append(
            {
                "time (UTC)": r.get("start_time"),
                "root": r.get("root_name") or "(root span not ended yet)",
                "question": p.question,
                "answer": p.answer,
                "status": _labels.status(r.get("status_code")),
                "duration (ms)": r.get("duration_ms"),
                "LLM calls": r.get("llm_count"),
                "tokens": trace_tokens(r),
                "cost ($)": r.get("cost_usd"),
                "models": ", ".join(r.get("models") or []),
                "flags": ", ".join(flags(r)),
                "hallucination": hallucination(r),
                "grounding": p.grounding,
                "annotation": p.annotation,
                "trace id": r.get("trace_id"),
            }
        )
    df = pd.DataFrame(out, columns=list(COLUMNS))
    if matches is not None:
        df[_search_hits.MATCH_COLUMN] = [_search_hits.cell(matches.get(str(r.get("trace_id")))) for r in rows]
    # Nullable integers: a trace without usage reads as missing, not as 0 or NaN-as-float.
    for column in ("LLM calls", "tokens"):
        df[column] = df[column].astype("Int64")
    return df


# Widths in pixels where a column's text must show whole: the flags ("error, blocked,
# modified, flagged") and the 32 hex digits of a trace id (read, compared and copied).
_COLUMNS = {
    "time (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "question": st.column_config.TextColumn(width=260, help="the question asked, else the trace's input"),
    "answer": st.column_config.TextColumn(
        width=260, help="what the user received: after post-processing, when it blocked or changed the answer"
    ),
    "duration (ms)": st.column_config.NumberColumn(format="%.1f"),
    "tokens": st.column_config.NumberColumn(format="%d"),
    "cost ($)": st.column_config.NumberColumn(format="%.5f"),
    "flags": st.column_config.TextColumn(width=250),
    "grounding": st.column_config.TextColumn(help="the trace's worst grounding result and its score"),
    "annotation": st.column_config.TextColumn(help="the newest human label of the trace (and how many more)"),
    "trace id": st.column_config.TextColumn(width=300),
    _search_hits.MATCH_COLUMN: st.column_config.TextColumn(
        width=360, help="where the search matched: the span · field, then the text, the match between « »"
    ),
}


def chosen_columns() -> list[str]:
    """The chooser's columns, in the table's order. Kept under a key of its own: Streamlit
    forgets a widget's value while the widget is not drawn (a trace is open)."""
    if COLUMNS_KEY not in st.session_state:
        st.session_state[COLUMNS_KEY] = list(st.session_state.get(SAVED_COLUMNS_KEY, DEFAULT_COLUMNS))
    with st.popover("Columns", help="choose the list's columns"):
        st.multiselect("Columns", COLUMNS, key=COLUMNS_KEY, on_change=_save_columns, placeholder="choose columns")
    picked = set(st.session_state[COLUMNS_KEY]) or set(DEFAULT_COLUMNS)
    return [c for c in COLUMNS if c in picked]


def _save_columns() -> None:
    st.session_state[SAVED_COLUMNS_KEY] = list(st.session_state[COLUMNS_KEY])


def _label(row: dict[str, Any]) -> str:
    """A picker's option: time, root span (a function name), its models, status, outcome, id."""
    start = row.get("start_time")
    when = start.strftime("%Y-%m-%d %H:%M:%S") if isinstance(start, _dt.datetime) else "?"
    bits = [when, str(row.get("root_name") or "?")]
    models = [m for m in row.get("models") or [] if m != row.get("root_name")]
    if models:
        bits.append(", ".join(models[:2]) + (" …" if len(models) > 2 else ""))
    bits.append(_labels.status(row.get("status_code")))
    if O.of_row(row) != O.DELIVERED:
        bits.append(O.of_row(row))
    return " · ".join([*bits, str(row.get("trace_id"))[:12]])


def _open_selected_row(key: str, ids: list[str]) -> None:
    rows = st.session_state[key].selection.rows
    if rows:
        _nav.open_trace(ids[rows[0]])


def _open_compare(key: str) -> None:
    picked = list(st.session_state.get(key) or [])
    if len(picked) == 2:
        _nav.open_compare(picked[0], picked[1])


def _open_chosen() -> None:
    if st.session_state.get("open_trace"):
        _nav.open_trace(st.session_state["open_trace"])


# --- charts ------------------------------------------------------------------------------
def latency_chart(durations: Sequence[float]) -> alt.Chart | None:
    """Binned here, so the browser gets ~30 bars rather than 20,000 points."""
    if not durations:
        return None
    import numpy as np

    counts, edges = np.histogram(np.asarray(durations, dtype=float), bins=min(30, max(1, len(durations))))
    data = pd.DataFrame({"from (ms)": edges[:-1], "to (ms)": edges[1:], "traces": counts})
    return (
        alt.Chart(data, title="Latency distribution")
        .mark_bar()
        .encode(
            x=alt.X("from (ms):Q", title="trace duration (ms)"),
            x2="to (ms):Q",
            # y2 at zero: with x and x2 both set, Vega-Lite otherwise draws thin horizontal ticks
            y=alt.Y("traces:Q", axis=alt.Axis(format="d", tickMinStep=1)),
            y2=alt.datum(0),
            tooltip=["from (ms)", "to (ms)", "traces"],
        )
        .properties(height=180)
    )


# Per bucket: the next finer one, the axis and tooltip format, and the size of one step.
FINER = {"day": "hour", "hour": "minute"}
TIME_FORMATS = {"minute": "%H:%M", "hour": "%d %b %H:%M", "day": "%d %b %Y"}
WHEN_FORMATS = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d"}
BUCKET_SIZE = {"minute": _dt.timedelta(minutes=1), "hour": _dt.timedelta(hours=1), "day": _dt.timedelta(days=1)}
# Fewer buckets than this read as dots rather than a trend: the charts try a finer bucket.
MIN_POINTS = 4
MAX_TICKS = 6
NICE_STEPS = {"minute": (1, 2, 5, 10, 15, 30, 60, 120), "hour": (1, 2, 3, 6, 12, 24, 48), "day": (1, 2, 7, 14, 28)}


def usage_chart(rows: Sequence[dict[str, Any]], field: str, title: str, bucket: str = "day") -> alt.Chart | None:
    """``field`` per model over time: lines over ``bucket``-wide steps (UTC), or, when every
    row falls in one bucket, a bar per model (a line of one point is a lone dot)."""
    data = pd.DataFrame([r for r in rows if r.get(field) is not None])
    if data.empty:
        return None
    fmt = TIME_FORMATS[bucket]
    starts = sorted(set(data["bucket"]))
    if len(starts) == 1:
        when = pd.Timestamp(starts[0]).strftime(WHEN_FORMATS[bucket])
        return (
            alt.Chart(data, title=alt.TitleParams(title, subtitle=f"{when} UTC ({bucket})"))
            .mark_bar()
            .encode(
                x=alt.X(f"{field}:Q", title=None),
                y=alt.Y("model:N", title=None, axis=alt.Axis(labelLimit=200)),
                color=alt.Color("model:N", legend=None),
                tooltip=["model:N", f"{field}:Q", "calls:Q"],
            )
            .properties(height=180)
        )
    return (
        alt.Chart(data, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "bucket:T",
                title=f"UTC, per {bucket}",
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format=fmt, values=time_ticks(starts[0], starts[-1], bucket), labelOverlap=True),
            ),
            y=alt.Y(f"{field}:Q", title=None),
            color=alt.Color("model:N", legend=alt.Legend(labelLimit=120, title=None)),
            tooltip=[
                alt.Tooltip("utcyearmonthdatehoursminutes(bucket):T", title=f"{bucket} (UTC)", format=fmt),
                "model:N",
                f"{field}:Q",
                "calls:Q",
            ],
        )
        .properties(height=180)
    )


def time_ticks(first: Any, last: Any, bucket: str) -> list[alt.DateTime]:
    """At most ``MAX_TICKS`` axis ticks in ``[first, last]``, on round multiples of the bucket
    (10:00, 10:10...; UTC), so that a label never names a time between two buckets.
    DateTime objects: Vega-Lite ignores plain numbers as ticks of a time axis."""
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    size = BUCKET_SIZE[bucket]
    steps = (last - first) / size
    every = next((n for n in NICE_STEPS[bucket] if steps / n <= MAX_TICKS - 1), -(-int(steps) // (MAX_TICKS - 1)))
    unit = every * size
    epoch = pd.Timestamp(0)
    t = epoch + -(-(first - epoch) // unit) * unit  # the first multiple of the step at or after first
    out = []
    while t <= last:
        out.append(alt.DateTime(year=t.year, month=t.month, date=t.day, hours=t.hour, minutes=t.minute, utc=True))
        t += unit
    return out


def usage_over_time(path: str, flt: TraceFilter, key: str) -> tuple[str, list[dict[str, Any]]]:
    """The usage rows and their bucket: the filter's time range suggests one (``bucket_for``);
    when the matching calls fill fewer than ``MIN_POINTS`` of them (everything happened within
    one day of an "all time" range), a finer one. Each step is bounded: data that fills fewer
    than four days fills at most 96 hours."""
    bucket = _data.bucket_for(flt.since, flt.until)
    rows = _data.usage(path, key, flt, bucket)
    while bucket in FINER and len({r["bucket"] for r in rows}) < MIN_POINTS:
        bucket = FINER[bucket]
        rows = _data.usage(path, key, flt, bucket)
    return bucket, rows


CHARTS_KEY, SAVED_CHARTS_KEY = "charts_open", "list_charts_open"


def _charts(path: str, flt: TraceFilter) -> None:
    """Folded by default, and read and drawn only while open: on 1M spans they cost the list
    ~0.3 s of reads and a fresh tab ~0.7 s of drawing, for figures the Dashboards screen
    gives in full. Whether they are open is kept for the session (the expander's own state is
    forgotten while a trace is open)."""
    box = st.expander(
        "Summary charts",
        expanded=bool(st.session_state.get(SAVED_CHARTS_KEY)),
        key=CHARTS_KEY,
        on_change=_save_charts,
    )
    if not box.open:
        return
    key = repr(flt)
    bucket, usage = usage_over_time(path, flt, key)
    durations = _data.durations(path, key, flt)
    with box:
        cols = st.columns(3)
        for col, chart in zip(
            cols,
            (
                latency_chart(durations),
                usage_chart(usage, "tokens", "Tokens per model", bucket),
                usage_chart(usage, "cost_usd", "Cost ($) per model", bucket),
            ),
        ):
            with col:
                if chart is None:
                    st.caption("no data for this chart")
                else:
                    st.altair_chart(chart, width="stretch")


def _save_charts() -> None:
    st.session_state[SAVED_CHARTS_KEY] = bool(st.session_state[CHARTS_KEY])


# --- the screen --------------------------------------------------------------------------
def render(path: str, flt: TraceFilter) -> None:
    text = st.text_input(
        "Search prompts, outputs and documents",
        key=_search_hits.SEARCH_KEY,
        bind="query-params",  # ?q=battery: a search can be linked to, like the filters
        # The rules in the box itself (a help icon would give the box a second label): every
        # word whole, any case; "batt*" a word's beginning; 6+ hex digits an id's (docs/viewer.md).
        placeholder="whole words, all required · batt* for words beginning with batt · "
        "a trace or span id (6+ hex digits) · press Enter",
    )
    # A copy, never ``flt`` itself: Enter in this box reruns only the page's fragment
    # (app.py), which gets the same filter object again; a search written into it stayed
    # there after the box was cleared.
    flt = dataclasses.replace(flt, text=text.strip() or None)
    if flt.text:
        _data.refresh_search_index(path)
    size = int(st.session_state.get("page_size", DEFAULT_PAGE_SIZE))
    page = int(st.session_state.get("page_no", 1))
    # One connection (and one match of a search's text) for the count, the page, its
    # previews and, after the table is on screen, the charts.
    with _data.snapshot(path):
        _page(path, flt, size, page)


def _page(path: str, flt: TraceFilter, size: int, page: int) -> None:
    total, rows = _data.trace_page(path, flt, limit=size, offset=(page - 1) * size)
    if total and not rows:  # the filter shrank the list under the saved page: back to page 1
        page = 1
        total, rows = _data.trace_page(path, flt, limit=size, offset=0)
    ids = [str(r["trace_id"]) for r in rows]
    found = _data.previews(path, ids) if ids else {}
    hits = _search_hits.snippets(path, ids, flt.text) if flt.text and ids else None
    if total == 0:
        if flt == TraceFilter(text=flt.text) and not flt.text:
            st.info(
                "This store has no traces yet. Run your traced app; new traces show up on Refresh "
                "(or turn on auto-refresh in the sidebar)."
            )
        else:
            st.info("No trace matches these filters.")
            if flt.text:
                _search_hits.offer_prefixes(path, flt)
        return
    pages = max(1, -(-total // size))
    info, choose = st.columns([6, 1], vertical_alignment="center")
    info.caption(f"{total:,} trace{'s' if total != 1 else ''} · page {page:,} of {pages:,} · newest first")
    with choose:
        columns = chosen_columns()
    if flt.session_id:
        st.button(
            f"Open this session: {md(flt.session_id, 80)} →",
            key="open_filtered_session",
            help="its turns in order, each with its question, answer and verdict (all of them, whatever the other filters)",
            on_click=_nav.open_session,
            args=(flt.session_id,),
        )
    previews = {trace_id: _preview.of_trace(data) for trace_id, data in found.items()}
    if hits is not None:  # where each trace matched, beside its time
        columns.insert(1 if columns and columns[0] == "time (UTC)" else 0, _search_hits.MATCH_COLUMN)
    shown = table(rows, previews, hits)[columns]
    table_key = f"traces-{hash(repr(flt))}-{page}-{size}"
    # Callbacks, not return values: they run before the next script run, which then draws the
    # trace (or the page) at once instead of drawing this list again first.
    st.dataframe(
        shown,
        hide_index=True,
        # Empty, not Streamlit's grey "None", where a trace has no cost or tokens.
        placeholder="",
        column_config=_COLUMNS,
        on_select=partial(_open_selected_row, table_key, ids),
        selection_mode="single-row",
        key=table_key,
    )

    left, mid, right = st.columns([3, 3, 1], vertical_alignment="bottom")
    with left:
        labels = {str(r["trace_id"]): _label(r) for r in rows}
        st.selectbox(
            "Open a trace",
            ids,
            index=None,
            key="open_trace",
            format_func=labels.__getitem__,
            placeholder="choose a trace on this page",
            on_change=_open_chosen,
        )
    with mid:
        page_key = f"page-{hash(repr(flt))}-{size}-{pages}"
        st.pagination(pages, default=min(page, pages), key=page_key, on_change=_set_page, args=(page_key,))
    with right:
        st.selectbox(
            "Per page",
            PAGE_SIZES,
            index=PAGE_SIZES.index(size) if size in PAGE_SIZES else 0,
            key="f_page_size",
            on_change=_set_size,
        )
    pick, go = st.columns([6, 1], vertical_alignment="bottom")
    compare_key = f"compare-{table_key}"
    with pick:
        st.multiselect(
            "Compare two traces",
            ids,
            key=compare_key,
            max_selections=2,
            format_func=labels.__getitem__,
            placeholder="pick two traces on this page",
        )
    with go:
        st.button(
            "Compare",
            key="compare_go",
            on_click=_open_compare,
            args=(compare_key,),
            disabled=len(st.session_state.get(compare_key) or []) != 2,
        )
    if hits:
        _search_hits.render_list(rows, hits)
    # Below the table: the charts take the browser longer to draw than the table, and the
    # table is what the user came for.
    _charts(path, flt)


def _set_page(key: str) -> None:
    st.session_state["page_no"] = int(st.session_state[key])


def _set_size() -> None:
    st.session_state["page_size"] = int(st.session_state["f_page_size"])
    st.session_state["page_no"] = 1


def title(path: str) -> None:
    st.title("Spyglass")
    st.caption(f"store: {md(display_location(path), 300)}")


VIEWS = {"Traces": None, "Sessions": _nav.SESSIONS, "Dashboards": _nav.DASHBOARDS}


def tabs(view: str | None) -> None:
    """The three list screens, one click apart; the sidebar's filters apply to each."""
    names = list(VIEWS)
    shown = next(name for name, v in VIEWS.items() if v == view)
    st.segmented_control(
        "Screen",
        names,
        default=shown,
        key=f"screen-{shown}",
        label_visibility="collapsed",
        on_change=_pick_view,
        args=(f"screen-{shown}",),
    )


def _pick_view(key: str) -> None:
    picked = st.session_state.get(key)
    if picked is not None:
        _nav.open_view(VIEWS[picked] or "")
