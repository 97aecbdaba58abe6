"""The life of one traced call: start a span, make it current, capture, end it exactly once.

The decorators (``_decorators.py``) and the ``span()`` context manager are thin shells
around :class:`Spec` and :class:`Call`; everything that touches telemetry goes through the
guard here, so a failure in our code never changes what the user's function does.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as A
from ._documents import normalize_documents
from ._guard import guard
from ._serialize import to_text
from ._settings import Settings, settings
from .version import __version__

_tracer = trace.get_tracer("spyglass", __version__)

# How a span type records its output: LLM text becomes a GenAI output message, retriever
# results become documents; everything else is a plain output value.
OutputHook = Callable[["Call", Any, Settings], None]


def set_content(span: Span, key: str, value: Any, s: Settings, mime_key: str | None = None) -> None:
    """Set a captured value on a span: serialised, bounded, scrubbed, user-redacted."""
    text, is_json, cut = to_text(value, s)
    if s.redact is not None:
        redacted = s.redact(key, text)
        if redacted is None:
            return
        text = redacted
    span.set_attribute(key, text)
    if mime_key is not None:
        span.set_attribute(mime_key, A.MIME_JSON if is_json else A.MIME_TEXT)
    if cut:
        span.set_attribute(A.TRUNCATED, key)


class Spec:
    """Everything about a decorated function that can be computed once, at decoration time."""

    __slots__ = ("name", "span_type", "static", "params", "varkw", "capture_input", "capture_output",
                 "output_hook")

    def __init__(self, fn: Callable[..., Any] | None, name: str, span_type: str, static: Mapping[str, Any],
                 capture_input: bool = True, capture_output: bool = True,
                 output_hook: OutputHook | None = None) -> None:
        self.name = name
        self.span_type = span_type
        self.static = {A.SPAN_TYPE: span_type, A.OI_SPAN_KIND: A.OI_KIND_BY_SPAN_TYPE[span_type],
                       **{k: v for k, v in static.items() if v is not None}}
        if fn is not None:
            self.static.setdefault(A.CODE_FUNCTION, getattr(fn, "__qualname__", name))
        self.params: tuple[str, ...] = ()
        self.varkw = False
        if fn is not None:
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):
                sig = None
            if sig is not None:
                self.params = tuple(p.name for p in sig.parameters.values()
                                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.output_hook = output_hook or plain_output

    def inputs(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """Arguments by name, without ``self``/``cls``; a lone argument is captured as itself.

        Mapping positions onto the names computed at decoration time costs far less than
        ``Signature.bind`` on every call.
        """
        names = self.params
        values: dict[str, Any] = {}
        for i, value in enumerate(args):
            name = names[i] if i < len(names) else f"arg{i}"
            if i == 0 and name in ("self", "cls"):
                continue
            values[name] = value
        values.update(kwargs)
        if len(values) == 1:
            return next(iter(values.values()))
        return values

    def start(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> "Call | None":
        with guard("span start"):
            s = settings()
            span = _tracer.start_span(self.name, attributes=self.static)
            call = Call(span, self, s)
            if s.capture_content and self.capture_input and span.is_recording():
                with guard("input capture"):
                    value = self.inputs(args, kwargs)
                    set_content(span, A.OI_INPUT_VALUE, value, s, A.OI_INPUT_MIME_TYPE)
                    if self.span_type == A.SPAN_TYPE_RETRIEVER and isinstance(value, str):
                        span.set_attribute(A.GEN_AI_RETRIEVAL_QUERY_TEXT, value)
            return call
        return None


class Call:
    """One running span. ``finish``/``fail``/``close`` end it; only the first one counts."""

    __slots__ = ("span", "spec", "settings", "ended", "ctx", "items", "count")

    def __init__(self, span: Span, spec: Spec, s: Settings) -> None:
        self.span = span
        self.spec = spec
        self.settings = s
        self.ended = False
        self.ctx = trace.set_span_in_context(span)
        self.items: list[Any] | None = None
        self.count = 0

    # --- making the span current ------------------------------------------------------
    def attach(self) -> object:
        return otel_context.attach(self.ctx)

    @staticmethod
    def detach(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    # --- streams ------------------------------------------------------------------------
    def add_item(self, item: Any) -> None:
        """Remember what a traced generator yielded (bounded), to record it as the output."""
        self.count += 1
        if self.items is None:
            self.items = []
        if len(self.items) < self.settings.max_items:
            self.items.append(item)

    # --- ending -------------------------------------------------------------------------
    def finish(self, result: Any = None) -> None:
        if self.ended:
            return
        self.ended = True
        with guard("output capture"):
            s = self.settings
            if self.spec.capture_output and s.capture_content and self.span.is_recording():
                self.spec.output_hook(self, result, s)
        self._end()

    def finish_stream(self, return_value: Any = None, *, closed_early: bool = False) -> None:
        """End the span of a generator: its output is what it yielded."""
        if self.ended:
            return
        items = self.items or []
        with guard("stream capture"):
            self.span.set_attribute(A.STREAM_ITEMS, self.count)
            if closed_early:
                self.span.add_event("spyglass.stream.closed_early")
        if items and all(isinstance(i, str) for i in items):
            output: Any = "".join(items)
        else:
            output = items if return_value is None else return_value
        self.finish(output)

    def fail(self, exc: BaseException) -> None:
        if self.ended:
            return
        self.ended = True
        with guard("error capture"):
            span = self.span
            if self.items:
                with guard("stream capture"):
                    span.set_attribute(A.STREAM_ITEMS, self.count)
                    if self.spec.capture_output and self.settings.capture_content:
                        self.spec.output_hook(self, self.items, self.settings)
            span.record_exception(exc, escaped=True)
            span.set_attribute(A.ERROR_TYPE, type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1000]))
        self._end()

    def _end(self) -> None:
        with guard("span end"):
            self.span.end()


def plain_output(call: Call, result: Any, s: Settings) -> None:
    set_content(call.span, A.OI_OUTPUT_VALUE, result, s, A.OI_OUTPUT_MIME_TYPE)


def llm_output(call: Call, result: Any, s: Settings) -> None:
    plain_output(call, result, s)
    if isinstance(result, str):
        message = [{"role": "assistant", "parts": [{"type": "text", "content": result}]}]
        set_content(call.span, A.GEN_AI_OUTPUT_MESSAGES, message, s)


def retriever_output(call: Call, result: Any, s: Settings) -> None:
    docs = normalize_documents(result)
    call.span.set_attribute(A.DOCUMENTS_COUNT, len(docs))
    set_content(call.span, A.GEN_AI_RETRIEVAL_DOCUMENTS, docs, s)
    set_content(call.span, A.OI_OUTPUT_VALUE, docs, s, A.OI_OUTPUT_MIME_TYPE)
    for i, doc in enumerate(docs):  # OpenInference flattens documents into indexed keys
        call.span.set_attribute(A.oi_document(i, "id"), doc["id"] or str(i))
        set_content(call.span, A.oi_document(i, "content"), doc["content"], s)
        if doc["score"] is not None:
            call.span.set_attribute(A.oi_document(i, "score"), doc["score"])


def now_ns() -> int:
    return time.time_ns()
