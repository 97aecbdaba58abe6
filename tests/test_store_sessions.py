"""The sessions read API on both engines: ``Store.list_sessions``, ``count_sessions`` and
``session_turns`` on a store written by the real tracer (tests/_session_store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracer
from tracer import TraceFilter
from tracer.store.reader import SESSION_COLUMNS

from . import _session_store as ss


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    """A DuckDB file, then a PostgreSQL database: one contract."""
    return any_store_db


@pytest.fixture
def built(db_path: Path | str) -> tuple[tracer.Store, list[str]]:
    ids = ss.build(db_path)
    return tracer.Store(db_path), ids


def test_one_row_per_session_most_recently_active_first(built: tuple[tracer.Store, list[str]]) -> None:
    store, _ = built
    rows = store.list_sessions()
    # s-support-42 started before s-single, but its last turn is newer: it comes first.
    assert [r["session_id"] for r in rows] == [ss.SESSION, ss.SINGLE]
    assert all(tuple(r) == SESSION_COLUMNS for r in rows)
    assert store.count_sessions() == 2  # the trace without a session is in none
    chat, single = rows
    assert chat["users"] == [ss.USER] and chat["turns"] == 4
    assert chat["first_start"] < single["first_start"] < chat["last_start"]
    assert chat["last_end"] >= chat["last_start"]
    assert (chat["input_tokens"], chat["output_tokens"]) == (100 + 200 + 300 + 400, 4 * 20)
    assert chat["cost_usd"] == pytest.approx(0.001 + 0.002 + 0.003 + 0.004)
    turns = store.session_turns(ss.SESSION)
    assert chat["duration_ms"] == pytest.approx(sum(t["duration_ms"] for t in turns))
    counts = ("error_turns", "blocked_turns", "modified_turns", "suspected_turns")
    assert [chat[c] for c in counts] == [1, 1, 0, 1]
    assert [single[c] for c in counts] == [0, 0, 1, 0]
    assert single["users"] == [ss.SINGLE_USER] and single["turns"] == 1
    assert isinstance(chat["input_tokens"], int)  # not PostgreSQL's NUMERIC sum (a Decimal)


def test_turns_oldest_first_as_trace_rows(built: tuple[tracer.Store, list[str]]) -> None:
    store, ids = built
    turns = store.session_turns(ss.SESSION)
    assert [t["trace_id"] for t in turns] == ids and len(ids) == 4
    starts = [t["start_time"] for t in turns]
    assert starts == sorted(starts)
    assert [t["suspected_hallucination"] for t in turns] == [False, True, False, False]
    assert [t["blocked_count"] for t in turns] == [0, 0, 1, 0]
    assert [t["status_code"] for t in turns][-1] == "ERROR"
    assert {t["session_id"] for t in turns} == {ss.SESSION}
    # The same rows as the trace list's, in the other order.
    newest_first = store.list_traces(TraceFilter(session_id=ss.SESSION))
    assert turns == newest_first[::-1]
    assert store.session_turns("no-such-session") == []


def test_turns_are_paged(built: tuple[tracer.Store, list[str]]) -> None:
    store, ids = built
    pages = [store.session_turns(ss.SESSION, limit=3, offset=o) for o in (0, 3, 6)]
    assert [[t["trace_id"] for t in page] for page in pages] == [ids[:3], ids[3:], []]


def test_sessions_are_paged(built: tuple[tracer.Store, list[str]]) -> None:
    store, _ = built
    first = store.list_sessions(limit=1)
    second = store.list_sessions(limit=1, offset=1)
    assert [r["session_id"] for r in first + second] == [ss.SESSION, ss.SINGLE]
    assert store.list_sessions(limit=1, offset=2) == []


@pytest.mark.parametrize(
    "flt, expected",
    [
        # Every number counts the matching traces only.
        (TraceFilter(status="ERROR"), {ss.SESSION: (1, 1, 0)}),
        (TraceFilter(hallucination=True), {ss.SESSION: (1, 0, 1)}),
        (TraceFilter(outcome="blocked"), {ss.SESSION: (1, 0, 0)}),
        (TraceFilter(outcome="modified"), {ss.SINGLE: (1, 0, 0)}),
        (TraceFilter(user_id=ss.SINGLE_USER), {ss.SINGLE: (1, 0, 0)}),
        (TraceFilter(session_id=ss.SESSION), {ss.SESSION: (4, 1, 1)}),
        (TraceFilter(text="hunter2"), {ss.SESSION: (1, 0, 0)}),  # the blocked answer's text, kept by the span
        (TraceFilter(text="X2"), {ss.SESSION: (4, 1, 1), ss.SINGLE: (1, 0, 0)}),  # the documents
        (TraceFilter(text="zyzzyva"), {}),
        (TraceFilter(span_type="llm", status="OK"), {ss.SESSION: (3, 0, 1), ss.SINGLE: (1, 0, 0)}),
    ],
)
def test_filters(
    built: tuple[tracer.Store, list[str]], flt: TraceFilter, expected: dict[str, tuple[int, int, int]]
) -> None:
    store, _ = built
    rows = store.list_sessions(flt)
    assert {r["session_id"]: (r["turns"], r["error_turns"], r["suspected_turns"]) for r in rows} == expected
    assert store.count_sessions(flt) == len(expected)


def test_users_and_annotated_hallucinations(built: tuple[tracer.Store, list[str]]) -> None:
    store, ids = built
    with tracer.trace_attributes(session_id=ss.SINGLE, user_id="u-1"):  # a second user joins
        with tracer.span("support_bot", kind="step"):
            pass
    assert tracer.flush()
    store.annotate(ids[0], "hallucination", "12 hours is wrong since the firmware update")
    rows = {r["session_id"]: r for r in store.list_sessions()}
    assert rows[ss.SINGLE]["users"] == ["u-1", ss.SINGLE_USER] and rows[ss.SINGLE]["turns"] == 2
    # A turn the grounding check passed counts once someone annotates it as a hallucination.
    assert rows[ss.SESSION]["suspected_turns"] == 2
    assert [r["session_id"] for r in store.list_sessions()] == [ss.SINGLE, ss.SESSION]  # s-single is newest now


def test_an_empty_store_has_no_sessions(db_path: Path | str) -> None:
    tracer.configure(db=db_path)
    with tracer.span("ping"):
        pass
    assert tracer.flush()
    store = tracer.Store(db_path)
    assert store.list_sessions() == [] and store.count_sessions() == 0
    assert store.session_turns(ss.SESSION) == []
