"""Attribute extractors for the openai client: small pure generators of ``(key, value)``.

``*_request`` run before the call on its keyword arguments; ``*_response`` run on what the
call returned, or on the response-shaped object a stream state assembled (so both read
fields with :func:`get`). ``*_content`` ones yield prompts and outputs, and only run when
content capture is on; the core serialises, bounds, scrubs and redacts them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from typing import Any

from tracer import attributes as A

from . import _openai_messages as M
from ._openai_compat import SENTINELS, given
from ._openai_messages import get
from ._usage import count, usage_pairs

Pairs = Iterator[tuple[str, Any]]

# Request parameters that are not content, recorded as OpenInference invocation parameters.
_INVOCATION_KEYS = (
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "n",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
    "reasoning",
    "service_tier",
    "stream",
    "stream_options",
    "tool_choice",
    "parallel_tool_calls",
    "logprobs",
    "top_logprobs",
    "truncation",
    "dimensions",
    "encoding_format",
    "modalities",
    "verbosity",
    "store",
    "background",
    "previous_response_id",
)
_SCALARS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("seed", A.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", A.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", A.GEN_AI_REQUEST_PRESENCE_PENALTY),
)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Built once: json.dumps(**options) builds a new encoder on every call.
_encode_parameters = json.JSONEncoder(default=str, separators=(",", ":")).encode


def _invocation_parameters(kw: Mapping[str, Any]) -> str:
    params = {}
    for key in _INVOCATION_KEYS:
        value = kw.get(key)
        if value is not None and type(value) not in SENTINELS:  # given(), inlined: 28 keys
            params[key] = value
    fmt = kw.get("response_format")
    if given(fmt):
        params["response_format"] = fmt if isinstance(fmt, Mapping) else getattr(fmt, "__name__", str(fmt))
    return _encode_parameters(params)


def _common_request(kw: Mapping[str, Any]) -> Pairs:
    model = kw.get("model")
    if isinstance(model, str):
        yield A.GEN_AI_REQUEST_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    for key, attr in _SCALARS:
        value = kw.get(key)
        if _number(value):
            yield attr, value
    n = kw.get("n")
    if isinstance(n, int) and n != 1:
        yield A.GEN_AI_REQUEST_CHOICE_COUNT, n
    stop = kw.get("stop")
    if isinstance(stop, str):
        yield A.GEN_AI_REQUEST_STOP_SEQUENCES, [stop]
    elif isinstance(stop, (list, tuple)) and stop:
        yield A.GEN_AI_REQUEST_STOP_SEQUENCES, [str(s) for s in stop]
    if kw.get("stream") is True:  # "if and only if the request is streaming": unset means not
        yield A.GEN_AI_REQUEST_STREAM, True
    tier = kw.get("service_tier")
    extra = kw.get("extra_body")
    if not given(tier) and isinstance(extra, Mapping):
        tier = extra.get("service_tier")
    if isinstance(tier, str):
        yield A.OPENAI_REQUEST_SERVICE_TIER, tier
    yield A.OI_LLM_INVOCATION_PARAMETERS, _invocation_parameters(kw)


def _usage(usage: Any, input_key: str, output_key: str, input_details: str, output_details: str) -> Pairs:
    if usage is None:
        return
    yield from usage_pairs(
        input=count(get(usage, input_key)),
        output=count(get(usage, output_key)),
        total=count(get(usage, "total_tokens")),
        cache_read=count(get(get(usage, input_details), "cached_tokens")),
        reasoning=count(get(get(usage, output_details), "reasoning_tokens")),
    )


def _response_ids(r: Any) -> Pairs:
    rid = get(r, "id")
    if isinstance(rid, str):
        yield A.GEN_AI_RESPONSE_ID, rid
    model = get(r, "model")
    if isinstance(model, str):
        yield A.GEN_AI_RESPONSE_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    tier = get(r, "service_tier")
    if isinstance(tier, str):
        yield A.OPENAI_RESPONSE_SERVICE_TIER, tier
    fingerprint = get(r, "system_fingerprint")
    if isinstance(fingerprint, str):
        yield A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint


def _output_value(messages: list[dict[str, Any]]) -> Any:
    """OpenInference ``output.value``: the text when that is all there is, else the messages."""
    if len(messages) == 1 and messages[0]["parts"] and all(p["type"] == "text" for p in messages[0]["parts"]):
        return "".join(p["content"] for p in messages[0]["parts"])
    return messages


# --- chat completions (create, parse, stream helpers) ------------------------------------------
def _output_type(fmt: Any) -> str | None:
    if not given(fmt):
        return None
    if isinstance(fmt, type):  # parse(response_format=SomePydanticModel)
        return A.OUTPUT_TYPE_JSON
    kind = get(fmt, "type")
    if kind in ("json_object", "json_schema"):
        return A.OUTPUT_TYPE_JSON
    return A.OUTPUT_TYPE_TEXT if kind == "text" else None


def chat_request(kw: Mapping[str, Any]) -> Pairs:
    yield A.OPENAI_API_TYPE, A.OPENAI_API_TYPE_CHAT_COMPLETIONS
    yield from _common_request(kw)
    limit = kw.get("max_completion_tokens")
    if not isinstance(limit, int):
        limit = kw.get("max_tokens")
    if isinstance(limit, int):
        yield A.GEN_AI_REQUEST_MAX_TOKENS, limit
    yield A.GEN_AI_OUTPUT_TYPE, _output_type(kw.get("response_format"))
    effort = kw.get("reasoning_effort")
    if isinstance(effort, str):
        yield A.REQUEST_REASONING_EFFORT, effort


def chat_request_content(kw: Mapping[str, Any]) -> Pairs:
    messages = M.chat_input_messages(kw.get("messages"))
    yield A.GEN_AI_INPUT_MESSAGES, messages
    yield A.OI_INPUT_VALUE, messages
    tools = M.chat_tool_definitions(get(kw, "tools"), get(kw, "functions"))
    if tools:
        yield A.GEN_AI_TOOL_DEFINITIONS, tools


def chat_response(r: Any) -> Pairs:
    yield from _response_ids(r)
    reasons = [c_reason for c in get(r, "choices") or () if (c_reason := get(c, "finish_reason"))]
    if reasons:
        yield A.GEN_AI_RESPONSE_FINISH_REASONS, reasons
    yield from _usage(
        get(r, "usage"), "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"
    )


def chat_response_content(r: Any) -> Pairs:
    messages = [M.chat_output_message(get(c, "message"), get(c, "finish_reason")) for c in get(r, "choices") or ()]
    yield A.GEN_AI_OUTPUT_MESSAGES, messages
    yield A.OI_OUTPUT_VALUE, _output_value(messages)


# --- responses API --------------------------------------------------------------------------
def responses_request(kw: Mapping[str, Any]) -> Pairs:
    yield A.OPENAI_API_TYPE, A.OPENAI_API_TYPE_RESPONSES
    yield from _common_request(kw)
    limit = kw.get("max_output_tokens")
    if isinstance(limit, int):
        yield A.GEN_AI_REQUEST_MAX_TOKENS, limit
    yield (
        A.GEN_AI_OUTPUT_TYPE,
        _output_type(get(get(kw, "text"), "format"))
        or (A.OUTPUT_TYPE_JSON if isinstance(kw.get("text_format"), type) else None),
    )
    effort = get(get(kw, "reasoning"), "effort")
    if isinstance(effort, str):
        yield A.REQUEST_REASONING_EFFORT, effort


def responses_request_content(kw: Mapping[str, Any]) -> Pairs:
    messages = M.responses_input_messages(get(kw, "input"))
    yield A.GEN_AI_INPUT_MESSAGES, messages
    yield A.OI_INPUT_VALUE, messages
    yield A.GEN_AI_SYSTEM_INSTRUCTIONS, M.system_instructions(get(kw, "instructions"))
    tools = M.responses_tool_definitions(get(kw, "tools"))
    if tools:
        yield A.GEN_AI_TOOL_DEFINITIONS, tools


def responses_finish_reason(r: Any) -> str:
    """The Responses API has a status, not a finish reason; map it onto the chat vocabulary."""
    status = get(r, "status")
    if status == "incomplete":
        reason = get(get(r, "incomplete_details"), "reason")
        return "length" if reason == "max_output_tokens" else (reason or "incomplete")
    if status == "failed":
        return "error"
    if status in ("completed", None) and any(get(i, "type") == "function_call" for i in get(r, "output") or ()):
        return "tool_call"
    return "stop" if status in ("completed", None) else str(status)


def responses_response(r: Any) -> Pairs:
    yield from _response_ids(r)
    if get(r, "status") is not None or get(r, "output"):
        yield A.GEN_AI_RESPONSE_FINISH_REASONS, [responses_finish_reason(r)]
    if get(r, "status") == "failed":
        yield A.ERROR_TYPE, get(get(r, "error"), "code") or "response_failed"
    yield from _usage(get(r, "usage"), "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


def responses_response_content(r: Any) -> Pairs:
    output = get(r, "output")
    parts = M.responses_output_parts(output)
    yield A.GEN_AI_OUTPUT_MESSAGES, [{"role": "assistant", "parts": parts, "finish_reason": responses_finish_reason(r)}]
    text = M.responses_output_text(output)
    yield A.OI_OUTPUT_VALUE, text if text or not parts else parts


# --- embeddings -----------------------------------------------------------------------------
def embeddings_request(kw: Mapping[str, Any]) -> Pairs:
    model = kw.get("model")
    if isinstance(model, str):
        yield A.GEN_AI_REQUEST_MODEL, model
        yield A.OI_EMBEDDING_MODEL_NAME, model
    fmt = kw.get("encoding_format")
    if isinstance(fmt, str):
        yield A.GEN_AI_REQUEST_ENCODING_FORMATS, [fmt]
    dims = kw.get("dimensions")
    if isinstance(dims, int):
        yield A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, dims
    yield A.OI_EMBEDDING_INVOCATION_PARAMETERS, _invocation_parameters(kw)


# OpenInference's per-input texts, for the first few inputs only: the SDK keeps 128 attributes a
# span by default and makes room by dropping the *oldest* (gen_ai.operation.name first), so a
# batch of hundreds must not add hundreds of keys. input.value holds the whole input anyway.
MAX_EMBEDDING_TEXTS = 32


def embeddings_request_content(kw: Mapping[str, Any]) -> Pairs:
    inp = kw.get("input")
    yield A.OI_INPUT_VALUE, inp
    # Texts only: token-id inputs (lists of ints) have no text to show, as in OpenInference.
    texts = [inp] if isinstance(inp, str) else inp if isinstance(inp, list) else ()
    if texts and all(isinstance(t, str) for t in texts):
        for i, text in enumerate(texts[:MAX_EMBEDDING_TEXTS]):
            yield A.oi_embedding_text(i), text


def _dimensions(vector: Any) -> int | None:
    if isinstance(vector, list):
        return len(vector)
    if isinstance(vector, str):  # encoding_format="base64": little-endian float32s
        return len(base64.b64decode(vector)) // 4
    return None


def embeddings_response(r: Any) -> Pairs:
    model = get(r, "model")
    if isinstance(model, str):
        yield A.GEN_AI_RESPONSE_MODEL, model
        yield A.OI_EMBEDDING_MODEL_NAME, model
    data = get(r, "data") or ()
    if data:
        yield A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, _dimensions(get(data[0], "embedding"))
    usage = get(r, "usage")
    tokens = get(usage, "prompt_tokens")
    if isinstance(tokens, int):
        yield A.GEN_AI_USAGE_INPUT_TOKENS, tokens
        yield A.OI_LLM_TOKEN_COUNT_PROMPT, tokens
        total = get(usage, "total_tokens")
        yield A.OI_LLM_TOKEN_COUNT_TOTAL, total if isinstance(total, int) else tokens


def no_content(r: Any) -> Pairs:
    return iter(())


# --- legacy completions -----------------------------------------------------------------------
def completions_request(kw: Mapping[str, Any]) -> Pairs:
    yield from _common_request(kw)
    limit = kw.get("max_tokens")
    if isinstance(limit, int):
        yield A.GEN_AI_REQUEST_MAX_TOKENS, limit


def completions_request_content(kw: Mapping[str, Any]) -> Pairs:
    messages = M.prompt_messages(kw.get("prompt"))
    yield A.GEN_AI_INPUT_MESSAGES, messages
    yield A.OI_INPUT_VALUE, kw.get("prompt")


# Legacy completions carry the same id, finish_reason and usage fields as chat completions.
completions_response = chat_response


def completions_response_content(r: Any) -> Pairs:
    messages = [
        {
            "role": "assistant",
            "parts": [M.text_part(get(c, "text") or "")],
            "finish_reason": get(c, "finish_reason") or "",
        }
        for c in get(r, "choices") or ()
    ]
    yield A.GEN_AI_OUTPUT_MESSAGES, messages
    yield A.OI_OUTPUT_VALUE, _output_value(messages)
