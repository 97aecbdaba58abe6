"""Normalise whatever a retriever returns into ``{id, content, score, metadata}`` documents.

Accepts strings, dicts, ``(doc, score)`` tuples, LangChain ``Document``-like objects
(``page_content``/``metadata``) and LlamaIndex ``NodeWithScore``-like objects
(``node``/``score``), by duck typing: neither library is imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any, TypedDict


class Document(TypedDict):
    id: str | None
    content: str
    score: float | None
    metadata: dict[str, Any]


_ID_KEYS = ("id", "doc_id", "document_id", "_id", "node_id", "chunk_id")
_CONTENT_KEYS = ("content", "page_content", "text", "document", "body", "chunk", "passage")
_SCORE_KEYS = ("score", "similarity", "relevance_score", "distance", "_score")


def _first(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return key, mapping[key]
    return None, None


def _score(value: Any) -> float | None:
    if isinstance(value, Real) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    return {}


def _from_mapping(item: Mapping[str, Any]) -> Document:
    id_key, doc_id = _first(item, _ID_KEYS)
    content_key, content = _first(item, _CONTENT_KEYS)
    score_key, score = _first(item, _SCORE_KEYS)
    metadata = _as_dict(item.get("metadata") or item.get("meta"))
    used = {id_key, content_key, score_key, "metadata", "meta"}
    metadata.update({str(k): v for k, v in item.items() if k not in used})
    if isinstance(content, Mapping) or hasattr(content, "page_content"):
        inner = _one(content)
        return Document(id=inner["id"] if doc_id is None else str(doc_id), content=inner["content"],
                        score=_score(score) if score is not None else inner["score"],
                        metadata={**inner["metadata"], **metadata})
    return Document(id=None if doc_id is None else str(doc_id), content="" if content is None else str(content),
                    score=_score(score), metadata=metadata)


def _one(item: Any) -> Document:
    if isinstance(item, str):
        return Document(id=None, content=item, score=None, metadata={})
    if isinstance(item, Mapping):
        return _from_mapping(item)
    if isinstance(item, tuple) and len(item) == 2 and _score(item[1]) is not None and not isinstance(item[0], Real):
        doc = _one(item[0])
        doc["score"] = _score(item[1])
        return doc
    node = getattr(item, "node", None)
    if node is not None and hasattr(item, "score"):  # LlamaIndex NodeWithScore
        doc = _one(node)
        doc["score"] = _score(getattr(item, "score", None))
        return doc
    if hasattr(item, "page_content"):  # LangChain Document
        metadata = _as_dict(getattr(item, "metadata", None))
        doc_id = getattr(item, "id", None) or metadata.get("id")
        return Document(id=None if doc_id is None else str(doc_id), content=str(item.page_content),
                        score=_score(metadata.get("score")), metadata=metadata)
    get_content = getattr(item, "get_content", None)  # LlamaIndex BaseNode / TextNode
    if callable(get_content):
        doc_id = getattr(item, "node_id", None) or getattr(item, "id_", None)
        return Document(id=None if doc_id is None else str(doc_id), content=str(get_content()), score=None,
                        metadata=_as_dict(getattr(item, "metadata", None)))
    text = getattr(item, "text", None)
    if isinstance(text, str):
        doc_id = getattr(item, "id", None)
        return Document(id=None if doc_id is None else str(doc_id), content=text,
                        score=_score(getattr(item, "score", None)), metadata=_as_dict(getattr(item, "metadata", None)))
    return Document(id=None, content=repr(item), score=None, metadata={})


def normalize_documents(result: Any) -> list[Document]:
    """Documents in rank order. Documents without an id get their rank (``"0"``, ``"1"``...)."""
    if result is None:
        return []
    if isinstance(result, Mapping):
        for key in ("documents", "docs", "results", "nodes", "source_nodes"):
            if isinstance(result.get(key), Iterable) and not isinstance(result.get(key), (str, bytes)):
                return normalize_documents(result[key])
        items: list[Any] = [result]
    elif isinstance(result, (str, bytes)) or not isinstance(result, Iterable) or hasattr(result, "page_content"):
        items = [result]
    else:
        items = list(result)
    docs = [_one(item) for item in items]
    for rank, doc in enumerate(docs):
        if doc["id"] is None:
            doc["id"] = str(rank)
    return docs
