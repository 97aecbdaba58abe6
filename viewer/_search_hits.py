"""Where a search matched, on the trace list: the text around each trace's match with the
match marked, and, when whole words match nothing, the offer to search the words they begin.

The snippets are ``Store.search_snippets``'s (one call for the page). Model output and
documents are untrusted text: in a table cell the match is marked with visible « » (a cell
never renders markup), in Markdown every piece is escaped (``_safe.md``) and only the match
gets a background of ours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from tracer import TraceFilter
from tracer.store._search import as_prefixes
from tracer.store._snippets import Snippet

from . import _data, _nav
from ._safe import md

MATCH_COLUMN = "match"
OPEN, CLOSE = "«", "»"
SEARCH_KEY = "q"  # the search box's key and URL parameter (``_trace_list.render``)
HIGHLIGHT = "orange-background"


def snippets(path: str, trace_ids: Sequence[str], text: str) -> dict[str, Snippet]:
    """The snippet of each trace of the page that has one (``Store.search_snippets``)."""
    return _data.store(path).search_snippets(list(trace_ids), text)


def _pieces(snippet: Snippet) -> list[tuple[str, bool]]:
    """The snippet's text cut at its matches: ``(text, is a match)`` in order."""
    merged: list[list[int]] = []
    for start, end in snippet.matches:
        if merged and start <= merged[-1][1]:  # overlapping (a word and a prefix of it): one match
            merged[-1][1] = max(merged[-1][1], end)
        elif merged and not snippet.text[merged[-1][1] : start].strip():  # "bold claim": one highlight
            merged[-1][1] = end
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in merged:
        out += [(snippet.text[at:start], False), (snippet.text[start:end], True)]
        at = end
    out.append((snippet.text[at:], False))
    return [(text, hit) for text, hit in out if text]


def where(snippet: Snippet, root: str | None = None) -> str:
    """Which span and field matched: ``answer · output``; only the field when the span is
    ``root`` (the trace's root span, already named beside it)."""
    span = snippet.span_name or snippet.span_id
    return snippet.field if span == root else f"{span} · {snippet.field}"


# A cell shows about 50 characters: the text before the match is cut to this much, so that
# the match is in view (the list below the table shows the whole window).
CELL_LEAD = 24


def cell(snippet: Snippet | None) -> str:
    """A table cell: where, then the text with each match between « and », from a few words
    before the first match."""
    if snippet is None:
        return ""
    pieces = _pieces(snippet)
    if pieces and not pieces[0][1] and len(pieces[0][0]) > CELL_LEAD:
        lead = pieces[0][0][-CELL_LEAD:]
        space = lead.find(" ")
        pieces[0] = ("…" + (lead[space + 1 :] if 0 <= space < len(lead) - 1 else lead), False)
    text = "".join(f"{OPEN}{t}{CLOSE}" if hit else t for t, hit in pieces)
    return f"{where(snippet)}: {text}"


def _escaped(text: str) -> str:
    """``text`` as literal Markdown, keeping the spaces at its ends (``md`` trims them)."""
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and text.strip() else ""
    return lead + md(text, len(text) + 1) + trail if text.strip() else lead


def highlighted(snippet: Snippet) -> str:
    """The snippet as Markdown: escaped text, each match on a background."""
    return "".join(f":{HIGHLIGHT}[**{_escaped(t).strip()}**]" if hit else _escaped(t) for t, hit in _pieces(snippet))


def render_list(rows: Sequence[Mapping[str, Any]], found: Mapping[str, Snippet]) -> None:
    """The page's traces with where each matched, the match highlighted, and a way to open it."""
    with st.expander(f"Where the search matched ({len(found)} of this page's traces)", expanded=True):
        for row in rows:
            trace_id = str(row["trace_id"])
            snippet = found.get(trace_id)
            if snippet is None:
                continue
            text, button = st.columns([12, 1], vertical_alignment="center")
            root = str(row.get("root_name") or "?")
            text.markdown(f"**{md(root, 80)}** › {md(where(snippet, root), 120)}: {highlighted(snippet)}")
            # Opened on the span that matched, so the detail shows it first.
            button.button(
                "Open", key=f"hit-{trace_id}", on_click=_nav.open_trace, args=(trace_id, snippet.span_id or None)
            )


def offer_prefixes(path: str, flt: TraceFilter) -> None:
    """When whole words match no trace: how many traces have words beginning with them, and a
    button that searches those (the box then reads ``batt*``, so the rule stays visible)."""
    wider = as_prefixes(flt.text or "")
    if wider is None or wider == flt.text:
        return
    count = _data.store(path).count_traces(dataclasses.replace(flt, text=wider))
    if not count:
        return
    words = wider.replace("*", "").split()
    them = f"“{md(words[0], 60)}”" if len(words) == 1 else "these words"
    st.info(
        f"No whole-word match for {them}, but {count:,} trace{'s have' if count != 1 else ' has'} "
        f"words beginning with {'it' if len(words) == 1 else 'them'}."
    )
    st.button(f"Show them: search {md(wider, 80)}", key="search_prefixes", on_click=_search_for, args=(wider,))


def _search_for(text: str) -> None:
    st.session_state[SEARCH_KEY] = text
    st.session_state["page_no"] = 1


__all__ = ["MATCH_COLUMN", "cell", "highlighted", "offer_prefixes", "render_list", "snippets", "where"]
