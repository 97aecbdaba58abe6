"""Prompt version A vs B, the dashboards' last section: grounding rate, cost and latency of
two prompt versions side by side, with the counts and 95% intervals that say how far a
difference can be trusted (``Store.compare_prompt_versions``).

The figures are pure functions of the store's rows (:func:`side_by_side`, :func:`hints`),
so they are tested without Streamlit; :func:`render` lays them out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
import streamlit as st

from tracer import TraceFilter

from . import _data
from ._safe import md

__all__ = ["A_KEY", "B_KEY", "MIN_CHECKED", "MIN_TRACES", "defaults", "hints", "read", "render", "seen", "side_by_side"]

A_KEY, B_KEY = "dash_a", "dash_b"  # widget keys, and their URL parameters
# Below this many checked answers a grounding rate's 95% interval is wider than about ±15
# points: a few answers more or less move it further than most prompt changes do.
MIN_CHECKED = 30
# A p95 from fewer traces than this is, in effect, the slowest trace or so.
MIN_TRACES = 20
DASH = "–"

Row = Mapping[str, Any]


def read(path: str, flt: TraceFilter) -> list[dict[str, Any]]:
    """Every version's figures for the sidebar's filters, but its prompt version (a filter on
    one version would leave nothing to compare); the most recently seen first."""
    scope = dataclasses.replace(flt, prompt_version=None)
    return _data.prompt_versions(path, repr(scope), scope)


def defaults(versions: Sequence[Row]) -> tuple[str, str]:
    """(A, B): B the version seen most recently, A the one before it (the change under test)."""
    return str(versions[1]["version"]), str(versions[0]["version"])


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.0%}"


def _rate(row: Row, name: str, of: str) -> str:
    """``75% (41–93%) · 6 of 8``: the rate, its Wilson 95% interval and the counts."""
    n = int(row[of])
    if not n:
        return f"{DASH} (none {'checked' if of == 'grounding_checked' else 'yet'})"
    hits = round(row[name] * n)
    return f"{_pct(row[name])} ({_pct(row[name + '_low'])}{DASH}{_pct(row[name + '_high'])}) · {hits} of {n}"


def _num(value: float | None, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def _delta(a: float | None, b: float | None, fmt: str, unit: str = "") -> str:
    """B − A with its sign (``+15 pts``, ``-12.3 ms``; ``0`` when it rounds to nothing); a
    dash when either is missing."""
    if a is None or b is None:
        return DASH
    change = format(b - a, "+" + fmt)
    return f"{'0' if float(change.replace(',', '')) == 0 else change}{unit}"


def side_by_side(a: Row, b: Row) -> pd.DataFrame:
    """The comparison table: one row per figure, A's, B's, and B − A (rates in percentage
    points). Every cell is text, so a missing figure reads as a dash, never as 0."""

    def pts(name: str) -> str:
        return _delta(*_scaled(a, b, name), ".0f", " pts")

    def count(name: str) -> tuple[str, str, str]:
        return str(a[name]), str(b[name]), _delta(a[name], b[name], "d")

    def number(name: str, fmt: str, unit: str = "") -> tuple[str, str, str]:
        return _num(a[name], fmt), _num(b[name], fmt), _delta(a[name], b[name], fmt, unit)

    figures: list[tuple[str, tuple[str, str, str]]] = [
        ("traces", count("traces")),
        (
            "grounding rate (95% interval) · grounded of checked",
            (
                _rate(a, "grounding_rate", "grounding_checked"),
                _rate(b, "grounding_rate", "grounding_checked"),
                pts("grounding_rate"),
            ),
        ),
        ("suspected hallucinations (grounding check)", count("grounding_suspected")),
        ("not checked: no documents", count("grounding_no_documents")),
        ("mean worst grounding score (0–1)", number("grounding_score", ".2f")),
        ("annotated as hallucination", count("annotated_hallucination")),
        (
            "error rate (95% interval) · failed of traces",
            (_rate(a, "error_rate", "traces"), _rate(b, "error_rate", "traces"), pts("error_rate")),
        ),
        ("p50 latency (ms)", number("p50_ms", ",.1f", " ms")),
        ("p95 latency (ms)", number("p95_ms", ",.1f", " ms")),
        ("tokens per trace", number("tokens_per_trace", ",.0f")),
        ("cost per trace ($)", number("cost_per_trace", ".5f")),
    ]
    return pd.DataFrame(
        [{"figure": name, "A": va, "B": vb, "B − A": d} for name, (va, vb, d) in figures],
        columns=["figure", "A", "B", "B − A"],
    )


def hints(a: Row, b: Row) -> list[str]:
    """What keeps a user from over-reading the difference, in plain sentences (no Markdown)."""
    out = []
    ca, cb = int(a["grounding_checked"]), int(b["grounding_checked"])
    if not ca or not cb:
        out.append(
            "A grounding rate needs checked answers: run `spyglass check` on the store, or keep the "
            "export-time grounding check on."
        )
    elif (a["grounding_rate_low"] <= b["grounding_rate_high"]) and (
        b["grounding_rate_low"] <= a["grounding_rate_high"]
    ):
        out.append(
            f"The grounding rates' 95% intervals overlap ({ca} and {cb} answers checked): the difference "
            f"may be chance. Collect more traces of both before choosing."
        )
    elif min(ca, cb) < MIN_CHECKED:
        out.append(
            f"The grounding rates differ beyond their 95% intervals, but on few answers ({ca} and {cb} "
            f"checked, under {MIN_CHECKED}): check that the traces compared asked the same kind of question."
        )
    if min(int(a["traces"]), int(b["traces"])) < MIN_TRACES:
        out.append(
            f"Fewer than {MIN_TRACES} traces on one side ({a['traces']} and {b['traces']}): its p95 latency "
            f"is close to its slowest trace, and one slow or costly trace moves the means."
        )
    return out


def seen(row: Row) -> str:
    """How much of a version there is, and when it ran last: under its picker."""
    return f"{row['traces']:,} traces · first {row['first_seen']:%Y-%m-%d %H:%M}, last {row['last_seen']:%Y-%m-%d %H:%M} UTC"


def _valid(key: str, options: Sequence[str]) -> None:
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)


def render(path: str, flt: TraceFilter, versions: list[dict[str, Any]]) -> None:
    st.subheader("Prompt versions: A vs B")
    if flt.prompt_version:
        st.caption("The sidebar's prompt version filter is left out here; its other filters apply.")
    if len(versions) < 2:
        found = ", ".join(md(v["version"], 60) for v in versions) or "none"
        st.info(
            f"A comparison needs traces of two prompt versions; these filters leave {len(versions)} ({found}). "
            'Name the version of a prompt with `@tracer.trace_llm(prompt_version="qa-v3")`.'
        )
        return
    by_name = {str(v["version"]): v for v in versions}
    names = list(by_name)
    first_a, first_b = defaults(versions)
    left, right = st.columns(2)
    for col, key, name, default in ((left, A_KEY, "A", first_a), (right, B_KEY, "B", first_b)):
        with col:
            _valid(key, names)
            # The options are the names alone: the URL holds the option as shown (?dash_a=qa-v1).
            picked = st.selectbox(name, names, index=names.index(default), key=key, bind="query-params")
            st.caption(seen(by_name[str(picked)]))
    a, b = by_name[st.session_state[A_KEY]], by_name[st.session_state[B_KEY]]
    if a is b:
        st.warning("A and B are the same version: pick two different ones.")
        return
    st.caption(f"B ({md(b['version'], 80)}) against A ({md(a['version'], 80)}); each figure's change is B − A.")
    _tiles(a, b)
    table = side_by_side(a, b)
    # Tall enough for every row (35 px each and the header's): no scrolling inside the table.
    st.dataframe(table, hide_index=True, column_config=_AB_COLUMNS, height=35 * (len(table) + 1) + 3)
    for hint in hints(a, b):
        st.caption(hint)  # our sentences, with counts only: no stored text in them


_AB_COLUMNS = {
    "figure": st.column_config.TextColumn(width=330),
    "A": st.column_config.TextColumn(width=190),
    "B": st.column_config.TextColumn(width=190),
}


_Colour = Literal["normal", "inverse", "off"]


def _tiles(a: Row, b: Row) -> None:
    """The four figures a prompt change is judged on, B's value and its change from A. Up is
    good for the grounding rate, bad for the rest (``delta_color="inverse"``)."""
    tiles: tuple[tuple[str, str, str, _Colour], ...] = (
        (
            "grounding rate",
            _pct(b["grounding_rate"]),
            _delta(*_scaled(a, b, "grounding_rate"), ".0f", " pts"),
            "normal",
        ),
        ("error rate", _pct(b["error_rate"]), _delta(*_scaled(a, b, "error_rate"), ".0f", " pts"), "inverse"),
        ("p95 latency", f"{_num(b['p95_ms'], ',.0f')} ms", _delta(a["p95_ms"], b["p95_ms"], ",.0f", " ms"), "inverse"),
        (
            "cost per trace",
            f"${_num(b['cost_per_trace'], '.5f')}",
            _delta(a["cost_per_trace"], b["cost_per_trace"], ".5f"),
            "inverse",
        ),
    )
    for col, (label, value, delta, colour) in zip(st.columns(len(tiles)), tiles):
        with col:
            same = delta.startswith("0")  # no change: no arrow, no colour
            st.metric(
                f"{label} · B",
                value,
                None if delta == DASH else delta,
                delta_color="off" if same else colour,
                delta_arrow="off" if same else "auto",
                border=True,
            )


def _scaled(a: Row, b: Row, name: str) -> tuple[float | None, float | None]:
    """A rate of A and of B in percentage points."""
    return tuple(None if r[name] is None else r[name] * 100 for r in (a, b))  # type: ignore[return-value]
