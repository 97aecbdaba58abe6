"""integrations.qdrant: real qdrant-client in local ``:memory:`` mode (sync and async clients),
vectors computed here, spans in memory or in a real store."""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

qdrant_client = pytest.importorskip("qdrant_client")

from opentelemetry.trace import SpanKind, StatusCode
from qdrant_client import AsyncQdrantClient, QdrantClient, models

import tracer
import tracer.testing
from integrations import qdrant as spy_qdrant
from tracer import attributes as A
from tracer._guard import set_raise_internal_errors

VOCABULARY = ("battery", "hours", "usb", "lamp", "warranty", "refund", "days", "charge")


def embed(text: str) -> list[float]:
    """Counts of the vocabulary's words, plus a constant so that no vector is all zeros."""
    words = text.lower().replace("?", " ").replace(".", " ").replace("-", " ").split()
    return [float(sum(w.startswith(v) for w in words)) for v in VOCABULARY] + [0.5]


DIM = len(VOCABULARY) + 1
DOCS = {
    1: "The L2 lamp battery lasts 12 hours and takes 3 hours to charge over USB-C.",
    2: "The warranty covers the lamp for 2 years.",
    3: "A refund is possible within 30 days of purchase.",
}
# Point 3 is stored the way LangChain's QdrantVectorStore stores it: text under page_content.
PAYLOADS: dict[int, dict[str, Any]] = {
    1: {"text": DOCS[1], "page": 1},
    2: {"text": DOCS[2], "page": 2},
    3: {"page_content": DOCS[3], "metadata": {"page": 3}},
}


def _fill(client: Any, name: str, distance: Any = models.Distance.COSINE) -> None:
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=distance))
    client.upsert(
        name, points=[models.PointStruct(id=i, vector=embed(t), payload=PAYLOADS[i]) for i, t in DOCS.items()]
    )


@pytest.fixture
def client() -> Iterator[QdrantClient]:
    c = QdrantClient(":memory:")
    _fill(c, "kb")
    yield c
    c.close()


@pytest.fixture
def instrumented() -> Iterator[None]:
    spy_qdrant.instrument()
    try:
        yield
    finally:
        spy_qdrant.uninstrument()
        spy_qdrant.set_payload_keys(None)


def _docs(span: Any) -> list[dict[str, Any]]:
    return json.loads(span.attributes[A.GEN_AI_RETRIEVAL_DOCUMENTS])


# --- one query ------------------------------------------------------------------------------
def test_query_points_is_one_retriever_span(client: QdrantClient, instrumented: None, spans: Any) -> None:
    response = client.query_points("kb", query=embed("battery hours"), limit=2)
    [span] = spans
    assert span.name == "retrieval kb" and span.kind is SpanKind.CLIENT
    points = response.points
    assert points[0].id == 1 and len(points) == 2 and points[0].score > points[1].score
    documents = []
    for p in points:
        payload = dict(p.payload or {})
        content = payload.pop("text", None) or payload.pop("page_content")
        documents.append({"id": str(p.id), "content": content, "score": p.score, "metadata": payload})
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
        A.DB_SYSTEM_NAME: "qdrant",
        A.DB_OPERATION_NAME: "query_points",
        A.DB_COLLECTION_NAME: "kb",
        A.GEN_AI_DATA_SOURCE_ID: "kb",
        A.GEN_AI_RETRIEVAL_TOP_K: 2,
        A.RETRIEVAL_SCORE_KIND: "qdrant_score",
        A.RETRIEVAL_QUERY_KIND: "embedding",
        A.DB_RESPONSE_RETURNED_ROWS: 2,
        A.DOCUMENTS_COUNT: 2,
        A.GEN_AI_RETRIEVAL_DOCUMENTS: stored,
        A.OI_OUTPUT_VALUE: stored,
        A.OI_OUTPUT_MIME_TYPE: A.MIME_JSON,
        **flat,
    }
    # An embedding query: its kind is said, the vector is nowhere.
    assert A.OI_INPUT_VALUE not in span.attributes and A.GEN_AI_RETRIEVAL_QUERY_TEXT not in span.attributes
    assert span.status.status_code is StatusCode.UNSET


def test_positional_arguments_and_the_default_limit(client: QdrantClient, instrumented: None, spans: Any) -> None:
    client.query_points("kb", embed("refund days"))
    [span] = spans
    assert span.attributes[A.DB_COLLECTION_NAME] == "kb"
    assert span.attributes[A.GEN_AI_RETRIEVAL_TOP_K] == 10  # the client's default, from its signature
    assert _docs(span)[0] == {
        "id": "3",
        "content": DOCS[3],
        "score": pytest.approx(_docs(span)[0]["score"]),
        "metadata": {"metadata": {"page": 3}},
    }


def test_a_point_id_query_and_a_nearest_query(client: QdrantClient, instrumented: None, spans: Any) -> None:
    client.query_points("kb", query=2, limit=1)
    client.query_points("kb", query=models.NearestQuery(nearest=embed("lamp warranty")), limit=1)
    assert [s.attributes[A.RETRIEVAL_QUERY_KIND] for s in spans] == ["point_id", "embedding"]


def test_a_text_query_records_its_text_even_when_the_client_cannot_embed_it(
    client: QdrantClient, instrumented: None, spans: Any
) -> None:
    """A models.Document query is embedded by the client (fastembed) or the server; neither is
    here, so the call fails, and the span says what was asked and what went wrong."""
    if importlib.util.find_spec("fastembed") is not None:
        pytest.skip("fastembed is installed: the query would download a model")
    # qdrant-client 1.10 has it in qdrant_client.embed.models only; later ones in models too.
    document_model: Any = (
        getattr(models, "Document", None) or importlib.import_module("qdrant_client.embed.models").Document
    )
    with pytest.raises(Exception) as raised:
        client.query_points("kb", query=document_model(text="battery hours?", model="any/model"), limit=1)
    [span] = spans
    assert span.attributes[A.RETRIEVAL_QUERY_KIND] == "text"
    assert span.attributes[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "battery hours?"
    assert span.attributes[A.OI_INPUT_VALUE] == "battery hours?"
    assert span.attributes[A.ERROR_TYPE] == type(raised.value).__qualname__


# --- payload text, scores --------------------------------------------------------------------
def test_payload_keys_are_configurable(client: QdrantClient, instrumented: None, spans: Any) -> None:
    client.upsert("kb", points=[models.PointStruct(id=4, vector=embed("usb usb usb"), payload={"body": "USB text"})])
    client.query_points("kb", query=embed("usb usb usb"), limit=1)
    spy_qdrant.set_payload_keys(["body"])
    client.query_points("kb", query=embed("usb usb usb"), limit=1)
    client.query_points("kb", query=embed("usb usb usb"), limit=1, with_payload=False)
    first, custom, bare = (_docs(s)[0] for s in spans)
    assert first["content"] == "" and first["metadata"] == {"body": "USB text"}  # no default key matched
    assert custom["content"] == "USB text" and custom["metadata"] == {}
    assert bare["content"] == "" and bare["metadata"] == {} and bare["id"] == "4"
    with pytest.raises(TypeError):
        spy_qdrant.set_payload_keys("body")
    assert spy_qdrant.payload_keys() == ("body",)


def test_a_euclid_collection_keeps_its_distances_as_given(instrumented: None, spans: Any) -> None:
    c = QdrantClient(":memory:")
    _fill(c, "far", models.Distance.EUCLID)
    response = c.query_points("far", query=embed(DOCS[1]), limit=2)
    [span] = spans
    scores = [d["score"] for d in _docs(span)]
    assert scores == [p.score for p in response.points] and scores[0] == 0.0 < scores[1]  # lower is closer here
    assert span.attributes[A.RETRIEVAL_SCORE_KIND] == "qdrant_score"


# --- several queries in one call --------------------------------------------------------------
def test_query_batch_points_is_one_span_with_each_querys_documents_marked(
    client: QdrantClient, instrumented: None, spans: Any
) -> None:
    requests = [
        models.QueryRequest(query=embed("battery"), limit=1, with_payload=True),
        models.QueryRequest(query=embed("refund days"), limit=1, with_payload=True),
    ]
    client.query_batch_points("kb", requests=requests)
    [span] = spans
    attrs = dict(span.attributes)
    assert attrs[A.DB_OPERATION_NAME] == "query_batch_points" and attrs[A.DB_OPERATION_BATCH_SIZE] == 2
    assert attrs[A.RETRIEVAL_RESULT_COUNTS] == (1, 1) and attrs[A.GEN_AI_RETRIEVAL_TOP_K] == 1
    docs = _docs(span)
    assert [(d["id"], d["metadata"][A.DOCUMENT_QUERY_INDEX]) for d in docs] == [("1", 0), ("3", 1)]


def test_a_batch_with_different_limits_has_no_top_k(client: QdrantClient, instrumented: None, spans: Any) -> None:
    # A recommend query, not a point id: qdrant-client 1.10's local mode resolves point ids in
    # query_points but not in query_batch_points ("Unsupported query vector type <class 'int'>").
    recommend = models.RecommendQuery(recommend=models.RecommendInput(positive=[embed("lamp warranty")]))
    requests = [models.QueryRequest(query=embed("battery"), limit=1), models.QueryRequest(query=recommend, limit=2)]
    client.query_batch_points("kb", requests)
    [span] = spans
    assert A.GEN_AI_RETRIEVAL_TOP_K not in span.attributes
    assert span.attributes[A.RETRIEVAL_QUERY_KIND] == "mixed"
    assert span.attributes[A.RETRIEVAL_RESULT_COUNTS] == (1, 2)


@pytest.mark.skipif(not hasattr(QdrantClient, "search"), reason="search was removed from qdrant-client (1.16+)")
@pytest.mark.filterwarnings("ignore:`search` method is deprecated")
def test_the_deprecated_search_methods_of_older_clients(client: QdrantClient, instrumented: None, spans: Any) -> None:
    old: Any = client  # typed against the newest client, which has neither method
    old_models: Any = models
    old.search("kb", query_vector=embed("battery"), limit=1)
    old.search_batch("kb", [old_models.SearchRequest(vector=embed("refund"), limit=1, with_payload=True)])
    single, batch = spans
    assert single.attributes[A.DB_OPERATION_NAME] == "search" and _docs(single)[0]["content"] == DOCS[1]
    assert batch.attributes[A.DB_OPERATION_NAME] == "search_batch" and _docs(batch)[0]["id"] == "3"


# --- the async client -------------------------------------------------------------------------
async def test_the_async_client(instrumented: None, spans: Any) -> None:
    c = AsyncQdrantClient(":memory:")
    await c.create_collection("kb", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    await c.upsert(
        "kb", points=[models.PointStruct(id=i, vector=embed(t), payload=PAYLOADS[i]) for i, t in DOCS.items()]
    )
    response = await c.query_points("kb", embed("lamp warranty"), limit=1)
    await c.query_batch_points("kb", [models.QueryRequest(query=embed("refund"), limit=1)])
    with pytest.raises(ValueError):
        await c.query_points("missing", embed("x"), limit=1)
    await c.close()
    ok, batch, failed = spans
    assert response.points[0].id == 2 and _docs(ok)[0]["content"] == DOCS[2]
    assert ok.attributes[A.DB_OPERATION_NAME] == "query_points" and A.DB_OPERATION_BATCH_SIZE not in batch.attributes
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes[A.ERROR_TYPE] == "ValueError"


# --- what the call returns and raises --------------------------------------------------------
def test_the_result_is_the_object_qdrant_returned(
    client: QdrantClient, monkeypatch: pytest.MonkeyPatch, spans: Any
) -> None:
    returned: list[Any] = []
    real = QdrantClient.query_points

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        returned.append(real(self, *args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(QdrantClient, "query_points", recording)
    bare = client.query_points("kb", query=embed("warranty"), limit=2)
    spy_qdrant.instrument()
    try:
        traced = client.query_points("kb", query=embed("warranty"), limit=2)
    finally:
        spy_qdrant.uninstrument()
    assert traced is returned[-1] and traced == bare
    assert QdrantClient.__dict__["query_points"] is recording
    assert len(spans) == 1


def test_a_missing_collection_error_is_recorded_and_reraised(
    client: QdrantClient, instrumented: None, spans: Any
) -> None:
    with pytest.raises(ValueError, match="not found") as raised:
        client.query_points("missing", query=embed("battery"), limit=1)
    [span] = spans
    assert span.name == "retrieval missing" and span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "ValueError"
    [event] = [e for e in span.events if e.name == A.EXCEPTION_EVENT]
    assert event.attributes[A.EXCEPTION_MESSAGE] == str(raised.value)


def test_our_failure_never_breaks_the_query(
    client: QdrantClient, instrumented: None, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_raise_internal_errors(False)
    monkeypatch.setattr(spy_qdrant, "_payload_keys", None)  # reading the points now fails
    response = client.query_points("kb", query=embed("refund"), limit=1)
    assert response.points[0].id == 3
    [span] = spans
    assert A.GEN_AI_RETRIEVAL_DOCUMENTS not in span.attributes


# --- content capture, redaction --------------------------------------------------------------
def test_capture_off_stores_no_text(client: QdrantClient, instrumented: None, spans: Any, use_settings: Any) -> None:
    use_settings(capture_content=False)
    client.query_points("kb", query=embed("battery"), limit=2)
    [span] = spans
    attrs = dict(span.attributes)
    assert attrs[A.DOCUMENTS_COUNT] == 2 and attrs[A.DB_RESPONSE_RETURNED_ROWS] == 2
    assert A.GEN_AI_RETRIEVAL_DOCUMENTS not in attrs and A.OI_OUTPUT_VALUE not in attrs
    assert "battery" not in " ".join(str(v) for v in attrs.values())


def test_the_redact_hook_sees_the_documents(
    client: QdrantClient, instrumented: None, spans: Any, use_settings: Any
) -> None:
    use_settings(redact=lambda key, text: text.replace("USB-C", "<port>"))
    client.query_points("kb", query=embed("battery"), limit=1)
    [span] = spans
    assert "USB-C" not in span.attributes[A.GEN_AI_RETRIEVAL_DOCUMENTS]
    assert "<port>" in span.attributes[A.oi_document(0, "content")]


# --- instrument / uninstrument -------------------------------------------------------------
def test_instrument_is_idempotent_and_uninstrument_restores(client: QdrantClient, spans: Any) -> None:
    originals = {name: QdrantClient.__dict__.get(name) for name in ("query_points", "query_batch_points")}
    spy_qdrant.instrument()
    spy_qdrant.instrument()
    client.query_points("kb", query=embed("refund"), limit=1)
    assert len(spans) == 1
    spy_qdrant.uninstrument()
    spy_qdrant.uninstrument()
    assert not spy_qdrant.is_instrumented()
    assert {name: QdrantClient.__dict__.get(name) for name in originals} == originals
    client.query_points("kb", query=embed("refund"), limit=1)
    assert len(spans) == 1


def test_the_opentelemetry_instrumentor_and_an_explicit_provider(client: QdrantClient) -> None:
    provider = tracer.testing.new_tracer_provider()
    with tracer.testing.capture_spans(provider) as captured:
        instrumentor = spy_qdrant.QdrantInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            client.query_points("kb", query=embed("refund"), limit=1)
        finally:
            instrumentor.uninstrument()
    [span] = captured
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == "spyglass.integrations.qdrant"


# --- in the store, checked ---------------------------------------------------------------------
def test_the_grounding_check_reads_the_retrieved_points(client: QdrantClient, db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["qdrant"])
    try:

        @tracer.trace_llm(model="m")
        def answer(question: str) -> str:
            found = client.query_points("kb", query=embed(question), limit=1).points
            assert [p.id for p in found] == [1]
            if "made" in question:
                return "The battery lasts 12 hours. It is made in Norway by Fjord Power in 2019."
            return "The battery lasts 12 hours and takes 3 hours to charge."

        answer("How many hours does the battery last?")
        answer("Where is the battery made? How many hours does it last?")
        assert tracer.flush()
    finally:
        spy_qdrant.uninstrument()
    store = tracer.Store(db_path)
    evaluations = store.evaluations("grounding")
    assert sorted(e["label"] for e in evaluations) == ["grounded", "hallucination"]
    for evaluation in evaluations:
        assert json.loads(evaluation["details"])["document_ids"] == ["1"]
        trace = store.get_trace(evaluation["trace_id"])
        assert trace is not None
        [doc] = trace["documents"]
        assert doc["content"] == DOCS[1] and json.loads(doc["metadata"]) == {"page": 1}
