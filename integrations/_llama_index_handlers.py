"""The span and event handlers Spyglass adds to LlamaIndex's root dispatcher.

LlamaIndex's instrumentation (``llama_index.core.instrumentation``) calls a span handler when
each ``@dispatcher.span`` method enters, exits or fails, with the instance, the bound
arguments, the result or the exception, and the id of the enclosing LlamaIndex span; and an
event handler with typed events (``LLMChatStartEvent``...) that carry the id of the span
they belong to. Both are used:

* the span handler owns the OpenTelemetry span of each recorded method (:class:`Recorded`, a
  :class:`tracer._call.Call`, so it ends exactly once through ``SpanEnd`` like a decorated
  call): started on enter, made the current OTel context while the method runs (so that a
  client call inside, say our openai integration's, nests under it), ended on exit or
  failure. Retrievers and steps record their output from the result.
* the event handler fills in LLM calls: the messages or prompt (the LLM methods' own
  arguments are ``*args, **kwargs`` once LlamaIndex's callback wrapper is around them), the
  response, usage, and the end of a stream, which comes long after the method returned.

The dispatcher swallows whatever a handler raises (``except BaseException: pass``), so our
failures never reach the app; every step still runs under :func:`tracer._guard.guard` so
they are reported once, as everywhere else.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
import time
import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span import BaseSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Tracer
from pydantic import PrivateAttr

from tracer import _nesting
from tracer import attributes as A
from tracer._call import Call, Spec, plain_output, retriever_output, set_content, set_encoded
from tracer._guard import guard
from tracer._settings import Settings, settings

from . import _llama_index_extract as X
from . import _pricing
from ._core import Switch

__all__ = ["EventHandler", "Recorded", "SpanHandler"]

TracerSource = Callable[[], Tracer]


def _no_output(call: Call, result: Any, s: Settings) -> None:
    """LLM and embedding spans record their output themselves (from events, from the vector)."""


# What each span type records of a result, as the decorators do (tracer/_call.py): a
# retriever's nodes become documents, a step's answer its output.
_SPECS: dict[str, Spec] = {
    A.SPAN_TYPE_RETRIEVER: Spec(None, "retriever", A.SPAN_TYPE_RETRIEVER, {}, output_hook=retriever_output),
    A.SPAN_TYPE_STEP: Spec(None, "step", A.SPAN_TYPE_STEP, {}, output_hook=plain_output),
    A.SPAN_TYPE_LLM: Spec(None, "llm", A.SPAN_TYPE_LLM, {}, output_hook=_no_output),
    A.SPAN_TYPE_EMBEDDING: Spec(None, "embedding", A.SPAN_TYPE_EMBEDDING, {}, output_hook=_no_output),
}
# Where the query is among the bound arguments of a recorded method.
_QUERY_ARGUMENTS = ("str_or_query_bundle", "query", "query_bundle")


class Recorded(Call):
    """One recorded LlamaIndex span: the Call, plus what the handlers need to end it."""

    __slots__ = ("chunks", "first_ns", "instance_id", "role", "start_ns", "token")

    def __init__(self, span: Span, role: X.Role, instance: Any, s: Settings) -> None:
        super().__init__(span, _SPECS[role.span_type], s)
        self.role = role
        self.instance_id = id(instance)
        self.token: object = None
        self.start_ns = time.time_ns()
        self.first_ns: int | None = None
        self.chunks = 0

    def release(self) -> None:
        """Undo the attach of enter (Call.detach's token, kept here). Only the first call acts."""
        token, self.token = self.token, None
        if token is None:
            return
        if isinstance(token, contextvars.Token):
            # Not otel_context.detach, which logs an error: a method that returns a Future exits
            # in the event loop's copy of the Context, where this token cannot be reset; that
            # copy is dropped after the callback, and the caller's Context goes on unchanged.
            try:
                token.var.reset(token)
            except (ValueError, RuntimeError):
                pass
        else:  # another OTel runtime context (OTEL_PYTHON_CONTEXT)
            otel_context.detach(token)  # type: ignore[arg-type]


class _Node(BaseSpan):
    """What the dispatcher keeps for every open LlamaIndex span, recorded or not: the nearest
    recorded span at or above it, which its children hang on."""

    _owner: Recorded | None = PrivateAttr(default=None)
    _own: bool = PrivateAttr(default=False)  # the owner is this span itself


def _query(bound_args: inspect.BoundArguments) -> str | None:
    arguments = bound_args.arguments
    for name in _QUERY_ARGUMENTS:
        if name in arguments:
            return X.query_text(arguments[name])
    return None


def _start_attributes(role: X.Role, instance: Any, spec: Spec) -> tuple[dict[str, Any], bool]:
    """The span's attributes known at enter (not content), and whether its provider is a guess."""
    attrs = dict(spec.static)
    guessed = False
    if role.span_type == A.SPAN_TYPE_LLM:
        attrs.update(X.llm_request(instance, role))
        _, guessed = X.provider_of(instance, attrs.get(A.GEN_AI_REQUEST_MODEL))
    elif role.span_type == A.SPAN_TYPE_EMBEDDING:
        attrs[A.GEN_AI_OPERATION_NAME] = A.OP_EMBEDDINGS
        model = X.model_of(instance)
        if model is not None:
            attrs[A.GEN_AI_REQUEST_MODEL] = model
            attrs[A.OI_EMBEDDING_MODEL_NAME] = model
        provider, guessed = X.provider_of(instance, model)
        if provider is not None:
            attrs[A.GEN_AI_PROVIDER_NAME] = provider
    elif role.span_type == A.SPAN_TYPE_RETRIEVER:
        attrs[A.GEN_AI_OPERATION_NAME] = A.OP_RETRIEVAL
        top_k = getattr(instance, "similarity_top_k", None)
        if isinstance(top_k, int) and not isinstance(top_k, bool):
            attrs[A.GEN_AI_RETRIEVAL_TOP_K] = top_k
    return attrs, guessed


def _capture_query(call: Recorded, bound_args: inspect.BoundArguments) -> None:
    query = _query(bound_args)
    if query is None:
        return
    span, s = call.span, call.settings
    encoded = set_content(span, A.OI_INPUT_VALUE, query, s, A.OI_INPUT_MIME_TYPE)
    if call.role.span_type == A.SPAN_TYPE_RETRIEVER:
        set_encoded(span, A.GEN_AI_RETRIEVAL_QUERY_TEXT, encoded, s)


def _is_stream(result: Any) -> bool:
    return isinstance(result, (types.GeneratorType, types.AsyncGeneratorType))


class SpanHandler(BaseSpanHandler[_Node]):
    """Starts, makes current and ends the OpenTelemetry span of each recorded LlamaIndex span."""

    _tracers: TracerSource = PrivateAttr()
    _switch: Switch = PrivateAttr()
    # LLM streams whose method returned: they end on LlamaIndex's end event, an exception
    # event, or when the generator is collected unread. By LlamaIndex span id.
    _streams: dict[str, Recorded] = PrivateAttr(default_factory=dict)
    _streams_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, tracers: TracerSource, switch: Switch) -> None:
        super().__init__()
        self._tracers = tracers
        self._switch = switch

    @classmethod
    def class_name(cls) -> str:
        return "SpyglassSpanHandler"

    # --- enter ------------------------------------------------------------------------------
    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> _Node | None:
        if not self._switch.on:
            return None
        with guard("llama_index span start"):
            parent = self.open_spans.get(parent_span_id) if parent_span_id else None
            owner = parent._owner if parent is not None else None
            node = _Node(id_=id_, parent_id=parent_span_id)
            node._owner = owner
            method = X.method_of(id_)
            role = X.role_of(instance, method)
            if role is None:
                return node
            if owner is not None and owner.instance_id == id(instance) and owner.role.span_type == role.span_type:
                # acomplete -> complete, stream_chat -> stream_complete on one LLM: one call.
                return node
            # Named by the instance's class: older dispatchers name a span by the class that
            # defines the method (BaseQueryEngine.query), newer ones by the instance's.
            recorded = self._start(f"{type(instance).__name__}.{method}", role, instance, bound_args, owner)
            if recorded is not None:
                node._owner, node._own = recorded, True
            return node
        return None

    def _start(
        self, name: str, role: X.Role, instance: Any, bound_args: inspect.BoundArguments, owner: Recorded | None
    ) -> Recorded | None:
        s = settings()
        spec = _SPECS[role.span_type]
        attrs, guessed = _start_attributes(role, instance, spec)
        attrs[A.CODE_FUNCTION] = name
        span = self._tracers().start_span(name, context=_parent_context(owner), attributes=attrs)
        if guessed:
            _nesting.provider_guessed(span)
        recorded = Recorded(span, role, instance, s)
        if s.capture_content and span.is_recording() and role.span_type != A.SPAN_TYPE_LLM:
            with guard("llama_index input capture"):
                _capture_query(recorded, bound_args)
        recorded.token = otel_context.attach(recorded.ctx)
        return recorded

    # --- exit -------------------------------------------------------------------------------
    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> _Node | None:
        node = self.open_spans.get(id_)
        if node is None:
            return None
        if node._own and node._owner is not None:  # spans started before uninstrument end too
            self._exit(id_, node._owner, result)
        return node

    def _exit(self, id_: str, call: Recorded, result: Any) -> None:
        call.release()
        span_type = call.role.span_type
        if span_type == A.SPAN_TYPE_LLM and _is_stream(result):
            with guard("llama_index stream"):
                self._wait_for_stream(id_, call, result)
                return
        try:
            with guard("llama_index span exit"):
                if span_type == A.SPAN_TYPE_RETRIEVER:
                    call.finish(result)
                elif span_type == A.SPAN_TYPE_STEP:
                    text = X.response_text(result)
                    if text is None:  # a streaming response: its text is read later, by the app
                        call.close()
                    else:
                        call.finish(text)
                elif span_type == A.SPAN_TYPE_EMBEDDING:
                    if isinstance(result, list):
                        call.span.set_attribute(A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(result))
                    call.close()
        finally:
            call.close()  # LLM spans (their response came as an event), and whatever failed above

    def _wait_for_stream(self, id_: str, call: Recorded, stream: Any) -> None:
        call.span.set_attribute(A.GEN_AI_REQUEST_STREAM, True)
        with self._streams_lock:
            self._streams[id_] = call
        weakref.finalize(stream, self._abandoned, id_)

    def stream(self, id_: str | None) -> Recorded | None:
        if not id_:
            return None
        return self._streams.get(id_)

    def end_stream(self, id_: str, how: str, exc: BaseException | None = None) -> Recorded | None:
        with self._streams_lock:
            call = self._streams.pop(id_, None)
        if call is None:
            return None
        try:
            with guard("llama_index stream end"):
                attrs: dict[str, Any] = {A.STREAM_END: how, A.STREAM_ITEMS: call.chunks}
                if call.first_ns is not None:
                    attrs[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (call.first_ns - call.start_ns) / 1e9
                call.span.set_attributes(attrs)
        finally:
            if exc is not None:
                call.fail(exc)
            else:
                call.close()
        return call

    def _abandoned(self, id_: str) -> None:
        with guard("llama_index stream abandoned"):
            self.end_stream(id_, A.STREAM_END_ABANDONED)

    # --- failure ----------------------------------------------------------------------------
    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> _Node | None:
        node = self.open_spans.get(id_)
        if node is None:
            return None
        call = node._owner
        if node._own and call is not None:
            call.release()
            if err is not None:
                call.fail(err)
            else:
                call.close()
        return node

    # --- uninstrument -----------------------------------------------------------------------
    def close_all(self) -> None:
        """End every span still open (uninstrument while a query runs: its exit will not reach
        this handler any more). Their contexts stay attached in the threads that run them."""
        with self.lock:
            nodes = list(self.open_spans.values())
            self.open_spans.clear()
        for node in nodes:
            if node._own and node._owner is not None:
                node._owner.close()
        with self._streams_lock:
            ids = list(self._streams)
        for id_ in ids:
            self.end_stream(id_, A.STREAM_END_ABANDONED)


def _parent_context(owner: Recorded | None) -> otel_context.Context | None:
    """The enclosing recorded LlamaIndex span, unless the current OTel span is in its trace
    (then it is that span or one started inside it, by the app or another instrumentation,
    and nests deeper). No enclosing one: the current context (a ``@trace_step`` around
    ``query()``...)."""
    if owner is None:
        return None
    current = trace.get_current_span().get_span_context()
    if current.is_valid and current.trace_id == owner.span.get_span_context().trace_id:
        return None
    return trace.set_span_in_context(owner.span)


# --- events -------------------------------------------------------------------------------------
class EventHandler(BaseEventHandler):
    """Fills in LLM spans from LlamaIndex's LLM events, and ends LLM streams."""

    _spans: SpanHandler = PrivateAttr()
    _switch: Switch = PrivateAttr()

    def __init__(self, spans: SpanHandler, switch: Switch) -> None:
        super().__init__()
        self._spans = spans
        self._switch = switch

    @classmethod
    def class_name(cls) -> str:
        return "SpyglassEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if not self._switch.on:
            return
        on = _ON_EVENT.get(type(event).__name__)
        if on is None:
            return
        with guard("llama_index event"):
            span_id = getattr(event, "span_id", None)
            spans = self._spans
            node = spans.open_spans.get(span_id) if span_id else None
            if node is not None and node._own and node._owner is not None:
                call: Recorded | None = node._owner
                streaming = False
            else:
                call, streaming = spans.stream(span_id), True
            if call is not None and call.role.span_type == A.SPAN_TYPE_LLM and not call.ended:
                on(spans, span_id or "", call, event, streaming)


def _llm_input(call: Recorded, pairs: X.Pairs) -> None:
    s = call.settings
    if not (s.capture_content and call.span.is_recording()):
        return
    for key, value in pairs:
        set_content(call.span, key, value, s, A.OI_INPUT_MIME_TYPE if key == A.OI_INPUT_VALUE else None)


def _on_chat_start(spans: SpanHandler, id_: str, call: Recorded, event: Any, streaming: bool) -> None:
    _llm_input(call, X.chat_input(getattr(event, "messages", None) or ()))


def _on_completion_start(spans: SpanHandler, id_: str, call: Recorded, event: Any, streaming: bool) -> None:
    _llm_input(call, X.completion_input(getattr(event, "prompt", "")))


def _on_chunk(spans: SpanHandler, id_: str, call: Recorded, event: Any, streaming: bool) -> None:
    now = time.time_ns()
    if call.first_ns is None:
        call.first_ns = now
    call.chunks += 1


def _on_end(spans: SpanHandler, id_: str, call: Recorded, event: Any, streaming: bool) -> None:
    response = getattr(event, "response", None)
    if response is not None:
        _llm_output(call, response)
    if streaming:
        spans.end_stream(id_, A.STREAM_END_COMPLETED)


def _on_exception(spans: SpanHandler, id_: str, call: Recorded, event: Any, streaming: bool) -> None:
    if not streaming:
        return  # the method itself raised: the span handler's drop records it
    exc = getattr(event, "exception", None)
    if isinstance(exc, GeneratorExit):  # the app closed the stream (break, close(), collected)
        spans.end_stream(id_, A.STREAM_END_CLOSED)
    else:
        spans.end_stream(id_, A.STREAM_END_ERROR, exc if isinstance(exc, BaseException) else None)


def _llm_output(call: Recorded, response: Any) -> None:
    span, s = call.span, call.settings
    attrs = dict(X.llm_response(response))
    known: Mapping[str, Any] = getattr(span, "attributes", None) or {}
    attrs.update(_pricing.cost_attributes({**known, **attrs}))
    span.set_attributes(attrs)
    if s.capture_content and span.is_recording():
        for key, value in X.llm_response_content(response):
            set_content(span, key, value, s, A.OI_OUTPUT_MIME_TYPE if key == A.OI_OUTPUT_VALUE else None)


_OnEvent = Callable[[SpanHandler, str, Recorded, Any, bool], None]
# By class name, not isinstance: the event classes moved between llama-index-core releases.
_ON_EVENT: dict[str, _OnEvent] = {
    "LLMChatStartEvent": _on_chat_start,
    "LLMCompletionStartEvent": _on_completion_start,
    "LLMChatInProgressEvent": _on_chunk,
    "LLMCompletionInProgressEvent": _on_chunk,
    "LLMChatEndEvent": _on_end,
    "LLMCompletionEndEvent": _on_end,
    "ExceptionEvent": _on_exception,
}
