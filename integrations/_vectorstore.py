"""The shared half of the vector-store integrations (Chroma, Qdrant): one retriever span per query call.

A store module (``chroma.py``, ``qdrant.py``) describes each patched method with a
:class:`Method`: how to read the call's arguments into a :class:`Request` (collection, query
texts, top_k...) and how to read what it returned into documents, one list per query. This
module does the rest, once for both stores and both sync and async clients:

* patching and reverting go through :class:`integrations._core.Patcher`; each
  :class:`~integrations._core.Target` brings its own wrapper (:func:`targets`), since these
  methods take positional arguments that the core's default wrappers do not bind;
* the span is what ``@tracer.trace_retriever`` makes: a :class:`tracer._call.Call` whose output
  hook is :func:`tracer._call.retriever_output`, so the documents are stored, capped, captured
  (or not), redacted and ended exactly like a decorated retriever's, and the grounding check
  reads them the same way;
* every telemetry step runs under :func:`tracer._guard.guard`; the user's exceptions pass
  through unchanged and the call's return value is handed back as it came (the same object).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from tracer import attributes as A
from tracer._call import Call, Spec, retriever_output, set_content, set_encoded
from tracer._guard import guard
from tracer._settings import settings

from ._core import Switch, Target, TracerSource, WrapperFactory

__all__ = [
    "Doc",
    "Method",
    "Request",
    "Store",
    "arguments",
    "document",
    "targets",
]


@dataclass(frozen=True)
class Request:
    """What one call asked for. ``texts``: the query texts (content: captured only with content
    capture on); ``count``: how many queries the call holds (a batch has two or more)."""

    collection: str | None
    kind: str  # spyglass.retrieval.query.kind
    count: int = 1
    texts: tuple[str, ...] = ()
    top_k: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # store-specific attributes, not content


Doc = dict[str, Any]
# (instance, arguments by name) -> Request; (result, request) -> documents, one list per query.
RequestReader = Callable[[Any, Mapping[str, Any]], Request]
ResultReader = Callable[[Any, Request], Sequence[Sequence[Doc]]]


def document(doc_id: Any, content: Any, score: Any, metadata: Any) -> Doc:
    """One result as ``normalize_documents`` reads it back unchanged: ``{id, content, score,
    metadata}``, without a ``score`` key when there is none (a ``None`` there would be kept
    as a metadata entry)."""
    doc: Doc = {
        "id": None if doc_id is None else str(doc_id),
        "content": "" if content is None else content,
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
    }
    if score is not None:
        doc["score"] = score
    return doc


@dataclass(frozen=True)
class Method:
    """One patched method of a store's client: its ``db.operation.name`` and its two readers."""

    operation: str
    request: RequestReader
    results: ResultReader


@dataclass(frozen=True)
class Store:
    """What is common to every call of one store: ``db.system.name`` and what its scores mean.
    Handed to each target's wrapper through ``Patcher.apply``."""

    system: str
    score_kind: str

    def client_attributes(self, instance: Any, /) -> Mapping[str, Any]:
        return {A.DB_SYSTEM_NAME: self.system, A.RETRIEVAL_SCORE_KIND: self.score_kind}


# The decorators' retriever spec: its output hook stores documents as @trace_retriever does.
# Its name is unused (each span is named after its collection when it starts).
_SPEC = Spec(None, A.OP_RETRIEVAL, A.SPAN_TYPE_RETRIEVER, {}, output_hook=retriever_output)
# Set in the context while a patched call runs: a patched method that calls another one
# (an older client's helper delegating to its successor) records one span, not two.
_INSIDE = otel_context.create_key("spyglass-vectorstore-call")


# --- arguments by name -----------------------------------------------------------------------
@functools.lru_cache(maxsize=128)
def _parameters(func: Callable[..., Any]) -> tuple[tuple[str, ...], Mapping[str, Any]]:
    """The names of ``func``'s positional parameters (without ``self``) and every default."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - a C callable; these clients are Python
        return (), {}
    params = list(sig.parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    names = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    return names, defaults


def arguments(wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, defaults included (``n_results`` not given is still 10).

    Cheaper than ``Signature.bind`` on every call: the names are read once per method."""
    names, defaults = _parameters(getattr(wrapped, "__func__", wrapped))
    named = dict(defaults)
    named.update(zip(names, args))
    named.update(kwargs)
    return named


# --- one span --------------------------------------------------------------------------------
def _query_attributes(request: Request) -> dict[str, Any]:
    attrs: dict[str, Any] = {A.RETRIEVAL_QUERY_KIND: request.kind}
    if request.collection:
        attrs[A.DB_COLLECTION_NAME] = request.collection
        attrs[A.GEN_AI_DATA_SOURCE_ID] = request.collection
    if request.top_k is not None:
        attrs[A.GEN_AI_RETRIEVAL_TOP_K] = request.top_k
    if request.count > 1:
        attrs[A.DB_OPERATION_BATCH_SIZE] = request.count
    attrs.update(request.extra)
    return attrs


def _capture_query(call: Call, request: Request) -> None:
    """The query text as ``input.value`` and ``gen_ai.retrieval.query.text`` (one text), or
    the list of texts as ``input.value`` (a batch: the conventions' query text is one string)."""
    span, s = call.span, call.settings
    if len(request.texts) == 1 and request.count == 1:
        encoded = set_content(span, A.OI_INPUT_VALUE, request.texts[0], s, A.OI_INPUT_MIME_TYPE)
        set_encoded(span, A.GEN_AI_RETRIEVAL_QUERY_TEXT, encoded, s)
    elif request.texts:
        set_content(span, A.OI_INPUT_VALUE, list(request.texts), s, A.OI_INPUT_MIME_TYPE)


class Retrieval:
    """One patched call: its :class:`~tracer._call.Call` (which ends the span exactly once,
    through :class:`tracer._span_end.SpanEnd`) and what is needed to read its result."""

    __slots__ = ("call", "ctx", "method", "request")

    def __init__(self, call: Call, method: Method, request: Request) -> None:
        self.call = call
        self.method = method
        self.request = request
        self.ctx = otel_context.set_value(_INSIDE, True, call.ctx)

    def returned(self, result: Any) -> None:
        """Record the documents ``result`` holds and end the span; ``result`` is not changed."""
        call = self.call
        try:
            with guard("vector store response"):
                per_query = self.method.results(result, self.request)
                docs: list[Doc] = []
                batch = len(per_query) > 1
                for index, found in enumerate(per_query):
                    for doc in found:
                        if batch:  # which query found it: documents of a batch are listed together
                            doc["metadata"] = {**doc["metadata"], A.DOCUMENT_QUERY_INDEX: index}
                        docs.append(doc)
                attrs: dict[str, Any] = {A.DB_RESPONSE_RETURNED_ROWS: len(docs)}
                if batch:
                    attrs[A.RETRIEVAL_RESULT_COUNTS] = [len(found) for found in per_query]
                call.span.set_attributes(attrs)
                call.finish(docs)
        finally:  # our reading failed (or raised under test): the span still ends
            call.close()

    def fail(self, exc: BaseException) -> None:
        self.call.fail(exc)


def begin(
    tracers: TracerSource, store: Store, method: Method, instance: Any, named: Mapping[str, Any]
) -> Retrieval | None:
    """Start the span of one call, or ``None`` (and the call runs bare)."""
    with guard("vector store span start"):
        request = method.request(instance, named)
        s = settings()
        attrs: dict[str, Any] = {
            A.GEN_AI_OPERATION_NAME: A.OP_RETRIEVAL,
            A.SPAN_TYPE: A.SPAN_TYPE_RETRIEVER,
            A.OI_SPAN_KIND: A.OI_KIND_RETRIEVER,
            A.DB_OPERATION_NAME: method.operation,
            **store.client_attributes(instance),
            **_query_attributes(request),
        }
        # The conventions' retrieval span name, "retrieval {gen_ai.data_source.id}", and kind.
        name = f"{A.OP_RETRIEVAL} {request.collection}" if request.collection else A.OP_RETRIEVAL
        span = tracers().start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        call = Call(span, _SPEC, s)
        if s.capture_content and span.is_recording():
            with guard("vector store query capture"):
                _capture_query(call, request)
        return Retrieval(call, method, request)
    return None


# --- wrappers: thin sync/async shells around begin / returned / fail -------------------------
def _bypass(switch: Switch) -> bool:
    return not switch.on or otel_context.get_value(_INSIDE) is True


def _sync(tracers: TracerSource, store: Store, method: Method, switch: Switch) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _bypass(switch):
            return wrapped(*args, **kwargs)
        run = begin(tracers, store, method, instance, arguments(wrapped, args, kwargs))
        if run is None:
            return wrapped(*args, **kwargs)
        token = otel_context.attach(run.ctx)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            run.fail(exc)
            raise
        finally:
            otel_context.detach(token)
        run.returned(result)
        return result

    return wrapper


def _async(tracers: TracerSource, store: Store, method: Method, switch: Switch) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _bypass(switch):
            return await wrapped(*args, **kwargs)
        run = begin(tracers, store, method, instance, arguments(wrapped, args, kwargs))
        if run is None:
            return await wrapped(*args, **kwargs)
        token = otel_context.attach(run.ctx)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            run.fail(exc)
            raise
        finally:
            otel_context.detach(token)
        run.returned(result)
        return result

    return wrapper


def _factory(method: Method, is_async: bool) -> WrapperFactory:
    shell = _async if is_async else _sync

    def make(tracers: TracerSource, endpoint: Any, adapter: Any, switch: Switch) -> Callable[..., Any]:
        return shell(tracers, adapter, method, switch)  # adapter: the Store given to Patcher.apply

    return make


def targets(module: str, cls: str, methods: Mapping[str, Method], is_async: bool) -> list[Target]:
    """The core's patch table for ``module.cls``: one Target per method, with its own wrapper."""
    return [Target(module, cls, name, is_async=is_async, wrap=_factory(m, is_async)) for name, m in methods.items()]
