"""Trace Chroma queries (``chromadb>=0.5``) as retriever spans the grounding check reads.

    import chromadb, tracer
    from integrations import chroma as spy_chroma

    tracer.configure()
    spy_chroma.instrument()          # idempotent; uninstrument() puts the original back
    collection = chromadb.EphemeralClient().get_collection("docs", embedding_function=...)
    collection.query(query_texts=["What is the refund window?"], n_results=3)

Covered: ``Collection.query`` and ``AsyncCollection.query`` (``AsyncHttpClient``, from 0.5.1), on every
client (ephemeral, persistent, HTTP). Each call is one span ``retrieval <collection>`` with the
query text, ``n_results`` as ``gen_ai.retrieval.top_k``, and the documents (id, text, metadata,
and the *distance* as score: lower is closer, ``spyglass.retrieval.score_kind = "distance"``).
Not traced: ``get``/``peek`` (reads by id or filter, not a retrieval: tracing them would hand
the grounding check documents nobody asked for) and the new ``Collection.search`` API.
See ``docs/integrations.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from opentelemetry.trace import TracerProvider

from tracer import attributes as A

from ._instrumentor import Instrumentor, PatchSet, Verbs
from ._vectorstore import Doc, Method, Request, Store, document, targets

__all__ = ["ChromaInstrumentor", "instrument", "is_instrumented", "uninstrument"]

SUPPORTED = ("chromadb >= 0.5",)


# --- what a query asked --------------------------------------------------------------------
def _count(value: Any) -> int:
    """How many queries ``query_embeddings`` / ``query_images`` hold: one embedding is a flat
    list of numbers (or a 1-d array), several are a list of them (or a 2-d array)."""
    ndim = getattr(value, "ndim", None)  # numpy, without importing it
    if isinstance(ndim, int):
        return 1 if ndim <= 1 else int(value.shape[0])
    if isinstance(value, Sequence) and not isinstance(value, str):
        return 1 if value and isinstance(value[0], Real) else len(value)
    return 1


def _texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _metric(collection: Any) -> str | None:
    """The collection's distance function (l2, cosine, ip), when the client has it at hand."""
    metadata = getattr(collection, "metadata", None)
    if isinstance(metadata, Mapping) and isinstance(metadata.get("hnsw:space"), str):
        return str(metadata["hnsw:space"])  # how 0.5 (and 1.x, still) take it at creation
    # chromadb 1.x keeps it in CollectionModel.configuration_json (checked on 1.5.9). The public
    # ``Collection.configuration`` rebuilds the embedding function on every read, so it is not used.
    config = getattr(getattr(collection, "_model", None), "configuration_json", None)
    if isinstance(config, Mapping):
        for index in ("hnsw", "spann"):
            found = config.get(index)
            if isinstance(found, Mapping) and isinstance(found.get("space"), str):
                return str(found["space"])
    return None


def _query_request(collection: Any, named: Mapping[str, Any]) -> Request:
    texts = _texts(named.get("query_texts"))
    if texts:
        kind, count = A.QUERY_KIND_TEXT, len(texts)
    else:  # the first of these given decides: Chroma takes exactly one
        given = [
            (k, named[f"query_{k}s"]) for k in ("embedding", "image", "uri") if named.get(f"query_{k}s") is not None
        ]
        kind, value = given[0] if given else ("unknown", None)
        count = len(_texts(value)) if kind == "uri" else _count(value)
    top_k = named.get("n_results")
    metric = _metric(collection)
    return Request(
        collection=getattr(collection, "name", None),
        kind=kind,
        count=count,
        texts=texts,
        top_k=top_k if type(top_k) is int else None,
        extra={A.RETRIEVAL_DISTANCE_METRIC: metric} if metric else {},
    )


# --- what it returned ----------------------------------------------------------------------
def _column(result: Mapping[str, Any], key: str, query: int, size: int) -> Sequence[Any]:
    """Row ``query`` of a column of the result, or ``size`` Nones when it was not included."""
    rows = result.get(key)
    if rows is None or query >= len(rows) or rows[query] is None:
        return [None] * size
    return list(rows[query])


def _query_results(result: Any, request: Request) -> list[list[Doc]]:
    """A QueryResult holds one row per query in each column (ids, documents, metadatas,
    distances); a column left out of ``include`` is ``None``."""
    if not isinstance(result, Mapping):
        return []
    per_query = []
    for query, ids in enumerate(result.get("ids") or ()):
        ids = list(ids)
        columns = (_column(result, key, query, len(ids)) for key in ("documents", "distances", "metadatas"))
        documents, distances, metadatas = columns
        per_query.append([document(*row) for row in zip(ids, documents, distances, metadatas)])
    return per_query


_QUERY = Method("query", _query_request, _query_results)
TARGETS = [
    *targets("chromadb.api.models.Collection", "Collection", {"query": _QUERY}, is_async=False),
    *targets("chromadb.api.models.AsyncCollection", "AsyncCollection", {"query": _QUERY}, is_async=True),
]


# --- instrument / uninstrument -------------------------------------------------------------
_integration = PatchSet("spyglass.integrations.chroma", TARGETS, Store(A.DB_SYSTEM_CHROMA, A.SCORE_KIND_DISTANCE))


def instrument(tracer_provider: TracerProvider | None = None) -> None:
    """Patch Chroma's collections. A second call does nothing (``uninstrument()`` first to
    switch providers). Spans go to ``tracer_provider``; without one, to the provider Spyglass's
    decorators use at the time of each call, so that they nest and are captured together."""
    _integration.instrument(tracer_provider)


def uninstrument() -> None:
    """Put every patched method back exactly as it was. Safe to call when not instrumented."""
    _integration.uninstrument()


def is_instrumented() -> bool:
    return _integration.active


class ChromaInstrumentor(Instrumentor):
    """The same patches behind OpenTelemetry's ``BaseInstrumentor`` interface."""

    verbs = Verbs(instrument, uninstrument)
    supported = SUPPORTED
