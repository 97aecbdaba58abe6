"""Annotations on the trace-detail screen: mark the selected span or the whole trace as a
hallucination, correct or other, with a note, and see the annotations already made: each
one's full note (plain text, never Markdown or HTML), with Edit and Delete (after a confirm).

They are written with ``Store.annotate`` (``update_annotation``, ``delete_annotation``) into
the ``annotations`` table; span rows are never changed. The author is whatever the user
types (nothing is guessed from the machine).
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


def _failed(exc: Exception, what: str) -> tuple[str, str]:
    """The message of a write the store refused, as ``_save`` words it."""
    if isinstance(exc, StoreBusy | OSError):  # passes by itself: worth another click
        return (
            "warning",
            f"Not {what}: the store could not be written right now ({type(exc).__name__}: {md(exc, 200)}). Try again.",
        )
    return ("error", f"Not {what}: {md(exc, 300)}")  # damaged, foreign, newer, or the annotation is gone


def _start_edit(annotation: Mapping[str, Any]) -> None:
    ss, aid = st.session_state, str(annotation["id"])
    ss["ann_editing"] = aid
    ss.pop("ann_deleting", None)
    ss[f"ann_edit_label_{aid}"] = annotation.get("label") if annotation.get("label") in LABELS else None
    ss[f"ann_edit_note_{aid}"] = str(annotation.get("note") or "")


def _start_delete(annotation_id: str) -> None:
    st.session_state.pop("ann_editing", None)
    st.session_state["ann_deleting"] = annotation_id


def _cancel() -> None:
    st.session_state.pop("ann_editing", None)
    st.session_state.pop("ann_deleting", None)


def _update(path: str, annotation_id: str) -> None:
    ss = st.session_state
    label = ss.get(f"ann_edit_label_{annotation_id}")
    if label not in LABELS:
        ss["ann_list_result"] = ("warning", "Pick a label first.")
        return
    try:
        _data.store(path).update_annotation(
            annotation_id, label=label, note=str(ss.get(f"ann_edit_note_{annotation_id}") or "")
        )
    except (StoreError, OSError) as exc:
        ss["ann_list_result"] = _failed(exc, "saved")
        return
    _cancel()
    ss["ann_list_result"] = ("success", f"Annotation changed: {label}.")


def _delete(path: str, annotation_id: str) -> None:
    ss = st.session_state
    try:
        existed = _data.store(path).delete_annotation(annotation_id)
    except (StoreError, OSError) as exc:
        ss["ann_list_result"] = _failed(exc, "deleted")
        return
    _cancel()
    ss["ann_list_result"] = ("success", "Annotation deleted.") if existed else ("warning", "It was already deleted.")


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


def _one(path: str, a: Mapping[str, Any], names: Mapping[str, str]) -> None:
    """One annotation: its full note, and Edit / Delete (with a confirm step)."""
    aid, ss = str(a["id"]), st.session_state
    on = f"span {names.get(str(a.get('span_id')), a.get('span_id'))}" if a.get("span_id") else "trace"
    title = " · ".join(str(x) for x in (a.get("label"), on, a.get("created_at"), a.get("author")) if x)
    editing, deleting = ss.get("ann_editing") == aid, ss.get("ann_deleting") == aid
    with st.expander(md(title), expanded=editing or deleting):
        st.text(str(a.get("note") or "(no note)"))
        if editing:
            st.radio("Label", LABELS, horizontal=True, key=f"ann_edit_label_{aid}")
            st.text_area("Note", key=f"ann_edit_note_{aid}", height=80)
            c1, c2 = st.columns(2)
            c1.button("Save changes", key=f"ann_edit_save_{aid}", on_click=_update, args=(path, aid))
            c2.button("Cancel", key=f"ann_edit_cancel_{aid}", on_click=_cancel)
        elif deleting:
            st.warning("Delete this annotation? This cannot be undone.")
            c1, c2 = st.columns(2)
            c1.button("Yes, delete", key=f"ann_delete_yes_{aid}", type="primary", on_click=_delete, args=(path, aid))
            c2.button("Cancel", key=f"ann_delete_cancel_{aid}", on_click=_cancel)
        else:
            c1, c2 = st.columns(2)
            c1.button("Edit", key=f"ann_edit_{aid}", on_click=_start_edit, args=(dict(a),))
            c2.button("Delete", key=f"ann_delete_{aid}", on_click=_start_delete, args=(aid,))


def render(path: str, data: Mapping[str, Any], node: Node) -> None:
    trace_id = str(data["trace"]["trace_id"])
    annotations = list(data.get("annotations") or [])
    st.markdown(f"**Annotations** ({len(annotations)})")
    if annotations:
        names = {str(s["span_id"]): str(s.get("name") or "?") for s in data["spans"]}
        st.dataframe(table(annotations, names), hide_index=True, key=f"annotations-{trace_id}")
        for a in annotations:
            _one(path, a, names)
    result = st.session_state.pop("ann_list_result", None)
    if result:
        getattr(st, result[0])(result[1])
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
