"""What the span detail says when a part of the request is missing from the trace because
it ran in another one (``_elsewhere.py``): a link to that trace and the fix, in the user's
own function names. Names from the store go through ``md`` or ``st.code`` (see ``_safe.py``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from . import _data, _nav
from . import _elsewhere as E
from ._safe import md

MAX_LINKS = 1  # the nearest: the later ones belong to later requests, as a rule


def nearby(
    path: str, trace: Mapping[str, Any], span_type: str, window: tuple[_dt.datetime, _dt.datetime] | None
) -> tuple[Mapping[str, Any], ...]:
    """Other traces of this one's service with a ``span_type`` span, started in ``window``."""
    if window is None:
        return ()
    return E.others(trace, _data.traces_with(path, span_type, *window))


def links(rows: Sequence[Mapping[str, Any]], trace: Mapping[str, Any], what: str) -> None:
    """A button per other trace (the viewer's trace links are ``?trace=<id>``)."""
    for row in rows[:MAX_LINKS]:
        when = E.distance(row, trace)
        st.button(
            f"open the {what} trace: {md(row.get('root_name') or '?', 80)}" + (f", {when}" if when else "") + " →",
            key=f"nearby-{what}-{row['trace_id']}",
            type="tertiary",
            on_click=_nav.open_trace,
            args=(str(row["trace_id"]),),
        )


def fix(*, retriever: Any, answer: Any, guard: Any) -> None:
    st.markdown(
        "**Fix**: wrap the pipeline in one `@tracer.trace_step` function (or a "
        "`with tracer.span(...)` block), so that retrieval, the LLM call and post-processing "
        "share one trace."
    )
    st.caption(f"See {md(E.README, 120)}.")
    st.code(
        E.wrap_example(retriever and str(retriever), answer and str(answer), guard and str(guard)),
        language="python",
        wrap_lines=True,
    )
