"""A local stand-in for the OpenAI API, used by the demo when no OPENAI_API_KEY is set.

It is an HTTP transport for the real ``openai`` client: requests go through the real
client (and so through Spyglass's instrumentation) but are answered here, offline, by a
small script: answers stitched from the documents in the prompt, plus the scripted
misbehaviours the demo needs (a made-up fact, a leaked e-mail address, a server error, a
tool call). It is not a language model, and every answer says where it came from.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

MODEL = "gpt-4o-mini-2024-07-18"
HOST = "stand-in.spyglass.local"
BASE_URL = f"http://{HOST}/v1"


def _usage(messages: list[dict[str, Any]], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "")) for m in messages) // 4 + 8
    completion = max(1, len(text) // 4)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    return usage


def _context_sentences(messages: list[dict[str, Any]]) -> dict[str, str]:
    """``[doc-id] text`` lines of the system prompt, by id."""
    system = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"\[(kb-[\w-]+)\] ([^\n]+)", system)}


def _question(messages: list[dict[str, Any]]) -> str:
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    return users[-1] if users else ""


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]


def answer(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The scripted reply: ``{"content": ...}`` or ``{"tool_call": ...}`` or ``{"status": 500}``."""
    question = _question(messages).lower()
    docs = _context_sentences(messages)
    tool_results = [m for m in messages if m.get("role") == "tool"]
    if "l3" in question and "compare" in question:
        return {"status": 500}
    if "order" in question and not tool_results:
        number = re.search(r"\d{3,}", question)
        return {
            "tool_call": {
                "name": "lookup_order",
                "arguments": json.dumps({"order_id": number.group(0) if number else "unknown"}),
            }
        }
    if tool_results:
        status = json.loads(str(tool_results[-1].get("content") or "{}"))
        return {
            "content": f"Your order {status.get('order_id')} is {status.get('status')}; it should arrive "
            f"by {status.get('eta')}. [kb-orders]"
        }
    if "battery" in question and "kb-battery" in docs:
        # The scripted hallucination: 18 hours and Norway appear in no document.
        return {
            "content": "The Lighthouse L2 uses a 4,000 mAh lithium-ion battery. A full charge lasts about "
            "18 hours, and the battery is made in Norway. [kb-battery]"
        }
    if "password" in question:
        email = re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", _question(messages))
        who = email.group(0) if email else "your address"
        return {
            "content": f"Open the app, tap Account, then Forgot password; a link will be sent to {who}. "
            f"It expires after 1 hour. [kb-reset]"
        }
    if not docs:
        return {"content": "I could not find this in the documentation."}
    best_id, best = next(iter(docs.items()))
    return {"content": f"{_first_sentence(best)} [{best_id}]"}


def _completion(body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    created = int(time.time())
    if "tool_call" in reply:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_standin_1", "type": "function", "function": reply["tool_call"]}],
        }
        finish, text = "tool_calls", reply["tool_call"]["arguments"]
    else:
        message, finish, text = {"role": "assistant", "content": reply["content"]}, "stop", reply["content"]
    return {
        "id": f"chatcmpl-standin-{created}-{abs(hash(text)) % 10_000}",
        "object": "chat.completion",
        "created": created,
        "model": MODEL,
        "system_fingerprint": "fp_standin",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(messages, text),
    }


def _sse(completion: dict[str, Any], include_usage: bool) -> bytes:
    """The same completion as server-sent chunks, a few words per chunk."""
    text = completion["choices"][0]["message"]["content"] or ""
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    chunks = [
        {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    for piece in re.findall(r"\S+\s*", text):
        chunks.append(
            {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
        )
    chunks.append(
        {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    )
    if include_usage:
        chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]})
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def handler(http: Any) -> Callable[[Any], Any]:
    """A request handler for ``http.MockTransport`` (``http`` is httpx2 or httpx)."""

    def handle(request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        reply = answer(body.get("messages") or [])
        if reply.get("status"):
            return http.Response(
                reply["status"],
                json={
                    "error": {
                        "message": "The stand-in server had an error while processing your request (scripted).",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
        completion = _completion(body, reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return http.Response(
                200, content=_sse(completion, include_usage), headers={"content-type": "text/event-stream"}
            )
        return http.Response(200, json=completion)

    return handle
