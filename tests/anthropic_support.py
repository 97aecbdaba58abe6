"""Helpers for the anthropic integration tests: the recorded cassettes and their request
bodies, an in-memory span exporter, expected costs, and synthetic HTTP responses built on the
client's own transport (``httpx2`` for anthropic 2.x, ``httpx`` before)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
import vcr
import yaml  # type: ignore[import-untyped]
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from integrations import _pricing
from tracer import attributes as A

REPO = Path(__file__).resolve().parent.parent
ANTHROPIC_VERSION = tuple(int(p) for p in anthropic.__version__.split(".")[:2])

try:  # anthropic 2.x sends through httpx2; older clients through httpx
    import httpx2 as _http

    if not issubclass(anthropic.DefaultHttpxClient, _http.Client):
        raise ImportError  # noqa: TRY004 - falls through to the older transport below
except ImportError:  # pragma: no cover - depends on the installed client
    import httpx as _http  # type: ignore[no-redef]

http = _http

CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_DEFINITIONS,
    A.OI_LLM_INVOCATION_PARAMETERS,
)


def cassettes_dir() -> Path:
    """``../shared/cassettes/anthropic`` next to the repo (``SPYGLASS_SHARED`` overrides the
    ``shared`` folder). Missing: skip, except under ``CI=true`` where that is a failure."""
    shared = Path(os.environ.get("SPYGLASS_SHARED") or REPO.parent / "shared")
    folder = shared / "cassettes" / "anthropic"
    if not folder.is_dir():
        reason = (
            f"recorded Anthropic cassettes not found at {folder} (set SPYGLASS_SHARED to the folder "
            f"holding cassettes/anthropic)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


# INDEX.md: method and path only (bodies drift between client versions; the beta call's
# ?beta=true query is the client's own marker).
REPLAY = vcr.VCR(record_mode="none", match_on=["method", "path"], decode_compressed_response=True)


def recorded_bodies(cassette: Path) -> list[dict[str, Any]]:
    """The JSON request bodies the cassette recorded, in order."""
    data = yaml.safe_load(cassette.read_text())
    return [json.loads(i["request"]["body"]) for i in data["interactions"]]


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
    out: dict[str, Any] = dict(span.attributes or {})
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


def expected_cost(model: str, input_total: int, output: int, read: int = 0, creation: int = 0) -> float | None:
    """The cost the shared contract gives, from the price table: per 1M tokens,
    (input - read - creation) * input + read * cached_input + creation * cache_write + output * output.
    ``None`` when the model is not priced (yet)."""
    price = _pricing.price_for(model)
    if price is None:
        return None
    cached_rate = price.input if price.cached_input is None else price.cached_input
    write = getattr(price, "cache_write", None)
    write_rate = price.input if write is None else write
    plain = input_total - read - creation
    return (plain * price.input + read * cached_rate + creation * write_rate + output * price.output) / 1e6


def check_cost(a: dict[str, Any], model: str, input_total: int, output: int, read: int = 0, creation: int = 0) -> None:
    cost = expected_cost(model, input_total, output, read, creation)
    if cost is None:
        assert a.get(A.COST_MISSING_PRICE) == model, "an unpriced model is named, not costed"
        pytest.skip(f"{model} is not in the price table yet (integrations/_pricing.py): cost not checked")
    assert a[A.COST_USD] == pytest.approx(cost, rel=1e-12)


# --- synthetic responses (no recording covers these) ---------------------------------------
Handler = Callable[[Any], Any]
API_KEY = "sk-ant-api03-SECRETKEY0123456789abcdefghijklmnop"


def clients(handler: Handler, **kwargs: Any) -> tuple[Any, Any]:
    """A sync and an async client whose HTTP goes to ``handler(request) -> response``."""
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("max_retries", 0)
    transport = http.MockTransport(handler)
    sync = anthropic.Anthropic(http_client=anthropic.DefaultHttpxClient(transport=transport), **kwargs)
    async_ = anthropic.AsyncAnthropic(http_client=anthropic.DefaultAsyncHttpxClient(transport=transport), **kwargs)
    return sync, async_


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    return http.Response(status, json=body, headers=headers or {})


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def sse(events: Iterable[dict[str, Any]], *, fail_after: int | None = None) -> Any:
    """A ``text/event-stream`` response in the Messages API's framing; ``fail_after=k`` drops the
    connection after k events."""
    items = list(events)

    def body() -> Iterator[bytes]:
        for i, event in enumerate(items):
            if fail_after is not None and i == fail_after:
                raise http.ReadError("connection dropped (synthetic)")
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

    class Stream(http.SyncByteStream, http.AsyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            return body()

        async def __aiter__(self) -> Any:
            for chunk in body():
                yield chunk

    return http.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream())


MODEL = "claude-sonnet-4-5-20250929"


def message(text: str = "Paris is the capital of France.", *, stop: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_synthetic",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 7,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }


def stream_events(pieces: Iterable[str] = ("Paris is ", "the capital ", "of France.")) -> list[dict[str, Any]]:
    start = {**message(""), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 10, "output_tokens": 1}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 7},
        },
        {"type": "message_stop"},
    ]
    return events


USER = [{"role": "user", "content": "What is the capital of France?"}]
