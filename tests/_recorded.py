"""What the openai and anthropic test helpers share: the recorded-cassette folder, an in-memory
span exporter, decoded attributes, comparable return values, and streamed HTTP bodies on the
client's own transport module (``httpx2`` for the newest Stainless clients, ``httpx`` before)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracer import attributes as A

REPO = Path(__file__).resolve().parent.parent

CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_DEFINITIONS,
    A.OI_LLM_INVOCATION_PARAMETERS,
)


def transport_module(default_client: type) -> ModuleType:
    """The HTTP library a client sends through: ``httpx2`` when its default client is one."""
    try:
        import httpx2

        if issubclass(default_client, httpx2.Client):
            return httpx2
    except ImportError:  # pragma: no cover - depends on the installed client
        pass
    import httpx

    return httpx


def cassettes_dir(provider: str, label: str) -> Path:
    """``../shared/cassettes/<provider>`` next to the repo (``SPYGLASS_SHARED`` overrides the
    ``shared`` folder). Missing: skip, except under ``CI=true`` where that is a failure."""
    shared = Path(os.environ.get("SPYGLASS_SHARED") or REPO.parent / "shared")
    folder = shared / "cassettes" / provider
    if not folder.is_dir():
        reason = (
            f"recorded {label} cassettes not found at {folder} (set SPYGLASS_SHARED to the folder "
            f"holding cassettes/{provider})"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


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


def event_stream(http: ModuleType, frames: Sequence[bytes], *, fail_after: int | None = None) -> Any:
    """A ``text/event-stream`` response of ``frames``; ``fail_after=k`` drops the connection
    after k frames (synthetic: no recording has a cut stream)."""

    def body() -> Iterator[bytes]:
        for i, frame in enumerate(frames):
            if fail_after is not None and i == fail_after:
                raise http.ReadError("connection dropped (synthetic)")
            yield frame

    class Stream(http.SyncByteStream, http.AsyncByteStream):  # type: ignore[name-defined]
        def __iter__(self) -> Iterator[bytes]:
            return body()

        async def __aiter__(self) -> Any:
            for chunk in body():
                yield chunk

    return http.Response(200, headers={"content-type": "text/event-stream"}, stream=Stream())


Handler = Callable[[Any], Any]
