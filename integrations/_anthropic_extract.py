"""Attribute extractors for the anthropic client: small pure generators of ``(key, value)``.

``*_request`` run before the call on its keyword arguments; ``*_response`` run on what the
call returned, or on the response-shaped object a stream state assembled (so both read
fields with :func:`get`). ``*_content`` ones yield prompts and outputs, and only run when
content capture is on; the core serialises, bounds, scrubs and redacts them.

Usage: the API's ``input_tokens`` leaves out the cached tokens; the conventions'
``gen_ai.usage.input_tokens`` "SHOULD include all types of input tokens, including cached
tokens", and ``gen_ai.usage.cache_read.input_tokens`` / ``cache_creation.input_tokens`` are
parts of it ("SHOULD be included in gen_ai.usage.input_tokens"). So input = input + read +
creation, and the cost (integrations/_pricing) charges each part at its own rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from tracer import attributes as A

from . import _anthropic_messages as M
from ._anthropic_compat import given
from ._anthropic_messages import get
from ._usage import count, usage_pairs

Pairs = Iterator[tuple[str, Any]]

# Request parameters that are not content, recorded as OpenInference invocation parameters.
_INVOCATION_KEYS = (
    "model",
    "max_tokens",
    "max_tokens_to_sample",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "thinking",
    "tool_choice",
    "service_tier",
    "metadata",
    "output_config",
    "betas",
)
_SCALARS = (
    ("temperature", A.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", A.GEN_AI_REQUEST_TOP_P),
    ("top_k", A.GEN_AI_REQUEST_TOP_K),
)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _invocation_parameters(kw: Mapping[str, Any]) -> str:
    params = {key: kw[key] for key in _INVOCATION_KEYS if given(kw.get(key))}
    fmt = kw.get("output_format")
    if given(fmt):
        params["output_format"] = fmt if isinstance(fmt, Mapping) else getattr(fmt, "__name__", str(fmt))
    return json.dumps(params, default=str, separators=(",", ":"))


def _output_type(kw: Mapping[str, Any]) -> str | None:
    fmt = kw.get("output_format")  # beta structured outputs; a type for parse()/stream()
    if not given(fmt):
        fmt = get(get(kw, "output_config"), "format")
    if not given(fmt):
        return None
    if isinstance(fmt, type) or get(fmt, "type") in ("json_schema", "json"):
        return A.OUTPUT_TYPE_JSON
    return None


def _common_request(kw: Mapping[str, Any], max_tokens_key: str) -> Pairs:
    model = kw.get("model")
    if isinstance(model, str):
        yield A.GEN_AI_REQUEST_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    limit = count(kw.get(max_tokens_key))
    if limit is not None:
        yield A.GEN_AI_REQUEST_MAX_TOKENS, limit
    for key, attr in _SCALARS:
        value = kw.get(key)
        if _number(value):
            yield attr, value
    stop = kw.get("stop_sequences")
    if isinstance(stop, (list, tuple)) and stop:
        yield A.GEN_AI_REQUEST_STOP_SEQUENCES, [str(s) for s in stop]
    if kw.get("stream") is True:  # "if and only if the request is streaming": unset means not
        yield A.GEN_AI_REQUEST_STREAM, True
    yield A.OI_LLM_INVOCATION_PARAMETERS, _invocation_parameters(kw)


def _usage(usage: Any) -> Pairs:
    if usage is None:
        return
    own = count(get(usage, "input_tokens"))
    read = count(get(usage, "cache_read_input_tokens"))
    creation = count(get(usage, "cache_creation_input_tokens"))
    out = count(get(usage, "output_tokens"))
    # Anthropic's input_tokens leaves the cached parts out; the conventions' input count has them.
    total_in = None if own is None else own + (read or 0) + (creation or 0)
    total = total_in + out if total_in is not None and out is not None else None
    yield from usage_pairs(input=total_in, output=out, total=total, cache_read=read, cache_creation=creation)


def _response_ids(r: Any) -> Pairs:
    rid = get(r, "id")
    if isinstance(rid, str):
        yield A.GEN_AI_RESPONSE_ID, rid
    model = get(r, "model")
    if isinstance(model, str):
        yield A.GEN_AI_RESPONSE_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    stop = get(r, "stop_reason")
    if isinstance(stop, str):
        yield A.GEN_AI_RESPONSE_FINISH_REASONS, [M.finish_reason(stop)]
        yield A.ANTHROPIC_RESPONSE_STOP_REASON, stop


def _output_value(message: dict[str, Any]) -> Any:
    """OpenInference ``output.value``: the answer's text when the rest is only reasoning (kept in
    gen_ai.output.messages), else the messages, so tool calls stay visible there too."""
    parts = message["parts"]
    if parts and all(p["type"] in ("text", "reasoning") for p in parts):
        text = M.answer_text(parts)
        if text:
            return text
    return [message]


# --- messages (create, parse, stream; beta too) --------------------------------------------
def _with_extra_body(kw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request as the API receives it: on clients older than a parameter (``thinking``
    before 0.47, ``output_format``...), apps send it through ``extra_body``."""
    extra = kw.get("extra_body")
    if not isinstance(extra, Mapping) or not extra:
        return kw
    return {**extra, **{k: v for k, v in kw.items() if given(v)}}


def messages_request(kw: Mapping[str, Any]) -> Pairs:
    kw = _with_extra_body(kw)
    yield from _common_request(kw, "max_tokens")
    yield A.GEN_AI_OUTPUT_TYPE, _output_type(kw)
    budget = count(get(get(kw, "thinking"), "budget_tokens"))
    if budget is not None:
        yield A.ANTHROPIC_REQUEST_THINKING_BUDGET, budget


def messages_request_content(kw: Mapping[str, Any]) -> Pairs:
    messages = M.input_messages(kw.get("messages"))
    yield A.GEN_AI_INPUT_MESSAGES, messages
    yield A.OI_INPUT_VALUE, messages
    yield A.GEN_AI_SYSTEM_INSTRUCTIONS, M.system_instructions(get(kw, "system"))
    tools = M.tool_definitions(get(kw, "tools"))
    if tools:
        yield A.GEN_AI_TOOL_DEFINITIONS, tools


def messages_response(r: Any) -> Pairs:
    yield from _response_ids(r)
    yield from _usage(get(r, "usage"))


def messages_response_content(r: Any) -> Pairs:
    message = M.output_message(get(r, "content"), get(r, "stop_reason"))
    yield A.GEN_AI_OUTPUT_MESSAGES, [message]
    yield A.OI_OUTPUT_VALUE, _output_value(message)


# --- legacy text completions (POST /v1/complete; the client dropped it in 1.x) ----------------
def completions_request(kw: Mapping[str, Any]) -> Pairs:
    yield from _common_request(kw, "max_tokens_to_sample")


def completions_request_content(kw: Mapping[str, Any]) -> Pairs:
    prompt = kw.get("prompt")
    if isinstance(prompt, str):
        yield A.GEN_AI_INPUT_MESSAGES, [{"role": "user", "parts": [M.text_part(prompt)]}]
        yield A.OI_INPUT_VALUE, prompt


def completions_response(r: Any) -> Pairs:
    yield from _response_ids(r)  # the legacy API reports no usage


def completions_response_content(r: Any) -> Pairs:
    text = get(r, "completion") or ""
    yield (
        A.GEN_AI_OUTPUT_MESSAGES,
        [
            {
                "role": "assistant",
                "parts": [M.text_part(text)],
                "finish_reason": M.finish_reason(get(r, "stop_reason")) or "",
            }
        ],
    )
    yield A.OI_OUTPUT_VALUE, text
