"""Every recorded Anthropic cassette, replayed through the real client, sync and async.

For each one: the instrumented call returns exactly what an uninstrumented replay of the same
cassette returns (same types, same ``model_dump()``; for streams the same events, text and
final message), and its span holds what the recording holds (ids, models, finish reasons,
usage, cost, message text, thinking, tool calls). The request bodies are the recorded ones
(``shared/cassettes/anthropic/INDEX.md``); recordings are matched on method and path only, so
the async client replays the sync recordings too, and the other way round.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import tracer
from integrations import anthropic as spy_anthropic
from tracer import attributes as A

from .anthropic_support import REPLAY, Spans, attrs, cassettes_dir, check_cost, dump, recorded_bodies

Check = Callable[[list[dict[str, Any]]], None]


@dataclass
class Case:
    cassette: str
    method: str  # messages.create | messages.stream | beta.messages.create | messages.parse | completions.create
    mode: str  # value | stream | manager
    check: Check


def _usage(a: dict[str, Any], total_in: int, out: int, read: int | None = None, creation: int | None = None) -> None:
    assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (total_in, out)
    assert (a[A.OI_LLM_TOKEN_COUNT_PROMPT], a[A.OI_LLM_TOKEN_COUNT_COMPLETION]) == (total_in, out)
    assert a[A.OI_LLM_TOKEN_COUNT_TOTAL] == total_in + out
    assert a.get(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) == read
    assert a.get(A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS) == creation


def _ids(a: dict[str, Any], rid: str, model: str, stop: str, finish: str) -> None:
    assert a[A.GEN_AI_RESPONSE_ID] == rid
    assert a[A.GEN_AI_RESPONSE_MODEL] == model == a[A.GEN_AI_REQUEST_MODEL]
    assert a[A.ANTHROPIC_RESPONSE_STOP_REASON] == stop
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == (finish,)
    assert a[A.GEN_AI_PROVIDER_NAME] == "anthropic" and a[A.GEN_AI_OPERATION_NAME] == A.OP_CHAT


def _text(a: dict[str, Any]) -> str:
    [message] = a[A.GEN_AI_OUTPUT_MESSAGES]
    return "".join(p["content"] for p in message["parts"] if p["type"] == "text")


def _user(a: dict[str, Any], text: str) -> None:
    assert a[A.GEN_AI_INPUT_MESSAGES] == [{"role": "user", "parts": [{"type": "text", "content": text}]}]
    assert a[A.OI_INPUT_VALUE] == a[A.GEN_AI_INPUT_MESSAGES]


JOKE = "Tell me a joke about OpenTelemetry"


def _stream_common(a: dict[str, Any], items: int) -> None:
    assert a[A.GEN_AI_REQUEST_STREAM] is True
    assert a[A.STREAM_END] == A.STREAM_END_COMPLETED and a[A.STREAM_ITEMS] == items
    assert a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


# --- expectations per cassette, from the recordings ---------------------------------------------
def check_create(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01TPXhkPo8jy6yQMrMhjpiAE", "claude-3-opus-20240229", "end_turn", "stop")
    _usage(a, 17, 220)
    _user(a, JOKE)
    assert _text(a).startswith("Sure, here's a joke about OpenTelemetry:\n\nWhy did the developer adopt OpenTelemetry?")
    assert a[A.OI_OUTPUT_VALUE] == _text(a) and a[A.OI_OUTPUT_MIME_TYPE] == A.MIME_TEXT
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 1024 and A.GEN_AI_REQUEST_STREAM not in a
    check_cost(a, "claude-3-opus-20240229", 17, 220)


def check_async_create(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01UFDDjsFn5BPQnfNwmsMnAY", "claude-3-opus-20240229", "end_turn", "stop")
    _usage(a, 17, 189)
    assert _text(a).endswith("as if the application is a person being closely monitored or followed.")
    check_cost(a, "claude-3-opus-20240229", 17, 189)


def check_streaming(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01MXWxhWoPSgrYhjTuMDM6F1", "claude-3-haiku-20240307", "end_turn", "stop")
    _usage(a, 17, 171)  # output from message_delta, not message_start's placeholder 3
    _stream_common(a, 75)
    assert _text(a).startswith("Here's an OpenTelemetry-themed joke for you:\n\nWhy did the developer feel so lost")
    check_cost(a, "claude-3-haiku-20240307", 17, 171)


def check_async_streaming(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_016o6A7zDmgjucf5mWv1rrPD", "claude-3-haiku-20240307", "end_turn", "stop")
    _usage(a, 17, 92)
    _stream_common(a, 46)
    assert _text(a).endswith("But even the most diligent tracer needs a break sometimes!")
    check_cost(a, "claude-3-haiku-20240307", 17, 92)


def check_manager(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01MCkQZZtEKF3nVbFaExwATe", "claude-3-5-haiku-20241022", "end_turn", "stop")
    _usage(a, 17, 108, read=0, creation=0)
    _stream_common(a, 62)
    _user(a, JOKE)
    assert _text(a).startswith("Here's a joke about OpenTelemetry:\n\nWhy did the developer love OpenTelemetry?")
    check_cost(a, "claude-3-5-haiku-20241022", 17, 108)


SONNET_35 = "claude-3-5-sonnet-20240620"


def _caching(a_: list[dict[str, Any]], ids: tuple[str, str], cached: int, outs: tuple[int, int], stream: bool) -> None:
    first, second = a_
    total = 4 + cached  # input_tokens (4) + the cache part: the conventions' input includes cached tokens
    for a, rid in ((first, ids[0]), (second, ids[1])):
        _ids(a, rid, SONNET_35, "end_turn", "stop")
        [system] = a[A.GEN_AI_SYSTEM_INSTRUCTIONS]
        assert system["type"] == "text" and system["content"].startswith("You help generate concise summaries")
        [user] = a[A.GEN_AI_INPUT_MESSAGES]
        assert user["parts"][0]["content"].startswith("test_anthropic_prompt_caching")
        assert (A.GEN_AI_REQUEST_STREAM in a) is stream
    _usage(first, total, outs[0], read=0, creation=cached)  # the first call writes the cache
    _usage(second, total, outs[1], read=cached, creation=0)  # the second reads it
    assert first[A.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE] == cached
    assert second[A.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ] == cached
    check_cost(first, SONNET_35, total, outs[0], creation=cached)
    check_cost(second, SONNET_35, total, outs[1], read=cached)
    assert first[A.COST_USD] > second[A.COST_USD]  # a cache write costs more than a read


def check_caching(a_: list[dict[str, Any]]) -> None:
    _caching(a_, ("msg_01EF3r8zYyZntM4Sg9a5kc6k", "msg_01YGB3PuEANUSkLuzemhtNVF"), 1163, (187, 202), False)


def check_caching_stream(a_: list[dict[str, Any]]) -> None:
    _caching(a_, ("msg_017FfRkh9PCC8YbjnhDMrPuK", "msg_01XQRA3bs4SB4yTBMwD3dbUi"), 1165, (201, 221), True)


SONNET_45 = "claude-sonnet-4-5-20250929"
JOKE_JSON = (
    '{"joke": "Why did the developer break up with OpenTelemetry? Because they had too many traces of their ex '
    'in the logs!", "rating": 7}'
)


def check_structured(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01RRuttC1Mzd1RUPyP68mcB5", SONNET_45, "end_turn", "stop")
    _usage(a, 222, 39, read=0, creation=0)
    assert a[A.GEN_AI_OUTPUT_TYPE] == A.OUTPUT_TYPE_JSON
    assert _text(a) == JOKE_JSON == a[A.OI_OUTPUT_VALUE]
    check_cost(a, SONNET_45, 222, 39)


THINKING_MODEL = "claude-3-7-sonnet-20250219"
R_ANSWER = "The letter 'r' appears 3 times in the word \"strawberry\"."


def _thinking(a: dict[str, Any], thought: str) -> None:
    [message] = a[A.GEN_AI_OUTPUT_MESSAGES]
    reasoning, answer = message["parts"]
    assert reasoning["type"] == "reasoning"
    assert reasoning["content"].startswith(thought)
    assert reasoning["content"].endswith('appears 3 times in the word "strawberry".')
    assert answer == {"type": "text", "content": R_ANSWER}
    # The answer the grounding check reads is the text alone, without the thinking.
    assert a[A.OI_OUTPUT_VALUE] == R_ANSWER
    assert a[A.ANTHROPIC_REQUEST_THINKING_BUDGET] == 1024


def check_thinking(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01Ayp2LhrapBJLPf22sskg4c", THINKING_MODEL, "end_turn", "stop")
    _usage(a, 52, 215, read=0, creation=0)
    _thinking(a, "Let me count the number of times the letter 'r' appears in the word \"strawberry\".")
    check_cost(a, THINKING_MODEL, 52, 215)


def check_thinking_stream(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01SZKz6DEhWnfZcxPQDQz49Y", THINKING_MODEL, "end_turn", "stop")
    _usage(a, 52, 216, read=0, creation=0)
    _thinking(a, "Let me count the occurrences of the letter 'r' in the word \"strawberry\".")
    assert a[A.STREAM_END] == A.STREAM_END_COMPLETED
    check_cost(a, THINKING_MODEL, 52, 216)


def _tools(a: dict[str, Any], calls: list[dict[str, Any]], text_start: str) -> None:
    [message] = a[A.GEN_AI_OUTPUT_MESSAGES]
    text, *tool_calls = message["parts"]
    assert text["type"] == "text" and text["content"].startswith(text_start)
    assert tool_calls == calls
    assert message["finish_reason"] == "tool_call"
    assert a[A.OI_OUTPUT_VALUE] == [message]  # tool calls stay visible in output.value
    assert [t["name"] for t in a[A.GEN_AI_TOOL_DEFINITIONS]] == ["get_weather", "get_time"]
    weather = a[A.GEN_AI_TOOL_DEFINITIONS][0]
    assert weather["type"] == "function" and weather["parameters"]["required"] == ["location"]


def check_tools(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_01RBkXFe9TmDNNWThMz2HmGt", SONNET_35, "tool_use", "tool_call")
    _usage(a, 514, 152)
    calls = [
        {
            "type": "tool_call",
            "id": "toolu_012r6TBCWjRHG71j6zruYyUL",
            "name": "get_weather",
            "arguments": {"location": "New York, NY", "unit": "fahrenheit"},
        },
        {
            "type": "tool_call",
            "id": "toolu_01SkeBKkLCNYWNuivqFerGDd",
            "name": "get_time",
            "arguments": {"timezone": "America/New_York"},
        },
    ]
    _tools(a, calls, "Certainly! I'd be happy to help you with both")
    check_cost(a, SONNET_35, 514, 152)


def check_tools_stream(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    _ids(a, "msg_0138UNF3YbNp49KkqZtUBWqz", SONNET_35, "tool_use", "tool_call")
    _usage(a, 506, 153, read=0, creation=0)
    calls = [
        {
            "type": "tool_call",
            "id": "toolu_014x5X91kx3fvdhpLvwXZWE2",
            "name": "get_weather",
            "arguments": {"location": "San Francisco, CA", "unit": "celsius"},
        },
        {
            "type": "tool_call",
            "id": "toolu_0121kXsENLvoDZ72LCuAnCCz",
            "name": "get_time",
            "arguments": {"timezone": "America/Los_Angeles"},
        },
    ]
    _tools(a, calls, "Certainly! I can help you with that information.")
    check_cost(a, SONNET_35, 506, 153)


def check_completion(a_: list[dict[str, Any]]) -> None:
    [a] = a_
    assert a[A.GEN_AI_OPERATION_NAME] == A.OP_TEXT_COMPLETION
    assert a[A.GEN_AI_RESPONSE_ID] == "compl_01EjfrPvPEsRDRUKD6VoBxtK"
    assert a[A.GEN_AI_RESPONSE_MODEL] == "claude-instant-1.2"
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 2048 and a[A.GEN_AI_REQUEST_TOP_P] == 0.1
    assert a[A.OI_INPUT_VALUE] == "\n\nHuman:\nHello world\n\n\nAssistant:"
    assert a[A.OI_OUTPUT_VALUE] == " Hello!"
    assert A.GEN_AI_USAGE_INPUT_TOKENS not in a and A.COST_USD not in a  # the legacy API reports no usage


CASES: dict[str, Case] = {
    "completion": Case("test_anthropic_completion_legacy.yaml", "completions.create", "value", check_completion),
    "create": Case("test_anthropic_message_create_legacy.yaml", "messages.create", "value", check_create),
    "manager": Case("test_anthropic_message_stream_manager_legacy.yaml", "messages.stream", "manager", check_manager),
    "streaming": Case("test_anthropic_message_streaming_legacy.yaml", "messages.create", "stream", check_streaming),
    "caching": Case("test_anthropic_prompt_caching_legacy.yaml", "messages.create", "value", check_caching),
    "caching_stream": Case(
        "test_anthropic_prompt_caching_stream_legacy.yaml", "messages.create", "stream", check_caching_stream
    ),
    "structured": Case(
        "test_anthropic_structured_outputs_legacy.yaml", "beta.messages.create", "value", check_structured
    ),
    "thinking": Case("test_anthropic_thinking_legacy.yaml", "messages.create", "value", check_thinking),
    "thinking_stream": Case(
        "test_anthropic_thinking_streaming_legacy.yaml", "messages.create", "stream", check_thinking_stream
    ),
    "tools": Case("test_anthropic_tools_legacy.yaml", "messages.create", "value", check_tools),
    "tools_stream": Case("test_anthropic_tools_streaming_legacy.yaml", "messages.create", "stream", check_tools_stream),
    "async_create": Case(
        "test_async_anthropic_message_create_legacy.yaml", "messages.create", "value", check_async_create
    ),
    "async_streaming": Case(
        "test_async_anthropic_message_streaming_legacy.yaml", "messages.create", "stream", check_async_streaming
    ),
}


def _method(client: Any, path: str) -> Any:
    target = client
    for part in path.split("."):
        target = getattr(target, part, None)
        if target is None:
            pytest.skip(f"anthropic {anthropic.__version__} has no client.{path}")
    return target


def _body(method: Any, body: dict[str, Any], mode: str) -> dict[str, Any]:
    """The recorded body as keyword arguments this client version takes."""
    body = dict(body)
    if mode == "manager":
        body.pop("stream", None)  # stream() sets it itself
    fmt = body.pop("output_format", None)
    if fmt is not None:  # 0.74's beta parameter; 2.x has output_config, older clients neither
        params = inspect.signature(method).parameters
        if "output_format" in params and "output_config" not in params:
            body["output_format"] = fmt
        elif "output_config" in params:
            body["output_config"] = {"format": fmt}
        else:
            body["extra_body"] = {"output_format": fmt}
        if "betas" in params:
            body["betas"] = ["structured-outputs-2025-11-13"]
    params = inspect.signature(method).parameters
    newer = [k for k in body if k not in params and k != "extra_body"]  # e.g. thinking before 0.47
    if newer and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        body["extra_body"] = {**body.get("extra_body", {}), **{k: body.pop(k) for k in newer}}
    return body


def _sync_call(client: anthropic.Anthropic, case: Case, body: dict[str, Any]) -> Any:
    method = _method(client, case.method)
    kwargs = _body(method, body, case.mode)
    if case.mode == "manager":
        with method(**kwargs) as stream:
            text = "".join(stream.text_stream)
            return text, dump(stream.get_final_message())
    result = method(**kwargs)
    return [dump(e) for e in result] if case.mode == "stream" else dump(result)


async def _async_call(client: anthropic.AsyncAnthropic, case: Case, body: dict[str, Any]) -> Any:
    method = _method(client, case.method)
    kwargs = _body(method, body, case.mode)
    if case.mode == "manager":
        async with method(**kwargs) as stream:
            text = "".join([t async for t in stream.text_stream])
            return text, dump(await stream.get_final_message())
    result = await method(**kwargs)
    return [dump(e) async for e in result] if case.mode == "stream" else dump(result)


async def _replay(case: Case, flavour: str) -> list[Any]:
    folder = cassettes_dir()
    bodies = recorded_bodies(folder / case.cassette)
    out = []
    with REPLAY.use_cassette(str(folder / case.cassette)):
        if flavour == "sync":
            client = anthropic.Anthropic(api_key="test", max_retries=0)
            for body in bodies:
                out.append(_sync_call(client, case, body))
        else:
            aclient = anthropic.AsyncAnthropic(api_key="test", max_retries=0)
            for body in bodies:
                out.append(await _async_call(aclient, case, body))
    return out


@pytest.fixture
def spans() -> Any:
    s = Spans()
    yield s
    spy_anthropic.uninstrument()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")  # the SDK's notes on old models
@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(CASES))
async def test_cassette(name: str, flavour: str, spans: Spans) -> None:
    case = CASES[name]
    bare = await _replay(case, flavour)  # uninstrumented: what the app gets without Spyglass
    assert not spans.finished()
    spy_anthropic.instrument(tracer_provider=spans.provider)
    traced = await _replay(case, flavour)
    assert traced == bare  # the same types and values
    finished = spans.finished()
    for span in finished:
        a = attrs(span)
        assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.UNSET
        assert span.name == f"{a[A.GEN_AI_OPERATION_NAME]} {a[A.GEN_AI_REQUEST_MODEL]}"
        assert a[A.SERVER_ADDRESS] == "api.anthropic.com" and a[A.SERVER_PORT] == 443
    case.check([attrs(s) for s in finished])


# --- the stream manager's helpers, each ending the span once, with its reason -----------------
def _manager_body() -> dict[str, Any]:
    [body] = recorded_bodies(cassettes_dir() / CASES["manager"].cassette)
    return {k: v for k, v in body.items() if k != "stream"}  # stream() sets it itself


def _consume(how: str, stream: Any) -> None:
    if how == "text_stream":
        "".join(stream.text_stream)
    elif how == "get_final_message":
        stream.get_final_message()
    elif how == "get_final_text":
        stream.get_final_text()
    elif how == "until_done":
        stream.until_done()
    elif how == "events":
        for _ in stream:
            pass
    elif how == "break":
        for _ in stream.text_stream:
            break
    elif how == "close":
        next(iter(stream))
        stream.close()


@pytest.mark.parametrize(
    ("how", "end", "complete"),
    [
        ("text_stream", A.STREAM_END_COMPLETED, True),
        ("get_final_message", A.STREAM_END_COMPLETED, True),
        ("get_final_text", A.STREAM_END_COMPLETED, True),
        ("until_done", A.STREAM_END_COMPLETED, True),
        ("events", A.STREAM_END_COMPLETED, True),
        ("break", A.STREAM_END_CLOSED, False),  # leaving the with block closes the stream
        ("close", A.STREAM_END_CLOSED, False),
    ],
)
def test_stream_manager_helpers_end_the_span_once(how: str, end: str, complete: bool, spans: Spans) -> None:
    spy_anthropic.instrument(tracer_provider=spans.provider)
    client = anthropic.Anthropic(api_key="test", max_retries=0)
    with REPLAY.use_cassette(str(cassettes_dir() / CASES["manager"].cassette)):
        manager = client.messages.stream(**_manager_body())
        assert not spans.finished()  # nothing sent before the manager is entered
        with manager as stream:
            _consume(how, stream)
        [span] = spans.finished()
    a = attrs(span)
    assert a[A.STREAM_END] == end
    assert a[A.GEN_AI_RESPONSE_ID] == "msg_01MCkQZZtEKF3nVbFaExwATe"
    if complete:
        _usage(a, 17, 108, read=0, creation=0)
        assert a[A.STREAM_ITEMS] == 62
    else:
        assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 1  # message_start's count: the stream stopped early
        assert A.GEN_AI_RESPONSE_FINISH_REASONS not in a  # message_delta never arrived
        assert 0 < a[A.STREAM_ITEMS] < 62


def test_stream_manager_dropped_without_close_ends_as_abandoned(spans: Spans) -> None:
    spy_anthropic.instrument(tracer_provider=spans.provider)
    client = anthropic.Anthropic(api_key="test", max_retries=0)
    with REPLAY.use_cassette(str(cassettes_dir() / CASES["manager"].cassette)):
        stream = client.messages.stream(**_manager_body()).__enter__()
        next(iter(stream))
        next(iter(stream))
        del stream
        gc.collect()
    a = attrs(spans.one())
    assert a[A.STREAM_END] == A.STREAM_END_ABANDONED
    assert a[A.STREAM_ITEMS] == 2


async def test_async_stream_manager_early_exit(spans: Spans) -> None:
    spy_anthropic.instrument(tracer_provider=spans.provider)
    client = anthropic.AsyncAnthropic(api_key="test", max_retries=0)
    with REPLAY.use_cassette(str(cassettes_dir() / CASES["manager"].cassette)):
        async with client.messages.stream(**_manager_body()) as stream:
            async for _ in stream.text_stream:
                break
    a = attrs(spans.one())
    assert a[A.STREAM_END] == A.STREAM_END_CLOSED
    assert a[A.GEN_AI_REQUEST_STREAM] is True


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_parse_with_a_pydantic_output_format(spans: Spans) -> None:
    pydantic = pytest.importorskip("pydantic")
    client = anthropic.Anthropic(api_key="test", max_retries=0)
    parse = getattr(client.messages, "parse", None)
    if parse is None or "output_format" not in inspect.signature(parse).parameters:
        pytest.skip(f"anthropic {anthropic.__version__} has no messages.parse(output_format=...)")
    del parse  # a bound method taken before instrument() stays the original (see the synthetic tests)

    class Joke(pydantic.BaseModel):  # type: ignore[name-defined]
        joke: str
        rating: int

    [body] = recorded_bodies(cassettes_dir() / CASES["structured"].cassette)
    body = {k: v for k, v in body.items() if k != "output_format"}
    spy_anthropic.instrument(tracer_provider=spans.provider)
    with REPLAY.use_cassette(str(cassettes_dir() / CASES["structured"].cassette)):
        parsed = client.messages.parse(output_format=Joke, **body)
    assert parsed.parsed_output == Joke(
        joke="Why did the developer break up with OpenTelemetry? Because they had too many traces of their ex in "
        "the logs!",
        rating=7,
    )
    a = attrs(spans.one())
    assert a[A.GEN_AI_OUTPUT_TYPE] == A.OUTPUT_TYPE_JSON
    assert _text(a) == JOKE_JSON
    assert a[A.OI_LLM_INVOCATION_PARAMETERS]["output_format"] == "Joke"


# --- through configure(): the row in a real DuckDB store ---------------------------------------
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_configured_call_is_stored(db_path: Path) -> None:
    tracer.configure(db=db_path, instrument=["anthropic"])
    try:
        assert spy_anthropic.is_instrumented()
        first, second = recorded_bodies(cassettes_dir() / CASES["caching"].cassette)
        client = anthropic.Anthropic(api_key="test", max_retries=0)
        with REPLAY.use_cassette(str(cassettes_dir() / CASES["caching"].cassette)):
            client.messages.create(**first)
            client.messages.create(**second)
        assert tracer.flush()
        store = tracer.Store(db_path)
        summaries = store.list_traces()
        # One span per call: the SDK's own call span (anthropic 2.x) is not made inside ours.
        assert sorted(s["span_count"] for s in summaries) == [1, 1]
        rows = [store.get_trace(s["trace_id"])["spans"][0] for s in summaries]  # type: ignore[index]
    finally:
        spy_anthropic.uninstrument()
        tracer.flush()
    rows.sort(key=lambda r: r["attributes"][A.GEN_AI_RESPONSE_ID])
    for row, (rid, read, creation, out) in zip(
        rows,
        [("msg_01EF3r8zYyZntM4Sg9a5kc6k", 0, 1163, 187), ("msg_01YGB3PuEANUSkLuzemhtNVF", 1163, 0, 202)],
        strict=True,
    ):
        a = row["attributes"]
        assert a[A.GEN_AI_RESPONSE_ID] == rid
        assert (row["span_type"], row["provider"], row["model"]) == ("llm", "anthropic", SONNET_35)
        assert (row["input_tokens"], row["output_tokens"]) == (1167, out)
        assert row["usage_counted"] is not False
        assert a[A.GEN_AI_SYSTEM_INSTRUCTIONS]  # the prompt is stored
        assert "Here are concise summaries of the three articles" in a[A.GEN_AI_OUTPUT_MESSAGES]
        check_cost({**a, A.COST_USD: row["cost_usd"]}, SONNET_35, 1167, out, read=read, creation=creation)


def test_every_cassette_is_replayed() -> None:
    recorded = {p.name for p in cassettes_dir().glob("*.yaml")}
    assert recorded == {c.cassette for c in CASES.values()}
    assert len(recorded) == 13
