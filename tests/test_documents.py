"""What retrievers and post-processors record: documents normalised from whatever a
retriever returns, and guardrail decisions. The last tests read them back from the store."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import tracer
from tracer import attributes as A
from tracer._call import MAX_FLAT_DOCUMENTS
from tracer._documents import context_arguments, normalize_documents
from tracer._evidence import unique


# Stand-ins for the libraries' classes: same attributes, none of the dependencies.
class LCDocument:
    """langchain_core.documents.Document"""

    def __init__(self, page_content: str, metadata: dict[str, Any] | None = None, id: str | None = None) -> None:
        self.page_content = page_content
        self.metadata = metadata or {}
        self.id = id


class TextNode:
    """llama_index.core.schema.TextNode"""

    def __init__(self, text: str, node_id: str, metadata: dict[str, Any] | None = None) -> None:
        self.text = text
        self.node_id = node_id
        self.metadata = metadata or {}

    def get_content(self) -> str:
        return self.text


class NodeWithScore:
    """llama_index.core.schema.NodeWithScore"""

    def __init__(self, node: TextNode, score: float | None) -> None:
        self.node = node
        self.score = score


def doc(id: str, content: str, score: float | None = None, **metadata: Any) -> dict[str, Any]:
    return {"id": id, "content": content, "score": score, "metadata": metadata}


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result, expected",
    [
        (["alpha", "beta"], [doc("0", "alpha"), doc("1", "beta")]),
        ("just one", [doc("0", "just one")]),
        ([{"id": "a", "content": "x", "score": 0.5}], [doc("a", "x", 0.5)]),
        ([{"doc_id": 7, "text": "x", "similarity": "0.25", "source": "wiki"}], [doc("7", "x", 0.25, source="wiki")]),
        ([{"page_content": "x", "metadata": {"page": 2}, "distance": 1}], [doc("0", "x", 1.0, page=2)]),
        ([{"_id": "e1", "body": "x", "_score": 3, "meta": {"index": "kb"}}], [doc("e1", "x", 3.0, index="kb")]),
        ([("first", 0.9), ({"id": "b", "content": "second"}, 0.8)], [doc("0", "first", 0.9), doc("b", "second", 0.8)]),
        ([(LCDocument("lc text", {"source": "a.md"}, id="lc1"), 0.7)], [doc("lc1", "lc text", 0.7, source="a.md")]),
        (
            [LCDocument("lc text", {"id": "m1", "score": 0.3})],
            [{"id": "m1", "content": "lc text", "score": 0.3, "metadata": {"id": "m1", "score": 0.3}}],
        ),
        (LCDocument("single"), [doc("0", "single")]),
        (
            [NodeWithScore(TextNode("node text", "n1", {"file": "b.pdf"}), 0.66)],
            [doc("n1", "node text", 0.66, file="b.pdf")],
        ),
        ([NodeWithScore(TextNode("no score", "n2"), None)], [doc("n2", "no score")]),
        ([TextNode("bare node", "n3")], [doc("n3", "bare node")]),
        ({"documents": ["in a wrapper"]}, [doc("0", "in a wrapper")]),
        ({"source_nodes": [NodeWithScore(TextNode("t", "n4"), 1.0)]}, [doc("n4", "t", 1.0)]),
        ({"results": {"nodes": ["two levels"]}}, [doc("0", "two levels")]),
        ([{"document": {"id": "inner", "content": "nested"}, "score": 0.1}], [doc("inner", "nested", 0.1)]),
        (None, []),
        ([], []),
        ([("nan score", float("nan")), ("huge score", 10**400)], [doc("0", "nan score"), doc("1", "huge score")]),
        ([42], [doc("0", "42")]),
    ],
)
def test_normalize(result: Any, expected: list[dict[str, Any]]) -> None:
    assert normalize_documents(result) == expected


def test_normalize_never_raises_on_hostile_input() -> None:
    class Hostile:
        @property
        def node(self) -> Any:
            raise RuntimeError("property raises")

    class BadIterable:
        def __iter__(self) -> Any:
            raise RuntimeError("cannot iterate")

    self_doc: dict[str, Any] = {}
    self_doc["content"] = self_doc
    self_list: dict[str, Any] = {}
    self_list["documents"] = self_list
    assert normalize_documents([Hostile(), "fine"])[1] == doc("1", "fine")
    assert normalize_documents([Hostile()])[0]["content"] == "<unreadable Hostile: RuntimeError>"
    assert normalize_documents(BadIterable())[0]["content"].startswith("<unreadable BadIterable")
    assert len(normalize_documents([self_doc])) == 1
    assert len(normalize_documents(self_list)) == 1


def test_normalize_does_not_consume_iterators() -> None:
    gen = (f"doc {i}" for i in range(3))
    assert normalize_documents(gen) == []
    assert list(gen) == ["doc 0", "doc 1", "doc 2"]


def test_normalize_limit() -> None:
    assert [d["id"] for d in normalize_documents(range(10), limit=3)] == ["0", "1", "2"]


# --- on the span ---------------------------------------------------------------------------------


def test_retriever_records_documents_in_both_conventions(spans) -> None:
    @tracer.trace_retriever(data_source="kb")
    def search(query: str) -> list[Any]:
        return [
            LCDocument("Paris is the capital", {"source": "geo.md"}, id="d1"),
            NodeWithScore(TextNode("Lyon is a city", "d2"), 0.4),
        ]

    search("capital of France")
    a = dict(spans.one("retrieval kb").attributes)
    assert a[A.GEN_AI_OPERATION_NAME] == A.OP_RETRIEVAL
    assert a[A.GEN_AI_DATA_SOURCE_ID] == "kb"
    assert a[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "capital of France"
    assert a[A.DOCUMENTS_COUNT] == 2
    documents = json.loads(a[A.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert documents == [doc("d1", "Paris is the capital", None, source="geo.md"), doc("d2", "Lyon is a city", 0.4)]
    assert json.loads(a[A.OI_OUTPUT_VALUE]) == documents
    assert a["retrieval.documents.0.document.id"] == "d1"
    assert a["retrieval.documents.0.document.content"] == "Paris is the capital"
    assert "retrieval.documents.0.document.score" not in a
    assert a["retrieval.documents.1.document.id"] == "d2"
    assert a["retrieval.documents.1.document.score"] == 0.4


def test_many_documents_do_not_push_out_other_attributes(spans) -> None:
    """The SDK keeps 128 attributes and evicts the oldest: flattening 200 documents would
    silently drop the span type, kind and input."""

    @tracer.trace_retriever
    def search(query: str) -> list[str]:
        return [f"document {i}" for i in range(200)]

    search("q")
    span = spans.one("search")
    a = dict(span.attributes)
    assert span.dropped_attributes == 0
    assert a[A.SPAN_TYPE] == "retriever" and a[A.OI_SPAN_KIND] == "RETRIEVER"
    assert a[A.OI_INPUT_VALUE] == "q"
    assert a[A.DOCUMENTS_COUNT] == 200
    assert len(json.loads(a[A.GEN_AI_RETRIEVAL_DOCUMENTS])) == 200
    assert f"retrieval.documents.{MAX_FLAT_DOCUMENTS - 1}.document.id" in a
    assert f"retrieval.documents.{MAX_FLAT_DOCUMENTS}.document.id" not in a


def test_retriever_returning_a_generator_leaves_it_to_the_caller(spans) -> None:
    @tracer.trace_retriever
    def search(query: str) -> Any:
        return (f"doc {i}" for i in range(3))

    assert list(search("q")) == ["doc 0", "doc 1", "doc 2"]
    assert "generator" in spans.one("search").attributes[A.OI_OUTPUT_VALUE]


def test_streaming_retriever_records_what_it_yielded(spans) -> None:
    @tracer.trace_retriever
    def search(query: str):
        yield {"id": "a", "content": "first"}
        yield {"id": "b", "content": "second"}

    assert len(list(search("q"))) == 2
    a = spans.one("search").attributes
    assert [d["id"] for d in json.loads(a[A.GEN_AI_RETRIEVAL_DOCUMENTS])] == ["a", "b"]


def test_big_documents_stay_valid_json(spans, use_settings) -> None:
    use_settings(max_value_chars=2_000)

    @tracer.trace_retriever
    def search(query: str) -> list[dict[str, str]]:
        return [{"id": f"d{i}", "content": "long text " * 500} for i in range(10)]

    search("q")
    a = spans.one("search").attributes
    documents = json.loads(a[A.GEN_AI_RETRIEVAL_DOCUMENTS])  # the store parses this attribute
    assert [d["id"] for d in documents] == [f"d{i}" for i in range(10)]
    assert all("…[spyglass: truncated" in d["content"] for d in documents)
    assert A.GEN_AI_RETRIEVAL_DOCUMENTS in a[A.TRUNCATED]


# --- decisions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["pass", "flag", "modify", "block"])
def test_decision_is_an_event_on_the_current_span(spans, verdict: str) -> None:
    @tracer.trace_postprocess
    def guard(text: str) -> str:
        tracer.record_decision(
            "toxicity", verdict, action="rewrite", reason="policy 4", score=0.25, before=text, after="clean"
        )
        return "clean"

    guard("dirty")
    span = spans.one("guard")
    assert span.attributes[A.SPAN_TYPE] == "postprocess"
    assert span.attributes[A.OI_SPAN_KIND] == "GUARDRAIL"
    [event] = span.events
    assert event.name == A.GEN_AI_EVALUATION_RESULT_EVENT
    assert dict(event.attributes) == {
        A.GEN_AI_EVALUATION_NAME: "toxicity",
        A.GEN_AI_EVALUATION_SCORE_LABEL: verdict,
        A.DECISION_VERDICT: verdict,
        A.DECISION_ACTION: "rewrite",
        A.GEN_AI_EVALUATION_EXPLANATION: "policy 4",
        A.GEN_AI_EVALUATION_SCORE_VALUE: 0.25,
        A.DECISION_BEFORE: "dirty",
        A.DECISION_AFTER: "clean",
    }


def test_decision_outside_any_span_gets_its_own(spans) -> None:
    tracer.record_decision("length", "flag", reason="too long")
    span = spans.one("decision length")
    assert span.attributes[A.SPAN_TYPE] == "postprocess"
    assert [e.attributes[A.DECISION_VERDICT] for e in span.events] == ["flag"]


def test_unknown_verdict_warns_and_does_not_raise(spans, caplog) -> None:
    with tracer.span("step"), caplog.at_level(logging.WARNING, logger="spyglass"):
        tracer.record_decision("custom", "Escalate-Unknown")
    assert "unknown decision verdict" in caplog.text
    [event] = spans.one("step").events
    assert event.attributes[A.DECISION_VERDICT] == "escalate-unknown"


def test_decision_score_that_is_not_finite_is_left_out(spans) -> None:
    with tracer.span("step"):
        tracer.record_decision("g", "pass", score=float("nan"))
    [event] = spans.one("step").events
    assert A.GEN_AI_EVALUATION_SCORE_VALUE not in event.attributes and A.DECISION_SCORE not in event.attributes


# --- through the store -----------------------------------------------------------------------------


def test_documents_and_decisions_land_in_the_store(configured, store) -> None:
    @tracer.trace_retriever
    def search(query: str) -> list[Any]:
        return [("Paris is the capital of France", 0.9), LCDocument("Lyon", {"region": "ARA"}, id="lyon")]

    @tracer.trace_postprocess
    def guard(answer: str) -> str:
        tracer.record_decision("grounding", "flag", reason="unsupported claim", score=0.2)
        tracer.record_decision("pii", "modify", before=answer, after="[name]")
        return "[name]"

    @tracer.trace_step
    def pipeline(query: str) -> str:
        search(query)
        return guard("Alice")

    pipeline("capital?")
    tracer.record_decision("orphan", "block")  # outside any span: a trace of its own
    assert tracer.flush()

    traces = {t["root_name"]: t for t in store.list_traces()}
    assert set(traces) == {"pipeline", "decision orphan"}
    assert traces["decision orphan"]["blocked_count"] == 1
    assert traces["pipeline"]["flagged_count"] == 1
    full = store.get_trace(traces["pipeline"]["trace_id"])
    assert [(d["document_id"], d["content"], d["score"]) for d in full["documents"]] == [
        ("0", "Paris is the capital of France", 0.9),
        ("lyon", "Lyon", None),
    ]
    assert json.loads(full["documents"][1]["metadata"]) == {"region": "ARA"}
    decisions = [
        (d["name"], d["verdict"], d["reason"], d["score"], d["before_text"], d["after_text"]) for d in full["decisions"]
    ]
    assert decisions == [
        ("grounding", "flag", "unsupported claim", 0.2, None, None),
        ("pii", "modify", None, None, "Alice", "[name]"),
    ]
    guard_span = next(s for s in full["spans"] if s["name"] == "guard")
    assert {d["span_id"] for d in full["decisions"]} == {guard_span["span_id"]}
    assert guard_span["status_code"] != StatusCode.ERROR.name


def test_failed_stream_of_a_retriever_still_stores_its_documents(configured, store) -> None:
    @tracer.trace_retriever
    def search(query: str):
        yield "found before the failure"
        raise TimeoutError("vector store timed out")

    with pytest.raises(TimeoutError):
        list(search("q"))
    assert tracer.flush()
    [summary] = store.list_traces()
    assert summary["status_code"] == "ERROR"
    full = store.get_trace(summary["trace_id"])
    assert [d["content"] for d in full["documents"]] == ["found before the failure"]
    assert full["spans"][0]["error_type"] == "TimeoutError"


@dataclasses.dataclass
class _Chunk:
    text: str


_PASSAGE_A = "電池は十二時間持ちます。充電はUSB-Cです。"
_PASSAGE_B = "返品は三十日以内です。領収書が必要です。"


@pytest.mark.parametrize(
    ("arguments", "context"),
    [
        ({"question": "q?", "context": "The battery lasts 12 hours.\n\nReturns in 30 days."}, ("context",)),
        ({"q": "x", "refs": [_PASSAGE_A, _PASSAGE_B]}, ("refs",)),  # passages without spaces (CJK)
        ({"q": "x", "docs": ["Refunds: 30 days", "Ships: 2 days"]}, ("docs",)),  # short lines, named as context
        ({"q": "x", "chunk_list": [_Chunk("The battery lasts 12 hours on a charge.")]}, ("chunk_list",)),
        ({"q": "x", "context": {"documents": [{"content": "The battery lasts 12 hours."}]}}, ("context",)),
        ({"q": "x", "items": [{"id": "kb-1", "type": "faq", "content": "Returns within 30 days."}]}, ("items",)),
        ({"q": "x", "turns": ["What is the return policy for lamps?", "And for headsets, please?"]}, ()),
        ({"q": "x", "previous_questions": ["What is the return policy for lamps?"]}, ()),
        ({"q": "x", "content": [{"type": "input_text", "text": "Describe this picture in detail, please."}]}, ()),
        ({"q": "x", "scores": [("positive sentiment", 0.9), ("negative", 0.1)]}, ()),
        ({"q": "x", "stop": ["\n\n", "END"]}, ()),
        ({"messages": [{"role": "user", "content": "Hello there, how long does the battery last?"}]}, ()),
    ],
)
def test_which_arguments_of_an_llm_function_are_its_context(arguments: dict, context: tuple) -> None:
    assert context_arguments(arguments, None) == context


def test_named_context_arguments_are_taken_as_given() -> None:
    assert context_arguments({"q": "x", "style": "terse"}, ("style", "missing")) == ("style",)


def test_evidence_tells_documents_apart_by_text_then_by_id() -> None:
    """The same text under another id (a framework's ranks around a store's ids) is one
    document, the first kept; without text (content capture off) the id tells them apart;
    tool results keep their ids, so two tools answering the same are two results."""
    docs = [
        {"id": "kb-1", "content": "The battery lasts 12 hours."},
        {"id": "0", "content": "The battery lasts 12 hours."},
        {"id": "a", "content": None},
        {"id": "b", "content": None},
        {"id": "a", "content": None},
        {"id": "tool:search", "content": "ok"},
        {"id": "tool:lookup", "content": "ok"},
        {"id": "tool:search", "content": "not ok"},
    ]
    assert [d["id"] for d in unique(docs)] == ["kb-1", "a", "b", "tool:search", "tool:lookup", "tool:search#2"]
