"""Helpers for the openai integration tests: the recorded cassettes, an in-memory span
exporter, and synthetic HTTP responses built on the client's own transport (``httpx2`` for
openai 3.x, ``httpx`` before)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracer import attributes as A

REPO = Path(__file__).resolve().parent.parent
OPENAI_VERSION = tuple(int(p) for p in openai.__version__.split(".")[:2])

try:  # openai 3.x sends through httpx2; older clients through httpx
    import httpx2 as _http

    if not issubclass(openai.DefaultHttpxClient, _http.Client):
        raise ImportError  # noqa: TRY004 - falls through to the older transport below
except ImportError:  # pragma: no cover - depends on the installed client
    import httpx as _http  # type: ignore[no-redef]

http = _http

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

CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_DEFINITIONS,
    A.OI_LLM_INVOCATION_PARAMETERS,
)


def cassettes_dir() -> Path:
    """``../shared/cassettes/openai`` next to the repo (``SPYGLASS_SHARED`` overrides the
    ``shared`` folder). Missing: skip, except under ``CI=true`` where that is a failure."""
    shared = Path(os.environ.get("SPYGLASS_SHARED") or REPO.parent / "shared")
    folder = shared / "cassettes" / "openai"
    if not folder.is_dir():
        reason = (
            f"recorded OpenAI cassettes not found at {folder} (set SPYGLASS_SHARED to the folder "
            f"holding cassettes/openai)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


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


class Spans:
    """A private tracer provider with an in-memory exporter, for exact span assertions."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def one(self) -> ReadableSpan:
        spans = self.finished()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def clear(self) -> None:
        self.exporter.clear()


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """Span attributes with the JSON content attributes decoded."""
    out = dict(span.attributes or {})
    for key in CONTENT_KEYS:
        if key in out:
            out[key] = json.loads(out[key])
    if out.get(A.OI_INPUT_MIME_TYPE) == A.MIME_JSON:
        out[A.OI_INPUT_VALUE] = json.loads(out[A.OI_INPUT_VALUE])
    if out.get(A.OI_OUTPUT_MIME_TYPE) == A.MIME_JSON:
        out[A.OI_OUTPUT_VALUE] = json.loads(out[A.OI_OUTPUT_VALUE])
    return out


def dump(value: Any) -> Any:
    """What a call returned, comparable across runs: pydantic models dumped, lists recursed."""
    if isinstance(value, list):
        return [dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return (type(value).__name__, value.model_dump())
    return value


# --- synthetic responses (no recording covers these) ---------------------------------------
Handler = Callable[[Any], Any]


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
    items = list(events)

    def body() -> Iterator[bytes]:
        for i, event in enumerate(items):
            if fail_after is not None and i == fail_after:
                raise http.ReadError("connection dropped (synthetic)")
            if isinstance(event, tuple):  # (event name, data): the Responses API's framing
                yield f"event: {event[0]}\ndata: {json.dumps(event[1])}\n\n".encode()
            else:
                yield f"data: {json.dumps(event)}\n\n".encode()
        if done:
            yield b"data: [DONE]\n\n"

    class Stream(http.SyncByteStream, http.AsyncByteStream):  # type: ignore[misc]
        def __iter__(self) -> Iterator[bytes]:
            return body()

        async def __aiter__(self) -> Any:
            for chunk in body():
                yield chunk

    return http.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream())


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
