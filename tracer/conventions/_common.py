"""Small pure helpers the convention modules share: tolerant JSON and numbers, flattened
``prefix.{i}.key`` attributes regrouped, and chat-completions messages in the GenAI shape.

Everything here takes what a foreign span holds, which may be truncated, mistyped or
missing, and returns ``None`` or an empty value instead of raising.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._documents import normalize_documents
from .._serialize import safe_str

Events = Sequence[Mapping[str, Any]]  # {"name": ..., "attributes": {...}} per span event


def loads(value: Any) -> Any:
    """A JSON attribute's value, parsed; lists and dicts as they are; ``None`` if unreadable."""
    if isinstance(value, (list, dict)):
        return value
    if isinstance(value, tuple):
        return list(value)
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # truncated by a size limit, or not JSON at all
        return None


def dumps(value: Any) -> str | None:
    """JSON text, as the canonical content keys hold it; ``None`` for nothing to say."""
    if value is None or value == [] or value == {}:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, default=safe_str)
    except (TypeError, ValueError, RecursionError):
        return None


def as_int(value: Any) -> int | None:
    """A token count: ints, integral floats and numeric text; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``prefix.0.a``, ``prefix.0.b``, ``prefix.1.a`` -> ``[{"a", "b"}, {"a"}]``, by index.

    Gaps are skipped rather than filled: a span cut by an attribute limit keeps what it has.
    """
    lead = prefix + "."
    n = len(lead)
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if isinstance(key, str) and key.startswith(lead):
            index, _, rest = key[n:].partition(".")
            if rest and index.isdigit():
                found.setdefault(int(index), {})[rest] = value
    return [found[i] for i in sorted(found)]


def first(attributes: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` with a value other than ``None``."""
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


# --- message parts ----------------------------------------------------------------------
def text_part(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def arguments(raw: Any) -> Any:
    """Tool-call arguments as an object when they are JSON text (as the conventions show them)."""
    if isinstance(raw, str):
        parsed = loads(raw)
        return raw if parsed is None else parsed
    return raw


def tool_call_part(call_id: Any, name: Any, args: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": None if call_id is None else safe_str(call_id),
        "name": None if name is None else safe_str(name),
        "arguments": arguments(args),
    }


def tool_response(call_id: Any, response: Any) -> dict[str, Any]:
    return {
        "role": "tool",
        "parts": [
            {"type": "tool_call_response", "id": None if call_id is None else safe_str(call_id), "response": response}
        ],
    }


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Chat-completions ``content`` (text, or a list of typed parts) -> GenAI parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)] if content else []
    if not isinstance(content, list):
        return [text_part(safe_str(content))]
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            parts.append(text_part(part))
        elif isinstance(part, Mapping):
            kind = part.get("type")
            if kind in ("text", "input_text", "output_text") and isinstance(part.get("text"), str):
                parts.append(text_part(part["text"]))
            elif kind == "image_url" and isinstance(part.get("image_url"), Mapping):
                parts.append({"type": "uri", "modality": "image", "uri": part["image_url"].get("url")})
            elif kind == "refusal":
                parts.append({"type": "refusal", "content": part.get("refusal")})
            else:
                parts.append({**{str(k): v for k, v in part.items()}, "type": str(kind or "unknown")})
    return parts


def _call_parts(calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in calls if isinstance(calls, list) else ():
        if isinstance(call, Mapping):
            fn = call.get("function")
            if not isinstance(fn, Mapping):
                fn = {}
            parts.append(tool_call_part(call.get("id"), fn.get("name"), fn.get("arguments")))
    return parts


def chat_message(message: Any, finish_reason: Any = None) -> dict[str, Any] | None:
    """One chat-completions message (``{role, content, tool_calls}``) in the GenAI shape."""
    if not isinstance(message, Mapping):
        return None
    role = message.get("role") if isinstance(message.get("role"), str) else "user"
    if role in ("tool", "function"):
        response = message.get("content")
        if isinstance(response, list):  # a list of text parts
            response = "".join(p.get("text") or "" for p in response if isinstance(p, Mapping))
        out = tool_response(message.get("tool_call_id", message.get("id")), response)
        if isinstance(message.get("name"), str):
            out["name"] = message["name"]
        return out
    parts = content_parts(message.get("content")) + _call_parts(message.get("tool_calls"))
    fc = message.get("function_call")
    if isinstance(fc, Mapping):
        parts.append(tool_call_part(None, fc.get("name"), fc.get("arguments")))
    if message.get("refusal"):
        parts.append({"type": "refusal", "content": message["refusal"]})
    out = {"role": role, "parts": parts}
    if isinstance(message.get("name"), str):
        out["name"] = message["name"]
    if finish_reason is not None:
        out["finish_reason"] = safe_str(finish_reason)
    return out


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    return [m for m in (chat_message(x) for x in (messages if isinstance(messages, list) else ())) if m]


def documents(items: Iterable[Mapping[str, Any]]) -> str | None:
    """Documents as ``gen_ai.retrieval.documents`` holds them: ``[{id, content, score, metadata}]``."""
    return dumps(normalize_documents(list(items)))
