"""Trace Qdrant searches (``qdrant-client>=1.10``) as retriever spans the grounding check reads.

    import tracer
    from qdrant_client import QdrantClient
    from integrations import qdrant as spy_qdrant

    tracer.configure()
    spy_qdrant.instrument()          # idempotent; uninstrument() puts the originals back
    QdrantClient(":memory:").query_points("docs", query=vector, limit=3)

Covered, on ``QdrantClient`` and ``AsyncQdrantClient`` (local ``:memory:``/path mode and
remote alike): ``query_points``, ``query_batch_points`` and, on clients that still have them
(deprecated in favour of ``query_points``, removed in 1.16), ``search`` and ``search_batch``. Each call is one span
``retrieval <collection>`` with ``limit`` as ``gen_ai.retrieval.top_k``, what the query was
(text for a ``models.Document`` query, else only its kind: a vector is never stored), and the
points as documents: id, text (the first payload key of :func:`payload_keys` holding a
string), the rest of the payload as metadata, and Qdrant's score
(``spyglass.retrieval.score_kind = "qdrant_score"``: higher is closer for Cosine and Dot
collections, a distance for Euclid and Manhattan ones). Not traced: the ``*_groups``,
``recommend``, ``discover``, ``scroll`` and ``retrieve`` methods. See ``docs/integrations.md``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from opentelemetry.trace import TracerProvider

from tracer import attributes as A

from ._instrumentor import Instrumentor, PatchSet, Verbs
from ._vectorstore import Doc, Method, Request, Store, document, targets

__all__ = [
    "DEFAULT_PAYLOAD_KEYS",
    "QdrantInstrumentor",
    "instrument",
    "is_instrumented",
    "payload_keys",
    "set_payload_keys",
    "uninstrument",
]

SUPPORTED = ("qdrant-client >= 1.10",)
# Where the text of a point usually is: LlamaIndex-style "text", LangChain's "page_content"
# (QdrantVectorStore's default content_payload_key), and the two other common names.
DEFAULT_PAYLOAD_KEYS: tuple[str, ...] = ("text", "page_content", "document", "content")
_keys_lock = threading.Lock()
_payload_keys = DEFAULT_PAYLOAD_KEYS


def set_payload_keys(keys: Sequence[str] | None) -> None:
    """The payload keys a point's text is read from, first match wins; ``None``: the defaults.
    Takes effect on the next call, instrumented or not."""
    global _payload_keys
    if isinstance(keys, str):  # a lone key would be read as its letters
        raise TypeError("set_payload_keys takes a sequence of keys, e.g. ('body',)")
    with _keys_lock:
        _payload_keys = DEFAULT_PAYLOAD_KEYS if keys is None else tuple(keys)


def payload_keys() -> tuple[str, ...]:
    return _payload_keys


# --- what a query asked --------------------------------------------------------------------
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _is_numbers(value: Any) -> bool:
    return isinstance(value, Sequence) and (not value or isinstance(value[0], Real))


def _query(query: Any) -> tuple[str, str | None]:
    """``(kind, text)`` of one query, text only for a text query. Duck-typed on the client's
    models (without importing them: their module moved between releases)."""
    nearest = getattr(query, "nearest", None)
    if nearest is not None:  # NearestQuery: what it wraps says what the query is
        return _query(nearest)
    if query is None:
        return "none", None  # a prefetch-only query, or a filter with order_by...
    ndim = getattr(query, "ndim", None)  # a numpy array
    if isinstance(ndim, int):
        return (A.QUERY_KIND_EMBEDDING if ndim <= 1 else "multi_embedding"), None
    if isinstance(query, (str, int)) or type(query).__name__ == "UUID":
        return "point_id", None  # query_points finds the points near this stored one
    if _is_numbers(query):
        return A.QUERY_KIND_EMBEDDING, None
    if isinstance(query, tuple) and len(query) == 2 and isinstance(query[0], str):  # search's (name, vector)
        return _query(query[1])
    if isinstance(query, Sequence):
        return "multi_embedding", None
    kind = type(query).__name__
    text = getattr(query, "text", None)
    if kind == "Document" and isinstance(text, str):  # models.Document: embedded by the client or server
        return A.QUERY_KIND_TEXT, text
    if hasattr(query, "indices") and hasattr(query, "values"):
        return "sparse_embedding", None
    vector = getattr(query, "vector", None)
    if vector is not None:  # NamedVector / NamedSparseVector (search)
        return _query(vector)
    return _snake(kind.removesuffix("Query")), None


def _limit(value: Any) -> int | None:
    return value if type(value) is int else None


def _request(collection: Any, queries: Sequence[Any], limits: Sequence[Any]) -> Request:
    found = [_query(q) for q in queries]
    kinds = {kind for kind, _ in found}
    tops = {_limit(v) for v in limits}
    return Request(
        collection=collection if isinstance(collection, str) else None,
        kind=kinds.pop() if len(kinds) == 1 else A.QUERY_KIND_MIXED,
        count=len(queries),
        texts=tuple(text for _, text in found if text is not None),
        top_k=tops.pop() if len(tops) == 1 else None,  # a batch with several limits: none
    )


def _one_request(argument: str) -> Any:
    def read(client: Any, named: Mapping[str, Any]) -> Request:
        return _request(named.get("collection_name"), [named.get(argument)], [named.get("limit")])

    return read


def _batch_request(client: Any, named: Mapping[str, Any]) -> Request:
    requests = list(named.get("requests") or ())
    queries = [getattr(r, "query", getattr(r, "vector", None)) for r in requests]
    return _request(named.get("collection_name"), queries, [getattr(r, "limit", None) for r in requests])


# --- what it returned ----------------------------------------------------------------------
def _point(point: Any, keys: tuple[str, ...]) -> Doc:
    payload = getattr(point, "payload", None)
    payload = payload if isinstance(payload, Mapping) else {}
    key = next((k for k in keys if isinstance(payload.get(k), str)), None)
    metadata = {k: v for k, v in payload.items() if k != key}
    return document(
        getattr(point, "id", None), payload.get(key) if key else None, getattr(point, "score", None), metadata
    )


def _points(found: Any) -> list[Doc]:
    """A QueryResponse (``.points``) or a list of ScoredPoints (``search``)."""
    points = getattr(found, "points", found)
    keys = _payload_keys
    return [_point(p, keys) for p in points] if isinstance(points, Sequence) else []


def _one_result(result: Any, request: Request) -> list[list[Doc]]:
    return [_points(result)]


def _batch_result(result: Any, request: Request) -> list[list[Doc]]:
    return [_points(found) for found in result] if isinstance(result, Sequence) else []


_METHODS = {
    "query_points": Method("query_points", _one_request("query"), _one_result),
    "query_batch_points": Method("query_batch_points", _batch_request, _batch_result),
    # Deprecated (a DeprecationWarning in 1.15), removed in 1.16: patched where they exist.
    "search": Method("search", _one_request("query_vector"), _one_result),
    "search_batch": Method("search_batch", _batch_request, _batch_result),
}
TARGETS = [
    *targets("qdrant_client.qdrant_client", "QdrantClient", _METHODS, is_async=False),
    *targets("qdrant_client.async_qdrant_client", "AsyncQdrantClient", _METHODS, is_async=True),
]


# --- instrument / uninstrument -------------------------------------------------------------
_integration = PatchSet("spyglass.integrations.qdrant", TARGETS, Store(A.DB_SYSTEM_QDRANT, A.SCORE_KIND_QDRANT))


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Patch Qdrant's clients. A second call does nothing (``uninstrument()`` first to switch
    providers). Spans go to ``tracer_provider``; without one, to the provider Spyglass's
    decorators use at the time of each call, so that they nest and are captured together."""
    _integration.instrument(tracer_provider)


def uninstrument() -> None:
    """Put every patched method back exactly as it was. Safe to call when not instrumented."""
    _integration.uninstrument()


def is_instrumented() -> bool:
    return _integration.active


class QdrantInstrumentor(Instrumentor):
    """The same patches behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    verbs = Verbs(instrument, uninstrument)
    supported = SUPPORTED
