"""Annotations on the trace-detail screen: mark the selected span or the whole trace as a
hallucination, correct or other, with a note, and see the annotations already made.

They are written with ``Store.annotate`` into the ``annotations`` table; span rows are never
changed. The author is whatever the user types (nothing is guessed from the machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from tracer import StoreBusy, StoreError

from . import _data
from ._safe import md
from ._tree import Node

LABELS = ("hallucination", "correct", "other")
SCOPE_SPAN, SCOPE_TRACE = "this span", "the whole trace"


def _save(path: str, trace_id: str, span_id: str) -> None:
    ss = st.session_state
    label, scope = ss.get("ann_label"), ss.get("ann_scope")
    if label not in LABELS:
        ss["ann_result"] = ("warning", "Pick a label first.")
        return
    try:
        _data.annotate(
            path,
            trace_id,
            label,
            str(ss.get("ann_note") or ""),
            span_id=span_id if scope == SCOPE_SPAN else None,
            author=str(ss.get("ann_author") or ""),
        )
    except (StoreBusy, OSError) as exc:  # passes by itself: worth another click
        ss["ann_result"] = (
            "warning",
            f"Not saved: the store could not be written right now ({type(exc).__name__}: {md(exc, 200)}). Try again.",
        )
        return
    except StoreError as exc:  # damaged, foreign, newer: another click would fail the same way
        ss["ann_result"] = ("error", f"Not saved: {md(exc, 300)}")
        return
    ss["ann_result"] = ("success", f"Saved: {label} on {scope}.")
    ss["ann_note"] = ""
    ss["ann_label"] = None  # the next trace gets a label of its own, not this one by accident


def table(annotations: list[Mapping[str, Any]], names: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "time (UTC)": a.get("created_at"),
                "on": f"span {names.get(str(a.get('span_id')), a.get('span_id'))}" if a.get("span_id") else "trace",
                "label": a.get("label"),
                "note": a.get("note") or "",
                "author": a.get("author") or "",
            }
            for a in annotations
        ],
        columns=["time (UTC)", "on", "label", "note", "author"],
    )


def render(path: str, data: Mapping[str, Any], node: Node) -> None:
    trace_id = str(data["trace"]["trace_id"])
    annotations = list(data.get("annotations") or [])
    st.markdown(f"**Annotations** ({len(annotations)})")
    if annotations:
        names = {str(s["span_id"]): str(s.get("name") or "?") for s in data["spans"]}
        st.dataframe(table(annotations, names), hide_index=True, key=f"annotations-{trace_id}")
    with st.container(border=True, key="annotate"):
        c1, c2, c3 = st.columns([2, 2, 1])
        with c1:
            st.radio("Label", LABELS, index=None, horizontal=True, key="ann_label")
        with c2:
            st.radio(
                "On",
                (SCOPE_SPAN, SCOPE_TRACE),
                horizontal=True,
                key="ann_scope",
                help=f"this span: {md(node.span.get('name') or '?')}",
            )
        with c3:
            st.text_input("Author (optional)", key="ann_author")
        st.text_area("Note", key="ann_note", placeholder="what is wrong (or right) with this answer", height=80)
        st.button("Save annotation", key="ann_save", on_click=_save, args=(path, trace_id, node.span_id))
        result = st.session_state.pop("ann_result", None)
        if result:
            getattr(st, result[0])(result[1])
