""" "Check this answer with …": run another grounding scorer on one stored LLM call, and
compare every scorer's result on it side by side.

The check is ``tracer._evaluate.check_span`` on what the store holds for that call (its
answer, its trace's documents and tool results), the same as ``spyglass check --scorer``;
the result is stored as an evaluation named ``grounding/<scorer>`` next to the default one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from tracer import StoreBusy, StoreError

from . import _data
from . import _grounding as G
from ._safe import md

__all__ = ["comparison", "render"]

MODEL_CHOICE = "a detector model…"


def comparison(results: Sequence[tuple[str, G.Grounding]]) -> list[dict[str, Any]]:
    """One row per scorer: its verdict, the likeliest sentence's probability, the counts and
    the unsupported sentences (likeliest first)."""
    rows = []
    for name, g in results:
        p = g.probability
        rows.append(
            {
                "scorer": g.scorer or name,
                "verdict": g.verdict,
                "P(unsupported)": None if p is None else round(p, 3),
                "unsupported": f"{len(g.unsupported)} of {len(g.sentences)}",
                "sentences": " | ".join(f"{i}: {s.text}" for i, s in g.ranked()),
            }
        )
    return rows


def _choices() -> list[str]:
    from tracer._evaluate import SCORERS

    configured = os.environ.get("SPYGLASS_GROUNDING_MODEL")
    return [*SCORERS, *([configured] if configured else []), MODEL_CHOICE]


def _run(path: str, trace_id: str, span_id: str, key: str) -> None:
    from tracer import grounding
    from tracer._evaluate import check_span, named_scorer

    ss = st.session_state
    choice = ss.get(f"{key}-scorer")
    spec = str(ss.get(f"{key}-model") or "").strip() if choice == MODEL_CHOICE else str(choice or "")
    if not spec:
        ss[f"{key}-result"] = ("warning", "Give a model folder or a Hugging Face id first.")
        return
    try:
        name, scorer = named_scorer(spec)
        store = _data.store(path)
        span = next((s for s in store.llm_spans(trace_id=trace_id) if s["span_id"] == span_id), None)
        if span is None:
            ss[f"{key}-result"] = ("warning", "This span is not a top-level LLM call: nothing to check.")
            return
        row = check_span(span["attributes"], span["documents"], span["tools"], span["inner"], scorer=scorer, name=name)
        if row is None:
            ss[f"{key}-result"] = ("warning", "Nothing to check: no answer text, or no documents or tool results.")
            return
        store.add_evaluations([{**row, "trace_id": trace_id, "span_id": span_id}])
    except grounding.DetectorUnavailable as exc:
        ss[f"{key}-result"] = ("error", f"Not checked: {md(exc, 400)}")
        return
    except (StoreBusy, OSError) as exc:
        ss[f"{key}-result"] = ("warning", f"Not saved: the store is busy ({md(exc, 200)}). Try again.")
        return
    except StoreError as exc:
        ss[f"{key}-result"] = ("error", f"Not saved: {md(exc, 300)}")
        return
    except Exception as exc:  # a judge's API error, a broken model: say it, never crash the page
        ss[f"{key}-result"] = ("error", f"{spec} failed: {type(exc).__name__}: {md(exc, 300)}")
        return
    ss[f"{key}-result"] = ("success", f"Checked with {md(name)}: {md(row['label'])}.")


def render(path: str, trace_id: str, span_id: str, evaluations: Sequence[Mapping[str, Any]]) -> None:
    """The comparison (once a second scorer has run) and the form to run another."""
    results = G.by_scorer(evaluations, span_id)
    key = f"checkwith-{span_id}"
    # A fixed label: Streamlit folds an expander again when its label changes.
    with st.expander("Check this answer with …"):
        st.caption(f"{len(results)} scorer{'s' if len(results) != 1 else ''} so far on this call")
        if len(results) > 1:  # one result is already shown above, sentence by sentence
            st.dataframe(comparison(results), hide_index=True)
        choice = st.selectbox("Scorer", _choices(), key=f"{key}-scorer")
        if choice == MODEL_CHOICE:
            st.text_input(
                "Model folder or Hugging Face id (in the local cache)",
                key=f"{key}-model",
                placeholder="KRLabsOrg/lettucedect-base-modernbert-en-v1",
            )
        st.button("Check", key=f"{key}-go", on_click=_run, args=(path, trace_id, span_id, key))
        result = st.session_state.pop(f"{key}-result", None)
        if result is not None:
            getattr(st, result[0])(result[1])
