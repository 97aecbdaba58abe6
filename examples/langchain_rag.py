"""A LangChain RAG chain traced by Spyglass with no decorator: retriever -> prompt -> chat
model -> parser, then a guardrail. Run it, then open the viewer:

    pip install 'spyglass[langchain,viewer]'
    python examples/langchain_rag.py             # writes ./spyglass.duckdb
    spyglass view                                # the third answer is flagged

Offline by default: the embedding and the chat model are the stand-ins of
``examples/_offline.py`` (a real ``InMemoryVectorStore``, a ``BaseChatModel`` subclass that
answers from its context and gets one question wrong). With ``--openai`` and
``OPENAI_API_KEY`` set, ``ChatOpenAI`` answers instead (``pip install langchain-openai``).

One line turns tracing on: ``tracer.configure(instrument=["langchain"])``. Each run of the
chain becomes one trace: the retriever's documents are its context, the chat model's
messages its prompt, the parser's string its output, and the guardrail's verdict its
decision; the grounding check runs as spans are stored.
"""

from __future__ import annotations

from typing import Any

from _offline import KB, QUESTIONS, arguments, embed, report, stand_in_answer, tone_guard, usage
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

import tracer

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer the question from the context only. Say so if it is not there.\n\nContext:\n{context}"),
        ("human", "{question}"),
    ]
)


class WordEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed(text)


class StandInChatModel(BaseChatModel):
    """Not a model: answers with the context sentence closest to the question."""

    model_name: str = "stand-in-chat"

    @property
    def _llm_type(self) -> str:
        return "stand-in"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any) -> ChatResult:
        context, question = str(messages[0].content), str(messages[-1].content)
        text = stand_in_answer(question, context)
        prompt_tokens, answer_tokens = usage(context + question, text)
        message = AIMessage(
            text,
            response_metadata={"model_name": self.model_name, "finish_reason": "stop"},
            usage_metadata={
                "input_tokens": prompt_tokens,
                "output_tokens": answer_tokens,
                "total_tokens": prompt_tokens + answer_tokens,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(d.page_content for d in docs)


def build_chain(model: Runnable[Any, Any]) -> Runnable[Any, str]:
    store = InMemoryVectorStore(WordEmbeddings())
    store.add_documents([Document(text, id=doc_id, metadata=meta) for doc_id, text, meta in KB])
    retriever = store.as_retriever(search_kwargs={"k": 2})
    return (
        {"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
        | PROMPT
        | model
        | StrOutputParser()
    )


@tracer.trace_step
def answer_question(chain: Runnable[Any, str], question: str) -> str:
    """The app's own function around the chain: its trace is named after it."""
    return tone_guard(chain.invoke(question))


def chat_model(use_openai: bool) -> Runnable[Any, Any]:
    if not use_openai:
        return StandInChatModel()
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o-mini", temperature=0)


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__ or "", "ChatOpenAI", argv)
    tracer.configure(db=args.db, service_name="langchain-rag-example", instrument=["langchain"])
    chain = build_chain(chat_model(args.openai))
    with tracer.trace_attributes(session_id="langchain-example", tags=["example", "langchain"]):
        for question in QUESTIONS:
            print(f"Q: {question}\nA: {answer_question(chain, question)}\n")
    report(args.db)


if __name__ == "__main__":
    main()
