"""Stream states: fold anthropic stream events into a response-shaped object.

``add`` runs once per event on the user's thread, so it does the least it can: remember ids,
usage and the stop reason, and append text, thinking and tool-input fragments (only when
content is captured). ``result`` runs once, when the stream ends, and builds an object the
response extractors in ``_anthropic_extract`` read like a ``Message``. A stream that ended
early yields what arrived.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace as NS
from typing import Any

# content_block_delta types -> the delta's field holding the fragment (signature and citation
# deltas carry no text of the answer).
_DELTA_VALUE = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


class _Block:
    __slots__ = ("fragments", "start")

    def __init__(self, start: Any) -> None:
        self.start = start  # the content_block of content_block_start
        self.fragments: list[str] = []

    def build(self) -> Any:
        kind = getattr(self.start, "type", None)
        joined = "".join(self.fragments)
        if kind == "text":
            return NS(type="text", text=joined)
        if kind == "thinking":
            return NS(type="thinking", thinking=joined)
        if kind in ("tool_use", "server_tool_use"):
            return NS(type=kind, id=self.start.id, name=self.start.name, input=_json(joined, self.start.input))
        return self.start  # redacted_thinking, tool results of server tools...: complete at start


def _json(raw: str, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # cut mid-way: keep what arrived


class MessageStreamState:
    """``messages.create(stream=True)`` / ``messages.stream()`` events (``RawMessageStreamEvent``)."""

    __slots__ = ("blocks", "capture", "creation", "id", "input", "model", "output", "read", "stop_reason")

    def __init__(self, kwargs: Mapping[str, Any], capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.input: int | None = None
        self.read: int | None = None
        self.creation: int | None = None
        self.output: int | None = None
        self.blocks: dict[int, _Block] = {}

    def _usage(self, usage: Any) -> None:
        # message_start has them all; message_delta the final output count (and, in newer API
        # versions, the input counts again, else null).
        value = getattr(usage, "input_tokens", None)
        if value is not None:
            self.input = value
        value = getattr(usage, "cache_read_input_tokens", None)
        if value is not None:
            self.read = value
        value = getattr(usage, "cache_creation_input_tokens", None)
        if value is not None:
            self.creation = value
        value = getattr(usage, "output_tokens", None)
        if value is not None:
            self.output = value

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                block = self.blocks.get(event.index)
                delta = event.delta
                name = _DELTA_VALUE.get(delta.type)
                if block is not None and name is not None:
                    block.fragments.append(getattr(delta, name))
        elif kind == "content_block_start":
            self.blocks[event.index] = _Block(event.content_block)
        elif kind == "message_start":
            message = event.message
            self.id, self.model = message.id, message.model
            self._usage(message.usage)
        elif kind == "message_delta":
            stop = getattr(event.delta, "stop_reason", None)
            if stop is not None:
                self.stop_reason = stop
            if event.usage is not None:
                self._usage(event.usage)

    def result(self, how: str) -> Any:
        usage = None
        if self.input is not None or self.output is not None:
            usage = NS(
                input_tokens=self.input,
                cache_read_input_tokens=self.read,
                cache_creation_input_tokens=self.creation,
                output_tokens=self.output,
            )
        return NS(
            id=self.id,
            model=self.model,
            stop_reason=self.stop_reason,
            usage=usage,
            content=[self.blocks[i].build() for i in sorted(self.blocks)],
        )


class CompletionStreamState:
    """Legacy ``completions.create(stream=True)`` events (``Completion``; anthropic 0.x)."""

    __slots__ = ("capture", "id", "model", "stop_reason", "text")

    def __init__(self, kwargs: Mapping[str, Any], capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.text: list[str] = []

    def add(self, event: Any) -> None:
        if self.id is None:
            self.id, self.model = getattr(event, "id", None), getattr(event, "model", None)
        if self.capture:
            self.text.append(getattr(event, "completion", "") or "")
        stop = getattr(event, "stop_reason", None)
        if stop is not None:
            self.stop_reason = stop

    def result(self, how: str) -> Any:
        return NS(id=self.id, model=self.model, stop_reason=self.stop_reason, completion="".join(self.text))
