"""Normalise whatever a retriever returns into ``{id, content, score, metadata}`` documents.

Accepts strings, dicts, ``(doc, score)`` tuples, LangChain ``Document``-like objects
(``page_content``/``metadata``) and LlamaIndex ``NodeWithScore``-like objects
(``node``/``score``), by duck typing: neither library is imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from numbers import Real
from typing import Any, TypedDict

from ._serialize import safe_str


class Document(TypedDict):
    id: str | None
    content: str
    score: float | None
    metadata: dict[str, Any]


_ID_KEYS = ("id", "doc_id", "document_id", "_id", "node_id", "id_", "chunk_id")
# "node": a LlamaIndex NodeWithScore as captured (its model_dump), the document inside it.
_CONTENT_KEYS = ("content", "page_content", "text", "document", "body", "chunk", "passage", "node")
_SCORE_KEYS = ("score", "similarity", "relevance_score", "distance", "_score")
_LIST_KEYS = ("documents", "docs", "results", "nodes", "source_nodes")
_TEXT = (str, bytes, bytearray, memoryview)


def _first(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return key, mapping[key]
    return None, None


# A document nested in a document ({"document": {...}}) is unwrapped this many times at most:
# a dict that contains itself must not recurse until RecursionError.
_MAX_NESTING = 4


def _score(value: Any) -> float | None:
    """A finite float, or ``None``: NaN and infinities are not JSON, and not a ranking."""
    if value is None or isinstance(value, bool):
        return None
    try:
        score = float(value)
    except (TypeError, ValueError, OverflowError):  # not a number, or an int too big for a float
        return None
    return score if math.isfinite(score) else None


def _is_score(value: Any) -> bool:
    """The second half of a ``(doc, score)`` pair: a number, even NaN, or numeric text."""
    return (isinstance(value, Real) and not isinstance(value, bool)) or _score(value) is not None


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    return {}


def _from_mapping(item: Mapping[str, Any], depth: int) -> Document:
    id_key, doc_id = _first(item, _ID_KEYS)
    content_key, content = _first(item, _CONTENT_KEYS)
    score_key, score = _first(item, _SCORE_KEYS)
    metadata = _as_dict(item.get("metadata") or item.get("meta"))
    used = {id_key, content_key, score_key, "metadata", "meta"}
    metadata.update({str(k): v for k, v in item.items() if k not in used})
    if (isinstance(content, Mapping) or hasattr(content, "page_content")) and depth < _MAX_NESTING:
        inner = _one(content, depth + 1)
        return Document(
            id=inner["id"] if doc_id is None else str(doc_id),
            content=inner["content"],
            score=_score(score) if score is not None else inner["score"],
            metadata={**inner["metadata"], **metadata},
        )
    return Document(
        id=_id(doc_id), content="" if content is None else safe_str(content), score=_score(score), metadata=metadata
    )


def _id(value: Any) -> str | None:
    return None if value is None else safe_str(value)


def _one(item: Any, depth: int = 0) -> Document:
    """One document from one item. User objects are duck-typed, and a property of theirs
    that raises must not cost the other documents: such an item is kept as its repr."""
    try:
        return _convert(item, depth)
    except Exception as exc:
        return Document(
            id=None, content=f"<unreadable {type(item).__name__}: {type(exc).__name__}>", score=None, metadata={}
        )


def _convert(item: Any, depth: int) -> Document:
    if isinstance(item, str):
        return Document(id=None, content=item, score=None, metadata={})
    if isinstance(item, Mapping):
        return _from_mapping(item, depth)
    # A (doc, score) pair; a list once it has been through JSON (captured arguments).
    if isinstance(item, (tuple, list)) and len(item) == 2 and _is_score(item[1]) and not isinstance(item[0], Real):
        doc = _one(item[0], depth + 1) if depth < _MAX_NESTING else _one(safe_str(item[0]))
        doc["score"] = _score(item[1])
        return doc
    node = getattr(item, "node", None)
    if node is not None and hasattr(item, "score") and depth < _MAX_NESTING:  # LlamaIndex NodeWithScore
        doc = _one(node, depth + 1)
        doc["score"] = _score(getattr(item, "score", None))
        return doc
    if hasattr(item, "page_content"):  # LangChain Document
        metadata = _as_dict(getattr(item, "metadata", None))
        doc_id = getattr(item, "id", None) or metadata.get("id")
        return Document(
            id=_id(doc_id),
            content=safe_str(getattr(item, "page_content", "")),
            score=_score(metadata.get("score")),
            metadata=metadata,
        )
    get_content = getattr(item, "get_content", None)  # LlamaIndex BaseNode / TextNode
    if callable(get_content):
        doc_id = getattr(item, "node_id", None) or getattr(item, "id_", None)
        return Document(
            id=_id(doc_id),
            content=safe_str(get_content()),
            score=None,
            metadata=_as_dict(getattr(item, "metadata", None)),
        )
    text = getattr(item, "text", None)
    if isinstance(text, str):
        return Document(
            id=_id(getattr(item, "id", None)),
            content=text,
            score=_score(getattr(item, "score", None)),
            metadata=_as_dict(getattr(item, "metadata", None)),
        )
    return Document(id=None, content=safe_str(item), score=None, metadata={})


def is_one_shot(result: Any) -> bool:
    """An iterator (a generator, ``map``...) can be read once, and that read is the caller's."""
    return isinstance(result, Iterator)


def normalize_documents(result: Any, *, limit: int | None = None) -> list[Document]:
    """Documents in rank order. Documents without an id get their rank (``"0"``, ``"1"``...).

    Never raises, and never consumes an iterator (returns ``[]`` for one): the value goes
    back to the caller untouched. ``limit`` keeps only the first documents.
    """
    try:
        items = list(islice(_items(result, 0), limit))
    except Exception as exc:  # a user container whose iteration raises
        items = [f"<unreadable {type(result).__name__}: {type(exc).__name__}>"]
    docs = [_one(item) for item in items]
    for rank, doc in enumerate(docs):
        if doc["id"] is None:
            doc["id"] = str(rank)
    return docs


def _items(result: Any, depth: int) -> Iterable[Any]:
    if result is None or is_one_shot(result):
        return []
    if isinstance(result, Mapping):
        if depth < _MAX_NESTING:  # {"documents": [...]}, {"results": {"nodes": [...]}}...
            for key in _LIST_KEYS:
                value = result.get(key)
                if isinstance(value, Iterable) and not isinstance(value, _TEXT):
                    return _items(value, depth + 1)
        return [result]
    if isinstance(result, _TEXT) or not isinstance(result, Iterable) or hasattr(result, "page_content"):
        return [result]
    return result


# Arguments of an LLM function that are never its context, whatever they hold.
_NOT_CONTEXT = frozenset(
    {
        "messages",
        "history",
        "chat_history",
        "turns",
        "tools",
        "functions",
        "stop",
        "stop_sequences",
        "tags",
        "labels",
        "examples",
        "few_shot",
        "questions",
        "previous_questions",
        "candidates",
        "options",
        "choices",
    }
)
# Arguments named like this are context when they hold any text at all (one string, short lines).
_CONTEXT_NAMES = frozenset(
    {
        "context",
        "contexts",
        "doc",
        "docs",
        "documents",
        "passages",
        "sources",
        "chunks",
        "evidence",
        "knowledge",
        "retrieved",
        "snippets",
        "hits",
        "results",
    }
)
_MIN_TEXT = 20  # a string is a passage, not a label or a stop word, from this many characters
_SCAN = 50  # items looked at to decide (a long list is judged by its head)
# A chat content part ({"type": "input_text", "text": ...}) has text too: not a document.
_PART_TYPES = frozenset(
    {
        "text",
        "input_text",
        "output_text",
        "image_url",
        "input_image",
        "input_file",
        "refusal",
        "image",
        "file",
        "tool_use",
        "tool_result",
        "thinking",
    }
)


def _kind(item: Any) -> int:
    """2: a document with passage-like content; 1: a document too short to tell (a short
    string, a pair around one); 0: not a document."""
    kind = type(item)
    if kind is str:
        return 2 if len(item) >= _MIN_TEXT else 1
    if kind is dict or isinstance(item, Mapping):
        if "role" in item or item.get("type") in _PART_TYPES:
            return 0  # a chat message, or a message's content part
        for key in _CONTENT_KEYS:  # a loop, not any(): this runs on the traced call
            if item.get(key) is not None:
                return 2
        return 0
    if kind is tuple or kind is list:
        return _kind(item[0]) if len(item) == 2 and _is_score(item[1]) else 0
    if hasattr(item, "page_content") or (getattr(item, "node", None) is not None and hasattr(item, "score")):
        return 2
    if callable(getattr(item, "get_content", None)):  # a LlamaIndex node
        return 2
    text = getattr(item, "text", None) or getattr(item, "content", None)  # a chunk object
    return 2 if isinstance(text, str) and not isinstance(item, type) else 0


def looks_like_documents(value: Any, named_as_context: bool = False) -> bool:
    """A non-empty list or tuple of documents: passages, dicts with a content key (not chat
    messages or content parts), ``(doc, score)`` pairs, LangChain ``Document``s, LlamaIndex
    nodes, chunk objects with a ``text``. Short strings count only in an argument named like
    context (``docs``, ``context``...). Never reads an iterator. Runs on the traced call: one pass."""
    kind = type(value)
    if not (kind is list or kind is tuple or isinstance(value, (list, tuple))) or not value:
        return False
    passage = named_as_context
    for item in value[:_SCAN]:
        found = _kind(item)
        if not found:
            return False
        passage = passage or found == 2
    return passage


def context_arguments(arguments: Mapping[str, Any], names: Sequence[str] | None) -> tuple[str, ...]:
    """Which of an LLM function's arguments are its context: those in ``names`` that it was
    given, or (``None``) every argument that looks like documents. Cheap: it only looks."""
    if names is not None:
        return tuple(name for name in names if name in arguments)
    return tuple(name for name, value in arguments.items() if name not in _NOT_CONTEXT and _is_context(name, value))


def _is_context(name: str, value: Any) -> bool:
    if name.lower() in _CONTEXT_NAMES:  # context="\n\n".join(passages), {"documents": [...]}, short lines
        if isinstance(value, str):
            return bool(value.strip())
        if isinstance(value, Mapping):
            return (
                any(isinstance(value.get(k), (list, tuple)) and value.get(k) for k in _LIST_KEYS) or _kind(value) == 2
            )
        return looks_like_documents(value, named_as_context=True)
    return looks_like_documents(value)


def documents_in(inputs: Any, names: Sequence[str], whole: str, limit: int | None = None) -> list[Document]:
    """The documents of the arguments ``names`` in ``inputs`` (the arguments, as captured:
    JSON-decoded); ``whole`` in ``names`` means ``inputs`` is the lone argument itself.
    Rank ids continue across arguments."""
    values = [inputs] if whole in names else [inputs.get(n) for n in names] if isinstance(inputs, Mapping) else []
    found: list[Document] = []
    for value in values:
        if value is None:
            continue
        docs = normalize_documents(value, limit=limit)
        for rank, doc in enumerate(docs):
            if doc["id"] == str(rank):
                doc["id"] = str(len(found) + rank)
        found.extend(docs)
    return found
