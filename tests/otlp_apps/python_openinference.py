"""An app that knows nothing of Spyglass: the plain OpenTelemetry SDK, OpenInference's openai
instrumentation, and the SDK's OTLP/HTTP exporter sending to the endpoint given.

    python tests/otlp_apps/python_openinference.py ENDPOINT CASSETTE_DIR

The openai client answers from a recorded cassette. The retrieval is a span written by hand in
OpenInference's keys, as OpenInference's LangChain or LlamaIndex instrumentation writes it.
Exits 3 if anything imported Spyglass's packages.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openai
import vcr
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

DOCS = [("kb-test", "The test phrase is: This is a test.", 0.9), ("kb-other", "Bananas are rich in potassium.", 0.2)]


def _listify_headers(response: dict) -> dict:
    # Some cassettes store headers as scalars; vcrpy wants lists (../shared/TESTING.md).
    response["headers"] = {k: v if isinstance(v, list) else [v] for k, v in (response.get("headers") or {}).items()}
    return response


def main(endpoint: str, cassettes: Path) -> int:
    provider = TracerProvider(resource=Resource.create({"service.name": "py-oi-app", "service.version": "1.2.3"}))
    # Exports only at shutdown: vcrpy, active around the model call, would catch the exporter's
    # own requests too.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=60_000))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("py-oi-app")
    client = openai.OpenAI(api_key="test", max_retries=0)
    replay = vcr.VCR(
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query"],
        decode_compressed_response=True,
        before_record_response=_listify_headers,
    )
    with tracer.start_as_current_span("rag", attributes={"openinference.span.kind": "CHAIN"}) as root:
        root.set_attribute("input.value", "What is the test phrase?")
        with tracer.start_as_current_span("retrieve", attributes={"openinference.span.kind": "RETRIEVER"}) as span:
            span.set_attribute("input.value", "What is the test phrase?")
            for i, (doc_id, content, score) in enumerate(DOCS):
                span.set_attribute(f"retrieval.documents.{i}.document.id", doc_id)
                span.set_attribute(f"retrieval.documents.{i}.document.content", content)
                span.set_attribute(f"retrieval.documents.{i}.document.score", score)
        with replay.use_cassette(str(cassettes / "test_chat_completion_with_content.yaml")):
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "Context:\n" + "\n".join(d[1] for d in DOCS)},
                    {"role": "user", "content": "Say this is a test"},
                ],
            )
        root.set_attribute("output.value", reply.choices[0].message.content or "")
    provider.shutdown()  # flushes through the exporter
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("tracer", "integrations", "viewer"))
    if leaked:
        print(f"imported Spyglass: {leaked}", file=sys.stderr)
        return 3
    print(reply.choices[0].message.content)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
