"""Capture of inputs and outputs: any Python value becomes bounded JSON, secrets never land
in attributes, content capture can be switched off, and a user hook can redact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import logging
import math
import os
import subprocess
import sys
import uuid
from collections import OrderedDict, deque, namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest

import tracer
import tracer.testing
from tracer import _settings
from tracer import attributes as A
from tracer._guard import set_raise_internal_errors
from tracer._serialize import TRUNCATION_MARKER

SECRET_KEY = "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm" * 2
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0+/abc="


@tracer.trace_step
def echo(value: Any) -> Any:
    return value


def captured(spans, value: Any) -> tuple[str, str]:
    """``value`` through a traced call: its ``input.value`` and ``output.value``."""
    assert echo(value) is value
    span = spans[-1]
    return span.attributes[A.OI_INPUT_VALUE], span.attributes[A.OI_OUTPUT_VALUE]


def captured_json(spans, value: Any) -> Any:
    text_in, text_out = captured(spans, value)
    assert text_in == text_out
    return json.loads(text_in)


# --- any value becomes JSON -----------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Answer(pydantic.BaseModel):
    text: str
    score: float
    when: dt.date


Pair = namedtuple("Pair", "left right")


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


class ExplodingProperty:
    """Looks like a numpy array until you touch it."""

    @property
    def dtype(self) -> Any:
        raise RuntimeError("dtype is broken")

    def tolist(self) -> list[int]:
        return [1]


CASES: dict[str, tuple[Any, Any]] = {
    "str": ("plain text", None),  # strings are kept as text, below
    "int": (42, 42),
    "float": (1.5, 1.5),
    "bool": (True, True),
    "none": (None, None),
    "list": ([1, "a", None], [1, "a", None]),
    "tuple": ((1, 2), [1, 2]),
    "dict with non-str keys": ({1: "a", (2, 3): "b"}, {"1": "a", "(2, 3)": "b"}),
    "ordered dict": (OrderedDict(a=1), {"a": 1}),
    "set": ({3, 1, 2}, [1, 2, 3]),
    "frozenset": (frozenset({"b", "a"}), ["a", "b"]),
    "deque": (deque([1, 2]), [1, 2]),
    "range": (range(3), [0, 1, 2]),
    "namedtuple": (Pair(1, 2), {"left": 1, "right": 2}),
    "dataclass": (Point(1, 2.5), {"x": 1, "y": 2.5}),
    "pydantic": (
        Answer(text="hi", score=0.5, when=dt.date(2024, 1, 2)),
        {"text": "hi", "score": 0.5, "when": "2024-01-02"},
    ),
    "bytes": (b"\x00\xffdata", "<6 bytes, base64 head: AP9kYXRh>"),
    "bytearray": (bytearray(b"ab"), "<2 bytes, base64 head: YWI=>"),
    "memoryview": (memoryview(b"ab"), "<2 bytes, base64 head: YWI=>"),
    "nan": (math.nan, "nan"),
    "inf": ([math.inf, -math.inf], ["inf", "-inf"]),
    "enum": (Color.RED, "red"),
    "int enum": (Level.HIGH, 3),
    "datetime": (dt.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06T07:08:09"),
    "date": (dt.date(2024, 5, 6), "2024-05-06"),
    "timedelta": (dt.timedelta(seconds=90), "0:01:30"),
    "decimal": (decimal.Decimal("1.10"), "1.10"),
    "uuid": (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    "path": (Path("/tmp/x"), "/tmp/x"),
    "small numpy array": (np.arange(3), [0, 1, 2]),
    "numpy 2d": (np.zeros((2, 2)), [[0.0, 0.0], [0.0, 0.0]]),
    "numpy scalar": (np.float32(0.5), 0.5),
    "unrepresentable": (Unrepresentable(), "<unrepresentable Unrepresentable>"),
    "exploding property": (ExplodingProperty(), "<unserializable ExplodingProperty: RuntimeError>"),
    "huge int": (10**5000, "<int of 16610 bits>"),
}


@pytest.mark.parametrize("case", [c for c in CASES if c != "str"])
def test_values_become_json(spans, case: str) -> None:
    value, expected = CASES[case]
    assert captured_json(spans, value) == expected
    assert spans[-1].attributes[A.OI_INPUT_MIME_TYPE] == A.MIME_JSON


def test_strings_are_kept_as_text(spans) -> None:
    assert captured(spans, "plain text") == ("plain text", "plain text")
    assert spans[-1].attributes[A.OI_INPUT_MIME_TYPE] == A.MIME_TEXT


def test_several_arguments_are_captured_by_name(spans) -> None:
    @tracer.trace_step
    def f(a: int, b: str = "x") -> None:
        return None

    f(1, b="y")
    assert json.loads(spans.one("f").attributes[A.OI_INPUT_VALUE]) == {"a": 1, "b": "y"}


def test_big_numpy_array_is_summarised(spans) -> None:
    data = captured_json(spans, np.arange(1_000_000).reshape(1000, 1000))
    assert data["shape"] == [1000, 1000]
    assert data["dtype"] == "int64"
    assert data["head"][:3] == [0, 1, 2]
    assert len(data["head"]) == _settings.settings().max_items


def test_cycles_are_cut(spans) -> None:
    a: dict[str, Any] = {"name": "a"}
    b: list[Any] = [a]
    a["b"] = b
    assert captured_json(spans, a) == {"name": "a", "b": ["<cycle: dict>"]}


def test_shared_references_are_not_cycles(spans) -> None:
    shared = [1]
    assert captured_json(spans, {"x": shared, "y": shared}) == {"x": [1], "y": [1]}


def test_deep_nesting_is_cut_at_max_depth(spans) -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(10_000):  # far past the recursion limit
        node.append([])
        node = node[0]
    data = captured_json(spans, deep)
    depth = 0
    while isinstance(data, list):
        data = data[0]
        depth += 1
    assert depth == _settings.settings().max_depth
    assert data.startswith("<max depth")


def test_long_lists_and_dicts_are_cut_with_a_count(spans, use_settings) -> None:
    use_settings(max_items=3)
    assert captured_json(spans, list(range(10))) == [0, 1, 2, "[spyglass: 7 more items]"]
    assert captured_json(spans, {str(i): i for i in range(5)}) == {
        "0": 0,
        "1": 1,
        "2": 2,
        "…": "[spyglass: 2 more items]",
    }


def test_lone_surrogates_become_valid_utf8(spans) -> None:
    text_in, _ = captured(spans, "bad \udc80 byte")
    text_in.encode("utf-8")  # would raise if a surrogate had been kept
    json_in, _ = captured(spans, {"k": "bad \udc80 byte"})
    json_in.encode("utf-8")
    assert "bad" in json.loads(json_in)["k"]


# --- size limit -------------------------------------------------------------------------------


def test_long_text_is_truncated_with_a_visible_marker(spans, use_settings) -> None:
    use_settings(max_value_chars=100)
    text_in, _text_out = captured(spans, "x" * 250)
    assert text_in == "x" * 100 + TRUNCATION_MARKER.format(n=150)
    assert text_in.endswith("…[spyglass: truncated 150 chars]")
    assert spans[-1].attributes[A.TRUNCATED] == (A.OI_INPUT_VALUE, A.OI_OUTPUT_VALUE)


def test_value_under_the_limit_is_not_marked(spans, use_settings) -> None:
    use_settings(max_value_chars=100)
    captured(spans, "x" * 100)
    assert A.TRUNCATED not in spans[-1].attributes


def test_truncated_names_only_the_attributes_that_were_cut(spans, use_settings) -> None:
    use_settings(max_value_chars=100)

    @tracer.trace_step
    def shrink(text: str) -> str:
        return text[:10]

    shrink("y" * 500)
    assert spans.one("shrink").attributes[A.TRUNCATED] == (A.OI_INPUT_VALUE,)


def test_long_structured_value_stays_valid_json(spans, use_settings) -> None:
    use_settings(max_value_chars=1_000)
    text_in, _ = captured(spans, {"question": "q" * 5_000, "docs": ["d" * 800] * 20})
    assert len(text_in) <= 1_000
    data = json.loads(text_in)  # cut inside the strings, not through the JSON
    assert data["question"].startswith("qqq")
    assert "…[spyglass: truncated" in data["question"]
    assert A.OI_INPUT_VALUE in spans[-1].attributes[A.TRUNCATED]


def test_llm_output_message_stays_valid_json(spans, use_settings) -> None:
    use_settings(max_value_chars=500)

    @tracer.trace_llm
    def answer() -> str:
        return "long answer " * 200

    answer()
    message = json.loads(spans.one("answer").attributes[A.GEN_AI_OUTPUT_MESSAGES])
    assert message[0]["parts"][0]["content"].startswith("long answer")


def test_max_value_chars_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("SPYGLASS_MAX_VALUE_CHARS", "1234")
    assert _settings.Settings.from_env().max_value_chars == 1234


@pytest.mark.parametrize("raw", ["abc", "-5", "0"])
def test_bad_max_value_chars_falls_back_with_a_warning(monkeypatch, caplog, raw: str) -> None:
    monkeypatch.setenv("SPYGLASS_MAX_VALUE_CHARS", raw)
    with caplog.at_level(logging.WARNING, logger="spyglass"):
        assert _settings.Settings.from_env().max_value_chars == _settings.DEFAULT_MAX_VALUE_CHARS
    assert "SPYGLASS_MAX_VALUE_CHARS" in caplog.text


# --- secrets ------------------------------------------------------------------------------------


@dataclasses.dataclass
class ClientConfig:
    api_key: str
    model: str


class PydanticConfig(pydantic.BaseModel):
    password: str
    user: str


def _all_text(spans) -> str:
    parts = []
    for span in spans:
        parts.extend(str(v) for v in span.attributes.values())
        for event in span.events:
            parts.extend(str(v) for v in event.attributes.values())
        parts.append(str(span.status.description))
    return "\n".join(parts)


def test_secrets_never_land_in_attributes(spans) -> None:
    @tracer.trace_llm
    def call_api(prompt: str, api_key: str, headers: dict[str, str], config: Any, model: Any) -> dict[str, Any]:
        tracer.record_decision(
            "echo", "modify", before=f"key={SECRET_KEY}", after="key=***", reason=f"found {SECRET_KEY}"
        )
        return {"echo": f"used {SECRET_KEY}", "Authorization": BEARER, "nested": [{"access_token": "tok-123456"}]}

    call_api(
        f"my key is {SECRET_KEY}",
        api_key="plain-secret-value-1",
        headers={"Authorization": BEARER, "X-Api-Key": "plain-secret-value-2"},
        config=ClientConfig(api_key="plain-secret-value-3", model="m"),
        model=PydanticConfig(password="plain-secret-value-4", user="bob"),
    )

    text = _all_text(spans)
    for secret in (
        SECRET_KEY,
        BEARER,
        "eyJhbGciOiJIUzI1NiJ9",
        "tok-123456",
        "plain-secret-value-1",
        "plain-secret-value-2",
        "plain-secret-value-3",
        "plain-secret-value-4",
    ):
        assert secret not in text
    assert "[REDACTED]" in text
    data = json.loads(spans.one("call_api").attributes[A.OI_INPUT_VALUE])
    assert data["config"] == {"api_key": "[REDACTED]", "model": "m"}  # the rest stays readable
    assert data["model"] == {"password": "[REDACTED]", "user": "bob"}


def test_secret_as_a_lone_string_argument(spans) -> None:
    text_in, _ = captured(spans, f"Authorization: {BEARER}")
    assert "eyJhbGciOiJIUzI1NiJ9" not in text_in
    assert text_in.startswith("Authorization: [REDACTED]")


def test_ordinary_keys_are_not_redacted(spans) -> None:
    assert captured_json(spans, {"max_tokens": 10, "input_tokens": 3, "key": "k", "session_id": "s"}) == {
        "max_tokens": 10,
        "input_tokens": 3,
        "key": "k",
        "session_id": "s",
    }


# --- switching content capture off ---------------------------------------------------------------


CONTENT = (
    "secret document text",
    "private question text",
    "streamed answer text",
    "manual input text",
    "more manual input text",
    "manual output text",
    "raw answer text",
    "clean answer text",
)


def _pipeline() -> None:
    @tracer.trace_retriever
    def search(query: str) -> list[dict[str, Any]]:
        return [{"id": "d1", "content": "secret document text", "score": 0.9}]

    @tracer.trace_llm(model="gpt-4o")
    def answer(question: str, docs: list[dict[str, Any]]):
        tracer.record_usage(input_tokens=10, output_tokens=2)
        tracer.record_decision("guard", "modify", before="raw answer text", after="clean answer text", reason="policy")
        yield "streamed "
        yield "answer text"

    @tracer.trace_step
    def pipeline(question: str) -> str:
        return "".join(answer(question, search(question)))

    with tracer.span("manual", input="manual input text") as s:
        s.set_input("more manual input text")
        s.set_output("manual output text")
    pipeline("private question text")


def _assert_no_content(spans) -> None:
    assert [s.name for s in spans] == ["manual", "search", "answer", "pipeline"]
    text = _all_text(spans)
    for content in CONTENT:
        assert content not in text
    for span in spans:
        keys = set(span.attributes)
        assert not keys & {
            A.OI_INPUT_VALUE,
            A.OI_OUTPUT_VALUE,
            A.GEN_AI_OUTPUT_MESSAGES,
            A.GEN_AI_RETRIEVAL_DOCUMENTS,
            A.GEN_AI_RETRIEVAL_QUERY_TEXT,
        }
        assert not any(k.startswith(A.OI_RETRIEVAL_DOCUMENTS) for k in keys)
    # Structure and non-content attributes stay.
    search, llm, pipeline = spans.one("search"), spans.one("answer"), spans.one("pipeline")
    assert search.parent.span_id == llm.parent.span_id == pipeline.context.span_id
    assert search.attributes[A.SPAN_TYPE] == "retriever"
    assert search.attributes[A.DOCUMENTS_COUNT] == 1
    assert llm.attributes[A.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert llm.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert llm.attributes[A.STREAM_ITEMS] == 2
    [decision] = [e for e in llm.events if e.name == A.GEN_AI_EVALUATION_RESULT_EVENT]
    assert decision.attributes[A.DECISION_VERDICT] == "modify"
    assert A.DECISION_BEFORE not in decision.attributes and A.DECISION_AFTER not in decision.attributes


def test_everything_is_captured_by_default(spans) -> None:
    _pipeline()
    text = _all_text(spans)
    for content in CONTENT:
        assert content in text


@pytest.mark.parametrize(
    "var, value",
    [
        ("SPYGLASS_CAPTURE_CONTENT", "false"),
        ("SPYGLASS_CAPTURE_CONTENT", "0"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "NO_CONTENT"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY"),
    ],
)
def test_content_capture_off_from_the_environment(spans, monkeypatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    _settings.reset_settings()
    assert not _settings.settings().capture_content
    _pipeline()
    _assert_no_content(spans)


@pytest.mark.parametrize("value", ["SPAN_ONLY", "SPAN_AND_EVENT", "true"])
def test_otel_values_that_keep_span_content(monkeypatch, value: str) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    assert _settings.Settings.from_env().capture_content


def test_content_capture_off_from_configure(db_path) -> None:
    tracer.configure(db=db_path, capture_content=False)
    try:
        assert not _settings.settings().capture_content
        with tracer.testing.capture_spans() as spans:  # on the provider configure() set up
            _pipeline()
        _assert_no_content(spans)
    finally:
        tracer.shutdown()


def test_capture_input_and_output_per_decorator(spans) -> None:
    @tracer.trace_step(capture_input=False)
    def no_input(x: str) -> str:
        return "visible output"

    @tracer.trace_step(capture_output=False)
    def no_output(x: str) -> str:
        return "hidden output"

    no_input("hidden input")
    no_output("visible input")
    assert A.OI_INPUT_VALUE not in spans.one("no_input").attributes
    assert spans.one("no_input").attributes[A.OI_OUTPUT_VALUE] == "visible output"
    assert spans.one("no_output").attributes[A.OI_INPUT_VALUE] == "visible input"
    assert A.OI_OUTPUT_VALUE not in spans.one("no_output").attributes


# --- the redact hook -------------------------------------------------------------------------------


def test_redact_hook_sees_every_captured_value(spans, use_settings) -> None:
    seen: list[str] = []

    def redact(key: str, text: str) -> str | None:
        seen.append(key)
        if key == A.OI_OUTPUT_VALUE:
            return None  # drop it
        return text.replace("alice@example.com", "<email>")

    use_settings(redact=redact)

    @tracer.trace_llm
    def answer(question: str) -> str:
        tracer.record_decision("pii", "modify", before="mail alice@example.com", after="mail <email>")
        return "reply to alice@example.com"

    answer("from alice@example.com")
    span = spans.one("answer")
    a = dict(span.attributes)
    assert a[A.OI_INPUT_VALUE] == "from <email>"
    assert A.OI_OUTPUT_VALUE not in a and A.OI_OUTPUT_MIME_TYPE not in a
    assert "alice@example.com" not in _all_text(spans)
    assert set(seen) == {
        A.OI_INPUT_VALUE,
        A.OI_OUTPUT_VALUE,
        A.GEN_AI_OUTPUT_MESSAGES,
        A.DECISION_BEFORE,
        A.DECISION_AFTER,
    }


def test_redact_hook_that_raises_drops_the_value(spans, use_settings) -> None:
    def broken(key: str, text: str) -> str:
        raise ValueError("hook bug")

    use_settings(redact=broken)
    set_raise_internal_errors(False)
    assert echo("private text") == "private text"
    assert "private text" not in _all_text(spans)  # fails closed: nothing unredacted lands


# --- the C-encoder fast path gives exactly what the walker gives -------------------------


def _walked_text(value, s):
    from tracer import _serialize

    saved = _serialize._fast_json
    _serialize._fast_json = lambda v, s: None
    try:
        return _serialize.to_text(value, s)
    finally:
        _serialize._fast_json = saved


def test_fast_path_matches_walker_on_edge_values():
    import collections
    import enum

    from tracer._serialize import _fast_json, to_text
    from tracer._settings import Settings

    class Color(enum.IntEnum):
        RED = 1

    class Tag(str, enum.Enum):
        A = "a"

    class D(dict):
        pass

    Point = collections.namedtuple("Point", "x y")
    cyclic: list = []
    cyclic.append(cyclic)
    deep: list = []
    for _ in range(20):
        deep = [deep, {"k": "[{"}]
    values = [
        {"question": "q", "docs": [{"id": "d1", "score": 0.5}]},
        (1, 2, [3]),
        Point(1, 2),
        Color.RED,
        [Tag.A],
        D(a=1),
        {1: "a", "1": "b"},
        {True: 1},
        {None: 1},
        {1.5: 2},
        {"api_key": "x"},
        {"Token": "x"},
        {"token\n": "x"},
        {"max_tokens": 5},
        {"ſecret": 1},
        {"İd_token": 1},
        [float("nan")],
        [float("inf")],
        [2**10000 - 1],
        [2**10000],
        cyclic,
        deep,
        list(range(1_500)),
        {str(i): i for i in range(1_200)},
        ["x" * 70_000],
        ["a,b"] * 600,
        {"text": "key: sk-" + "a" * 30},
        ["\ud800"],
        [-0.0, 1e300, True, None],
    ]
    for s in (Settings(), Settings(max_items=2, max_depth=3, max_value_chars=200)):
        for value in values:
            assert to_text(value, s) == _walked_text(value, s), value
    assert _fast_json({"question": "q", "docs": [{"id": "d1"}]}, Settings()) is not None
    assert _fast_json({"max_tokens": 5}, Settings()) is not None


def test_llm_output_message_built_around_the_answer():
    from tracer._call import _MESSAGE_HEAD, _MESSAGE_TAIL
    from tracer._serialize import to_text
    from tracer._settings import Settings

    for answer in ("plain", 'quote " and \\ and \n', "é ✓ \u2028", "Bearer " + "t" * 20):
        message = [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
        text, is_json, cut = to_text(message, Settings())
        assert (is_json, cut) == (True, False)
        import json

        from tracer._serialize import encodable, scrub

        assert text == encodable(scrub(_MESSAGE_HEAD + json.dumps(answer, ensure_ascii=False) + _MESSAGE_TAIL))


# --- capture_spans() sees the client integrations' spans too ------------------------------------
# Each case in a process of its own: a global SDK provider can be set once per process, and
# whether one is set is what the cases differ in.
CAPTURE_CHILD = """
import json, os, sys
import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
import tracer, tracer.testing
from integrations import openai as spy_openai
from tests.openai_support import REPLAY

setup, cassettes, db = sys.argv[1], sys.argv[2], sys.argv[3]
if setup == "global SDK provider":
    trace.set_tracer_provider(TracerProvider())
if setup.startswith("configure"):
    tracer.configure(db=db, instrument=["openai"])
else:
    spy_openai.instrument()
client = openai.OpenAI(api_key="test", max_retries=0)

@tracer.trace_llm(model="gpt-4o-mini")
def answer(question):
    with REPLAY.use_cassette(os.path.join(cassettes, "test_chat_completion_with_content.yaml")):
        reply = client.chat.completions.create(model="gpt-4o-mini",
                                               messages=[{"role": "user", "content": question}])
    with REPLAY.use_cassette(os.path.join(cassettes, "test_embeddings_no_content.yaml")):
        client.embeddings.create(input="This is a test for embeddings", model="text-embedding-3-small")
    return reply.choices[0].message.content

private = tracer.testing.new_tracer_provider() if setup.endswith("private provider") else None
with tracer.testing.capture_spans(private) as spans:
    answer("Say this is a test")
print(json.dumps({
    "global_is_sdk": isinstance(trace.get_tracer_provider(), TracerProvider),
    "spans": [{"name": s.name, "scope": s.instrumentation_scope.name, "id": s.context.span_id,
               "trace": s.context.trace_id, "parent": s.parent.span_id if s.parent else None,
               "attributes": dict(s.attributes)} for s in spans]}))
"""


@pytest.mark.parametrize(
    "setup, global_is_sdk",
    [
        ("no global provider", False),
        ("global SDK provider", True),
        ("configure", True),
        ("configure, private provider", True),  # capture_spans(new_tracer_provider()) after configure()
    ],
)
def test_capture_spans_sees_the_openai_integration(tmp_path: Path, setup: str, global_is_sdk: bool) -> None:
    from .openai_support import REPO, cassettes_dir

    env = {**os.environ, "SPYGLASS_RAISE_INTERNAL_ERRORS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CAPTURE_CHILD, setup, str(cassettes_dir()), str(tmp_path / "store.duckdb")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["global_is_sdk"] is global_is_sdk
    spans = out["spans"]
    [decorated] = [s for s in spans if s["scope"] == "spyglass"]
    client_spans = {
        s["attributes"][A.GEN_AI_OPERATION_NAME]: s for s in spans if s["scope"] == "spyglass.integrations.openai"
    }
    assert len(spans) == 3 and set(client_spans) == {A.OP_CHAT, A.OP_EMBEDDINGS}, [s["name"] for s in spans]
    assert decorated["parent"] is None
    for span in client_spans.values():
        assert (span["parent"], span["trace"]) == (decorated["id"], decorated["trace"])
    chat = client_spans[A.OP_CHAT]["attributes"]  # from the recording
    assert chat[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert (chat[A.GEN_AI_USAGE_INPUT_TOKENS], chat[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 5)
    assert client_spans[A.OP_EMBEDDINGS]["attributes"][A.GEN_AI_USAGE_INPUT_TOKENS] == 6


def test_openai_instrumented_before_the_block_is_captured_in_it(spans) -> None:
    """In-process, as in a user's test suite: ``instrument()`` once, ``capture_spans()`` per test."""
    import openai

    from integrations import openai as spy_openai

    from .openai_support import REPLAY, USER_ONLY_PROMPT, cassettes_dir

    spy_openai.instrument()
    try:
        client = openai.OpenAI(api_key="test", max_retries=0)
        with REPLAY.use_cassette(str(cassettes_dir() / "test_chat_completion_with_content.yaml")):
            with tracer.span("pipeline"):
                client.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
    finally:
        spy_openai.uninstrument()
    pipeline = spans.one("pipeline")
    [chat] = spans.children(pipeline)
    assert chat.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 12
