"""The decorators' spans against the GenAI semantic conventions as they stand
(open-telemetry/semantic-conventions-genai v0.1.0; docs/conventions.md, "What Spyglass emits").

Real spans (``tracer.testing.capture_spans``): for each span kind, every key emitted is one
``tracer/attributes.py`` writes and the keys the conventions require are there; then the
provider (from the model's name, from the client call inside, never in place of a given one),
tool calls (id, arguments, result), retrieval (top_k, query text, span name) and chat messages
in the conventions' role + parts shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openinference.semconv.trace import SpanAttributes
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from pydantic import BaseModel

import tracer
from tracer import _call
from tracer import attributes as A
from tracer._content import question_text

from .openai_support import REPLAY, USER_ONLY_PROMPT, cassettes_dir


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def current_attributes() -> dict[str, Any]:
    """The running span's attributes so far (an SDK span exposes them)."""
    return dict(getattr(trace.get_current_span(), "attributes", None) or {})


def _written_keys() -> frozenset[str]:
    """The attribute names tracer/attributes.py lists as written by Spyglass: its constants
    above "Read from other instrumentations", minus those that are values, not names."""
    source = Path(A.__file__).read_text(encoding="utf-8")
    written = source.split("# --- Read from other instrumentations", 1)[0]
    values = re.compile(
        r"(OP|PROVIDER|OI_KIND|SPAN_TYPE|OUTPUT_TYPE|MIME|STREAM_END|TOOL_TYPE|OPENAI_API_TYPE|TOKEN_TYPE)_"
        r"|CONTEXT_WHOLE_INPUT$|VERDICTS$"
    )
    names = re.findall(r"^([A-Z][A-Z0-9_]*): Final", written, re.MULTILINE)
    assert len(names) > 100  # the split found the module's first part
    return frozenset(getattr(A, n) for n in names if not values.match(n))


WRITTEN = _written_keys()
FLAT_DOCUMENT = re.compile(r"retrieval\.documents\.\d+\.document\.(id|content|score)$")


def unknown_keys(a: dict[str, Any]) -> set[str]:
    return {k for k in a if k not in WRITTEN and not FLAT_DOCUMENT.match(k)}


def test_the_key_check_can_fail() -> None:
    assert unknown_keys({A.GEN_AI_TOOL_NAME: "x", A.oi_document(3, "content"): "y"}) == set()
    assert unknown_keys({"gen_ai.tool.nmae": "x", A.OP_CHAT: 1, A.TL_PROMPTS: 2}) == {
        "gen_ai.tool.nmae",
        "chat",
        A.TL_PROMPTS,
    }


# --- every span kind: keys ours, required keys present -----------------------------------------


def _llm(spans: tracer.testing.CapturedSpans) -> ReadableSpan:
    @tracer.trace_llm(model="gpt-4o-mini", prompt_version="v1")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        return "Paris."

    answer("Capital of France?", [{"id": "d1", "content": "Paris is the capital of France."}])
    return spans.one("answer")


def _retriever(spans: tracer.testing.CapturedSpans) -> ReadableSpan:
    @tracer.trace_retriever(data_source="kb")
    def search(query: str, k: int = 2) -> list[dict[str, Any]]:
        return [{"id": "d1", "content": "Paris is the capital.", "score": 0.9}][:k]

    search("capital of France")
    return spans.one("retrieval kb")


def _tool(spans: tracer.testing.CapturedSpans) -> ReadableSpan:
    @tracer.trace_tool
    def get_weather(city: str, tool_call_id: str) -> dict[str, str]:
        """Current weather of a city.

        More text the description leaves out."""
        return {"city": city, "sky": "sunny"}

    get_weather("Paris", tool_call_id="call_1")
    return spans.one("execute_tool get_weather")


def _embedding(spans: tracer.testing.CapturedSpans) -> ReadableSpan:
    @tracer.trace_step(kind="embedding", attributes={A.GEN_AI_REQUEST_MODEL: "text-embedding-3-small"})
    def embed(texts: list[str]) -> list[list[float]]:
        return [[0.1, 0.2] for _ in texts]

    embed(["hello"])
    return spans.one("embed")


def _postprocess(spans: tracer.testing.CapturedSpans) -> ReadableSpan:
    @tracer.trace_postprocess
    def redact(text: str) -> str:
        tracer.record_decision("pii", "pass")
        return text

    redact("hello")
    return spans.one("redact")


def _step(spans: tracer.testing.CapturedSpans) -> ReadableSpan:
    @tracer.trace_step
    def pipeline(question: str) -> str:
        return "done"

    pipeline("q")
    return spans.one("pipeline")


# span kind -> (make the span, the conventions' required attributes and their values; None: any)
KINDS: dict[str, tuple[Callable[[Any], ReadableSpan], dict[str, Any]]] = {
    A.SPAN_TYPE_LLM: (_llm, {A.GEN_AI_OPERATION_NAME: A.OP_CHAT, A.GEN_AI_PROVIDER_NAME: A.PROVIDER_OPENAI}),
    A.SPAN_TYPE_RETRIEVER: (_retriever, {A.GEN_AI_OPERATION_NAME: A.OP_RETRIEVAL}),
    A.SPAN_TYPE_TOOL: (_tool, {A.GEN_AI_OPERATION_NAME: A.OP_EXECUTE_TOOL, A.GEN_AI_TOOL_NAME: "get_weather"}),
    A.SPAN_TYPE_EMBEDDING: (
        _embedding,
        {A.GEN_AI_OPERATION_NAME: A.OP_EMBEDDINGS, A.GEN_AI_PROVIDER_NAME: A.PROVIDER_OPENAI},
    ),
    A.SPAN_TYPE_POSTPROCESS: (_postprocess, {}),  # no GenAI operation: Spyglass and OpenInference keys only
    A.SPAN_TYPE_STEP: (_step, {}),
}


@pytest.mark.parametrize("capture", [True, False], ids=["content", "no content"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_key_is_ours_and_the_required_ones_are_there(spans, use_settings, kind: str, capture: bool) -> None:
    use_settings(capture_content=capture)
    make, required = KINDS[kind]
    a = attrs(make(spans))
    assert unknown_keys(a) == set()
    assert a[A.SPAN_TYPE] == kind
    assert a[A.OI_SPAN_KIND] == A.OI_KIND_BY_SPAN_TYPE[kind]
    for key, value in required.items():
        assert a.get(key) == value, key
    if not capture:
        content = {A.OI_INPUT_VALUE, A.OI_OUTPUT_VALUE, A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES}
        content |= {A.GEN_AI_TOOL_CALL_ARGUMENTS, A.GEN_AI_TOOL_CALL_RESULT, A.GEN_AI_RETRIEVAL_QUERY_TEXT}
        content |= {A.GEN_AI_RETRIEVAL_DOCUMENTS}
        assert not content & a.keys()


def test_openinference_keys_are_the_installed_packages_own(spans) -> None:
    """The overlay stays small: the OpenInference keys written are real ones, and none that
    Phoenix derives from the gen_ai.* keys itself (flattened messages, tool.name)."""
    known = {v for k, v in vars(SpanAttributes).items() if k.isupper() and isinstance(v, str)}
    for make, _ in KINDS.values():
        a = attrs(make(spans))
        oi = {k for k in a if not k.startswith(("gen_ai.", "spyglass.", "code.")) and not FLAT_DOCUMENT.match(k)}
        assert oi <= known | {A.OI_SPAN_KIND}, oi - known
        assert not any(k.startswith((A.OI_LLM_INPUT_MESSAGES, A.OI_TOOL_NAME)) for k in a)
        spans.clear()


# --- gen_ai.provider.name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o-mini", A.PROVIDER_OPENAI),
        ("o3-mini", A.PROVIDER_OPENAI),
        ("ft:gpt-4o-mini:acme::abc123", A.PROVIDER_OPENAI),
        ("text-embedding-3-small", A.PROVIDER_OPENAI),
        ("claude-sonnet-4-5", A.PROVIDER_ANTHROPIC),
        ("gemini-2.0-flash", A.PROVIDER_GEMINI),
        ("mistral-large-latest", A.PROVIDER_MISTRAL),
        ("open-mixtral-8x7b", A.PROVIDER_MISTRAL),
        ("codestral-latest", A.PROVIDER_MISTRAL),
        ("command-r-plus", A.PROVIDER_COHERE),
        ("llama-3.1-8b", None),  # served by many hosts: not plain
        ("gpt-oss-20b", None),  # open weights
        ("openai/gpt-4o", None),  # through a gateway
        ("mistral:7b", None),  # an Ollama tag
        ("mixtral-8x7b-32768", None),  # open weights (Groq's name)
        ("mistral-7b-instruct-v0.2", None),  # open weights
        ("mistral", None),  # an Ollama model
        ("gpt-35-turbo", None),  # Azure's name only
    ],
)
def test_provider_is_read_from_the_model_name_at_span_start(spans, model: str, provider: str | None) -> None:
    started: list[Any] = []

    @tracer.trace_llm(model=model)
    def answer(question: str) -> str:
        started.append(current_attributes())
        return "ok"

    answer("q")
    assert attrs(spans.one("answer")).get(A.GEN_AI_PROVIDER_NAME) == provider
    assert started[0].get(A.GEN_AI_PROVIDER_NAME) == provider  # there when the span starts (sampling)


def test_a_given_provider_is_never_replaced(spans) -> None:
    @tracer.trace_llm(model="gpt-4o", provider=A.PROVIDER_AZURE_OPENAI)
    def answer(question: str) -> str:
        _client_call(A.PROVIDER_OPENAI)
        return "ok"

    answer("q")
    assert attrs(spans.one("answer"))[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_AZURE_OPENAI


def _client_call(provider: str | None, name: str = "chat m") -> None:
    """An LLM client span as another instrumentation makes it (not a Spyglass span)."""
    attributes = {A.GEN_AI_OPERATION_NAME: A.OP_CHAT, A.GEN_AI_REQUEST_MODEL: "m"}
    if provider is not None:
        attributes[A.GEN_AI_PROVIDER_NAME] = provider
    with _call.tracer_for("test-client", "1.0").start_as_current_span(name, attributes=attributes):
        pass


def test_provider_comes_from_the_client_call_inside_when_none_is_known(spans) -> None:
    @tracer.trace_llm  # no model, no provider
    def answer(question: str) -> str:
        _client_call(None, "chat without provider")  # says nothing: changes nothing
        assert A.GEN_AI_PROVIDER_NAME not in current_attributes()
        _client_call(A.PROVIDER_MISTRAL)
        _client_call(A.PROVIDER_GROQ, "chat again")  # the first one that said wins
        return "ok"

    answer("q")
    a = attrs(spans.one("answer"))
    assert a[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_MISTRAL
    assert a[A.LLM_INNER_CALLS] == 3


def test_a_provider_guessed_from_the_model_gives_way_to_the_client_call(spans) -> None:
    @tracer.trace_llm(model="gpt-4o")  # "openai" from the name; the call goes to Azure
    def answer(question: str) -> str:
        _client_call(A.PROVIDER_AZURE_OPENAI)
        _client_call(A.PROVIDER_OPENAI, "chat again")  # the first call that says wins
        return "ok"

    @tracer.trace_llm(model="gpt-4o")
    def alone(question: str) -> str:  # nothing inside: the guess stands
        return "ok"

    answer("q")
    alone("q")
    assert attrs(spans.one("answer"))[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_AZURE_OPENAI
    assert attrs(spans.one("alone"))[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_OPENAI


def test_provider_from_an_openinference_or_older_client_span(spans) -> None:
    @tracer.trace_llm
    def via_openinference(question: str) -> str:
        span_attrs = {A.OI_SPAN_KIND: "LLM", A.OI_LLM_PROVIDER: "openai"}
        with _call.tracer_for("openinference.instrumentation.openai", "1").start_as_current_span(
            "x", attributes=span_attrs
        ):
            pass
        return "ok"

    @tracer.trace_llm
    def via_gen_ai_system(question: str) -> str:
        span_attrs = {A.GEN_AI_OPERATION_NAME: A.OP_CHAT, A.GEN_AI_SYSTEM: "OpenAI"}
        with _call.tracer_for("old-openllmetry", "1").start_as_current_span("y", attributes=span_attrs):
            pass
        return "ok"

    via_openinference("q")
    via_gen_ai_system("q")
    assert attrs(spans.one("via_openinference"))[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs(spans.one("via_gen_ai_system"))[A.GEN_AI_PROVIDER_NAME] == "openai"


def test_a_tool_method_is_named_by_the_function_not_the_class(spans) -> None:
    class Tools:
        @tracer.trace_tool
        def lookup(self, order_id: str) -> str:
            return "shipped"

    Tools().lookup("1")
    assert attrs(spans.one("execute_tool lookup"))[A.GEN_AI_TOOL_NAME] == "lookup"


def test_only_spyglass_spans_learn_the_provider(spans) -> None:
    outer_tracer = _call.tracer_for("another-sdk", "1.0")
    with outer_tracer.start_as_current_span("agent llm", attributes={A.GEN_AI_OPERATION_NAME: A.OP_CHAT}):
        _client_call(A.PROVIDER_OPENAI)
    assert A.GEN_AI_PROVIDER_NAME not in attrs(spans.one("agent llm"))


def test_provider_from_the_instrumented_openai_client_inside(spans, instrumented: openai.OpenAI) -> None:
    @tracer.trace_llm
    def answer(question: str) -> str:
        response = instrumented.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        return response.choices[0].message.content or ""

    with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
        assert answer("Say this is a test") == "This is a test."
    assert attrs(spans.one("answer"))[A.GEN_AI_PROVIDER_NAME] == A.PROVIDER_OPENAI


# --- execute_tool --------------------------------------------------------------------------------


def test_tool_span_with_content(spans) -> None:
    a = attrs(_tool(spans))
    assert a[A.GEN_AI_TOOL_TYPE] == A.TOOL_TYPE_FUNCTION
    assert a[A.GEN_AI_TOOL_DESCRIPTION] == "Current weather of a city."
    assert a[A.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert json.loads(a[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}  # an object, without the call id
    assert json.loads(a[A.GEN_AI_TOOL_CALL_RESULT]) == {"city": "Paris", "sky": "sunny"}
    assert a[A.GEN_AI_TOOL_CALL_RESULT] == a[A.OI_OUTPUT_VALUE]
    # What the viewer and the grounding check read stays as it was.
    assert json.loads(a[A.OI_INPUT_VALUE]) == {"city": "Paris", "tool_call_id": "call_1"}
    assert a[A.OI_OUTPUT_MIME_TYPE] == A.MIME_JSON


def test_tool_span_without_content_keeps_the_call_id(spans, use_settings) -> None:
    use_settings(capture_content=False)
    a = attrs(_tool(spans))
    assert a[A.GEN_AI_TOOL_CALL_ID] == "call_1"  # an id, not content
    for key in (A.GEN_AI_TOOL_CALL_ARGUMENTS, A.GEN_AI_TOOL_CALL_RESULT, A.OI_INPUT_VALUE, A.OI_OUTPUT_VALUE):
        assert key not in a


def test_trace_step_kind_tool_is_trace_tool(spans) -> None:
    @tracer.trace_step(kind="tool", name="lookup")
    def lookup_order(order_id: str, call_id: int = 0) -> str:
        return "shipped"

    lookup_order("48213", 7)
    lookup_order("48214")
    first, second = spans.named("execute_tool lookup")
    a = attrs(first)
    assert a[A.GEN_AI_TOOL_NAME] == "lookup"
    assert a[A.GEN_AI_TOOL_CALL_ID] == "7"
    assert json.loads(a[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"order_id": "48213"}
    assert a[A.GEN_AI_TOOL_CALL_RESULT] == "shipped"  # a string result stays text
    assert A.GEN_AI_TOOL_DESCRIPTION not in a  # no docstring, no description=
    assert attrs(second)[A.GEN_AI_TOOL_CALL_ID] == "0"  # the default


def test_span_kind_tool_is_an_execute_tool_span(spans) -> None:
    with tracer.span("lookup", kind="tool", input={"order_id": "48213"}) as s:
        s.set_output({"status": "shipped"})
    a = attrs(spans.one("execute_tool lookup"))
    assert a[A.GEN_AI_OPERATION_NAME] == A.OP_EXECUTE_TOOL
    assert a[A.GEN_AI_TOOL_NAME] == "lookup"
    assert a[A.GEN_AI_TOOL_TYPE] == A.TOOL_TYPE_FUNCTION
    assert json.loads(a[A.GEN_AI_TOOL_CALL_RESULT]) == {"status": "shipped"}
    assert set(a) <= WRITTEN


def test_tool_description_and_arguments_of_several_parameters(spans) -> None:
    @tracer.trace_tool(name="convert", description="Convert an amount.")
    def fx(amount: float, currency: str) -> float:
        """Not this."""
        return amount * 2

    fx(3.0, "EUR")
    a = attrs(spans.one("execute_tool convert"))
    assert a[A.GEN_AI_TOOL_DESCRIPTION] == "Convert an amount."
    assert json.loads(a[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"amount": 3.0, "currency": "EUR"}
    assert a[A.GEN_AI_TOOL_CALL_ARGUMENTS] == a[A.OI_INPUT_VALUE]
    assert A.GEN_AI_TOOL_CALL_ID not in a


def test_a_failed_tool_has_no_result(spans) -> None:
    @tracer.trace_tool
    def flaky(x: str) -> str:
        raise RuntimeError("down")

    @tracer.trace_tool
    def partial(x: str) -> Iterator[str]:
        yield "part"
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        flaky("a")
    with pytest.raises(RuntimeError):
        list(partial("a"))
    a, b = attrs(spans.one("execute_tool flaky")), attrs(spans.one("execute_tool partial"))
    assert a[A.ERROR_TYPE] == b[A.ERROR_TYPE] == "RuntimeError"
    assert A.GEN_AI_TOOL_CALL_RESULT not in a and A.GEN_AI_TOOL_CALL_RESULT not in b
    assert b[A.OI_OUTPUT_VALUE] == "part"  # what it yielded before failing is still shown
    assert json.loads(a[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"x": "a"}


def test_tool_content_goes_through_redaction_and_scrubbing(spans, use_settings) -> None:
    use_settings(redact=lambda key, text: None if key == A.GEN_AI_TOOL_CALL_RESULT else text.replace("Paris", "[city]"))

    @tracer.trace_tool
    def login(city: str, api_key: str) -> str:
        return "ok"

    login("Paris", "sk-abcdefghijklmnopqrstuvwxyz0123456789")
    a = attrs(spans.one("execute_tool login"))
    arguments = json.loads(a[A.GEN_AI_TOOL_CALL_ARGUMENTS])
    assert arguments["city"] == "[city]"
    assert "abcdefghijklmnop" not in arguments["api_key"]
    assert A.GEN_AI_TOOL_CALL_RESULT not in a and a[A.OI_OUTPUT_VALUE] == "ok"


def test_trace_tool_is_exported() -> None:
    assert "trace_tool" in tracer.__all__
    assert tracer.__all__ == sorted(tracer.__all__)


# --- retrieval ----------------------------------------------------------------------------------


def test_retrieval_top_k_and_query(spans) -> None:
    a = attrs(_retriever(spans))
    assert a[A.GEN_AI_DATA_SOURCE_ID] == "kb"
    assert a[A.GEN_AI_RETRIEVAL_TOP_K] == 2  # the default
    assert A.GEN_AI_REQUEST_TOP_K not in a  # the sampling setting of inference spans, not this
    assert a[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "capital of France"
    assert json.loads(a[A.GEN_AI_RETRIEVAL_DOCUMENTS])[0]["id"] == "d1"


@pytest.mark.parametrize(
    ("call", "top_k"),
    [
        (lambda f: f("q", n_results=5), 5),
        (lambda f: f("q", 3), 3),
        (lambda f: f("q", True), None),  # a bool is no count
        (lambda f: f("q", "5"), None),
    ],
)
def test_retrieval_top_k_only_from_an_int(spans, call: Callable[[Any], Any], top_k: int | None) -> None:
    @tracer.trace_retriever
    def search(query: str, n_results: Any = None) -> list[str]:
        return ["doc"]

    call(search)
    assert attrs(spans.one("search")).get(A.GEN_AI_RETRIEVAL_TOP_K) == top_k


def test_retrieval_top_k_is_not_content(spans, use_settings) -> None:
    use_settings(capture_content=False)

    class Index:
        @tracer.trace_retriever
        def search(self, text: str, *, limit: int = 4) -> list[str]:
            return ["doc"]

    Index().search("q", limit=9)
    a = attrs(spans.one("Index.search"))
    assert a[A.GEN_AI_RETRIEVAL_TOP_K] == 9
    assert A.GEN_AI_RETRIEVAL_QUERY_TEXT not in a


def test_retrieval_query_from_a_named_argument_or_the_only_string(spans) -> None:
    @tracer.trace_retriever
    def by_name(collection: str, question: str) -> list[str]:
        return []

    @tracer.trace_retriever
    def only_string(vector_store: object, phrase: str, k: int) -> list[str]:
        return []

    @tracer.trace_retriever
    def ambiguous(a: str, b: str) -> list[str]:
        return []

    by_name("faq", "how long is the warranty?")
    only_string(object(), "warranty", 3)
    ambiguous("x", "y")
    assert attrs(spans.one("by_name"))[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "how long is the warranty?"
    assert attrs(spans.one("only_string"))[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "warranty"
    assert A.GEN_AI_RETRIEVAL_QUERY_TEXT not in attrs(spans.one("ambiguous"))


def test_retrieval_query_is_scrubbed_and_redacted(spans, use_settings) -> None:
    use_settings(redact=lambda key, text: text.upper() if key == A.GEN_AI_RETRIEVAL_QUERY_TEXT else text)

    @tracer.trace_retriever
    def search(query: str) -> list[str]:
        return []

    search("token sk-abcdefghijklmnopqrstuvwxyz0123456789 please")
    a = attrs(spans.one("search"))
    assert a[A.GEN_AI_RETRIEVAL_QUERY_TEXT].startswith("TOKEN ")
    assert "ABCDEFGHIJKLMNOP" not in a[A.GEN_AI_RETRIEVAL_QUERY_TEXT]
    assert "abcdefghijklmnop" not in a[A.OI_INPUT_VALUE]


def test_retrieval_span_name(spans) -> None:
    @tracer.trace_retriever(data_source="products")
    def vector(query: str) -> list[str]:
        return []

    @tracer.trace_retriever
    def keyword(query: str) -> list[str]:
        return []

    @tracer.trace_retriever(name="rerank_candidates", data_source="products")
    def named(query: str) -> list[str]:
        return []

    vector("q")
    keyword("q")
    named("q")
    assert sorted(s.name for s in spans) == ["keyword", "rerank_candidates", "retrieval products"]
    assert all(attrs(s)[A.GEN_AI_OPERATION_NAME] == A.OP_RETRIEVAL for s in spans)


def test_trace_step_kind_retriever_records_the_same(spans) -> None:
    @tracer.trace_step(kind="retriever")
    def fetch(query: str, top_k: int = 1) -> list[dict[str, str]]:
        return [{"id": "d", "content": "c"}]

    fetch("q")
    a = attrs(spans.one("fetch"))
    assert (a[A.GEN_AI_OPERATION_NAME], a[A.GEN_AI_RETRIEVAL_TOP_K], a[A.GEN_AI_RETRIEVAL_QUERY_TEXT]) == (
        A.OP_RETRIEVAL,
        1,
        "q",
    )


# --- gen_ai.input.messages ------------------------------------------------------------------------

CHAT = [
    {"role": "system", "content": "You answer in French."},
    {"role": "user", "content": "What's the weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "rainy, 14C"},
    {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
]


def _assert_parts_shape(messages: Any) -> None:
    """The input messages schema (model/gen-ai/gen-ai-input-messages.json): role and parts
    required; every part typed, text parts with content, tool calls with a name."""
    assert isinstance(messages, list)
    for message in messages:
        assert isinstance(message["role"], str) and isinstance(message["parts"], list)
        for part in message["parts"]:
            assert isinstance(part["type"], str)
            if part["type"] == "text":
                assert isinstance(part["content"], str)
            if part["type"] == "tool_call":
                assert isinstance(part["name"], str)
            if part["type"] == "tool_call_response":
                assert "response" in part


def test_chat_messages_argument_becomes_input_messages(spans) -> None:
    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(messages: list[dict[str, Any]], temperature: float = 0.0) -> str:
        return "Il pleuvra."

    answer(CHAT)
    a = attrs(spans.one("answer"))
    messages = json.loads(a[A.GEN_AI_INPUT_MESSAGES])
    _assert_parts_shape(messages)
    assert messages == [
        {"role": "system", "parts": [{"type": "text", "content": "You answer in French."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What's the weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 14C"}]},
        {"role": "user", "parts": [{"type": "text", "content": "And tomorrow?"}]},
    ]
    # The system message is part of the chat history: the conventions keep it there.
    assert A.GEN_AI_SYSTEM_INSTRUCTIONS not in a
    assert json.loads(a[A.OI_INPUT_VALUE]) == CHAT  # input.value as before (the lone argument itself)
    assert question_text(a) == "And tomorrow?"


class Message(BaseModel):
    role: str
    content: str | None = None


def test_message_objects_become_input_messages(spans) -> None:
    from openai.types.chat import ChatCompletionMessage

    previous = ChatCompletionMessage(role="assistant", content="Bonjour.")

    @tracer.trace_llm
    def answer(history: list[Any]) -> str:
        return "ok"

    answer([Message(role="user", content="Hello"), previous, {"role": "user", "content": "Again"}])
    messages = json.loads(attrs(spans.one("answer"))[A.GEN_AI_INPUT_MESSAGES])
    _assert_parts_shape(messages)
    assert [(m["role"], m["parts"][0]["content"]) for m in messages] == [
        ("user", "Hello"),
        ("assistant", "Bonjour."),
        ("user", "Again"),
    ]


def test_no_input_messages_without_chat_messages_or_without_content(spans, use_settings) -> None:
    @tracer.trace_llm
    def answer(question: str, stop: list[str], docs: list[dict[str, str]]) -> str:
        return "ok"

    answer("q", ["\n"], [{"id": "d", "content": "c"}])
    assert A.GEN_AI_INPUT_MESSAGES not in attrs(spans.one("answer"))
    spans.clear()
    use_settings(capture_content=False)
    answer2 = tracer.trace_llm(lambda messages: "ok")
    answer2(CHAT)
    assert A.GEN_AI_INPUT_MESSAGES not in attrs(spans[0])


def test_the_question_argument_wins_over_a_history(spans) -> None:
    """A function given the question and the earlier turns: the question is its argument, not
    the history's last user message."""

    @tracer.trace_llm
    def answer(question: str, history: list[dict[str, str]]) -> str:
        return "ok"

    answer("And tomorrow?", [{"role": "user", "content": "Weather today?"}, {"role": "assistant", "content": "Sun."}])
    assert question_text(attrs(spans.one("answer"))) == "And tomorrow?"
