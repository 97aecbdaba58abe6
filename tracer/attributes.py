"""Every attribute name Spyglass writes, in one place.

Three layers, in order of preference:

1. OpenTelemetry GenAI semantic conventions (``gen_ai.*``), as released in their own
   repository, open-telemetry/semantic-conventions-genai v0.1.0 (the first release after
   they left semantic-conventions with v1.41), and the general registry (``error.type``,
   ``session.id``...). The Python semconv package marks its ``gen_ai`` constants deprecated
   (they moved), so we pin the strings here instead of importing them.
2. A small OpenInference overlay (``openinference.span.kind``, ``input.value``...) so that
   Phoenix and other OpenInference readers understand our spans too.
3. ``spyglass.*`` for what neither covers (decisions, trace-level tags, truncation markers).

No other module spells an attribute name as a string literal.
"""

from __future__ import annotations

from typing import Final

# --- OpenTelemetry GenAI semantic conventions (semantic-conventions-genai v0.1.0) -------
# Checked against github.com/open-telemetry/semantic-conventions-genai: CHANGELOG.md on main
# (v0.1.0 the latest release; "Retrieval spans now use the new gen_ai.retrieval.top_k"), the
# span tables of docs/gen-ai/gen-ai-spans.md at 9430220 (inference, retrieval, execute_tool; the
# well-known values below; v0.1.0 splits them into client-inference.md, retrieval.md,
# execute-tool.md) and model/gen-ai/gen-ai-input-messages.json at 7568a24 (role + parts).
# docs/conventions.md, "What Spyglass emits", lists what each decorator writes.
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"
GEN_AI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"  # on retrieval spans, not gen_ai.request.top_k
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
GEN_AI_EVALUATION_RESULT_EVENT: Final = "gen_ai.evaluation.result"

# Well-known values of gen_ai.operation.name.
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_GENERATE_CONTENT: Final = "generate_content"
OP_EMBEDDINGS: Final = "embeddings"
OP_RETRIEVAL: Final = "retrieval"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"

# Well-known values of gen_ai.provider.name: those the openai client can talk to, and those a
# model's name gives away (tracer/_decorators.py, provider_for_model).
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_GROQ: Final = "groq"
PROVIDER_DEEPSEEK: Final = "deepseek"
PROVIDER_XAI: Final = "x_ai"
PROVIDER_PERPLEXITY: Final = "perplexity"
PROVIDER_MISTRAL: Final = "mistral_ai"
PROVIDER_GEMINI: Final = "gcp.gemini"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_COHERE: Final = "cohere"

# gen_ai.tool.type of a tool the application's own code runs (the conventions' examples also
# name "extension" and "datastore").
TOOL_TYPE_FUNCTION: Final = "function"

# Well-known values of gen_ai.output.type.
OUTPUT_TYPE_TEXT: Final = "text"
OUTPUT_TYPE_JSON: Final = "json"

# --- OpenAI-specific registry attributes (GenAI conventions v1.41.1, "openai.*") ---------
OPENAI_API_TYPE: Final = "openai.api.type"  # chat_completions | responses
OPENAI_API_TYPE_CHAT_COMPLETIONS: Final = "chat_completions"
OPENAI_API_TYPE_RESPONSES: Final = "responses"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"

# --- General OpenTelemetry registry ---------------------------------------------------
ERROR_TYPE: Final = "error.type"
SESSION_ID: Final = "session.id"
USER_ID: Final = "user.id"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVICE_NAME: Final = "service.name"
CODE_FUNCTION: Final = "code.function.name"
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# --- GenAI client metrics (semantic-conventions-genai, docs/gen-ai/gen-ai-metrics.md) ---------
# Instrument names, and the one attribute that only metrics carry (tracer/_metrics.py).
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"

# --- OpenInference overlay -------------------------------------------------------------
OI_SPAN_KIND: Final = "openinference.span.kind"
OI_INPUT_VALUE: Final = "input.value"
OI_INPUT_MIME_TYPE: Final = "input.mime_type"
OI_OUTPUT_VALUE: Final = "output.value"
OI_OUTPUT_MIME_TYPE: Final = "output.mime_type"
OI_LLM_MODEL_NAME: Final = "llm.model_name"
OI_LLM_TOKEN_COUNT_PROMPT: Final = "llm.token_count.prompt"
OI_LLM_TOKEN_COUNT_COMPLETION: Final = "llm.token_count.completion"
OI_LLM_TOKEN_COUNT_TOTAL: Final = "llm.token_count.total"
OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ: Final = "llm.token_count.prompt_details.cache_read"
OI_LLM_TOKEN_COUNT_COMPLETION_REASONING: Final = "llm.token_count.completion_details.reasoning"
OI_LLM_PROVIDER: Final = "llm.provider"
OI_LLM_SYSTEM: Final = "llm.system"
OI_LLM_INVOCATION_PARAMETERS: Final = "llm.invocation_parameters"
OI_EMBEDDING_MODEL_NAME: Final = "embedding.model_name"
OI_EMBEDDING_INVOCATION_PARAMETERS: Final = "embedding.invocation_parameters"
OI_EMBEDDING_EMBEDDINGS: Final = "embedding.embeddings"  # prefix: embedding.embeddings.{i}.embedding.text
OI_EMBEDDING_TEXT: Final = "embedding.text"
OI_RETRIEVAL_DOCUMENTS: Final = "retrieval.documents"  # prefix: retrieval.documents.{i}.document.*
OI_SESSION_ID: Final = SESSION_ID
OI_USER_ID: Final = USER_ID
OI_METADATA: Final = "metadata"
OI_TAGS: Final = "tag.tags"
MIME_JSON: Final = "application/json"
MIME_TEXT: Final = "text/plain"


def oi_document(index: int, field: str) -> str:
    """OpenInference flattens documents: ``retrieval.documents.{i}.document.{field}``."""
    return f"{OI_RETRIEVAL_DOCUMENTS}.{index}.document.{field}"


def oi_embedding_text(index: int) -> str:
    """OpenInference flattens embedded texts: ``embedding.embeddings.{i}.embedding.text``."""
    return f"{OI_EMBEDDING_EMBEDDINGS}.{index}.{OI_EMBEDDING_TEXT}"


# OpenInference span kinds, keyed by our own span kinds below.
OI_KIND_LLM: Final = "LLM"
OI_KIND_RETRIEVER: Final = "RETRIEVER"
OI_KIND_CHAIN: Final = "CHAIN"
OI_KIND_TOOL: Final = "TOOL"
OI_KIND_GUARDRAIL: Final = "GUARDRAIL"
OI_KIND_EMBEDDING: Final = "EMBEDDING"
OI_KIND_EVALUATOR: Final = "EVALUATOR"

# --- Spyglass ----------------------------------------------------------------------------
SPAN_TYPE: Final = "spyglass.span.type"  # llm | retriever | postprocess | step | tool | embedding
PROMPT_VERSION: Final = "spyglass.prompt.version"
PROMPT_TEMPLATE: Final = "spyglass.prompt.template"
PROMPT_VARIABLES: Final = "spyglass.prompt.variables"
TAGS: Final = "spyglass.tags"
METADATA: Final = "spyglass.metadata"
COST_USD: Final = "spyglass.cost.usd"
TRUNCATED: Final = "spyglass.truncated"  # names of attributes whose value was cut
# Names of attributes whose value could not be stored as given (an int too big for JSON, a
# lone surrogate...) and was replaced by a readable stand-in at export.
REPLACED: Final = "spyglass.replaced"
DOCUMENTS_COUNT: Final = "spyglass.documents.count"
# One logical LLM call counted once (see tracer/_nesting.py): on an LLM span nested in another,
# the span id of the nearest enclosing LLM span; on that one, how many are nested directly in
# it, and whether one of them reported usage (then its own usage is not added again).
LLM_PARENT_SPAN_ID: Final = "spyglass.llm.parent_span_id"
LLM_INNER_CALLS: Final = "spyglass.llm.inner_calls"
LLM_INNER_USAGE: Final = "spyglass.llm.inner_usage"  # True: a call nested in it reported usage
# The arguments of a @trace_llm function that hold documents (found, or named by ``context=``),
# comma-separated (argument names never hold a comma):
# the context of its answer. Their content is in input.value already; export reads it from
# there, so the traced call never serialises the documents twice. CONTEXT_WHOLE_INPUT: the
# function's lone argument, captured as the input itself.
CONTEXT_ARGUMENTS: Final = "spyglass.context.arguments"
CONTEXT_WHOLE_INPUT: Final = "*"
# record_decision writes a gen_ai.evaluation.result event (GEN_AI_EVALUATION_RESULT_EVENT) with
# the conventions' gen_ai.evaluation.* attributes plus DECISION_VERDICT, which marks it as a
# decision; DECISION_ACTION/BEFORE/AFTER ride along. DECISION_EVENT and DECISION_NAME/REASON/
# SCORE are the shape written before (old spool files and apps): the store reads both.
DECISION_EVENT: Final = "spyglass.decision"
DECISION_NAME: Final = "spyglass.decision.name"
DECISION_VERDICT: Final = "spyglass.decision.verdict"
DECISION_ACTION: Final = "spyglass.decision.action"
DECISION_REASON: Final = "spyglass.decision.reason"
DECISION_SCORE: Final = "spyglass.decision.score"
DECISION_BEFORE: Final = "spyglass.decision.before"
DECISION_AFTER: Final = "spyglass.decision.after"
EVALUATION_SPAN_ID: Final = "spyglass.evaluation.span_id"  # the span an evaluation is about
EVALUATION_DETAILS: Final = "spyglass.evaluation.details"  # JSON: per-sentence grounding results
STREAM_ITEMS: Final = "spyglass.stream.items"  # how many items a traced generator yielded
REQUEST_REASONING_EFFORT: Final = "spyglass.request.reasoning_effort"  # no GenAI name yet
USAGE_UNKNOWN: Final = "spyglass.usage.unknown"  # True when a stream ended without a usage report
COST_MISSING_PRICE: Final = "spyglass.cost.missing_price"  # model with no entry in the price table
STREAM_END: Final = "spyglass.stream.end"  # completed | closed | error | abandoned
STREAM_END_COMPLETED: Final = "completed"
STREAM_END_CLOSED: Final = "closed"
STREAM_END_ERROR: Final = "error"
STREAM_END_ABANDONED: Final = "abandoned"  # garbage-collected before exhaustion or close()

SPAN_TYPE_LLM: Final = "llm"
SPAN_TYPE_RETRIEVER: Final = "retriever"
SPAN_TYPE_POSTPROCESS: Final = "postprocess"
SPAN_TYPE_STEP: Final = "step"
SPAN_TYPE_TOOL: Final = "tool"
SPAN_TYPE_EMBEDDING: Final = "embedding"
SPAN_TYPE_EVALUATION: Final = "evaluation"

OI_KIND_BY_SPAN_TYPE: Final = {
    SPAN_TYPE_LLM: OI_KIND_LLM,
    SPAN_TYPE_RETRIEVER: OI_KIND_RETRIEVER,
    SPAN_TYPE_POSTPROCESS: OI_KIND_GUARDRAIL,
    SPAN_TYPE_STEP: OI_KIND_CHAIN,
    SPAN_TYPE_TOOL: OI_KIND_TOOL,
    SPAN_TYPE_EMBEDDING: OI_KIND_EMBEDDING,
    SPAN_TYPE_EVALUATION: OI_KIND_EVALUATOR,
}

VERDICTS: Final = ("pass", "flag", "modify", "block")


# --- Read from other instrumentations (tracer/conventions/) ------------------------------
# Keys other instrumentations write, which Spyglass reads and maps to the keys above
# (docs/conventions.md). Spyglass never writes them.

# OpenInference (openinference-semantic-conventions 0.1.x), besides the overlay above.
OI_LLM_REQUEST_MODEL_NAME: Final = "llm.request.model_name"
OI_LLM_RESPONSE_MODEL_NAME: Final = "llm.response.model_name"
OI_LLM_INPUT_MESSAGES: Final = "llm.input_messages"  # prefix: llm.input_messages.{i}.message.*
OI_LLM_OUTPUT_MESSAGES: Final = "llm.output_messages"  # prefix: llm.output_messages.{i}.message.*
OI_LLM_PROMPTS: Final = "llm.prompts"  # prefix: llm.prompts.{i}.prompt.text (completions API)
OI_LLM_CHOICES: Final = "llm.choices"  # prefix: llm.choices.{i}.completion.text
OI_LLM_TOOLS: Final = "llm.tools"  # prefix: llm.tools.{i}.tool.json_schema
OI_LLM_FINISH_REASON: Final = "llm.finish_reason"
OI_LLM_PROMPT_TEMPLATE: Final = "llm.prompt_template.template"
OI_LLM_PROMPT_TEMPLATE_VARIABLES: Final = "llm.prompt_template.variables"
OI_LLM_PROMPT_TEMPLATE_VERSION: Final = "llm.prompt_template.version"
OI_TOOL_NAME: Final = "tool.name"
OI_TOOL_ID: Final = "tool.id"
# Keys inside one flattened message, tool call, content part, tool or document.
OI_MESSAGE_ROLE: Final = "message.role"
OI_MESSAGE_CONTENT: Final = "message.content"
OI_MESSAGE_CONTENTS: Final = "message.contents"  # prefix: message.contents.{j}.message_content.*
OI_MESSAGE_NAME: Final = "message.name"
OI_MESSAGE_TOOL_CALLS: Final = "message.tool_calls"  # prefix: message.tool_calls.{j}.tool_call.*
OI_MESSAGE_TOOL_CALL_ID: Final = "message.tool_call_id"
OI_MESSAGE_FUNCTION_CALL_NAME: Final = "message.function_call_name"
OI_MESSAGE_FUNCTION_CALL_ARGUMENTS: Final = "message.function_call_arguments_json"
OI_CONTENT_TYPE: Final = "message_content.type"
OI_CONTENT_TEXT: Final = "message_content.text"
OI_CONTENT_IMAGE_URL: Final = "message_content.image.image.url"
OI_TOOL_CALL_ID: Final = "tool_call.id"
OI_TOOL_CALL_NAME: Final = "tool_call.function.name"
OI_TOOL_CALL_ARGUMENTS: Final = "tool_call.function.arguments"
OI_TOOL_JSON_SCHEMA: Final = "tool.json_schema"
OI_PROMPT_TEXT: Final = "prompt.text"
OI_COMPLETION_TEXT: Final = "completion.text"
OI_DOCUMENT_ID: Final = "document.id"
OI_DOCUMENT_CONTENT: Final = "document.content"
OI_DOCUMENT_SCORE: Final = "document.score"
OI_DOCUMENT_METADATA: Final = "document.metadata"
OI_KIND_AGENT: Final = "AGENT"
OI_KIND_RERANKER: Final = "RERANKER"
OI_KIND_PROMPT: Final = "PROMPT"

# OpenLLMetry / traceloop (opentelemetry-semantic-conventions-ai). Older releases of
# opentelemetry-instrumentation-openai (0.52.1) flatten messages; 0.62.4 writes gen_ai.*.messages.
TL_PROMPTS: Final = "gen_ai.prompt"  # prefix: gen_ai.prompt.{i}.{role,content,tool_calls.{j}.*}
TL_COMPLETIONS: Final = "gen_ai.completion"  # prefix: gen_ai.completion.{i}.{role,content,finish_reason}
TL_ROLE: Final = "role"
TL_CONTENT: Final = "content"
TL_FINISH_REASON: Final = "finish_reason"
TL_TOOL_CALL_ID: Final = "tool_call_id"
TL_TOOL_CALLS: Final = "tool_calls"  # prefix: tool_calls.{j}.{id,name,arguments}
TL_FUNCTION_CALL_NAME: Final = "function_call.name"
TL_FUNCTION_CALL_ARGUMENTS: Final = "function_call.arguments"
TL_ID: Final = "id"
TL_NAME: Final = "name"
TL_ARGUMENTS: Final = "arguments"
TL_LLM_REQUEST_TYPE: Final = "llm.request.type"  # chat | completion | embedding | rerank
TL_LLM_IS_STREAMING: Final = "llm.is_streaming"
TL_GEN_AI_IS_STREAMING: Final = "gen_ai.is_streaming"
TL_LLM_USAGE_TOTAL_TOKENS: Final = "llm.usage.total_tokens"
TL_SPAN_KIND: Final = "traceloop.span.kind"  # workflow | task | agent | tool (traceloop-sdk)
TL_ENTITY_NAME: Final = "traceloop.entity.name"
TL_ENTITY_INPUT: Final = "traceloop.entity.input"
TL_ENTITY_OUTPUT: Final = "traceloop.entity.output"

# Deprecated GenAI names (semantic conventions before v1.37), still written by older
# instrumentations: contrib's openai-v2 on its legacy path, OpenLLMetry, Logfire.
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"

# Pydantic Logfire (logfire's instrument_openai). Semconv version 2 writes gen_ai.* as above;
# version 1 (the only layout of older Logfire releases) keeps the request and response as JSON.
LF_SPAN_TYPE: Final = "logfire.span_type"  # span | log | pending_span
LF_SPAN_TYPE_LOG: Final = "log"
LF_SPAN_TYPE_SPAN: Final = "span"
LF_MSG_TEMPLATE: Final = "logfire.msg_template"
LF_LEVEL_NUM: Final = "logfire.level_num"  # 17 and above: error
LF_LEVEL_ERROR: Final = 17
LF_REQUEST_DATA: Final = "request_data"
LF_RESPONSE_DATA: Final = "response_data"
LF_EVENTS: Final = "events"  # JSON list of {"event.name": "gen_ai.user.message", "content"...}
LF_ASSISTANT_EVENT: Final = "gen_ai.assistant.message"  # the answer's entry in LF_EVENTS

# --- Integrations beyond openai (integrations/<name>.py): each integration's own keys --------
# One block per integration, so that each is edited on its own. Prefer the GenAI names above;
# what they lack goes under spyglass.<integration>.*.

# anthropic
# gen_ai.provider.name of the cloud platforms' Anthropic clients (the conventions' values).
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
# OpenInference's cache-write count (openinference-semantic-conventions), beside the read one.
OI_LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE: Final = "llm.token_count.prompt_details.cache_write"
# The API's own stop_reason (end_turn, tool_use, pause_turn...); finish_reasons holds it mapped
# onto the conventions' vocabulary (stop, length, tool_call, content_filter).
ANTHROPIC_RESPONSE_STOP_REASON: Final = "spyglass.anthropic.response.stop_reason"
ANTHROPIC_REQUEST_THINKING_BUDGET: Final = "spyglass.anthropic.request.thinking.budget_tokens"  # no GenAI name

# langchain
# The run a span stands for (LangChain's run_id, as LangSmith shows it) and its run type when
# LangChain gives one (prompt, parser, retriever...).
LANGCHAIN_RUN_ID: Final = "spyglass.langchain.run_id"
LANGCHAIN_RUN_TYPE: Final = "spyglass.langchain.run_type"
# LangChain's ``ls_provider`` names -> gen_ai.provider.name well-known values (others pass through).
LANGCHAIN_PROVIDERS: Final = {
    "openai": PROVIDER_OPENAI,
    "azure": PROVIDER_AZURE_OPENAI,
    "anthropic": PROVIDER_ANTHROPIC,
    "groq": PROVIDER_GROQ,
    "deepseek": PROVIDER_DEEPSEEK,
    "xai": PROVIDER_XAI,
    "perplexity": PROVIDER_PERPLEXITY,
    "mistralai": PROVIDER_MISTRAL,
    "google_genai": PROVIDER_GEMINI,
    "cohere": PROVIDER_COHERE,
    "google_vertexai": "gcp.vertex_ai",
    "amazon_bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
}

# llama_index

# vector stores (chroma, qdrant)
# OpenTelemetry database conventions (general registry, docs/registry/attributes/db.md, all
# Stable but returned_rows): neither store is a well-known db.system.name value, and custom
# values are allowed, so each is named by its product.
DB_SYSTEM_NAME: Final = "db.system.name"
DB_COLLECTION_NAME: Final = "db.collection.name"
DB_OPERATION_NAME: Final = "db.operation.name"  # the client method: query, query_points, search...
DB_OPERATION_BATCH_SIZE: Final = "db.operation.batch.size"  # only for 2 queries or more, as the registry says
DB_RESPONSE_RETURNED_ROWS: Final = "db.response.returned_rows"  # Development: documents returned, all queries
DB_SYSTEM_CHROMA: Final = "chroma"
DB_SYSTEM_QDRANT: Final = "qdrant"
# What a document's score is: Chroma returns distances (lower is closer); Qdrant returns its
# "score", higher is closer for Cosine and Dot collections but a distance for Euclid and
# Manhattan ones (the client does not say which without asking the server).
RETRIEVAL_SCORE_KIND: Final = "spyglass.retrieval.score_kind"
SCORE_KIND_DISTANCE: Final = "distance"
SCORE_KIND_QDRANT: Final = "qdrant_score"
RETRIEVAL_DISTANCE_METRIC: Final = "spyglass.retrieval.distance_metric"  # chroma: l2 | cosine | ip
# What the query was: text | embedding | image | uri (chroma); text | embedding |
# sparse_embedding | multi_embedding | point_id | <query model> (qdrant). Only text is stored.
RETRIEVAL_QUERY_KIND: Final = "spyglass.retrieval.query.kind"
QUERY_KIND_TEXT: Final = "text"
QUERY_KIND_EMBEDDING: Final = "embedding"
QUERY_KIND_MIXED: Final = "mixed"  # a batch of queries of different kinds
# A call with several queries is one span; its documents are listed query after query, each
# with DOCUMENT_QUERY_INDEX in its metadata, and this holds how many each query returned.
RETRIEVAL_RESULT_COUNTS: Final = "spyglass.retrieval.result_counts"
DOCUMENT_QUERY_INDEX: Final = "spyglass.query_index"  # a key in a document's metadata, not a span attribute
