"""The LangChain and LlamaIndex RAG examples run offline, as a user runs them, and what they
store is what an engineer debugging the app needs: for each answer its retrieved documents,
the prompt the framework built, the output, the guardrail's decision and the grounding
verdict; the planted hallucination is the one flagged. Then the same in a real browser.

Browser screenshots go to ``$SPYGLASS_SCREENSHOTS`` when set, else the test's tmp dir
(``docs/img/example-*.png`` come from such a run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracer

from .conftest import REPO
from .test_viewer_browser import _browser_or_skip, _panel, chromium_page, serve

sys.path.insert(0, str(REPO / "examples"))
from _offline import KB, PLANTED, QUESTIONS

EXAMPLES = {"langchain": "langchain_rag.py", "llama_index": "llamaindex_rag.py"}
TEXT = {doc_id: text for doc_id, text, _ in KB}


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    """Runs the example in a directory of its own; (name, store, what it printed)."""
    pytest.importorskip({"langchain": "langchain_core", "llama_index": "llama_index.core"}[request.param])
    folder = tmp_path_factory.mktemp(request.param)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPYGLASS_DB", "OPENAI_"))}
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / EXAMPLES[request.param])],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return request.param, folder / "spyglass.duckdb", proc.stdout


def _traces(store: tracer.Store) -> dict[str, dict[str, Any]]:
    """Each trace's detail, by the question it answered."""
    out = {}
    for summary in store.list_traces():
        detail = store.get_trace(summary["trace_id"])
        assert detail is not None
        [root] = [s for s in detail["spans"] if s["parent_span_id"] is None]
        question = json.loads(root["attributes"]["input.value"])["question"]
        out[question] = {**detail, "summary": summary}
    return out


def test_each_answer_has_context_prompt_output_decision_and_verdict(example: tuple[str, Path, str]) -> None:
    name, path, printed = example
    assert "grounding verdicts: grounded, grounded, hallucination" in printed
    assert "spyglass view" in printed
    traces = _traces(tracer.Store(path))
    assert sorted(traces) == sorted(QUESTIONS)
    for question, detail in traces.items():
        assert detail["trace"]["root_name"] == "answer_question"
        assert detail["trace"]["service_name"] == name.replace("_", "") + "-rag-example"
        [llm] = [s for s in detail["spans"] if s["span_type"] == "llm"]
        [retriever] = [s for s in detail["spans"] if s["span_type"] == "retriever"]
        # Context: the store's documents with their ids and text, on the retriever's span.
        docs = [d for d in detail["documents"] if d["span_id"] == retriever["span_id"]]
        assert len(docs) == 2 and all(d["content"] == TEXT[d["document_id"]] for d in docs)
        # Prompt: the framework's own prompt, holding the question and the documents.
        prompt = json.dumps(json.loads(llm["attributes"]["gen_ai.input.messages"]))
        assert question in prompt and all(json.dumps(TEXT[d["document_id"]])[1:-1] in prompt for d in docs)
        # Output, usage and the guardrail's verdict.
        output = json.loads(llm["attributes"]["gen_ai.output.messages"])
        assert output[0]["parts"][0]["content"] == PLANTED.get(question, output[0]["parts"][0]["content"])
        assert llm["attributes"]["gen_ai.usage.input_tokens"] > 0 < llm["attributes"]["gen_ai.usage.output_tokens"]
        assert [(d["name"], d["verdict"]) for d in detail["decisions"]] == [("tone_guard", "pass")]
        # The grounding verdict, on the model's answer: only the planted one is flagged.
        [verdict] = [e for e in detail["evaluations"] if e["name"] == "grounding"]
        assert verdict["span_id"] == llm["span_id"]
        assert verdict["label"] == ("hallucination" if question in PLANTED else "grounded"), verdict


# --- the same in a real browser --------------------------------------------------------------
@pytest.fixture(scope="module")
def served(example: tuple[str, Path, str]) -> Iterator[tuple[str, str, Path]]:
    _browser_or_skip()
    with serve(example[1]) as url:
        yield example[0], url, example[1]


@pytest.fixture(scope="module")
def page(served: tuple[str, str, Path]) -> Iterator[Any]:
    with chromium_page() as pg:
        yield pg


def test_browser_the_flagged_answer_shows_context_prompt_output_and_decision(
    served: tuple[str, str, Path], page: Any, tmp_path: Path
) -> None:
    name, url, path = served
    [question] = PLANTED
    detail = _traces(tracer.Store(path))[question]
    page.goto(f"{url}/?trace={detail['trace']['trace_id']}")
    # The detail opens on the model call; wait until its token counts are drawn.
    page.locator('[data-testid="stMetric"]').filter(has_text="input tokens").wait_for()
    page.locator(".st-key-panel-output").get_by_text("hallucination suspected").first.wait_for()
    context, prompt = _panel(page, "context"), _panel(page, "prompt")
    output, decisions = _panel(page, "output"), _panel(page, "decisions")
    assert TEXT["kb-warranty"] in context and "kb-warranty" in context and "in prompt: exact match" in context
    # LlamaIndex keeps the similarity scores; LangChain's as_retriever() drops them.
    assert ("no score" in context) == (name == "langchain") and ("score 0." in context) == (name == "llama_index")
    assert question in prompt and TEXT["kb-warranty"] in prompt
    assert PLANTED[question] in output and "numbers in no document" in output
    assert "tone_guard" in decisions and "PASS" in decisions
    assert (
        "grounding: hallucination suspected"
        in page.locator(".stMarkdown").filter(has_text="grounding:").first.inner_text()
    )
    shots = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"example-{name.replace('_', '')}-rag.png"), full_page=True)
