"""The LangChain integration against real langchain-core: span trees, attributes, context."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManager
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.tools import tool
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import tracer
from integrations import langchain as spy_langchain
from tracer import attributes as A
from tracer._guard import set_raise_internal_errors

from .test_langchain_support import RAG_TREE, answer, fake_model, rag_chain, roots, tree

QUESTION = "When was the Eiffel Tower completed?"
CONTEXT = "The Eiffel Tower is in Paris and was completed in 1889."
SYSTEM = f"Answer from the context only.\n\nContext:\n{CONTEXT}"


@pytest.fixture(autouse=True)
def instrumented() -> Iterator[None]:
    spy_langchain.instrument()
    yield
    spy_langchain.uninstrument()


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def _without_run_id(attrs: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(attrs.pop(A.LANGCHAIN_RUN_ID), str)
    return attrs


def _check_rag(spans: Any, root: Any) -> None:
    """One RAG run, exactly: the tree, the retriever span, the LLM span."""
    assert tree(spans, root) == RAG_TREE
    ids = {root.context.trace_id}
    mine = [s for s in spans if s.context.trace_id in ids]
    [retriever] = [s for s in mine if s.name == "VectorStoreRetriever"]
    docs = [
        {"id": "eiffel", "content": CONTEXT, "score": None, "metadata": {"source": "eiffel.md"}},
    ]
    assert _without_run_id(_attrs(retriever)) == {
        A.SPAN_TYPE: A.SPAN_TYPE_RETRIEVER,
        A.OI_SPAN_KIND: A.OI_KIND_RETRIEVER,
        A.GEN_AI_OPERATION_NAME: A.OP_RETRIEVAL,
        A.OI_INPUT_VALUE: QUESTION,
        A.OI_INPUT_MIME_TYPE: A.MIME_TEXT,
        A.GEN_AI_RETRIEVAL_QUERY_TEXT: QUESTION,
        A.DOCUMENTS_COUNT: 1,
        A.GEN_AI_RETRIEVAL_DOCUMENTS: json.dumps(docs, separators=(",", ":")),
        A.OI_OUTPUT_VALUE: json.dumps(docs, separators=(",", ":")),
        A.OI_OUTPUT_MIME_TYPE: A.MIME_JSON,
        A.oi_document(0, "id"): "eiffel",
        A.oi_document(0, "content"): CONTEXT,
    }
    [llm] = [s for s in mine if s.name == "chat"]
    assert llm.kind is SpanKind.CLIENT
    attrs = _without_run_id(_attrs(llm))
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
    ]
    assert json.loads(attrs.pop(A.GEN_AI_INPUT_MESSAGES)) == messages
    assert json.loads(attrs.pop(A.OI_INPUT_VALUE)) == messages
    assert json.loads(attrs.pop(A.GEN_AI_OUTPUT_MESSAGES)) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "In 1889."}], "finish_reason": "stop"}
    ]
    assert json.loads(attrs.pop(A.OI_LLM_INVOCATION_PARAMETERS)) == {"_type": "generic-fake-chat-model", "stop": None}
    assert attrs.pop(A.COST_USD) == pytest.approx((900 * 0.15 + 100 * 0.075 + 20 * 0.60) / 1e6)
    assert attrs == {
        A.SPAN_TYPE: A.SPAN_TYPE_LLM,
        A.OI_SPAN_KIND: A.OI_KIND_LLM,
        A.GEN_AI_OPERATION_NAME: A.OP_CHAT,
        # The fake model's ls_provider: LangChain's default, the class name without "Chat".
        A.GEN_AI_PROVIDER_NAME: "genericfakechatmodel",
        A.OI_LLM_PROVIDER: "genericfakechatmodel",
        A.OI_INPUT_MIME_TYPE: A.MIME_JSON,
        A.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
        A.OI_LLM_MODEL_NAME: "gpt-4o-mini-2024-07-18",
        A.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        A.GEN_AI_USAGE_INPUT_TOKENS: 1000,
        A.OI_LLM_TOKEN_COUNT_PROMPT: 1000,
        A.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
        A.OI_LLM_TOKEN_COUNT_COMPLETION: 20,
        A.OI_LLM_TOKEN_COUNT_TOTAL: 1020,
        A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 100,
        A.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ: 100,
        A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 5,
        A.OI_LLM_TOKEN_COUNT_COMPLETION_REASONING: 5,
        A.OI_OUTPUT_VALUE: "In 1889.",
        A.OI_OUTPUT_MIME_TYPE: A.MIME_TEXT,
    }
    assert _attrs(root)[A.OI_INPUT_VALUE] == QUESTION
    assert _attrs(root)[A.OI_OUTPUT_VALUE] == "In 1889."
    [parser] = [s for s in mine if s.name == "StrOutputParser"]
    assert _attrs(parser)[A.LANGCHAIN_RUN_TYPE] == "parser"
    assert all(s.status.status_code is StatusCode.UNSET for s in mine)


def _answer() -> AIMessage:
    return answer("In 1889.", input=1000, output=20, cached=100, reasoning=5)


def test_rag_chain_sync(spans: Any) -> None:
    assert rag_chain(fake_model(_answer())).invoke(QUESTION) == "In 1889."
    [root] = roots(spans)
    assert len(spans) == 9
    _check_rag(spans, root)


async def test_rag_chain_async(spans: Any) -> None:
    assert await rag_chain(fake_model(_answer())).ainvoke(QUESTION) == "In 1889."
    [root] = roots(spans)
    assert len(spans) == 9
    _check_rag(spans, root)


def test_rag_chain_batch(spans: Any) -> None:
    assert rag_chain(fake_model(_answer(), _answer())).batch([QUESTION, QUESTION]) == ["In 1889.", "In 1889."]
    found = roots(spans)
    assert len(found) == 2 and len({r.context.trace_id for r in found}) == 2
    for root in found:
        _check_rag(spans, root)


async def test_rag_chain_abatch(spans: Any) -> None:
    assert await rag_chain(fake_model(_answer(), _answer())).abatch([QUESTION, QUESTION]) == ["In 1889."] * 2
    for root in roots(spans):
        _check_rag(spans, root)


def test_a_chain_nests_under_the_span_current_when_it_runs(spans: Any) -> None:
    with tracer.span("request"):
        rag_chain(fake_model(_answer())).invoke(QUESTION)
    [root] = roots(spans)
    assert root.name == "request"
    [chain] = spans.children(root)
    _check_rag(spans, chain)


# --- our spans are current while a run's body runs ---------------------------------------------
@tracer.trace_llm(name="client call", model="gpt-4o-mini")
def _client_call(text: str) -> str:
    return text.upper()


@tracer.trace_step(name="inner")
def _inner(value: Any) -> Any:
    return value


class _ClientChat(BaseChatModel):
    """A chat model whose provider call is a traced client call, like ChatOpenAI -> openai."""

    @property
    def _llm_type(self) -> str:
        return "client-chat"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(_client_call(str(messages[-1].content))))])

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        await asyncio.sleep(0)
        return self._generate(messages)


def _nested_under(spans: Any, inner: str, outer: str) -> None:
    inners = spans.named(inner)
    assert inners
    by_id = {s.context.span_id: s for s in spans}
    for span in inners:
        assert by_id[span.parent.span_id].name == outer


def test_a_client_call_inside_a_chat_model_is_its_child(spans: Any) -> None:
    model = _ClientChat()
    assert model.invoke("hi").content == "HI"
    assert [a.content for a in model.batch(["a", "b", "c"])] == ["A", "B", "C"]
    _nested_under(spans, "client call", "chat")
    assert len(spans.named("client call")) == 4


async def test_a_client_call_inside_an_async_chat_model_is_its_child(spans: Any) -> None:
    model = _ClientChat()
    assert (await model.ainvoke("hi")).content == "HI"
    assert [a.content for a in await model.abatch(["a", "b", "c"])] == ["A", "B", "C"]
    _nested_under(spans, "client call", "chat")
    assert len(spans.named("client call")) == 4


def test_code_inside_lambdas_and_parallel_branches_nests_under_their_span(spans: Any) -> None:
    branch = RunnableLambda(_inner, name="branch")
    chain = RunnableParallel(a=branch, b=branch, c=branch) | RunnableLambda(_inner, name="last")
    chain.batch([1, 2])
    assert len(spans.named("inner")) == 8
    by_id = {s.context.span_id: s for s in spans}
    assert {by_id[s.parent.span_id].name for s in spans.named("inner")} == {"branch", "last"}


async def test_async_runs_leave_the_callers_context_as_it_was(spans: Any) -> None:
    before = trace.get_current_span()
    branch = RunnableLambda(_inner, name="branch")
    pick = RunnableLambda(lambda d: d["a"], name="pick")
    chain = RunnableParallel(a=branch, b=branch) | pick | rag_chain(fake_model(_answer(), _answer()))
    await chain.ainvoke(QUESTION)
    assert trace.get_current_span() is before
    await asyncio.gather(rag_chain(fake_model(_answer())).ainvoke(QUESTION), _ClientChat().ainvoke("x"))
    assert trace.get_current_span() is before
    _nested_under(spans, "inner", "branch")


def test_sync_runs_leave_the_callers_context_as_it_was(spans: Any) -> None:
    before = trace.get_current_span()
    rag_chain(fake_model(_answer())).invoke(QUESTION)
    _ClientChat().batch(["a", "b"])
    assert trace.get_current_span() is before


def test_streaming_a_chain(spans: Any) -> None:
    chunks = list(rag_chain(fake_model("In 1889.")).stream(QUESTION))
    assert "".join(chunks) == "In 1889."
    [root] = roots(spans)
    [llm] = spans.named("chat")
    assert _attrs(llm)[A.OI_OUTPUT_VALUE] == "In 1889."
    assert A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in _attrs(llm)
    assert _attrs(root)[A.OI_OUTPUT_VALUE] == "In 1889."


# --- retrievers, tools, errors -------------------------------------------------------------------
class _Scored(BaseRetriever):
    """A retriever that reports its scores in the metadata, as many do."""

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return [Document("Paris.", id="p", metadata={"score": 0.75}), Document("Rome.", metadata={"score": 0.5})]


def test_retriever_scores_from_metadata(spans: Any) -> None:
    _Scored().invoke("capital?")
    span = spans.one("_Scored")
    docs = json.loads(_attrs(span)[A.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert [(d["id"], d["score"]) for d in docs] == [("p", 0.75), ("1", 0.5)]
    assert _attrs(span)[A.oi_document(0, "score")] == 0.75


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}."


def test_a_tool_span(spans: Any) -> None:
    assert get_weather.invoke({"city": "Paris"}) == "Sunny in Paris."
    call = {"name": "get_weather", "args": {"city": "Rome"}, "id": "call_1", "type": "tool_call"}
    message = get_weather.invoke(call)
    assert isinstance(message, ToolMessage) and message.content == "Sunny in Rome."
    first, second = spans.named("execute_tool get_weather")
    assert _without_run_id(_attrs(first)) == {
        A.SPAN_TYPE: A.SPAN_TYPE_TOOL,
        A.OI_SPAN_KIND: A.OI_KIND_TOOL,
        A.GEN_AI_OPERATION_NAME: A.OP_EXECUTE_TOOL,
        A.GEN_AI_TOOL_NAME: "get_weather",
        A.GEN_AI_TOOL_TYPE: A.TOOL_TYPE_FUNCTION,
        A.GEN_AI_TOOL_DESCRIPTION: "Get the weather in a city.",
        A.OI_INPUT_VALUE: '{"city":"Paris"}',
        A.OI_INPUT_MIME_TYPE: A.MIME_JSON,
        A.GEN_AI_TOOL_CALL_ARGUMENTS: '{"city":"Paris"}',
        A.OI_OUTPUT_VALUE: "Sunny in Paris.",
        A.OI_OUTPUT_MIME_TYPE: A.MIME_TEXT,
        A.GEN_AI_TOOL_CALL_RESULT: "Sunny in Paris.",
    }
    assert _attrs(second)[A.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert _attrs(second)[A.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Rome."


class Boom(Exception):
    pass


def test_an_error_in_a_chain_is_recorded_and_raised_unchanged(spans: Any) -> None:
    error = Boom("no luck")

    def fail(_: Any) -> Any:
        raise error

    chain = RunnableLambda(lambda x: x, name="first") | RunnableLambda(fail, name="fails")
    with pytest.raises(Boom) as raised:
        chain.invoke("x")
    assert raised.value is error
    failed = spans.one("fails")
    assert failed.status.status_code is StatusCode.ERROR
    assert _attrs(failed)[A.ERROR_TYPE] == "Boom"
    assert [e.name for e in failed.events] == [A.EXCEPTION_EVENT]
    assert spans.one("RunnableSequence").status.status_code is StatusCode.ERROR
    assert spans.one("first").status.status_code is StatusCode.UNSET


async def test_an_error_in_an_async_model_is_recorded(spans: Any) -> None:
    class Failing(_ClientChat):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            raise Boom("model down")

    with pytest.raises(Boom, match="model down"):
        await Failing().ainvoke("x")
    span = spans.one("chat")
    assert span.status.status_code is StatusCode.ERROR and _attrs(span)[A.ERROR_TYPE] == "Boom"


# --- capture off, redaction, never breaking the chain ------------------------------------------
_CONTENT = (
    A.OI_INPUT_VALUE,
    A.OI_OUTPUT_VALUE,
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_RETRIEVAL_DOCUMENTS,
    A.GEN_AI_RETRIEVAL_QUERY_TEXT,
    A.GEN_AI_TOOL_CALL_ARGUMENTS,
    A.GEN_AI_TOOL_CALL_RESULT,
)


def test_capture_off_stores_no_content(spans: Any, use_settings: Any) -> None:
    use_settings(capture_content=False)
    rag_chain(fake_model(_answer())).invoke(QUESTION)
    get_weather.invoke({"city": "Paris"})
    assert len(spans) == 10
    for span in spans:
        attrs = _attrs(span)
        assert not [k for k in attrs if k in _CONTENT or k.startswith(A.OI_RETRIEVAL_DOCUMENTS)], span.name
        assert "1889" not in json.dumps(attrs) and "Paris" not in json.dumps(attrs)
    llm = _attrs(spans.one("chat"))
    assert llm[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000 and A.COST_USD in llm
    assert _attrs(spans.one("VectorStoreRetriever"))[A.DOCUMENTS_COUNT] == 1


def test_redaction_applies(spans: Any, use_settings: Any) -> None:
    use_settings(redact=lambda key, text: text.replace("Eiffel", "[X]"))
    rag_chain(fake_model(_answer())).invoke(QUESTION)
    assert "Eiffel" not in json.dumps([_attrs(s) for s in spans])
    assert "[X] Tower" in _attrs(spans.one("chat"))[A.GEN_AI_INPUT_MESSAGES]


def test_our_failure_never_breaks_the_chain(spans: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations import _langchain_extract

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in spyglass")

    monkeypatch.setattr(_langchain_extract, "llm_response", broken)
    monkeypatch.setattr(_langchain_extract, "chat_input_messages", broken)
    set_raise_internal_errors(False)
    assert rag_chain(fake_model(_answer())).invoke(QUESTION) == "In 1889."
    assert len(spans) == 9  # every span still ended


# --- instrument / uninstrument ---------------------------------------------------------------
def test_instrument_and_uninstrument_are_idempotent(spans: Any) -> None:
    from langchain_core.callbacks.base import BaseCallbackManager
    from langchain_core.runnables import config

    patched = vars(BaseCallbackManager)["__init__"]
    spy_langchain.instrument()
    assert vars(BaseCallbackManager)["__init__"] is patched and spy_langchain.is_instrumented()
    spy_langchain.uninstrument()
    spy_langchain.uninstrument()
    assert not spy_langchain.is_instrumented()
    assert not hasattr(BaseCallbackManager.__init__, "__wrapped__")
    assert not hasattr(config._set_config_context, "__wrapped__")
    rag_chain(fake_model(_answer())).invoke(QUESTION)
    assert len(spans) == 0
    spy_langchain.instrument()
    rag_chain(fake_model(_answer())).invoke(QUESTION)
    assert len(spans) == 9


def test_a_handler_that_outlives_uninstrument_is_inert(spans: Any) -> None:
    kept = CallbackManager([])  # made while instrumented: it holds our handler
    assert kept.handlers
    spy_langchain.uninstrument()
    rag_chain(fake_model(_answer())).invoke(QUESTION, config={"callbacks": kept})
    assert len(spans) == 0


def test_a_run_in_flight_at_uninstrument_still_ends(spans: Any) -> None:
    def stop(value: Any) -> Any:
        spy_langchain.uninstrument()
        return value

    (RunnableLambda(stop, name="stops") | RunnableLambda(lambda v: v, name="after")).invoke(HumanMessage("x"))
    assert sorted(s.name for s in spans) == ["RunnableSequence", "stops"]
