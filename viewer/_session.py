"""Sessions: the list of conversations (``?view=sessions``) and one session's turns in order
(``?session=<id>``)."""

from __future__ import annotations

import streamlit as st

from tracer import TraceFilter

from . import _nav

__all__ = ["render", "render_list"]


def render(path: str, session_id: str) -> None:
    st.button("← All traces", key="back", on_click=_nav.back_to_list)
    st.info("The session view is not built yet.")


def render_list(path: str, flt: TraceFilter) -> None:
    st.info("The session list is not built yet.")
