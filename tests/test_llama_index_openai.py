"""A LlamaIndex LLM that calls the real openai client (replaying a recorded exchange), with
both our LlamaIndex and openai integrations on: the client span nests under the LlamaIndex
LLM span, and the two count as one call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("vcr")

from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

from integrations import llama_index as spy_llama_index
from integrations import openai as spy_openai
from tracer import attributes as A
from tracer.testing import CapturedSpans

from .openai_support import REPLAY, cassettes_dir


class OpenAIBackedLLM(CustomLLM):
    """Completes through ``client.chat.completions.create``, as LlamaIndex's own OpenAI LLM
    does (that package is not installed here)."""

    model: str = "gpt-4o-mini"
    _client: Any = PrivateAttr()

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._client = client

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raw = self._client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}], stream=False
        )
        return CompletionResponse(text=raw.choices[0].message.content or "", raw=raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        raise NotImplementedError


@pytest.fixture
def both(spans: CapturedSpans) -> Iterator[CapturedSpans]:
    spy_openai.instrument()
    spy_llama_index.instrument()
    try:
        yield spans
    finally:
        spy_llama_index.uninstrument()
        spy_openai.uninstrument()


def test_the_client_call_nests_under_the_llama_index_llm_span_and_counts_once(both: CapturedSpans) -> None:
    llm = OpenAIBackedLLM(openai.OpenAI(api_key="test", max_retries=0))
    with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
        response = llm.complete("Say this is a test")
    assert response.text == "This is a test."

    outer = both.one("OpenAIBackedLLM.complete")
    inner = both.one("chat gpt-4o-mini")
    assert inner.parent is not None and inner.parent.span_id == outer.context.span_id
    o, i = dict(outer.attributes or {}), dict(inner.attributes or {})
    # One logical call (tracer/_nesting.py): the client span points at ours, ours counts it.
    assert i[A.LLM_PARENT_SPAN_ID] == format(outer.context.span_id, "016x")
    assert o[A.LLM_INNER_CALLS] == 1 and o[A.LLM_INNER_USAGE] is True
    # Ours read the same response through LlamaIndex: usage, model, and the provider the
    # client call reported (our LLM class names none).
    assert (o[A.GEN_AI_USAGE_INPUT_TOKENS], o[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 5)
    assert o[A.GEN_AI_RESPONSE_MODEL] == i[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert o[A.GEN_AI_RESPONSE_ID] == "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q"
    assert o[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert o[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_OPENAI
    assert o[A.COST_USD] == pytest.approx(i[A.COST_USD])
