"""The GenAI semantic conventions as they stand (issue 14), on the real openai client.

Names checked against the sources, not against our own constants alone:

* ``gen_ai.*``: the GenAI conventions now in ``open-telemetry/semantic-conventions-genai``
  (``model/gen-ai/spans.yaml``: ``gen_ai.request.stream`` is "conditionally required: if and
  only if the request is streaming; if unset, the request is assumed to be non-streaming";
  ``docs/gen-ai/gen-ai-events.md``: the ``gen_ai.evaluation.result`` event with
  ``gen_ai.evaluation.name`` / ``score.value`` / ``score.label`` / ``explanation``), and the
  attribute names in the installed ``opentelemetry-semantic-conventions`` where it has them.
* OpenInference: the installed ``openinference-semantic-conventions`` (``SpanAttributes``,
  ``EmbeddingAttributes``...), which every ``OI_*`` constant must match.

The openai client replays the recordings in ``shared/cassettes/openai`` (vcrpy), sync and
async; decisions go through a real DuckDB store, in the shape written today and in the one
written before (a live span and an old spool file), beside a third party's evaluation.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openinference.semconv import trace as oi
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracer
from integrations import _openai_extract
from integrations import openai as spy_openai
from tracer import _delivered
from tracer import attributes as A
from tracer.store import _spool
from tracer.store._rows import spans_to_table
from viewer import _messages

from .openai_support import (
    OPENAI_VERSION,
    REPLAY,
    USER_ONLY_PROMPT,
    Spans,
    cassettes_dir,
    clients,
    json_response,
)

HAS_RESPONSES = hasattr(openai.OpenAI(api_key="x"), "responses")
RESPONSES_KW = dict(model="gpt-4o-mini", instructions="You are a helpful assistant.", input="Say this is a test")


@pytest.fixture
def openai_spans() -> Iterator[Spans]:
    """The openai integration's spans, on a private provider."""
    s = Spans()
    spy_openai.instrument(tracer_provider=s.provider)
    yield s
    spy_openai.uninstrument()


def _call(client: Any, method: str, kwargs: dict[str, Any], mode: str) -> Any:
    target = client
    for name in method.split("."):
        target = getattr(target, name)
    result = target(**kwargs)
    if mode == "stream":
        return list(result)
    if mode == "raw_stream":
        return list(result.parse())
    if mode == "ctx":
        with result as stream:
            return list(stream)
    return result


async def _acall(client: Any, method: str, kwargs: dict[str, Any], mode: str) -> Any:
    target = client
    for name in method.split("."):
        target = getattr(target, name)
    result = target(**kwargs) if method.endswith(".stream") else await target(**kwargs)
    if mode == "stream":
        return [c async for c in result]
    if mode == "raw_stream":
        return [c async for c in result.parse()]
    if mode == "ctx":
        async with result as stream:
            return [c async for c in stream]
    return result


async def _replay(cassette: str, method: str, kwargs: dict[str, Any], mode: str, flavour: str) -> None:
    with REPLAY.use_cassette(str(cassettes_dir() / cassette)):
        if flavour == "sync":
            _call(openai.OpenAI(api_key="test", max_retries=0), method, kwargs, mode)
        else:
            await _acall(openai.AsyncOpenAI(api_key="test", max_retries=0), method, kwargs, mode)


# --- 1. gen_ai.request.stream: true when streaming, absent otherwise ---------------------------
NOT_STREAMING = {
    "chat, stream=False": ("test_chat_completion_with_content.yaml", "chat.completions.create", "value", False),
    "chat, no stream argument": ("test_chat_completion_with_content.yaml", "chat.completions.create", "value", None),
    "chat, raw response": (
        "test_chat_completion_with_raw_response.yaml",
        "chat.completions.with_raw_response.create",
        "value",
        None,
    ),
    "responses, stream=False": ("test_responses_create_basic[content_mode0].yaml", "responses.create", "value", False),
    "embeddings": ("test_embeddings_no_content.yaml", "embeddings.create", "value", None),
}
STREAMING = {
    "chat, stream=True": ("test_chat_completion_streaming.yaml", "chat.completions.create", "stream", True),
    "chat, raw response": (
        "test_chat_completion_with_raw_response_streaming.yaml",
        "chat.completions.with_raw_response.create",
        "raw_stream",
        True,
    ),
    "chat.completions.stream()": ("test_chat_completion_streaming.yaml", "chat.completions.stream", "ctx", None),
    "responses, stream=True": ("test_responses_create_streaming[content_mode0].yaml", "responses.create", "ctx", True),
    "responses.stream()": ("test_responses_create_streaming[content_mode0].yaml", "responses.stream", "ctx", None),
}


def _kwargs(method: str, stream: bool | None) -> dict[str, Any]:
    if method.startswith("embeddings"):
        return dict(input="This is a test for embeddings", model="text-embedding-3-small")
    base: dict[str, Any] = (
        dict(RESPONSES_KW) if method.startswith("responses") else dict(messages=USER_ONLY_PROMPT, model="gpt-4o-mini")
    )
    if method.startswith("responses") and stream is not False:
        base["service_tier"] = "default"  # as recorded
    if stream is not None:
        base["stream"] = stream
    if stream and method.startswith("chat"):
        base["stream_options"] = {"include_usage": True}
    return base


def _skip_unsupported(method: str) -> None:
    if method.startswith("responses") and not HAS_RESPONSES:
        pytest.skip(f"openai {openai.__version__} has no Responses API")
    if method == "chat.completions.stream" and OPENAI_VERSION < (1, 92):
        pytest.skip("chat.completions.stream is under client.beta before openai 1.92")


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(NOT_STREAMING))
async def test_stream_flag_is_absent_when_not_streaming(openai_spans: Spans, case: str, flavour: str) -> None:
    cassette, method, mode, stream = NOT_STREAMING[case]
    _skip_unsupported(method)
    await _replay(cassette, method, _kwargs(method, stream), mode, flavour)
    span = openai_spans.one()
    assert A.GEN_AI_REQUEST_STREAM not in span.attributes
    assert A.GEN_AI_REQUEST_MODEL in span.attributes  # the span is there, with its request


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(STREAMING))
async def test_stream_flag_is_true_when_streaming(openai_spans: Spans, case: str, flavour: str) -> None:
    cassette, method, mode, stream = STREAMING[case]
    _skip_unsupported(method)
    await _replay(cassette, method, _kwargs(method, stream), mode, flavour)
    span = openai_spans.one()
    assert span.attributes[A.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[A.STREAM_END] in (A.STREAM_END_COMPLETED, A.STREAM_END_CLOSED)


# --- 2. embedding spans: GenAI names plus the OpenInference Phoenix cannot derive -------------
def _constants() -> set[str]:
    return {v for k, v in vars(A).items() if k.isupper() and isinstance(v, str)}


EMBEDDING_KEYS = {
    A.GEN_AI_OPERATION_NAME,
    A.GEN_AI_PROVIDER_NAME,
    A.GEN_AI_REQUEST_MODEL,
    A.GEN_AI_RESPONSE_MODEL,
    A.GEN_AI_USAGE_INPUT_TOKENS,
    A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    A.SERVER_ADDRESS,
    A.SERVER_PORT,
    A.SPAN_TYPE,
    A.COST_USD,
    A.OI_SPAN_KIND,
    A.OI_LLM_PROVIDER,
    A.OI_LLM_SYSTEM,
    A.OI_EMBEDDING_MODEL_NAME,
    A.OI_EMBEDDING_INVOCATION_PARAMETERS,
    A.OI_LLM_TOKEN_COUNT_PROMPT,
    A.OI_LLM_TOKEN_COUNT_TOTAL,
}
CONTENT_KEYS = {A.OI_INPUT_VALUE, A.OI_INPUT_MIME_TYPE}
BATCH = [
    "This is the first test string for embeddings",
    "This is the second test string for embeddings",
    "This is the third test string for embeddings",
]
EMBEDDING_CASES = {
    "one input": ("test_embeddings_no_content.yaml", dict(input="This is a test for embeddings"), {}),
    "batch": ("test_embeddings_with_batch_input.yaml", dict(input=BATCH), {}),
    "dimensions": (
        "test_embeddings_with_dimensions.yaml",
        dict(input="This is a test for embeddings with dimensions", dimensions=512),
        {"dimensions": 512},
    ),
    "base64": (
        "test_embeddings_with_encoding_format.yaml",
        dict(input="This is a test for embeddings with encoding format", encoding_format="base64"),
        {"encoding_format": "base64"},
    ),
}


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(EMBEDDING_CASES))
async def test_embedding_span_attributes(openai_spans: Spans, case: str, flavour: str) -> None:
    cassette, kwargs, params = EMBEDDING_CASES[case]
    await _replay(cassette, "embeddings.create", {**kwargs, "model": "text-embedding-3-small"}, "value", flavour)
    a = dict(openai_spans.one().attributes)
    inputs = kwargs["input"] if isinstance(kwargs["input"], list) else [kwargs["input"]]
    texts = {
        f"{oi.SpanAttributes.EMBEDDING_EMBEDDINGS}.{i}.{oi.EmbeddingAttributes.EMBEDDING_TEXT}"
        for i in range(len(inputs))
    }
    expected = EMBEDDING_KEYS | CONTENT_KEYS | texts
    if "dimensions" in params:
        expected.add(A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT)
    if "encoding_format" in params:
        expected.add(A.GEN_AI_REQUEST_ENCODING_FORMATS)
    assert set(a) == expected
    # Every key is one of our constants (or built by attributes.oi_embedding_text from them)...
    assert set(a) - texts <= _constants()
    assert texts == {A.oi_embedding_text(i) for i in range(len(inputs))}
    # ...and the OpenInference ones are the package's own names.
    assert a[oi.SpanAttributes.OPENINFERENCE_SPAN_KIND] == oi.OpenInferenceSpanKindValues.EMBEDDING.value
    assert a[oi.SpanAttributes.EMBEDDING_MODEL_NAME] == "text-embedding-3-small"
    assert json.loads(a[oi.SpanAttributes.EMBEDDING_INVOCATION_PARAMETERS]) == {
        "model": "text-embedding-3-small",
        **params,
    }
    assert [a[A.oi_embedding_text(i)] for i in range(len(inputs))] == inputs
    # Not the LLM names, and no vectors (see docs/openai.md: big, and nothing reads them).
    assert oi.SpanAttributes.LLM_INVOCATION_PARAMETERS not in a and oi.SpanAttributes.LLM_MODEL_NAME not in a
    assert not any(k.endswith(oi.EmbeddingAttributes.EMBEDDING_VECTOR) for k in a)
    assert A.GEN_AI_REQUEST_STREAM not in a


def test_embedding_span_without_content_capture(openai_spans: Spans, use_settings: Any) -> None:
    use_settings(capture_content=False)
    kwargs = dict(input=BATCH, model="text-embedding-3-small")
    with REPLAY.use_cassette(str(cassettes_dir() / "test_embeddings_with_batch_input.yaml")):
        openai.OpenAI(api_key="test", max_retries=0).embeddings.create(**kwargs)
    a = dict(openai_spans.one().attributes)
    assert set(a) == EMBEDDING_KEYS  # the invocation parameters are not content: they stay
    assert not any(k.startswith(oi.SpanAttributes.EMBEDDING_EMBEDDINGS) for k in a)


def _embedding_response(count: int) -> dict[str, Any]:
    return {
        "object": "list",
        "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(count)],
        "usage": {"prompt_tokens": count, "total_tokens": count},
    }


@pytest.mark.parametrize(
    "given, texts",
    [
        ([[1, 2, 3], [4, 5]], 0),  # token ids: no text to show (as in OpenInference)
        ([f"text {i}" for i in range(200)], _openai_extract.MAX_EMBEDDING_TEXTS),  # a big batch: capped
    ],
)
def test_embedding_texts_are_text_and_bounded(openai_spans: Spans, given: list[Any], texts: int) -> None:
    """Synthetic (no recording has these): the SDK keeps 128 attributes a span and drops the
    oldest to make room, so a batch of 200 must not push gen_ai.operation.name out."""
    sync, _ = clients(lambda request: json_response(200, _embedding_response(len(given))))
    sync.embeddings.create(input=given, model="text-embedding-3-small")
    a = dict(openai_spans.one().attributes)
    assert sorted(k for k in a if k.startswith(A.OI_EMBEDDING_EMBEDDINGS)) == sorted(
        A.oi_embedding_text(i) for i in range(texts)
    )
    assert a[A.GEN_AI_OPERATION_NAME] == A.OP_EMBEDDINGS and a[A.SPAN_TYPE] == A.SPAN_TYPE_EMBEDDING
    assert A.OI_INPUT_VALUE in a


def test_openinference_constants_are_the_packages_names() -> None:
    """Every OI_* name we write or read is a name of the installed OpenInference package."""
    names: set[str] = set()
    for holder in vars(oi).values():
        if isinstance(holder, type):
            names |= {v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str)}
            if issubclass(holder, enum.Enum):  # span kinds, mime types...
                names |= {str(member.value) for member in holder}
    ours = {k: v for k, v in vars(A).items() if k.startswith("OI_") and isinstance(v, str)}
    # The one composite: message_content.image + image.url.
    composite = f"{oi.MessageContentAttributes.MESSAGE_CONTENT_IMAGE}.{oi.ImageAttributes.IMAGE_URL}"
    assert ours.pop("OI_CONTENT_IMAGE_URL") == composite
    assert {k: v for k, v in ours.items() if v not in names} == {}
    assert A.OI_EMBEDDING_INVOCATION_PARAMETERS == oi.SpanAttributes.EMBEDDING_INVOCATION_PARAMETERS
    assert (
        A.oi_embedding_text(3) == f"{oi.SpanAttributes.EMBEDDING_EMBEDDINGS}.3.{oi.EmbeddingAttributes.EMBEDDING_TEXT}"
    )


def test_gen_ai_constants_match_the_python_semconv_package() -> None:
    """Where the installed opentelemetry-semantic-conventions has the names, they agree."""
    gen_ai = pytest.importorskip("opentelemetry.semconv._incubating.attributes.gen_ai_attributes")
    for name in (
        "GEN_AI_REQUEST_STREAM",
        "GEN_AI_EVALUATION_NAME",
        "GEN_AI_EVALUATION_SCORE_VALUE",
        "GEN_AI_EVALUATION_SCORE_LABEL",
        "GEN_AI_EVALUATION_EXPLANATION",
        "GEN_AI_REQUEST_ENCODING_FORMATS",
        "GEN_AI_EMBEDDINGS_DIMENSION_COUNT",
    ):
        if hasattr(gen_ai, name):
            assert getattr(A, name) == getattr(gen_ai, name), name


# --- 3. decisions: gen_ai.evaluation.result events -----------------------------------------------
def _guarded(verdict: str = "modify", **kw: Any) -> None:
    @tracer.trace_postprocess
    def pii_filter(text: str) -> str:
        tracer.record_decision("pii", verdict, **kw)
        return "clean"

    pii_filter("dirty")


def test_decision_event_shape(spans: Any) -> None:
    _guarded(action="redact", reason="an email address", score=0.9, before="mail a@b.c", after="mail <email>")
    [event] = spans.one("pii_filter").events
    assert event.name == "gen_ai.evaluation.result" == A.GEN_AI_EVALUATION_RESULT_EVENT
    assert dict(event.attributes) == {
        "gen_ai.evaluation.name": "pii",
        "gen_ai.evaluation.score.label": "modify",
        "gen_ai.evaluation.score.value": 0.9,
        "gen_ai.evaluation.explanation": "an email address",
        "spyglass.decision.verdict": "modify",
        "spyglass.decision.action": "redact",
        "spyglass.decision.before": "mail a@b.c",
        "spyglass.decision.after": "mail <email>",
    }


def test_decision_event_carries_only_what_was_given(spans: Any, use_settings: Any) -> None:
    use_settings(capture_content=False)
    _guarded("pass", before="text", after="text")
    [event] = spans.one("pii_filter").events
    assert dict(event.attributes) == {
        A.GEN_AI_EVALUATION_NAME: "pii",
        A.GEN_AI_EVALUATION_SCORE_LABEL: "pass",
        A.DECISION_VERDICT: "pass",
    }


LEGACY = {  # what record_decision wrote before: old apps, old spool files
    A.DECISION_NAME: "toxicity",
    A.DECISION_VERDICT: "block",
    A.DECISION_ACTION: "refuse",
    A.DECISION_REASON: "slur",
    A.DECISION_SCORE: 0.97,
    A.DECISION_BEFORE: "bad words",
    A.DECISION_AFTER: "Sorry, I can't help with that.",
}
THIRD_PARTY = {  # an evaluator library's result, in the conventions' shape, with no marker of ours
    A.GEN_AI_EVALUATION_NAME: "Relevance",
    A.GEN_AI_EVALUATION_SCORE_VALUE: 4.0,
    A.GEN_AI_EVALUATION_SCORE_LABEL: "relevant",
    A.GEN_AI_EVALUATION_EXPLANATION: "answers the question",
    A.GEN_AI_RESPONSE_ID: "chatcmpl-123",
}
DECISION_COLUMNS = {"trace_id", "span_id", "position", "time", "name", "verdict", "action", "reason", "score"}
DECISION_COLUMNS |= {"before_text", "after_text"}


def _pipeline() -> None:
    """One trace: a new-style decision, a legacy one, a third-party evaluation, and an LLM answer
    the grounding check evaluates at export."""

    @tracer.trace_retriever
    def search(q: str) -> list[dict[str, Any]]:
        return [{"id": "kb-1", "content": "The lamp battery lasts 12 hours."}]

    @tracer.trace_llm(model="m")
    def answer(q: str, docs: list[Any]) -> str:
        return "The lamp battery lasts 12 hours."

    @tracer.trace_postprocess
    def guard(text: str) -> str:
        tracer.record_decision("pii", "modify", action="redact", reason="a name", score=0.5, before=text, after="[x]")
        return "[x]"

    with tracer.span("rag") as root:
        text = guard(answer("How long does the battery last?", search("battery")))
        with tracer.span("old guard", kind="postprocess") as old:
            old.otel_span.add_event(A.DECISION_EVENT, LEGACY)
        with tracer.span("judge", kind="evaluation") as judge:
            judge.otel_span.add_event(A.GEN_AI_EVALUATION_RESULT_EVENT, THIRD_PARTY)
        root.set_output(text)


def test_decisions_evaluations_and_third_party_results_through_the_store(configured: Path, store: Any) -> None:
    _pipeline()
    assert tracer.flush()
    [summary] = store.list_traces()
    assert (summary["blocked_count"], summary["modified_count"], summary["flagged_count"]) == (1, 1, 0)
    detail = store.get_trace(summary["trace_id"])
    by_name = {s["name"]: s for s in detail["spans"]}
    new, old = detail["decisions"]
    assert set(new) == set(old) == DECISION_COLUMNS  # the viewer's rows, unchanged
    assert {k: new[k] for k in ("span_id", "name", "verdict", "action", "reason", "score")} == {
        "span_id": by_name["guard"]["span_id"],
        "name": "pii",
        "verdict": "modify",
        "action": "redact",
        "reason": "a name",
        "score": 0.5,
    }
    assert (new["before_text"], new["after_text"], new["position"]) == ("The lamp battery lasts 12 hours.", "[x]", 0)
    assert {k: old[k] for k in ("span_id", "name", "verdict", "action", "reason", "score", "before_text")} == {
        "span_id": by_name["old guard"]["span_id"],
        "name": "toxicity",
        "verdict": "block",
        "action": "refuse",
        "reason": "slur",
        "score": 0.97,
        "before_text": "bad words",
    }
    # The grounding check's result and the third party's are evaluations, never decisions.
    evaluations = sorted(detail["evaluations"], key=lambda e: e["name"])
    assert [(e["name"], e["label"], e["source"]) for e in evaluations] == [
        ("Relevance", "relevant", "span"),
        ("grounding", "grounded", "export"),
    ]
    relevance, grounding = evaluations
    assert relevance["span_id"] == by_name["judge"]["span_id"] and relevance["score"] == 4.0
    assert relevance["explanation"] == "answers the question" and relevance["details"] is None
    assert grounding["span_id"] == by_name["answer"]["span_id"] and grounding["details"] is not None
    assert store.evaluations("Relevance")[0]["label"] == "relevant"
    # The events keep their names as recorded: two gen_ai.evaluation.result (decision, third
    # party) and one spyglass.decision on the spans; the grounding result on the LLM span.
    names = sorted(e["name"] for e in detail["events"])
    assert names == [A.GEN_AI_EVALUATION_RESULT_EVENT] * 3 + [A.DECISION_EVENT]


def test_another_tools_grounding_evaluation_is_not_taken_for_ours(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import trace

    from tracer import _dataset
    from viewer import _grounding

    monkeypatch.setenv("SPYGLASS_GROUNDING", "false")  # no result of ours: only theirs
    tracer.configure(db=db_path)

    @tracer.trace_llm(model="m")
    def answer(q: str, docs: list[Any]) -> str:
        theirs = {
            **THIRD_PARTY,
            A.GEN_AI_EVALUATION_NAME: "grounding",
            A.GEN_AI_EVALUATION_SCORE_LABEL: "hallucination",
        }
        trace.get_current_span().add_event(A.GEN_AI_EVALUATION_RESULT_EVENT, theirs)
        return "The lamp battery lasts 12 hours."

    with tracer.span("rag"):
        answer("How long does the battery last?", [{"id": "kb-1", "content": "The lamp battery lasts 12 hours."}])
    assert tracer.flush()
    store = tracer.Store(db_path)
    [summary] = store.list_traces()
    detail = store.get_trace(summary["trace_id"])
    [row] = detail["evaluations"]
    assert (row["name"], row["label"], row["source"]) == ("grounding", "hallucination", "span")
    span_id = next(s["span_id"] for s in detail["spans"] if s["name"] == "answer")
    assert _grounding.for_span(detail["evaluations"], span_id) is None  # not shown as our check's
    assert _grounding.for_trace(detail["evaluations"]) is None
    assert [s["span_id"] for s in store.llm_spans(unevaluated="grounding")] == [span_id]  # spyglass check runs
    assert [r["label"] for r in _dataset.rows(store)] == [None]  # not exported as our label
    assert [e["source"] for e in store.evaluations("grounding", source="span")] == ["span"]
    assert store.evaluations("grounding", source="export") == []


def _without_ids(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("trace_id", "span_id", "time")}


def test_the_viewer_reads_new_and_legacy_decisions_alike(configured: Path, store: Any) -> None:
    with tracer.span("new", kind="postprocess"):
        tracer.record_decision(
            "toxicity",
            "block",
            action="refuse",
            reason="slur",
            score=0.97,
            before="bad words",
            after="Sorry, I can't help with that.",
        )
    with tracer.span("legacy", kind="postprocess") as old:
        old.otel_span.add_event(A.DECISION_EVENT, LEGACY)
    assert tracer.flush()
    rows = {t["root_name"]: store.get_trace(t["trace_id"])["decisions"] for t in store.list_traces()}
    [new], [legacy] = rows["new"], rows["legacy"]
    assert _without_ids(new) == _without_ids(legacy)
    [shown_new], [shown_legacy] = _messages.decisions([new]), _messages.decisions([legacy])
    assert shown_new.name == "toxicity" and shown_new.verdict == "block" and shown_new.reason == "slur"
    assert (shown_new.name, shown_new.verdict, shown_new.reason, shown_new.score, shown_new.diff) == (
        shown_legacy.name,
        shown_legacy.verdict,
        shown_legacy.reason,
        shown_legacy.score,
        shown_legacy.diff,
    )
    outcome = _delivered.of_trace([new], [], ())
    assert outcome.kind == _delivered.BLOCKED and outcome.received == "Sorry, I can't help with that."
    assert store.evaluations() == []  # a decision is not an evaluation
    assert [t["blocked_count"] for t in store.list_traces()] == [1, 1]


def test_an_old_spool_file_with_legacy_decisions_is_read(configured: Path, store: Any) -> None:
    with tracer.span("first"):
        pass
    assert tracer.flush()  # the store exists, and nobody holds it
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("old app").start_as_current_span("old guard") as span:
        span.set_attribute(A.SPAN_TYPE, A.SPAN_TYPE_POSTPROCESS)
        span.add_event(A.DECISION_EVENT, LEGACY)
    table = spans_to_table(exporter.get_finished_spans())
    # Written by a Spyglass from before schema v5: without the columns added since.
    _spool.write(str(configured), table.drop_columns(["llm_parent_span_id", "usage_counted"]))
    [trace] = [t for t in store.list_traces() if t["root_name"] == "old guard"]
    [row] = store.get_trace(trace["trace_id"])["decisions"]
    assert (row["name"], row["verdict"], row["reason"], row["score"]) == ("toxicity", "block", "slur", 0.97)
    assert trace["blocked_count"] == 1 and _spool.pending(str(configured)) == []
