"""The hot paths' work, counted rather than timed (CI-safe: a count does not depend on the
machine). Each budget is what the code does today (bench/bench_openai.py and
bench_decorators.py measure the time; docs/performance.md has the figures): a change that
does more work per call, per chunk or per read fails here and has to raise the budget in
plain sight. A change that does less should lower it.

Counted with ``sys.setprofile``: Python-level calls into Spyglass's own modules (``tracer``,
``integrations``; the libraries' own calls are not ours to budget), calls of the SDK span's
``set_attribute`` / ``set_attributes`` (each call takes the span's lock and cleans every value
given), and JSON encodes (``json.JSONEncoder.encode``)."""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import tracer
from integrations import openai as spy_openai
from tracer import attributes as A

from . import _viewer_store as vs
from ._recorded import event_stream
from .openai_support import USER_ONLY_PROMPT, chat_chunks, chat_completion, clients, http, json_response

REPO = Path(__file__).resolve().parent.parent
OURS = (str(REPO / "tracer") + "/", str(REPO / "integrations") + "/")

# Budgets: today's counts. Lower them when a change does less; never raise one silently.
OPENAI_CALL_OUR_CALLS = 215  # measured 211 (openai 3.60): a little room for client versions
OPENAI_CALL_SET_ATTRIBUTE = 0  # every attribute goes in a batch...
OPENAI_CALL_SET_ATTRIBUTES = 2  # ...the input content once the span started, the response at the end
OPENAI_CALL_JSON_ENCODES = 3  # input messages (input.value reuses them), output messages, parameters
STREAM_CHUNK_OUR_CALLS = 3  # the proxy's __next__, Invocation.chunk, the state's add
TRACE_LLM_SET_ATTRIBUTE = 0
TRACE_LLM_SET_ATTRIBUTES = 2
GET_TRACE_STATEMENTS = (
    2  # the summary, then every row of the trace (spans, documents, decisions, events, evaluations, annotations)
)


class Work:
    def __init__(self) -> None:
        self.ours = 0
        self.ours_by: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code.co_filename.startswith(OURS):
            self.ours += 1
            self.ours_by[f"{Path(code.co_filename).name}:{code.co_name}"] += 1
        name = code.co_name
        if name in ("set_attribute", "set_attributes") and "opentelemetry/sdk/trace" in code.co_filename:
            self.calls[name] += 1
        elif name == "encode" and code.co_filename.endswith("json/encoder.py") and _called_by_us(frame):
            self.calls["json.encode"] += 1  # ours only: the client and the mock server encode too


def _called_by_us(frame: FrameType) -> bool:
    caller = frame.f_back  # encoder.encode, from us or from json.dumps called by us
    for _ in range(2):
        if caller is None:
            return False
        if caller.f_code.co_filename.startswith(OURS):
            return True
        caller = caller.f_back
    return False


@contextmanager
def counting() -> Iterator[Work]:
    work = Work()
    previous = sys.getprofile()
    sys.setprofile(work.profile)
    try:
        yield work
    finally:
        sys.setprofile(previous)


def _counted(fn: Callable[[], Any], warmups: int = 3) -> Work:
    for _ in range(warmups):  # caches filled (client attributes, secret-key answers, prices)
        fn()
    with counting() as work:
        fn()
    return work


@pytest.fixture
def provider() -> TracerProvider:
    """A provider of the test's own, with the one Spyglass processor an app has: the process's
    global provider carries one more processor for every test that configured tracing before."""
    return tracer.testing.new_tracer_provider()


@pytest.fixture
def instrumented(provider: TracerProvider) -> Iterator[None]:
    spy_openai.instrument()  # spans on the provider capture_spans(provider) routes them to
    try:
        yield
    finally:
        spy_openai.uninstrument()


def test_an_openai_call_sets_its_attributes_in_two_batches_and_encodes_three_values(
    instrumented: None, provider: TracerProvider
) -> None:
    sync, _ = clients(lambda request: json_response(200, chat_completion()))
    with tracer.testing.capture_spans(provider) as spans:
        work = _counted(lambda: sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT))
    assert len(spans) == 4 and A.GEN_AI_OUTPUT_MESSAGES in (spans[-1].attributes or {})  # content captured
    assert work.calls["set_attribute"] == OPENAI_CALL_SET_ATTRIBUTE, work.calls
    assert work.calls["set_attributes"] == OPENAI_CALL_SET_ATTRIBUTES, work.calls
    assert work.calls["json.encode"] == OPENAI_CALL_JSON_ENCODES, work.calls
    assert work.ours <= OPENAI_CALL_OUR_CALLS, (work.ours, work.ours_by.most_common())


def test_a_stream_chunk_costs_three_calls_of_ours(instrumented: None, provider: TracerProvider) -> None:
    def stream(n: int) -> Callable[[], None]:
        frames = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chat_chunks(n)] + [b"data: [DONE]\n\n"]
        sync, _ = clients(lambda request: event_stream(http, frames))

        def run() -> None:
            for _ in sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True):
                pass

        return run

    with tracer.testing.capture_spans(provider):
        short, long = _counted(stream(5)), _counted(stream(45))
    per_chunk = (long.ours - short.ours) / 40
    assert per_chunk <= STREAM_CHUNK_OUR_CALLS, per_chunk
    # Nothing is set on the span per chunk: the stream's attributes go in one batch at the end.
    assert long.calls == short.calls, (long.calls, short.calls)


def test_trace_llm_sets_its_attributes_in_two_batches(provider: TracerProvider) -> None:
    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, Any]]) -> str:
        return "Water boils at about 70 degrees Celsius there."

    docs = [{"id": "d1", "content": "Water boils at about 70 degrees Celsius on Everest."}]
    with tracer.testing.capture_spans(provider) as spans:
        work = _counted(lambda: answer("At what temperature does water boil on Everest?", docs))
    assert A.GEN_AI_OUTPUT_MESSAGES in (spans[-1].attributes or {})
    assert work.calls["set_attribute"] == TRACE_LLM_SET_ATTRIBUTE, work.calls
    assert work.calls["set_attributes"] <= TRACE_LLM_SET_ATTRIBUTES, work.calls


class _CountingConnection:
    def __init__(self, con: Any, log: list[str]) -> None:
        self._con, self._log = con, log

    def execute(self, sql: str, *args: Any) -> Any:
        self._log.append(sql)
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_get_trace_runs_two_statements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spyglass.duckdb"
    ids = vs.build(path)
    store = tracer.Store(path)
    opened = tracer.Store.connect

    log: list[str] = []

    @contextmanager
    def connect(self: tracer.Store) -> Iterator[Any]:
        with opened(self) as con:
            yield _CountingConnection(con, log)

    monkeypatch.setattr(tracer.Store, "connect", connect)
    trace = store.get_trace(ids["rag_pipeline"])
    assert trace is not None and trace["spans"]
    assert len(log) == GET_TRACE_STATEMENTS, log
