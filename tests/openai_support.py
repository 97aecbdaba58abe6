"""Helpers for the openai integration tests: the recorded cassettes, an in-memory span
exporter, and synthetic HTTP responses built on the client's own transport (``httpx2`` for
openai 3.x, ``httpx`` before)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openai
import vcr

from . import _recorded
from ._recorded import REPO, Handler, Spans, attrs, dump, event_stream, transport_module

# The helpers the tests import (REPO, Spans, attrs and dump come from tests/_recorded.py).
__all__ = [
    "OPENAI_VERSION",
    "REPLAY",
    "REPO",
    "USER_ONLY_PROMPT",
    "WEATHER_TOOL",
    "WEATHER_TOOL_PROMPT",
    "Spans",
    "attrs",
    "cassettes_dir",
    "chat_chunks",
    "chat_completion",
    "clients",
    "dump",
    "http",
    "json_response",
    "sse",
]


OPENAI_VERSION = tuple(int(p) for p in openai.__version__.split(".")[:2])
http = transport_module(openai.DefaultHttpxClient)

USER_ONLY_PROMPT = [{"role": "user", "content": "Say this is a test"}]
WEATHER_TOOL_PROMPT = [
    {"role": "system", "content": "You're a helpful assistant."},
    {"role": "user", "content": "What's the weather in Seattle and San Francisco today?"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "The city and state, e.g. Boston, MA"}},
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}


def cassettes_dir() -> Path:
    """``../shared/cassettes/openai`` (see tests/_recorded.py)."""
    return _recorded.cassettes_dir("openai", "OpenAI")


def _listify_scalar_headers(response: dict[str, Any]) -> dict[str, Any]:
    # Some cassettes store headers as scalars; vcrpy wants lists (see shared/TESTING.md).
    response["headers"] = {k: v if isinstance(v, list) else [v] for k, v in (response.get("headers") or {}).items()}
    return response


REPLAY = vcr.VCR(
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path", "query"],
    decode_compressed_response=True,
    before_record_response=_listify_scalar_headers,
)


# --- synthetic responses (no recording covers these) ---------------------------------------


def clients(handler: Handler, **kwargs: Any) -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    """A sync and an async client whose HTTP goes to ``handler(request) -> response``."""
    kwargs.setdefault("api_key", "sk-test-SECRETKEY0123456789abcdef")
    kwargs.setdefault("max_retries", 0)
    transport = http.MockTransport(handler)
    sync = openai.OpenAI(http_client=openai.DefaultHttpxClient(transport=transport), **kwargs)
    async_ = openai.AsyncOpenAI(http_client=openai.DefaultAsyncHttpxClient(transport=transport), **kwargs)
    return sync, async_


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    return http.Response(status, json=body, headers=headers or {})


def sse(events: Iterable[Any], *, done: bool = True, fail_after: int | None = None) -> Any:
    """A ``text/event-stream`` response; ``fail_after=k`` drops the connection after k events."""
    frames = [
        # (event name, data): the Responses API's framing; else chat completions' data-only one
        f"event: {e[0]}\ndata: {json.dumps(e[1])}\n\n".encode()
        if isinstance(e, tuple)
        else f"data: {json.dumps(e)}\n\n".encode()
        for e in events
    ]
    return event_stream(http, [*frames, b"data: [DONE]\n\n"] if done else frames, fail_after=fail_after)


def chat_completion(
    content: str | None = "Hello there.",
    *,
    refusal: str | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    finish: str = "stop",
    cached: int = 0,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-synthetic",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "logprobs": None,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 20,
            "total_tokens": 1020,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def chat_chunks(n: int, *, usage: bool = False, model: str = "gpt-4o-mini-2024-07-18") -> list[dict[str, Any]]:
    """``n`` content chunks ("w0 w1 ..."), the last one with finish_reason stop."""
    chunks = []
    for i in range(n):
        chunks.append(
            {
                "id": "chatcmpl-stream",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": f"w{i} "} if i == 0 else {"content": f"w{i} "},
                        "finish_reason": "stop" if i == n - 1 else None,
                    }
                ],
            }
        )
    if usage:
        chunks.append(
            {
                "id": "chatcmpl-stream",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n},
            }
        )
    return chunks
