"""What Spyglass adds travels as OTel data to any exporter next to ours: the documents (a
span attribute), the guardrail's decision (a span event) and the grounding verdict (a
``gen_ai.evaluation.result`` log-based event parented to the LLM span it is about)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs import export as log_export
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracer
from tracer import attributes as A

# Renamed in later SDKs; either is the SDK's own in-memory log exporter.
InMemoryLogs: Any = getattr(log_export, "InMemoryLogRecordExporter", None) or log_export.InMemoryLogExporter


@pytest.fixture
def exporters(db_path: Path) -> Iterator[tuple[InMemorySpanExporter, Any]]:
    spans, logs = InMemorySpanExporter(), InMemoryLogs()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))  # the app's other exporter
    log_provider = LoggerProvider()
    log_provider.add_log_record_processor(log_export.SimpleLogRecordProcessor(logs))
    tracer.configure(db=db_path, tracer_provider=provider, logger_provider=log_provider)
    yield spans, logs
    tracer.shutdown()


def _app(answer_text: str) -> str:
    @tracer.trace_retriever
    def search(question: str) -> list[dict[str, Any]]:
        return [{"id": "kb-1", "content": "The L2 lamp battery lasts 12 hours."}]

    @tracer.trace_llm(model="stand-in")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        return answer_text

    @tracer.trace_postprocess
    def guard(text: str) -> str:
        tracer.record_decision("length_guard", verdict="pass", reason="short enough")
        return text

    @tracer.trace_step
    def rag(question: str) -> str:
        return guard(answer(question, search(question)))

    return rag("How long does the battery last?")


@pytest.mark.parametrize(
    ("answer_text", "label"),
    [
        ("The battery lasts 12 hours.", "grounded"),
        ("It was designed in Norway by Fjord Power in 2019.", "hallucination"),
    ],
)
def test_documents_decisions_and_the_verdict_reach_an_exporter_next_to_ours(
    exporters: tuple[InMemorySpanExporter, Any], db_path: Path, answer_text: str, label: str
) -> None:
    spans, logs = exporters
    _app(answer_text)
    assert tracer.flush()
    by_type = {s.attributes.get(A.SPAN_TYPE): s for s in spans.get_finished_spans() if s.attributes}
    documents = json.loads(str(by_type["retriever"].attributes[A.GEN_AI_RETRIEVAL_DOCUMENTS]))  # type: ignore[index]
    assert documents[0]["id"] == "kb-1"
    # record_decision's span event: the conventions' evaluation event, marked as a decision.
    [decision] = [e for e in by_type["postprocess"].events if e.name == A.GEN_AI_EVALUATION_RESULT_EVENT]
    assert decision.attributes is not None and decision.attributes[A.DECISION_VERDICT] == "pass"
    [record] = [r.log_record for r in logs.get_finished_logs()]
    llm = by_type["llm"]
    assert llm.context is not None
    assert (record.trace_id, record.span_id) == (llm.context.trace_id, llm.context.span_id)
    event_name = getattr(record, "event_name", None) or (record.attributes or {}).get("event.name")
    assert event_name == "gen_ai.evaluation.result"
    attrs = dict(record.attributes or {})
    assert attrs[A.GEN_AI_EVALUATION_NAME] == "grounding" and attrs[A.GEN_AI_EVALUATION_SCORE_LABEL] == label
    # The same result as the store's row.
    [stored] = tracer.Store(db_path).evaluations("grounding")
    assert stored["label"] == label and stored["span_id"] == format(llm.context.span_id, "016x")
    assert attrs[A.GEN_AI_EVALUATION_SCORE_VALUE] == pytest.approx(stored["score"])
    assert attrs[A.GEN_AI_EVALUATION_EXPLANATION] == stored["explanation"]
    assert json.loads(str(attrs[A.EVALUATION_DETAILS]))["label"] == label


def test_without_a_logger_provider_nothing_is_emitted_and_nothing_breaks(db_path: Path) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer.configure(db=db_path, tracer_provider=provider)
    try:
        assert _app("The battery lasts 12 hours.") == "The battery lasts 12 hours."
        assert tracer.flush()
        assert [e["label"] for e in tracer.Store(db_path).evaluations("grounding")] == ["grounded"]
    finally:
        tracer.shutdown()
