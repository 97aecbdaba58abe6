"""The Streamlit script of the Spyglass viewer (``spyglass view`` runs it). Routing only:
each screen lives in its own module."""

from __future__ import annotations

import streamlit as st

from viewer import _dashboard, _data, _filters, _nav, _session, _trace_compare, _trace_detail, _trace_list

st.set_page_config(page_title="Spyglass", page_icon="🔭", layout="wide")

path = _data.db_path()

with st.sidebar:
    st.button("Refresh", key="refresh", help="read the store again", on_click=_data.clear_caches)
    auto = st.toggle("Auto-refresh", key="auto_refresh")
    every = st.select_slider("every (s)", [2, 5, 10, 30, 60], value=5, key="auto_every", disabled=not auto)
    try:
        with _data.reading(path):
            facets = _data.facets(path)
    except _data.Problem:
        facets = {}  # the main area says what is wrong with the store
    flt = _filters.sidebar_filters(facets)


# Only the main area reruns on the timer: the sidebar widgets keep their state untouched.
@st.fragment(run_every=every if auto else None)
def main() -> None:
    trace_id = _nav.current_trace()
    pair = _nav.current_compare()
    session = _nav.current_session()
    view = _nav.current_view()
    if not trace_id and not pair and not session:
        _trace_list.title(path)
        _trace_list.tabs(view)
    try:
        with _data.reading(path):
            if pair:
                _trace_compare.render(path, *pair)
            elif trace_id:
                _trace_detail.render(path, trace_id)
            elif session:
                _session.render(path, session)
            elif view == _nav.DASHBOARDS:
                _dashboard.render(path, flt)
            elif view == _nav.SESSIONS:
                _session.render_list(path, flt)
            else:
                _trace_list.render(path, flt)
    except _data.Problem as problem:
        getattr(st, problem.level)(problem.message)


main()
