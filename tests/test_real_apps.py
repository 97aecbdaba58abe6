"""The debugging chain on the shapes real RAG apps take (issue 9), end to end through a store.

Each test writes a real DuckDB store through ``tracer.configure()`` and reads it back the way
the viewer, ``spyglass check`` and ``spyglass export`` do. The openai client is the real one,
replaying real recorded traffic (``../shared/cassettes/openai``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import tracer
from integrations import openai as spy_openai
from tracer import attributes as A
from tracer._context import TraceAttributesProcessor
from tracer._dataset import rows as export_rows
from tracer.store.reader import TraceFilter

from .openai_support import REPLAY, USER_ONLY_PROMPT, cassettes_dir

REPO = Path(__file__).resolve().parent.parent

KB = [
    {"id": "kb-battery", "content": "The X2 headset battery lasts 12 hours on a full charge. It charges over USB-C."},
    {"id": "kb-returns", "content": "Returns are accepted within 30 days with the receipt."},
]
HALLUCINATION = "A full charge lasts about 18 hours, and the battery is made in Norway."


@pytest.fixture
def store_at(db_path: Path) -> Iterator[tracer.Store]:
    tracer.configure(db=db_path)
    yield tracer.Store(db_path)
    tracer.flush()


def _only(store: tracer.Store, **filters: Any) -> dict[str, Any]:
    [summary] = store.list_traces(TraceFilter(**filters))
    trace = store.get_trace(summary["trace_id"])
    assert trace is not None
    return trace


# --- context wherever it is ------------------------------------------------------------------
def _readme_app(enclose: bool) -> None:
    """The README pattern: retriever, LLM function given the documents, a guard."""

    @tracer.trace_retriever
    def search_kb(query: str) -> list[dict[str, Any]]:
        return KB

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        return HALLUCINATION

    @tracer.trace_postprocess
    def length_guard(text: str) -> str:
        tracer.record_decision("length_guard", verdict="pass", reason="short enough")
        return text

    def pipeline(question: str) -> str:
        return length_guard(answer(question, search_kb(question)))

    run = tracer.trace_step(pipeline) if enclose else pipeline
    run("How long does the battery last?")


def test_documents_given_to_the_llm_function_are_its_context_without_an_enclosing_step(store_at) -> None:
    _readme_app(enclose=False)
    assert tracer.flush()
    assert store_at.count_traces() == 3  # nothing encloses the three calls: three traces
    trace = _only(store_at, span_type="llm")
    [llm] = trace["spans"]
    assert llm["name"] == "answer" and llm["model"] == "gpt-4o-mini"
    assert [d["document_id"] for d in trace["documents"]] == ["kb-battery", "kb-returns"]
    [check] = trace["evaluations"]
    assert check["label"] == "hallucination"  # the invented figure is caught, against the arguments
    details = json.loads(check["details"])
    assert "18" in details["unsupported_numbers"] and "Norway" in details["unsupported_entities"]


def test_an_enclosing_step_gives_one_trace_with_context_answer_and_decision(store_at) -> None:
    _readme_app(enclose=True)
    assert tracer.flush()
    trace = _only(store_at)
    assert trace["trace"]["root_name"] == "pipeline" and trace["trace"]["llm_count"] == 1
    assert [s["name"] for s in trace["spans"]] == ["pipeline", "search_kb", "answer", "length_guard"]
    assert [d["document_id"] for d in trace["documents"]] == ["kb-battery", "kb-returns"]  # listed once
    assert [d["name"] for d in trace["decisions"]] == ["length_guard"]
    [check] = trace["evaluations"]
    assert check["label"] == "hallucination"


def test_context_names_the_arguments_and_a_typo_fails_at_decoration(store_at) -> None:
    @tracer.trace_llm(context="passages")
    def answer(question: str, passages: list[str], style: list[str]) -> str:
        return "The battery lasts 12 hours on a full charge."

    answer(
        "battery?",
        ["The battery lasts 12 hours on a full charge of the headset."],
        ["Answer in a friendly tone, in one sentence, please."],
    )  # looks like text, but not named
    assert tracer.flush()
    trace = _only(store_at)
    assert [d["content"] for d in trace["documents"]] == ["The battery lasts 12 hours on a full charge of the headset."]
    assert trace["evaluations"][0]["label"] == "grounded"
    with pytest.raises(ValueError, match="context='docs' names no argument of answer"):

        @tracer.trace_llm(context="docs")
        def answer(question: str, passages: list[str]) -> str:
            return ""


def test_chat_messages_and_stop_words_are_not_taken_for_documents(spans) -> None:
    @tracer.trace_llm
    def answer(messages: list[dict[str, str]], stop: list[str], hints: list[str]) -> str:
        return "ok"

    answer([{"role": "user", "content": "Hello there, how long does the battery last?"}], ["\n\n"], ["END", "STOP"])
    assert A.CONTEXT_ARGUMENTS not in spans.one("answer").attributes


def test_a_tool_result_supports_the_fact_it_returned_and_is_named_as_the_source(store_at) -> None:
    @tracer.trace_step(kind="tool")
    def get_order(order_id: str) -> dict[str, str]:
        return {"order": order_id, "status": "shipped", "eta": "Friday"}

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str) -> str:
        get_order("48213")
        return "Your order 48213 is shipped; it should arrive by Friday."

    @tracer.trace_step
    def support(question: str) -> str:
        return answer(question)

    support("Where is my order 48213?")
    assert tracer.flush()
    [check] = _only(store_at)["evaluations"]
    assert check["label"] == "grounded"
    details = json.loads(check["details"])
    [sentence] = details["sentences"]
    assert sentence["best_document_id"] == "tool:get_order"
    assert details["sources"] == {"tool:get_order": "tool"}
    assert sentence["unsupported_numbers"] == [] and sentence["unsupported_entities"] == []


# --- one logical call, counted once ------------------------------------------------------------
def _decorated_openai_call(client: openai.OpenAI) -> str:
    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        response = client.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        return response.choices[0].message.content or ""

    with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
        return answer("Say this is a test", [{"id": "d1", "content": "This is a test."}])


def _assert_one_call_with_the_recorded_usage(store: tracer.Store, client_spans: int) -> None:
    trace = _only(store)
    summary = trace["trace"]
    assert summary["llm_count"] == 1
    assert (summary["input_tokens"], summary["output_tokens"]) == (12, 5)  # the recording's usage, once
    llm = [s for s in trace["spans"] if s["span_type"] == "llm"]
    assert len(llm) == 1 + client_spans
    outer = next(s for s in llm if s["name"] == "answer")
    assert outer["llm_parent_span_id"] is None and outer["usage_counted"] is False
    inner = [s for s in llm if s is not outer]
    assert all(s["llm_parent_span_id"] is not None for s in inner)
    assert sum(s["usage_counted"] for s in inner) == 1  # the innermost client span carries the usage
    [record] = export_rows(store)  # one example, not one per span
    assert (record["question"], record["output"]) == ("Say this is a test", "This is a test.")
    assert record["span_id"] == outer["span_id"]
    [check] = trace["evaluations"]  # checked once, as the logical call
    assert check["span_id"] == outer["span_id"] and check["label"] == "grounded"


def test_decorator_around_the_instrumented_openai_client_is_one_call(db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["openai"])
    try:
        assert _decorated_openai_call(openai.OpenAI(api_key="test", max_retries=0)) == "This is a test."
        assert tracer.flush()
    finally:
        spy_openai.uninstrument()
    _assert_one_call_with_the_recorded_usage(tracer.Store(db_path), client_spans=1)


PEERS = {  # another openai instrumentation installed alongside ours: (module, instrumentor class)
    "contrib openai-v2": ("opentelemetry.instrumentation.openai_v2", "OpenAIInstrumentor"),
    "OpenInference": ("openinference.instrumentation.openai", "OpenAIInstrumentor"),
    "OpenLLMetry": ("opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
}

# In a process of its own: OpenLLMetry's uninstrument() leaves the embeddings and legacy
# completions methods wrapped (seen with opentelemetry-instrumentation-openai 0.62), which
# would leak its spans into every later test of this process.
_PEER_RUN = """
import sys, openai, tracer, tracer.testing, importlib
from tests.test_real_apps import _decorated_openai_call
provider = tracer.testing.new_tracer_provider()
tracer.configure(db=sys.argv[1], tracer_provider=provider, instrument=["openai"])
getattr(importlib.import_module(sys.argv[2]), sys.argv[3])().instrument(tracer_provider=provider)
assert _decorated_openai_call(openai.OpenAI(api_key="test", max_retries=0)) == "This is a test."
assert tracer.flush()
"""


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_another_instrumentation_installed_alongside_counts_the_call_once(db_path: Path, peer: str) -> None:
    module, name = PEERS[peer]
    pytest.importorskip(module)
    done = subprocess.run(
        [sys.executable, "-c", _PEER_RUN, str(db_path), module, name],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    store = tracer.Store(db_path)
    _assert_one_call_with_the_recorded_usage(store, client_spans=2)
    theirs = [s for s in _only(store)["spans"] if A.SPAN_TYPE not in s["attributes"]]
    assert len(theirs) == 1 and theirs[0]["span_type"] == "llm"  # their span, under their own keys


# --- what the user received ---------------------------------------------------------------------
def test_a_blocked_answer_is_blocked_in_the_list_and_in_the_export(store_at) -> None:
    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        return "Returns are accepted within 30 days. Write to jane.doe@example.com for a label."

    @tracer.trace_postprocess
    def pii_filter(text: str) -> str:
        safe = "Sorry, I can't share that."
        tracer.record_decision("pii_filter", verdict="block", reason="email address", before=text, after=safe)
        return safe

    @tracer.trace_step
    def pipeline(question: str) -> str:
        return pii_filter(answer(question, KB))

    @tracer.trace_step
    def modified_pipeline(question: str) -> str:
        text = answer(question, KB)
        tracer.record_decision("tone", verdict="modify", before=text, after="Returns: 30 days, with receipt.")
        return "Returns: 30 days, with receipt."

    pipeline("How do I return it?")
    modified_pipeline("Returns?")
    assert tracer.flush()
    blocked = _only(store_at, outcome="blocked")
    assert blocked["trace"]["blocked_count"] == 1 and blocked["trace"]["root_name"] == "pipeline"
    modified = _only(store_at, outcome="modified")
    assert modified["trace"]["modified_count"] == 1
    assert store_at.count_traces(TraceFilter(outcome="delivered")) == 0
    records = {r["trace_id"]: r for r in export_rows(store_at)}
    got = records[blocked["trace"]["trace_id"]]
    assert (got["outcome"], got["label"], got["label_source"]) == ("blocked", "blocked", "post_processing")
    assert got["output"] == "Sorry, I can't share that."
    assert "jane.doe" not in json.dumps(got)  # what the filter blocked never leaves the store
    assert got["check_before_postprocessing"] == "hallucination"  # the e-mail is in no document
    changed = records[modified["trace"]["trace_id"]]
    assert (changed["outcome"], changed["output"]) == ("modified", "Returns: 30 days, with receipt.")
    with pytest.raises(ValueError, match="outcome must be one of"):
        store_at.list_traces(TraceFilter(outcome="shipped"))


# --- spyglass check and export agree with export-time grounding ---------------------------------
def test_spyglass_check_uses_the_same_evidence_as_export_time(db_path: Path) -> None:
    tracer.configure(db=db_path, grounding=False)
    _readme_app(enclose=False)

    @tracer.trace_step(kind="tool")
    def get_order(order_id: str) -> dict[str, str]:
        return {"order": order_id, "eta": "Friday"}

    @tracer.trace_llm
    def answer(question: str) -> str:
        get_order("48213")
        return "It should arrive by Friday."

    answer("When?")
    assert tracer.flush()
    done = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "--db", str(db_path), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "checked 2 of 2 unchecked LLM calls" in done.stdout
    labels = {e["label"] for e in tracer.Store(db_path).evaluations("grounding")}
    assert labels == {"hallucination", "grounded"}


def test_documents_of_every_shape_given_as_arguments_reach_the_context(store_at) -> None:
    """LangChain ``Document``s and LlamaIndex ``NodeWithScore``s are pydantic models (duck-typed
    here by the same fields), ``(doc, score)`` pairs come from similarity searches."""
    from pydantic import BaseModel

    class Document(BaseModel):  # langchain_core.documents.Document's fields
        page_content: str
        metadata: dict[str, Any] = {}
        id: str | None = None

    class TextNode(BaseModel):  # llama_index.core.schema.TextNode's, in part
        id_: str
        text: str

    class NodeWithScore(BaseModel):
        node: TextNode
        score: float | None = None

    @tracer.trace_llm
    def answer(question: str, hits: list, pairs: list, nodes: list) -> str:
        return "The battery lasts 12 hours on a full charge."

    answer(
        "battery?",
        [Document(page_content="The battery lasts 12 hours on a full charge.", metadata={"source": "kb"}, id="lc-1")],
        [("Returns are accepted within 30 days with the receipt.", 0.4)],
        [NodeWithScore(node=TextNode(id_="li-1", text="It charges over USB-C in two hours."), score=0.7)],
    )
    assert tracer.flush()
    docs = _only(store_at)["documents"]
    assert [(d["document_id"], d["content"], d["score"]) for d in docs] == [
        ("lc-1", "The battery lasts 12 hours on a full charge.", None),
        ("1", "Returns are accepted within 30 days with the receipt.", 0.4),
        ("li-1", "It charges over USB-C in two hours.", 0.7),
    ]
    assert _only(store_at)["evaluations"][0]["label"] == "grounded"


def test_a_lone_documents_argument_is_the_context(store_at) -> None:
    @tracer.trace_llm
    def summarise(docs: list[dict[str, str]]) -> str:
        return "Returns are accepted within 30 days."

    summarise([{"id": "kb-returns", "content": "Returns are accepted within 30 days with the receipt."}])
    assert tracer.flush()
    assert [d["document_id"] for d in _only(store_at)["documents"]] == ["kb-returns"]


def test_the_enclosing_calls_own_usage_counts_when_the_nested_call_reports_none(store_at) -> None:
    @tracer.trace_llm(model="small")
    def inner_call(question: str) -> str:
        return "Paris."  # a stream without include_usage, say: no usage reported

    @tracer.trace_llm(model="small")
    def answer(question: str) -> str:
        text = inner_call(question)
        tracer.record_usage(input_tokens=100, output_tokens=20)  # what the app knows it spent
        return text

    answer("Capital of France?")
    assert tracer.flush()
    summary = _only(store_at)["trace"]
    assert (summary["llm_count"], summary["input_tokens"], summary["output_tokens"]) == (1, 100, 20)


def test_tool_results_in_the_client_calls_prompt_are_evidence_for_the_logical_call(db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["openai"])
    client = openai.OpenAI(api_key="test", max_retries=0)

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str) -> str:
        messages = [
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_phrase", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "The test phrase is: This is a test."},
        ]
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices[0].message.content

    try:
        with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
            assert answer("Say the test phrase") == "This is a test."
        assert tracer.flush()
    finally:
        spy_openai.uninstrument()
    store = tracer.Store(db_path)
    [check] = _only(store)["evaluations"]
    details = json.loads(check["details"])
    assert check["label"] == "grounded" and details["sentences"][0]["best_document_id"] == "tool:get_phrase"
    [record] = export_rows(store)
    assert [c["id"] for c in record["context"]] == ["tool:get_phrase"]


def test_a_function_returning_the_clients_stream_is_checked_on_the_streamed_text(db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["openai"])
    client = openai.OpenAI(api_key="test", max_retries=0)

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, Any]]) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True)

    try:
        with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_streaming.yaml")):
            stream = answer("Say this is a test", [{"id": "d1", "content": "This is a test."}])
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert tracer.flush()
    finally:
        spy_openai.uninstrument()
    assert text == '"This is a test."'  # with the quotes, as recorded
    store = tracer.Store(db_path)
    trace = _only(store)
    outer = next(s for s in trace["spans"] if s["name"] == "answer")
    [check] = trace["evaluations"]
    assert check["span_id"] == outer["span_id"]  # about the logical call, stored once the stream ended
    assert json.loads(check["details"])["sentences"][0]["text"] == text  # not the stream object's repr
    [record] = export_rows(store)
    assert record["output"] == text


def test_a_guard_wrapping_the_model_call_blocks_that_answer_in_the_export(store_at) -> None:
    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        return "Returns are accepted within 30 days. Mail jane.doe@example.com."

    @tracer.trace_postprocess
    def guarded(question: str) -> str:  # the guardrails-ai shape: the guard calls the model
        text = answer(question, KB)
        tracer.record_decision("pii_guard", verdict="block", reason="email address")
        return "Sorry, I can't share that." if "@" in text else text

    guarded("How do I return it?")
    assert tracer.flush()
    [record] = export_rows(store_at)
    assert (record["outcome"], record["label"], record["output"]) == (
        "blocked",
        "blocked",
        "Sorry, I can't share that.",
    )
    assert "jane.doe" not in json.dumps(record)


def test_charts_count_each_call_once_under_the_model_that_answered(db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["openai"])
    client = openai.OpenAI(api_key="test", max_retries=0)

    @tracer.trace_llm  # no model= given: the client call says which model answered
    def answer(question: str) -> str:
        return client.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT).choices[0].message.content

    try:
        with REPLAY.use_cassette(
            str(cassettes_dir() / "test_chat_completion_with_content.yaml"), allow_playback_repeats=True
        ):
            answer("one")
            answer("two")
        assert tracer.flush()
    finally:
        spy_openai.uninstrument()
    rows = tracer.Store(db_path).usage_over_time(bucket="day")
    assert [(r["model"], r["calls"], r["tokens"]) for r in rows] == [("gpt-4o-mini-2024-07-18", 2, 34)]


def test_a_nested_call_is_counted_once_with_two_spyglass_processors_on_the_provider() -> None:
    """After configure() twice on one provider, say: both processors see every span start."""
    provider = tracer.testing.new_tracer_provider()
    provider.add_span_processor(TraceAttributesProcessor())

    @tracer.trace_llm
    def inner(q: str) -> str:
        return "x"

    @tracer.trace_llm
    def outer(q: str) -> str:
        return inner(q)

    with tracer.testing.capture_spans(provider) as captured:
        outer("q")
    assert captured.one("outer").attributes[A.LLM_INNER_CALLS] == 1
