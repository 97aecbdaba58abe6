"""Search as users type it, on both engines: prefixes (``batt*``), trace and span id prefixes,
and the snippet of where each trace matched; the same answers before the index is built
(spans scanned) and after (the index)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import tracer
from tracer import TraceFilter

if TYPE_CHECKING:
    from tracer.store._snippets import Snippet


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    """Every test here runs on a DuckDB file and on a PostgreSQL database: one contract."""
    return any_store_db


@pytest.fixture
def kb(configured: Path, store: tracer.Store) -> tracer.Store:
    """Four traces: the battery question, a returns question, one about "with" (a stop word)
    and one whose words only begin like "batt" but differently ("baton")."""

    @tracer.trace_retriever
    def retrieve(q: str) -> list[dict]:
        docs = {
            "battery": {"id": "kb-battery", "content": "The X2 battery lasts 12 hours on a full charge."},
            "returns": {"id": "kb-returns", "content": "Returns are accepted within thirty days."},
            "with": {"id": "kb-with", "content": "Ship it with care."},
            "baton": {"id": "kb-baton", "content": "The relay baton is yellow."},
        }
        return [docs[q]]

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(q: str, docs: list) -> str:
        return {"battery": "Your X2 battery lasts 12 hours."}.get(q, "See the document.")

    @tracer.trace_step(name="rag")
    def rag(q: str) -> str:
        return answer(q, retrieve(q))

    for case, q in enumerate(CASES):
        with tracer.trace_attributes(tags=[f"case{case}"]):  # which trace is which, in no searched word
            rag(q)
    assert tracer.flush()
    return store


CASES = ("battery", "returns", "with", "baton")


def _case(row: dict) -> str:
    return CASES[int(row["tags"][0].removeprefix("case"))]


def _traces(store: tracer.Store, text: str) -> set[str]:
    """Which traces the list shows for ``text`` (and counts: the same number)."""
    rows = store.list_traces(TraceFilter(text=text), limit=100)
    assert store.count_traces(TraceFilter(text=text)) == len(rows)
    return {_case(r) for r in rows}


QUERIES = {
    "batt": set(),  # whole words only: no word is "batt"
    "batt*": {"battery"},
    "BATT*": {"battery"},
    "bat*": {"battery", "baton"},
    "batt* lasts": {"battery"},  # a prefix and a whole word, both required
    "batt* hours*": {"battery"},
    "batt* returns": set(),
    "zzq*": set(),  # a prefix of no word at all
    "batt* zzq*": set(),
    "wit*": {"returns", "with"},  # begins "with", a stop word the index leaves out
    "thirt*": {"returns"},
}


def test_prefixes_match_the_words_they_begin_before_and_after_indexing(kb: tracer.Store) -> None:
    scanned = {q: _traces(kb, q) for q in QUERIES}
    assert scanned == QUERIES
    done, top = kb.build_search_index()
    assert done == top > 0
    assert {q: _traces(kb, q) for q in QUERIES} == QUERIES


def test_search_spans_by_prefix(kb: tracer.Store) -> None:
    kb.build_search_index()
    names = {h["name"] for h in kb.search("batt*")}
    assert names == {"rag", "retrieve", "answer"}
    assert kb.search("batt") == [] and kb.search("zzq*") == [] and kb.search("*") == []


def test_trace_and_span_id_prefixes_find_their_trace(kb: tracer.Store) -> None:
    rows = kb.list_traces(limit=10)
    battery = next(r for r in rows if _case(r) == "battery")
    trace = kb.get_trace(battery["trace_id"])
    assert trace is not None
    llm = next(s for s in trace["spans"] if s["span_type"] == "llm")
    for text in (battery["trace_id"], battery["trace_id"][:8], battery["trace_id"][:8].upper(), llm["span_id"][:6]):
        found = kb.list_traces(TraceFilter(text=text))
        assert [r["trace_id"] for r in found] == [battery["trace_id"]], text
    assert [h["span_id"] for h in kb.search(llm["span_id"])] == [llm["span_id"]]
    assert [h["span_id"] for h in kb.search(llm["span_id"][:7])] == [llm["span_id"]]
    # Fewer than 6 hex digits is a word, not an id: it matches no text here.
    assert kb.count_traces(TraceFilter(text=llm["span_id"][:5])) == 0


def _shown(snippet: Snippet) -> list[str]:
    return [snippet.text[a:b] for a, b in snippet.matches]


def test_snippets_name_the_span_and_field_and_mark_the_match(kb: tracer.Store) -> None:
    ids = [r["trace_id"] for r in kb.list_traces(TraceFilter(text="batt*"))]
    for build in (False, True):
        if build:
            kb.build_search_index()
        found = kb.search_snippets(ids, "batt*")
        assert list(found) == ids
        snippet = found[ids[0]]
        # The model's answer, before the same words in its prompt, the documents or the root's output.
        assert (snippet.span_name, snippet.field, snippet.key) == ("answer", "output", "output.value"), snippet
        assert snippet.text == "Your X2 battery lasts 12 hours."
        assert _shown(snippet) and all(m.lower() == "battery" for m in _shown(snippet))
    both = kb.search_snippets(ids, "lasts 12")[ids[0]]
    assert {m.lower() for m in _shown(both)} == {"lasts", "12"}  # the field holding every word wins
    assert kb.search_snippets(ids, "zzq*") == {} and kb.search_snippets([], "batt*") == {}


def test_snippets_of_id_prefixes_and_long_text(kb: tracer.Store, configured: Path) -> None:
    rows = kb.list_traces(limit=10)
    trace_id = rows[0]["trace_id"]
    by_trace = kb.search_snippets([trace_id], trace_id[:8])[trace_id]
    assert by_trace.field == "trace id" and _shown(by_trace) == [trace_id[:8]]
    trace = kb.get_trace(trace_id)
    assert trace is not None
    span_id = trace["spans"][-1]["span_id"]
    by_span = kb.search_snippets([trace_id], span_id)[trace_id]
    assert by_span.field == "span id" and by_span.span_id == span_id and _shown(by_span) == [span_id]

    @tracer.trace_step
    def long(text: str) -> str:
        return text

    filler = "lorem ipsum " * 60
    long(f"{filler}the okapi\nsighting was {filler}")
    assert tracer.flush()
    late = kb.list_traces(TraceFilter(text="okap* sighting"))
    assert len(late) == 1
    snippet = kb.search_snippets([late[0]["trace_id"]], "okap* sighting")[late[0]["trace_id"]]
    assert snippet.text.startswith("…") and snippet.text.endswith("…") and len(snippet.text) <= 182
    assert _shown(snippet) == ["okapi", "sighting"]  # the newline read as a space, offsets still exact
