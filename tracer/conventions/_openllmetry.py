"""OpenLLMetry (traceloop: ``opentelemetry-instrumentation-openai`` and its siblings).

Recent releases (0.62.4 checked) write the GenAI names (``gen_ai.input.messages`` as
JSON...), already canonical. Older ones (0.52.1 checked), still common in stores, flatten messages
into ``gen_ai.prompt.{i}.role`` / ``.content`` / ``.tool_calls.{j}.name`` and
``gen_ai.completion.{i}...``, name the provider in ``gen_ai.system`` and the operation in
``llm.request.type`` (no ``gen_ai.operation.name``). traceloop-sdk's decorators add
``traceloop.span.kind`` (workflow, task, agent, tool) with JSON ``traceloop.entity.input``
and ``traceloop.entity.output``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import attributes as A
from . import _common as c

_OPERATION = {"chat": A.OP_CHAT, "completion": A.OP_TEXT_COMPLETION, "embedding": A.OP_EMBEDDINGS}
_TYPE_BY_REQUEST = {"chat": A.SPAN_TYPE_LLM, "completion": A.SPAN_TYPE_LLM, "embedding": A.SPAN_TYPE_EMBEDDING}
_TYPE_BY_SDK_KIND = {
    "workflow": A.SPAN_TYPE_STEP,
    "task": A.SPAN_TYPE_STEP,
    "agent": A.SPAN_TYPE_STEP,
    "tool": A.SPAN_TYPE_TOOL,
}


def _content(value: Any) -> list[dict[str, Any]]:
    # A list content (text and image parts) is stored as its JSON text.
    if isinstance(value, str) and value.startswith("[{"):
        parsed = c.loads(value)
        if isinstance(parsed, list) and all(isinstance(p, dict) and "type" in p for p in parsed):
            return c.content_parts(parsed)
    return c.content_parts(value)


def _message(item: Mapping[str, Any]) -> dict[str, Any]:
    role = c.text(item.get(A.TL_ROLE)) or "user"
    if role == "tool":
        return c.tool_response(item.get(A.TL_TOOL_CALL_ID), item.get(A.TL_CONTENT))
    parts = _content(item.get(A.TL_CONTENT))
    for call in c.indexed(item, A.TL_TOOL_CALLS):
        parts.append(c.tool_call_part(call.get(A.TL_ID), call.get(A.TL_NAME), call.get(A.TL_ARGUMENTS)))
    if item.get(A.TL_FUNCTION_CALL_NAME) is not None:
        parts.append(c.tool_call_part(None, item[A.TL_FUNCTION_CALL_NAME], item.get(A.TL_FUNCTION_CALL_ARGUMENTS)))
    out: dict[str, Any] = {"role": role, "parts": parts}
    if item.get(A.TL_FINISH_REASON) is not None:
        out["finish_reason"] = str(item[A.TL_FINISH_REASON])
    return out


class OpenLLMetry:
    name = "openllmetry"

    def detect(self, attributes: Mapping[str, Any], events: c.Events) -> bool:
        return (
            A.TL_LLM_REQUEST_TYPE in attributes
            or A.TL_GEN_AI_IS_STREAMING in attributes
            or A.TL_LLM_IS_STREAMING in attributes
            or A.TL_SPAN_KIND in attributes
        )

    def kind(self, attributes: Mapping[str, Any]) -> str | None:
        request = attributes.get(A.TL_LLM_REQUEST_TYPE)
        if request is not None:
            return _TYPE_BY_REQUEST.get(request)
        return _TYPE_BY_SDK_KIND.get(attributes.get(A.TL_SPAN_KIND))  # type: ignore[arg-type]

    def normalize(self, attributes: Mapping[str, Any], events: c.Events) -> dict[str, Any]:
        kind = self.kind(attributes)
        system = c.text(attributes.get(A.GEN_AI_SYSTEM))
        out: dict[str, Any] = {
            A.SPAN_TYPE: kind,
            A.GEN_AI_OPERATION_NAME: _OPERATION.get(attributes.get(A.TL_LLM_REQUEST_TYPE)),  # type: ignore[arg-type]
            A.GEN_AI_PROVIDER_NAME: system.lower() if system else None,  # "OpenAI" in early releases
            A.GEN_AI_USAGE_INPUT_TOKENS: c.as_int(attributes.get(A.GEN_AI_USAGE_PROMPT_TOKENS)),
            A.GEN_AI_USAGE_OUTPUT_TOKENS: c.as_int(attributes.get(A.GEN_AI_USAGE_COMPLETION_TOKENS)),
        }
        if A.GEN_AI_INPUT_MESSAGES not in attributes:
            out[A.GEN_AI_INPUT_MESSAGES] = c.dumps([_message(m) for m in c.indexed(attributes, A.TL_PROMPTS)])
        if A.GEN_AI_OUTPUT_MESSAGES not in attributes:
            out[A.GEN_AI_OUTPUT_MESSAGES] = c.dumps([_message(m) for m in c.indexed(attributes, A.TL_COMPLETIONS)])
        if A.TL_SPAN_KIND in attributes:  # a traceloop-sdk decorator's span
            for key, target in ((A.TL_ENTITY_INPUT, A.OI_INPUT_VALUE), (A.TL_ENTITY_OUTPUT, A.OI_OUTPUT_VALUE)):
                value = c.text(attributes.get(key))
                if value is not None:
                    out[target] = value
                    out[A.OI_INPUT_MIME_TYPE if target == A.OI_INPUT_VALUE else A.OI_OUTPUT_MIME_TYPE] = A.MIME_JSON
            if kind == A.SPAN_TYPE_TOOL:
                out[A.GEN_AI_TOOL_NAME] = c.text(attributes.get(A.TL_ENTITY_NAME))
                out[A.GEN_AI_OPERATION_NAME] = A.OP_EXECUTE_TOOL
        return out
