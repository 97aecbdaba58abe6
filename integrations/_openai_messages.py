"""openai messages -> the GenAI conventions' message schemas (v1.41.1), as plain JSON values.

* input:  ``[{"role", "parts": [...], "name"?}]``            (gen-ai-input-messages.json)
* output: ``[{"role", "parts": [...], "finish_reason"}]``    (gen-ai-output-messages.json)
* system instructions: ``[{"type": "text", "content"}]``     (gen-ai-system-instructions.json)
* tool definitions: ``[{"type": "function", "name", "description", "parameters"}]``

Parts: ``text`` (content), ``tool_call`` (id, name, arguments), ``tool_call_response`` (id,
response), ``reasoning`` (content), ``uri`` / ``blob`` (modality, mime_type), and generic
parts keeping the client's own ``type`` (``refusal``, ``file``...). Inputs can be dicts or
the client's pydantic objects (a previous response's message appended to the history), so
every field is read with :func:`get`. Pure functions: no span, no settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from ._openai_compat import SENTINELS

# Whether a type is a Mapping, by type: ``get`` runs some 40 times per traced call, mostly on
# the client's pydantic objects, where an ABC isinstance check costs more than the lookup.
_IS_MAPPING: dict[type, bool] = {dict: True, type(None): False}


def get(obj: Any, key: str, default: Any = None) -> Any:
    kind = type(obj)
    mapping = _IS_MAPPING.get(kind)
    if mapping is None:
        mapping = isinstance(obj, Mapping)
        if len(_IS_MAPPING) < 512:  # types seen are the client's own: a few dozen
            _IS_MAPPING[kind] = mapping
    value = obj.get(key, default) if mapping else getattr(obj, key, default)
    return value if value is None or type(value) not in SENTINELS else default  # given(), inlined


def text_part(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def arguments(raw: Any) -> Any:
    """Tool-call arguments as JSON when they parse (the conventions' examples are objects)."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _plain(part: Any) -> dict[str, Any]:
    if isinstance(part, Mapping):
        return dict(part)
    dump = getattr(part, "model_dump", None)
    return cast("dict[str, Any]", dump(exclude_none=True)) if callable(dump) else {"value": part}


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        head, _, data = url.partition(";base64,")
        return {"type": "blob", "modality": "image", "mime_type": head[5:] or None, "content": data}
    return {"type": "uri", "modality": "image", "uri": url}


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Chat ``content`` (a string or a list of typed parts) -> parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            parts.append(text_part(part))
            continue
        kind = get(part, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(text_part(get(part, "text") or ""))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": get(part, "refusal")})
        elif kind == "image_url":
            url = get(get(part, "image_url"), "url")
            parts.append(_image(url) if isinstance(url, str) else {**_plain(part), "type": "image_url"})
        elif kind == "input_image" and isinstance(get(part, "image_url"), str):
            parts.append(_image(get(part, "image_url")))
        elif kind == "input_audio":
            audio = get(part, "input_audio")
            fmt = get(audio, "format")
            parts.append(
                {
                    "type": "blob",
                    "modality": "audio",
                    "mime_type": f"audio/{fmt}" if fmt else None,
                    "content": get(audio, "data"),
                }
            )
        else:
            parts.append({**_plain(part), "type": kind or "unknown"})
    return parts


def tool_call_part(call: Any) -> dict[str, Any]:
    fn = get(call, "function")
    if fn is None:  # custom tools: {"type": "custom", "custom": {"name", "input"}}
        kind = get(call, "type") or "tool"
        body = get(call, kind)
        return {"type": "tool_call", "id": get(call, "id"), "name": get(body, "name"), "arguments": get(body, "input")}
    return {
        "type": "tool_call",
        "id": get(call, "id"),
        "name": get(fn, "name"),
        "arguments": arguments(get(fn, "arguments")),
    }


def _tool_response(call_id: Any, content: Any) -> dict[str, Any]:
    if isinstance(content, list):  # a list of text parts
        content = "".join(get(p, "text") or "" for p in content)
    return {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": content}]}


# --- chat completions --------------------------------------------------------------------
def chat_input_messages(messages: Iterable[Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages or ():
        role = get(m, "role") or "user"
        if role == "tool":
            out.append(_tool_response(get(m, "tool_call_id"), get(m, "content")))
            continue
        if role == "function":  # legacy functions API: the result of a function_call
            msg = _tool_response(None, get(m, "content"))
            msg["name"] = get(m, "name")
            out.append(msg)
            continue
        parts = content_parts(get(m, "content")) + _assistant_parts(m)
        msg = {"role": role, "parts": parts}
        name = get(m, "name")
        if name:
            msg["name"] = name
        out.append(msg)
    return out


def _assistant_parts(message: Any) -> list[dict[str, Any]]:
    """What an assistant message holds besides its content: a refusal, tool calls, a legacy
    function call (the same in a request's history and in a response)."""
    parts: list[dict[str, Any]] = []
    refusal = get(message, "refusal")
    if refusal:
        parts.append({"type": "refusal", "content": refusal})
    for call in get(message, "tool_calls") or ():
        parts.append(tool_call_part(call))
    fc = get(message, "function_call")
    if fc is not None:
        parts.append(
            {"type": "tool_call", "id": None, "name": get(fc, "name"), "arguments": arguments(get(fc, "arguments"))}
        )
    return parts


def chat_output_message(message: Any, finish_reason: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if message is not None:
        content = get(message, "content")
        if content:
            parts.extend(content_parts(content))
        parts.extend(_assistant_parts(message))
        audio = get(message, "audio")
        if audio is not None and get(audio, "transcript"):
            parts.append({"type": "text", "content": get(audio, "transcript"), "modality": "audio"})
    return {
        "role": (get(message, "role") if message is not None else None) or "assistant",
        "parts": parts,
        "finish_reason": finish_reason or "",
    }


def chat_tool_definitions(tools: Iterable[Any] | None, functions: Iterable[Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools or ():
        kind = get(tool, "type") or "function"
        body = get(tool, kind)
        out.append(_definition(kind, body if body is not None else tool))
    for fn in functions or ():
        out.append(_definition("function", fn))
    return out


def _definition(kind: str, body: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"type": kind, "name": get(body, "name") or kind}
    description = get(body, "description")
    if description is not None:
        d["description"] = description
    parameters = get(body, "parameters")
    if parameters is not None:
        d["parameters"] = parameters
    return d


# --- responses API -------------------------------------------------------------------------
def responses_input_messages(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "parts": [text_part(items)]}]
    out: list[dict[str, Any]] = []
    for item in items or ():
        kind = get(item, "type")
        if kind in (None, "message"):
            out.append({"role": get(item, "role") or "user", "parts": content_parts(get(item, "content"))})
        elif kind == "function_call_output":
            out.append(_tool_response(get(item, "call_id"), get(item, "output")))
        elif kind == "function_call":
            out.append({"role": "assistant", "parts": [_function_call(item)]})
        elif kind == "reasoning":
            out.append({"role": "assistant", "parts": [_reasoning(item)]})
        else:  # built-in tool calls and their outputs, item references...
            role = "tool" if kind.endswith("_output") else "assistant"
            out.append({"role": role, "parts": [{**_plain(item), "type": kind}]})
    return out


def _function_call(item: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": get(item, "call_id"),
        "name": get(item, "name"),
        "arguments": arguments(get(item, "arguments")),
    }


def _reasoning(item: Any) -> dict[str, Any]:
    texts = [get(s, "text") or "" for s in (get(item, "summary") or ())]
    texts += [get(c, "text") or "" for c in (get(item, "content") or ())]
    return {"type": "reasoning", "content": "\n".join(t for t in texts if t)}


def responses_output_parts(output: Iterable[Any] | None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in output or ():
        kind = get(item, "type")
        if kind == "message":
            parts.extend(content_parts(get(item, "content")))
        elif kind == "function_call":
            parts.append(_function_call(item))
        elif kind == "reasoning":
            parts.append(_reasoning(item))
        else:
            parts.append({"type": kind or "unknown", "id": get(item, "id")})
    return parts


def responses_output_text(output: Iterable[Any] | None) -> str:
    return "".join(
        get(c, "text") or ""
        for item in output or ()
        if get(item, "type") == "message"
        for c in get(item, "content") or ()
        if get(c, "type") == "output_text"
    )


def responses_tool_definitions(tools: Iterable[Any] | None) -> list[dict[str, Any]]:
    return [_definition(get(t, "type") or "function", t) for t in tools or ()]


def system_instructions(instructions: Any) -> list[dict[str, Any]] | None:
    if isinstance(instructions, str):
        return [text_part(instructions)]
    if instructions:  # a list of input items
        parts: list[dict[str, Any]] = []
        for m in responses_input_messages(instructions):
            parts.extend(m["parts"])
        return parts
    return None


# --- legacy completions ---------------------------------------------------------------------
def prompt_messages(prompt: Any) -> list[dict[str, Any]]:
    if isinstance(prompt, str):
        return [{"role": "user", "parts": [text_part(prompt)]}]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return [{"role": "user", "parts": [text_part(p)]} for p in prompt]
    return [{"role": "user", "parts": [{"type": "tokens", "content": prompt}]}]  # token ids
