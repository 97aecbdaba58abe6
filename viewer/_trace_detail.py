"""Screen 2: one trace. Its summary, the span tree as a waterfall (timing) chart, and the
detail of the selected span (screen 3, ``_panels.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from . import _annotate, _calls, _check_with, _data, _glance, _labels, _nav, _panels, _replay_panel
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


# A bar is drawn at least this share of the trace wide, so that a 0.1 ms span in a 2 s
# trace is still seen and clicked; its tooltip and label give the real duration.
MIN_BAR_SHARE = 0.006
PICK = "span"  # the chart's selection: a click on a row picks its span
ROW = 22  # px per span: the shade and the click band fill the whole row, gaps included


def waterfall_chart(rows: Sequence[dict[str, Any]], selected: str | None) -> alt.LayerChart:
    """The span tree as a waterfall: one row per span, indented names on the left, a bar per
    span's time, its duration beside it. A click anywhere on a row selects that span (an
    invisible full-width band on top of each row takes the click); the selected row is shaded."""
    data = pd.DataFrame(rows)
    data["selected"] = data["span_id"] == selected
    end = float(data["end_ms"].max() or 0.0) or 1.0
    data["bar_end_ms"] = data[["end_ms"]].max(axis=1).clip(lower=data["start_ms"] + end * MIN_BAR_SHARE)
    data["row_start_ms"] = 0.0  # a field, not alt.datum(0): Vega-Lite drew no chart with a datum x here
    data["row_end_ms"] = end * 1.12  # room for the duration label after the last bar
    data["duration_label"] = data["duration_ms"].map(_duration)
    keys = list(data["key"])
    y = alt.Y(
        "key:N",
        sort=keys,
        title=None,
        scale=alt.Scale(paddingInner=0.25),
        # the key is "0007": unique even when names repeat; show the indented name instead
        axis=alt.Axis(labelExpr=f"{_label_lookup(rows)}[datum.value] || ''", labelLimit=360, labelFontSize=12),
    )
    x = alt.X("start_ms:Q", title="ms since trace start", scale=alt.Scale(domain=[0, end * 1.12], nice=False))
    tooltip = [
        alt.Tooltip("name:N"),
        alt.Tooltip("type:N"),
        alt.Tooltip("status:N"),
        alt.Tooltip("duration_ms:Q", title="duration (ms)", format=",.3f"),
        alt.Tooltip("start_ms:Q", title="start (ms)", format=",.3f"),
    ]
    base = alt.Chart(data).encode(y=y)
    shade = (
        base.transform_filter("datum.selected")
        .mark_bar(color="#dfe9f5", height=ROW)
        .encode(x="row_start_ms:Q", x2="row_end_ms:Q")
    )
    bars = base.mark_bar(cornerRadius=2).encode(
        x=x,
        x2="bar_end_ms:Q",
        color=alt.Color(
            "type:N",
            scale=alt.Scale(domain=list(TYPE_COLORS), range=list(TYPE_COLORS.values())),
            # Below: the rows start at the chart's top, where a test (and a reader) finds them.
            legend=alt.Legend(orient="bottom", title=None),
        ),
        stroke=alt.condition("datum.status == 'ERROR'", alt.value("#d63031"), alt.value(None)),
        strokeWidth=alt.value(2),
    )
    labels = base.mark_text(align="left", dx=4, fontSize=11, color="#555").encode(
        x="bar_end_ms:Q", text="duration_label:N"
    )
    click = base.mark_bar(opacity=0.001, height=ROW).encode(x="row_start_ms:Q", x2="row_end_ms:Q", tooltip=tooltip)
    click = click.add_params(alt.selection_point(name=PICK, fields=["span_id"], on="click"))
    # A fixed step per row: the chart grows with the trace instead of squeezing its bars.
    return alt.layer(shade, bars, labels, click).properties(height=alt.Step(ROW))


def _duration(ms: float) -> str:
    if ms < 1:
        return f"{ms * 1000:,.0f} µs"
    return f"{ms:,.1f} ms" if ms < 1000 else f"{ms / 1000:,.2f} s"


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


STREAMED = "⚡ streamed"


def label(node: Node) -> str:
    """The span's (indented) name; for an LLM span, its model beside it (``answer · gpt-4o-mini``),
    and ``⚡ streamed`` after a streamed call."""
    model = _calls.model(node.span) if _calls.is_llm(node.span) else None
    text = f"{node.label} · {model}" if model and model != node.span.get("name") else node.label
    return f"{text} · {STREAMED}" if _calls.streamed(node.span) else text


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


def verdict_badges(data: dict[str, Any], calls: Calls) -> None:
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


def _picked_in_chart(key: str) -> None:
    """A click on the waterfall: the row's span, in the URL (a history entry: Back returns
    to the span before). The URL keeps no span for the one a trace opens on, so opening a
    trace is one entry, not two."""
    picked = ((st.session_state.get(key) or {}).get("selection") or {}).get(PICK) or []
    span_id = next((p.get("span_id") for p in picked if isinstance(p, Mapping) and p.get("span_id")), None)
    if span_id:
        _nav.select_span(str(span_id))


def _picked_in_box(key: str, ids: Sequence[str]) -> None:
    chosen = st.session_state.get(key)
    if chosen is not None:
        _nav.select_span(ids[int(chosen)])


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
    verdict_badges(data, calls)
    _glance.render(data)
    nodes = tree(data["spans"])
    if not nodes:
        st.info("This trace has no spans stored yet.")
        return

    ids = [n.span_id for n in nodes]
    wanted = _nav.current_span()
    index = ids.index(wanted) if wanted in ids else default_span(nodes, calls)
    node = nodes[index]
    rows = waterfall(nodes)
    for row, n in zip(rows, nodes):
        row["label"] = label(n)
    # Keyed by the selected span: a new selection draws a fresh chart whose own selection is
    # empty, so the next click on any row (the same one again included) is a change.
    chart_key = f"waterfall-{trace_id}-{node.span_id}"
    st.caption("Click a row of the waterfall to open its span.")
    st.altair_chart(
        waterfall_chart(rows, node.span_id),
        width="stretch",
        key=chart_key,
        on_select=partial(_picked_in_chart, chart_key),
        selection_mode=PICK,
    )
    picker_key = f"span-{trace_id}"
    # The box shows the URL's span whatever chose it (a click on the chart included): set
    # before the widget is drawn, the only time its state may be set.
    st.session_state[picker_key] = index
    st.selectbox(
        "Span",
        range(len(nodes)),
        format_func=lambda i: _option(nodes[i], calls),
        key=picker_key,
        on_change=partial(_picked_in_box, picker_key, ids),
        label_visibility="collapsed",
    )
    _panels.render(path, data, node, calls)
    if _calls.is_llm(node.span) and node.span.get("llm_parent_span_id") is None:
        _check_with.render(path, str(data["trace"].get("trace_id")), node.span_id, data.get("evaluations") or ())
    borrowed = _calls.borrowed(calls, node.span)
    _replay_panel.render(
        data,
        node,
        _panels.trace_documents(data, node, calls),
        content=borrowed.content if borrowed is not None else None,
    )
    _annotate.render(path, data, node)
