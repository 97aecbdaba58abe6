"""The top of a trace: the question, the answer the user received, and the facts the
grounding check found in no document, before any chart or panel. What a debugging session
starts from is where the eye lands first; the panels below say why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from . import _grounding as G
from . import _preview
from ._safe import md

__all__ = ["render", "unsupported_first"]

# Longer than the list's one-line previews: here the whole question is the point.
LIMIT = 2_000


def unsupported_first(g: G.Grounding) -> list[tuple[int, G.Sentence]]:
    """The unsupported sentences (numbered as in the answer), the likeliest hallucination
    on top (by the check's probability). A sentence without one comes last."""
    return g.ranked()


def render(data: Mapping[str, Any]) -> None:
    preview = _preview.of_trace(data, limit=LIMIT)
    g = G.for_trace(data.get("evaluations") or ())
    if not (preview.question or preview.answer or g):
        return
    with st.container(border=True, key="glance"):
        for column, (title, text, missing) in zip(
            st.columns(2),
            (
                (
                    "**Question**",
                    preview.question,
                    "no question recorded: the trace's input is not a chat message or argument",
                ),
                ("**Answer** · what the user received", preview.answer, "no answer recorded"),
            ),
        ):
            with column:
                st.markdown(title)
                if text:
                    st.text(text)
                else:
                    st.caption(missing)
        if g is not None and g.suspected:
            _unsupported(g)


def _unsupported(g: G.Grounding) -> None:
    bits = []
    if g.numbers:
        bits.append("numbers in no document: " + ", ".join(g.numbers))
    if g.entities:
        bits.append("names in no document: " + ", ".join(g.entities))
    st.markdown(":red-badge[unsupported by the context]" + (" " + md(" · ".join(bits), 400) if bits else ""))
    for i, s in unsupported_first(g):
        score = "no score" if s.probability is None else f"P(unsupported) {s.probability:.2f}"
        st.caption(f"sentence {i} · {score}")
        st.text(s.text)
