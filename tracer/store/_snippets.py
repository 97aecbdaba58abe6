"""Where a search matched: for each trace, the best matching span and field, and a short
window of its text around the first match, with the offsets of every match in the window.

No queries here: the engines read the matching spans of one page of traces (bounded by the
page, never the whole table) and hand them over; this module finds the words in Python, by
the rules the index matches by (``_search``): whole words, any case, ``batt*`` a word
beginning with "batt", a hex id prefix the beginning of a trace or span id. Text is taken
from the values of the span's attributes, JSON values read as JSON (a prompt's messages give
their text, not ``{"role": ...`` around it), so that the window reads as the content does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import attributes as A
from ._search import Query

#: Where a match can be, in the order a tie between two spans is decided by: what a model or a
#: step said first (the answer people hunt for), then what it was asked.
FIELDS = ("output", "prompt", "document", "attribute", "name", "error", "trace id", "span id")
# Then by the span's kind: a model call's text before the steps that pass it along.
_KIND_ORDER = {A.SPAN_TYPE_LLM: 0, A.SPAN_TYPE_RETRIEVER: 1}
# How much text a snippet shows: up to BEFORE characters before the first match, WIDTH in all.
BEFORE = 50
WIDTH = 180
ELLIPSIS = "…"
_DOCUMENT_KEYS = (A.GEN_AI_RETRIEVAL_DOCUMENTS, A.OI_RETRIEVAL_DOCUMENTS)
_OUTPUT_MARKS = ("output", "completion", "result")
_PROMPT_MARKS = ("input", "prompt", "system_instructions", "query")


@dataclass(frozen=True)
class Snippet:
    """A trace's best match. ``matches`` are ``(start, end)`` offsets into ``text``, which
    begins (ends) with "…" where the value goes on before (after) the window."""

    span_id: str
    span_name: str
    field: str  # one of FIELDS
    key: str | None  # the attribute the text comes from
    text: str
    matches: tuple[tuple[int, int], ...]


def field_of(key: str) -> str:
    """The kind of content an attribute holds, by its name (GenAI, OpenInference, ours)."""
    lowered = key.lower()
    if lowered.startswith(_DOCUMENT_KEYS) or "documents" in lowered:
        return "document"
    if any(mark in lowered for mark in _OUTPUT_MARKS):
        return "output"
    if any(mark in lowered for mark in _PROMPT_MARKS):
        return "prompt"
    return "attribute"


def _leaves(value: Any) -> Iterator[str]:
    """The text in a value: strings (a JSON string read as JSON) and numbers, keys left out."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("[", "{"):
            try:
                yield from _leaves(json.loads(stripped))
                return
            except ValueError:
                pass  # text that only looks like JSON: searched as it is
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _texts(span: Mapping[str, Any], attributes: Mapping[str, Any]) -> Iterator[tuple[str, str | None, str]]:
    """``(field, key, text)`` of everything searched in a span."""
    retriever = span.get("span_type") == A.SPAN_TYPE_RETRIEVER
    for key, value in attributes.items():
        field = field_of(key)
        if retriever and field == "output":  # what a retriever returns is its documents
            field = "document"
        for leaf in _leaves(value):
            yield field, key, (f"{key}: {leaf}" if field == "attribute" else leaf)
    if span.get("name"):
        yield "name", None, str(span["name"])
    if span.get("status_message"):
        yield "error", None, str(span["status_message"])


def patterns(query: Query) -> list[re.Pattern[str]]:
    """One Python pattern per word and prefix; a prefix's match covers its whole word."""
    words = [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE) for w in query.words]
    return words + [re.compile(rf"(?<!\w){re.escape(p)}\w*", re.IGNORECASE) for p in query.prefixes]


def window(text: str, found: Sequence[re.Pattern[str]]) -> tuple[str, tuple[tuple[int, int], ...], int] | None:
    """The text around its first match (white space runs made one space), the matches inside,
    and how many of the patterns match the text at all; ``None`` when none does."""
    flat = " ".join(text.split())
    spans = sorted((m.start(), m.end()) for p in found for m in p.finditer(flat))
    if not spans:
        return None
    hit = sum(1 for p in found if p.search(flat))
    first = spans[0][0]
    start = max(0, first - BEFORE)
    if start > 0:  # begin at a word, not inside one
        space = flat.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(flat), start + WIDTH)
    lead = ELLIPSIS if start > 0 else ""
    shown = lead + flat[start:end] + (ELLIPSIS if end < len(flat) else "")
    shift = len(lead) - start
    inside = tuple((a + shift, min(b, end) + shift) for a, b in spans if a >= start and a < end)
    return shown, inside, hit


def _id_snippet(query: Query, trace_id: str, spans: Sequence[Mapping[str, Any]]) -> Snippet | None:
    prefix = query.id_prefix
    if prefix is None:
        return None
    if trace_id.startswith(prefix):
        root = spans[0] if spans else {}
        return Snippet(
            str(root.get("span_id") or ""), str(root.get("name") or ""), "trace id", None, trace_id, ((0, len(prefix)),)
        )
    for span in spans:
        span_id = str(span.get("span_id") or "")
        if span_id.startswith(prefix):
            return Snippet(span_id, str(span.get("name") or ""), "span id", None, span_id, ((0, len(prefix)),))
    return None


def best(
    query: Query, trace_id: str, spans: Sequence[Mapping[str, Any]], attributes: Sequence[Mapping[str, Any]]
) -> Snippet | None:
    """The best match among a trace's ``spans`` (in tree order, ``attributes`` parsed, one per
    span): an id match first (the query names the trace), else the text matching the most
    words of the query, ties to the earlier field of :data:`FIELDS`, an LLM span, then the earlier span."""
    by_id = _id_snippet(query, trace_id, spans)
    if by_id is not None:
        return by_id
    found = patterns(query)
    if not found:
        return None
    chosen: tuple[tuple[int, int, int, int], Snippet] | None = None
    for order, (span, attrs) in enumerate(zip(spans, attributes)):
        for field, key, text in _texts(span, attrs):
            got = window(text, found)
            if got is None:
                continue
            shown, matches, hit = got
            rank = (-hit, FIELDS.index(field), _KIND_ORDER.get(str(span.get("span_type")), 2), order)
            if chosen is None or rank < chosen[0]:
                snippet = Snippet(str(span.get("span_id")), str(span.get("name") or ""), field, key, shown, matches)
                chosen = (rank, snippet)
    return chosen[1] if chosen else None


def of_traces(query: Query, trace_ids: Sequence[str], spans: Sequence[Mapping[str, Any]]) -> dict[str, Snippet]:
    """:func:`best` of each trace, from spans rows (``trace_id``, ``span_id``, ``name``,
    ``span_type``, ``status_message``, ``attributes`` as stored) of several traces in tree order."""
    by_trace: dict[str, list[Mapping[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(str(span["trace_id"]), []).append(span)
    out: dict[str, Snippet] = {}
    for trace_id in trace_ids:
        rows = by_trace.get(trace_id, [])
        found = best(query, trace_id, rows, [_attributes(r.get("attributes")) for r in rows])
        if found is not None:
            out[trace_id] = found
    return out


def _attributes(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


__all__ = ["FIELDS", "Snippet", "best", "field_of", "of_traces", "patterns", "window"]
