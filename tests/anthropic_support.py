"""Helpers for the anthropic integration tests: the recorded cassettes and their request
bodies, an in-memory span exporter, expected costs, and synthetic HTTP responses built on the
client's own transport (``httpx2`` for anthropic 2.x, ``httpx`` before)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anthropic
import pytest
import vcr
import yaml  # type: ignore[import-untyped]

from integrations import _pricing
from tracer import attributes as A

from . import _recorded
from ._recorded import REPO, Handler, Spans, attrs, dump, event_stream, transport_module

# The helpers the tests import (REPO, Spans, attrs and dump come from tests/_recorded.py).
__all__ = [
    "ANTHROPIC_VERSION",
    "API_KEY",
    "MODEL",
    "REPLAY",
    "REPO",
    "USER",
    "Spans",
    "attrs",
    "cassettes_dir",
    "check_cost",
    "clients",
    "dump",
    "error_body",
    "expected_cost",
    "http",
    "json_response",
    "message",
    "recorded_bodies",
    "sse",
    "stream_events",
]


ANTHROPIC_VERSION = tuple(int(p) for p in anthropic.__version__.split(".")[:2])
http = transport_module(anthropic.DefaultHttpxClient)


def cassettes_dir() -> Path:
    """``../shared/cassettes/anthropic`` (see tests/_recorded.py)."""
    return _recorded.cassettes_dir("anthropic", "Anthropic")


# INDEX.md: method and path only (bodies drift between client versions; the beta call's
# ?beta=true query is the client's own marker).
REPLAY = vcr.VCR(record_mode="none", match_on=["method", "path"], decode_compressed_response=True)


def recorded_bodies(cassette: Path) -> list[dict[str, Any]]:
    """The JSON request bodies the cassette recorded, in order."""
    data = yaml.safe_load(cassette.read_text())
    return [json.loads(i["request"]["body"]) for i in data["interactions"]]


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
    frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return event_stream(http, frames, fail_after=fail_after)


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
