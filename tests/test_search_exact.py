"""When the word index's answer is exact, a search takes it without reading the spans' text
back (DuckDB store): the same results as verifying, and verification kept wherever the index
alone could be wrong (a CRC-32 two words share, stop words, a word longer than the index keeps)."""

from __future__ import annotations

import zlib

import duckdb
import pytest

import tracer
from tracer import TraceFilter
from tracer.store import _search

# Two words with one CRC-32: the index cannot tell their spans apart.
TWINS = ("plumless", "buckeroo")
LONG = "a" * 30 + "quetzalword"  # 41 word characters: longer than an indexed word can be
TEXTS = (f"the {TWINS[0]} orchard", f"a {TWINS[1]} rides", "battery lasts hours", f"id {LONG} end")


@pytest.fixture
def searched(store: tracer.Store) -> tracer.Store:
    """One trace per text, the index built."""
    assert zlib.crc32(TWINS[0].encode()) == zlib.crc32(TWINS[1].encode())

    @tracer.trace_llm(model="m")
    def answer(text: str) -> str:
        return text

    for n, text in enumerate(TEXTS):
        with tracer.trace_attributes(tags=[f"t{n}"]):  # which trace is which, in no searched word
            answer(text)
    assert tracer.flush()
    store.build_search_index()
    return store


def _answers(store: tracer.Store, text: str) -> set[str]:
    rows = store.list_traces(TraceFilter(text=text), limit=50)
    assert store.count_traces(TraceFilter(text=text)) == len(rows)
    return {TEXTS[int(r["tags"][0][1:])] for r in rows}


def _verifies(store: tracer.Store, text: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the search read text back: ``regexp_matches`` reached DuckDB."""
    seen: list[str] = []
    real = duckdb.DuckDBPyConnection.execute

    def spy(con: duckdb.DuckDBPyConnection, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        seen.append(sql)
        return real(con, sql, *args)

    with monkeypatch.context() as m:
        m.setattr(duckdb.DuckDBPyConnection, "execute", spy)
        store.count_traces(TraceFilter(text=text))
    return any("regexp_matches" in sql and "seq IN" in sql for sql in seen)


def test_an_exact_index_answers_alone(searched: tracer.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = searched
    assert _answers(store, "battery hours") == {"battery lasts hours"}
    assert _answers(store, "batt* lasts") == {"battery lasts hours"}
    assert not _verifies(store, "battery hours", monkeypatch)
    assert not _verifies(store, "batt*", monkeypatch)


def test_words_sharing_a_crc_are_verified(searched: tracer.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = searched
    assert _answers(store, TWINS[0]) == {f"the {TWINS[0]} orchard"}
    assert _answers(store, TWINS[1]) == {f"a {TWINS[1]} rides"}
    assert _verifies(store, TWINS[0], monkeypatch)


def test_stop_words_and_long_words_are_verified(searched: tracer.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = searched
    assert _answers(store, f"the {TWINS[0]}") == {f"the {TWINS[0]} orchard"}
    assert _answers(store, "the battery") == set()  # no battery span holds "the" (a stop word)
    assert _verifies(store, "the orchard", monkeypatch)
    # A word longer than the index keeps is no indexed word, nor are its pieces.
    assert _answers(store, LONG) == {f"id {LONG} end"}  # found by its pattern
    assert _answers(store, "quetzalword") == set()  # the tail of a longer word is not a word
    assert "quetzalword" not in _search.words(f"id {LONG} end")


def test_results_are_the_same_with_and_without_the_index(store: tracer.Store) -> None:
    @tracer.trace_llm(model="m")
    def answer(text: str) -> str:
        return text

    texts = ["Zanzibar spice route", "zanzibar ZANZIBAR", "Zanzibarian food", "route of spice", "café au lait"]
    for text in texts * 3:
        answer(text)
    assert tracer.flush()
    queries = ["zanzibar", "spice route", "zanz*", "café", "route*", "lait café"]
    scanned = {q: store.count_traces(TraceFilter(text=q)) for q in queries}  # nothing indexed yet
    store.build_search_index()
    assert {q: store.count_traces(TraceFilter(text=q)) for q in queries} == scanned
    assert scanned == {"zanzibar": 6, "spice route": 6, "zanz*": 9, "café": 3, "route*": 6, "lait café": 3}
