"""A store of conversations for the session tests, written by the real tracer: each turn is
one call of a support bot's pipeline (``@trace_step`` around a retriever, a ``@trace_llm``
answer with its usage and a ``@trace_postprocess`` guard), the session and user set with
``tracer.trace_attributes`` as the README says.

Traces in the order they start:

1. ``s-support-42`` (user ``u-7``), turn 1: grounded (an evaluation ``grounded``, 0.93).
2. ``s-support-42`` turn 2: a suspected hallucination (an evaluation ``hallucination``).
3. ``s-single`` (user ``u-9``), its only turn: modified by a PII redactor.
4. ``s-support-42`` turn 3: blocked by the secret filter (its answer was grounded, before).
5. ``s-support-42`` turn 4: the model call fails (an error, no answer).
6. ``ping``: no session at all.

So ``s-support-42`` started first but was active last: it is listed first.
Grounding results are written with ``Store.add_evaluations`` in the shape the check reports
(``_viewer_store.add_grounding`` does the same), the export-time check is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tracer
from tracer import attributes as A

from . import _viewer_store as vs

SESSION, USER = "s-support-42", "u-7"
SINGLE, SINGLE_USER = "s-single", "u-9"
KB = [
    {"id": "kb-battery", "content": "The X2 battery lasts 12 hours on a full charge.", "score": 0.9},
    {"id": "kb-charging", "content": "The X2 charges fully in 2 hours with the bundled adapter.", "score": 0.8},
]
BLOCKED_TEXT = "Sorry, I can't share that."
REDACTED_TEXT = "We will call you back at [redacted]."
ERROR_MESSAGE = "the model timed out"


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str  # what the model said (before post-processing)
    grounding: str | None = None  # the evaluation's label, if any
    verdict: str = "pass"  # the guard's decision: pass | block | modify
    fails: bool = False  # the model call raises

    @property
    def received(self) -> str:
        """What the user got."""
        return {"block": BLOCKED_TEXT, "modify": REDACTED_TEXT}.get(self.verdict, self.answer)


TURNS = [
    Turn("How long does the X2 battery last?", "The X2 battery lasts 12 hours on a full charge.", "grounded"),
    Turn("Can I charge it faster?", "Yes: the X2 charges fully in 5 minutes with any USB cable.", "hallucination"),
    Turn("What is the admin password of the shop?", "The admin password is hunter2.", "grounded", verdict="block"),
    Turn("Where is my order 48213?", "", fails=True),
]
SINGLE_TURN = Turn("Call me back on 555-0199, please.", "We will call you back at 555-0199.", verdict="modify")


@tracer.trace_retriever(name="search_kb")
def _search(question: str) -> list[dict]:
    return KB


def _answer(turn: Turn, number: int) -> str:
    @tracer.trace_llm(name="answer", model="gpt-4o-mini", provider="openai")
    def answer(question: str, docs: list[dict]) -> str:
        tracer.record_usage(input_tokens=100 * number, output_tokens=20, cost_usd=0.001 * number)
        if turn.fails:
            raise TimeoutError(ERROR_MESSAGE)
        return turn.answer

    return answer(turn.question, _search(turn.question))


@tracer.trace_postprocess(name="guard")
def _guard(text: str, verdict: str) -> str:
    if verdict == "block":
        tracer.record_decision("secret_filter", verdict="block", reason="a password", before=text, after=BLOCKED_TEXT)
        return BLOCKED_TEXT
    if verdict == "modify":
        tracer.record_decision(
            "pii_redactor", verdict="modify", reason="a phone number", before=text, after=REDACTED_TEXT
        )
        return REDACTED_TEXT
    tracer.record_decision("secret_filter", verdict="pass", reason="nothing secret")
    return text


def _turn(turn: Turn, number: int) -> None:
    @tracer.trace_step(name="support_bot")
    def support_bot(question: str) -> str:
        return _guard(_answer(turn, number), turn.verdict)

    try:
        support_bot(turn.question)
    except TimeoutError:
        pass  # the app shows its own error page; the trace records it


def build(path: Path | str) -> list[str]:
    """Write the traces into a new store at ``path`` (a DuckDB file or a PostgreSQL URL);
    returns the trace ids of ``s-support-42``'s turns, oldest first."""
    with vs.no_export_grounding():
        tracer.configure(db=path)
        for number, turn in enumerate(TURNS, start=1):
            if number == 3:
                with tracer.trace_attributes(session_id=SINGLE, user_id=SINGLE_USER):
                    _turn(SINGLE_TURN, 1)
            with tracer.trace_attributes(session_id=SESSION, user_id=USER):
                _turn(turn, number)
        with tracer.span("ping", kind=A.SPAN_TYPE_STEP, input="ping") as s:
            s.set_output("pong")
        assert tracer.flush()
        ours = [str(t["trace_id"]) for t in tracer.Store(path).session_turns(SESSION)]
        _add_grounding(path, ours)
    return ours


def _add_grounding(path: Path | str, ids: list[str]) -> None:
    rows = []
    for trace_id, turn in zip(ids, TURNS):
        if turn.grounding is None:
            continue
        supported = turn.grounding != "hallucination"
        score = 0.93 if supported else 0.2
        sentence = {
            "text": turn.answer,
            "start": 0,
            "end": len(turn.answer),
            "supported": supported,
            "score": score,
            "best_document_id": "kb-battery" if supported else "kb-charging",
        }
        rows.append(
            {
                "trace_id": trace_id,
                "span_id": vs.llm_span(path, trace_id),
                "name": "grounding",
                "label": turn.grounding,
                "score": score,
                "explanation": "every sentence is supported" if supported else "1 of 1 sentences unsupported",
                "details": vs.grounding_report([sentence], turn.grounding, score),
            }
        )
    tracer.Store(path).add_evaluations(rows)
