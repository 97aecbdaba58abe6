"""integrations.chroma: real chromadb (in-process EphemeralClient), an embedding function
written here (Chroma's default one downloads a model), spans in memory or in a real store."""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

chromadb = pytest.importorskip("chromadb")

from chromadb.api.models.Collection import Collection
from chromadb.api.types import EmbeddingFunction
from opentelemetry.trace import SpanKind, StatusCode

import tracer
import tracer.testing
from integrations import chroma as spy_chroma
from tracer import attributes as A
from tracer._guard import set_raise_internal_errors

# Counts of these words, plus a constant so that no vector is all zeros (cosine needs a norm).
VOCABULARY = ("battery", "hours", "usb", "lamp", "warranty", "refund", "days", "charge")


def embed(text: str) -> list[float]:
    words = text.lower().replace("?", " ").replace(".", " ").replace("-", " ").split()
    return [float(sum(w.startswith(v) for w in words)) for v in VOCABULARY] + [0.5]


class WordCounts(EmbeddingFunction):
    """Deterministic, offline; what Chroma 0.5 and 1.x both ask of an embedding function."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: list[str]) -> list[list[float]]:  # type: ignore[override]  # lists are accepted
        return [embed(t) for t in input]

    @staticmethod
    def name() -> str:
        return "spyglass-test-word-counts"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordCounts:
        return WordCounts()


DOCS = {
    "kb-battery": "The L2 lamp battery lasts 12 hours and takes 3 hours to charge over USB-C.",
    "kb-warranty": "The warranty covers the lamp for 2 years.",
    "kb-refund": "A refund is possible within 30 days of purchase.",
}
META = {"kb-battery": {"page": 1}, "kb-warranty": {"page": 2}, "kb-refund": {"page": 3}}


@pytest.fixture
def collection() -> Iterator[Any]:
    """A fresh collection (EphemeralClients of one process share their data: unique name)."""
    client = chromadb.EphemeralClient()
    name = f"kb-{uuid.uuid4().hex[:8]}"
    col = client.create_collection(name, embedding_function=WordCounts(), metadata={"hnsw:space": "cosine"})
    col.add(ids=list(DOCS), documents=list(DOCS.values()), metadatas=[META[i] for i in DOCS])
    yield col
    client.delete_collection(name)


@pytest.fixture
def instrumented() -> Iterator[None]:
    spy_chroma.instrument()
    try:
        yield
    finally:
        spy_chroma.uninstrument()


def _docs(span: Any) -> list[dict[str, Any]]:
    return json.loads(span.attributes[A.GEN_AI_RETRIEVAL_DOCUMENTS])


# --- one query ------------------------------------------------------------------------------
def test_a_text_query_is_one_retriever_span(collection: Any, instrumented: None, spans: Any) -> None:
    result = collection.query(query_texts=["How many hours does the battery last?"], n_results=2)
    [span] = spans
    assert span.name == f"retrieval {collection.name}" and span.kind is SpanKind.CLIENT
    ids, distances = result["ids"][0], result["distances"][0]
    assert ids[0] == "kb-battery" and len(ids) == 2  # what Chroma found, in its order
    documents = [
        {"id": i, "content": DOCS[i], "score": d, "metadata": META[i]} for i, d in zip(ids, distances, strict=True)
    ]
    flat = {}
    for n, doc in enumerate(documents):
        flat[A.oi_document(n, "id")] = doc["id"]
        flat[A.oi_document(n, "content")] = doc["content"]
        flat[A.oi_document(n, "score")] = doc["score"]
    stored = json.dumps(documents, separators=(",", ":"), ensure_ascii=False)
    assert dict(span.attributes) == {
        A.GEN_AI_OPERATION_NAME: "retrieval",
        A.SPAN_TYPE: "retriever",
        A.OI_SPAN_KIND: "RETRIEVER",
        A.DB_SYSTEM_NAME: "chroma",
        A.DB_OPERATION_NAME: "query",
        A.DB_COLLECTION_NAME: collection.name,
        A.GEN_AI_DATA_SOURCE_ID: collection.name,
        A.GEN_AI_RETRIEVAL_TOP_K: 2,
        A.RETRIEVAL_SCORE_KIND: "distance",
        A.RETRIEVAL_DISTANCE_METRIC: "cosine",
        A.RETRIEVAL_QUERY_KIND: "text",
        A.OI_INPUT_VALUE: "How many hours does the battery last?",
        A.OI_INPUT_MIME_TYPE: A.MIME_TEXT,
        A.GEN_AI_RETRIEVAL_QUERY_TEXT: "How many hours does the battery last?",
        A.DB_RESPONSE_RETURNED_ROWS: 2,
        A.DOCUMENTS_COUNT: 2,
        A.GEN_AI_RETRIEVAL_DOCUMENTS: stored,
        A.OI_OUTPUT_VALUE: stored,
        A.OI_OUTPUT_MIME_TYPE: A.MIME_JSON,
        **flat,
    }
    assert distances[0] < distances[1]  # distances: lower is closer, and the span says so
    assert span.status.status_code is StatusCode.UNSET


def test_positional_arguments_and_the_default_n_results(collection: Any, instrumented: None, spans: Any) -> None:
    collection.query([embed("refund days")])  # query_embeddings is the first parameter
    [span] = spans
    assert span.attributes[A.GEN_AI_RETRIEVAL_TOP_K] == 10  # Chroma's default, read from its signature
    assert span.attributes[A.RETRIEVAL_QUERY_KIND] == "embedding"
    assert _docs(span)[0]["id"] == "kb-refund" and span.attributes[A.DOCUMENTS_COUNT] == 3


def test_an_embedding_query_is_said_so_and_the_vector_is_not_stored(
    collection: Any, instrumented: None, spans: Any
) -> None:
    vector = [0.25, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.125]
    collection.query(query_embeddings=[vector], n_results=1)
    [span] = spans
    attrs = dict(span.attributes)
    assert attrs[A.RETRIEVAL_QUERY_KIND] == "embedding"
    assert A.OI_INPUT_VALUE not in attrs and A.GEN_AI_RETRIEVAL_QUERY_TEXT not in attrs
    assert not any("0.125" in str(v) or "7.0," in str(v) for v in attrs.values())
    assert [d["id"] for d in _docs(span)] == ["kb-battery"]


def test_columns_left_out_of_include_are_left_out_of_the_documents(
    collection: Any, instrumented: None, spans: Any
) -> None:
    collection.query(query_texts=["refund"], n_results=1, include=["metadatas"])
    [span] = spans
    assert _docs(span) == [{"id": "kb-refund", "content": "", "score": None, "metadata": {"page": 3}}]
    assert A.oi_document(0, "score") not in span.attributes


# --- several queries in one call --------------------------------------------------------------
def test_a_batch_is_one_span_with_each_querys_documents_marked(collection: Any, instrumented: None, spans: Any) -> None:
    result = collection.query(query_texts=["battery hours", "refund days"], n_results=2)
    [span] = spans
    attrs = dict(span.attributes)
    assert attrs[A.DB_OPERATION_BATCH_SIZE] == 2 and attrs[A.RETRIEVAL_RESULT_COUNTS] == (2, 2)
    assert attrs[A.DB_RESPONSE_RETURNED_ROWS] == 4 and attrs[A.DOCUMENTS_COUNT] == 4
    assert json.loads(attrs[A.OI_INPUT_VALUE]) == ["battery hours", "refund days"]
    assert A.GEN_AI_RETRIEVAL_QUERY_TEXT not in attrs  # one string in the conventions: not a batch
    docs = _docs(span)
    assert [(d["id"], d["metadata"][A.DOCUMENT_QUERY_INDEX]) for d in docs] == [
        (result["ids"][0][0], 0),
        (result["ids"][0][1], 0),
        (result["ids"][1][0], 1),
        (result["ids"][1][1], 1),
    ]
    assert docs[0]["metadata"] == {**META[docs[0]["id"]], A.DOCUMENT_QUERY_INDEX: 0}


# --- the async client, on a real local server ---------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``chroma run`` on 127.0.0.1 with a temporary path: AsyncHttpClient only talks HTTP.
    The CLI of this interpreter's chromadb is run, not whichever ``chroma`` is first on PATH,
    so that client and server are one release."""
    if not hasattr(chromadb, "AsyncHttpClient"):
        pytest.skip(f"chromadb {chromadb.__version__} has no AsyncHttpClient (AsyncCollection)")
    scripts = {e.name for e in importlib.metadata.distribution("chromadb").entry_points}
    if "chroma" not in scripts:
        pytest.skip("this chromadb has no `chroma` CLI to run a local server")
    folder = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    # argv[0] as the console script sets it: 1.x hands the whole argv to its Rust CLI.
    code = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; app()"
    args = ["run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)]
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=folder,  # 0.5's CLI writes chroma.log into the working directory
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        deadline = time.monotonic() + 90  # about 5 s here; far more on a loaded machine
        while True:
            assert server.poll() is None, (folder / "server.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "chroma run did not listen within 90 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        server.terminate()  # 1.x shuts down gracefully on SIGTERM, in a few seconds
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


async def test_the_async_client_on_a_local_server(
    chroma_server: tuple[str, int], instrumented: None, spans: Any
) -> None:
    from chromadb.api.models.AsyncCollection import AsyncCollection
    from chromadb.config import Settings

    host, port = chroma_server
    client = await chromadb.AsyncHttpClient(host=host, port=port, settings=Settings(anonymized_telemetry=False))
    name = f"kb-{uuid.uuid4().hex[:8]}"
    col = await client.create_collection(name, embedding_function=WordCounts(), metadata={"hnsw:space": "cosine"})
    assert isinstance(col, AsyncCollection)
    await col.add(ids=list(DOCS), documents=list(DOCS.values()), metadatas=[META[i] for i in DOCS])
    result = await col.query(query_texts=["How many hours does the battery last?"], n_results=2)
    await col.query(query_texts=["battery hours", "refund days"], n_results=1)
    await client.delete_collection(name)
    with pytest.raises(Exception) as raised:
        await col.query(query_texts=["battery"], n_results=1)
    one, batch, failed = spans
    assert result["distances"] is not None  # included by default
    ids, distances = result["ids"][0], result["distances"][0]
    assert ids[0] == "kb-battery" and len(ids) == 2
    assert _docs(one) == [
        {"id": i, "content": DOCS[i], "score": d, "metadata": META[i]} for i, d in zip(ids, distances, strict=True)
    ]
    assert one.name == f"retrieval {name}" and one.kind is SpanKind.CLIENT
    attrs = dict(one.attributes)
    assert attrs[A.DB_SYSTEM_NAME] == "chroma" and attrs[A.DB_OPERATION_NAME] == "query"
    assert attrs[A.GEN_AI_RETRIEVAL_TOP_K] == 2 and attrs[A.RETRIEVAL_DISTANCE_METRIC] == "cosine"
    assert attrs[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "How many hours does the battery last?"
    assert batch.attributes[A.DB_OPERATION_BATCH_SIZE] == 2 and batch.attributes[A.RETRIEVAL_RESULT_COUNTS] == (1, 1)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[A.ERROR_TYPE] == type(raised.value).__qualname__


# --- what the call returns and raises --------------------------------------------------------
def test_the_result_is_the_object_chroma_returned(collection: Any, monkeypatch: pytest.MonkeyPatch, spans: Any) -> None:
    returned: list[Any] = []
    real = Collection.query

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        returned.append(real(self, *args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(Collection, "query", recording)
    bare = collection.query(query_texts=["warranty"], n_results=2)
    spy_chroma.instrument()
    try:
        traced = collection.query(query_texts=["warranty"], n_results=2)
    finally:
        spy_chroma.uninstrument()
    assert traced is returned[-1] and traced == bare
    assert Collection.__dict__["query"] is recording  # put back exactly
    assert len(spans) == 1


def test_a_missing_collection_error_is_recorded_and_reraised(instrumented: None, spans: Any) -> None:
    client = chromadb.EphemeralClient()
    name = f"gone-{uuid.uuid4().hex[:8]}"
    col = client.create_collection(name, embedding_function=WordCounts())
    client.delete_collection(name)
    with pytest.raises(Exception) as raised:
        col.query(query_texts=["battery"], n_results=1)
    [span] = spans
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == type(raised.value).__qualname__
    [event] = [e for e in span.events if e.name == A.EXCEPTION_EVENT]
    assert event.attributes[A.EXCEPTION_TYPE].endswith(type(raised.value).__qualname__)
    assert A.GEN_AI_RETRIEVAL_DOCUMENTS not in span.attributes


def test_our_failure_never_breaks_the_query(
    collection: Any, instrumented: None, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracer._call

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("spyglass bug")

    monkeypatch.setattr(tracer._call, "normalize_documents", broken)
    set_raise_internal_errors(False)
    result = collection.query(query_texts=["refund"], n_results=1)
    assert result["ids"] == [["kb-refund"]]
    [span] = spans  # ended once, without documents
    assert A.GEN_AI_RETRIEVAL_DOCUMENTS not in span.attributes


# --- content capture, redaction --------------------------------------------------------------
def test_capture_off_stores_no_text(collection: Any, instrumented: None, spans: Any, use_settings: Any) -> None:
    use_settings(capture_content=False)
    collection.query(query_texts=["battery hours"], n_results=2)
    [span] = spans
    attrs = dict(span.attributes)
    assert attrs[A.DOCUMENTS_COUNT] == 2 and attrs[A.GEN_AI_RETRIEVAL_TOP_K] == 2
    for key in (A.OI_INPUT_VALUE, A.GEN_AI_RETRIEVAL_QUERY_TEXT, A.GEN_AI_RETRIEVAL_DOCUMENTS, A.OI_OUTPUT_VALUE):
        assert key not in attrs
    text = " ".join(str(v) for v in attrs.values())
    assert "battery" not in text and "12 hours" not in text and "kb-battery" not in text


def test_the_redact_hook_sees_the_query_and_the_documents(
    collection: Any, instrumented: None, spans: Any, use_settings: Any
) -> None:
    seen: set[str] = set()

    def redact(key: str, text: str) -> str:
        seen.add(key)
        return text.replace("USB-C", "<port>").replace("battery", "<b>")

    use_settings(redact=redact)
    collection.query(query_texts=["battery hours"], n_results=1)
    [span] = spans
    assert span.attributes[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "<b> hours"
    assert "USB-C" not in span.attributes[A.GEN_AI_RETRIEVAL_DOCUMENTS]
    assert "<port>" in span.attributes[A.oi_document(0, "content")]
    assert {A.OI_INPUT_VALUE, A.GEN_AI_RETRIEVAL_QUERY_TEXT, A.GEN_AI_RETRIEVAL_DOCUMENTS} <= seen


# --- instrument / uninstrument -------------------------------------------------------------
def test_instrument_is_idempotent_and_uninstrument_restores(collection: Any, spans: Any) -> None:
    original = Collection.__dict__["query"]
    spy_chroma.instrument()
    spy_chroma.instrument()
    assert spy_chroma.is_instrumented()
    bound = collection.query  # captured while instrumented, called after
    collection.query(query_texts=["refund"], n_results=1)
    assert len(spans) == 1  # patched once
    spy_chroma.uninstrument()
    spy_chroma.uninstrument()
    assert not spy_chroma.is_instrumented() and Collection.__dict__["query"] is original
    bound(query_texts=["refund"], n_results=1)
    collection.query(query_texts=["refund"], n_results=1)
    assert len(spans) == 1


def test_the_opentelemetry_instrumentor_and_an_explicit_provider(collection: Any) -> None:
    provider = tracer.testing.new_tracer_provider()
    with tracer.testing.capture_spans(provider) as captured:
        instrumentor = spy_chroma.ChromaInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            collection.query(query_texts=["refund"], n_results=1)
        finally:
            instrumentor.uninstrument()
    [span] = captured
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == "spyglass.integrations.chroma"
    assert not spy_chroma.is_instrumented()


# --- in a trace, in the store, checked ---------------------------------------------------------
def test_a_query_inside_a_step_is_its_child(collection: Any, instrumented: None, spans: Any) -> None:
    @tracer.trace_step
    def rag(question: str) -> Any:
        return collection.query(query_texts=[question], n_results=1)

    rag("refund days")
    retrieval = spans.one(f"retrieval {collection.name}")
    assert spans.children(spans.one("rag")) == [retrieval]


def test_the_grounding_check_reads_the_retrieved_documents(collection: Any, db_path: Path) -> None:
    """configure(instrument=["chroma"]); the LLM function is not given the documents: the only
    evidence is what the Chroma span retrieved."""
    tracer.configure(db=db_path, instrument=["chroma"])
    try:
        assert spy_chroma.is_instrumented()

        @tracer.trace_llm(model="m")
        def answer(question: str) -> str:
            found = collection.query(query_texts=[question], n_results=1)
            if "made" in question:
                return "The battery lasts 12 hours. It is made in Norway by Fjord Power in 2019."
            return f"The battery lasts 12 hours. Source: {found['ids'][0][0]}."

        answer("How many hours does the battery last?")
        answer("Where is the battery made? How many hours does it last?")
        assert tracer.flush()
    finally:
        spy_chroma.uninstrument()
    store = tracer.Store(db_path)
    evaluations = store.evaluations("grounding")
    assert sorted(e["label"] for e in evaluations) == ["grounded", "hallucination"]
    for evaluation in evaluations:
        details = json.loads(evaluation["details"])
        assert details["document_ids"] == ["kb-battery"]
        trace = store.get_trace(evaluation["trace_id"])
        assert trace is not None
        kinds = sorted(s["span_type"] for s in trace["spans"])
        assert kinds == ["llm", "retriever"]
        [doc] = trace["documents"]
        assert doc["document_id"] == "kb-battery" and doc["content"] == DOCS["kb-battery"]


def test_a_store_query_inside_a_decorated_retriever_is_not_counted_twice(collection: Any, db_path: Path) -> None:
    """A framework retriever around the store (here @trace_retriever, which is what the
    LangChain and LlamaIndex integrations record too) returns the same documents with the same
    ids: the grounding check sees each document once."""
    tracer.configure(db=db_path, instrument=["chroma"])
    try:
        found_ids: list[str] = []

        @tracer.trace_retriever
        def retrieve(question: str) -> list[dict[str, Any]]:
            found = collection.query(query_texts=[question], n_results=2)
            found_ids.extend(found["ids"][0])
            return [{"id": i, "content": c} for i, c in zip(found["ids"][0], found["documents"][0], strict=True)]

        @tracer.trace_llm(model="m")
        def answer(question: str) -> str:
            retrieve(question)
            return "The battery lasts 12 hours."

        answer("How many hours does the battery last?")
        assert tracer.flush()
    finally:
        spy_chroma.uninstrument()
    store = tracer.Store(db_path)
    [evaluation] = store.evaluations("grounding")
    assert json.loads(evaluation["details"])["document_ids"] == found_ids and len(found_ids) == 2
    trace = store.get_trace(evaluation["trace_id"])
    assert trace is not None
    spans_by_type = sorted(s["span_type"] for s in trace["spans"])
    assert spans_by_type == ["llm", "retriever", "retriever"]
    # The trace's documents (the viewer's Context panel) are listed once too: same id, same text.
    assert [d["document_id"] for d in trace["documents"]] == found_ids


def test_a_wrapper_that_drops_the_ids_still_counts_each_document_once(collection: Any, db_path: Path) -> None:
    """A framework retriever that returns the store's texts without the store's ids (ranked
    "0", "1"...) repeats the same documents: the grounding check and the trace's documents
    (the viewer's Context panel) count them once, under the store's id. Documents are told
    apart by their text; by id only when there is none (content capture off)."""
    tracer.configure(db=db_path, instrument=["chroma"])
    try:

        @tracer.trace_retriever
        def retrieve(question: str) -> list[str]:
            return collection.query(query_texts=[question], n_results=2)["documents"][0]

        @tracer.trace_llm(model="m")
        def answer(question: str) -> str:
            retrieve(question)
            return "The battery lasts 12 hours."

        answer("How many hours does the battery last?")
        assert tracer.flush()
    finally:
        spy_chroma.uninstrument()
    store = tracer.Store(db_path)
    [evaluation] = store.evaluations("grounding")
    store_ids = json.loads(evaluation["details"])["document_ids"]
    assert len(store_ids) == 2 and "0" not in store_ids and "kb-battery" in store_ids
    trace = store.get_trace(evaluation["trace_id"])
    assert trace is not None
    assert [d["document_id"] for d in trace["documents"]] == store_ids
    # Both spans keep what they returned: the de-duplication is in what is counted and listed.
    with store.connect() as con:
        rows = con.execute("SELECT document_id FROM documents").fetchall()
    assert sorted(r[0] for r in rows) == sorted([*store_ids, "0", "1"])
