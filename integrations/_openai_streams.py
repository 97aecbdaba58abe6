"""Stream states: fold openai stream chunks into a response-shaped object.

``add`` runs once per chunk on the user's thread, so it does the least it can: remember ids,
usage and finish reasons, and append text fragments (only when content is captured).
``result`` runs once, when the stream ends, and builds an object the response extractors in
``_openai_extract`` read like a real response. A stream that ended early yields what arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace as NS
from typing import Any

from tracer import attributes as A


def _finish_for(how: str) -> str | None:
    """The finish reason of a choice whose stream ended before it said one."""
    return "error" if how == A.STREAM_END_ERROR else None


class _Choice:
    __slots__ = ("finish", "function", "refusal", "role", "text", "tools")

    def __init__(self) -> None:
        self.role: str | None = None
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, list[Any]] = {}  # index -> [id, name, [argument fragments]]
        self.function: list[Any] | None = None  # legacy function_call: [name, [fragments]]
        self.finish: str | None = None


class ChatStreamState:
    """``chat.completions.create(stream=True)`` chunks (``ChatCompletionChunk``)."""

    __slots__ = ("capture", "choices", "fingerprint", "id", "model", "tier", "usage")

    def __init__(self, kwargs: Mapping[str, Any], capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.fingerprint: str | None = None
        self.tier: str | None = None
        self.usage: Any = None
        self.choices: dict[int, _Choice] = {}

    def add(self, chunk: Any) -> None:
        if self.id is None:
            self.id, self.model = chunk.id, chunk.model
        # The fields a chunk may lack (an older client, an OpenAI-compatible server) are read
        # with getattr; those of every client we support, directly.
        fingerprint = getattr(chunk, "system_fingerprint", None)
        if fingerprint:
            self.fingerprint = fingerprint
        tier = getattr(chunk, "service_tier", None)
        if tier:
            self.tier = tier
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = _Choice()
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content and self.capture:
                    state.text.append(content)
                if delta.role:
                    state.role = delta.role
                if delta.tool_calls:
                    self._tool_calls(state, delta.tool_calls)
                refusal = getattr(delta, "refusal", None)
                if refusal and self.capture:
                    state.refusal.append(refusal)
                fc = getattr(delta, "function_call", None)
                if fc is not None:
                    if state.function is None:
                        state.function = [None, []]
                    if fc.name:
                        state.function[0] = fc.name
                    if fc.arguments and self.capture:
                        state.function[1].append(fc.arguments)
            if choice.finish_reason:
                state.finish = choice.finish_reason

    def _tool_calls(self, state: _Choice, calls: Any) -> None:
        for call in calls:
            acc = state.tools.get(call.index)
            if acc is None:
                acc = state.tools[call.index] = [None, None, []]
            if call.id:
                acc[0] = call.id
            fn = call.function
            if fn is not None:
                if fn.name:
                    acc[1] = fn.name
                if fn.arguments and self.capture:
                    acc[2].append(fn.arguments)

    def result(self, how: str) -> Any:
        choices = []
        for index in sorted(self.choices):
            c = self.choices[index]
            calls = [
                NS(id=t[0], type="function", function=NS(name=t[1], arguments="".join(t[2])))
                for _, t in sorted(c.tools.items())
            ]
            function = NS(name=c.function[0], arguments="".join(c.function[1])) if c.function else None
            message = NS(
                role=c.role or "assistant",
                content="".join(c.text) or None,
                refusal="".join(c.refusal) or None,
                tool_calls=calls or None,
                function_call=function,
            )
            choices.append(NS(index=index, message=message, finish_reason=c.finish or _finish_for(how)))
        return NS(
            id=self.id,
            model=self.model,
            choices=choices,
            usage=self.usage,
            system_fingerprint=self.fingerprint,
            service_tier=self.tier,
        )


class CompletionStreamState:
    """Legacy ``completions.create(stream=True)`` chunks (``Completion``)."""

    __slots__ = ("capture", "fingerprint", "finish", "id", "model", "text", "usage")

    def __init__(self, kwargs: Mapping[str, Any], capture: bool) -> None:
        self.capture = capture
        self.id: str | None = None
        self.model: str | None = None
        self.fingerprint: str | None = None
        self.usage: Any = None
        self.text: dict[int, list[str]] = {}
        self.finish: dict[int, str] = {}

    def add(self, chunk: Any) -> None:
        if self.id is None:
            self.id, self.model = chunk.id, chunk.model
            self.fingerprint = getattr(chunk, "system_fingerprint", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            fragments = self.text.get(choice.index)
            if fragments is None:
                fragments = self.text[choice.index] = []
            if self.capture and choice.text:
                fragments.append(choice.text)
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason

    def result(self, how: str) -> Any:
        choices = [
            NS(index=i, text="".join(self.text[i]), finish_reason=self.finish.get(i) or _finish_for(how))
            for i in sorted(self.text)
        ]
        return NS(
            id=self.id,
            model=self.model,
            choices=choices,
            usage=self.usage,
            system_fingerprint=self.fingerprint,
            service_tier=None,
        )


class ResponsesStreamState:
    """``responses.create(stream=True)`` events (``ResponseStreamEvent``)."""

    __slots__ = ("capture", "error", "items", "response", "text")

    _SNAPSHOTS = frozenset(
        {
            "response.created",
            "response.in_progress",
            "response.completed",
            "response.incomplete",
            "response.failed",
            "response.queued",
        }
    )

    def __init__(self, kwargs: Mapping[str, Any], capture: bool) -> None:
        self.capture = capture
        self.response: Any = None  # the latest snapshot; complete after response.completed
        self.text: dict[int, list[str]] = {}
        self.items: dict[int, Any] = {}
        self.error: Any = None

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            if self.capture:
                fragments = self.text.get(event.output_index)
                if fragments is None:
                    fragments = self.text[event.output_index] = []
                fragments.append(event.delta)
        elif kind in self._SNAPSHOTS:
            self.response = event.response
        elif kind == "response.output_item.done":
            self.items[event.output_index] = event.item
        elif kind == "error":
            self.error = event

    def result(self, how: str) -> Any:
        r = self.response
        status = getattr(r, "status", None)
        if status in ("completed", "incomplete", "failed") and self.error is None:
            return r
        output = []
        for index in sorted(set(self.items) | set(self.text)):
            item = self.items.get(index)
            if item is None:  # still streaming when it ended: keep the text that arrived
                item = NS(
                    type="message", role="assistant", content=[NS(type="output_text", text="".join(self.text[index]))]
                )
            output.append(item)
        error = None
        if self.error is not None:
            status, error = "failed", NS(code=getattr(self.error, "code", None) or "stream_error")
        elif how != A.STREAM_END_COMPLETED:
            status = "failed" if how == A.STREAM_END_ERROR else "incomplete"
        return NS(
            id=getattr(r, "id", None),
            model=getattr(r, "model", None),
            status=status,
            error=error,
            incomplete_details=NS(reason=how) if status == "incomplete" else None,
            output=output,
            usage=getattr(r, "usage", None),
            service_tier=getattr(r, "service_tier", None),
        )
