// A small Node.js "RAG app" traced with the OpenTelemetry JS SDK and exported over OTLP/HTTP,
// as a real app in another language would send to `spyglass collect` (tests/test_otlp_node.py).
//
//   node app.js [ENDPOINT] [--protocol http/json|http/protobuf]
//
// ENDPOINT is the full traces URL (http://127.0.0.1:PORT/v1/traces); without it the standard
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used. The protocol defaults to http/json, the
// exporter-trace-otlp-http package's encoding; http/protobuf uses exporter-trace-otlp-proto.
// On success it prints one JSON line {"trace_id", "protocol", "exported"} and exits 0; an export
// that failed makes it exit 1 with the exporter's error on stderr.
"use strict";

const { trace, diag, DiagConsoleLogger, DiagLogLevel, SpanKind, SpanStatusCode } = require("@opentelemetry/api");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { NodeTracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace-node");
const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = require("@opentelemetry/semantic-conventions");

const SERVICE_NAME = "node-rag-app";
const SERVICE_VERSION = "1.4.2";
const MODEL = "gpt-4o-mini";
const QUESTION = "How long does the Acme X2 battery last?";
const DOCUMENTS = [
  { id: "doc-battery", content: "The Acme X2 battery lasts 12 hours on a single charge.", score: 0.92 },
  { id: "doc-warranty", content: "The Acme X2 comes with a two-year warranty.", score: 0.41 },
];
const ANSWER = "The Acme X2 battery lasts 12 hours.";

function parseArgs(argv) {
  let endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  let protocol = "http/json";
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--protocol") protocol = argv[++i];
    else endpoint = argv[i];
  }
  if (!endpoint) throw new Error("give the traces URL as an argument or in OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (protocol !== "http/json" && protocol !== "http/protobuf") throw new Error(`unknown protocol ${protocol}`);
  return { endpoint, protocol };
}

function newExporter(endpoint, protocol) {
  const pkg = protocol === "http/protobuf" ? "@opentelemetry/exporter-trace-otlp-proto" : "@opentelemetry/exporter-trace-otlp-http";
  const { OTLPTraceExporter } = require(pkg);
  return new OTLPTraceExporter({ url: endpoint });
}

// BatchSpanProcessor hands export failures to the global error handler, which only logs them:
// wrap the exporter to count what was sent and what failed, so the exit code tells.
class CheckedExporter {
  constructor(inner) {
    this.inner = inner;
    this.exported = 0;
    this.failures = [];
  }
  export(spans, done) {
    this.inner.export(spans, (result) => {
      // ExportResultCode.SUCCESS is 0 (@opentelemetry/core, not a direct dependency here).
      if (result.code === 0) this.exported += spans.length;
      else this.failures.push(String(result.error || "export failed"));
      done(result);
    });
  }
  forceFlush() {
    return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve();
  }
  shutdown() {
    return this.inner.shutdown();
  }
}

// GenAI semantic conventions: messages are JSON text of [{role, parts: [{type, content}]}].
function textMessage(role, content, extra = {}) {
  return { role, parts: [{ type: "text", content }], ...extra };
}

function retrieve(tracer, question) {
  return tracer.startActiveSpan("retrieve", { kind: SpanKind.INTERNAL }, (span) => {
    span.setAttribute("openinference.span.kind", "RETRIEVER");
    span.setAttribute("input.value", question);
    DOCUMENTS.forEach((doc, i) => {
      span.setAttribute(`retrieval.documents.${i}.document.id`, doc.id);
      span.setAttribute(`retrieval.documents.${i}.document.content`, doc.content);
      span.setAttribute(`retrieval.documents.${i}.document.score`, doc.score);
    });
    span.end();
    return DOCUMENTS;
  });
}

function rerank(tracer) {
  return tracer.startActiveSpan("rerank", (span) => {
    try {
      throw new Error("reranker timed out after 2000 ms");
    } catch (err) {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      return null; // the app carries on with the retriever's order
    } finally {
      span.end();
    }
  });
}

function chat(tracer, question, docs) {
  return tracer.startActiveSpan(`chat ${MODEL}`, { kind: SpanKind.CLIENT }, (span) => {
    const input = [
      textMessage("system", `Answer from these documents:\n${docs.map((d) => d.content).join("\n")}`),
      textMessage("user", question),
    ];
    span.setAttributes({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": MODEL,
      "gen_ai.request.temperature": 0.2,
      "gen_ai.input.messages": JSON.stringify(input),
    });
    span.addEvent("gen_ai.choice.received", { "gen_ai.response.finish_reasons": ["stop"] });
    span.setAttributes({
      "gen_ai.response.model": MODEL,
      "gen_ai.response.id": "chatcmpl-node-1",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.output.messages": JSON.stringify([textMessage("assistant", ANSWER, { finish_reason: "stop" })]),
      "gen_ai.usage.input_tokens": 57,
      "gen_ai.usage.output_tokens": 9,
    });
    span.end();
    return ANSWER;
  });
}

async function main() {
  const { endpoint, protocol } = parseArgs(process.argv.slice(2));
  diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  const exporter = new CheckedExporter(newExporter(endpoint, protocol));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: SERVICE_NAME, [ATTR_SERVICE_VERSION]: SERVICE_VERSION }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register(); // the async-hooks context manager: children find their parent
  const tracer = trace.getTracer("node-rag-app", SERVICE_VERSION);

  const traceId = tracer.startActiveSpan("answer", { kind: SpanKind.SERVER }, (root) => {
    root.setAttribute("input.value", QUESTION);
    const docs = retrieve(tracer, QUESTION);
    rerank(tracer);
    const answer = chat(tracer, QUESTION, docs);
    root.addEvent("answer.ready", { "answer.chars": answer.length });
    root.setAttribute("output.value", answer);
    root.end();
    return root.spanContext().traceId;
  });

  try {
    await provider.forceFlush(); // rejects with the export's errors when it failed
  } finally {
    await provider.shutdown();
  }
  if (exporter.failures.length || exporter.exported === 0) {
    console.error(`export failed: ${exporter.failures.join("; ") || "nothing exported"}`);
    process.exitCode = 1;
    return;
  }
  console.log(JSON.stringify({ trace_id: traceId, protocol, exported: exporter.exported }));
}

main().catch((err) => {
  console.error("node-rag-app: export failed:", err);
  process.exitCode = 1;
});
