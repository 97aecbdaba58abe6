"""SYNTHETIC cases: no real recording covers them, so every response here is built by hand
on the client's own transport (``httpx2.MockTransport`` for openai 3.x): rate limits, 5xx,
timeouts, dropped connections, early ``break``, structured outputs and refusals, Azure and
other base URLs, legacy completions, secrets."""

from __future__ import annotations

import gc
import inspect
import json
from typing import Any

import openai
import pytest
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from integrations import openai as spy_openai
from tracer import attributes as A

from .openai_support import (
    OPENAI_VERSION,
    USER_ONLY_PROMPT,
    Spans,
    attrs,
    chat_chunks,
    chat_completion,
    clients,
    http,
    json_response,
    sse,
)


@pytest.fixture
def spans() -> Any:
    s = Spans()
    spy_openai.instrument(tracer_provider=s.provider)
    yield s
    spy_openai.uninstrument()


async def _both(client_pair: tuple[Any, Any], fn: Any) -> list[Any]:
    """Run ``fn(client)`` with the sync client, then with the async one (awaiting it)."""
    sync, async_ = client_pair
    return [fn(sync), await fn(async_)]


def _chat(client: Any, **kw: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, **kw)


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status,error",
    [
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (401, openai.AuthenticationError),
    ],
)
async def test_http_errors_are_recorded_and_reraised_unchanged(spans: Spans, status: int, error: type) -> None:
    """Synthetic: the API answers with an error status."""
    body = {"error": {"message": "synthetic failure", "type": "x", "code": "synthetic"}}
    sync, async_ = clients(lambda request: json_response(status, body, {"retry-after": "0"}))
    with pytest.raises(error) as sync_exc:
        _chat(sync)
    with pytest.raises(error) as async_exc:
        await _chat(async_)
    for exc, span in zip((sync_exc.value, async_exc.value), spans.finished()):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[A.ERROR_TYPE] == error.__qualname__
        assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == status
        [event] = span.events
        assert event.name == "exception" and event.attributes["exception.message"] == str(exc)
        assert exc.status_code == status and exc.body == body["error"]


@pytest.mark.parametrize(
    "raised,error", [(http.ReadTimeout, openai.APITimeoutError), (http.ConnectError, openai.APIConnectionError)]
)
async def test_timeouts_and_connection_errors(spans: Spans, raised: type, error: type) -> None:
    """Synthetic: the transport raises before any response."""

    def handler(request: Any) -> Any:
        raise raised("synthetic", request=request)

    sync, async_ = clients(handler)
    with pytest.raises(error):
        _chat(sync)
    with pytest.raises(error):
        await _chat(async_)
    for span in spans.finished():
        assert span.status.status_code is StatusCode.ERROR and span.attributes[A.ERROR_TYPE] == error.__qualname__


async def test_stream_dropped_midway_keeps_partial_output(spans: Spans) -> None:
    """Synthetic: the connection drops after 3 of 10 chunks."""
    sync, async_ = clients(lambda request: sse(chat_chunks(10), fail_after=3))
    got = []
    dropped = (openai.APIConnectionError, http.ReadError)  # openai < 1.5x let the transport error through
    with pytest.raises(dropped):
        got.extend(_chat(sync, stream=True))
    with pytest.raises(dropped):
        async for chunk in await _chat(async_, stream=True):
            got.append(chunk)
    assert len(got) == 6
    for span in spans.finished():
        a = attrs(span)
        assert span.status.status_code is StatusCode.ERROR and a[A.STREAM_END] == "error"
        assert a[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"] == [{"type": "text", "content": "w0 w1 w2 "}]
        assert a[A.GEN_AI_OUTPUT_MESSAGES][0]["finish_reason"] == "error" and a[A.STREAM_ITEMS] == 3


# --- streams ending early -----------------------------------------------------------------------
def test_break_then_garbage_collection_ends_the_span_once(spans: Spans) -> None:
    """Synthetic: the consumer breaks out of the loop and drops the stream."""
    sync, _ = clients(lambda request: sse(chat_chunks(50)))
    stream = _chat(sync, stream=True)
    assert isinstance(stream, openai.Stream)
    for i, _chunk in enumerate(stream):
        if i == 2:
            break
    assert spans.finished() == []  # still open: the stream could be resumed
    del stream
    gc.collect()
    [span] = spans.finished()
    a = attrs(span)
    assert a[A.STREAM_END] == "abandoned" and a[A.STREAM_ITEMS] == 3 and a[A.USAGE_UNKNOWN] is True
    assert a[A.OI_OUTPUT_VALUE] == "w0 w1 w2 "
    assert span.status.status_code is StatusCode.UNSET


def test_stream_context_manager_and_close_end_once(spans: Spans) -> None:
    """Synthetic: ``with`` exit, then an explicit close() and exhaustion attempts after it."""
    sync, _ = clients(lambda request: sse(chat_chunks(5, usage=True)))
    with _chat(sync, stream=True, stream_options={"include_usage": True}) as stream:
        first = next(stream)
        assert first.choices[0].delta.content == "w0 "
        assert stream.response.status_code == 200  # attributes read through
    stream.close()
    [span] = spans.finished()
    assert span.attributes[A.STREAM_END] == "closed" and span.attributes[A.STREAM_ITEMS] == 1


async def test_full_stream_with_usage_async(spans: Spans) -> None:
    """Synthetic: 50 chunks plus a usage chunk, consumed with ``async with``."""
    _, async_ = clients(lambda request: sse(chat_chunks(50, usage=True)))
    stream = await _chat(async_, stream=True, stream_options={"include_usage": True})
    assert isinstance(stream, openai.AsyncStream)
    async with stream:
        n = len([c async for c in stream])
    assert n == 51
    a = attrs(spans.one())
    assert a[A.STREAM_END] == "completed" and a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert a[A.OI_OUTPUT_VALUE] == "".join(f"w{i} " for i in range(50))


@pytest.mark.skipif(OPENAI_VERSION < (1, 92), reason="chat.completions.stream is under beta before 1.92")
def test_stream_helper_leaving_with_early_ends_span(spans: Spans) -> None:
    """Synthetic: ``chat.completions.stream()`` left after the first event (the helper closes
    the HTTP response, which our proxy hooks)."""
    sync, _ = clients(lambda request: sse(chat_chunks(20)))
    with sync.chat.completions.stream(model="gpt-4o-mini", messages=USER_ONLY_PROMPT) as stream:
        for _event in stream:
            break
    [span] = spans.finished()
    assert span.attributes[A.STREAM_END] == "closed"


# --- structured outputs ----------------------------------------------------------------------------
class Answer(BaseModel):
    city: str


def _parse(client: Any) -> Any:
    parse = getattr(client.chat.completions, "parse", None) or client.beta.chat.completions.parse
    return parse(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, response_format=Answer)


async def test_parse_and_refusal(spans: Spans) -> None:
    """Synthetic: ``parse()`` with a JSON answer, then with a refusal."""
    bodies = [
        chat_completion('{"city": "Paris"}'),
        chat_completion('{"city": "Paris"}'),
        chat_completion(None, refusal="I can't help with that."),
        chat_completion(None, refusal="I can't help with that."),
    ]
    pair = clients(lambda request: json_response(200, bodies.pop(0)))
    parsed = await _both(pair, _parse)
    refused = await _both(pair, _parse)
    assert [p.choices[0].message.parsed for p in parsed] == [Answer(city="Paris")] * 2
    assert [r.choices[0].message.refusal for r in refused] == ["I can't help with that."] * 2
    a_ok, _, a_refused, _ = (attrs(s) for s in spans.finished())
    assert a_ok[A.GEN_AI_OUTPUT_TYPE] == "json"
    assert a_ok[A.OI_LLM_INVOCATION_PARAMETERS]["response_format"] == "Answer"
    assert a_ok[A.OI_OUTPUT_VALUE] == '{"city": "Paris"}'
    assert a_refused[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"] == [
        {"type": "refusal", "content": "I can't help with that."}
    ]


def test_cached_tokens_priced_at_cached_rate(spans: Spans) -> None:
    """Synthetic: 1000 input tokens of which 800 cached, 20 output, gpt-4o-mini."""
    sync, _ = clients(lambda request: json_response(200, chat_completion(cached=800)))
    _chat(sync)
    a = attrs(spans.one())
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 800
    assert a[A.COST_USD] == pytest.approx((200 * 0.15 + 800 * 0.075 + 20 * 0.60) / 1e6)
    spy_openai.set_prices({"gpt-4o-mini": {"input": 1.0, "output": 2.0, "cached_input": 0.5}})
    try:
        spans.clear()
        _chat(sync)
        assert spans.one().attributes[A.COST_USD] == pytest.approx((200 * 1.0 + 800 * 0.5 + 20 * 2.0) / 1e6)
    finally:
        spy_openai.reset_prices()


# --- Responses API streaming helper, early close ----------------------------------------------------
def _responses_events(text_chunks: int) -> list[Any]:
    base = {
        "id": "resp_synthetic",
        "object": "response",
        "created_at": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "status": "in_progress",
    }
    events: list[Any] = [
        ("response.created", {"type": "response.created", "response": base, "sequence_number": 0}),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "sequence_number": 0,
                "item": {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"},
            },
        ),
        (
            "response.content_part.added",
            {
                "type": "response.content_part.added",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "sequence_number": 0,
                "part": {"type": "output_text", "annotations": [], "text": ""},
            },
        ),
    ]
    for i in range(text_chunks):
        events.append(
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": f"t{i} ",
                    "logprobs": [],
                    "sequence_number": i + 1,
                },
            )
        )
    return events


@pytest.mark.skipif(not hasattr(openai.OpenAI(api_key="x"), "responses"), reason="no Responses API")
def test_responses_stream_closed_early_keeps_partial_text(spans: Spans) -> None:
    """Synthetic: ``responses.stream()`` left after two text deltas, before response.completed."""
    sync, _ = clients(lambda request: sse(_responses_events(10), done=False))
    with sync.responses.stream(model="gpt-4o-mini", input="hi") as stream:
        for event in stream:
            if getattr(event, "delta", None) == "t1 ":
                break
    a = attrs(spans.one())
    assert a[A.STREAM_END] == "closed" and a[A.GEN_AI_RESPONSE_ID] == "resp_synthetic"
    assert a[A.OI_OUTPUT_VALUE] == "t0 t1 " and a[A.USAGE_UNKNOWN] is True


# --- legacy completions -----------------------------------------------------------------------------
async def test_legacy_completions_plain_and_streaming(spans: Spans) -> None:
    """Synthetic: ``/v1/completions``, plain then streamed."""
    plain = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"index": 0, "text": "Paris.", "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    chunks = [
        {**plain, "choices": [{"index": 0, "text": t, "finish_reason": f, "logprobs": None}]}
        for t, f in (("Par", None), ("is.", "stop"))
    ]
    for c in chunks:
        c.pop("usage")

    def handler(request: Any) -> Any:
        return sse(chunks) if json.loads(request.content).get("stream") else json_response(200, plain)

    sync, async_ = clients(handler)
    assert (
        sync.completions.create(model="gpt-3.5-turbo-instruct", prompt="Capital of France?").choices[0].text == "Paris."
    )
    got = [
        c.choices[0].text
        async for c in await async_.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="Capital of France?", stream=True
        )
    ]
    assert got == ["Par", "is."]
    first, second = (attrs(s) for s in spans.finished())
    for a in (first, second):
        assert a[A.GEN_AI_OPERATION_NAME] == "text_completion" and a[A.OI_OUTPUT_VALUE] == "Paris."
        assert a[A.GEN_AI_INPUT_MESSAGES] == [
            {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]}
        ]
        assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert first[A.COST_USD] == pytest.approx((5 * 1.5 + 2 * 2.0) / 1e6)
    assert second[A.USAGE_UNKNOWN] is True


# --- where the client points -------------------------------------------------------------------------
async def test_azure_and_compatible_servers(spans: Spans) -> None:
    """Synthetic: Azure OpenAI, and an OpenAI-compatible server on a custom port."""
    transport = http.MockTransport(lambda request: json_response(200, chat_completion()))
    azure = openai.AzureOpenAI(
        api_key="k",
        api_version="2024-06-01",
        azure_endpoint="https://myres.openai.azure.com",
        http_client=openai.DefaultHttpxClient(transport=transport),
        max_retries=0,
    )
    local = openai.AsyncOpenAI(
        api_key="k",
        base_url="http://localhost:8011/v1",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(transport=transport),
    )
    azure.chat.completions.create(model="my-deployment", messages=USER_ONLY_PROMPT)
    await local.chat.completions.create(model="llama3", messages=USER_ONLY_PROMPT)
    az, lo = spans.finished()
    assert (az.attributes[A.GEN_AI_PROVIDER_NAME], az.attributes[A.SERVER_ADDRESS], az.attributes[A.SERVER_PORT]) == (
        "azure.ai.openai",
        "myres.openai.azure.com",
        443,
    )
    assert az.attributes[A.OI_LLM_PROVIDER] == "azure"
    assert (lo.attributes[A.GEN_AI_PROVIDER_NAME], lo.attributes[A.SERVER_ADDRESS], lo.attributes[A.SERVER_PORT]) == (
        "openai",
        "localhost",
        8011,
    )


def test_no_secret_reaches_a_span(spans: Spans) -> None:
    """Synthetic: API key, Authorization and api-key headers never appear in attributes."""
    key = "sk-test-SECRETKEY0123456789abcdef"
    sync, _ = clients(lambda request: json_response(200, chat_completion()), api_key=key)
    _chat(
        sync, extra_headers={"Authorization": f"Bearer {key}", "api-key": "hunter2-secret"}, extra_body={"api_key": key}
    )
    text = json.dumps(dict(spans.one().attributes))
    for secret in (key, "SECRETKEY", "hunter2", "Bearer"):
        assert secret not in text


async def test_tools_legacy_functions_and_response_format(spans: Spans) -> None:
    """Synthetic: legacy ``functions`` + ``function_call`` answer, json_schema, reasoning_effort."""
    body = chat_completion(None, finish="function_call")
    body["choices"][0]["message"]["function_call"] = {"name": "lookup", "arguments": '{"q": "x"}'}
    sync, async_ = clients(lambda request: json_response(200, body))
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    fn = {"name": "lookup", "description": "Look up", "parameters": {"type": "object"}}

    # reasoning_effort is a keyword of newer clients only; older ones take it through extra_body.
    effort = (
        {"reasoning_effort": "low"}
        if "reasoning_effort" in inspect.signature(sync.chat.completions.create).parameters
        else {"extra_body": {"reasoning_effort": "low"}}
    )

    def call(client: Any) -> Any:
        return _chat(client, functions=[fn], response_format=schema, **effort)

    await _both((sync, async_), call)
    for span in spans.finished():
        a = attrs(span)
        assert a[A.GEN_AI_TOOL_DEFINITIONS] == [{"type": "function", **fn}]
        assert a[A.GEN_AI_OUTPUT_TYPE] == "json"
        assert a.get(A.REQUEST_REASONING_EFFORT) == ("low" if "reasoning_effort" in effort else None)
        assert a[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"] == [
            {"type": "tool_call", "id": None, "name": "lookup", "arguments": {"q": "x"}}
        ]
        assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("function_call",)
