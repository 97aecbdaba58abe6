"""Spans written by other instrumentations, read as Spyglass's own (tracer/conventions/).

Each peer is the real package from PyPI (the ``test`` extra) instrumenting the real openai
client, which replays cassettes recorded against the OpenAI API (../shared/cassettes/openai,
tests/openai_support.py). Nothing here writes a peer's attributes by hand: the spans are what
the peer wrote, and the assertions compare ``canonical()`` of them with the recorded
responses. OpenInference's retriever spans come from its own helpers
(``openinference.instrumentation.get_retriever_attributes``), as a RAG app would make them.

Versions checked: docs/conventions.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

_PEERS = {  # module -> the PyPI package that provides it
    "openinference.instrumentation.openai": "openinference-instrumentation-openai",
    "openinference.semconv.trace": "openinference-semantic-conventions",
    "opentelemetry.instrumentation.openai": "opentelemetry-instrumentation-openai",
    "opentelemetry.instrumentation.openai_v2": "opentelemetry-instrumentation-openai-v2",
    "logfire": "logfire",
}


def _missing() -> list[str]:
    out = []
    for module, package in _PEERS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            out.append(package)
    return out


if (_absent := _missing()) and os.environ.get("CI", "").lower() != "true":
    pytest.skip(
        f"peer instrumentations not installed: {', '.join(_absent)} (pip install -e '.[test]')", allow_module_level=True
    )

import openai
from openinference.instrumentation import (
    get_input_attributes,
    get_retriever_attributes,
    get_span_kind_attributes,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

import tracer
from tracer import attributes as A
from tracer._content import output_text, question_text
from tracer.conventions import canonical, span_type

from .openai_support import REPLAY, USER_ONLY_PROMPT, WEATHER_TOOL, WEATHER_TOOL_PROMPT, Spans, cassettes_dir


# --- the peers: each instruments the client onto a given provider, and undoes it after -------
@contextmanager
def _instrumentor(cls: Any, provider: TracerProvider, **init: Any) -> Iterator[openai.OpenAI]:
    instrumentor = cls(**init)
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield openai.OpenAI(api_key="test", max_retries=0)
    finally:
        instrumentor.uninstrument()


@contextmanager
def openinference(provider: TracerProvider) -> Iterator[openai.OpenAI]:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    with _instrumentor(OpenAIInstrumentor, provider) as client:
        yield client


@contextmanager
def openllmetry(provider: TracerProvider) -> Iterator[openai.OpenAI]:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    saved = _openai_methods()
    try:
        with _instrumentor(OpenAIInstrumentor, provider) as client:
            yield client
    finally:
        # Its uninstrument() (0.62.4) calls unwrap("openai.resources.chat.completions",
        # "Completions.create"), which looks up a class "completions" and quietly unwraps
        # nothing: wrappers pile up, and a stream's text is recorded once per layer. Put the
        # client's methods back as they were before it.
        for (cls, name), method in saved.items():
            if cls.__dict__.get(name) is not method:
                setattr(cls, name, method)


def _openai_methods() -> dict[tuple[type, str], Any]:
    return {
        (cls, name): method
        for module_name, module in list(sys.modules.items())
        if module_name.startswith("openai.resources") and module is not None
        for cls in vars(module).values()
        if isinstance(cls, type) and cls.__module__ == module_name
        for name, method in vars(cls).items()
        if not name.startswith("_")
    }


@contextmanager
def otel_contrib(provider: TracerProvider) -> Iterator[openai.OpenAI]:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    # Content on the span (not only in OTel logs): the settings docs/conventions.md names.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
        env.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
        with _instrumentor(OpenAIInstrumentor, provider) as client:
            yield client


def _logfire(version: int) -> Callable[[TracerProvider], Any]:
    @contextmanager
    def instrumented(provider: TracerProvider) -> Iterator[openai.OpenAI]:
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        import logfire

        # configure() patches the executors' submit() for good (to carry its context into
        # their threads): put them back, or every later test in this process sees it.
        submits = ThreadPoolExecutor.submit, ProcessPoolExecutor.submit
        # A private Logfire (local=True): its own SDK provider, whose spans go to our processors.
        lf = logfire.configure(
            local=True,
            send_to_logfire=False,
            console=False,
            metrics=False,
            additional_span_processors=[_Forward(provider)],
        )
        client = openai.OpenAI(api_key="test", max_retries=0)
        try:
            with lf.instrument_openai(client, version=version):
                yield client
        finally:
            lf.shutdown()
            ThreadPoolExecutor.submit, ProcessPoolExecutor.submit = submits  # type: ignore[method-assign]

    instrumented.__name__ = f"logfire_v{version}"
    return instrumented


class _Forward(SpanProcessor):
    """Hands Logfire's spans to the span processors of ``provider`` (an in-memory exporter, or
    Spyglass's processor after ``tracer.configure(tracer_provider=provider)``). The SDK has no
    public accessor for a provider's processors; a test may use its private one."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self._provider._active_span_processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._provider._active_span_processor.on_end(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


PEERS = [openinference, openllmetry, otel_contrib, _logfire(2), _logfire(1)]
ids = [p.__name__ for p in PEERS]


# --- replaying the cassettes ----------------------------------------------------------------
def _cassette(name: str) -> str:
    return str(cassettes_dir() / name)


def chat(client: openai.OpenAI) -> None:
    with REPLAY.use_cassette(_cassette("test_chat_completion_with_content.yaml")):
        client.chat.completions.create(messages=USER_ONLY_PROMPT, model="gpt-4o-mini", stream=False)


def stream(client: openai.OpenAI) -> None:
    with REPLAY.use_cassette(_cassette("test_chat_completion_streaming.yaml")):
        chunks = client.chat.completions.create(
            model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True, stream_options={"include_usage": True}
        )
        for _ in chunks:
            pass


def tools(client: openai.OpenAI) -> None:
    """The recorded tool round trip: a call that asks for two tools, then their results."""
    with REPLAY.use_cassette(_cassette("test_chat_completion_tool_calls_with_content.yaml")):
        messages: list[Any] = list(WEATHER_TOOL_PROMPT)
        first = client.chat.completions.create(
            messages=messages, model="gpt-4o-mini", tool_choice="auto", tools=[WEATHER_TOOL]
        )
        calls = first.choices[0].message.tool_calls
        messages.append({"role": "assistant", "tool_calls": first.choices[0].message.to_dict()["tool_calls"]})
        messages.append({"role": "tool", "content": "50 degrees and raining", "tool_call_id": calls[0].id})
        messages.append({"role": "tool", "content": "70 degrees and sunny", "tool_call_id": calls[1].id})
        client.chat.completions.create(messages=messages, model="gpt-4o-mini")


def canonical_spans(spans: Spans) -> list[dict[str, Any]]:
    return [
        dict(
            canonical(
                dict(s.attributes or {}), [{"name": e.name, "attributes": dict(e.attributes or {})} for e in s.events]
            )
        )
        for s in spans.finished()
    ]


def llm_spans(spans: Spans) -> list[dict[str, Any]]:
    found = [a for a in canonical_spans(spans) if a.get(A.SPAN_TYPE) == A.SPAN_TYPE_LLM]
    assert found, [s.name for s in spans.finished()]
    return found


def messages(attrs: dict[str, Any], key: str) -> list[dict[str, Any]]:
    assert isinstance(attrs.get(key), str), f"{key} should be JSON text: {attrs.get(key)!r}"
    return json.loads(attrs[key])


def parts(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in message["parts"] if p.get("type") == kind]


@pytest.fixture(params=PEERS, ids=ids)
def peer(request: pytest.FixtureRequest) -> Iterator[tuple[Spans, openai.OpenAI]]:
    cassettes_dir()
    spans = Spans()
    with request.param(spans.provider) as client:
        yield spans, client


# --- one call, read back ----------------------------------------------------------------------
def test_chat_with_content(peer: tuple[Spans, openai.OpenAI]) -> None:
    spans, client = peer
    chat(client)
    [attrs] = llm_spans(spans)
    assert attrs[A.GEN_AI_OPERATION_NAME] == A.OP_CHAT
    assert attrs[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_OPENAI
    assert (attrs[A.GEN_AI_USAGE_INPUT_TOKENS], attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 5)  # recorded usage
    assert messages(attrs, A.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say this is a test"}]}
    ]
    assert output_text(attrs) == "This is a test."
    assert question_text(attrs) == "Say this is a test"
    [answer] = messages(attrs, A.GEN_AI_OUTPUT_MESSAGES)
    assert (answer["role"], answer.get("finish_reason")) == ("assistant", "stop")


def test_streaming_is_one_llm_call(peer: tuple[Spans, openai.OpenAI]) -> None:
    spans, client = peer
    stream(client)
    [attrs] = llm_spans(spans)  # Logfire's request span and its stream record: one call
    assert attrs[A.GEN_AI_RESPONSE_MODEL] == "gpt-4-0613"  # the recording answered with gpt-4
    assert (attrs[A.GEN_AI_USAGE_INPUT_TOKENS], attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 5)
    assert output_text(attrs) == '"This is a test."'
    assert question_text(attrs) == "Say this is a test"


def test_tool_calls_and_results(peer: tuple[Spans, openai.OpenAI]) -> None:
    spans, client = peer
    tools(client)
    asked, answered = llm_spans(spans)
    assert (asked[A.GEN_AI_USAGE_INPUT_TOKENS], asked[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (75, 51)
    assert (answered[A.GEN_AI_USAGE_INPUT_TOKENS], answered[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (99, 25)
    [call_message] = messages(asked, A.GEN_AI_OUTPUT_MESSAGES)
    recorded = [
        ("call_JpNb8OiAkbIbHzDggfpdDHpi", "get_current_weather", {"location": "Seattle, WA"}),
        ("call_vaFQc3zK6hHTRZKXRI5Eo2cJ", "get_current_weather", {"location": "San Francisco, CA"}),
    ]
    assert [(p["id"], p["name"], p["arguments"]) for p in parts(call_message, "tool_call")] == recorded
    assert output_text(asked) is None  # no text: only tool calls
    history = messages(answered, A.GEN_AI_INPUT_MESSAGES)
    assert [m["role"] for m in history] == ["system", "user", "assistant", "tool", "tool"]
    assert [(p["id"], p["name"]) for p in parts(history[2], "tool_call")] == [r[:2] for r in recorded]
    results = [(p["id"], p["response"]) for m in history[3:] for p in parts(m, "tool_call_response")]
    assert results == [
        ("call_JpNb8OiAkbIbHzDggfpdDHpi", "50 degrees and raining"),
        ("call_vaFQc3zK6hHTRZKXRI5Eo2cJ", "70 degrees and sunny"),
    ]
    assert output_text(answered) == (
        "Today, the weather in Seattle is 50 degrees and raining, while in San Francisco, it's 70 degrees and sunny."
    )


def test_span_type_agrees_at_start_and_end(peer: tuple[Spans, openai.OpenAI]) -> None:
    """span_type() (cheap, also at span start) and canonical() give one answer for LLM spans."""
    spans, client = peer
    chat(client)
    [span] = [s for s in spans.finished() if span_type(dict(s.attributes or {})) == A.SPAN_TYPE_LLM]
    assert canonical(dict(span.attributes or {}))[A.SPAN_TYPE] == A.SPAN_TYPE_LLM


# --- OpenInference beyond the openai client: retrievers ---------------------------------------
DOCS = [
    {
        "id": "kb-weather-1",
        "content": "Seattle today: 50 degrees and raining.",
        "score": 0.91,
        "metadata": {"source": "weather.md"},
    },
    {
        "id": "kb-weather-2",
        "content": "San Francisco today: 70 degrees and sunny.",
        "score": 0.84,
        "metadata": {"source": "weather.md"},
    },
]


def _retrieve(provider: TracerProvider, query: str) -> None:
    """A retriever span as OpenInference writes one, through its own attribute helpers."""
    attributes = {
        **get_span_kind_attributes("retriever"),
        **get_input_attributes(query),
        **get_retriever_attributes(documents=DOCS),
    }
    with provider.get_tracer("kb").start_as_current_span("search_kb", attributes=attributes):
        pass


def test_openinference_retriever_documents() -> None:
    spans = Spans()
    _retrieve(spans.provider, "weather in Seattle and San Francisco")
    [attrs] = canonical_spans(spans)
    assert attrs[A.SPAN_TYPE] == A.SPAN_TYPE_RETRIEVER
    assert attrs[A.GEN_AI_OPERATION_NAME] == A.OP_RETRIEVAL
    assert attrs[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "weather in Seattle and San Francisco"
    assert json.loads(attrs[A.GEN_AI_RETRIEVAL_DOCUMENTS]) == DOCS


# --- into a store, end to end -----------------------------------------------------------------
def _store_spans(db: Path) -> list[dict[str, Any]]:
    store = tracer.Store(db)
    out: list[dict[str, Any]] = []
    for summary in store.list_traces(limit=100):
        trace = store.get_trace(summary["trace_id"])
        assert trace is not None
        out.extend(trace["spans"])
    return out


@pytest.mark.parametrize("instrumented", PEERS, ids=ids)
def test_end_to_end_into_a_store(instrumented: Any, db_path: Path) -> None:
    cassettes_dir()
    provider = TracerProvider()
    tracer.configure(db=db_path, tracer_provider=provider)
    try:
        with instrumented(provider) as client:
            chat(client)
    finally:
        assert tracer.flush()
    [row] = [s for s in _store_spans(db_path) if s.get("span_type") == A.SPAN_TYPE_LLM]
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["input_tokens"], row["output_tokens"]) == (12, 5)


def test_openinference_call_is_grounded_at_export(db_path: Path) -> None:
    """A RAG trace written by OpenInference alone: its retriever, then its LLM call."""
    cassettes_dir()
    provider = TracerProvider()
    tracer.configure(db=db_path, tracer_provider=provider)
    try:
        with (
            openinference(provider) as client,
            provider.get_tracer("app").start_as_current_span("answer", attributes=get_span_kind_attributes("chain")),
        ):
            _retrieve(provider, "weather in Seattle and San Francisco")
            tools(client)
    finally:
        assert tracer.flush()
    spans = _store_spans(db_path)
    llm = [s for s in spans if s.get("span_type") == A.SPAN_TYPE_LLM]
    assert len(llm) == 2 and {s["trace_id"] for s in spans} == {llm[0]["trace_id"]}
    rows = tracer.Store(db_path).evaluations("grounding")
    answered = [r for r in rows if r["span_id"] == llm[1]["span_id"]]
    assert len(answered) == 1, rows
    assert answered[0]["label"] == "grounded"  # both figures are in the retrieved documents
    details = answered[0]["details"]
    details = json.loads(details) if isinstance(details, str) else details
    assert {"kb-weather-1", "kb-weather-2"} <= set(details["document_ids"])  # the retriever's documents


# --- never raises, whatever a span holds -------------------------------------------------------
BROKEN: list[dict[str, Any]] = [
    {
        A.OI_SPAN_KIND: "LLM",
        f"{A.OI_LLM_INPUT_MESSAGES}.0.{A.OI_MESSAGE_ROLE}": 3,
        f"{A.OI_LLM_INPUT_MESSAGES}.x.{A.OI_MESSAGE_CONTENT}": "gap",
        A.OI_LLM_INVOCATION_PARAMETERS: '{"model": "gp',
        A.OI_LLM_TOKEN_COUNT_PROMPT: "12",
        A.OI_LLM_TOKEN_COUNT_COMPLETION: float("nan"),
    },
    {
        A.OI_SPAN_KIND: "RETRIEVER",
        f"{A.OI_RETRIEVAL_DOCUMENTS}.0.{A.OI_DOCUMENT_METADATA}": "{not json",
        f"{A.OI_RETRIEVAL_DOCUMENTS}.1.{A.OI_DOCUMENT_SCORE}": "high",
    },
    {A.TL_LLM_REQUEST_TYPE: "chat", f"{A.TL_PROMPTS}.0.{A.TL_CONTENT}": '[{"type": "text"', A.GEN_AI_SYSTEM: 7},
    {
        A.LF_SPAN_TYPE: "span",
        A.GEN_AI_OPERATION_NAME: A.OP_CHAT,
        A.LF_REQUEST_DATA: '{"messages": [1, null, "x"]',
        A.LF_RESPONSE_DATA: '{"message": "text", "usage": [1]}',
        A.LF_EVENTS: '[{"event.name": 5}, 3]',
    },
    {A.LF_SPAN_TYPE: "log", A.GEN_AI_OPERATION_NAME: A.OP_CHAT, A.LF_RESPONSE_DATA: {"message": {"tool_calls": [5]}}},
    {A.GEN_AI_SYSTEM: "openai", A.GEN_AI_USAGE_PROMPT_TOKENS: True},
]


@pytest.mark.parametrize("attrs", BROKEN)
def test_malformed_spans_give_what_they_can(attrs: dict[str, Any]) -> None:
    out = canonical(attrs, [{"name": "exception", "attributes": None}, "not an event"])  # type: ignore[list-item]
    for key in (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_RETRIEVAL_DOCUMENTS):
        if key in out:
            json.loads(out[key])  # whatever was kept is valid JSON text
    assert span_type(attrs) in (None, *A.OI_KIND_BY_SPAN_TYPE)


def test_a_spyglass_span_is_left_alone() -> None:
    ours = {
        A.SPAN_TYPE: A.SPAN_TYPE_LLM,
        A.OI_SPAN_KIND: "LLM",
        f"{A.OI_LLM_OUTPUT_MESSAGES}.0.{A.OI_MESSAGE_CONTENT}": "x",
    }
    assert canonical(ours) is ours


# --- OpenLLMetry's flat layout (releases up to 0.52), in an environment of its own ------------
# 0.52.1 needs opentelemetry-semantic-conventions-ai < 0.5 and the current release >= 0.5.1:
# they cannot share one environment. The old one is installed into a folder of its own, put
# in front of sys.path of a child process that replays the cassettes and prints the spans.
LEGACY_OPENLLMETRY = ("opentelemetry-instrumentation-openai==0.52.1", "opentelemetry-semantic-conventions-ai==0.4.13")

_LEGACY_CHILD = """
import json, sys
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from tests import test_conventions as t
from tests.openai_support import Spans
spans = Spans()
OpenAIInstrumentor().instrument(tracer_provider=spans.provider)
import openai
client = openai.OpenAI(api_key="test", max_retries=0)
out = {}
for name in ("chat", "stream", "tools"):
    getattr(t, name)(client)
    out[name] = [{"attributes": dict(s.attributes or {}),
                  "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in s.events]}
                 for s in spans.finished()]
    spans.clear()
json.dump(out, sys.stdout, default=list)
"""


LEGACY_FOLDER = (
    Path(os.environ.get("SPYGLASS_PEERS") or Path(__file__).resolve().parent.parent / ".peers") / "openllmetry-0.52"
)


@pytest.fixture(scope="module")
def legacy_openllmetry() -> dict[str, list[dict[str, Any]]]:
    """The spans of OpenLLMetry 0.52.1, installed beside the environment by .ci/run (tests run
    offline: they never install anything themselves)."""
    cassettes_dir()
    folder = LEGACY_FOLDER
    if not (folder / "opentelemetry" / "instrumentation" / "openai").is_dir():
        reason = (
            f"OpenLLMetry 0.52.1 is not installed at {folder}; install it with: python3 -m pip install "
            f"--no-deps --target {folder} {' '.join(LEGACY_OPENLLMETRY)} (.ci/run does)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(repo)])}
    child = subprocess.run(
        [sys.executable, "-c", _LEGACY_CHILD], capture_output=True, text=True, timeout=120, env=env, cwd=repo
    )
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout)


def _legacy(recorded: dict[str, list[dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    spans = [dict(canonical(s["attributes"], s["events"])) for s in recorded[name]]
    assert all(
        A.TL_LLM_REQUEST_TYPE in s and A.GEN_AI_INPUT_MESSAGES not in r["attributes"]
        for s, r in zip(spans, recorded[name])
    ), "not the flat layout: is 0.52.1 the one imported?"
    return [s for s in spans if s.get(A.SPAN_TYPE) == A.SPAN_TYPE_LLM]


def test_openllmetry_flat_layout_chat(legacy_openllmetry: dict[str, list[dict[str, Any]]]) -> None:
    [attrs] = _legacy(legacy_openllmetry, "chat")
    assert (attrs[A.GEN_AI_OPERATION_NAME], attrs[A.GEN_AI_PROVIDER_NAME]) == (A.OP_CHAT, A.PROVIDER_OPENAI)
    assert (attrs[A.GEN_AI_REQUEST_MODEL], attrs[A.GEN_AI_RESPONSE_MODEL]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (attrs[A.GEN_AI_USAGE_INPUT_TOKENS], attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 5)
    assert messages(attrs, A.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say this is a test"}]}
    ]
    assert output_text(attrs) == "This is a test."


def test_openllmetry_flat_layout_stream(legacy_openllmetry: dict[str, list[dict[str, Any]]]) -> None:
    [attrs] = _legacy(legacy_openllmetry, "stream")
    assert (attrs[A.GEN_AI_USAGE_INPUT_TOKENS], attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 5)
    assert output_text(attrs) == '"This is a test."'


def test_openllmetry_flat_layout_tools(legacy_openllmetry: dict[str, list[dict[str, Any]]]) -> None:
    asked, answered = _legacy(legacy_openllmetry, "tools")
    [call_message] = messages(asked, A.GEN_AI_OUTPUT_MESSAGES)
    assert [(p["id"], p["arguments"]) for p in parts(call_message, "tool_call")] == [
        ("call_JpNb8OiAkbIbHzDggfpdDHpi", {"location": "Seattle, WA"}),
        ("call_vaFQc3zK6hHTRZKXRI5Eo2cJ", {"location": "San Francisco, CA"}),
    ]
    history = messages(answered, A.GEN_AI_INPUT_MESSAGES)
    assert [(p["id"], p["response"]) for m in history[3:] for p in parts(m, "tool_call_response")] == [
        ("call_JpNb8OiAkbIbHzDggfpdDHpi", "50 degrees and raining"),
        ("call_vaFQc3zK6hHTRZKXRI5Eo2cJ", "70 degrees and sunny"),
    ]
    assert output_text(answered).startswith("Today, the weather in Seattle is 50 degrees")
