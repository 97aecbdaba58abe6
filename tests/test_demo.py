"""`spyglass demo`: a realistic store from a RAG app calling the real openai client through
the local stand-in transport (no OPENAI_API_KEY in tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tracer
from tracer import TraceFilter
from tracer import attributes as A


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tracer.Store:
    from viewer.demo import build_demo_store

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = build_demo_store(str(tmp_path / "demo.duckdb"), echo=False)
    return tracer.Store(path)


def test_demo_store_has_the_cases_a_debugger_needs(demo_store: tracer.Store) -> None:
    traces = demo_store.list_traces(limit=100)
    assert len(traces) == 8
    assert demo_store.count_traces(TraceFilter(status="ERROR")) == 1
    assert demo_store.count_traces(TraceFilter(decision="block")) == 1
    assert all(t["root_name"] == "support_answer" for t in traces)
    # The scripted hallucination: "18 hours" is in the answer and in no retrieved document.
    [hit] = demo_store.list_traces(TraceFilter(text="Norway"))
    detail = demo_store.get_trace(hit["trace_id"])
    assert detail is not None
    llm = next(s for s in detail["spans"] if s["span_type"] == "llm")
    output = json.loads(llm["attributes"][A.GEN_AI_OUTPUT_MESSAGES])
    assert "18 hours" in json.dumps(output)
    assert all("18 hours" not in d["content"] for d in detail["documents"])
    assert llm["attributes"][A.SERVER_ADDRESS] == "stand-in.spyglass.local"
    assert llm["model"] == "gpt-4o-mini-2024-07-18" and llm["input_tokens"] > 0 and llm["cost_usd"] > 0
    assert "local stand-in" in llm["attributes"][A.METADATA]


def test_demo_covers_streaming_and_tool_calls(demo_store: tracer.Store) -> None:
    [tool_trace] = demo_store.list_traces(TraceFilter(span_type="tool"))
    assert tool_trace["llm_count"] == 2
    [stream_trace] = demo_store.list_traces(TraceFilter(text="summarize"))
    detail = demo_store.get_trace(stream_trace["trace_id"])
    assert detail is not None
    llm = next(s for s in detail["spans"] if s["span_type"] == "llm")
    assert llm["attributes"][A.GEN_AI_REQUEST_STREAM] is True
    assert A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in llm["attributes"]


def test_demo_refuses_to_overwrite_a_foreign_file(tmp_path: Path) -> None:
    from viewer.demo import build_demo_store

    foreign = tmp_path / "notes.duckdb"
    foreign.write_text("not a database")
    with pytest.raises(tracer.ForeignStoreError):
        build_demo_store(str(foreign), echo=False)
    assert foreign.read_text() == "not a database"
