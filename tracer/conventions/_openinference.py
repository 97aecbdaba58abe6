"""OpenInference (Arize Phoenix's conventions, ``openinference-instrumentation-*``).

A span says its kind in ``openinference.span.kind`` and flattens everything else:
messages as ``llm.input_messages.{i}.message.role`` / ``.content`` / ``.contents.{j}...`` /
``.tool_calls.{j}.tool_call.function.name``, documents as
``retrieval.documents.{i}.document.content``, usage as ``llm.token_count.*``, the model in
``llm.model_name`` (the response's) and ``llm.invocation_parameters`` (the request's).
Spyglass's own spans carry the same kind key (our overlay), but also ``spyglass.span.type``,
so they never get here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import attributes as A
from . import _common as c

_KIND = {
    A.OI_KIND_LLM: A.SPAN_TYPE_LLM,
    A.OI_KIND_RETRIEVER: A.SPAN_TYPE_RETRIEVER,
    A.OI_KIND_TOOL: A.SPAN_TYPE_TOOL,
    A.OI_KIND_EMBEDDING: A.SPAN_TYPE_EMBEDDING,
    A.OI_KIND_CHAIN: A.SPAN_TYPE_STEP,
    A.OI_KIND_AGENT: A.SPAN_TYPE_STEP,
    A.OI_KIND_RERANKER: A.SPAN_TYPE_STEP,
    A.OI_KIND_PROMPT: A.SPAN_TYPE_STEP,
    A.OI_KIND_GUARDRAIL: A.SPAN_TYPE_POSTPROCESS,
    A.OI_KIND_EVALUATOR: A.SPAN_TYPE_EVALUATION,
}
_OPERATION = {
    A.SPAN_TYPE_RETRIEVER: A.OP_RETRIEVAL,
    A.SPAN_TYPE_TOOL: A.OP_EXECUTE_TOOL,
    A.SPAN_TYPE_EMBEDDING: A.OP_EMBEDDINGS,
}


def _parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    content = message.get(A.OI_MESSAGE_CONTENT)
    if isinstance(content, str) and content:
        parts.append(c.text_part(content))
    for item in c.indexed(message, A.OI_MESSAGE_CONTENTS):
        kind = item.get(A.OI_CONTENT_TYPE)
        if isinstance(item.get(A.OI_CONTENT_TEXT), str):
            parts.append({"type": "reasoning" if kind == "reasoning" else "text", "content": item[A.OI_CONTENT_TEXT]})
        elif isinstance(item.get(A.OI_CONTENT_IMAGE_URL), str):
            parts.append({"type": "uri", "modality": "image", "uri": item[A.OI_CONTENT_IMAGE_URL]})
    for call in c.indexed(message, A.OI_MESSAGE_TOOL_CALLS):
        parts.append(
            c.tool_call_part(
                call.get(A.OI_TOOL_CALL_ID), call.get(A.OI_TOOL_CALL_NAME), call.get(A.OI_TOOL_CALL_ARGUMENTS)
            )
        )
    if message.get(A.OI_MESSAGE_FUNCTION_CALL_NAME) is not None:  # the legacy functions API
        parts.append(
            c.tool_call_part(
                None, message.get(A.OI_MESSAGE_FUNCTION_CALL_NAME), message.get(A.OI_MESSAGE_FUNCTION_CALL_ARGUMENTS)
            )
        )
    return parts


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = c.text(message.get(A.OI_MESSAGE_ROLE)) or "user"
    if role == "tool" or (role == "function" and message.get(A.OI_MESSAGE_TOOL_CALL_ID) is not None):
        out = c.tool_response(message.get(A.OI_MESSAGE_TOOL_CALL_ID), message.get(A.OI_MESSAGE_CONTENT))
    else:
        out = {"role": role, "parts": _parts(message)}
    if isinstance(message.get(A.OI_MESSAGE_NAME), str):
        out["name"] = message[A.OI_MESSAGE_NAME]
    return out


def _messages(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [_message(m) for m in c.indexed(attributes, prefix)]


def _texts(attributes: Mapping[str, Any], prefix: str, key: str, role: str) -> list[dict[str, Any]]:
    """Completions-API prompts and choices: one text per index."""
    return [
        {"role": role, "parts": [c.text_part(item[key])]}
        for item in c.indexed(attributes, prefix)
        if isinstance(item.get(key), str)
    ]


def _tools(attributes: Mapping[str, Any]) -> list[Any]:
    tools = []
    for item in c.indexed(attributes, A.OI_LLM_TOOLS):
        schema = c.loads(item.get(A.OI_TOOL_JSON_SCHEMA))
        if isinstance(schema, dict) and isinstance(schema.get("function"), dict):
            schema = {"type": schema.get("type", "function"), **schema["function"]}  # the GenAI shape
        if schema is not None:
            tools.append(schema)
    return tools


def _documents(attributes: Mapping[str, Any]) -> str | None:
    items = []
    for doc in c.indexed(attributes, A.OI_RETRIEVAL_DOCUMENTS):
        metadata = doc.get(A.OI_DOCUMENT_METADATA)
        items.append(
            {
                "id": doc.get(A.OI_DOCUMENT_ID),
                "content": doc.get(A.OI_DOCUMENT_CONTENT),
                "score": doc.get(A.OI_DOCUMENT_SCORE),
                "metadata": metadata if isinstance(metadata, dict) else c.loads(metadata) or {},
            }
        )
    return c.documents(items) if items else None


class OpenInference:
    name = "openinference"

    def detect(self, attributes: Mapping[str, Any], events: c.Events) -> bool:
        return A.OI_SPAN_KIND in attributes

    def kind(self, attributes: Mapping[str, Any]) -> str | None:
        return _KIND.get(attributes.get(A.OI_SPAN_KIND))  # type: ignore[arg-type]

    def normalize(self, attributes: Mapping[str, Any], events: c.Events) -> dict[str, Any]:
        kind = self.kind(attributes)
        out: dict[str, Any] = {A.SPAN_TYPE: kind, A.GEN_AI_OPERATION_NAME: _OPERATION.get(kind or "")}
        params = c.loads(attributes.get(A.OI_LLM_INVOCATION_PARAMETERS))
        request_model = params.get("model") if isinstance(params, dict) else None
        response_model = c.first(attributes, A.OI_LLM_RESPONSE_MODEL_NAME, A.OI_LLM_MODEL_NAME)
        out[A.GEN_AI_REQUEST_MODEL] = c.text(
            c.first(attributes, A.OI_LLM_REQUEST_MODEL_NAME) or request_model or response_model
        )
        out[A.GEN_AI_RESPONSE_MODEL] = c.text(response_model)
        out[A.GEN_AI_PROVIDER_NAME] = c.text(c.first(attributes, A.OI_LLM_PROVIDER, A.OI_LLM_SYSTEM))
        out[A.GEN_AI_USAGE_INPUT_TOKENS] = c.as_int(attributes.get(A.OI_LLM_TOKEN_COUNT_PROMPT))
        out[A.GEN_AI_USAGE_OUTPUT_TOKENS] = c.as_int(attributes.get(A.OI_LLM_TOKEN_COUNT_COMPLETION))
        out[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = c.as_int(attributes.get(A.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ))
        out[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = c.as_int(
            attributes.get(A.OI_LLM_TOKEN_COUNT_COMPLETION_REASONING)
        )
        if kind == A.SPAN_TYPE_LLM:
            inputs = _messages(attributes, A.OI_LLM_INPUT_MESSAGES)
            outputs = _messages(attributes, A.OI_LLM_OUTPUT_MESSAGES)
            if not inputs and not outputs:  # the completions API
                inputs = _texts(attributes, A.OI_LLM_PROMPTS, A.OI_PROMPT_TEXT, "user")
                outputs = _texts(attributes, A.OI_LLM_CHOICES, A.OI_COMPLETION_TEXT, "assistant")
                out[A.GEN_AI_OPERATION_NAME] = A.OP_TEXT_COMPLETION if inputs or outputs else None
            finish = c.text(attributes.get(A.OI_LLM_FINISH_REASON))
            if outputs and finish:
                outputs[0]["finish_reason"] = finish
            out[A.GEN_AI_OPERATION_NAME] = out[A.GEN_AI_OPERATION_NAME] or A.OP_CHAT
            out[A.GEN_AI_INPUT_MESSAGES] = c.dumps(inputs)
            out[A.GEN_AI_OUTPUT_MESSAGES] = c.dumps(outputs)
            out[A.GEN_AI_TOOL_DEFINITIONS] = c.dumps(_tools(attributes))
            out[A.PROMPT_TEMPLATE] = c.text(attributes.get(A.OI_LLM_PROMPT_TEMPLATE))
            out[A.PROMPT_VARIABLES] = attributes.get(A.OI_LLM_PROMPT_TEMPLATE_VARIABLES)
            out[A.PROMPT_VERSION] = c.text(attributes.get(A.OI_LLM_PROMPT_TEMPLATE_VERSION))
        elif kind == A.SPAN_TYPE_RETRIEVER:
            out[A.GEN_AI_RETRIEVAL_DOCUMENTS] = _documents(attributes)
            if attributes.get(A.OI_INPUT_MIME_TYPE) != A.MIME_JSON:
                out[A.GEN_AI_RETRIEVAL_QUERY_TEXT] = c.text(attributes.get(A.OI_INPUT_VALUE))
        elif kind == A.SPAN_TYPE_TOOL:
            out[A.GEN_AI_TOOL_NAME] = c.text(attributes.get(A.OI_TOOL_NAME))
            out[A.GEN_AI_TOOL_CALL_ID] = c.text(attributes.get(A.OI_TOOL_ID))
        elif kind == A.SPAN_TYPE_EMBEDDING:
            out[A.GEN_AI_REQUEST_MODEL] = out[A.GEN_AI_REQUEST_MODEL] or c.text(
                attributes.get(A.OI_EMBEDDING_MODEL_NAME)
            )
        return out
