"""Telemetry never breaks the user's call: an internal error is logged once per kind and
swallowed in production, and raised under test. Plus a check on where attribute names live."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import Span as SDKSpan

import tracer
from tracer import _call, _guard
from tracer._guard import guard, guarded, set_raise_internal_errors

REPO = Path(__file__).resolve().parent.parent


class InternalBug(RuntimeError):
    """Stands for a bug in Spyglass's own code."""


class UserError(Exception):
    pass


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise InternalBug("bug in telemetry")


@pytest.fixture
def production() -> Iterator[None]:
    """Internal errors swallowed, as for users; the once-per-kind memory starts empty."""
    set_raise_internal_errors(False)
    _guard.reset_reported()
    yield
    _guard.reset_reported()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "spyglass" and r.levelno >= logging.WARNING]


@tracer.trace_llm
def answer(question: str) -> str:
    return f"answer to {question}"


@tracer.trace_llm
def failing(question: str) -> str:
    raise UserError(question)


@tracer.trace_step
def stream(n: int):
    received = []
    for i in range(n):
        received.append((yield i))
    return received


@tracer.trace_step
async def astream(n: int):
    for i in range(n):
        got = yield i
        if got is not None:
            yield f"got {got}"


def _exercise() -> None:
    """Every calling convention, once: values and user errors must come through untouched."""
    assert answer("q") == "answer to q"
    with pytest.raises(UserError) as info:
        failing("mine")
    assert info.value.args == ("mine",)
    gen = stream(2)
    assert next(gen) == 0
    assert gen.send("a") == 1
    with pytest.raises(StopIteration) as stop:
        gen.send("b")
    assert stop.value.value == ["a", "b"]
    with tracer.span("manual") as s:
        s.set_output("out")
    tracer.record_decision("d", "pass")
    tracer.record_usage(input_tokens=1, output_tokens=1)


@pytest.mark.spans_left_open  # when Span.end is broken
@pytest.mark.parametrize(
    "target, attribute",
    [
        (_call, "to_text"),  # serialisation of inputs and outputs
        (SDKSpan, "set_attribute"),  # the span itself
        (SDKSpan, "add_event"),  # errors, decisions, closed streams
        (SDKSpan, "end"),
    ],
)
def test_internal_errors_never_reach_user_code(spans, production, caplog, monkeypatch, target, attribute) -> None:
    monkeypatch.setattr(target, attribute, _explode)
    with caplog.at_level(logging.DEBUG, logger="spyglass"):
        _exercise()
        first = _warnings(caplog)
        caplog.clear()
        _exercise()
        second = _warnings(caplog)
    assert first, "the first internal error of a kind is logged"
    assert all("internal error" in message for message in first)
    assert len(first) == len(set(first))  # once per kind...
    assert second == []  # ...and not again


def test_start_span_failing_runs_the_function_untraced(spans, production, monkeypatch) -> None:
    class BrokenTracer:
        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise InternalBug("no spans today")

    monkeypatch.setattr(_call, "_tracer", BrokenTracer())
    _exercise()
    assert len(spans) == 0


async def test_async_generator_untraced_still_forwards_asend(spans, production, monkeypatch) -> None:
    monkeypatch.setattr(_call, "_tracer", None)  # any use of it is an internal error
    gen = astream(3)
    assert await gen.asend(None) == 0
    assert await gen.asend("x") == "got x"
    await gen.aclose()
    assert len(spans) == 0


@pytest.mark.spans_left_open  # the error leaves Spec.start before the span is handed over
def test_under_test_internal_errors_propagate(spans, monkeypatch) -> None:
    monkeypatch.setattr(_call, "to_text", _explode)
    with pytest.raises(InternalBug):
        answer("q")


def test_guard_only_swallows_exceptions(production) -> None:
    with guard("test kind"):
        raise InternalBug("swallowed")
    with pytest.raises(KeyboardInterrupt), guard("test kind"):
        raise KeyboardInterrupt


def test_guarded_returns_the_default(production, caplog) -> None:
    @guarded("test guarded", default=-1)
    def compute(x: int) -> int:
        """Doc."""
        return 1 // x

    assert compute(1) == 1
    with caplog.at_level(logging.WARNING, logger="spyglass"):
        assert compute(0) == -1
    assert "test guarded" in caplog.text
    assert compute.__name__ == "compute" and compute.__doc__ == "Doc."
    set_raise_internal_errors(True)
    with pytest.raises(ZeroDivisionError):
        compute(0)


# --- attribute names live in one module ----------------------------------------------------------


def test_no_gen_ai_literal_outside_the_attributes_module() -> None:
    literal = re.compile(r"""["']gen_ai\.""")
    offenders = []
    for package in ("tracer", "integrations", "viewer"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "tracer" / "attributes.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if literal.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_check_above_would_catch_one(tmp_path: Path) -> None:
    line = 'span.set_attribute("gen_ai.request.model", model)'
    assert re.search(r"""["']gen_ai\.""", line)
