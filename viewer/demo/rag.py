"""The demo application: a small support-desk RAG pipeline over bundled documents.

It calls the real ``openai`` client, instrumented by ``integrations.openai``. With
``OPENAI_API_KEY`` set it talks to OpenAI (gpt-4o-mini); without one it goes to the local
stand-in in ``_standin.py``, and says so on every trace (``metadata.model_backend``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import tracer

from ._corpus import DOCUMENTS

SYSTEM_TEMPLATE = (
    "You are the support assistant of Lighthouse lamps. Answer only from the context below, "
    "cite the document id in brackets, and say so when the context does not answer.\n\n"
    "Context:\n{context}"
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up the status of an order by its number",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        },
    }
]
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Question:
    text: str
    user: str
    session: str
    prompt_version: str = "support-v2"
    stream: bool = False


QUESTIONS = [
    Question("How long is the warranty on the Lighthouse L2?", "maya", "s-1001"),
    Question("Can I use the Lighthouse outdoors when it rains?", "maya", "s-1001"),
    Question("What battery does the L2 use and how long does a charge last?", "omar", "s-1002"),
    Question("How do I reset my password? My email is jane.doe@example.com", "jane", "s-1003"),
    Question("Can you compare the L2 with the L3 Pro?", "omar", "s-1002"),
    Question("Summarize the return policy for me.", "li", "s-1004", stream=True),
    Question("What's the status of order 48213?", "li", "s-1004"),
    Question("How many brightness levels does the L2 have?", "maya", "s-1005", prompt_version="support-v1"),
]


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@tracer.trace_retriever(name="retrieve_docs", data_source="lighthouse-kb")
def retrieve(query: str, k: int = 3) -> list[dict[str, Any]]:
    """BM25 over the bundled articles."""
    docs = [_tokens(f"{d['title']} {d['content']}") for d in DOCUMENTS]
    avg = sum(map(len, docs)) / len(docs)
    df = Counter(w for d in docs for w in set(d))
    scores = []
    for doc, words in zip(DOCUMENTS, docs):
        tf = Counter(words)
        score = sum(
            math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5))
            * tf[w]
            * 2.2
            / (tf[w] + 1.2 * (0.25 + 0.75 * len(words) / avg))
            for w in set(_tokens(query))
            if w in tf
        )
        scores.append((score, doc))
    ranked = sorted(scores, key=lambda s: -s[0])[:k]
    return [
        {"id": d["id"], "content": d["content"], "score": round(s, 3), "metadata": d["metadata"]}
        for s, d in ranked
        if s > 0
    ]


@tracer.trace_step(name="build_prompt")
def build_prompt(question: str, docs: list[dict[str, Any]], budget_chars: int = 420) -> list[dict[str, str]]:
    """The prompt template, filled; documents past the budget are cut (the viewer shows which)."""
    lines, used = [], 0
    for doc in docs:
        line = f"[{doc['id']}] {doc['content']}"
        if used + len(line) > budget_chars:
            line = line[: max(0, budget_chars - used)]
        if line:
            lines.append(line)
            used += len(line)
    return [
        {"role": "system", "content": SYSTEM_TEMPLATE.format(context="\n".join(lines))},
        {"role": "user", "content": question},
    ]


@tracer.trace_step(name="lookup_order", kind="tool")
def lookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped", "eta": "Friday"}


@tracer.trace_postprocess(name="pii_filter")
def pii_filter(text: str) -> str:
    emails = re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", text)
    if emails:
        tracer.record_decision(
            "pii_filter",
            verdict="block",
            action="replace_answer",
            reason=f"answer contains {len(emails)} e-mail address(es)",
            before=text,
            after="Sorry, I can't share that here.",
        )
        return "Sorry, I can't share that here."
    tracer.record_decision("pii_filter", verdict="pass", reason="no_pii_found")
    return text


@tracer.trace_postprocess(name="citation_check")
def citation_check(text: str, docs: list[dict[str, Any]]) -> str:
    cited = set(re.findall(r"\[(kb-[\w-]+)\]", text))
    known = {d["id"] for d in docs}
    if not cited:
        tracer.record_decision("citation_check", verdict="flag", reason="no_citation")
    elif not cited <= known:
        tracer.record_decision("citation_check", verdict="flag", reason=f"cites unknown {sorted(cited - known)}")
    else:
        tracer.record_decision("citation_check", verdict="pass", reason=f"cites {sorted(cited)}", score=1.0)
    return text


class SupportBot:
    def __init__(self, client: Any, model: str) -> None:
        self.client = client
        self.model = model

    def _chat(self, messages: list[dict[str, Any]], stream: bool) -> Any:
        if not stream:
            return self.client.chat.completions.create(
                model=self.model, messages=messages, tools=TOOLS, temperature=0.2
            )
        parts = []
        with self.client.chat.completions.create(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True}
        ) as chunks:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
        return "".join(parts)

    @tracer.trace_step(name="support_answer")
    def answer(self, question: Question) -> str:
        docs = retrieve(question.text)
        messages: list[dict[str, Any]] = build_prompt(question.text, docs)
        reply = self._chat(messages, question.stream)
        if not isinstance(reply, str):
            message = reply.choices[0].message
            if message.tool_calls:
                messages.append(message.model_dump(exclude_none=True))
                for call in message.tool_calls:
                    result = lookup_order(**json.loads(call.function.arguments))
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
                message = self.client.chat.completions.create(model=self.model, messages=messages).choices[0].message
            reply = message.content or ""
        return citation_check(pii_filter(reply), docs)


def make_client() -> tuple[Any, str, str]:
    """``(client, model, backend label)``: OpenAI with a key, else the labelled local stand-in."""
    import openai

    if os.environ.get("OPENAI_API_KEY"):
        return openai.OpenAI(max_retries=0), "gpt-4o-mini", "openai"
    from ._standin import BASE_URL, handler

    http = _http_module(openai)
    client = openai.OpenAI(
        api_key="stand-in-no-key",
        base_url=BASE_URL,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=http.MockTransport(handler(http))),
    )
    return client, "gpt-4o-mini", "local stand-in (no OPENAI_API_KEY; not a real model)"


def _http_module(openai: Any) -> Any:
    """openai 3.x sends through ``httpx2``, older releases through ``httpx``."""
    try:
        import httpx2

        if issubclass(openai.DefaultHttpxClient, httpx2.Client):
            return httpx2
    except ImportError:
        pass
    import httpx

    return httpx


def run(questions: list[Question] = QUESTIONS, *, echo: bool = True) -> int:
    """Answer every question, tracing into the configured store; returns how many failed."""
    from integrations import openai as spy_openai

    was_instrumented = spy_openai.is_instrumented()
    spy_openai.instrument()
    try:
        return _ask_all(questions, echo)
    finally:
        if not was_instrumented:  # leave the openai client as we found it
            spy_openai.uninstrument()


def _ask_all(questions: list[Question], echo: bool) -> int:
    client, model, backend = make_client()
    if echo:
        print(f"model backend: {backend}")
    bot = SupportBot(client, model)
    failed = 0
    for q in questions:
        with tracer.trace_attributes(
            session_id=q.session,
            user_id=q.user,
            prompt_version=q.prompt_version,
            tags=["demo"],
            metadata={"model_backend": backend},
        ):
            try:
                reply = bot.answer(q)
            except Exception as exc:  # the demo records failures on purpose; keep going
                failed += 1
                reply = f"(failed: {type(exc).__name__})"
        if echo:
            print(f"Q: {q.text}\nA: {reply}\n")
    return failed
