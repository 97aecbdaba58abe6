"""A tiny RAG pipeline traced with Spyglass; run it, then look at the store.

    python examples/quickstart.py
    spyglass traces            # or: duckdb spyglass.duckdb "SELECT * FROM traces"

It runs offline: the "model" here is a stand-in function, clearly not a real LLM.
"""

from __future__ import annotations

import re

import tracer

DOCS = [
    {"id": "kb-1", "content": "Spyglass stores traces in a local DuckDB file.", "metadata": {"source": "README"}},
    {
        "id": "kb-2",
        "content": "The viewer binds to 127.0.0.1 and never renders model output as HTML.",
        "metadata": {"source": "docs/security.md"},
    },
    {"id": "kb-3", "content": "Decisions record a verdict: pass, flag, modify or block.", "metadata": {}},
]


@tracer.trace_retriever
def retrieve(query: str) -> list[dict]:
    words = set(re.findall(r"\w+", query.lower()))
    scored = [(doc, len(words & set(re.findall(r"\w+", doc["content"].lower())))) for doc in DOCS]
    return [{**doc, "score": float(score)} for doc, score in sorted(scored, key=lambda x: -x[1]) if score][:2]


@tracer.trace_llm(model="stand-in-model", provider="local", prompt_version="qa-v1")
def answer(question: str, docs: list[dict]) -> str:
    # A stand-in for a model call: echoes the best document (and, for one question,
    # makes something up, so that the store holds a hallucination to find).
    tracer.record_usage(input_tokens=40 + 10 * len(docs), output_tokens=12, cost_usd=0.00003)
    if "port" in question:
        return "The viewer listens on port 9999 by default."  # not in any document
    return docs[0]["content"] if docs else "I don't know."


@tracer.trace_postprocess
def guardrail(text: str) -> str:
    if "password" in text.lower():
        tracer.record_decision(
            "secret_filter", verdict="block", reason="mentions a password", before=text, after="[blocked]"
        )
        return "[blocked]"
    tracer.record_decision("secret_filter", verdict="pass", reason="nothing sensitive")
    return text


@tracer.trace_step(name="rag_pipeline")
def pipeline(question: str) -> str:
    return guardrail(answer(question, retrieve(question)))


def main() -> None:
    tracer.configure()  # ./spyglass.duckdb unless SPYGLASS_DB says otherwise
    questions = [
        "Where does Spyglass store traces?",
        "What does the viewer bind to?",
        "Which port does the viewer use?",
        "Which verdict can a decision record?",
    ]
    with tracer.trace_attributes(session_id="quickstart", user_id="you", tags=["example"]):
        for q in questions:
            print(f"Q: {q}\nA: {pipeline(q)}\n")
    tracer.flush()
    store = tracer.Store(tracer.default_db_path())
    print(f"{store.count_traces()} traces are in {store.path}")
    print("Look at them with:  spyglass traces   or plain SQL:  SELECT * FROM traces")


if __name__ == "__main__":
    main()
