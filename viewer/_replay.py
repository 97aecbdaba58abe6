"""Replay a traced OpenAI chat call with an edited prompt or one document removed. Pure apart
from the call itself, which goes through the ``openai.OpenAI`` client it is given (tests
pass one on a mock transport).

The request is rebuilt from what the span recorded: ``gen_ai.input.messages`` (GenAI parts
turned back into chat-completions messages), ``gen_ai.system_instructions``, the
``gen_ai.request.*`` parameters, a few more request options from ``llm.invocation_parameters``
and ``gen_ai.tool.definitions``. The replay is never streamed and never stored; the API key
is read by the client from ``OPENAI_API_KEY`` and is not kept anywhere by the viewer.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer import attributes as A

from ._messages import parse_json

API_KEY_ENV = "OPENAI_API_KEY"
_SCALARS = (
    (A.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
    (A.GEN_AI_REQUEST_TOP_P, "top_p"),
    (A.GEN_AI_REQUEST_SEED, "seed"),
    (A.GEN_AI_REQUEST_FREQUENCY_PENALTY, "frequency_penalty"),
    (A.GEN_AI_REQUEST_PRESENCE_PENALTY, "presence_penalty"),
    (A.GEN_AI_REQUEST_CHOICE_COUNT, "n"),
)
# Options only ``llm.invocation_parameters`` keeps; anything else there (stream...) is left out.
_INVOCATION_OPTIONS = (
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "max_completion_tokens",
    "logprobs",
    "top_logprobs",
    "verbosity",
    "service_tier",
)
# A document is removed with the short label on its line ("[kb-battery] "), not just its text.
_MAX_LABEL_CHARS = 40


def unavailable(attrs: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str | None:
    """Why this span cannot be replayed, or ``None`` when it can."""
    env = os.environ if env is None else env
    if (
        attrs.get(A.GEN_AI_PROVIDER_NAME) != "openai"
        or attrs.get(A.GEN_AI_OPERATION_NAME) != A.OP_CHAT
        or attrs.get(A.OPENAI_API_TYPE, A.OPENAI_API_TYPE_CHAT_COMPLETIONS) != A.OPENAI_API_TYPE_CHAT_COMPLETIONS
    ):
        return "Only OpenAI chat-completions calls can be replayed."
    if attrs.get(A.LLM_INNER_CALLS):
        return "The request was sent by the client call inside this one: replay that span (in the tree below it)."
    if not isinstance(parse_json(attrs.get(A.GEN_AI_INPUT_MESSAGES)), list):
        return "The prompt was not captured on this span (content capture off, or cut by the capture limit)."
    if importlib.util.find_spec("openai") is None:
        return "Replay needs the openai package: pip install openai."
    if not env.get(API_KEY_ENV):
        return (
            f"Replay calls the OpenAI API: set {API_KEY_ENV} in the environment of `spyglass view` "
            f"to enable it. The key is used for the call only and never stored."
        )
    return None


# --- GenAI messages -> chat-completions messages ----------------------------------------
def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _content_part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": _text(part.get("content") or "")}
    if kind == "uri" and part.get("modality") == "image":
        return {"type": "image_url", "image_url": {"url": part.get("uri")}}
    if kind == "blob" and part.get("modality") == "image":
        return {"type": "image_url", "image_url": {"url": f"data:{part.get('mime_type')};base64,{part.get('content')}"}}
    return None  # reasoning, refusal, unknown parts: not something a request carries


def _chat_message(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = str(msg.get("role") or "user")
    raw_parts = msg.get("parts")
    if not isinstance(raw_parts, list):  # chat-style {role, content} already
        return [{k: v for k, v in msg.items() if k in ("role", "content", "name", "tool_calls", "tool_call_id")}]
    parts = [p if isinstance(p, Mapping) else {"type": "text", "content": str(p)} for p in raw_parts]
    if role == "tool":
        return [
            {"role": "tool", "tool_call_id": p.get("id"), "content": _text(p.get("response", ""))}
            for p in parts
            if p.get("type") == "tool_call_response"
        ]
    content = [c for c in map(_content_part, parts) if c is not None]
    out: dict[str, Any] = {"role": role}
    if all(c["type"] == "text" for c in content):
        out["content"] = "".join(c["text"] for c in content) if content else None
    else:
        out["content"] = content
    calls = [
        {
            "id": p.get("id"),
            "type": "function",
            "function": {"name": p.get("name"), "arguments": _text(p.get("arguments") or {})},
        }
        for p in parts
        if p.get("type") == "tool_call"
    ]
    if calls:
        out["tool_calls"] = calls
    elif out["content"] is None:
        out["content"] = ""
    if msg.get("name"):
        out["name"] = msg["name"]
    return [out]


def _tools(value: Any) -> list[dict[str, Any]]:
    tools = parse_json(value)
    out = []
    for t in tools if isinstance(tools, list) else ():
        if not isinstance(t, Mapping):
            continue
        if isinstance(t.get("function"), Mapping):  # already in the chat-completions shape
            out.append(dict(t))
            continue
        fn = {k: t[k] for k in ("name", "description", "parameters") if k in t}
        out.append({"type": t.get("type") or "function", "function": fn})
    return out


def request_from_span(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``client.chat.completions.create`` that repeat the traced call."""
    messages: list[dict[str, Any]] = []
    system = parse_json(attrs.get(A.GEN_AI_SYSTEM_INSTRUCTIONS))
    if isinstance(system, list) and system:
        texts = [_text(p.get("content", "")) if isinstance(p, Mapping) else str(p) for p in system]
        messages.append({"role": "system", "content": "\n".join(texts)})
    for msg in parse_json(attrs.get(A.GEN_AI_INPUT_MESSAGES)) or ():
        if isinstance(msg, Mapping):
            messages.extend(_chat_message(msg))
    request: dict[str, Any] = {
        "model": attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL),
        "messages": messages,
    }
    for attr, key in _SCALARS:
        if attrs.get(attr) is not None:
            request[key] = attrs[attr]
    stop = attrs.get(A.GEN_AI_REQUEST_STOP_SEQUENCES)
    if stop:
        request["stop"] = list(stop)
    invocation = parse_json(attrs.get(A.OI_LLM_INVOCATION_PARAMETERS))
    invocation = invocation if isinstance(invocation, Mapping) else {}
    for key in _INVOCATION_OPTIONS:
        if invocation.get(key) is not None and not (
            key == "response_format" and not isinstance(invocation[key], Mapping)
        ):
            request[key] = invocation[key]
    if attrs.get(A.GEN_AI_REQUEST_MAX_TOKENS) is not None and "max_completion_tokens" not in request:
        request["max_tokens"] = attrs[A.GEN_AI_REQUEST_MAX_TOKENS]
    tools = _tools(attrs.get(A.GEN_AI_TOOL_DEFINITIONS))
    if tools:
        request["tools"] = tools
    return request


# --- edits --------------------------------------------------------------------------------
def editable(request: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    """``(index, role, text)`` of every message whose content is plain text."""
    return [
        (i, str(m.get("role")), m["content"])
        for i, m in enumerate(request["messages"])
        if isinstance(m.get("content"), str)
    ]


def with_texts(request: Mapping[str, Any], texts: Mapping[int, str]) -> dict[str, Any]:
    """The request with some messages' text replaced (an edited prompt)."""
    out = copy.deepcopy(dict(request))
    for i, text in texts.items():
        out["messages"][i]["content"] = text
    return out


def _cut(text: str, content: str) -> str | None:
    """``text`` without ``content`` (or the prefix of it that a budget left), and without the
    short label its line starts with; ``None`` when it is not in ``text`` verbatim."""
    start = text.find(content)
    length = len(content)
    if start < 0:  # perhaps truncated: the longest prefix of the document, at a line's end
        for n in range(len(content) - 1, 7, -1):
            hit = text.find(content[:n])
            if hit >= 0 and (hit + n == len(text) or text[hit + n] == "\n"):
                start, length = hit, n
                break
        else:
            return None
    line_start = text.rfind("\n", 0, start) + 1
    end = start + length
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[line_start:start] + text[end:line_end]
    if len(rest.strip()) <= _MAX_LABEL_CHARS:  # the document was the line: drop the line
        return text[:line_start] + text[line_end + 1 :] if line_end < len(text) else text[: max(0, line_start - 1)]
    return text[:start] + text[end:]


def without_document(request: Mapping[str, Any], content: str) -> tuple[dict[str, Any], bool]:
    """The request with one document taken out of every message it appears in; the flag says
    whether it was found (verbatim, or a truncated prefix of it)."""
    out = copy.deepcopy(dict(request))
    found = False
    for m in out["messages"]:
        if isinstance(m.get("content"), str):
            cut = _cut(m["content"], content)
            if cut is not None:
                m["content"], found = cut, True
    return out, found


# --- the call -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Result:
    output: str
    finish_reason: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    tool_calls: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    error: str | None = None


def run(client: Any, request: Mapping[str, Any]) -> Result:
    """Send the request once (no stream) and reduce the reply to what the viewer shows. API
    errors come back as ``Result.error``, never raised."""
    import openai

    started = time.perf_counter()
    try:
        reply = client.chat.completions.create(**request)
    except openai.OpenAIError as exc:
        message = getattr(exc, "message", None) or str(exc)
        return Result(output="", error=f"{type(exc).__name__}: {redact(str(message))}")
    latency = (time.perf_counter() - started) * 1000
    choice = reply.choices[0] if reply.choices else None
    message = choice.message if choice is not None else None
    calls = tuple(
        {"name": c.function.name, "arguments": c.function.arguments}
        for c in (getattr(message, "tool_calls", None) or [])
        if getattr(c, "function", None)
    )
    usage = getattr(reply, "usage", None)
    return Result(
        output=(message.content or "") if message is not None else "",
        finish_reason=choice.finish_reason if choice is not None else None,
        model=reply.model,
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        latency_ms=latency,
        tool_calls=calls,
    )


_KEYLIKE = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """OpenAI's 401 message quotes part of the key it was given: not something to show."""
    return _KEYLIKE.sub("sk-…", text)


def make_client() -> Any:
    """An ``openai.OpenAI`` client from the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``)."""
    import openai

    return openai.OpenAI(max_retries=1, timeout=60)


def remaining_documents(docs: Sequence[Mapping[str, Any]], removed: str | None) -> list[dict[str, Any]]:
    """The documents the replayed answer is checked against: the trace's, minus the removed one."""
    return [{"id": d.get("id"), "content": d.get("content") or ""} for d in docs if d.get("id") != removed]
