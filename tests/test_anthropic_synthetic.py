"""The anthropic integration against SYNTHETIC HTTP responses (httpx MockTransport): what no
recording covers. Error statuses (401, 429, 529 overloaded), a timeout, a stream cut mid-way,
tool results in the history, capture off, the redaction hook, and patching itself
(uninstrument puts the originals back, instrument twice patches once, a bound method kept
from before uninstrument calls straight through)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from integrations import anthropic as spy_anthropic
from tracer import _settings
from tracer import attributes as A

from .anthropic_support import (
    API_KEY,
    MODEL,
    USER,
    Spans,
    attrs,
    clients,
    error_body,
    http,
    json_response,
    message,
    sse,
    stream_events,
)

CONTENT = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_DEFINITIONS,
    A.OI_INPUT_VALUE,
    A.OI_OUTPUT_VALUE,
)
OVERLOADED = getattr(anthropic, "OverloadedError", anthropic.InternalServerError)  # 529's own class from 0.4x on


@pytest.fixture
def spans() -> Any:
    s = Spans()
    spy_anthropic.instrument(tracer_provider=s.provider)
    yield s
    spy_anthropic.uninstrument()


def _create(client: Any, **kwargs: Any) -> Any:
    return client.messages.create(model=MODEL, max_tokens=100, messages=USER, **kwargs)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, anthropic.AuthenticationError), (429, anthropic.RateLimitError), (529, OVERLOADED)],
)
async def test_http_errors_are_recorded_and_reraised_unchanged(spans: Spans, status: int, error: type) -> None:
    """Synthetic: the API answers with an error status (529: Anthropic's "overloaded")."""
    body = error_body("overloaded_error" if status == 529 else "x", "synthetic failure")
    sync, async_ = clients(lambda request: json_response(status, body, {"retry-after": "0"}))
    with pytest.raises(error) as sync_exc:
        _create(sync)
    with pytest.raises(error) as async_exc:
        await _create(async_)
    assert len(spans.finished()) == 2
    for exc, span in zip((sync_exc.value, async_exc.value), spans.finished(), strict=True):
        assert type(exc) is error and isinstance(exc, anthropic.APIStatusError)
        assert exc.status_code == status and exc.body == body
        a = attrs(span)
        assert span.status.status_code is StatusCode.ERROR
        assert a[A.ERROR_TYPE] == error.__qualname__
        assert a[A.HTTP_RESPONSE_STATUS_CODE] == status
        [event] = span.events
        assert event.name == "exception" and dict(event.attributes or {})["exception.message"] == str(exc)


async def test_timeout_is_recorded_and_reraised(spans: Spans) -> None:
    """Synthetic: the transport times out before any response."""

    def handler(request: Any) -> Any:
        raise http.ReadTimeout("synthetic", request=request)

    sync, async_ = clients(handler)
    with pytest.raises(anthropic.APITimeoutError):
        _create(sync)
    with pytest.raises(anthropic.APITimeoutError):
        await _create(async_)
    for span in spans.finished():
        assert span.status.status_code is StatusCode.ERROR
        assert attrs(span)[A.ERROR_TYPE] == "APITimeoutError"


async def test_stream_cut_midway_keeps_what_arrived(spans: Spans) -> None:
    """Synthetic: the connection drops after 4 events (message_start, block start, 2 deltas)."""
    sync, async_ = clients(lambda request: sse(stream_events(), fail_after=4))
    seen: list[str] = []
    with pytest.raises(Exception) as sync_exc:
        for event in _create(sync, stream=True):
            seen.append(event.type)
    with pytest.raises(Exception) as async_exc:
        async for event in await _create(async_, stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta", "content_block_delta"] * 2
    assert type(sync_exc.value) is type(async_exc.value)
    for span in spans.finished():
        a = attrs(span)
        assert span.status.status_code is StatusCode.ERROR
        assert a[A.STREAM_END] == A.STREAM_END_ERROR and a[A.STREAM_ITEMS] == 4
        assert a[A.GEN_AI_RESPONSE_ID] == "msg_synthetic"
        [out] = a[A.GEN_AI_OUTPUT_MESSAGES]
        assert out["parts"] == [{"type": "text", "content": "Paris is the capital "}]
        assert A.GEN_AI_RESPONSE_FINISH_REASONS not in a  # message_delta never came


def test_full_stream_and_time_to_first_chunk(spans: Spans) -> None:
    sync, _ = clients(lambda request: sse(stream_events()))
    text = "".join(e.delta.text for e in _create(sync, stream=True) if e.type == "content_block_delta")
    assert text == "Paris is the capital of France."
    a = attrs(spans.one())
    assert a[A.OI_OUTPUT_VALUE] == text and a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",) and a[A.STREAM_END] == A.STREAM_END_COMPLETED
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]


def test_tool_use_and_tool_results_in_history(spans: Spans) -> None:
    sync, _ = clients(lambda request: json_response(200, message("It is 18°C in Paris.")))
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Need the tool.", "signature": "sig"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"}]},
    ]
    tools = [{"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}]
    sync.messages.create(model=MODEL, max_tokens=100, messages=history, tools=tools, system="Be brief.")
    a = attrs(spans.one())
    assert a[A.GEN_AI_INPUT_MESSAGES] == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Need the tool."},
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "18°C"}]},
    ]
    assert a[A.GEN_AI_SYSTEM_INSTRUCTIONS] == [{"type": "text", "content": "Be brief."}]
    assert a[A.GEN_AI_TOOL_DEFINITIONS] == [
        {"type": "function", "name": "get_weather", "description": "Weather now", "parameters": {"type": "object"}}
    ]


def test_capture_off_stores_no_content(spans: Spans) -> None:
    _settings.set_settings(_settings.Settings(capture_content=False))

    def handler(request: Any) -> Any:
        streaming = json.loads(request.content).get("stream") is True
        return sse(stream_events()) if streaming else json_response(200, message())

    sync, _ = clients(handler)
    _create(sync, system="Secret system prompt")
    with sync.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        stream.until_done()
    assert len(spans.finished()) == 2
    for span in spans.finished():
        a = span.attributes or {}
        assert not [k for k in CONTENT if k in a]
        assert "Paris" not in json.dumps(dict(a)) and "Secret" not in json.dumps(dict(a))
        assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 10  # usage and ids stay


def test_redaction_hook_applies_to_prompt_and_answer(spans: Spans) -> None:
    def redact(key: str, value: Any) -> Any:
        return json.loads(json.dumps(value).replace("Paris", "[CITY]")) if key in CONTENT else value

    _settings.set_settings(_settings.Settings(redact=redact))
    sync, _ = clients(lambda request: json_response(200, message()))
    _create(sync, system="You know Paris.")
    span = spans.one()
    text = json.dumps(dict(span.attributes or {}))
    assert "Paris" not in text and "[CITY]" in text
    assert attrs(span)[A.OI_OUTPUT_VALUE] == "[CITY] is the capital of France."


def test_no_api_key_reaches_a_span(spans: Spans) -> None:
    sync, _ = clients(lambda request: json_response(200, message()))
    _create(sync)
    assert API_KEY not in json.dumps(dict(spans.one().attributes or {}))


def test_with_raw_response_parses_the_same_message(spans: Spans) -> None:
    sync, _ = clients(lambda request: json_response(200, message()))
    raw = sync.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=USER)
    parsed = raw.parse()
    assert parsed is raw.parse() and parsed.content[0].text == "Paris is the capital of France."
    a = attrs(spans.one())
    assert a[A.GEN_AI_RESPONSE_ID] == "msg_synthetic" and a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 7


# --- patching ---------------------------------------------------------------------------------
def _originals() -> dict[tuple[type, str], Any]:
    from anthropic.resources.messages import AsyncMessages, Messages

    owners = [Messages, AsyncMessages]
    return {(o, name): o.__dict__.get(name) for o in owners for name in ("create", "parse", "stream")}


def test_uninstrument_restores_the_originals_and_instrument_twice_patches_once() -> None:
    before = _originals()
    spans = Spans()
    spy_anthropic.instrument(tracer_provider=spans.provider)
    patched = _originals()
    assert all(patched[k] is not before[k] for k in before if before[k] is not None)
    spy_anthropic.instrument(tracer_provider=Spans().provider)  # no second layer, provider unchanged
    assert _originals() == patched
    sync, _ = clients(lambda request: json_response(200, message()))
    _create(sync)
    assert len(spans.finished()) == 1
    spy_anthropic.uninstrument()
    spy_anthropic.uninstrument()  # safe twice
    after = _originals()
    assert all(after[k] is before[k] for k in before)
    assert not spy_anthropic.is_instrumented()


def test_bound_method_kept_from_before_uninstrument_calls_through() -> None:
    spans = Spans()
    spy_anthropic.instrument(tracer_provider=spans.provider)
    sync, _ = clients(lambda request: json_response(200, message()))
    create = sync.messages.create  # bound while patched
    manager = sync.messages.stream(model=MODEL, max_tokens=100, messages=USER)  # made while patched
    spy_anthropic.uninstrument()
    result = create(model=MODEL, max_tokens=100, messages=USER)
    assert result.content[0].text == "Paris is the capital of France."
    with manager as stream:
        stream.until_done()
    assert spans.finished() == []


def test_sdk_span_is_kept_outside_our_calls() -> None:
    """anthropic 2.x's own call span is switched off only inside a call we trace."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    sdk_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(sdk_spans))
    try:
        sync, _ = clients(lambda request: json_response(200, message()), open_telemetry={"tracer_provider": provider})
    except TypeError:
        pytest.skip(f"anthropic {anthropic.__version__} has no spans of its own")
    _create(sync)
    assert [s.name for s in sdk_spans.get_finished_spans()] == ["anthropic.messages.create"]  # not instrumented
    ours = Spans()
    spy_anthropic.instrument(tracer_provider=ours.provider)
    try:
        _create(sync)
    finally:
        spy_anthropic.uninstrument()
    assert len(sdk_spans.get_finished_spans()) == 1 and len(ours.finished()) == 1  # one span for the call
    _create(sync)
    assert len(sdk_spans.get_finished_spans()) == 2  # uninstrumented: the SDK's span is back
