"""Which screen is shown lives in the URL (``?trace=<id>&span=<id>``, ``?compare=<id>,<id>``), so a
trace, a span or a comparison can be linked to, reloaded and opened with the browser's back button."""

from __future__ import annotations

import streamlit as st

TRACE, SPAN, COMPARE = "trace", "span", "compare"


def current_trace() -> str | None:
    return st.query_params.get(TRACE) or None


def current_span() -> str | None:
    return st.query_params.get(SPAN) or None


def open_trace(trace_id: str, span_id: str | None = None) -> None:
    """Show a trace. Meant for widget callbacks: they run before the script, so the rerun
    that follows renders the trace straight away instead of the list once more."""
    st.query_params.clear()
    st.query_params[TRACE] = trace_id
    if span_id:
        st.query_params[SPAN] = span_id


def select_span(span_id: str) -> None:
    """Remember the span in the URL; the widget that chose it already shows it, so no rerun."""
    if st.query_params.get(SPAN) != span_id:
        st.query_params[SPAN] = span_id


def back_to_list() -> None:
    """The list again (a callback, like :func:`open_trace`)."""
    st.query_params.clear()


def current_compare() -> tuple[str, str] | None:
    """The two trace ids of ``?compare=a,b``; ``None`` when absent or not two ids."""
    ids = [p.strip() for p in (st.query_params.get(COMPARE) or "").split(",") if p.strip()]
    return (ids[0], ids[1]) if len(ids) == 2 else None


def open_compare(a: str, b: str) -> None:
    """Show two traces side by side (a callback, like :func:`open_trace`)."""
    st.query_params.clear()
    st.query_params[COMPARE] = f"{a},{b}"
