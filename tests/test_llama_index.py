"""The LlamaIndex integration against the real llama-index-core, offline.

A real ``VectorStoreIndex`` over a few nodes, embedded by a deterministic bag-of-words
embedding written here, answered by a ``CustomLLM`` written here that returns a fixed text
(and records what it was asked): every span's attributes are known exactly.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.schema import TextNode
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import PrivateAttr

import tracer
from integrations import _pricing
from integrations import llama_index as spy_llama_index
from integrations._llama_index_handlers import EventHandler, SpanHandler
from tracer import attributes as A
from tracer.testing import CapturedSpans

QUESTION = "How long does the L2 lamp battery last?"
NODES = [
    ("kb-1", "The L2 lamp battery lasts 12 hours and charges over USB-C in 3 hours.", {"source": "manual.pdf"}),
    ("kb-2", "Every lamp ships with a two year warranty.", {"source": "spec.pdf"}),
    ("kb-3", "Our support line is open on weekdays.", {"source": "faq.md"}),
]
GROUNDED = "The battery lasts 12 hours and charges over USB-C in 3 hours."
HALLUCINATED = "The battery lasts 12 hours. It is made in Norway by Fjord Power in 2019."
RAW = {"id": "resp-1", "model": "fixed-model-001", "usage": {"prompt_tokens": 50, "completion_tokens": 7}}


DIMENSIONS = 1024


class WordEmbedding(BaseEmbedding):
    """Deterministic: the words of a text hashed into buckets. No model, no network."""

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * DIMENSIONS
        for word in re.findall(r"\w+", text.lower()):
            vector[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
        return vector

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


class Boom(Exception):
    pass


class FixedLLM(CustomLLM):
    """Answers ``answer`` to every prompt (word by word when streaming), or raises ``Boom``."""

    model: str = "fixed-model"
    answer: str = GROUNDED
    fail: bool = False
    _prompts: list[str] = PrivateAttr(default_factory=list)
    _current: list[trace.Span] = PrivateAttr(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._prompts.append(prompt)
        self._current.append(trace.get_current_span())
        if self.fail:
            raise Boom("the model is down")
        return CompletionResponse(text=self.answer, raw=dict(RAW))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self._prompts.append(prompt)
        words = self.answer.split(" ")

        def chunks() -> CompletionResponseGen:
            for i, word in enumerate(words):
                yield CompletionResponse(text=" ".join(words[: i + 1]), delta=word)

        return chunks()


def _index() -> VectorStoreIndex:
    nodes = [TextNode(id_=i, text=text, metadata=meta) for i, text, meta in NODES]
    return VectorStoreIndex(nodes=nodes, embed_model=WordEmbedding(model_name="word-hash"))


@pytest.fixture
def index() -> VectorStoreIndex:
    return _index()  # built before instrument(): embedding the nodes records nothing


@pytest.fixture
def llama(spans: CapturedSpans) -> Iterator[CapturedSpans]:
    spy_llama_index.instrument()
    try:
        yield spans
    finally:
        spy_llama_index.uninstrument()


@pytest.fixture
def priced() -> Iterator[None]:
    _pricing.set_prices({"fixed-model": {"input": 1.0, "output": 2.0}})
    try:
        yield
    finally:
        _pricing.reset_prices()


def _tree(spans: CapturedSpans) -> list[Any]:
    """``[(name, [children...])]`` by start time, from the spans' own parent links."""
    finished = list(spans)
    ids = {s.context.span_id for s in finished if s.context is not None}

    def children(parent: int | None) -> list[Any]:
        found = [
            s
            for s in finished
            if (s.parent.span_id if s.parent is not None and s.parent.span_id in ids else None) == parent
        ]
        found.sort(key=lambda s: s.start_time or 0)
        return [(s.name, children(s.context.span_id if s.context else None)) for s in found]

    return children(None)


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    """Attributes with the JSON ones decoded."""
    out: dict[str, Any] = dict(span.attributes or {})
    for key in (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_RETRIEVAL_DOCUMENTS):
        if key in out:
            out[key] = json.loads(out[key])
    for value, mime in ((A.OI_INPUT_VALUE, A.OI_INPUT_MIME_TYPE), (A.OI_OUTPUT_VALUE, A.OI_OUTPUT_MIME_TYPE)):
        if out.get(mime) == A.MIME_JSON:
            out[value] = json.loads(out[value])
    return out


def _documents(response: Any) -> list[dict[str, Any]]:
    return [
        {"id": n.node.node_id, "content": n.node.get_content(), "score": n.score, "metadata": dict(n.node.metadata)}
        for n in response.source_nodes
    ]


def _retriever_attrs(name: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for i, doc in enumerate(docs):
        flat[A.oi_document(i, "id")] = doc["id"]
        flat[A.oi_document(i, "content")] = doc["content"]
        flat[A.oi_document(i, "score")] = doc["score"]
    return {
        A.SPAN_TYPE: A.SPAN_TYPE_RETRIEVER,
        A.OI_SPAN_KIND: A.OI_KIND_RETRIEVER,
        A.GEN_AI_OPERATION_NAME: A.OP_RETRIEVAL,
        A.GEN_AI_RETRIEVAL_TOP_K: 2,
        A.CODE_FUNCTION: name,
        A.OI_INPUT_VALUE: QUESTION,
        A.OI_INPUT_MIME_TYPE: A.MIME_TEXT,
        A.GEN_AI_RETRIEVAL_QUERY_TEXT: QUESTION,
        A.DOCUMENTS_COUNT: len(docs),
        A.GEN_AI_RETRIEVAL_DOCUMENTS: docs,
        A.OI_OUTPUT_VALUE: docs,
        A.OI_OUTPUT_MIME_TYPE: A.MIME_JSON,
        **flat,
    }


def _step_attrs(name: str, answer: str) -> dict[str, Any]:
    return {
        A.SPAN_TYPE: A.SPAN_TYPE_STEP,
        A.OI_SPAN_KIND: A.OI_KIND_CHAIN,
        A.CODE_FUNCTION: name,
        A.OI_INPUT_VALUE: QUESTION,
        A.OI_INPUT_MIME_TYPE: A.MIME_TEXT,
        A.OI_OUTPUT_VALUE: answer,
        A.OI_OUTPUT_MIME_TYPE: A.MIME_TEXT,
    }


def _llm_attrs(name: str, prompt: str, answer: str) -> dict[str, Any]:
    return {
        A.SPAN_TYPE: A.SPAN_TYPE_LLM,
        A.OI_SPAN_KIND: A.OI_KIND_LLM,
        A.GEN_AI_OPERATION_NAME: A.OP_TEXT_COMPLETION,
        A.GEN_AI_REQUEST_MODEL: "fixed-model",
        A.OI_LLM_MODEL_NAME: "fixed-model-001",  # the response's model, as the openai integration writes it
        A.CODE_FUNCTION: name,
        A.GEN_AI_INPUT_MESSAGES: [{"role": "user", "parts": [{"type": "text", "content": prompt}]}],
        A.OI_INPUT_VALUE: prompt,
        A.OI_INPUT_MIME_TYPE: A.MIME_TEXT,
        A.GEN_AI_RESPONSE_ID: "resp-1",
        A.GEN_AI_RESPONSE_MODEL: "fixed-model-001",
        A.GEN_AI_USAGE_INPUT_TOKENS: 50,
        A.OI_LLM_TOKEN_COUNT_PROMPT: 50,
        A.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
        A.OI_LLM_TOKEN_COUNT_COMPLETION: 7,
        A.OI_LLM_TOKEN_COUNT_TOTAL: 57,
        A.COST_USD: pytest.approx((50 * 1.0 + 7 * 2.0) / 1e6),
        A.GEN_AI_OUTPUT_MESSAGES: [
            {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": ""}
        ],
        A.OI_OUTPUT_VALUE: answer,
        A.OI_OUTPUT_MIME_TYPE: A.MIME_TEXT,
    }


def _embedding_attrs(name: str) -> dict[str, Any]:
    return {
        A.SPAN_TYPE: A.SPAN_TYPE_EMBEDDING,
        A.OI_SPAN_KIND: A.OI_KIND_EMBEDDING,
        A.GEN_AI_OPERATION_NAME: A.OP_EMBEDDINGS,
        A.GEN_AI_REQUEST_MODEL: "word-hash",
        A.OI_EMBEDDING_MODEL_NAME: "word-hash",
        A.CODE_FUNCTION: name,
        A.OI_INPUT_VALUE: QUESTION,
        A.OI_INPUT_MIME_TYPE: A.MIME_TEXT,
        A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: DIMENSIONS,
    }


# --- the span tree and every attribute --------------------------------------------------------
def test_a_query_is_a_step_with_a_retriever_and_an_llm_call(
    llama: CapturedSpans, index: VectorStoreIndex, priced: None
) -> None:
    llm = FixedLLM()
    response = index.as_query_engine(llm=llm, similarity_top_k=2).query(QUESTION)

    assert str(response) == GROUNDED
    assert _tree(llama) == [
        (
            "RetrieverQueryEngine.query",
            [
                ("VectorIndexRetriever.retrieve", [("WordEmbedding.get_query_embedding", [])]),
                ("CompactAndRefine.synthesize", [("FixedLLM.complete", [])]),
            ],
        )
    ]
    docs = _documents(response)
    assert [d["id"] for d in docs] == ["kb-1", "kb-2"]  # the battery node ranks first
    assert _attrs(llama.one("VectorIndexRetriever.retrieve")) == _retriever_attrs("VectorIndexRetriever.retrieve", docs)
    assert _attrs(llama.one("RetrieverQueryEngine.query")) == _step_attrs("RetrieverQueryEngine.query", GROUNDED)
    assert _attrs(llama.one("CompactAndRefine.synthesize")) == _step_attrs("CompactAndRefine.synthesize", GROUNDED)
    [prompt] = llm._prompts
    assert "charges over USB-C" in prompt  # the retrieved context is in the prompt the model got
    assert _attrs(llama.one("FixedLLM.complete")) == _llm_attrs("FixedLLM.complete", prompt, GROUNDED)
    assert _attrs(llama.one("WordEmbedding.get_query_embedding")) == _embedding_attrs(
        "WordEmbedding.get_query_embedding"
    )
    assert all(s.status.status_code is StatusCode.UNSET for s in llama)
    assert not trace.get_current_span().get_span_context().is_valid  # every context detached


def test_an_async_query_gives_the_same_tree(llama: CapturedSpans, index: VectorStoreIndex, priced: None) -> None:
    llm = FixedLLM()
    response = asyncio.run(index.as_query_engine(llm=llm, similarity_top_k=2).aquery(QUESTION))

    assert str(response) == GROUNDED
    assert _tree(llama) == [
        (
            "RetrieverQueryEngine.aquery",
            [
                ("VectorIndexRetriever.aretrieve", [("WordEmbedding.aget_query_embedding", [])]),
                # CustomLLM.acomplete calls complete() on the same LLM: one call, one span.
                ("CompactAndRefine.asynthesize", [("FixedLLM.acomplete", [])]),
            ],
        )
    ]
    docs = _documents(response)
    assert _attrs(llama.one("VectorIndexRetriever.aretrieve")) == _retriever_attrs(
        "VectorIndexRetriever.aretrieve", docs
    )
    assert _attrs(llama.one("RetrieverQueryEngine.aquery")) == _step_attrs("RetrieverQueryEngine.aquery", GROUNDED)
    [prompt] = llm._prompts
    assert _attrs(llama.one("FixedLLM.acomplete")) == _llm_attrs("FixedLLM.acomplete", prompt, GROUNDED)


def test_concurrent_async_queries_keep_their_own_trees(llama: CapturedSpans, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=FixedLLM(), similarity_top_k=2)

    async def both() -> None:
        await asyncio.gather(engine.aquery(QUESTION), engine.aquery(QUESTION))

    asyncio.run(both())
    roots = llama.roots()
    assert len(roots) == 2 and roots[0].context.trace_id != roots[1].context.trace_id
    for root in roots:
        in_trace = [s for s in llama if s.context.trace_id == root.context.trace_id]
        assert sorted(s.name for s in in_trace) == sorted(
            [
                "RetrieverQueryEngine.aquery",
                "VectorIndexRetriever.aretrieve",
                "WordEmbedding.aget_query_embedding",
                "CompactAndRefine.asynthesize",
                "FixedLLM.acomplete",
            ]
        )


def test_the_llm_span_is_the_current_context_while_the_model_runs(
    llama: CapturedSpans, index: VectorStoreIndex
) -> None:
    llm = FixedLLM()
    index.as_query_engine(llm=llm).query(QUESTION)
    [current] = llm._current
    assert current.get_span_context().span_id == llama.one("FixedLLM.complete").context.span_id


def test_a_query_inside_a_decorated_step_nests_under_it(llama: CapturedSpans, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=FixedLLM(), similarity_top_k=2)

    @tracer.trace_step
    def ask(question: str) -> str:
        return str(engine.query(question))

    assert ask(QUESTION) == GROUNDED
    [(root, children)] = _tree(llama)
    assert root == "ask"
    assert [name for name, _ in children] == ["RetrieverQueryEngine.query"]


def test_return_values_are_those_of_the_uninstrumented_library(spans: CapturedSpans) -> None:
    def run() -> tuple[str, list[dict[str, Any]]]:
        response = _index().as_query_engine(llm=FixedLLM(), similarity_top_k=3).query(QUESTION)
        return str(response), _documents(response)

    bare = run()
    spy_llama_index.instrument()
    try:
        traced = run()
    finally:
        spy_llama_index.uninstrument()
    assert traced == bare and len(spans) == 5


# --- LLM calls on their own: chat, streams ------------------------------------------------------
def test_chat_records_messages_in_and_out(llama: CapturedSpans) -> None:
    llm = FixedLLM()
    messages = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
    reply = llm.chat(messages)
    assert reply.message.content == GROUNDED
    span = llama.one("FixedLLM.chat")  # CustomLLM.chat runs complete() inside: one span
    attrs = _attrs(span)
    expected_in = [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
    ]
    assert attrs[A.GEN_AI_OPERATION_NAME] == A.OP_CHAT
    assert attrs[A.GEN_AI_INPUT_MESSAGES] == expected_in and attrs[A.OI_INPUT_VALUE] == expected_in
    assert attrs[A.GEN_AI_OUTPUT_MESSAGES] == [
        {"role": "assistant", "parts": [{"type": "text", "content": GROUNDED}], "finish_reason": ""}
    ]
    assert attrs[A.OI_OUTPUT_VALUE] == GROUNDED and attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == 50


def test_a_stream_ends_its_span_when_the_last_chunk_is_read(llama: CapturedSpans) -> None:
    chunks = FixedLLM().stream_complete("Say it")
    assert llama.named("FixedLLM.stream_complete") == []  # still open: nothing read yet
    texts = [c.text for c in chunks]
    assert texts[-1] == GROUNDED
    attrs = _attrs(llama.one("FixedLLM.stream_complete"))
    assert attrs[A.GEN_AI_REQUEST_STREAM] is True
    assert attrs[A.STREAM_END] == A.STREAM_END_COMPLETED
    assert attrs[A.STREAM_ITEMS] == len(texts)
    assert attrs[A.OI_OUTPUT_VALUE] == GROUNDED and attrs[A.OI_INPUT_VALUE] == "Say it"
    assert attrs[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0


def test_a_stream_closed_early_or_dropped_unread_still_ends(llama: CapturedSpans) -> None:
    llm = FixedLLM()
    chunks = llm.stream_complete("Say it")
    next(chunks)
    chunks.close()
    unread = llm.stream_complete("Say it")
    del unread
    gc.collect()
    ends = sorted(_attrs(s)[A.STREAM_END] for s in llama.named("FixedLLM.stream_complete"))
    assert ends == [A.STREAM_END_ABANDONED, A.STREAM_END_CLOSED]
    assert all(s.status.status_code is StatusCode.UNSET for s in llama)


def test_an_async_stream(llama: CapturedSpans) -> None:
    async def read() -> list[str]:
        chunks = await FixedLLM().astream_complete("Say it")
        return [c.text async for c in chunks]

    texts = asyncio.run(read())
    assert texts[-1] == GROUNDED
    attrs = _attrs(llama.one("FixedLLM.astream_complete"))
    assert attrs[A.STREAM_END] == A.STREAM_END_COMPLETED and attrs[A.OI_OUTPUT_VALUE] == GROUNDED


# --- errors, capture off, redaction -----------------------------------------------------------
def test_an_error_inside_a_query_is_recorded_and_reraised_unchanged(
    llama: CapturedSpans, index: VectorStoreIndex
) -> None:
    with pytest.raises(Boom) as raised:
        index.as_query_engine(llm=FixedLLM(fail=True)).query(QUESTION)
    assert str(raised.value) == "the model is down"
    for name in ("FixedLLM.complete", "CompactAndRefine.synthesize", "RetrieverQueryEngine.query"):
        span = llama.one(name)
        assert span.status.status_code is StatusCode.ERROR, name
        assert _attrs(span)[A.ERROR_TYPE] == "Boom"
        [event] = [e for e in span.events if e.name == A.EXCEPTION_EVENT]
        assert dict(event.attributes or {})[A.EXCEPTION_MESSAGE] == "the model is down"
    assert llama.one("VectorIndexRetriever.retrieve").status.status_code is StatusCode.UNSET
    assert not trace.get_current_span().get_span_context().is_valid


_CONTENT = (
    A.OI_INPUT_VALUE,
    A.OI_OUTPUT_VALUE,
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_RETRIEVAL_DOCUMENTS,
    A.GEN_AI_RETRIEVAL_QUERY_TEXT,
)


def test_capture_off_stores_no_text(llama: CapturedSpans, index: VectorStoreIndex, use_settings: Any) -> None:
    use_settings(capture_content=False)
    index.as_query_engine(llm=FixedLLM(), similarity_top_k=2).query(QUESTION)
    assert len(llama) == 5
    for span in llama:
        keys = set(span.attributes or {})
        assert not keys & set(_CONTENT), span.name
        assert not any(k.startswith(A.OI_RETRIEVAL_DOCUMENTS) for k in keys), span.name
    assert _attrs(llama.one("VectorIndexRetriever.retrieve"))[A.DOCUMENTS_COUNT] == 2  # not content
    assert _attrs(llama.one("FixedLLM.complete"))[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 7


def test_the_redact_hook_sees_every_captured_text(
    llama: CapturedSpans, index: VectorStoreIndex, use_settings: Any
) -> None:
    seen: set[str] = set()

    def redact(key: str, text: str) -> str | None:
        seen.add(key)
        return None if key == A.OI_INPUT_VALUE else text.replace("12 hours", "[hours]")

    use_settings(redact=redact)
    index.as_query_engine(llm=FixedLLM(), similarity_top_k=2).query(QUESTION)
    assert {A.OI_INPUT_VALUE, A.OI_OUTPUT_VALUE, A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES} <= seen
    for span in llama:
        attrs = span.attributes or {}
        assert A.OI_INPUT_VALUE not in attrs, span.name
        assert not any("12 hours" in v for v in attrs.values() if isinstance(v, str)), span.name


# --- instrument / uninstrument ------------------------------------------------------------------
def _ours() -> tuple[int, int]:
    root = get_dispatcher()
    return (
        sum(isinstance(h, SpanHandler) for h in root.span_handlers),
        sum(isinstance(h, EventHandler) for h in root.event_handlers),
    )


def test_instrument_and_uninstrument_are_idempotent(spans: CapturedSpans, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=FixedLLM())
    others = (len(get_dispatcher().span_handlers), len(get_dispatcher().event_handlers))
    spy_llama_index.instrument()
    spy_llama_index.instrument()
    assert spy_llama_index.is_instrumented() and _ours() == (1, 1)
    held = next(h for h in get_dispatcher().span_handlers if isinstance(h, SpanHandler))
    engine.query(QUESTION)
    assert len(spans) == 5
    spy_llama_index.uninstrument()
    spy_llama_index.uninstrument()
    assert not spy_llama_index.is_instrumented() and _ours() == (0, 0)
    assert (len(get_dispatcher().span_handlers), len(get_dispatcher().event_handlers)) == others
    spans.clear()
    engine.query(QUESTION)
    assert len(spans) == 0
    # A handler someone still holds is inert: it records nothing.
    assert held.new_span(id_="X.query-1", bound_args=None, instance=engine) is None  # type: ignore[arg-type]
    spy_llama_index.instrument()  # and back on
    try:
        engine.query(QUESTION)
        assert len(spans) == 5
    finally:
        spy_llama_index.uninstrument()


def test_the_opentelemetry_instrumentor(spans: CapturedSpans, index: VectorStoreIndex) -> None:
    instrumentor = spy_llama_index.LlamaIndexInstrumentor()
    instrumentor.instrument()
    try:
        assert spy_llama_index.is_instrumented()
        index.as_query_engine(llm=FixedLLM()).query(QUESTION)
        assert len(spans) == 5
    finally:
        instrumentor.uninstrument()
    assert not spy_llama_index.is_instrumented()


def test_an_explicit_tracer_provider(spans: CapturedSpans, index: VectorStoreIndex) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spy_llama_index.instrument(tracer_provider=provider)
    try:
        index.as_query_engine(llm=FixedLLM()).query(QUESTION)
    finally:
        spy_llama_index.uninstrument()
    assert len(spans) == 0  # not on the provider Spyglass's decorators use
    mine = exporter.get_finished_spans()
    assert len(mine) == 5 and {s.instrumentation_scope and s.instrumentation_scope.name for s in mine} == {
        "spyglass.integrations.llama_index"
    }


# --- the store: grounding at export ----------------------------------------------------------
def test_a_hallucinated_answer_is_flagged_in_the_store(db_path: Path, index: VectorStoreIndex) -> None:
    tracer.configure(db=db_path, instrument=["llama_index"])
    try:
        assert spy_llama_index.is_instrumented()
        index.as_query_engine(llm=FixedLLM(answer=GROUNDED), similarity_top_k=2).query(QUESTION)
        index.as_query_engine(llm=FixedLLM(answer=HALLUCINATED), similarity_top_k=2).query(QUESTION)
        assert tracer.flush()
    finally:
        spy_llama_index.uninstrument()
    store = tracer.Store(db_path)
    evaluations = store.evaluations("grounding")
    assert sorted(e["label"] for e in evaluations) == ["grounded", "hallucination"]
    [bad] = [e for e in evaluations if e["label"] == "hallucination"]
    [unsupported] = [s for s in json.loads(bad["details"])["sentences"] if not s["supported"]]
    assert "Norway" in unsupported["text"]
    detail = store.get_trace(bad["trace_id"])
    assert detail is not None
    llm = next(s for s in detail["spans"] if s["span_type"] == "llm")
    assert llm["span_id"] == bad["span_id"] and llm["name"] == "FixedLLM.complete"
    assert sorted(s["span_type"] for s in detail["spans"]) == ["embedding", "llm", "retriever", "step", "step"]
