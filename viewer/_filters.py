"""The sidebar's filters of the trace list (and of the session list and the dashboards).

Every widget is bound to a URL query parameter of its own name (``?status=ERROR&model=gpt-4o``):
a filtered list can be shared or bookmarked, survives a reload, and the browser's back button
steps back through the filters. A value equal to the widget's default stays out of the URL.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence
from typing import Literal

import streamlit as st

from tracer import AttributeFilter, TraceFilter
from tracer.store.reader import DECISION_FILTERS, base_model

from . import _data
from . import _outcome as O

__all__ = ["ANY", "KEYS", "clear", "model_options", "parse_attributes", "sidebar_filters"]

ANY = "(any)"
MAX_OPTIONS = _data.MAX_OPTIONS
HALLUC_SUSPECTED, HALLUC_NOT = "suspected", "not suspected"
BIND: Literal["query-params"] = "query-params"  # a literal: the widgets' bind= takes no plain str
# The widgets' keys, which are also their URL parameters. None of them names a screen
# (_nav.SCREEN_PARAMS): the screen and the filters change independently.
KEYS = (
    "time",
    "dates",
    "status",
    "outcome",
    "decision",
    "hallucination",
    "model",
    "kind",
    "prompt",
    "session_id",
    "user_id",
    "tags",
    "evaluation",
    "min_score",
    "max_score",
    "annotation",
    "attr",
    "min_ms",
    "min_cost",
)
MORE_OPEN = "more_filters_open"
# Shown under "More filters", which opens by itself when one of them is set (from a link).
MORE = ("tags", "evaluation", "min_score", "max_score", "annotation", "attr", "min_ms", "min_cost")
DECISION_HELP = (
    "traces where a post-processing step blocked, modified or flagged the answer, let it pass, "
    "or recorded any decision at all"
)


def _choice(
    label: str,
    options: Sequence[str],
    key: str,
    *,
    typed: bool = False,
    labels: dict[str, str] | None = None,
    help: str | None = None,
) -> str | None:
    shown = [ANY, *list(options)[:MAX_OPTIONS]]
    fmt = (lambda v: labels.get(v, v)) if labels else str
    value = st.selectbox(label, shown, key=key, accept_new_options=typed, format_func=fmt, bind=BIND, help=help)
    return None if value in (None, "", ANY) else str(value)


def model_options(models: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The model facet in order, each base model followed by its dated snapshots, and how
    those read: the base (it selects them all, ``TraceFilter.model``) counts them, a snapshot
    is indented under it (and can still be chosen alone)."""
    snapshots: dict[str, list[str]] = {}
    for m in models:
        if base_model(m) != m and base_model(m) in models:
            snapshots.setdefault(base_model(m), []).append(m)
    grouped = {m for group in snapshots.values() for m in group}
    order: list[str] = []
    labels: dict[str, str] = {}
    for m in models:
        if m in grouped:
            continue
        order.append(m)
        if m in snapshots:
            n = len(snapshots[m])
            labels[m] = f"{m} (+{n} snapshot{'s' if n != 1 else ''})"
            for snap in snapshots[m]:
                order.append(snap)
                labels[snap] = f"\u00a0\u00a0└\u00a0{snap}"  # non-breaking: a select box drops plain leading spaces
    return order, labels


def parse_attributes(text: str) -> tuple[tuple[AttributeFilter, ...], str | None]:
    """The attribute box's tests (``;`` between them) and what is wrong with them, if anything."""
    found: list[AttributeFilter] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        try:
            found.append(AttributeFilter.parse(part))
        except ValueError as exc:
            return tuple(found), f"{part!r}: {str(exc).removeprefix('attribute filter: ')}"
    return tuple(found), None


# What each filter reads when cleared. Set, not deleted: a bound widget without state takes
# the URL's value again, while a value set to the default also leaves the URL.
DEFAULTS: dict[str, object] = {
    **dict.fromkeys(KEYS, ANY),
    "time": next(iter(_data.TIME_RANGES)),
    "tags": [],
    "min_score": None,
    "max_score": None,
    "attr": "",
    "min_ms": 0.0,
    "min_cost": 0.0,
}


def clear() -> None:
    """Every filter back to its default (a callback: it runs before the widgets are drawn,
    the only time their state may be set). Their URL parameters go with them."""
    for key in KEYS:
        if key == "dates":
            st.session_state.pop(key, None)  # drawn only for a custom range, which this ends
        else:
            st.session_state[key] = DEFAULTS[key]


def _time_range() -> tuple[_dt.datetime | None, _dt.datetime | None]:
    since = until = None
    when = st.selectbox("Time range", [*_data.TIME_RANGES, "custom"], key="time", bind=BIND)
    if when == "custom":
        today = _data.utcnow().date()
        picked = st.date_input(
            "Dates (UTC)",
            (today - _dt.timedelta(days=7), today),
            key="dates",
            min_value=_dt.date(2000, 1, 1),
            max_value=today + _dt.timedelta(days=1),
            bind=BIND,
        )
        if isinstance(picked, Sequence) and len(picked) == 2:
            since = _dt.datetime.combine(picked[0], _dt.time())
            until = _dt.datetime.combine(picked[1], _dt.time()) + _dt.timedelta(days=1)
    elif (span := _data.TIME_RANGES.get(when or "")) is not None:
        since = _data.utcnow() - span
    return since, until


def sidebar_filters(facets: dict[str, list[str]]) -> TraceFilter:
    """The filter widgets; rendered on every screen so that their values survive opening a trace."""
    head, reset = st.columns([3, 2], vertical_alignment="center")
    head.header("Filters")
    reset.button("Clear", key="clear_filters", on_click=clear, help="every filter back to (any)")
    since, until = _time_range()
    status = st.selectbox(
        "Status", [ANY, "OK", "ERROR"], key="status", bind=BIND, help="ERROR: some span of the trace failed"
    )
    outcome = st.selectbox(
        "Outcome",
        [ANY, *O.KINDS],
        key="outcome",
        bind=BIND,
        help="what the user received: the answer as generated (delivered), changed by a "
        "post-processing step (modified), or blocked",
    )
    decision = st.selectbox("Decision", [ANY, *DECISION_FILTERS], key="decision", bind=BIND, help=DECISION_HELP)
    halluc = st.selectbox(
        "Hallucination",
        [ANY, HALLUC_SUSPECTED, HALLUC_NOT],
        key="hallucination",
        bind=BIND,
        help="suspected: the grounding check found unsupported sentences, or someone "
        "annotated the trace as a hallucination",
    )
    models, model_labels = model_options(facets.get("models", []))
    model = _choice("Model", models, "model", labels=model_labels)
    span_type = _choice("Span kind", facets.get("span_types", []), "kind")
    prompt_version = _choice("Prompt version", facets.get("prompt_versions", []), "prompt")
    session = _choice("Session", facets.get("sessions", []), "session_id", typed=True)
    user = _choice("User", facets.get("users", []), "user_id", typed=True)
    flt = TraceFilter(
        since=since,
        until=until,
        status=None if status == ANY else status,
        model=model,
        span_type=span_type,
        prompt_version=prompt_version,
        session_id=session,
        user_id=user,
        decision=None if decision == ANY else decision,
        outcome=None if outcome == ANY else outcome,
        hallucination={HALLUC_SUSPECTED: True, HALLUC_NOT: False}.get(halluc or ""),
    )
    # From a link, the URL holds the value before the widget (drawn below) has any state.
    force = any(st.session_state.get(k) not in (None, "", ANY, [], 0.0) or st.query_params.get(k) for k in MORE)
    # Its widgets are drawn only while it is open (or one of them holds a value): closed, they
    # cost a fresh tab about 0.3 s in the browser for filters most lists never use. Its open
    # state is the user's (``MORE_OPEN``): clearing its last filter does not fold it away.
    # ``expanded`` stays constant (a changed one makes it another widget, folded again): a
    # link that sets one of its filters opens it through its state instead.
    if force and not st.session_state.get(MORE_OPEN):
        st.session_state[MORE_OPEN] = True
    more = st.expander("More filters", key=MORE_OPEN, on_change="rerun")
    if not (more.open or force):
        return flt
    with more:
        tags = st.multiselect("Tags (all of)", facets.get("tags", [])[:MAX_OPTIONS], key="tags", bind=BIND)
        evaluation = _choice(
            "Evaluation",
            facets.get("evaluations", []),
            "evaluation",
            help="traces with an evaluation of this name (the grounding check's is 'grounding'); "
            "the scores below bound it",
        )
        low, high = st.columns(2)
        min_score = low.number_input("Score ≥", value=None, step=0.05, key="min_score", bind=BIND)
        max_score = high.number_input("Score ≤", value=None, step=0.05, key="max_score", bind=BIND)
        annotation = _choice("Annotation", facets.get("annotation_labels", []), "annotation")
        keys = facets.get("attribute_keys", [])
        text = st.text_input(
            "Attributes",
            key="attr",
            bind=BIND,
            placeholder="metadata.tenant = acme; gen_ai.request.temperature > 0.5",
            help="span attributes, all required, separated by ';': key = value, key ~ text "
            "(contains), key > 3 (>=, <, <=), key exists. metadata.<name> reads the trace's "
            "metadata. Keys seen in recent spans: " + ", ".join(keys[:60]),
        )
        attributes, problem = parse_attributes(text or "")
        if problem:
            st.error(problem)
        min_ms = st.number_input("Min latency (ms)", min_value=0.0, value=0.0, step=100.0, key="min_ms", bind=BIND)
        min_cost = st.number_input(
            "Min cost ($)", min_value=0.0, value=0.0, step=0.001, format="%.4f", key="min_cost", bind=BIND
        )
    return dataclasses.replace(
        flt,
        tags=tuple(tags),
        min_duration_ms=min_ms or None,
        min_cost_usd=min_cost or None,
        evaluation=evaluation,
        min_score=min_score,
        max_score=max_score,
        annotation=annotation,
        attributes=attributes,
    )
