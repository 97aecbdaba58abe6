"""A small store for the viewer tests, written by the real tracer (decorators, ``tracer.span``,
``record_decision``, ``record_usage``), so the viewer is tested on what users' apps write.

Traces, oldest first:

- ``rag_pipeline``: a retriever with 3 documents (d1 quoted exactly in the prompt, d2 with
  other case and white space, d3 not at all), an LLM span with GenAI messages, system
  instructions, tool definitions, template and variables, an output with a tool call, and a
  guardrail that passes one check and blocks another with a before/after text.
- ``xss_pipeline``: a decorated LLM whose output is HTML (``<script>``, ``<b>``), flagged.
- ``slow_step``: no LLM, takes >= 200 ms.
- ``failing_pipeline``: the LLM call raises.

Grounding results (``evaluations`` rows in the shape ``tracer.grounding`` reports, written
with ``Store.add_evaluations``): the rag answer is grounded in d1; the xss answer, which has
no documents, is a suspected hallucination with no supporting document.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tracer
from tracer import attributes as A

if TYPE_CHECKING:  # the store builders above run without Streamlit; the app helpers need it
    import pytest
    from streamlit.testing.v1 import AppTest

DOCS = [
    {
        "id": "d1",
        "content": "Spyglass stores traces in a local DuckDB file.",
        "score": 0.92,
        "metadata": {"source": "README"},
    },
    {
        "id": "d2",
        "content": "The viewer binds to 127.0.0.1 by default.",
        "score": 0.81,
        "metadata": {"source": "docs/security.md"},
    },
    {"id": "d3", "content": "Bananas are an excellent source of potassium.", "score": 0.12, "metadata": {}},
]
QUESTION = "Where does Spyglass keep its traces?"
SYSTEM = "Answer only from the context. Cite document ids."
ANSWER = "Spyglass writes its traces to a local DuckDB file [d1]."
BLOCKED_BEFORE = "Sure! The admin password is hunter2."
BLOCKED_AFTER = "[answer withheld by the secret filter]"
XSS_OUTPUT = "<script>window.__spyglass_pwned = 1</script><b>bold claim</b> and <i>more</i>"
ERROR_MESSAGE = "upstream model timed out"
INPUT_MESSAGES = [
    {
        "role": "user",
        "parts": [
            {
                "type": "text",
                "content": (
                    f"Context:\n[d1] {DOCS[0]['content']}\n[d2] the  VIEWER binds to\n127.0.0.1  BY DEFAULT.\n\n"
                    f"Question: {QUESTION}"
                ),
            }
        ],
    },
]
OUTPUT_MESSAGES = [
    {
        "role": "assistant",
        "finish_reason": "tool_calls",
        "parts": [
            {"type": "text", "content": ANSWER},
            {"type": "tool_call", "id": "call_7", "name": "lookup_term", "arguments": {"term": "DuckDB"}},
        ],
    }
]
TOOLS = [
    {
        "type": "function",
        "name": "lookup_term",
        "description": "Look a term up in the glossary",
        "parameters": {"type": "object", "properties": {"term": {"type": "string"}}},
    }
]
TEMPLATE = "Context:\n{context}\n\nQuestion: {question}"


@tracer.trace_retriever(name="vector_search")
def retrieve(query: str) -> list[dict]:
    return DOCS


def chat(question: str, docs: list[dict]) -> str:
    """An LLM call as a provider integration records it: GenAI message attributes."""
    attrs = {
        A.GEN_AI_OPERATION_NAME: A.OP_CHAT,
        A.GEN_AI_REQUEST_MODEL: "gpt-4o",
        A.GEN_AI_PROVIDER_NAME: "openai",
        A.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        A.GEN_AI_REQUEST_MAX_TOKENS: 256,
        A.PROMPT_VERSION: "qa-v2",
        A.PROMPT_TEMPLATE: TEMPLATE,
        A.PROMPT_VARIABLES: json.dumps({"question": question}),
        A.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": SYSTEM}]),
        A.GEN_AI_TOOL_DEFINITIONS: json.dumps(TOOLS),
        A.GEN_AI_INPUT_MESSAGES: json.dumps(INPUT_MESSAGES),
        A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.25,
    }
    with tracer.span("chat gpt-4o", kind=A.SPAN_TYPE_LLM, attributes=attrs) as s:
        tracer.record_usage(input_tokens=120, output_tokens=30, cost_usd=0.002)
        s.set_attribute(A.GEN_AI_OUTPUT_MESSAGES, json.dumps(OUTPUT_MESSAGES))
        s.set_attribute(A.GEN_AI_RESPONSE_FINISH_REASONS, ["tool_calls"])
    return ANSWER


@tracer.trace_postprocess(name="guardrail")
def guard(text: str) -> str:
    tracer.record_decision("pii_filter", verdict="pass", reason="no personal data")
    tracer.record_decision(
        "secret_filter", verdict="block", reason="mentions a password", before=BLOCKED_BEFORE, after=BLOCKED_AFTER
    )
    return BLOCKED_AFTER


@tracer.trace_step(name="rag_pipeline")
def rag(question: str) -> str:
    return guard(chat(question, retrieve(question)))


@tracer.trace_llm(model="gpt-4o-mini", provider="openai", prompt_version="qa-v1")
def html_answer(question: str) -> str:
    tracer.record_usage(input_tokens=12, output_tokens=8, cost_usd=0.00001)
    return XSS_OUTPUT


@tracer.trace_postprocess(name="toxicity_check")
def flag(text: str) -> str:
    tracer.record_decision("toxicity", verdict="flag", reason="markup in answer", score=0.7)
    return text


@tracer.trace_step(name="xss_pipeline")
def xss(question: str) -> str:
    return flag(html_answer(question))


@tracer.trace_step(name="slow_step")
def slow() -> str:
    time.sleep(0.2)
    return "done"


@tracer.trace_llm(model="gpt-4o-mini", provider="openai", prompt_version="qa-v1")
def broken_llm(question: str) -> str:
    raise TimeoutError(ERROR_MESSAGE)


@tracer.trace_step(name="failing_pipeline")
def failing(question: str) -> str:
    return broken_llm(question)


@contextmanager
def no_export_grounding() -> Iterator[None]:
    """The viewer tests write their own grounding results: the export-time check (its own
    tests cover it) stays off, so no ``evaluate grounding`` span or row depends on its model."""
    before = os.environ.get("SPYGLASS_GROUNDING")
    os.environ["SPYGLASS_GROUNDING"] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SPYGLASS_GROUNDING", None)
        else:
            os.environ["SPYGLASS_GROUNDING"] = before


def build(path: Path) -> dict[str, str]:
    """Write the traces into a new store at ``path``; returns trace ids by root name."""
    with no_export_grounding():
        return _build(path)


def _build(path: Path) -> dict[str, str]:
    tracer.configure(db=path)
    with tracer.trace_attributes(session_id="s-rag", user_id="u-alice", tags=["prod", "beta"]):
        rag(QUESTION)
    with tracer.trace_attributes(session_id="s-xss", user_id="u-bob", tags=["prod"]):
        xss("Say something bold")
    with tracer.trace_attributes(session_id="s-slow", user_id="u-bob", tags=["batch"]):
        slow()
    with tracer.trace_attributes(session_id="s-fail", user_id="u-carol", tags=["prod"]):
        try:
            failing("Will this time out?")
        except TimeoutError:
            pass
    add_trace(path, "warmup_probe")  # one more for pagination: five traces in all
    found = ids(path)
    add_grounding(path, found)
    return found


def grounding_report(sentences: list[dict], label: str, score: float) -> dict:
    """A report dict as ``tracer.grounding.check(...).to_dict()`` gives it."""
    return {"label": label, "score": score, "sentences": sentences}


def llm_span(path: Path, trace_id: str) -> str:
    data = tracer.Store(path).get_trace(trace_id)
    assert data is not None
    return next(str(s["span_id"]) for s in data["spans"] if s["span_type"] == A.SPAN_TYPE_LLM)


def add_grounding(path: Path, found: dict[str, str]) -> None:
    rag_report = grounding_report(
        [{"text": ANSWER, "start": 0, "end": len(ANSWER), "supported": True, "score": 0.93, "best_document_id": "d1"}],
        "grounded",
        0.93,
    )
    xss_report = grounding_report(
        [
            {
                "text": XSS_OUTPUT,
                "start": 0,
                "end": len(XSS_OUTPUT),
                "supported": False,
                "score": 0.0,
                "best_document_id": None,
                "unsupported_entities": ["bold"],
            }
        ],
        "hallucination",
        0.0,
    )
    tracer.Store(path).add_evaluations(
        [
            {
                "trace_id": found["rag_pipeline"],
                "span_id": llm_span(path, found["rag_pipeline"]),
                "name": "grounding",
                "label": "grounded",
                "score": 0.93,
                "explanation": "every sentence is supported",
                "details": rag_report,
            },
            {
                "trace_id": found["xss_pipeline"],
                "span_id": llm_span(path, found["xss_pipeline"]),
                "name": "grounding",
                "label": "hallucination",
                "score": 0.0,
                "explanation": "1 of 1 sentences unsupported",
                "details": xss_report,
            },
        ]
    )


def add_trace(path: Path, name: str) -> None:
    """One more trace, written the way a running app would (the viewer's live refresh)."""
    with no_export_grounding():
        tracer.configure(db=path)
    with tracer.span(name, kind=A.SPAN_TYPE_STEP, input="ping") as s:
        s.set_output("pong")
    assert tracer.flush()


def ids(path: Path) -> dict[str, str]:
    return {str(t["root_name"]): str(t["trace_id"]) for t in tracer.Store(path).list_traces(limit=100)}


# --- running the app in the tests (streamlit.testing) -----------------------------------------
def app_on(path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The viewer app on the store at ``path``."""
    from streamlit.testing.v1 import AppTest

    import viewer

    monkeypatch.setenv("SPYGLASS_DB", str(path))
    return AppTest.from_file(str(viewer.APP_PATH), default_timeout=30)


def with_charts(at: AppTest) -> AppTest:
    """The list's summary charts opened, as a click on their folded box does (they are read
    and drawn only while open)."""
    from viewer import _trace_list

    at.session_state[_trace_list.SAVED_CHARTS_KEY] = True
    return at


def run(at: AppTest, **query: str) -> AppTest:
    """One script run with these URL query parameters; fails the test on any exception."""
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- real apps: the shapes users' programs take (run in a subprocess, see build_real_apps) ----
# Each is ordinary user code: decorators, the instrumented openai client answering from a
# recorded cassette (../shared/cassettes/openai), tracer.configure(db=...) and tracer.flush().
# The export-time grounding check runs as it does for users.
KB = [
    {"id": "kb-test", "content": "The test phrase is: This is a test.", "score": 0.9},
    {"id": "kb-other", "content": "Bananas are an excellent source of potassium.", "score": 0.2},
]
CASSETTE = "test_chat_completion_with_content.yaml"  # "Say this is a test" -> "This is a test."
REAL_ANSWER = "This is a test."
REAL_TOKENS = (12, 5)  # the recorded usage: prompt_tokens, completion_tokens
BLOCKED_TEXT = "Sorry, I can't answer that."
REDACTED_TEXT = "This is a [redacted]."
ORDER_RESULT = "Order 48213: shipped on Monday, arrives Friday."
KB_SERVICE, CHAT_SERVICE, OPENINFERENCE_SERVICE = "kb-app", "chat-app", "oi-app"


def _openinference_app(path: Path, cassettes: Path) -> None:
    """A RAG step traced by OpenInference's openai instrumentation (installed from PyPI), the
    retrieval by our decorator: the LLM span is written in OpenInference's keys."""
    import openai
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    from .openai_support import REPLAY

    provider = TracerProvider()
    tracer.configure(db=path, service_name=OPENINFERENCE_SERVICE, tracer_provider=provider)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    client = openai.OpenAI(api_key="test", max_retries=0)

    @tracer.trace_retriever
    def search_kb(query: str) -> list[dict]:
        return KB

    @tracer.trace_step
    def oi_rag(question: str) -> str:
        docs = search_kb(question)
        with REPLAY.use_cassette(str(cassettes / CASSETTE)):
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "Context:\n" + "\n".join(d["content"] for d in docs)},
                    {"role": "user", "content": "Say this is a test"},
                ],
            )
        return reply.choices[0].message.content or ""

    oi_rag("What is the test phrase?")
    instrumentor.uninstrument()
    assert tracer.flush()


def _real_apps(path: Path, cassettes: Path, service: str) -> None:
    """The programs of one service, in the order their traces start.

    ``kb-app``: ``search_kb`` -> ``answer_joined`` -> ``length_guard`` is the README pattern
    with nothing enclosing it and the documents built into the prompt text before the call
    (three traces, no context in the answer's); ``search_kb`` -> ``answer`` -> ``length_guard`` the same with
    the documents passed as an argument (the answer's context, but its guard elsewhere);
    ``rag`` the README pattern inside ``@tracer.trace_step`` (one trace); ``rag_blocked`` and
    ``rag_redacted`` with a guard that blocks or changes the answer; ``order_status`` an answer
    from a tool result. ``chat-app``: ``answer_from_memory``, an answer with no retrieval in
    its service (the kb-app's, in the seconds before, is not its own). ``oi-app``: ``oi_rag``,
    the LLM call traced by OpenInference (:func:`_openinference_app`).
    """
    if service == OPENINFERENCE_SERVICE:
        return _openinference_app(path, cassettes)
    import openai

    from integrations import openai as openai_integration

    from .openai_support import REPLAY

    tracer.configure(db=path, service_name=service)
    openai_integration.instrument()
    client = openai.OpenAI(api_key="test", max_retries=0)

    def ask(prompt: str) -> str:
        with REPLAY.use_cassette(str(cassettes / CASSETTE)):
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "system", "content": prompt}, {"role": "user", "content": "Say this is a test"}],
            )
        return reply.choices[0].message.content or ""

    question = "What is the test phrase?"
    if service == CHAT_SERVICE:

        @tracer.trace_llm(model="gpt-4o-mini")
        def answer_from_memory(question: str) -> str:
            return ask("Answer from what you know.")

        answer_from_memory(question)
        openai_integration.uninstrument()
        assert tracer.flush()
        return

    @tracer.trace_retriever
    def search_kb(query: str) -> list[dict]:
        return KB

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict]) -> str:
        return ask("Answer from this context:\n" + "\n".join(d["content"] for d in docs))

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer_joined(question: str, prompt: str) -> str:  # the prompt built before the call: no documents
        return ask(prompt)

    @tracer.trace_postprocess
    def length_guard(text: str) -> str:
        tracer.record_decision("length", verdict="pass", reason="short enough")
        return text

    @tracer.trace_postprocess
    def policy_guard(text: str) -> str:
        tracer.record_decision(
            "policy_filter", verdict="block", reason="the policy check failed", before=text, after=BLOCKED_TEXT
        )
        return BLOCKED_TEXT

    @tracer.trace_postprocess
    def redactor(text: str) -> str:
        after = text.replace("test", "[redacted]")
        tracer.record_decision("redact_terms", verdict="modify", reason="a listed term", before=text, after=after)
        return after

    # The README pattern with nothing enclosing it: three traces per request.
    docs = search_kb(question)
    length_guard(answer_joined(question, "Answer from this context:\n" + "\n".join(d["content"] for d in docs)))
    time.sleep(0.05)
    length_guard(answer(question, search_kb(question)))
    time.sleep(0.05)

    @tracer.trace_step
    def rag(question: str) -> str:  # the same, inside one step: one trace
        return length_guard(answer(question, search_kb(question)))

    @tracer.trace_step
    def rag_blocked(question: str) -> str:
        return policy_guard(answer(question, search_kb(question)))

    @tracer.trace_step
    def rag_redacted(question: str) -> str:
        return redactor(answer(question, search_kb(question)))

    @tracer.trace_step(kind=A.SPAN_TYPE_TOOL)
    def lookup_order(order_id: str) -> str:
        return ORDER_RESULT

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer_with_tool(question: str) -> str:
        facts = lookup_order("48213")
        tracer.record_usage(input_tokens=40, output_tokens=9)
        return "Your order shipped on Monday and arrives Friday." if "Friday" in facts else "I don't know."

    @tracer.trace_step
    def order_status(question: str) -> str:
        return answer_with_tool(question)

    for app in (rag, rag_blocked, rag_redacted):
        app(question)
    order_status("Where is my order 48213?")
    openai_integration.uninstrument()
    assert tracer.flush()


def build_real_apps(path: Path) -> dict[str, str]:
    """Run :func:`_real_apps` for each service in a fresh interpreter (its own tracer provider
    and openai patches, as a user's app has). Returns trace ids by root span name; a name
    rooting several traces (``search_kb``, ``length_guard``) maps to a list of them, oldest first."""
    import subprocess
    import sys

    from .openai_support import cassettes_dir

    folder = cassettes_dir()  # skips (fails under CI=true) when the recordings are missing
    repo = Path(__file__).resolve().parent.parent
    for service in (KB_SERVICE, CHAT_SERVICE, OPENINFERENCE_SERVICE):
        done = subprocess.run(
            [sys.executable, "-m", "tests._viewer_store", str(path), str(folder), service],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, Any] = {}
    for t in reversed(tracer.Store(path).list_traces(limit=100)):
        name, tid = str(t["root_name"]), str(t["trace_id"])
        if name in found:
            found[name] = [*(found[name] if isinstance(found[name], list) else [found[name]]), tid]
        else:
            found[name] = tid
    return found


if __name__ == "__main__":
    import sys

    _real_apps(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])


# --- reading an AppTest run ---------------------------------------------------------------
def texts(at: AppTest) -> str:
    return "\n".join([t.value for t in at.text] + [c.value for c in at.code])


def markdowns(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)
