"""What an LLM answer is checked against, and which text is the answer.

Shared by the export-time grounding check, ``spyglass check`` and ``spyglass export``, so the
three agree. An answer's evidence is everything in its trace the model could have read:

- documents from retriever spans anywhere earlier in the trace;
- documents the LLM function was given as arguments (``spyglass.context.documents``);
- tool results: the outputs of tool spans, and ``tool``-role messages in the prompt.

A tool result is a document whose id is ``tool:<name>`` and whose metadata says
``{"source": "tool"}``, so a sentence it supports names it as its source.

Attributes here are :func:`tracer.conventions.canonical` views: any convention reads the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import attributes as A
from ._content import _json, output_text, question_text
from ._documents import documents_in

__all__ = [
    "SOURCE_TOOL",
    "TOOL_PREFIX",
    "answer",
    "context_documents",
    "evidence",
    "prompt_tool_results",
    "retrieved_documents",
    "sources",
    "tool_result",
    "unique",
]

SOURCE_TOOL = "tool"
TOOL_PREFIX = "tool:"

Doc = dict[str, Any]


def _docs(value: Any) -> list[Doc]:
    decoded = _json(value)
    return [d for d in decoded if isinstance(d, dict)] if isinstance(decoded, list) else []


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        decoded = _json(value)
        return decoded if isinstance(decoded, str) else value
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str)


def _tool_doc(name: str, content: str, call_id: str | None = None) -> Doc:
    # One result reaches the trace twice (the tool span's output, then the tool message in
    # the next prompt), spaced differently: JSON is written one way so the two are one.
    decoded = _json(content)
    if isinstance(decoded, (dict, list)):
        content = json.dumps(decoded, ensure_ascii=False, sort_keys=True)
    metadata: dict[str, Any] = {"source": SOURCE_TOOL, "tool": name}
    if call_id:
        metadata["call_id"] = call_id
    return {"id": TOOL_PREFIX + name, "content": content, "score": None, "metadata": metadata}


def retrieved_documents(attributes: Mapping[str, Any]) -> list[Doc]:
    """A retriever span's documents."""
    return _docs(attributes.get(A.GEN_AI_RETRIEVAL_DOCUMENTS))


def context_documents(attributes: Mapping[str, Any]) -> list[Doc]:
    """The documents an LLM function was given as arguments, read from its captured input
    (``spyglass.context.arguments`` names which); ``[]`` if the input was cut or not captured."""
    names = attributes.get(A.CONTEXT_ARGUMENTS)
    if not names:
        return []
    inputs = _json(attributes.get(A.OI_INPUT_VALUE))
    if inputs is None:
        return []
    listed = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    return [dict(d) for d in documents_in(inputs, listed, A.CONTEXT_WHOLE_INPUT)]


def tool_result(attributes: Mapping[str, Any], span_name: str) -> Doc | None:
    """A tool span's result as a document, or ``None`` when it recorded none."""
    content = _text(attributes.get(A.GEN_AI_TOOL_CALL_RESULT))
    if content is None:
        content = _text(attributes.get(A.OI_OUTPUT_VALUE))
    if not content:
        return None
    call_id = attributes.get(A.GEN_AI_TOOL_CALL_ID)
    return _tool_doc(str(attributes.get(A.GEN_AI_TOOL_NAME) or span_name), content, str(call_id) if call_id else None)


def prompt_tool_results(attributes: Mapping[str, Any]) -> list[Doc]:
    """``tool``-role messages in an LLM span's prompt, named after the call they answer."""
    messages = _json(attributes.get(A.GEN_AI_INPUT_MESSAGES))
    if not isinstance(messages, list):
        return []
    names: dict[str, str] = {}  # call id -> tool name, from the assistant's tool calls
    out: list[Doc] = []
    for message in messages:
        if not isinstance(message, Mapping) or not isinstance(message.get("parts"), list):
            continue
        for part in message["parts"]:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "tool_call" and part.get("id"):
                names[str(part["id"])] = str(part.get("name") or part["id"])
            elif part.get("type") == "tool_call_response":
                content = _text(part.get("response"))
                if content:
                    call_id = str(part.get("id") or len(out))
                    out.append(_tool_doc(names.get(call_id, call_id), content, call_id))
    return out


def evidence(
    attributes: Mapping[str, Any],
    trace_documents: Iterable[Mapping[str, Any]],
    trace_tools: Iterable[Mapping[str, Any]] = (),
    inner: Sequence[Mapping[str, Any]] = (),
) -> list[Doc]:
    """What the answer of the logical call with ``attributes`` is checked against, without
    repeats; ``inner``: the calls nested in it, whose prompts may hold tool results."""
    prompts = [result for a in (attributes, *inner) for result in prompt_tool_results(a)]
    return unique((*trace_documents, *context_documents(attributes), *trace_tools, *prompts))


def unique(documents: Iterable[Mapping[str, Any]]) -> list[Doc]:
    """``documents`` without repeats, in order. A retrieved document repeats when its text
    does, whatever its id: a framework retriever around an instrumented store query returns
    the store's documents again, often under ranks ("0", "1") instead of the store's ids, and
    the first seen (the store's: its span ends first) is kept. Documents without text (content
    capture off) and tool results repeat only with the same id too: two tools answering "ok"
    are two results. A tool that returned two different results gets ``tool:<name>#2`` for the
    second, so a sentence can say which; the viewer numbers the tool results it lists the same
    way, with this function."""
    seen: set[tuple[str, str]] = set()
    out: list[Doc] = []
    for doc in documents:
        doc_id, content = str(doc.get("id", doc.get("document_id"))), doc.get("content")
        key = ("", content) if content and not doc_id.startswith(TOOL_PREFIX) else (doc_id, str(content))
        if key not in seen:
            seen.add(key)
            out.append(dict(doc))
    ids: dict[str, int] = {}
    for doc in out:
        doc_id = str(doc.get("id", doc.get("document_id")))
        ids[doc_id] = ids.get(doc_id, 0) + 1
        if ids[doc_id] > 1 and doc_id.startswith(TOOL_PREFIX):
            doc["id"] = f"{doc_id}#{ids[doc_id]}"
    return out


def sources(documents: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{document id: "tool"}`` for the tool results among ``documents``."""
    return {
        str(d.get("id")): SOURCE_TOOL
        for d in documents
        if isinstance(d.get("metadata"), Mapping) and d["metadata"].get("source") == SOURCE_TOOL
    }


def answer(attributes: Mapping[str, Any], inner: Sequence[Mapping[str, Any]] = ()) -> tuple[str | None, str | None]:
    """``(answer text, question)`` of a logical LLM call.

    The answer: its own output message, else that of the last call nested in it, else its
    own ``output.value`` (a function that returned a stream has only the stream's repr there;
    the client call inside has the text). The question: its own, else a nested call's.
    """
    own = attributes.get(A.GEN_AI_OUTPUT_MESSAGES)
    output = output_text({A.GEN_AI_OUTPUT_MESSAGES: own}) if own is not None else None
    question = question_text(attributes)
    for nested in reversed(inner):  # the last call made is the one that answered
        output = output or output_text(nested)
        question = question or question_text(nested)
    return output or output_text(attributes), question
