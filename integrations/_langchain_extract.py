"""Attribute extractors for LangChain runs: small pure generators of ``(key, value)``.

They read what LangChain's callbacks hand over (``serialized``, ``metadata``,
``invocation_params``, messages, ``LLMResult``, documents, tool outputs) by duck typing, so
that this module imports nothing from ``langchain_core`` and reads the same fields on every
supported release. ``*_content`` ones yield prompts and outputs, and only run with content
capture on; the caller serialises, bounds, scrubs and redacts them (``set_content``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tracer import attributes as A
from tracer._serialize import scrub
from tracer.conventions._common import chat_message, text_part

from ._usage import count, usage_pairs

__all__ = [
    "chat_input_messages",
    "llm_request",
    "llm_response",
    "llm_response_content",
    "prompt_messages",
    "provider_name",
    "run_name",
    "tool_call_id",
    "tool_result",
]

Pairs = Iterator[tuple[str, Any]]

# LangChain message types (``BaseMessage.type``) -> GenAI roles.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function"}


def _get(obj: Any, key: str) -> Any:
    """A field of a dict or an object (LangChain hands over both: messages are pydantic
    models, ``usage_metadata`` and ``tool_calls`` are TypedDicts)."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_name(serialized: Any, kwargs: Mapping[str, Any], default: str) -> str:
    """The run's name as LangChain shows it: ``name=`` (langchain-core passes the run name to
    every start callback), else the serialized object's name or class."""
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ids = serialized.get("id")
        if isinstance(ids, list) and ids and isinstance(ids[-1], str):
            return ids[-1]
    return default


def provider_name(ls_provider: Any) -> str | None:
    """``gen_ai.provider.name`` from LangChain's ``ls_provider`` (its own names for providers:
    ``openai``, ``azure``, ``google_genai``...); unknown ones pass through, lowercased."""
    if not isinstance(ls_provider, str) or not ls_provider:
        return None
    name = ls_provider.lower()
    return A.LANGCHAIN_PROVIDERS.get(name, name)


# --- messages ----------------------------------------------------------------------------------
def _as_chat(message: Any) -> dict[str, Any]:
    """A LangChain message as a chat-completions dict, for the shared GenAI converter."""
    kind = _get(message, "type")
    role = _get(message, "role") if kind == "chat" else _ROLES.get(kind, kind if isinstance(kind, str) else "user")
    out: dict[str, Any] = {"role": role if isinstance(role, str) else "user", "content": _get(message, "content")}
    calls = _get(message, "tool_calls")
    if calls:
        out["tool_calls"] = [
            {"id": _get(c, "id"), "function": {"name": _get(c, "name"), "arguments": _get(c, "args")}} for c in calls
        ]
    call_id = _get(message, "tool_call_id")
    if call_id is not None:
        out["tool_call_id"] = call_id
    name = _get(message, "name")
    if isinstance(name, str):
        out["name"] = name
    return out


def chat_input_messages(messages: Any) -> list[dict[str, Any]]:
    """One run's messages (``on_chat_model_start`` gets a list per run) in the GenAI shape."""
    found = (chat_message(_as_chat(m)) for m in (messages if isinstance(messages, Sequence) else ()))
    return [m for m in found if m]


def prompt_messages(prompts: Any) -> list[dict[str, Any]]:
    """A text-completion LLM's prompts as user messages."""
    return [{"role": "user", "parts": [text_part(p)]} for p in prompts or () if isinstance(p, str)]


# --- request ---------------------------------------------------------------------------------
def llm_request(metadata: Mapping[str, Any], params: Mapping[str, Any]) -> Pairs:
    """Model, provider and request parameters: LangChain's ``ls_*`` metadata first (its
    standard names across providers), then the model's own ``invocation_params``."""
    model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
    if isinstance(model, str):
        yield A.GEN_AI_REQUEST_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    ls_provider = metadata.get("ls_provider")
    provider = provider_name(ls_provider)
    if provider is not None:
        yield A.GEN_AI_PROVIDER_NAME, provider
        yield A.OI_LLM_PROVIDER, ls_provider
    temperature = metadata.get("ls_temperature", params.get("temperature"))
    if _number(temperature):
        yield A.GEN_AI_REQUEST_TEMPERATURE, temperature
    limit = metadata.get("ls_max_tokens", params.get("max_tokens"))
    if count(limit) is not None:
        yield A.GEN_AI_REQUEST_MAX_TOKENS, limit
    stop = metadata.get("ls_stop", params.get("stop"))
    if isinstance(stop, str):
        yield A.GEN_AI_REQUEST_STOP_SEQUENCES, [stop]
    elif isinstance(stop, (list, tuple)) and stop:
        yield A.GEN_AI_REQUEST_STOP_SEQUENCES, [str(s) for s in stop]
    if params:
        # Not content, but scrubbed: a model's parameters may hold a key or a URL with one.
        yield A.OI_LLM_INVOCATION_PARAMETERS, scrub(json.dumps(params, default=str, separators=(",", ":")))


# --- response --------------------------------------------------------------------------------
def _generation(response: Any) -> Any:
    """The run's generation: LangChain gives each run its own ``LLMResult`` with one prompt."""
    generations = _get(response, "generations")
    if not generations or not generations[0]:
        return None
    return generations[0][0]


def _usage(usage: Any) -> Pairs:
    """``AIMessage.usage_metadata``: LangChain's standard usage, cache and reasoning included."""
    details = _get(usage, "input_token_details")
    yield from usage_pairs(
        input=count(_get(usage, "input_tokens")),
        output=count(_get(usage, "output_tokens")),
        total=count(_get(usage, "total_tokens")),
        cache_read=count(_get(details, "cache_read")),
        cache_creation=count(_get(details, "cache_creation")),
        reasoning=count(_get(_get(usage, "output_token_details"), "reasoning")),
    )


def _legacy_usage(llm_output: Any) -> Pairs:
    """``llm_output["token_usage"]`` (OpenAI's names), which text-completion LLMs report."""
    usage = _get(llm_output, "token_usage") or _get(llm_output, "usage")
    yield from _usage(
        {
            "input_tokens": _get(usage, "prompt_tokens"),
            "output_tokens": _get(usage, "completion_tokens"),
            "total_tokens": _get(usage, "total_tokens"),
        }
    )


def _finish_reason(generation: Any, message: Any) -> str | None:
    for source in (_get(message, "response_metadata"), _get(generation, "generation_info")):
        for key in ("finish_reason", "stop_reason", "done_reason"):
            value = _get(source, key)
            if isinstance(value, str) and value:
                return value
    return None


def llm_response(response: Any) -> Pairs:
    """Response model, id, finish reason and usage of one run's ``LLMResult``."""
    generation = _generation(response)
    message = _get(generation, "message")
    metadata = _get(message, "response_metadata") or {}
    llm_output = _get(response, "llm_output") or {}
    model = _get(metadata, "model_name") or _get(metadata, "model") or _get(llm_output, "model_name")
    if isinstance(model, str) and model:
        yield A.GEN_AI_RESPONSE_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    response_id = _get(metadata, "id")
    if isinstance(response_id, str) and response_id:
        yield A.GEN_AI_RESPONSE_ID, response_id
    reason = _finish_reason(generation, message)
    if reason is not None:
        yield A.GEN_AI_RESPONSE_FINISH_REASONS, [reason]
    usage = _get(message, "usage_metadata")
    yield from _usage(usage) if usage else _legacy_usage(llm_output)


def llm_response_content(response: Any) -> Pairs:
    """The answer: ``gen_ai.output.messages``, and ``output.value`` as the viewer reads it
    (the text alone when that is all there is)."""
    generation = _generation(response)
    if generation is None:
        return
    message = _get(generation, "message")
    reason = _finish_reason(generation, message)
    if message is not None:
        out = chat_message(_as_chat(message), reason)
        messages = [out] if out else []
    else:
        text = _get(generation, "text")
        messages = [{"role": "assistant", "parts": [text_part(text if isinstance(text, str) else "")]}]
        if reason is not None:
            messages[0]["finish_reason"] = reason
    yield A.GEN_AI_OUTPUT_MESSAGES, messages
    parts = messages[0]["parts"] if messages else []
    if parts and all(p.get("type") == "text" for p in parts):
        yield A.OI_OUTPUT_VALUE, "".join(str(p.get("content") or "") for p in parts)
    else:
        yield A.OI_OUTPUT_VALUE, messages


# --- tools -----------------------------------------------------------------------------------
def _is_tool_message(output: Any) -> bool:
    return _get(output, "type") == "tool" and hasattr(output, "content")


def tool_call_id(output: Any) -> str | None:
    """The call id of a ``ToolMessage`` a tool returned, if it is one and has an id."""
    call_id = getattr(output, "tool_call_id", None) if _is_tool_message(output) else None
    return call_id if isinstance(call_id, str) and call_id else None


def tool_result(output: Any) -> Any:
    """What a tool returned: a ``ToolMessage``'s content (a tool invoked with a tool call
    answers with one), else the output itself."""
    if _is_tool_message(output):
        return output.content
    return output
