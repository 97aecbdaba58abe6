"""The read API on a real store: trace list, filters, pagination, one trace, search."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import tracer
from tracer import TraceFilter


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    """Every test here runs on a DuckDB file and on a PostgreSQL database: one contract."""
    return any_store_db


@pytest.fixture
def populated(configured: Path, store: tracer.Store) -> tracer.Store:
    @tracer.trace_retriever
    def search(q: str) -> list[dict]:
        return [{"id": f"doc-{q}", "content": f"The zebra-{q} lives in the savanna.", "score": 0.8}]

    @tracer.trace_llm(model="gpt-4o-mini")
    def small(q: str, docs: list) -> str:
        tracer.record_usage(input_tokens=100, output_tokens=20, cost_usd=0.0001)
        return f"answer to {q}"

    @tracer.trace_llm(model="gpt-4o")
    def big(q: str, docs: list) -> str:
        tracer.record_usage(input_tokens=1000, output_tokens=200, cost_usd=0.05)
        raise RuntimeError("model exploded")

    @tracer.trace_postprocess
    def guard(text: str) -> str:
        tracer.record_decision("toxicity", verdict="flag" if "1" in text else "pass", reason="test")
        return text

    @tracer.trace_step(name="rag")
    def rag(q: str, use_big: bool) -> str:
        docs = search(q)
        return guard(big(q, docs) if use_big else small(q, docs))

    for i in range(12):
        attrs = dict(
            session_id=f"s{i % 3}",
            user_id="alice" if i % 2 else "bob",
            tags=["even"] if i % 2 == 0 else ["odd"],
            prompt_version="v2" if i >= 6 else "v1",
        )
        with tracer.trace_attributes(**attrs):
            try:
                rag(f"q{i}", use_big=(i % 4 == 3))
            except RuntimeError:
                pass
    assert tracer.flush()
    return store


def test_trace_list_newest_first_with_summary(populated: tracer.Store) -> None:
    traces = populated.list_traces(limit=100)
    assert len(traces) == 12
    starts = [t["start_time"] for t in traces]
    assert starts == sorted(starts, reverse=True)
    ok = next(t for t in traces if t["status_code"] == "OK")
    assert ok["root_name"] == "rag" and ok["span_count"] == 4 and ok["llm_count"] == 1
    assert ok["models"] == ["gpt-4o-mini"] and ok["input_tokens"] == 100 and ok["output_tokens"] == 20
    assert ok["cost_usd"] == pytest.approx(0.0001)
    assert ok["span_types"] == ["llm", "postprocess", "retriever", "step"]
    failed = [t for t in traces if t["status_code"] == "ERROR"]
    assert len(failed) == 3 and all(t["models"] == ["gpt-4o"] and t["error_count"] == 2 for t in failed)


def test_pagination(populated: tracer.Store) -> None:
    page1 = populated.list_traces(limit=5)
    page2 = populated.list_traces(limit=5, offset=5)
    page3 = populated.list_traces(limit=5, offset=10)
    ids = [t["trace_id"] for t in page1 + page2 + page3]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert populated.count_traces() == 12


@pytest.mark.parametrize(
    "flt, expected",
    [
        (TraceFilter(status="ERROR"), 3),
        (TraceFilter(status="OK"), 9),
        (TraceFilter(model="gpt-4o"), 3),
        (TraceFilter(model="gpt-4o-mini"), 9),
        (TraceFilter(span_type="retriever"), 12),
        (TraceFilter(span_type="tool"), 0),
        (TraceFilter(prompt_version="v2"), 6),
        (TraceFilter(session_id="s1"), 4),
        (TraceFilter(user_id="alice"), 6),
        (TraceFilter(tags=["even"]), 6),
        (TraceFilter(tags=["even", "odd"]), 0),
        (TraceFilter(min_cost_usd=0.01), 3),
        (TraceFilter(min_duration_ms=0.0), 12),
        (TraceFilter(min_duration_ms=60_000), 0),
        (TraceFilter(decision="flag"), 2),  # q1 and q10 (q11 fails before the guard)
        (TraceFilter(text="ZEBRA-Q5"), 1),
        (TraceFilter(text="savanna"), 12),
        (TraceFilter(status="OK", user_id="bob", prompt_version="v1"), 3),
    ],
)
def test_filters(populated: tracer.Store, flt: TraceFilter, expected: int) -> None:
    assert populated.count_traces(flt) == expected
    assert len(populated.list_traces(flt, limit=100)) == expected


def test_time_range_filter(populated: tracer.Store) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    assert populated.count_traces(TraceFilter(since=now - dt.timedelta(hours=1))) == 12
    assert populated.count_traces(TraceFilter(since=now + dt.timedelta(hours=1))) == 0
    assert populated.count_traces(TraceFilter(until=now - dt.timedelta(hours=1))) == 0


def test_open_one_trace(populated: tracer.Store) -> None:
    [summary] = populated.list_traces(TraceFilter(text="zebra-q3"))
    detail = populated.get_trace(summary["trace_id"])
    assert detail is not None
    spans = detail["spans"]
    assert [s["name"] for s in spans] == ["rag", "search", "big", "guard"][: len(spans)]
    root = spans[0]
    assert root["parent_span_id"] is None
    assert all(s["parent_span_id"] == root["span_id"] for s in spans[1:])
    llm = next(s for s in spans if s["span_type"] == "llm")
    assert llm["status_code"] == "ERROR" and llm["error_type"] == "RuntimeError"
    assert llm["attributes"]["gen_ai.request.model"] == "gpt-4o"
    assert [d["document_id"] for d in detail["documents"]] == ["doc-q3"]
    assert detail["documents"][0]["score"] == pytest.approx(0.8)
    assert any(e["name"] == "exception" for e in detail["events"])
    assert populated.get_trace("0" * 32) is None


def test_search_spans(populated: tracer.Store) -> None:
    hits = populated.search("zebra-q11")
    assert {h["name"] for h in hits} >= {"search"}
    assert all(h["trace_id"] == hits[0]["trace_id"] for h in hits)
    assert populated.search("   ") == []
    assert populated.search("no-such-word-anywhere") == []


def test_facets(populated: tracer.Store) -> None:
    facets = populated.facets()
    assert facets["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert facets["prompt_versions"] == ["v1", "v2"]
    assert facets["tags"] == ["even", "odd"]
    assert facets["users"] == ["alice", "bob"]


def test_trace_summary_merges_batches(configured: Path, store: tracer.Store) -> None:
    """Children are exported (and ingested) before their root ends: the summary adds up."""
    with tracer.span("root") as root:

        @tracer.trace_llm(model="m1")
        def call() -> str:
            tracer.record_usage(input_tokens=5, output_tokens=1)
            return "x"

        call()
        assert tracer.flush()  # child ingested alone
        call()
        assert tracer.flush()
        root.set_output("done")
    assert tracer.flush()
    [t] = store.list_traces()
    assert t["root_name"] == "root" and t["span_count"] == 3 and t["llm_count"] == 2
    assert t["input_tokens"] == 10 and t["models"] == ["m1"]
    detail = store.get_trace(t["trace_id"])
    assert detail is not None and len(detail["spans"]) == 3


def test_search_index_gives_the_same_answers_as_a_scan(populated: tracer.Store) -> None:
    queries = ["zebra-q5", "savanna", "ZEBRA", "answer to q10", "the", "model exploded", "nothing-like-this"]
    before = {q: populated.search(q, limit=100) for q in queries}
    counts_before = {q: populated.count_traces(TraceFilter(text=q)) for q in queries}
    done, top = populated.build_search_index()
    assert done == top > 0
    for q in queries:
        assert populated.search(q, limit=100) == before[q], q
        assert populated.count_traces(TraceFilter(text=q)) == counts_before[q], q
    assert counts_before["savanna"] == 12 and counts_before["zebra-q5"] == 1
    assert counts_before["model exploded"] == 3 and counts_before["nothing-like-this"] == 0


def test_search_covers_spans_written_after_the_index(populated: tracer.Store) -> None:
    populated.build_search_index()

    @tracer.trace_step
    def late(text: str) -> str:
        return text

    late("a brand new okapi sighting")
    assert tracer.flush()
    assert [h["name"] for h in populated.search("okapi")] == ["late"]
    populated.build_search_index()
    assert [h["name"] for h in populated.search("okapi sighting")] == ["late"]
    assert populated.search("okapi zebra") == []  # every word must match


def test_chart_queries(populated: tracer.Store) -> None:
    durations = populated.durations()
    assert len(durations) == 12 and all(d >= 0 for d in durations)
    assert len(populated.durations(TraceFilter(status="ERROR"))) == 3
    usage = populated.usage_over_time(bucket="minute")
    by_model = {}
    for row in usage:
        by_model[row["model"]] = by_model.get(row["model"], 0) + row["tokens"]
    assert by_model == {"gpt-4o-mini": 9 * 120, "gpt-4o": 3 * 1200}
    with pytest.raises(ValueError):
        populated.usage_over_time(bucket="week")


def test_facets_can_be_capped(populated: tracer.Store) -> None:
    assert populated.facets(max_values=1)["sessions"] == ["s0"]
    assert populated.facets(max_values=1)["models"] == ["gpt-4o"]


def test_snapshot_reads_agree(populated: tracer.Store) -> None:
    """Reads inside snapshot() see one state of the store, whatever is written meanwhile."""

    @tracer.trace_step(name="meanwhile")
    def meanwhile() -> None:
        pass

    with populated.snapshot():
        before = populated.count_traces()
        meanwhile()
        tracer.flush(timeout=1)  # a DuckDB file held by the snapshot: spooled, ingested after it
        assert populated.count_traces() == before
        assert len(populated.list_traces(limit=100)) == before
    assert populated.count_traces() == before + 1


def test_snapshot_shares_one_connection(populated: tracer.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracer.store import reader

    if populated.path.startswith("postgresql://"):
        pytest.skip("a DuckDB file is opened per read outside snapshot(); a server connection is kept per thread")

    opened = []
    real = reader.open_read
    monkeypatch.setattr(reader, "open_read", lambda *a, **k: opened.append(1) or real(*a, **k))
    with populated.snapshot():
        total = populated.count_traces()
        page = populated.list_traces(limit=5)
        populated.facets()
    assert len(opened) == 1 and total == 12 and len(page) == 5
    populated.count_traces()
    assert len(opened) == 2  # outside the block, each call opens (and releases) the file


def _span_rows(store: tracer.Store) -> list:
    with store.connect() as con:  # the engine's own connection: plain SQL works on both
        return con.execute("SELECT * FROM spans ORDER BY seq").fetchall()


def test_annotations_are_stored_beside_spans(populated: tracer.Store) -> None:
    [t] = populated.list_traces(TraceFilter(text="zebra-q2"))
    spans_before = _span_rows(populated)
    populated.annotate(t["trace_id"], "hallucination", "the answer invents a zebra")
    populated.annotate(t["trace_id"], "other", "second look", author="maya")
    with pytest.raises(ValueError, match="label must be one of"):
        populated.annotate(t["trace_id"], "wrong")
    detail = populated.get_trace(t["trace_id"])
    assert detail is not None
    assert [(a["label"], a["note"]) for a in detail["annotations"]] == [
        ("hallucination", "the answer invents a zebra"),
        ("other", "second look"),
    ]
    assert populated.count_traces(TraceFilter(hallucination=True)) == 1
    assert populated.count_traces(TraceFilter(hallucination=False)) == 11
    flagged = [x for x in populated.list_traces(limit=100) if x["suspected_hallucination"]]
    assert [x["trace_id"] for x in flagged] == [t["trace_id"]]
    assert _span_rows(populated) == spans_before  # span rows untouched


def test_evaluations_from_check_and_llm_spans_to_check(populated: tracer.Store) -> None:
    assert len(populated.llm_spans()) == 12
    todo = populated.llm_spans(unevaluated="grounding")
    assert len(todo) == 3  # the 9 answers were checked at export; the 3 failed calls have none
    first = todo[0]
    assert first["documents"] and first["documents"][0]["document_id"].startswith("doc-q")
    before = populated.count_traces(TraceFilter(hallucination=True))
    populated.add_evaluations(
        [
            {
                "trace_id": first["trace_id"],
                "span_id": first["span_id"],
                "name": "grounding",
                "score": 0.2,
                "label": "hallucination",
                "details": {"sentences": []},
            }
        ]
    )
    assert len(populated.llm_spans(unevaluated="grounding")) == 2
    detail = populated.get_trace(first["trace_id"])
    assert detail is not None and [e["label"] for e in detail["evaluations"]] == ["hallucination"]
    assert populated.count_traces(TraceFilter(hallucination=True)) == before + 1


def test_get_traces_and_delete_annotation(populated: tracer.Store) -> None:
    ids = [t["trace_id"] for t in populated.list_traces(limit=2)]
    both = populated.get_traces([*ids, "f" * 32])
    assert [both[i]["trace"]["trace_id"] for i in ids] == ids and both["f" * 32] is None
    note = populated.annotate(ids[0], "correct", "fine")
    assert populated.delete_annotation(note) is True
    assert populated.delete_annotation(note) is False
    assert populated.annotations() == []


def test_annotations_are_edited_and_deleted_leaving_spans_alone(populated: tracer.Store) -> None:
    from tracer import AnnotationNotFound

    [t] = populated.list_traces(TraceFilter(text="zebra-q5"))
    aid = populated.annotate(t["trace_id"], "correct", "looks fine", author="maya")
    other = populated.annotate(t["trace_id"], "other", "unrelated")
    spans_before = _span_rows(populated)
    populated.update_annotation(aid, label="hallucination", note="the zebra is invented")
    rows = {a["id"]: a for a in populated.annotations()}
    assert (rows[aid]["label"], rows[aid]["note"], rows[aid]["author"]) == (
        "hallucination",
        "the zebra is invented",
        "maya",
    )
    assert (rows[other]["label"], rows[other]["note"]) == ("other", "unrelated")
    assert populated.count_traces(TraceFilter(hallucination=True)) == 1
    populated.update_annotation(aid, note="only the note")
    assert {a["id"]: a for a in populated.annotations()}[aid]["label"] == "hallucination"
    with pytest.raises(ValueError, match="label must be one of"):
        populated.update_annotation(aid, label="wrong")
    with pytest.raises(AnnotationNotFound, match="no annotation 'nope'"):
        populated.update_annotation("nope", note="x")
    assert populated.delete_annotation("nope") is False
    assert populated.delete_annotation(aid) is True and populated.delete_annotation(aid) is False
    with pytest.raises(AnnotationNotFound):
        populated.update_annotation(aid, label="other")
    assert [a["id"] for a in populated.annotations()] == [other]
    assert populated.count_traces(TraceFilter(hallucination=True)) == 0
    assert _span_rows(populated) == spans_before
