"""What the user received (tracer/_delivered.py): the rule the viewer and `spyglass export` share."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from tracer import _delivered as D
from tracer import attributes as A

T0 = _dt.datetime(2026, 12, 1, 12, 0, 0)


def _span(sid: str, parent: str | None, kind: str, ms: int, output: str | None = None) -> dict[str, Any]:
    attrs = {A.OI_OUTPUT_VALUE: output} if output is not None else {}
    return {
        "span_id": sid,
        "parent_span_id": parent,
        "span_type": kind,
        "start_time": T0 + _dt.timedelta(milliseconds=ms),
        "attributes": attrs,
    }


def _decision(verdict: str, span: str, ms: int, before: str | None = None, after: str | None = None) -> dict[str, Any]:
    return {
        "name": "guard",
        "verdict": verdict,
        "span_id": span,
        "time": T0 + _dt.timedelta(milliseconds=ms),
        "before_text": before,
        "after_text": after,
    }


def test_a_guard_after_the_answer_applies_to_the_last_answer_only_not_to_a_query_rewrite() -> None:
    spans = [
        _span("r", None, "step", 0),
        _span("rewrite", "r", "llm", 1),
        _span("answer", "r", "llm", 5),
        _span("g", "r", "postprocess", 9),
    ]
    result = D.of_trace([_decision("block", "g", 10, after="Sorry.")], spans)
    assert (result.kind, result.received) == (D.BLOCKED, "Sorry.")
    assert D.affected(result, spans, {"rewrite": "returns policy", "answer": "Mail jane@x.com"}) == {"answer"}


def test_the_before_text_names_the_answer_judged() -> None:
    spans = [
        _span("r", None, "step", 0),
        _span("a1", "r", "llm", 1),
        _span("a2", "r", "llm", 5),
        _span("g", "r", "postprocess", 9),
    ]
    result = D.of_trace([_decision("modify", "g", 10, before="first answer", after="fixed")], spans)
    assert D.affected(result, spans, {"a1": "first answer", "a2": "second"}) == {"a1"}


def test_a_guard_that_wraps_the_call_applies_to_the_call_inside_it_not_to_a_judge_after_it() -> None:
    spans = [_span("g", None, "postprocess", 0), _span("answer", "g", "llm", 1), _span("judge", "g", "llm", 5)]
    result = D.of_trace([_decision("block", "g", 8, after="Sorry.")], spans)
    assert D.affected(result, spans, {"answer": "Mail jane@x.com", "judge": "UNSAFE"}) == {"answer"}


def test_a_judge_inside_a_guard_after_the_answer_is_not_the_answer() -> None:
    spans = [
        _span("r", None, "step", 0),
        _span("a", "r", "llm", 1),
        _span("g", "r", "postprocess", 5),
        _span("j", "g", "llm", 6),
        _span("late", "r", "llm", 9),
    ]
    result = D.of_trace([_decision("block", "g", 7)], spans)
    assert D.affected(result, spans, {"a": "x", "j": "no", "late": "y"}) == {"a"}


def test_a_decision_recorded_by_the_pipeline_step_applies_to_the_answer_before_it() -> None:
    spans = [_span("r", None, "step", 0), _span("a", "r", "llm", 1), _span("b", "r", "llm", 20)]
    result = D.of_trace([_decision("modify", "r", 10, after="clean")], spans)
    assert D.affected(result, spans, {"a": "raw", "b": "later"}) == {"a"}


def test_a_block_is_never_left_looking_delivered() -> None:
    spans = [_span("a", None, "llm", 5)]
    result = D.of_trace([_decision("block", "elsewhere", 1)], spans)  # the guard's span is in no trace we hold
    assert D.affected(result, spans, {"a": "text"}) == {"a"}


def test_what_was_received_is_never_the_judged_text() -> None:
    original = "Returns within 30 days. Mail jane.doe@example.com."
    # A check that blocks and hands its input back: nothing says what the user got instead.
    echo = [_span("g", None, "postprocess", 0, output=original)]
    assert D.of_trace([_decision("block", "g", 1, before=original)], echo).received is None
    assert D.of_trace([_decision("block", "g", 1)], echo).received is None  # no before text: cannot tell
    assert D.of_trace([_decision("block", "g", 1)], echo, [original]).received is None  # it is the answer
    # A guard that returns its replacement without recording it: that is what was received.
    replaced = [_span("g", None, "postprocess", 0, output="Sorry.")]
    assert D.of_trace([_decision("block", "g", 1, before=original)], replaced).received == "Sorry."
    assert D.of_trace([_decision("modify", "g", 1)], replaced).received == "Sorry."
    assert D.of_trace([_decision("block", "g", 1)], replaced, [original]).received == "Sorry."
    # pass and flag deliver the answer as it was.
    assert D.of_trace([_decision("pass", "g", 1), _decision("flag", "g", 2)], echo) == D.Delivered(D.DELIVERED)
