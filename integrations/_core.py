"""The generic half of every client integration: patching, span lifecycle, streams.

A provider (``_openai_*.py``) describes each patched method with an :class:`Endpoint`: pure
functions mapping the request to attributes, the response to attributes, and a stream-state
factory that folds chunks into a response-shaped object. Everything else lives here, once:

* :class:`Patcher` applies a table of :class:`Target` s and reverts each one on its own, putting
  the original class attribute back exactly. A switch turns wrappers that outlive
  ``uninstrument()`` (bound methods captured earlier, someone else's wrapper on top of ours)
  into pass-throughs.
* :class:`Invocation` is one span: started before the call, ended exactly once, through
  :class:`tracer._span_end.SpanEnd` like every decorated call.
* :class:`SyncStreamProxy` / :class:`AsyncStreamProxy` sit on the client's stream object and end
  the span on exhaustion, error, ``close()``, leaving ``with``, or garbage collection.

Every telemetry step runs under :func:`tracer._guard.guard`: our failure never changes the
user's call, and the user's exceptions pass through unchanged.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer

from tracer import attributes as A
from tracer._call import AttributeBatch, set_content
from tracer._guard import guard, logger, swallow
from tracer._settings import Settings, settings
from tracer._span_end import SpanEnd, set_error_status

from . import _pricing

Pairs = Iterable[tuple[str, Any]]
_time_ns = time.time_ns
# Asked for the tracer at each call, not once at patch time: the provider Spyglass's spans
# start on can change after ``instrument()`` (``configure()``, ``capture_spans()``).
TracerSource = Callable[[], Tracer]


def fixed_tracer(tracer: Tracer) -> TracerSource:
    """The source for an explicit ``instrument(tracer_provider=...)``: always ``tracer``."""
    return lambda: tracer


# Set in the context while a patched call runs: a patched method called by another one (a
# helper delegating to ``create``) records no second span.
_INSIDE = otel_context.create_key("spyglass-integration-call")
_MIME = {A.OI_INPUT_VALUE: A.OI_INPUT_MIME_TYPE, A.OI_OUTPUT_VALUE: A.OI_OUTPUT_MIME_TYPE}


class StreamState(Protocol):
    """Folds the chunks of one stream into a response-shaped object."""

    def add(self, chunk: Any, /) -> None: ...

    def result(self, how: str, /) -> Any: ...


@dataclass(frozen=True)
class Endpoint:
    """What a provider says about one API method; every function is pure."""

    operation: str  # gen_ai.operation.name
    span_type: str  # spyglass.span.type
    request: Callable[[Mapping[str, Any]], Pairs]  # attributes known before the call
    request_content: Callable[[Mapping[str, Any]], Pairs]  # captured only with content capture on
    response: Callable[[Any], Pairs]
    response_content: Callable[[Any], Pairs]
    stream_state: Callable[[Mapping[str, Any], bool], StreamState]  # (kwargs, capture) -> state


class Adapter(Protocol):
    """What the core needs to know about the client library's own types."""

    def client_attributes(self, instance: Any, /) -> Mapping[str, Any]: ...

    def is_stream(self, result: Any, /) -> bool: ...

    def is_async_stream(self, result: Any, /) -> bool: ...

    def is_raw_response(self, result: Any, /) -> bool: ...


class ClientAttributes:
    """``Adapter.client_attributes`` for an SDK whose resources hold their client in ``_client``
    (openai's and anthropic's, both Stainless-generated): the provider, from ``provider(client,
    host)``, and the server address and port, cached per base URL (computed once per client,
    not per call)."""

    def __init__(self, fallback: Mapping[str, Any], provider: Callable[[Any, str], Mapping[str, Any]]) -> None:
        self._fallback = fallback  # a resource without a client (never seen; kept safe)
        self._provider = provider
        self._cache: dict[int, tuple[Any, Mapping[str, Any]]] = {}

    def __call__(self, resource: Any) -> Mapping[str, Any]:
        client = getattr(resource, "_client", None)  # private: the SDKs keep it there
        if client is None:
            return self._fallback
        url = getattr(client, "base_url", None)
        key = id(url)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is url:
            return hit[1]
        parts = urlsplit(str(url)) if url is not None else None
        host = (parts.hostname or "") if parts else ""
        attrs = dict(self._provider(client, host))
        if host:
            attrs[A.SERVER_ADDRESS] = host
            port = parts.port if parts else None
            attrs[A.SERVER_PORT] = port if port is not None else (80 if parts and parts.scheme == "http" else 443)
        if len(self._cache) > 256:
            self._cache.clear()
        # The URL object is kept alive by the cache entry, so its id cannot be reused meanwhile.
        # (A URL object belongs to one client, or to copies of it made by ``with_options``.)
        self._cache[key] = (url, attrs)
        return attrs


def _collect(attrs: dict[str, Any], pairs: Pairs) -> None:
    for key, value in pairs:
        if value is not None:
            attrs[key] = value


def _capture(attrs: dict[str, Any], pairs: Pairs, s: Settings) -> None:
    sink = AttributeBatch()  # collects only: the caller sets them with the rest
    done: dict[int, str] = {}  # id(value) -> key it was first serialised under
    for key, value in pairs:
        if value is None:
            continue
        first = done.get(id(value))
        if first is not None and s.redact is None and first in sink.pending:
            # The same value under a second name (gen_ai.input.messages and input.value):
            # encode once. With a redact hook, each name goes through it on its own.
            sink.pending[key] = sink.pending[first]
            if key in _MIME:
                sink.pending[_MIME[key]] = A.MIME_TEXT if isinstance(value, str) else A.MIME_JSON
            if first in sink.pending.get(A.TRUNCATED, ()):
                sink.pending[A.TRUNCATED] = (*sink.pending[A.TRUNCATED], key)
            continue
        done[id(value)] = key
        set_content(sink, key, value, s, _MIME.get(key))  # type: ignore[arg-type]
    attrs.update(sink.pending)


# --- one span ------------------------------------------------------------------------------
class Invocation(SpanEnd):
    """One patched call's span. ``finish``, ``finish_stream`` and ``fail`` end it; the first wins."""

    __slots__ = (
        "adapter",
        "chunks",
        "ctx",
        "endpoint",
        "first_ns",
        "fold",
        "kwargs",
        "last_ns",
        "settings",
        "start_ns",
    )

    def __init__(
        self, span: Span, endpoint: Endpoint, adapter: Adapter, s: Settings, kwargs: Mapping[str, Any], start_ns: int
    ) -> None:
        self.span = span
        self.ended = False
        self.endpoint = endpoint
        self.adapter = adapter
        self.settings = s
        self.kwargs = kwargs
        self.start_ns = start_ns
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.chunks = 0
        self.fold: Callable[[Any], None] | None = None  # a stream's StreamState.add
        self.ctx = otel_context.set_value(_INSIDE, True, trace.set_span_in_context(span))

    @property
    def capture(self) -> bool:
        return self.settings.capture_content

    def chunk(self, chunk: Any) -> None:
        """One stream chunk arrived. Per chunk, so the least work: a time, a count, the state's
        fold (under a plain ``try``, not ``with guard``); the rest happens once, at the end."""
        now = _time_ns()
        if self.first_ns is None:
            self.first_ns = now
        self.last_ns = now
        self.chunks += 1
        try:
            self.fold(chunk)  # type: ignore[misc]
        except Exception as exc:
            swallow("integration stream chunk", exc)

    # --- what the call returned ----------------------------------------------------------
    def returned(self, result: Any) -> Any:
        """Wrap a stream so it ends the span later; otherwise record the response now."""
        with guard("integration response"):
            adapter = self.adapter
            if adapter.is_stream(result):
                return SyncStreamProxy(result, self)
            if adapter.is_async_stream(result):
                return AsyncStreamProxy(result, self)
            if adapter.is_raw_response(result):
                if self.kwargs.get("stream") is True:
                    return RawStreamResponseProxy(result, self)
                # openai caches parse(), so the user's own parse() returns this same object.
                self.finish(result.parse())
                return result
            self.finish(result)
            return result
        if self._claim():  # our code failed above: end the span, the result goes back untouched
            self._end()
        return result

    def _response_attributes(self, response: Any) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if response is None:
            return attrs
        _collect(attrs, self.endpoint.response(response))
        if self.capture:
            with guard("integration output capture"):
                _capture(attrs, self.endpoint.response_content(response), self.settings)
        _collect(attrs, _pricing.cost_attributes(attrs))
        return attrs

    def finish(self, response: Any) -> None:
        if not self._claim():
            return
        try:
            with guard("integration response attributes"):
                attrs = self._response_attributes(response)
                self.span.set_attributes(attrs)
                if A.ERROR_TYPE in attrs:  # the API answered, but with a failed response
                    set_error_status(self.span, str(attrs[A.ERROR_TYPE]))
        finally:  # also when the guard re-raises (tests): the span still ends
            self._end()

    def finish_stream(self, state: StreamState, how: str, exc: BaseException | None = None) -> None:
        if not self._claim():
            return
        try:
            self._stream_attributes(state, how, exc)
        finally:
            # Abandoned streams end when the last chunk arrived, not when the collector ran.
            self._end(exc, self.last_ns if how == A.STREAM_END_ABANDONED else None)

    def _stream_attributes(self, state: StreamState, how: str, exc: BaseException | None) -> None:
        with guard("integration stream attributes"):
            attrs = self._response_attributes(state.result(how))
            attrs[A.STREAM_END] = how
            attrs[A.STREAM_ITEMS] = self.chunks
            if self.first_ns is not None:
                attrs[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (self.first_ns - self.start_ns) / 1e9
            if A.GEN_AI_USAGE_INPUT_TOKENS not in attrs:
                attrs[A.USAGE_UNKNOWN] = True  # we never add stream_options to the user's request
            self.span.set_attributes(attrs)
            if exc is None and A.ERROR_TYPE in attrs:
                set_error_status(self.span, str(attrs[A.ERROR_TYPE]))

    def fail(self, exc: BaseException) -> None:
        if self._claim():
            self._end(exc)

    def _error_attributes(self, exc: BaseException) -> Mapping[str, Any] | None:
        status = getattr(exc, "status_code", None)
        return {A.HTTP_RESPONSE_STATUS_CODE: status} if isinstance(status, int) else None


def start(
    tracers: TracerSource, endpoint: Endpoint, adapter: Adapter, instance: Any, kwargs: Mapping[str, Any]
) -> Invocation | None:
    """Start the span for a call, or return ``None`` (and let the call run bare)."""
    with guard("integration span start"):
        tracer = tracers()
        s = settings()
        attrs: dict[str, Any] = {
            A.GEN_AI_OPERATION_NAME: endpoint.operation,
            A.SPAN_TYPE: endpoint.span_type,
            A.OI_SPAN_KIND: A.OI_KIND_BY_SPAN_TYPE[endpoint.span_type],
        }
        attrs.update(adapter.client_attributes(instance))
        _collect(attrs, endpoint.request(kwargs))
        model = attrs.get(A.GEN_AI_REQUEST_MODEL)
        name = f"{endpoint.operation} {model}" if model else endpoint.operation
        start_ns = time.time_ns()
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs, start_time=start_ns)
        inv = Invocation(span, endpoint, adapter, s, kwargs, start_ns)
        if s.capture_content and span.is_recording():
            with guard("integration input capture"):
                content: dict[str, Any] = {}
                _capture(content, endpoint.request_content(kwargs), s)
                span.set_attributes(content)
        return inv
    return None


# --- wrappers: thin sync/async shells around start / returned / fail -------------------------
class Switch:
    """Off after ``uninstrument()``: wrappers still reachable somewhere just call through."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


def bypass(switch: Switch) -> bool:
    """True when a wrapper should just call through: switched off, or inside a patched call."""
    return not switch.on or otel_context.get_value(_INSIDE) is True


def inside_call() -> bool:
    """True while a patched call runs (in its context): its span is the one for this call."""
    return otel_context.get_value(_INSIDE) is True


def run_sync(
    tracers: TracerSource,
    endpoint: Endpoint,
    adapter: Adapter,
    instance: Any,
    kwargs: Mapping[str, Any],
    call: Callable[[], Any],
) -> Any:
    """``call()`` under a span for ``endpoint``: the body of every sync wrapper, also for calls
    made later than the patched method returned (a stream manager's request)."""
    inv = start(tracers, endpoint, adapter, instance, kwargs)
    if inv is None:
        return call()
    token = otel_context.attach(inv.ctx)
    try:
        result = call()
    except BaseException as exc:
        inv.fail(exc)
        raise
    finally:
        otel_context.detach(token)
    return inv.returned(result)


async def run_async(
    tracers: TracerSource,
    endpoint: Endpoint,
    adapter: Adapter,
    instance: Any,
    kwargs: Mapping[str, Any],
    call: Callable[[], Awaitable[Any]],
) -> Any:
    """The async twin of :func:`run_sync`."""
    inv = start(tracers, endpoint, adapter, instance, kwargs)
    if inv is None:
        return await call()
    token = otel_context.attach(inv.ctx)
    try:
        result = await call()
    except BaseException as exc:
        inv.fail(exc)
        raise
    finally:
        otel_context.detach(token)
    return inv.returned(result)


def sync_wrapper(tracers: TracerSource, endpoint: Endpoint, adapter: Adapter, switch: Switch) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if bypass(switch):
            return wrapped(*args, **kwargs)
        return run_sync(tracers, endpoint, adapter, instance, kwargs, lambda: wrapped(*args, **kwargs))

    return wrapper


def async_wrapper(tracers: TracerSource, endpoint: Endpoint, adapter: Adapter, switch: Switch) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if bypass(switch):
            return await wrapped(*args, **kwargs)
        return await run_async(tracers, endpoint, adapter, instance, kwargs, lambda: wrapped(*args, **kwargs))

    return wrapper


# --- streams --------------------------------------------------------------------------------
class _StreamProxy(wrapt.ObjectProxy):
    """Shared by the sync and async proxies: chunk bookkeeping and ending exactly once.

    ``isinstance(proxy, openai.Stream)`` holds and every attribute reads through to the
    client's own object; only iteration, ``close()``, ``with`` and ``.response`` are ours.
    """

    def __init__(self, wrapped: Any, inv: Invocation) -> None:
        super().__init__(wrapped)
        self._self_inv = inv
        self._self_state = inv.endpoint.stream_state(inv.kwargs, inv.capture)
        inv.fold = self._self_state.add
        self._self_chunk = inv.chunk  # bound once: called per chunk
        self._self_response: Any = None

    def _self_end(self, how: str, exc: BaseException | None = None) -> None:
        inv = self._self_inv
        if not inv.ended:
            inv.finish_stream(self._self_state, how, exc)

    @property
    def response(self) -> Any:
        """The HTTP response, with ``close()`` ending our span too (the client's stream helpers
        close the stream through it)."""
        if self._self_response is None:
            self._self_response = _ClosingResponse(self.__wrapped__.response, self)
        return self._self_response

    def __del__(self) -> None:
        inv = getattr(self, "_self_inv", None)
        if inv is not None and not inv.ended:
            self._self_end(A.STREAM_END_ABANDONED)


class SyncStreamProxy(_StreamProxy):
    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_end(A.STREAM_END_COMPLETED)
            raise
        except BaseException as exc:
            self._self_end(A.STREAM_END_ERROR, exc)
            raise
        self._self_chunk(chunk)
        return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end(A.STREAM_END_CLOSED)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(A.STREAM_END_CLOSED)


class AsyncStreamProxy(_StreamProxy):
    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end(A.STREAM_END_COMPLETED)
            raise
        except BaseException as exc:
            self._self_end(A.STREAM_END_ERROR, exc)
            raise
        self._self_chunk(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end(A.STREAM_END_CLOSED)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(A.STREAM_END_CLOSED)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_end(A.STREAM_END_CLOSED)


class _ClosingResponse(wrapt.ObjectProxy):
    """The stream's HTTP response; closing it ends the stream's span as "closed"."""

    def __init__(self, wrapped: Any, stream: _StreamProxy) -> None:
        super().__init__(wrapped)
        self._self_stream = stream

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_stream._self_end(A.STREAM_END_CLOSED)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_stream._self_end(A.STREAM_END_CLOSED)


class RawStreamResponseProxy(wrapt.ObjectProxy):
    """``with_raw_response`` + ``stream=True``: ``parse()`` returns our stream proxy, the same
    one every time (the client caches the parsed stream the same way)."""

    def __init__(self, wrapped: Any, inv: Invocation) -> None:
        super().__init__(wrapped)
        self._self_inv = inv
        self._self_stream: Any = None
        self._self_parsed: Any = None

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if self._self_stream is not None and parsed is self._self_parsed:
            return self._self_stream
        inv = self._self_inv
        with guard("integration raw stream"):
            if not inv.ended and (inv.adapter.is_stream(parsed) or inv.adapter.is_async_stream(parsed)):
                proxy_type = SyncStreamProxy if inv.adapter.is_stream(parsed) else AsyncStreamProxy
                self._self_stream, self._self_parsed = proxy_type(parsed, inv), parsed
                return self._self_stream
        return parsed

    def __del__(self) -> None:
        inv = getattr(self, "_self_inv", None)
        if inv is not None and not inv.ended and getattr(self, "_self_stream", None) is None:
            with guard("integration raw stream"):  # never parsed: nothing was read from the stream
                inv.finish_stream(inv.endpoint.stream_state(inv.kwargs, False), A.STREAM_END_ABANDONED)


# --- patching -------------------------------------------------------------------------------
# (tracers, the target's endpoint, what Patcher.apply was given as its adapter, the off switch)
WrapperFactory = Callable[[TracerSource, Any, Any, Switch], Callable[..., Any]]


@dataclass(frozen=True)
class Target:
    """One method to patch: ``module.cls.method``, or the module-level function
    ``module.method`` when ``cls`` is ``""``. Missing ones (older clients) are skipped.

    ``wrap`` replaces the default wrapper factory (:func:`sync_wrapper` / :func:`async_wrapper`)
    for a method that needs its own shell: positional arguments to bind, a stream manager
    to wrap. Patching, reverting and the off switch stay the same for it."""

    module: str
    cls: str
    method: str
    endpoint: Endpoint | None = None  # what the default wrappers record; unused by a ``wrap`` that needs none
    is_async: bool = False
    wrap: WrapperFactory | None = None


@dataclass
class _Applied:
    owner: Any  # a class, or a module for a module-level function
    name: str
    original: Any  # what ``owner.__dict__[name]`` held, or _MISSING if it was inherited
    wrapper: Any


_MISSING = object()


@dataclass
class Patcher:
    """Applies a table of targets once and reverts each one independently."""

    applied: list[_Applied] = field(default_factory=list)
    switch: Switch | None = None

    @property
    def active(self) -> bool:
        return self.switch is not None

    def apply(self, targets: Iterable[Target], tracers: TracerSource, adapter: Adapter | Any) -> None:
        if self.switch is not None:
            return
        switch = self.switch = Switch()
        for target in targets:
            with guard(f"patch {target.module}.{target.cls}.{target.method}"):
                owner = _resolve(target)
                if owner is None:
                    continue
                original = owner.__dict__.get(target.method, _MISSING)
                wrapper = wrapt.FunctionWrapper(getattr(owner, target.method), _shell(target, tracers, adapter, switch))
                setattr(owner, target.method, wrapper)
                self.applied.append(_Applied(owner, target.method, original, wrapper))

    def revert(self) -> None:
        if self.switch is None:
            return
        self.switch.on = False  # anything we cannot unwind below becomes a pass-through
        self.switch = None
        applied, self.applied = self.applied, []
        for item in reversed(applied):
            with guard(f"unpatch {_name(item.owner)}.{item.name}"):
                _restore(item)


def _shell(target: Target, tracers: TracerSource, adapter: Any, switch: Switch) -> Callable[..., Any]:
    if target.wrap is not None:
        return target.wrap(tracers, target.endpoint, adapter, switch)
    if target.endpoint is None:
        raise ValueError(f"{target.module}.{target.cls}.{target.method}: a Target needs an endpoint or a wrap")
    return (async_wrapper if target.is_async else sync_wrapper)(tracers, target.endpoint, adapter, switch)


def _resolve(target: Target) -> Any:
    """The class (or, for ``cls=""``, the module) holding the method, or ``None``."""
    try:
        module = importlib.import_module(target.module)
    except ImportError:
        return None
    if not target.cls:
        return module if callable(module.__dict__.get(target.method)) else None
    owner = getattr(module, target.cls, None)
    if not isinstance(owner, type) or not hasattr(owner, target.method):
        return None
    return owner


def _name(owner: Any) -> str:
    return str(getattr(owner, "__qualname__", None) or owner.__name__)  # a class, or a module


def _restore(item: _Applied) -> None:
    current = item.owner.__dict__.get(item.name, _MISSING)
    if current is not item.wrapper:
        # Someone patched on top of us; removing ours would drop theirs. Ours is switched off.
        logger.warning(
            "spyglass: %s.%s was re-patched by someone else; leaving it in place (disabled)",
            _name(item.owner),
            item.name,
        )
        return
    if item.original is _MISSING:
        delattr(item.owner, item.name)
    else:
        setattr(item.owner, item.name, item.original)
