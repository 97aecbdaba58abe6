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
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import tracer
from tracer import attributes as A

if TYPE_CHECKING:  # the store builders above run without Streamlit; the app helpers need it
    import pytest
    from streamlit.testing.v1 import AppTest

DOCS = [
    {"id": "d1", "content": "Spyglass stores traces in a local DuckDB file.", "score": 0.92,
     "metadata": {"source": "README"}},
    {"id": "d2", "content": "The viewer binds to 127.0.0.1 by default.", "score": 0.81,
     "metadata": {"source": "docs/security.md"}},
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
    {"role": "user", "parts": [{"type": "text", "content": (
        f"Context:\n[d1] {DOCS[0]['content']}\n[d2] the  VIEWER binds to\n127.0.0.1  BY DEFAULT.\n\n"
        f"Question: {QUESTION}")}]},
]
OUTPUT_MESSAGES = [{"role": "assistant", "finish_reason": "tool_calls", "parts": [
    {"type": "text", "content": ANSWER},
    {"type": "tool_call", "id": "call_7", "name": "lookup_term", "arguments": {"term": "DuckDB"}},
]}]
TOOLS = [{"type": "function", "name": "lookup_term", "description": "Look a term up in the glossary",
          "parameters": {"type": "object", "properties": {"term": {"type": "string"}}}}]
TEMPLATE = "Context:\n{context}\n\nQuestion: {question}"


@tracer.trace_retriever(name="vector_search")
def retrieve(query: str) -> list[dict]:
    return DOCS


def chat(question: str, docs: list[dict]) -> str:
    """An LLM call as a provider integration records it: GenAI message attributes."""
    attrs = {
        A.GEN_AI_OPERATION_NAME: A.OP_CHAT, A.GEN_AI_REQUEST_MODEL: "gpt-4o", A.GEN_AI_PROVIDER_NAME: "openai",
        A.GEN_AI_REQUEST_TEMPERATURE: 0.2, A.GEN_AI_REQUEST_MAX_TOKENS: 256, A.PROMPT_VERSION: "qa-v2",
        A.PROMPT_TEMPLATE: TEMPLATE, A.PROMPT_VARIABLES: json.dumps({"question": question}),
        A.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": SYSTEM}]),
        A.GEN_AI_TOOL_DEFINITIONS: json.dumps(TOOLS), A.GEN_AI_INPUT_MESSAGES: json.dumps(INPUT_MESSAGES),
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
    tracer.record_decision("secret_filter", verdict="block", reason="mentions a password",
                           before=BLOCKED_BEFORE, after=BLOCKED_AFTER)
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
    rag_report = grounding_report([{"text": ANSWER, "start": 0, "end": len(ANSWER), "supported": True,
                                    "score": 0.93, "best_document_id": "d1"}], "grounded", 0.93)
    xss_report = grounding_report([{"text": XSS_OUTPUT, "start": 0, "end": len(XSS_OUTPUT), "supported": False,
                                    "score": 0.0, "best_document_id": None, "unsupported_entities": ["bold"]}],
                                  "hallucination", 0.0)
    tracer.Store(path).add_evaluations([
        {"trace_id": found["rag_pipeline"], "span_id": llm_span(path, found["rag_pipeline"]), "name": "grounding",
         "label": "grounded", "score": 0.93, "explanation": "every sentence is supported", "details": rag_report},
        {"trace_id": found["xss_pipeline"], "span_id": llm_span(path, found["xss_pipeline"]), "name": "grounding",
         "label": "hallucination", "score": 0.0, "explanation": "1 of 1 sentences unsupported",
         "details": xss_report},
    ])


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
def app_on(path: Path, monkeypatch: "pytest.MonkeyPatch") -> "AppTest":
    """The viewer app on the store at ``path``."""
    from streamlit.testing.v1 import AppTest

    import viewer

    monkeypatch.setenv("SPYGLASS_DB", str(path))
    return AppTest.from_file(str(viewer.APP_PATH), default_timeout=30)


def run(at: "AppTest", **query: str) -> "AppTest":
    """One script run with these URL query parameters; fails the test on any exception."""
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
