"""GenAI client metrics (tracer/_metrics.py), read back from a real SDK ``MeterProvider``.

Names, units, attributes and bucket boundaries are spelled out here as the conventions give
them (open-telemetry/semantic-conventions-genai, docs/gen-ai/gen-ai-metrics.md), not taken
from our constants, so that a wrong constant fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry import metrics
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.metrics import _internal as metrics_api
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.util._once import Once

import tracer
from integrations import openai as spy_openai
from tracer import _call, _guard, _metrics
from tracer import attributes as attrs

from .openai_support import REPLAY, USER_ONLY_PROMPT, cassettes_dir, clients, json_response

TOKEN_USAGE = "gen_ai.client.token.usage"
DURATION = "gen_ai.client.operation.duration"
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
OPENAI_SERVER = {"server.address": "api.openai.com", "server.port": 443}


@pytest.fixture
def no_meter_provider() -> Iterator[None]:
    """The API's global meter provider unset for the test and put back after it. The API
    sets it once per process; this is how contrib's test utilities reset it too
    (``opentelemetry.test.globals_test.reset_metrics_globals``)."""
    saved = (metrics_api._METER_PROVIDER_SET_ONCE, metrics_api._METER_PROVIDER, metrics_api._PROXY_METER_PROVIDER)
    metrics_api._METER_PROVIDER_SET_ONCE = Once()
    metrics_api._METER_PROVIDER = None
    metrics_api._PROXY_METER_PROVIDER = metrics_api._ProxyMeterProvider()
    try:
        yield
    finally:
        (
            metrics_api._METER_PROVIDER_SET_ONCE,
            metrics_api._METER_PROVIDER,
            metrics_api._PROXY_METER_PROVIDER,
        ) = saved


@pytest.fixture
def reader(no_meter_provider: None) -> Iterator[InMemoryMetricReader]:
    """An SDK meter provider set as the app's global one, read in memory."""
    found = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[found])
    metrics.set_meter_provider(provider)
    yield found
    provider.shutdown()


def collected(reader: InMemoryMetricReader) -> dict[str, Metric]:
    """Spyglass's metrics by name (the reader may hold other scopes' too)."""
    data = reader.get_metrics_data()
    found: dict[str, Metric] = {}
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            if scope.scope.name == "spyglass":
                found.update((m.name, m) for m in scope.metrics)
    return found


# Each collection is one read: exemplars are kept until the next collection only.
def points(found: dict[str, Metric], name: str) -> list[HistogramDataPoint]:
    metric = found.get(name)
    return [] if metric is None else list(metric.data.data_points)  # type: ignore[arg-type]


def tokens(found: dict[str, Metric]) -> dict[str, tuple[dict[str, Any], float, int]]:
    """Token points by token type: (attributes without the type, sum, count)."""
    by_type = {}
    for point in points(found, TOKEN_USAGE):
        rest: dict[str, Any] = dict(point.attributes or {})
        by_type[str(rest.pop("gen_ai.token.type"))] = (rest, point.sum, point.count)
    return by_type


def duration(found: dict[str, Metric]) -> HistogramDataPoint:
    [point] = points(found, DURATION)
    return point


def seconds(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


@tracer.trace_llm(model="gpt-4o-mini", provider="openai")
def ask(question: str) -> str:
    tracer.record_usage(input_tokens=12, output_tokens=5, model="gpt-4o-mini-2024-07-18")
    return "Paris."


# --- what a model call records -------------------------------------------------------------------
def test_a_trace_llm_with_record_usage(reader: InMemoryMetricReader, spans: Any) -> None:
    assert ask("Capital of France?") == "Paris."
    span = spans.one("ask")
    found = collected(reader)
    assert set(found) == {TOKEN_USAGE, DURATION}
    assert (found[TOKEN_USAGE].unit, found[DURATION].unit) == ("{token}", "s")
    assert found[TOKEN_USAGE].description == "Number of input and output tokens used."
    assert found[DURATION].description == "GenAI operation duration."
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    }
    assert tokens(found) == {"input": (common, 12, 1), "output": (common, 5, 1)}
    assert all(p.explicit_bounds == TOKEN_BUCKETS for p in points(found, TOKEN_USAGE))
    point = duration(found)
    assert dict(point.attributes or {}) == common
    assert (point.count, point.sum) == (1, seconds(span))
    assert point.explicit_bounds == DURATION_BUCKETS
    # The context is the span's: an exemplar links the data point to the trace.
    assert [e.span_id for e in point.exemplars] == [span.context.span_id]


@pytest.mark.parametrize(
    "cassette, stream, response",
    [
        (
            "test_chat_completion_with_content.yaml",
            False,
            # The conventions' OpenAI refinement of both metrics adds the fingerprint (and the
            # service tier, which this recording does not have).
            {"gen_ai.response.model": "gpt-4o-mini-2024-07-18", "openai.response.system_fingerprint": "fp_0ba0d124f1"},
        ),
        ("test_chat_completion_streaming.yaml", True, {"gen_ai.response.model": "gpt-4-0613"}),
    ],
    ids=["chat", "stream"],
)
def test_the_openai_client_replaying_a_recording(
    reader: InMemoryMetricReader,
    spans: Any,
    instrumented: openai.OpenAI,
    cassette: str,
    stream: bool,
    response: dict[str, str],
) -> None:
    kwargs: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    with REPLAY.use_cassette(str(cassettes_dir() / cassette)):
        reply = instrumented.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, **kwargs)
        if stream:
            list(reply)
    [span] = spans
    found = collected(reader)
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        **response,
        **OPENAI_SERVER,
    }
    assert tokens(found) == {"input": (common, 12, 1), "output": (common, 5, 1)}
    point = duration(found)
    assert dict(point.attributes or {}) == common and (point.count, point.sum) == (1, seconds(span))


# --- one model call, counted once ----------------------------------------------------------------
def test_a_trace_llm_around_an_openai_call_counts_the_call_once(
    reader: InMemoryMetricReader, spans: Any, instrumented: openai.OpenAI
) -> None:
    @tracer.trace_llm(model="gpt-4o-mini", provider="openai")
    def answer(question: str) -> str:
        with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
            reply = instrumented.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
            )
        tracer.record_usage(input_tokens=12, output_tokens=5)  # the app reports the same usage again
        return reply.choices[0].message.content or ""

    answer("Say this is a test")
    outer, inner = spans.one("answer"), spans.one("chat gpt-4o-mini")
    assert outer.attributes[attrs.LLM_INNER_USAGE] is True and outer.attributes[attrs.LLM_INNER_CALLS] == 1
    found = collected(reader)
    by_type = tokens(found)
    assert {kind: by_type[kind][1:] for kind in by_type} == {"input": (12, 1), "output": (5, 1)}
    assert by_type["input"][0]["server.address"] == "api.openai.com"  # the client call's, not the decorator's
    point = duration(found)
    assert point.count == 1 and point.sum == seconds(inner) < seconds(outer)


def test_a_nested_call_without_usage_leaves_the_outer_usage_counted(reader: InMemoryMetricReader, spans: Any) -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}],
    }
    client, _ = clients(lambda request: json_response(200, body))
    spy_openai.instrument()
    try:

        @tracer.trace_llm(model="gpt-4o-mini", provider="openai")
        def answer(question: str) -> str:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
            tracer.record_usage(input_tokens=7, output_tokens=3)  # counted by the app itself
            return "Hi."

        answer("hello")
    finally:
        spy_openai.uninstrument()
    assert attrs.LLM_INNER_USAGE not in spans.one("answer").attributes
    found = collected(reader)
    by_type = tokens(found)
    assert {kind: by_type[kind][1:] for kind in by_type} == {"input": (7, 1), "output": (3, 1)}
    assert "server.address" not in by_type["input"][0]  # the decorator's span
    point = duration(found)  # the duration is still the client call's
    assert point.count == 1 and point.sum == seconds(spans.one("chat gpt-4o-mini"))


# --- errors, embeddings, other spans --------------------------------------------------------------
def test_a_failed_openai_call_records_its_error_type(
    reader: InMemoryMetricReader, spans: Any, instrumented: openai.OpenAI
) -> None:
    with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_404.yaml")):
        with pytest.raises(openai.NotFoundError):
            instrumented.chat.completions.create(model="this-model-does-not-exist", messages=USER_ONLY_PROMPT)
    found = collected(reader)
    point = duration(found)
    assert dict(point.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "this-model-does-not-exist",
        "error.type": "NotFoundError",
        **OPENAI_SERVER,
    }
    assert point.sum == seconds(spans.one("chat this-model-does-not-exist"))
    assert points(found, TOKEN_USAGE) == []  # no usage came back


def test_a_failed_trace_llm_records_its_error_type(reader: InMemoryMetricReader, spans: Any) -> None:
    @tracer.trace_llm(model="m")
    def broken(question: str) -> str:
        raise TimeoutError("the model took too long")

    with pytest.raises(TimeoutError):
        broken("q")
    found = collected(reader)
    assert dict(duration(found).attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m",
        "error.type": "TimeoutError",
    }
    assert points(found, TOKEN_USAGE) == []


def test_openai_embeddings_record_input_tokens_only(
    reader: InMemoryMetricReader, spans: Any, instrumented: openai.OpenAI
) -> None:
    with REPLAY.use_cassette(str(cassettes_dir() / "test_embeddings_no_content.yaml")):
        instrumented.embeddings.create(input="This is a test for embeddings", model="text-embedding-3-small")
    found = collected(reader)
    common = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "gen_ai.response.model": "text-embedding-3-small",
        **OPENAI_SERVER,
    }
    assert tokens(found) == {"input": (common, 6, 1)}
    point = duration(found)
    assert dict(point.attributes or {}) == common
    assert point.sum == seconds(spans.one("embeddings text-embedding-3-small"))


def test_an_embedding_step_around_the_openai_call_counts_the_call_once(
    reader: InMemoryMetricReader, spans: Any, instrumented: openai.OpenAI
) -> None:
    @tracer.trace_step(kind="embedding")
    def embed(text: str) -> list[float]:
        with REPLAY.use_cassette(str(cassettes_dir() / "test_embeddings_no_content.yaml")):
            reply = instrumented.embeddings.create(input=text, model="text-embedding-3-small")
        tracer.record_usage(input_tokens=6)  # reported again by the app
        return list(reply.data[0].embedding)

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str) -> str:  # an embedding made inside an LLM call is not its answer
        embed(question)
        tracer.record_usage(input_tokens=20, output_tokens=3)
        return "ok"

    answer("This is a test for embeddings")
    outer, step, inner = spans.one("answer"), spans.one("embed"), spans.one("embeddings text-embedding-3-small")
    assert step.attributes[attrs.LLM_INNER_USAGE] is True
    assert attrs.LLM_PARENT_SPAN_ID not in (step.attributes or {})  # an embedding is not inside the LLM call
    assert attrs.LLM_INNER_CALLS not in (outer.attributes or {})
    found = collected(reader)
    by_operation = {
        (p.attributes["gen_ai.operation.name"], p.attributes["gen_ai.token.type"]): (p.sum, p.count)
        for p in points(found, TOKEN_USAGE)
    }
    assert by_operation == {("embeddings", "input"): (6, 1), ("chat", "input"): (20, 1), ("chat", "output"): (3, 1)}
    durations = {p.attributes["gen_ai.operation.name"]: (p.sum, p.count) for p in points(found, DURATION)}
    assert durations == {"embeddings": (seconds(inner), 1), "chat": (seconds(outer), 1)}


def test_a_call_made_through_openinference_inside_a_trace_llm_is_counted_once(
    reader: InMemoryMetricReader, spans: Any
) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=_call.tracer_provider())
    try:

        @tracer.trace_llm(model="gpt-4o-mini")
        def answer(question: str) -> str:
            client = openai.OpenAI(api_key="test", max_retries=0)
            with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
                reply = client.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
            return reply.choices[0].message.content or ""

        answer("Say this is a test")
    finally:
        instrumentor.uninstrument()
    inner = next(
        s for s in spans if s.instrumentation_scope and s.instrumentation_scope.name.startswith("openinference.")
    )
    assert spans.one("answer").attributes[attrs.LLM_INNER_USAGE] is True
    found = collected(reader)
    assert {k: v[1:] for k, v in tokens(found).items()} == {"input": (12, 1), "output": (5, 1)}
    point = duration(found)
    assert point.count == 1 and point.sum == seconds(inner)


def test_an_api_without_bucket_advice_still_gets_histograms() -> None:
    made: list[dict[str, Any]] = []

    class OldMeter:  # opentelemetry-api < 1.30: create_histogram takes no advisory
        def create_histogram(self, name: str, unit: str = "", description: str = "") -> str:
            made.append({"name": name, "unit": unit})
            return name

    class OldProvider:
        def get_meter(self, *args: Any, **kwargs: Any) -> OldMeter:
            return OldMeter()

    found = _metrics.Instruments(OldProvider())  # type: ignore[arg-type]
    assert (found.tokens, found.duration) == (TOKEN_USAGE, DURATION)
    assert made == [{"name": TOKEN_USAGE, "unit": "{token}"}, {"name": DURATION, "unit": "s"}]


def test_an_embedding_step_without_an_operation_name_is_embeddings(reader: InMemoryMetricReader, spans: Any) -> None:
    @tracer.trace_step(kind="embedding")
    def embed(text: str) -> list[float]:
        tracer.record_usage(input_tokens=4)
        return [0.1, 0.2]

    embed("four tokens here")
    found = collected(reader)
    assert tokens(found) == {"input": ({"gen_ai.operation.name": "embeddings"}, 4, 1)}
    assert dict(duration(found).attributes or {}) == {"gen_ai.operation.name": "embeddings"}


def test_other_spans_record_nothing(reader: InMemoryMetricReader, spans: Any) -> None:
    @tracer.trace_retriever
    def search(query: str) -> list[str]:
        return ["a passage"]

    @tracer.trace_step
    def pipeline(question: str) -> list[str]:
        with tracer.span("inner"):
            return search(question)

    pipeline("q")
    assert len(spans) == 3
    assert collected(reader) == {}


# --- the app's meter provider -------------------------------------------------------------------
def test_without_a_meter_provider_nothing_is_recorded_until_one_is_set(
    no_meter_provider: None, spans: Any, instrumented: openai.OpenAI
) -> None:
    later = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[later])
    cassette = str(cassettes_dir() / "test_chat_completion_with_content.yaml")
    try:
        assert ask("before") == "Paris."  # no error, and nothing to record on
        with REPLAY.use_cassette(cassette):
            instrumented.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        assert _metrics.instruments() is None
        assert len(spans) == 2

        # Set after the decorator was applied and the client instrumented: used from the next call.
        metrics.set_meter_provider(provider)
        ask("after")
        with REPLAY.use_cassette(cassette):
            instrumented.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        found = collected(later)
        assert sorted(p.count for p in points(found, DURATION)) == [1, 1]  # the two calls after, only
        assert {(p.attributes or {}).get("server.address") for p in points(found, DURATION)} == {
            None,
            "api.openai.com",
        }
        assert set(tokens(found)) == {"input", "output"}
    finally:
        provider.shutdown()


def test_while_none_is_set_a_span_end_asks_nothing_of_the_api(
    no_meter_provider: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _metrics.instruments() is None  # looked up once

    def slow(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("get_meter_provider() on the hot path")

    monkeypatch.setattr(metrics, "get_meter_provider", slow)
    assert [_metrics.instruments() for _ in range(3)] == [None, None, None]


def test_a_noop_meter_provider_records_nothing(no_meter_provider: None, spans: Any) -> None:
    metrics.set_meter_provider(NoOpMeterProvider())
    assert ask("q") == "Paris."
    assert _metrics.instruments() is None


# --- never breaks the app -------------------------------------------------------------------------
@pytest.fixture
def swallowed(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Internal errors logged and swallowed, as in production."""
    _guard.set_raise_internal_errors(False)
    _guard.reset_reported()
    caplog.set_level(logging.DEBUG, logger="spyglass")
    try:
        yield caplog
    finally:
        _guard.set_raise_internal_errors(True)
        _guard.reset_reported()


class _Broken(MeterProvider):
    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no meter today")


def test_a_meter_provider_that_fails_never_breaks_the_call(
    no_meter_provider: None, spans: Any, swallowed: pytest.LogCaptureFixture
) -> None:
    metrics.set_meter_provider(_Broken())
    assert [ask("q"), ask("q")] == ["Paris.", "Paris."]
    assert len(spans) == 2
    reports = [r for r in swallowed.records if "metrics instruments" in r.getMessage()]
    assert len(reports) == 1  # once, and not looked up again at every span end


def test_a_recording_that_fails_never_breaks_the_call(
    reader: InMemoryMetricReader, spans: Any, swallowed: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Any, span: Any) -> None:
        raise RuntimeError("recording failed")

    monkeypatch.setattr(_metrics.Instruments, "record", fail)
    assert ask("q") == "Paris."
    assert spans.one("ask").end_time is not None
    assert any("internal error in metrics" in r.getMessage() for r in swallowed.records)


def test_in_tests_a_recording_that_fails_raises(
    reader: InMemoryMetricReader, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Any, span: Any) -> None:
        raise RuntimeError("recording failed")

    monkeypatch.setattr(_metrics.Instruments, "record", fail)
    with pytest.raises(RuntimeError, match="recording failed"):
        ask("q")
    assert spans.one("ask").end_time is not None  # ended before the metrics
