"""Anthropic messages -> the GenAI conventions' message schemas, as plain JSON values.

The same shapes the openai integration writes (see ``_openai_messages``), so the viewer, the
grounding check and ``spyglass export`` read both alike:

* input:  ``[{"role", "parts": [...]}]``; a user turn holding only ``tool_result`` blocks
  becomes a ``tool`` message, as openai's tool messages do;
* output: ``[{"role": "assistant", "parts": [...], "finish_reason"}]``;
* system instructions: ``[{"type": "text", "content"}]``;
* tool definitions: ``[{"type": "function", "name", "description", "parameters"}]``.

Blocks -> parts: ``text`` -> text; ``thinking`` / ``redacted_thinking`` -> ``reasoning``
(never text: the grounding check reads the text parts as the answer); ``tool_use`` (and the
server tools' ``server_tool_use``) -> ``tool_call``; ``tool_result`` -> ``tool_call_response``;
``image`` -> ``blob`` / ``uri``; anything else keeps its own ``type``. Inputs are dicts or
the client's pydantic objects (a previous response's content appended to the history), so
every field is read with :func:`get`. Pure functions: no span, no settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from ._anthropic_compat import given

# stop_reason -> the conventions' finish reasons (gen-ai-output-messages.json's enum).
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}


def get(obj: Any, key: str, default: Any = None) -> Any:
    if type(obj) is dict or isinstance(obj, Mapping):  # the common case first
        value = obj.get(key, default)
    else:
        value = getattr(obj, key, default)
    return value if value is None or given(value) else default


def finish_reason(stop_reason: Any) -> str | None:
    if not isinstance(stop_reason, str):
        return None
    return FINISH_REASONS.get(stop_reason, stop_reason)


def text_part(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def _plain(block: Any) -> dict[str, Any]:
    if isinstance(block, Mapping):
        return dict(block)
    dump = getattr(block, "model_dump", None)
    return cast("dict[str, Any]", dump(exclude_none=True)) if callable(dump) else {"value": block}


def _image(block: Any) -> dict[str, Any]:
    source = get(block, "source")
    kind = get(source, "type")
    if kind == "base64":
        return {
            "type": "blob",
            "modality": "image",
            "mime_type": get(source, "media_type"),
            "content": get(source, "data"),
        }
    if kind == "url":
        return {"type": "uri", "modality": "image", "uri": get(source, "url")}
    return {**_plain(block), "type": "image"}


def _tool_result_text(content: Any) -> Any:
    if isinstance(content, list):  # text (and image) blocks: the text is the response
        return "".join(get(b, "text") or "" for b in content if get(b, "type") == "text")
    return content


def block_part(block: Any) -> dict[str, Any]:
    """One content block (request history or response) -> one part."""
    if isinstance(block, str):
        return text_part(block)
    kind = get(block, "type")
    if kind == "text":
        return text_part(get(block, "text") or "")
    if kind == "thinking":
        return {"type": "reasoning", "content": get(block, "thinking") or ""}
    if kind == "redacted_thinking":  # encrypted by the API: nothing readable to keep
        return {"type": "reasoning", "content": ""}
    if kind in ("tool_use", "server_tool_use"):
        return {
            "type": "tool_call",
            "id": get(block, "id"),
            "name": get(block, "name"),
            "arguments": get(block, "input"),
        }
    if kind == "tool_result":
        part = {
            "type": "tool_call_response",
            "id": get(block, "tool_use_id"),
            "response": _tool_result_text(get(block, "content")),
        }
        if get(block, "is_error"):
            part["is_error"] = True
        return part
    if kind == "image":
        return _image(block)
    return {**_plain(block), "type": kind or "unknown"}


def content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    return [block_part(b) for b in content]


def input_messages(messages: Iterable[Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages or ():
        role = get(m, "role") or "user"
        parts = content_parts(get(m, "content"))
        if role == "user" and parts and all(p["type"] == "tool_call_response" for p in parts):
            role = "tool"
        out.append({"role": role, "parts": parts})
    return out


def system_instructions(system: Any) -> list[dict[str, Any]] | None:
    if isinstance(system, str):
        return [text_part(system)] if system else None
    if system:
        return [block_part(b) for b in system]
    return None


def output_message(content: Iterable[Any] | None, stop_reason: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "parts": [block_part(b) for b in content or ()],
        "finish_reason": finish_reason(stop_reason) or "",
    }


def answer_text(parts: Iterable[Mapping[str, Any]]) -> str:
    return "".join(p["content"] for p in parts if p["type"] == "text")


def tool_definitions(tools: Iterable[Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools or ():
        kind = get(tool, "type")
        # Client tools have no type (or "custom"); server tools say theirs (web_search_20250305...).
        d: dict[str, Any] = {
            "type": "function" if kind in (None, "custom") else kind,
            "name": get(tool, "name") or kind,
        }
        description = get(tool, "description")
        if description is not None:
            d["description"] = description
        schema = get(tool, "input_schema")
        if schema is not None:
            d["parameters"] = schema
        out.append(d)
    return out
