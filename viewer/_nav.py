"""Which screen is shown lives in the URL (``?trace=<id>&span=<id>``, ``?compare=<id>,<id>``,
``?session=<id>``, ``?view=dashboards`` or ``?view=sessions``), so a trace, a span, a session or
a comparison can be linked to, reloaded and opened with the browser's back button.

Only the screen's own parameters are replaced when the screen changes: the sidebar's filters
keep theirs (``_url``), so a filtered list survives opening a trace and coming back."""

from __future__ import annotations

import streamlit as st

TRACE, SPAN, COMPARE, SESSION, VIEW = "trace", "span", "compare", "session", "view"
DASHBOARDS, SESSIONS = "dashboards", "sessions"
SCREEN_PARAMS = (TRACE, SPAN, COMPARE, SESSION, VIEW)


def _go(**params: str) -> None:
    """Replace the screen's parameters by ``params``, leaving every other one (filters) as is."""
    for key in SCREEN_PARAMS:
        if key in st.query_params and key not in params:
            del st.query_params[key]
    for key, value in params.items():
        st.query_params[key] = value


def current_trace() -> str | None:
    return st.query_params.get(TRACE) or None


def current_span() -> str | None:
    return st.query_params.get(SPAN) or None


def current_session() -> str | None:
    return st.query_params.get(SESSION) or None


def current_view() -> str | None:
    """``dashboards`` or ``sessions`` (the list screens beside the trace list), else ``None``."""
    view = st.query_params.get(VIEW)
    return view if view in (DASHBOARDS, SESSIONS) else None


def open_trace(trace_id: str, span_id: str | None = None) -> None:
    """Show a trace. Meant for widget callbacks: they run before the script, so the rerun
    that follows renders the trace straight away instead of the list once more."""
    _go(**{TRACE: trace_id, **({SPAN: span_id} if span_id else {})})


def select_span(span_id: str) -> None:
    """Remember the span in the URL; the widget that chose it already shows it, so no rerun."""
    if st.query_params.get(SPAN) != span_id:
        st.query_params[SPAN] = span_id


def back_to_list() -> None:
    """The list again (a callback, like :func:`open_trace`)."""
    _go()


def open_session(session_id: str) -> None:
    """One session's conversation, turn by turn (a callback, like :func:`open_trace`)."""
    _go(**{SESSION: session_id})


def open_view(view: str) -> None:
    """The dashboards or the session list (a callback); the trace list for anything else."""
    _go(**({VIEW: view} if view in (DASHBOARDS, SESSIONS) else {}))


def current_compare() -> tuple[str, str] | None:
    """The two trace ids of ``?compare=a,b``; ``None`` when absent or not two ids."""
    ids = [p.strip() for p in (st.query_params.get(COMPARE) or "").split(",") if p.strip()]
    return (ids[0], ids[1]) if len(ids) == 2 else None


def open_compare(a: str, b: str) -> None:
    """Show two traces side by side (a callback, like :func:`open_trace`)."""
    _go(**{COMPARE: f"{a},{b}"})
