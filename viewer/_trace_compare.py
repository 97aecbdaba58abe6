"""Screen 4: two traces side by side (``?compare=<a>,<b>``). The answers and their grounding
next to each other, then the deltas (B − A) and the diffs of the output, the context and
the prompt. The comparison itself is pure (``_compare.py``)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from . import _compare as C
from . import _data, _nav
from ._panels import verdict
from ._safe import md

_FORMATS = {"cost ($)": "{:.6f}", "latency (ms)": "{:,.1f}", "LLM latency (ms)": "{:,.1f}", "grounding score": "{:.2f}"}


def _fmt(metric: str, value: Any, signed: bool = False) -> str:
    if value is None:
        return "-"
    text = _FORMATS.get(metric, "{:,}").format(value)
    return "+" + text if signed and value > 0 else text


def deltas_table(a: C.Side, b: C.Side) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": r["metric"],
                "A": _fmt(r["metric"], r["A"]),
                "B": _fmt(r["metric"], r["B"]),
                "B − A": _fmt(r["metric"], r["delta"], signed=True),
            }
            for r in C.deltas(a, b)
        ]
    )


NO_RANK = "—"


def context_table(a: C.Side, b: C.Side) -> pd.DataFrame:
    """``C.context_diff`` as shown: a document on one side only has no rank on the other,
    shown as ``—`` (a null cell reads "None" in a Streamlit table)."""
    return pd.DataFrame(
        [
            {**r, "rank A": _rank(r["rank A"]), "rank B": _rank(r["rank B"])}
            for r in C.context_diff(a.documents, b.documents)
        ]
    )


def _rank(rank: int | None) -> str:
    return NO_RANK if rank is None else str(rank)


def _side(name: str, trace_id: str, side: C.Side) -> None:
    t = side.trace
    with st.container(border=True, key=f"compare-{name.lower()}"):
        st.markdown(f"**{name}** · {md(t.get('root_name') or '?')}")
        start = t.get("start_time")
        st.text(f"trace {trace_id}\nstart {start:%Y-%m-%d %H:%M:%S} UTC" if start is not None else f"trace {trace_id}")
        st.button(
            f"Open trace {name}",
            key=f"open-{name.lower()}",
            type="tertiary",
            on_click=_nav.open_trace,
            args=(trace_id,),
        )
        if side.span is None:
            st.caption("no LLM span in this trace")
            return
        st.caption(f"answer of {md(side.span.get('name') or '?')} ({md(side.span.get('model') or '?')})")
        st.text(side.output or "(no text output)")
        g = side.grounding
        if g is None:
            st.caption("no grounding result for this answer")
        else:
            verdict(g)
            for s in g.unsupported:
                st.caption("unsupported:")
                st.text(s.text)


def _diff(title: str, diff: str, same: str) -> None:
    st.markdown(f"**{title}**")
    if diff:
        st.code(diff, language="diff", wrap_lines=True)
    else:
        st.caption(same)


def render(path: str, a: str, b: str) -> None:
    st.button("← All traces", key="back", on_click=_nav.back_to_list)
    with _data.snapshot(path):
        data = {a: _data.trace(path, a), b: _data.trace(path, b)}
    missing = [tid for tid, d in data.items() if d is None]
    if missing:
        st.warning(f"No trace {', '.join(md(m, 64) for m in missing)} in this store (yet).")
        return
    st.subheader("Compare two traces")
    sa, sb = C.side(data[a]), C.side(data[b])  # type: ignore[arg-type]
    left, right = st.columns(2)
    with left:
        _side("A", a, sa)
    with right:
        _side("B", b, sb)
    st.markdown("**Deltas** (B − A)")
    st.dataframe(deltas_table(sa, sb), hide_index=True, key="compare-deltas")
    _diff("Output", C.text_diff(sa.output, sb.output, names=("A", "B")), "same output")
    st.markdown("**Context**")
    context = context_table(sa, sb)
    if len(context):
        st.dataframe(context, hide_index=True, key="compare-context")
    else:
        st.caption("no retrieved documents in either trace")
    _diff("Prompt", C.text_diff(sa.prompt, sb.prompt, names=("A", "B")), "same prompt")
