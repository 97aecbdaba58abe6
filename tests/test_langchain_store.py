"""The LangChain integration into a real DuckDB store: the grounding check flags a
hallucinating chain, and ChatOpenAI with our openai integration is one call, not two."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tracer
from integrations import langchain as spy_langchain
from integrations import openai as spy_openai

from .openai_support import REPLAY, cassettes_dir
from .test_langchain_support import answer, fake_model, rag_chain

QUESTION = "When was the Eiffel Tower completed?"


@pytest.fixture(autouse=True)
def _uninstrument() -> Iterator[None]:
    yield
    tracer.flush()
    spy_langchain.uninstrument()
    spy_openai.uninstrument()


def test_the_grounding_check_flags_a_hallucinating_chain(db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["langchain"])
    grounded = rag_chain(fake_model(answer("The Eiffel Tower was completed in 1889.")))
    made_up = rag_chain(fake_model(answer("The Eiffel Tower was completed in 1925 in Berlin.")))
    assert grounded.invoke(QUESTION) == "The Eiffel Tower was completed in 1889."
    made_up.invoke(QUESTION)
    assert tracer.flush()
    store = tracer.Store(db_path)
    labels = {e["label"] for e in store.evaluations("grounding")}
    assert labels == {"grounded", "hallucination"}
    [flagged] = [e for e in store.evaluations("grounding") if e["label"] == "hallucination"]
    detail = store.get_trace(flagged["trace_id"])
    assert detail is not None
    assert detail["trace"]["root_name"] == "RunnableSequence"
    [llm] = [s for s in detail["spans"] if s["span_type"] == "llm"]
    assert flagged["span_id"] == llm["span_id"]
    assert [d["document_id"] for d in detail["documents"]] == ["eiffel"]


def test_chat_openai_with_the_openai_integration_is_one_call(db_path: Path) -> None:
    from langchain_openai import ChatOpenAI

    cassette = cassettes_dir() / "test_chat_completion_with_content.yaml"
    tracer.configure(db=db_path, instrument=["langchain", "openai"])
    model = ChatOpenAI(model="gpt-4o-mini", api_key="test", max_retries=0)  # type: ignore[arg-type]
    with REPLAY.use_cassette(str(cassette)):
        reply = model.invoke("Say this is a test")
    assert reply.content == "This is a test."
    assert tracer.flush()
    store = tracer.Store(db_path)
    [summary] = store.list_traces()
    assert (summary["llm_count"], summary["input_tokens"], summary["output_tokens"]) == (1, 12, 5)
    assert summary["cost_usd"] == pytest.approx((12 * 0.15 + 5 * 0.60) / 1e6)
    detail = store.get_trace(summary["trace_id"])
    assert detail is not None
    outer, inner = detail["spans"]
    assert outer["attributes"]["spyglass.langchain.run_id"]
    assert inner["parent_span_id"] == outer["span_id"]
    assert inner["attributes"]["spyglass.llm.parent_span_id"] == outer["span_id"]
    assert outer["attributes"]["gen_ai.provider.name"] == "openai"
    assert outer["attributes"]["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert outer["attributes"]["gen_ai.usage.input_tokens"] == 12  # its own, not added again
