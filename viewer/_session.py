"""Sessions: the list of conversations (``?view=sessions``) and one session's turns in order
(``?session=<id>``).

A session is every trace carrying one ``session_id`` (``tracer.trace_attributes``); a turn is
one of those traces. The list reads ``Store.list_sessions`` (the sidebar's filters pick the
traces, so every number counts matching turns only); the session view shows all of a
session's turns, oldest first, each with the question, the answer the user received and its
verdict by the trace list's rules (``_preview``, ``_outcome``, the trace detail's badges).
Everything stored is shown as text: ``st.text`` for content, ``md()`` inside our Markdown.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from tracer import TraceFilter

from . import _data, _nav, _preview
from . import _outcome as O
from ._calls import Calls
from ._panels import outcome_for
from ._safe import md
from ._trace_detail import verdict_badges
from ._trace_list import FLAG_ERROR, flags
from ._trace_list import trace_tokens as tokens_of

__all__ = ["LIST_COLUMNS", "problems", "render", "render_list", "session_table", "summary_badges"]

SESSIONS_PER_PAGE = 50
TURNS_PER_PAGE = 100
# A turn's question and answer are read here, not only scanned: far longer than a table cell
# (120), and the rest is one click away in the trace.
TURN_CHARS = 2_000
ERROR, BLOCKED, MODIFIED, SUSPECTED = FLAG_ERROR, "blocked", "modified", "hallucination suspected"


# --- pure: what the screens say ---------------------------------------------------------
def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, _dt.datetime) else "?"


def _users(row: dict[str, Any]) -> str:
    return ", ".join(str(u) for u in row.get("users") or [])


def _span_s(row: dict[str, Any]) -> float | None:
    """Seconds from the session's first turn's start to its last turn's end."""
    first, last = row.get("first_start"), row.get("last_end") or row.get("last_start")
    if isinstance(first, _dt.datetime) and isinstance(last, _dt.datetime):
        return (last - first).total_seconds()
    return None


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    if value < 1:
        return f"{value * 1000:,.0f} ms"
    if value < 120:
        return f"{value:,.1f} s"
    return f"{value / 60:,.1f} min" if value < 7200 else f"{value / 3600:,.1f} h"


LIST_COLUMNS = (
    "last turn (UTC)",
    "session",
    "user",
    "turns",
    "suspected",
    "blocked",
    "modified",
    "errors",
    "first turn (UTC)",
    "length",
    "duration (ms)",
    "tokens",
    "cost ($)",
)


def session_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The session list as displayed: the verdict counts next to the turns, where they are
    read against them; a missing number (no usage recorded) stays missing, never 0."""
    out = [
        {
            "last turn (UTC)": r.get("last_start"),
            "session": r.get("session_id"),
            "user": _users(r),
            "turns": r.get("turns"),
            "suspected": r.get("suspected_turns"),
            "blocked": r.get("blocked_turns"),
            "modified": r.get("modified_turns"),
            "errors": r.get("error_turns"),
            "first turn (UTC)": r.get("first_start"),
            "length": _seconds(_span_s(r)),
            "duration (ms)": r.get("duration_ms"),
            "tokens": tokens_of(r),
            "cost ($)": r.get("cost_usd"),
        }
        for r in rows
    ]
    df = pd.DataFrame(out, columns=list(LIST_COLUMNS))
    for column in ("turns", "suspected", "blocked", "modified", "errors", "tokens"):
        df[column] = df[column].astype("Int64")
    return df


def problems(row: dict[str, Any]) -> list[str]:
    """What makes a turn (a trace-list row) stand out: an error, an answer blocked or changed
    by post-processing, a suspected hallucination (the grounding check's, or an annotation's)."""
    out = [ERROR] if FLAG_ERROR in flags(row) else []
    outcome = O.of_row(row)
    if outcome == O.BLOCKED:
        out.append(BLOCKED)
    elif outcome == O.MODIFIED:
        out.append(MODIFIED)
    if row.get("suspected_hallucination"):
        out.append(SUSPECTED)
    return out


def summary_badges(row: dict[str, Any]) -> str:
    """The session's verdicts in one line of badges: how many turns were suspected, blocked,
    modified, failed; green when none."""
    turns = int(row.get("turns") or 0)
    counts = [
        (int(row.get("suspected_turns") or 0), "suspected hallucination", "suspected hallucinations", "red"),
        (int(row.get("blocked_turns") or 0), "blocked answer", "blocked answers", "red"),
        (int(row.get("modified_turns") or 0), "modified answer", "modified answers", "blue"),
        (int(row.get("error_turns") or 0), "error", "errors", "red"),
    ]
    bits = [f":{color}-badge[{n} {one if n == 1 else many}]" for n, one, many, color in counts if n]
    if not bits:
        return f":green-badge[{turns} turn{'s' if turns != 1 else ''}: no error, block or suspected hallucination]"
    return " ".join(bits)


# --- the session list -------------------------------------------------------------------
_COLUMN_CONFIG = {
    "last turn (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "first turn (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "session": st.column_config.TextColumn(width=220),
    "turns": st.column_config.NumberColumn(help="traces of the session matching the filters"),
    "suspected": st.column_config.NumberColumn(help="turns the grounding check or an annotation flags"),
    "blocked": st.column_config.NumberColumn(help="turns whose answer post-processing blocked"),
    "modified": st.column_config.NumberColumn(help="turns whose answer post-processing changed"),
    "errors": st.column_config.NumberColumn(help="turns with a failed span"),
    "length": st.column_config.TextColumn(help="from the first turn's start to the last turn's end"),
    "duration (ms)": st.column_config.NumberColumn(format="%.1f", help="the turns' durations added up"),
    "tokens": st.column_config.NumberColumn(format="%d"),
    "cost ($)": st.column_config.NumberColumn(format="%.5f"),
}


def _open_selected(key: str, ids: list[str]) -> None:
    rows = st.session_state[key].selection.rows
    if rows:
        _nav.open_session(ids[rows[0]])


def _open_chosen(key: str) -> None:
    if st.session_state.get(key):
        _nav.open_session(st.session_state[key])


def _set_page(key: str) -> None:
    st.session_state["sessions_page"] = int(st.session_state[key])


def render_list(path: str, flt: TraceFilter) -> None:
    page = int(st.session_state.get("sessions_page", 1))
    with _data.snapshot(path):  # the count and the page agree
        total, rows = _data.session_page(path, flt, limit=SESSIONS_PER_PAGE, offset=(page - 1) * SESSIONS_PER_PAGE)
        if total and not rows:  # the filters shrank the list under the saved page
            page = 1
            total, rows = _data.session_page(path, flt, limit=SESSIONS_PER_PAGE, offset=0)
    if total == 0:
        if flt == TraceFilter():
            st.info(
                "No trace in this store has a session id yet. Give your app's traces one with "
                '`tracer.trace_attributes(session_id="...", user_id="...")` around each request '
                "(README, Tracing your code); they show up here on Refresh."
            )
        else:
            st.info("No session has a trace matching these filters.")
        return
    pages = max(1, -(-total // SESSIONS_PER_PAGE))
    st.caption(
        f"{total:,} session{'s' if total != 1 else ''} · page {page:,} of {pages:,} · most recently active first"
        + ("" if flt == TraceFilter() else " · the numbers count the turns matching the filters")
    )
    ids = [str(r["session_id"]) for r in rows]
    key = f"sessions-{hash(repr(flt))}-{page}"
    st.dataframe(
        session_table(rows),
        hide_index=True,
        placeholder="",
        column_config=_COLUMN_CONFIG,
        on_select=partial(_open_selected, key, ids),
        selection_mode="single-row",
        key=key,
    )
    left, right = st.columns([3, 3], vertical_alignment="bottom")
    with left:
        labels = {str(r["session_id"]): _option(r) for r in rows}
        st.selectbox(
            "Open a session",
            ids,
            index=None,
            key="open_session",
            format_func=labels.__getitem__,
            placeholder="choose a session on this page",
            on_change=_open_chosen,
            args=("open_session",),
        )
    with right:
        page_key = f"sessions-page-{hash(repr(flt))}-{pages}"
        st.pagination(pages, default=min(page, pages), key=page_key, on_change=_set_page, args=(page_key,))


def _option(row: dict[str, Any]) -> str:
    """A picker's option: the session, its user, turns and last turn (plain text: a select box
    does not read Markdown)."""
    turns = int(row.get("turns") or 0)
    bits = [str(row.get("session_id")), _users(row) or "no user", f"{turns} turn{'s' if turns != 1 else ''}"]
    return " · ".join([*bits, _when(row.get("last_start"))])


# --- one session ------------------------------------------------------------------------
def _back() -> None:
    _nav.open_view(_nav.SESSIONS)


def _header(row: dict[str, Any]) -> None:
    st.subheader(f"Session {md(row.get('session_id'), 120)}")
    users = row.get("users") or []
    who = f"user{'s' if len(users) > 1 else ''} {md(_users(row), 200)}" if users else "no user id"
    first, last = _when(row.get("first_start")), _when(row.get("last_end") or row.get("last_start"))
    st.caption(f"{who} · {first} → {last} UTC · all of its turns, whatever the sidebar's filters")
    tokens, cost = tokens_of(row), row.get("cost_usd")
    cols = st.columns(5)
    for col, (label, value, hint) in zip(
        cols,
        [
            ("turns", f"{int(row.get('turns') or 0):,}", "traces with this session id"),
            ("length", _seconds(_span_s(row)), "from the first turn's start to the last turn's end"),
            ("time in the app", f"{float(row.get('duration_ms') or 0):,.1f} ms", "the turns' durations added up"),
            ("tokens", "-" if tokens is None else f"{tokens:,}", "input and output, each LLM call counted once"),
            ("cost", "-" if cost is None else f"${cost:.5f}", None),
        ],
    ):
        col.metric(label, value, help=hint)
    st.markdown(summary_badges(row))


def _turn(number: int, row: dict[str, Any], data: dict[str, Any] | None) -> None:
    """One turn: what went wrong (if anything) first, its numbers, the question and the answer
    the user received (after post-processing), the trace's verdict badges, the way into it."""
    trace_id = str(row["trace_id"])
    flagged = problems(row)
    with st.container(border=True, key=f"turn-{number}"):
        head, button = st.columns([8, 1], vertical_alignment="center")
        cost = row.get("cost_usd")
        facts = [_when(row.get("start_time")), f"{float(row.get('duration_ms') or 0):,.1f} ms"]
        if tokens_of(row) is not None:
            facts.append(f"{tokens_of(row):,} tokens")
        if cost is not None:
            facts.append(f"${cost:.5f}")
        numbers = md(" · ".join(facts))
        if flagged:
            # Coloured and first: a reader scrolling a long conversation stops at these. A
            # changed answer alone is blue (the user got an answer, edited), as its badge is.
            color, icon = ("blue", "edit") if flagged == [MODIFIED] else ("red", "warning")
            head.markdown(f":{color}[:material/{icon}: **Turn {number}** · {md(', '.join(flagged))}] · {numbers}")
        else:
            head.markdown(f":green[:material/check_circle:] **Turn {number}** · {numbers}")
        button.button("Open trace →", key=f"open-turn-{trace_id}", on_click=_nav.open_trace, args=(trace_id,))
        if data is None:
            st.caption("this turn's spans are not stored yet")
            return
        preview = _preview.of_trace(data, limit=TURN_CHARS)
        calls = Calls(list(data.get("spans") or ()))
        outcome, _ = outcome_for(data, calls)
        with st.chat_message("user"):
            st.text(preview.question or "(no question recorded)")
        with st.chat_message("assistant"):
            if outcome.changed:
                st.caption(f"{md(outcome.headline())}: what the user received")
            st.text(
                preview.answer
                or (
                    "(no answer: the turn failed; its trace shows the error)"
                    if ERROR in flagged
                    else "(no answer recorded)"
                )
            )
        verdict_badges(data, calls)


def _set_turns_page(key: str, session_id: str) -> None:
    st.session_state[f"turns_page-{session_id}"] = int(st.session_state[key])


def render(path: str, session_id: str) -> None:
    st.button("← All sessions", key="back", on_click=_back)
    page = int(st.session_state.get(f"turns_page-{session_id}", 1))
    with _data.snapshot(path):  # the totals, the page of turns and their previews agree
        row = _data.session(path, session_id)
        if row is None:
            st.warning(
                f"No trace in this store has session id {md(session_id, 120)} (yet). If its first turn "
                "is still running, press Refresh."
            )
            return
        pages = max(1, -(-int(row["turns"]) // TURNS_PER_PAGE))
        page = min(page, pages)
        turns = _data.session_turns(path, session_id, limit=TURNS_PER_PAGE, offset=(page - 1) * TURNS_PER_PAGE)
        found = _data.previews(path, [str(t["trace_id"]) for t in turns]) if turns else {}
    _header(row)
    if pages > 1:
        st.caption(
            f"turns {(page - 1) * TURNS_PER_PAGE + 1:,}–{(page - 1) * TURNS_PER_PAGE + len(turns):,} of {row['turns']:,}, oldest first"
        )
    for i, turn in enumerate(turns):
        _turn((page - 1) * TURNS_PER_PAGE + i + 1, turn, found.get(str(turn["trace_id"])))
    if pages > 1:
        key = f"turns-page-{session_id}-{pages}"
        st.pagination(pages, default=page, key=key, on_change=_set_turns_page, args=(key, session_id))
