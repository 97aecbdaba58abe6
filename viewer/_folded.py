"""A folded box whose contents are read and drawn only while it is open (Streamlit's stateful
expander): what a fresh tab saves on the trace list's summary charts and "More filters"."""

from __future__ import annotations

from typing import Any

import streamlit as st

__all__ = ["folded", "saved_key"]


def saved_key(key: str) -> str:
    """Where the box's open state is kept while the box is not drawn (a trace is open):
    Streamlit forgets a widget's state then."""
    return f"{key}__kept"


def folded(label: str, key: str, *, open_now: bool = False) -> Any:
    """The expander ``key``, folded until opened; draw inside it only when ``.open``.

    ``open_now``: open it (a link set one of its filters). Opened through its state, never
    through ``expanded``: a changed ``expanded`` makes another widget, folded again."""
    if open_now or st.session_state.get(saved_key(key)):
        st.session_state[key] = True
    return st.expander(label, key=key, on_change=_keep, args=(key,))


def _keep(key: str) -> None:
    st.session_state[saved_key(key)] = bool(st.session_state[key])
