"""Real langchain-core parts for the LangChain tests: a deterministic embedding, a store of
documents, the RAG chain (retriever -> prompt -> model -> parser), and span-tree helpers."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from opentelemetry.sdk.trace import ReadableSpan


class BagOfWords(Embeddings):
    """Hashed bag of words, L2-normalised: the same text always gets the same vector, and
    texts sharing words are close. No model, no network."""

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dims
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vector[zlib.crc32(word.encode()) % self.dims] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


DOCS = [
    Document("The Eiffel Tower is in Paris and was completed in 1889.", id="eiffel", metadata={"source": "eiffel.md"}),
    Document("The Colosseum is in Rome and was completed in 80 AD.", id="colosseum", metadata={"source": "rome.md"}),
    Document("Big Ben is in London; the tower was completed in 1859.", id="bigben", metadata={"source": "london.md"}),
]

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "Answer from the context only.\n\nContext:\n{context}"), ("human", "{question}")]
)


def vector_store() -> InMemoryVectorStore:
    store = InMemoryVectorStore(BagOfWords())
    store.add_documents(DOCS)
    return store


def format_docs(docs: Sequence[Document]) -> str:
    return "\n\n".join(d.page_content for d in docs)


def answer(text: str, **usage: int) -> AIMessage:
    """What the fake model answers: text, usage and model as a provider's model reports them."""
    metadata: dict[str, Any] = {"model_name": "gpt-4o-mini-2024-07-18", "finish_reason": "stop"}
    if not usage:
        return AIMessage(text, response_metadata=metadata)
    return AIMessage(
        text,
        response_metadata=metadata,
        usage_metadata={
            "input_tokens": usage["input"],
            "output_tokens": usage["output"],
            "total_tokens": usage["input"] + usage["output"],
            "input_token_details": {"cache_read": usage.get("cached", 0)},
            "output_token_details": {"reasoning": usage.get("reasoning", 0)},
        },
    )


def fake_model(*answers: AIMessage | str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter(list(answers)))


def rag_chain(model: Runnable[Any, Any], k: int = 1) -> Runnable[Any, str]:
    retriever = vector_store().as_retriever(search_kwargs={"k": k})
    return (
        {"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
        | PROMPT
        | model
        | StrOutputParser()
    )


# The tree every RAG run gives: (name, span type, children), children by start time.
RAG_TREE: tuple[str, str, list[Any]] = (
    "RunnableSequence",
    "step",
    [
        (
            "RunnableParallel<context,question>",
            "step",
            [
                ("RunnablePassthrough", "step", []),
                (
                    "RunnableSequence",
                    "step",
                    [("VectorStoreRetriever", "retriever", []), ("format_docs", "step", [])],
                ),
            ],
        ),
        ("ChatPromptTemplate", "step", []),
        ("chat", "llm", []),
        ("StrOutputParser", "step", []),
    ],
)


def tree(spans: Iterable[ReadableSpan], root: ReadableSpan) -> tuple[str, Any, list[Any]]:
    """``root`` and what nests under it, as (name, spyglass.span.type, children)."""
    spans = list(spans)
    kids = [s for s in spans if s.parent is not None and s.parent.span_id == root.context.span_id]
    # Steps in the order they ran; a parallel map's branches (threads) by name.
    parallel = root.name.startswith("RunnableParallel")
    kids.sort(key=lambda s: s.name if parallel else str(s.start_time or 0).rjust(24, "0"))
    return (root.name, (root.attributes or {}).get("spyglass.span.type"), [tree(spans, k) for k in kids])


def roots(spans: Iterable[ReadableSpan]) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.parent is None), key=lambda s: s.start_time or 0)
