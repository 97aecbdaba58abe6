"""Dashboards (``?view=dashboards``): latency percentiles, tokens, cost and error rate over
time by model, prompt version, user or root name, and prompt version A vs B."""

from __future__ import annotations

import streamlit as st

from tracer import TraceFilter

__all__ = ["render"]


def render(path: str, flt: TraceFilter) -> None:
    st.info("The dashboards are not built yet.")
