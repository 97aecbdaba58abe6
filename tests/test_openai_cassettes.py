"""Every recorded OpenAI cassette, replayed through the real client, sync and async.

For each one: the instrumented call returns exactly what an uninstrumented replay returns
(same types, same ``model_dump()``), and its span holds what the recording holds (ids,
models, finish reasons, usage, message text, tool calls). The calls are the ones listed in
``shared/cassettes/INDEX.md``; recordings are matched on method and path only, so the async
client replays the sync recordings too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from integrations import openai as spy_openai
from tracer import attributes as A

from .openai_support import (
    OPENAI_VERSION,
    REPLAY,
    USER_ONLY_PROMPT,
    WEATHER_TOOL,
    WEATHER_TOOL_PROMPT,
    Spans,
    attrs,
    cassettes_dir,
    dump,
)

HAS_RESPONSES = hasattr(openai.OpenAI(api_key="x"), "responses")


@dataclass
class Case:
    cassette: str
    method: str  # attribute path on the client
    kwargs: dict[str, Any]
    mode: str = "value"  # value | stream | raw | raw_stream | ctx_stream | partial | error
    check: Callable[[list[dict[str, Any]], Any], None] = lambda spans, value: None
    error: type[BaseException] | tuple[type[BaseException], ...] | None = None
    needs_responses: bool = False
    marks: list[Any] = field(default_factory=list)


def _usage(a: dict[str, Any], inp: int, out: int) -> None:
    assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (inp, out)
    assert (a[A.OI_LLM_TOKEN_COUNT_PROMPT], a[A.OI_LLM_TOKEN_COUNT_COMPLETION]) == (inp, out)


def _text(a: dict[str, Any], i: int = 0) -> str:
    return "".join(p["content"] for p in a[A.GEN_AI_OUTPUT_MESSAGES][i]["parts"] if p["type"] == "text")


def _user_prompt(a: dict[str, Any]) -> None:
    assert a[A.GEN_AI_INPUT_MESSAGES] == [
        {"role": "user", "parts": [{"type": "text", "content": "Say this is a test"}]}
    ]


# --- expectations per cassette, from the recordings ---------------------------------------------
def check_with_content(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_RESPONSE_ID] == "chatcmpl-ASYMQRl3A3DXL9FWCK9tnGRcKIO7q"
    assert a[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_0ba0d124f1"
    _usage(a, 12, 5)
    assert a[A.OI_LLM_TOKEN_COUNT_TOTAL] == 17
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0 and a[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 0
    _user_prompt(a)
    assert a[A.GEN_AI_OUTPUT_MESSAGES] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "This is a test."}], "finish_reason": "stop"}
    ]
    assert a[A.OI_OUTPUT_VALUE] == "This is a test." and a[A.OI_OUTPUT_MIME_TYPE] == A.MIME_TEXT
    # gpt-4o-mini: 12 input at $0.15/M + 5 output at $0.60/M
    assert a[A.COST_USD] == pytest.approx((12 * 0.15 + 5 * 0.60) / 1e6)


def check_async_with_content(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    _usage(a, 12, 12)
    assert _text(a) == "This is a test. How can I assist you further?"


def check_extra_params(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_REQUEST_SEED] == 42 and a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 50 and a[A.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("full", "stop")
    assert a[A.GEN_AI_OUTPUT_TYPE] == "text"
    assert a[A.OPENAI_REQUEST_SERVICE_TIER] == "default" and a[A.OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert a[A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_0705bf87c0"
    assert a[A.OI_LLM_INVOCATION_PARAMETERS]["seed"] == 42
    assert a[A.GEN_AI_RESPONSE_ID] == "chatcmpl-AbMH70fQA9lMPIClvBPyBSjqJBm9F"
    _usage(a, 12, 12)


def check_multiple_choices(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop", "stop")
    assert len(a[A.GEN_AI_OUTPUT_MESSAGES]) == 2
    assert _text(a, 1) == "This is a test. How can I assist you further?"
    assert isinstance(a[A.OI_OUTPUT_VALUE], list)  # several messages: JSON, not one text
    _usage(a, 12, 24)


def check_raw(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert _text(a) == "This is a test." and a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    _usage(a, 12, 5)


def check_stream_usage(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert len(value) == 8 and a[A.STREAM_ITEMS] == 8 and a[A.STREAM_END] == "completed"
    assert a[A.GEN_AI_RESPONSE_MODEL] == "gpt-4-0613" and a[A.GEN_AI_REQUEST_STREAM] is True
    assert _text(a) == '"This is a test."'
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    _usage(a, 12, 5)
    assert A.USAGE_UNKNOWN not in a
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < 5


def check_async_stream(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert len(value) == 8 and _text(a) == "This is a test."
    _usage(a, 12, 5)


def check_not_complete(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert len(value) == 2 and a[A.STREAM_ITEMS] == 2 and a[A.STREAM_END] == "closed"
    assert a[A.USAGE_UNKNOWN] is True and A.GEN_AI_USAGE_INPUT_TOKENS not in a and A.COST_USD not in a
    assert A.GEN_AI_RESPONSE_FINISH_REASONS not in a  # the stream said none before it was closed
    partial = "".join(c.choices[0].delta.content or "" for c in value)
    assert _text(a) == partial and partial  # what arrived is kept


def check_multiple_choices_stream(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert len(value) == a[A.STREAM_ITEMS] and a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop", "stop")
    for i in (0, 1):
        expected = "".join(c.choices[0].delta.content or "" for c in value if c.choices and c.choices[0].index == i)
        assert _text(a, i) == expected and expected.startswith("I'm")
    _usage(a, 26, 104)


def check_raw_stream(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert len(value) == 15 and _text(a) == "This is a test. How can I assist you today?"
    _usage(a, 12, 12)


def check_tools_stream(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    calls = a[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"]
    assert [(c["type"], c["name"], c["arguments"]) for c in calls] == [
        ("tool_call", "get_current_weather", {"location": "Seattle, WA"}),
        ("tool_call", "get_current_weather", {"location": "San Francisco, CA"}),
    ]
    assert all(c["id"].startswith("call_") for c in calls)
    assert a[A.GEN_AI_TOOL_DEFINITIONS][0]["name"] == "get_current_weather"
    _usage(a, 75, 51)


def check_embeddings(tokens: int, dims: int, count: int = 1) -> Callable[[list[dict[str, Any]], Any], None]:
    def check(spans: list[dict[str, Any]], value: Any) -> None:
        [a] = spans
        assert a[A.GEN_AI_OPERATION_NAME] == "embeddings" and a[A.SPAN_TYPE] == "embedding"
        assert a[A.OI_SPAN_KIND] == "EMBEDDING" and a[A.GEN_AI_RESPONSE_MODEL] == "text-embedding-3-small"
        assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == tokens and a[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == dims
        assert len(value.data) == count
        assert a[A.COST_USD] == pytest.approx(tokens * 0.02 / 1e6)

    return check


def check_not_found(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.ERROR_TYPE] == "NotFoundError" and a[A.HTTP_RESPONSE_STATUS_CODE] == 404


def check_responses_basic(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_RESPONSE_ID] == "resp_0f4faba17dcd0f1e0069e2f3e4907881909179832ba1237025"
    assert a[A.OPENAI_API_TYPE] == "responses" and a[A.GEN_AI_OPERATION_NAME] == "chat"
    assert a[A.GEN_AI_SYSTEM_INSTRUCTIONS] == [{"type": "text", "content": "You are a helpful assistant."}]
    _user_prompt(a)
    assert _text(a) == "This is a test." and a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.OI_OUTPUT_VALUE] == "This is a test."
    _usage(a, 22, 6)
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0


def check_responses_params(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert (a[A.GEN_AI_REQUEST_TEMPERATURE], a[A.GEN_AI_REQUEST_TOP_P], a[A.GEN_AI_REQUEST_MAX_TOKENS]) == (
        0.7,
        0.9,
        50,
    )
    assert a[A.OPENAI_REQUEST_SERVICE_TIER] == "default" and a[A.GEN_AI_OUTPUT_TYPE] == "text"
    _usage(a, 22, 6)


def check_responses_tool(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert a[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"] == [
        {
            "type": "tool_call",
            "id": "call_90uO5LcGP5vTBTCrjyhYtWsA",
            "name": "get_current_weather",
            "arguments": {"location": "Seattle, WA"},
        }
    ]
    [tool] = a[A.GEN_AI_TOOL_DEFINITIONS]
    assert tool["type"] == "function" and tool["name"] == "get_current_weather" and "parameters" in tool
    _usage(a, 72, 8)


def check_responses_reasoning(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.GEN_AI_RESPONSE_MODEL] == "gpt-5.4-2026-03-05" and a[A.REQUEST_REASONING_EFFORT] == "low"
    assert a[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 9 and a[A.OI_LLM_TOKEN_COUNT_COMPLETION_REASONING] == 9
    _usage(a, 44, 288)
    parts = a[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"]
    assert [p["type"] for p in parts] == ["reasoning", "text"] and parts[1]["content"].startswith("```bash")
    assert a[A.COST_MISSING_PRICE] == "gpt-5.4-2026-03-05" and A.COST_USD not in a  # not in the table


def check_responses_error(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert a[A.ERROR_TYPE] == "BadRequestError" and a[A.HTTP_RESPONSE_STATUS_CODE] == 400


def check_responses_stream(spans: list[dict[str, Any]], value: Any) -> None:
    [a] = spans
    assert len(value) == 13 and a[A.STREAM_END] == "completed"
    assert a[A.GEN_AI_RESPONSE_ID] == "resp_0415a3de5d3015560069e2f3f4b3088192949253e91aff1eb3"
    assert _text(a) == "This is a test." and a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    _usage(a, 22, 6)
    assert a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


RESPONSES_STREAM_KW = dict(
    model="gpt-4o-mini", instructions="You are a helpful assistant.", input="Say this is a test", service_tier="default"
)
CASES = {
    "with_content": Case(
        "test_chat_completion_with_content.yaml",
        "chat.completions.create",
        dict(messages=USER_ONLY_PROMPT, model="gpt-4o-mini", stream=False),
        check=check_with_content,
    ),
    "async_with_content": Case(
        "test_async_chat_completion_with_content.yaml",
        "chat.completions.create",
        dict(messages=USER_ONLY_PROMPT, model="gpt-4o-mini", stream=False),
        check=check_async_with_content,
    ),
    "extra_params": Case(
        "test_chat_completion_extra_params.yaml",
        "chat.completions.create",
        dict(
            n=2,
            messages=USER_ONLY_PROMPT,
            model="gpt-4o-mini",
            seed=42,
            temperature=0.5,
            max_tokens=50,
            stream=False,
            extra_body={"service_tier": "default"},
            response_format={"type": "text"},
            stop=["full", "stop"],
        ),
        check=check_extra_params,
    ),
    "multiple_choices": Case(
        "test_chat_completion_multiple_choices.yaml",
        "chat.completions.create",
        dict(messages=USER_ONLY_PROMPT, model="gpt-4o-mini", n=2, stream=False),
        check=check_multiple_choices,
    ),
    "raw_response": Case(
        "test_chat_completion_with_raw_response.yaml",
        "chat.completions.with_raw_response.create",
        dict(messages=USER_ONLY_PROMPT, model="gpt-4o-mini"),
        mode="raw",
        check=check_raw,
    ),
    "404": Case(
        "test_chat_completion_404.yaml",
        "chat.completions.create",
        dict(messages=USER_ONLY_PROMPT, model="this-model-does-not-exist"),
        mode="error",
        error=openai.NotFoundError,
        check=check_not_found,
    ),
    "streaming": Case(
        "test_chat_completion_streaming.yaml",
        "chat.completions.create",
        dict(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True, stream_options={"include_usage": True}),
        mode="stream",
        check=check_stream_usage,
    ),
    "async_streaming": Case(
        "test_async_chat_completion_streaming.yaml",
        "chat.completions.create",
        dict(model="gpt-4", messages=USER_ONLY_PROMPT, stream=True, stream_options={"include_usage": True}),
        mode="stream",
        check=check_async_stream,
    ),
    "streaming_not_complete": Case(
        "test_chat_completion_streaming_not_complete.yaml",
        "chat.completions.create",
        dict(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True),
        mode="partial",
        check=check_not_complete,
    ),
    "multiple_choices_streaming": Case(
        "test_chat_completion_multiple_choices_streaming.yaml",
        "chat.completions.create",
        dict(
            messages=WEATHER_TOOL_PROMPT, model="gpt-4o-mini", n=2, stream=True, stream_options={"include_usage": True}
        ),
        mode="stream",
        check=check_multiple_choices_stream,
    ),
    "raw_response_streaming": Case(
        "test_chat_completion_with_raw_response_streaming.yaml",
        "chat.completions.with_raw_response.create",
        dict(messages=USER_ONLY_PROMPT, model="gpt-4o-mini", stream=True, stream_options={"include_usage": True}),
        mode="raw_stream",
        check=check_raw_stream,
    ),
    "tools_streaming": Case(
        "test_chat_completion_multiple_tools_streaming_with_content.yaml",
        "chat.completions.create",
        dict(
            messages=WEATHER_TOOL_PROMPT,
            model="gpt-4o-mini",
            tool_choice="auto",
            tools=[WEATHER_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        ),
        mode="stream",
        check=check_tools_stream,
    ),
    "stream_helper": Case(
        "test_chat_completion_streaming.yaml",
        "chat.completions.stream",
        dict(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream_options={"include_usage": True}),
        mode="ctx_stream",
        check=lambda spans, value: _usage(spans[0], 12, 5),
    ),
    "embeddings": Case(
        "test_embeddings_no_content.yaml",
        "embeddings.create",
        dict(input="This is a test for embeddings", model="text-embedding-3-small"),
        check=check_embeddings(6, 1536),
    ),
    "embeddings_batch": Case(
        "test_embeddings_with_batch_input.yaml",
        "embeddings.create",
        dict(
            input=[
                "This is the first test string for embeddings",
                "This is the second test string for embeddings",
                "This is the third test string for embeddings",
            ],
            model="text-embedding-3-small",
        ),
        check=check_embeddings(24, 1536, 3),
    ),
    "embeddings_dimensions": Case(
        "test_embeddings_with_dimensions.yaml",
        "embeddings.create",
        dict(input="This is a test for embeddings with dimensions", model="text-embedding-3-small", dimensions=512),
        check=check_embeddings(8, 512),
    ),
    "embeddings_base64": Case(
        "test_embeddings_with_encoding_format.yaml",
        "embeddings.create",
        dict(
            input="This is a test for embeddings with encoding format",
            model="text-embedding-3-small",
            encoding_format="base64",
        ),
        check=check_embeddings(9, 1536),
    ),
    "embeddings_not_found": Case(
        "test_embeddings_model_not_found.yaml",
        "embeddings.create",
        dict(input="This is a test for embeddings with bad model", model="non-existent-embedding-model"),
        mode="error",
        error=openai.NotFoundError,
        check=check_not_found,
    ),
    "responses_basic": Case(
        "test_responses_create_basic[content_mode0].yaml",
        "responses.create",
        dict(
            model="gpt-4o-mini", instructions="You are a helpful assistant.", input="Say this is a test", stream=False
        ),
        check=check_responses_basic,
        needs_responses=True,
    ),
    "responses_all_params": Case(
        "test_responses_create_with_all_params[content_mode0].yaml",
        "responses.create",
        dict(
            model="gpt-4o-mini",
            instructions="You are a helpful assistant.",
            input="Say this is a test",
            max_output_tokens=50,
            temperature=0.7,
            top_p=0.9,
            service_tier="default",
            text={"format": {"type": "text"}},
        ),
        check=check_responses_params,
        needs_responses=True,
    ),
    "responses_tool": Case(
        "test_responses_create_captures_tool_call_content[content_mode0].yaml",
        "responses.create",
        dict(
            model="gpt-4o-mini",
            input="What's the weather in Seattle right now?",
            tools=[{"type": "function", **WEATHER_TOOL["function"], "strict": True}],
            tool_choice={"type": "function", "name": "get_current_weather"},
        ),
        check=check_responses_tool,
        needs_responses=True,
    ),
    "responses_reasoning": Case(
        "test_responses_create_reports_reasoning_tokens[content_mode0].yaml",
        "responses.create",
        dict(
            model="gpt-5.4",
            reasoning={"effort": "low"},
            input=[
                {
                    "role": "user",
                    "content": "\nWrite a bash script that takes a matrix "
                    "represented as a string with\nformat '[1,2],[3,4],[5,6]' and prints the "
                    "transpose in the same format.\n",
                }
            ],
            max_output_tokens=300,
            timeout=30.0,
        ),
        check=check_responses_reasoning,
        needs_responses=True,
    ),
    "responses_error": Case(
        "test_responses_create_api_error[content_mode0].yaml",
        "responses.create",
        dict(model="this-model-does-not-exist", input="Hello"),
        mode="error",
        error=(openai.BadRequestError, openai.NotFoundError),
        check=check_responses_error,
        needs_responses=True,
    ),
    "responses_streaming": Case(
        "test_responses_create_streaming[content_mode0].yaml",
        "responses.create",
        dict(RESPONSES_STREAM_KW, stream=True),
        mode="ctx_stream",
        check=check_responses_stream,
        needs_responses=True,
    ),
    "responses_stream_helper": Case(
        "test_responses_create_streaming[content_mode0].yaml",
        "responses.stream",
        RESPONSES_STREAM_KW,
        mode="ctx_stream",
        check=lambda spans, value: _usage(spans[0], 22, 6),
        needs_responses=True,
    ),
}


def _method(client: Any, path: str) -> Any:
    target = client
    for name in path.split("."):
        target = getattr(target, name)
    return target


def _run_sync(client: openai.OpenAI, case: Case) -> Any:
    try:
        result = _method(client, case.method)(**case.kwargs)
    except openai.APIError as exc:
        assert case.mode == "error"
        return exc
    if case.mode == "stream":
        return list(result)
    if case.mode == "raw":
        return result.parse()
    if case.mode == "raw_stream":
        return list(result.parse())
    if case.mode == "ctx_stream":
        with result as stream:
            return list(stream)
    if case.mode == "partial":  # the consumer stops after two chunks, then closes
        chunks = []
        for chunk in result:
            chunks.append(chunk)
            if len(chunks) == 2:
                break
        result.close()
        return chunks
    return result


async def _run_async(client: openai.AsyncOpenAI, case: Case) -> Any:
    method = _method(client, case.method)
    try:
        result = method(**case.kwargs) if case.method.endswith(".stream") else await method(**case.kwargs)
    except openai.APIError as exc:
        assert case.mode == "error"
        return exc
    if case.mode == "stream":
        return [chunk async for chunk in result]
    if case.mode == "raw":
        return result.parse()
    if case.mode == "raw_stream":
        return [chunk async for chunk in result.parse()]
    if case.mode == "ctx_stream":
        async with result as stream:
            return [chunk async for chunk in stream]
    if case.mode == "partial":
        chunks = []
        async for chunk in result:
            chunks.append(chunk)
            if len(chunks) == 2:
                break
        await result.close()
        return chunks
    return result


def _comparable(value: Any) -> Any:
    if isinstance(value, openai.APIStatusError):
        return (type(value), value.status_code, str(value), value.body)
    if isinstance(value, list) and value and type(value[0]).__name__.endswith("Event") and hasattr(value[0], "type"):
        return [(type(v).__name__, v.type) for v in value]  # helper events carry snapshots
    return dump(value)


@pytest.fixture
def spans() -> Any:
    s = Spans()
    yield s
    spy_openai.uninstrument()


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(CASES))
async def test_cassette(name: str, flavour: str, spans: Spans) -> None:
    case = CASES[name]
    if case.needs_responses and not HAS_RESPONSES:
        pytest.skip(f"openai {openai.__version__} has no Responses API")
    if case.method == "chat.completions.stream" and OPENAI_VERSION < (1, 92):
        pytest.skip("chat.completions.stream is under client.beta before openai 1.92")
    path = str(cassettes_dir() / case.cassette)

    def run() -> Any:
        # A fresh client each time: ``with_raw_response`` binds ``create`` when first used.
        if flavour == "sync":
            return _run_sync(openai.OpenAI(api_key="test", max_retries=0), case)
        return _run_async(openai.AsyncOpenAI(api_key="test", max_retries=0), case)

    async def replay() -> Any:
        with REPLAY.use_cassette(path):
            value = run()
            return await value if flavour == "async" else value

    bare = await replay()
    assert spans.finished() == []
    spy_openai.instrument(tracer_provider=spans.provider)
    traced = await replay()

    assert type(traced) is type(bare)
    assert _comparable(traced) == _comparable(bare)
    finished = spans.finished()
    for span in finished:
        assert span.kind is SpanKind.CLIENT
        model = span.attributes[A.GEN_AI_REQUEST_MODEL]
        assert span.name == f"{span.attributes[A.GEN_AI_OPERATION_NAME]} {model}" == f"{span.name.split()[0]} {model}"
        assert span.attributes[A.GEN_AI_PROVIDER_NAME] == "openai"
        assert (span.attributes[A.SERVER_ADDRESS], span.attributes[A.SERVER_PORT]) == ("api.openai.com", 443)
    if case.mode == "error":
        [span] = finished
        assert span.status.status_code is StatusCode.ERROR
        assert [e.name for e in span.events] == ["exception"]
        assert span.events[0].attributes["exception.type"].endswith(type(traced).__name__)
    else:
        assert all(s.status.status_code is StatusCode.UNSET for s in finished)
    case.check([attrs(s) for s in finished], traced)


# --- the two-call tool flow (one cassette, two interactions) ------------------------------------
def _tool_followup(first: Any) -> list[dict[str, Any]]:
    message = first.choices[0].message
    return [
        *WEATHER_TOOL_PROMPT,
        {"role": "assistant", "tool_calls": message.to_dict()["tool_calls"]},
        {"role": "tool", "content": "50 degrees and raining", "tool_call_id": message.tool_calls[0].id},
        {"role": "tool", "content": "70 degrees and sunny", "tool_call_id": message.tool_calls[1].id},
    ]


def _check_tool_flow(finished: list[Any], second_usage: tuple[int, int], ids: tuple[str, str]) -> None:
    first, second = (attrs(s) for s in finished)
    assert first[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert first[A.GEN_AI_OUTPUT_MESSAGES][0]["parts"] == [
        {"type": "tool_call", "id": ids[0], "name": "get_current_weather", "arguments": {"location": "Seattle, WA"}},
        {
            "type": "tool_call",
            "id": ids[1],
            "name": "get_current_weather",
            "arguments": {"location": "San Francisco, CA"},
        },
    ]
    assert first[A.GEN_AI_TOOL_DEFINITIONS] == [
        {
            "type": "function",
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    _usage(first, 75, 51)
    messages = second[A.GEN_AI_INPUT_MESSAGES]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool"]
    assert [p["id"] for p in messages[2]["parts"]] == list(ids)
    assert messages[3]["parts"] == [{"type": "tool_call_response", "id": ids[0], "response": "50 degrees and raining"}]
    assert second[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert "50 degrees and raining" in _text(second) and "70 degrees and sunny" in _text(second)
    _usage(second, *second_usage)


def test_tool_calls_sync(spans: Spans) -> None:
    path = str(cassettes_dir() / "test_chat_completion_tool_calls_with_content.yaml")
    client = openai.OpenAI(api_key="test", max_retries=0)

    def flow() -> list[Any]:
        with REPLAY.use_cassette(path):
            first = client.chat.completions.create(
                messages=WEATHER_TOOL_PROMPT, model="gpt-4o-mini", tool_choice="auto", tools=[WEATHER_TOOL]
            )
            return [first, client.chat.completions.create(messages=_tool_followup(first), model="gpt-4o-mini")]

    bare = flow()
    spy_openai.instrument(tracer_provider=spans.provider)
    assert dump(flow()) == dump(bare)
    _check_tool_flow(spans.finished(), (99, 25), ("call_JpNb8OiAkbIbHzDggfpdDHpi", "call_vaFQc3zK6hHTRZKXRI5Eo2cJ"))


async def test_tool_calls_async(spans: Spans) -> None:
    path = str(cassettes_dir() / "test_async_chat_completion_tool_calls_with_content.yaml")
    client = openai.AsyncOpenAI(api_key="test", max_retries=0)

    async def flow() -> list[Any]:
        with REPLAY.use_cassette(path):
            first = await client.chat.completions.create(
                messages=WEATHER_TOOL_PROMPT, model="gpt-4o-mini", tool_choice="auto", tools=[WEATHER_TOOL]
            )
            second = await client.chat.completions.create(messages=_tool_followup(first), model="gpt-4o-mini")
            return [first, second]

    bare = await flow()
    spy_openai.instrument(tracer_provider=spans.provider)
    assert dump(await flow()) == dump(bare)
    _check_tool_flow(spans.finished(), (99, 24), ("call_O8NOz8VlxosSASEsOY7LDUcP", "call_3m7cyuckijnpiWr6tq0Tl8Mg"))


def test_every_cassette_is_replayed() -> None:
    used = {c.cassette for c in CASES.values()} | {
        "test_chat_completion_tool_calls_with_content.yaml",
        "test_async_chat_completion_tool_calls_with_content.yaml",
    }
    assert {p.name for p in cassettes_dir().glob("*.yaml")} == used
