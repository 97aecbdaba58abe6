"""Plain text out of captured content attributes: the model's answer and the user's question.

Used where Spyglass checks an answer against its documents (at export and by
``spyglass check``). Both attribute layouts are read: GenAI messages (from the provider
integrations) and OpenInference ``input.value``/``output.value`` (from the decorators).
Malformed or truncated values give ``None``, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import attributes as A


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _parts_text(message: Mapping[str, Any]) -> str:
    parts = message.get("parts")
    if isinstance(parts, list):
        return "".join(str(p.get("content") or "") for p in parts if isinstance(p, Mapping) and p.get("type") == "text")
    content = message.get("content")
    return content if isinstance(content, str) else ""


def output_text(attributes: Mapping[str, Any]) -> str | None:
    """The text of the first output message, else ``output.value`` when it is a string."""
    messages = _json(attributes.get(A.GEN_AI_OUTPUT_MESSAGES))
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, Mapping) and (text := _parts_text(message)):
                return text
    value = attributes.get(A.OI_OUTPUT_VALUE)
    if isinstance(value, str) and attributes.get(A.OI_OUTPUT_MIME_TYPE) != A.MIME_JSON:
        return value
    decoded = _json(value)
    return decoded if isinstance(decoded, str) else None


def question_text(attributes: Mapping[str, Any]) -> str | None:
    """A ``question``/``query`` argument of a decorated function, else the last user message,
    else the decorated function's lone string argument.

    The argument first: a function given the question and the earlier turns has the history
    in ``gen_ai.input.messages``, whose last user message is the previous question."""
    value = attributes.get(A.OI_INPUT_VALUE)
    json_input = attributes.get(A.OI_INPUT_MIME_TYPE) == A.MIME_JSON
    if json_input:
        args = _json(value)
        if isinstance(args, Mapping):
            for key in ("question", "query", "prompt", "q"):
                if isinstance(args.get(key), str):
                    return args[key]
    messages = _json(attributes.get(A.GEN_AI_INPUT_MESSAGES))
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, Mapping) and message.get("role") == "user" and (text := _parts_text(message)):
                return text
    return value if isinstance(value, str) and not json_input else None
