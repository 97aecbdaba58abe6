"""Which ``TracerProvider`` our spans start on, the application's own exporters, the shipped
``tracer.testing`` helpers, and parent/child ids as the store keeps them.

OpenTelemetry lets a process set the global provider once, so these tests never rely on
setting it: they pass providers explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracer
import tracer.testing
from tracer import _call
from tracer import attributes as A


@tracer.trace_retriever
def search(query: str) -> list[str]:
    return ["doc"]


@tracer.trace_llm(model="m")
def answer(query: str, docs: list[str]) -> str:
    return "answer"


@tracer.trace_step
def pipeline(query: str) -> str:
    with tracer.ContextThreadPoolExecutor(max_workers=2) as pool:
        docs = pool.submit(search, query).result()
    return answer(query, docs)


NAMES = ["search", "answer", "pipeline"]


@pytest.fixture
def their_provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """An application's own SDK provider and exporter, not the global one."""
    tracer.shutdown()  # no processor of an earlier test left exporting beside ours
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    tracer.shutdown()
    _call.set_tracer_provider(None)
    provider.shutdown()


def _check_both_received(exporter: InMemorySpanExporter, db_path: Path) -> None:
    assert [s.name for s in exporter.get_finished_spans()] == NAMES
    assert tracer.flush()
    store = tracer.Store(db_path)
    [summary] = store.list_traces()
    assert summary["span_count"] == 3
    assert summary["root_name"] == "pipeline"


def test_configure_with_their_provider_keeps_their_exporter(their_provider, db_path: Path) -> None:
    provider, exporter = their_provider
    assert tracer.configure(db=db_path, tracer_provider=provider) is provider
    pipeline("q")
    _check_both_received(exporter, db_path)


def test_spans_start_on_the_provider_set_for_spyglass(their_provider, db_path: Path) -> None:
    """What configure(tracer_provider=...) needs to do: add our processor, route our spans."""
    provider, exporter = their_provider
    tracer.configure(db=db_path, tracer_provider=provider)
    _call.set_tracer_provider(provider)
    assert _call.tracer_provider() is provider
    pipeline("q")
    _check_both_received(exporter, db_path)


def test_set_tracer_provider_none_follows_the_global_provider(their_provider) -> None:
    provider, exporter = their_provider
    _call.set_tracer_provider(provider)
    _call.set_tracer_provider(None)
    assert _call.tracer_provider() is trace.get_tracer_provider()
    assert _call.explicit_tracer_provider() is None
    pipeline("q")
    assert exporter.get_finished_spans() == ()


# --- the store keeps the tree ---------------------------------------------------------------------


def test_parent_and_child_ids_in_the_store(configured, store) -> None:
    with tracer.trace_attributes(session_id="s-42", tags=["e2e"]):
        pipeline("capital?")
    assert tracer.flush()
    [summary] = store.list_traces()
    assert summary["session_id"] == "s-42"
    assert summary["tags"] == ["e2e"]
    full = store.get_trace(summary["trace_id"])
    by_name = {s["name"]: s for s in full["spans"]}
    assert set(by_name) == set(NAMES)
    root = by_name["pipeline"]
    assert root["parent_span_id"] is None
    assert root["span_id"] == summary["root_span_id"]
    assert by_name["search"]["parent_span_id"] == root["span_id"]  # from a pool thread, via the helper
    assert by_name["answer"]["parent_span_id"] == root["span_id"]
    assert by_name["answer"]["model"] == "m"
    assert by_name["search"]["span_type"] == "retriever"
    assert {s["trace_id"] for s in full["spans"]} == {summary["trace_id"]}
    counts = store.counts()
    # The retrieved document, and the same document again as the answer's context (its argument).
    assert counts["spans"] == 3 and counts["traces"] == 1 and counts["documents"] == 2


# --- tracer.testing ----------------------------------------------------------------------------------


def test_capture_spans_without_arguments_works_with_or_without_configure() -> None:
    before = _call.explicit_tracer_provider()
    with tracer.testing.capture_spans() as spans:
        pipeline("q")
    assert [s.name for s in spans] == NAMES
    assert _call.explicit_tracer_provider() is before  # routing restored after the block


def test_capture_spans_detaches_at_the_end_of_the_block() -> None:
    provider = tracer.testing.new_tracer_provider()
    with tracer.testing.capture_spans(provider) as first:
        search("q")
    with tracer.testing.capture_spans(provider) as second:
        answer("q", [])
    assert [s.name for s in first] == ["search"]  # nothing after its block ended
    assert [s.name for s in second] == ["answer"]


def test_capture_spans_reuses_one_tap_per_provider(monkeypatch) -> None:
    provider = tracer.testing.new_tracer_provider()
    added: list[Any] = []
    original = provider.add_span_processor
    monkeypatch.setattr(provider, "add_span_processor", lambda p: (added.append(p), original(p)))
    for _ in range(5):
        with tracer.testing.capture_spans(provider):
            search("q")
    assert len(added) == 1  # the SDK cannot remove processors: they must not pile up


def test_nested_capture_blocks_both_see_the_spans() -> None:
    provider = tracer.testing.new_tracer_provider()
    with tracer.testing.capture_spans(provider) as outer:
        search("a")
        with tracer.testing.capture_spans(provider) as inner:
            search("b")
    assert len(outer) == 2 and len(inner) == 1


def test_capture_spans_restores_the_previous_provider() -> None:
    mine, other = tracer.testing.new_tracer_provider(), tracer.testing.new_tracer_provider()
    _call.set_tracer_provider(mine)
    try:
        with tracer.testing.capture_spans(other) as spans:
            assert _call.tracer_provider() is other
            search("q")
        assert _call.tracer_provider() is mine
        assert len(spans) == 1
    finally:
        _call.set_tracer_provider(None)


def test_new_tracer_provider_stamps_trace_attributes() -> None:
    with tracer.testing.capture_spans(tracer.testing.new_tracer_provider()) as spans:
        with tracer.trace_attributes(user_id="u-1"):
            search("q")
    assert spans.one("search").attributes[A.USER_ID] == "u-1"


def test_captured_spans_helpers(spans) -> None:
    pipeline("q")
    root = spans.one("pipeline")
    assert spans.roots() == [root]
    assert [s.name for s in spans.children(root)] == ["search", "answer"]
    assert spans.named("nope") == []
    assert spans[-1] is root and len(spans[:2]) == 2
    assert "pipeline" in repr(spans)
    with pytest.raises(AssertionError, match=r"expected one span named 'nope', found 0 among \['search'"):
        spans.one("nope")
    spans.clear()
    assert len(spans) == 0
