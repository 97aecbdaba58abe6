"""Screen 2: one trace. Its summary, the span tree as a waterfall (timing) chart, and the
detail of the selected span (screen 3, ``_panels.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from . import _annotate, _calls, _data, _labels, _nav, _panels, _replay_panel
from . import _grounding as G
from . import _outcome as O
from ._calls import Calls
from ._safe import md
from ._tree import Node, tree, waterfall

TYPE_COLORS = {
    "step": "#8c8c8c",
    "retriever": "#2e86de",
    "llm": "#8e44ad",
    "postprocess": "#e67e22",
    "tool": "#16a085",
    "embedding": "#27ae60",
    "other": "#bdc3c7",
}


def waterfall_chart(rows: Sequence[dict[str, Any]], selected: str | None) -> alt.Chart:
    data = pd.DataFrame(rows)
    data["selected"] = data["span_id"] == selected
    keys = list(data["key"])
    y = alt.Y(
        "key:N",
        sort=keys,
        title=None,
        scale=alt.Scale(paddingInner=0.25),
        # the key is "0007": unique even when names repeat; show the indented name instead
        axis=alt.Axis(labelExpr=f"{_label_lookup(rows)}[datum.value] || ''", labelLimit=360, labelFontSize=12),
    )
    bars = (
        alt.Chart(data)
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X("start_ms:Q", title="ms since trace start"),
            x2="end_ms:Q",
            y=y,
            color=alt.Color(
                "type:N",
                scale=alt.Scale(domain=list(TYPE_COLORS), range=list(TYPE_COLORS.values())),
                legend=alt.Legend(orient="top", title=None),
            ),
            stroke=alt.condition("datum.status == 'ERROR'", alt.value("#d63031"), alt.value(None)),
            strokeWidth=alt.condition("datum.selected", alt.value(3), alt.value(2)),
            opacity=alt.condition("datum.selected", alt.value(1.0), alt.value(0.75)),
            tooltip=[
                alt.Tooltip("name:N"),
                alt.Tooltip("type:N"),
                alt.Tooltip("status:N"),
                alt.Tooltip("duration_ms:Q", title="duration (ms)"),
                alt.Tooltip("start_ms:Q", title="start (ms)"),
            ],
        )
    )
    # A fixed step per row: the chart grows with the trace instead of squeezing its bars.
    return bars.properties(height=alt.Step(22))


def _label_lookup(rows: Sequence[dict[str, Any]]) -> str:
    """A Vega expression object literal key -> label. JSON-encoded: a span name can't break out."""
    import json

    return json.dumps({r["key"]: r["label"] for r in rows})


def default_span(nodes: Sequence[Node], calls: Calls | None = None) -> int:
    """Open on the first logical LLM call (the outermost LLM span: a ``@trace_llm`` function,
    not the client call inside it): the one a debugging session starts from; else the root."""
    calls = calls or Calls([n.span for n in nodes])
    for i, n in enumerate(nodes):
        if calls.is_logical(n.span):
            return i
    return 0


def label(node: Node) -> str:
    """The span's (indented) name; for an LLM span, its model beside it: ``answer · gpt-4o-mini``."""
    model = _calls.model(node.span) if _calls.is_llm(node.span) else None
    return f"{node.label} · {model}" if model and model != node.span.get("name") else node.label


def _option(node: Node, calls: Calls) -> str:
    s = node.span
    kind = str(s.get("span_type") or "span")
    parent = calls.parent(node.span_id)
    if parent is not None:
        kind += f" (inside {parent.get('name') or '?'})"
    bits = [label(node), kind, f"{float(s.get('duration_ms') or 0):.1f} ms"]
    if s.get("status_code") == "ERROR":
        bits.append("ERROR")
    return " · ".join(bits)


def _summary(t: dict[str, Any]) -> None:
    cols = st.columns(6)
    tokens = (t.get("input_tokens") or 0) + (t.get("output_tokens") or 0)
    cost = t.get("cost_usd")
    for col, (label, value) in zip(
        cols,
        [
            ("status", _labels.status(t.get("status_code"))),
            ("duration", f"{float(t.get('duration_ms') or 0):,.1f} ms"),
            ("spans", f"{t.get('span_count') or 0}"),
            ("LLM calls", f"{t.get('llm_count') or 0}"),
            ("tokens", f"{tokens:,}"),
            ("cost", "-" if cost is None else f"${cost:.5f}"),
        ],
    ):
        col.metric(label, value)
    service, service_help = _labels.service(t.get("service_name"))
    facts = {
        "trace id": t.get("trace_id"),
        "start (UTC)": t.get("start_time"),
        "session": t.get("session_id"),
        "user": t.get("user_id"),
        "prompt version": t.get("prompt_version"),
        "models": ", ".join(t.get("models") or []),
        "tags": ", ".join(t.get("tags") or []),
        "service": service,
    }
    st.text("  ·  ".join(f"{k}: {v}" for k, v in facts.items() if v not in (None, "")), help=service_help)
    if t.get("session_id"):
        session_id = str(t["session_id"])
        st.button(
            f"Open session {md(session_id, 80)} →",
            key="open_session_of_trace",
            type="tertiary",
            help="this conversation's turns in order, each with its question, answer and verdict",
            on_click=_nav.open_session,
            args=(session_id,),
        )


def _verdicts(data: dict[str, Any], calls: Calls) -> None:
    """One line on what the user received (when post-processing blocked or changed the
    answer), the trace's grounding, and its human labels, when there are any."""
    bits = []
    outcome, affected = _panels.outcome_for(data, calls)
    if outcome.changed:
        bits.append(f":{_panels.OUTCOME_COLORS[outcome.kind]}-badge[{md(outcome.headline())}]")
    evaluations = data.get("evaluations") or ()
    g = G.for_trace(evaluations)
    if g is not None:
        # The grounding of an answer the user never got (or got changed) is about the text
        # before post-processing: say so, and never in green.
        before = outcome.changed and any(G.for_span(evaluations, sid) is not None for sid in affected)
        color = "red" if g.suspected else "gray" if before else "green"
        where = f" {md('(' + O.BEFORE + ')')}" if before else ""
        bits.append(f":{color}-badge[grounding{where}: {md(g.summary())}]")
    labels = [a.get("label") for a in data.get("annotations") or []]
    if labels:
        bits.append(
            f":blue-badge[annotations: {md(', '.join(f'{labels.count(x)} {x}' for x in dict.fromkeys(labels)))}]"
        )
    if bits:
        st.markdown(" ".join(bits))


def render(path: str, trace_id: str) -> None:
    st.button("← All traces", key="back", on_click=_nav.back_to_list)
    data = _data.trace(path, trace_id)
    if data is None:
        st.warning(f"No trace {md(trace_id, 64)} in this store (yet). If it is still running, press Refresh.")
        return
    t = data["trace"]
    st.subheader(md(t.get("root_name") or "(root span not ended yet)"))
    _summary(t)
    calls = Calls(data["spans"])
    _verdicts(data, calls)
    nodes = tree(data["spans"])
    if not nodes:
        st.info("This trace has no spans stored yet.")
        return

    ids = [n.span_id for n in nodes]
    wanted = _nav.current_span()
    index = ids.index(wanted) if wanted in ids else default_span(nodes, calls)
    chart_slot = st.container()
    chosen = st.selectbox(
        "Span", range(len(nodes)), index=index, format_func=lambda i: _option(nodes[i], calls), key=f"span-{trace_id}"
    )
    node = nodes[chosen if chosen is not None else index]
    _nav.select_span(node.span_id)
    rows = waterfall(nodes)
    for row, n in zip(rows, nodes):
        row["label"] = label(n)
    with chart_slot:
        st.altair_chart(waterfall_chart(rows, node.span_id), width="stretch")
    _panels.render(path, data, node, calls)
    borrowed = _calls.borrowed(calls, node.span)
    _replay_panel.render(
        data,
        node,
        _panels.trace_documents(data, node, calls),
        content=borrowed.content if borrowed is not None else None,
    )
    _annotate.render(path, data, node)
