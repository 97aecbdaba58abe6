"""A LlamaIndex RAG query engine traced by Spyglass with no decorator: a
``VectorStoreIndex`` retrieves, the response synthesizer builds the prompt, the LLM answers,
then a guardrail checks the answer. Run it, then open the viewer:

    pip install 'spyglass[llama-index,viewer]'
    python examples/llamaindex_rag.py            # writes ./spyglass.duckdb
    spyglass view                                # the third answer is flagged

Offline by default: the embedding and the LLM are the stand-ins of ``examples/_offline.py``
(a ``BaseEmbedding`` and a ``CustomLLM`` that answers from its context and gets one question
wrong). With ``--openai`` and ``OPENAI_API_KEY`` set, LlamaIndex's ``OpenAI`` LLM answers
instead (``pip install llama-index-llms-openai``).

One line turns tracing on: ``tracer.configure(instrument=["llama_index"])``. Each query
becomes one trace: the retrieved nodes are its context, the prompt the synthesizer built is
its prompt, the response its output, and the guardrail's verdict its decision; the grounding
check runs as spans are stored.
"""

from __future__ import annotations

import re
from typing import Any

from _offline import KB, QUESTIONS, arguments, embed, report, stand_in_answer, tone_guard, usage
from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms import LLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.query_engine import BaseQueryEngine
from llama_index.core.schema import TextNode

import tracer

# What LlamaIndex's default question-answering prompt puts around the context and the query.
_CONTEXT = re.compile(r"-{5,}\n(.*)\n-{5,}", re.DOTALL)
_QUERY = re.compile(r"Query: (.*)\n", re.DOTALL)


class WordEmbedding(BaseEmbedding):
    def _get_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed(text)


class StandInLLM(CustomLLM):
    """Not a model: answers with the context sentence closest to the query."""

    model: str = "stand-in-completion"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        context, query = _CONTEXT.search(prompt), _QUERY.search(prompt)
        text = stand_in_answer(query[1].strip() if query else prompt, context[1] if context else "")
        prompt_tokens, answer_tokens = usage(prompt, text)
        raw = {"model": self.model, "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": answer_tokens}}
        return CompletionResponse(text=text, raw=raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        yield self.complete(prompt, formatted, **kwargs)


@tracer.trace_step
def answer_question(engine: BaseQueryEngine, question: str) -> str:
    """The app's own function around the query engine: its trace is named after it."""
    return tone_guard(str(engine.query(question)))


def build_engine(llm: LLM) -> BaseQueryEngine:
    Settings.embed_model = WordEmbedding(model_name="word-hash")
    nodes = [TextNode(id_=doc_id, text=text, metadata=meta) for doc_id, text, meta in KB]
    return VectorStoreIndex(nodes=nodes).as_query_engine(llm=llm, similarity_top_k=2)


def language_model(use_openai: bool) -> LLM:
    if not use_openai:
        return StandInLLM()
    from llama_index.llms.openai import OpenAI

    return OpenAI(model="gpt-4o-mini", temperature=0)


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__ or "", "LlamaIndex's OpenAI LLM", argv)
    engine = build_engine(language_model(args.openai))  # before configure: indexing is not a trace
    tracer.configure(db=args.db, service_name="llamaindex-rag-example", instrument=["llama_index"])
    with tracer.trace_attributes(session_id="llamaindex-example", tags=["example", "llama-index"]):
        for question in QUESTIONS:
            print(f"Q: {question}\nA: {answer_question(engine, question)}\n")
    report(args.db)


if __name__ == "__main__":
    main()
