"""Tracing from inside code: the ``span()`` context manager, ``record_decision`` and
``record_usage``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import trace

from . import attributes as A
from ._call import Call, Spec, llm_output, plain_output, retriever_output, set_content, tool_output, tool_span
from ._guard import guard, logger
from ._serialize import encodable, safe_str, scrub, scrub_attribute, to_text
from ._settings import Settings, settings

_OUTPUT_HOOKS = {A.SPAN_TYPE_LLM: llm_output, A.SPAN_TYPE_RETRIEVER: retriever_output, A.SPAN_TYPE_TOOL: tool_output}
_SEVERITY = {"pass": 0, "modify": 1, "flag": 2, "block": 3}
_warned_verdicts: set[str] = set()
_MAX_WARNED_VERDICTS = 100


class SpanHandle:
    """What ``with tracer.span(...) as s`` gives: set the output, input or any attribute."""

    __slots__ = ("_call", "_has_output", "_output", "_token")

    def __init__(self, call: Call) -> None:
        self._call = call
        self._token: object = None
        self._output: Any = None
        self._has_output = False

    @property
    def otel_span(self) -> trace.Span:
        return self._call.span

    def set_input(self, value: Any) -> None:
        call = self._call
        if call.ended or not call.settings.capture_content:
            return
        with guard("input capture"):
            set_content(call.span, A.OI_INPUT_VALUE, value, call.settings, A.OI_INPUT_MIME_TYPE)

    def set_output(self, value: Any) -> None:
        self._output, self._has_output = value, True

    def set_attribute(self, key: str, value: Any) -> None:
        """Set ``key`` on the span; text is scrubbed of secrets (a secret-named key hides the value)."""
        with guard("set attribute"):
            self._call.span.set_attribute(key, scrub_attribute(key, value))

    def __enter__(self) -> SpanHandle:
        self._token = self._call.attach()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        call = self._call
        call.detach(self._token)
        if exc is not None:
            call.fail(exc)
        elif self._has_output:
            call.finish(self._output)
        else:
            call.close()  # nothing to record; end without an output value

    # ``async with tracer.span(...)`` reads naturally in async code; the span is the same.
    async def __aenter__(self) -> SpanHandle:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(et, exc, tb)


def span(
    name: str, *, kind: str = A.SPAN_TYPE_STEP, input: Any = None, attributes: Mapping[str, Any] | None = None
) -> SpanHandle:
    """``with tracer.span("rerank", kind="step", input=query) as s: ...; s.set_output(x)``.

    With ``kind="tool"``, ``name`` is the tool's name and the span is ``execute_tool {name}``,
    as from :func:`trace_tool`; the output set is the tool's result (``gen_ai.tool.call.result``).
    """
    if kind not in A.OI_KIND_BY_SPAN_TYPE:
        raise ValueError(f"unknown span kind {kind!r}; expected one of {sorted(A.OI_KIND_BY_SPAN_TYPE)}")
    static = dict(attributes or {})
    if kind == A.SPAN_TYPE_TOOL:
        name = tool_span(static, name)
    spec = Spec(
        None,
        name,
        kind,
        static,
        capture_input=input is not None,
        output_hook=_OUTPUT_HOOKS.get(kind, plain_output),
    )
    return SpanHandle(spec.start((input,), {}))


def record_decision(
    name: str,
    verdict: str,
    *,
    action: str | None = None,
    reason: str | None = None,
    score: float | None = None,
    before: str | None = None,
    after: str | None = None,
) -> None:
    """Record a post-processing decision (guardrail, filter) on the current span.

    ``verdict`` is ``pass``, ``flag``, ``modify`` or ``block``. ``before``/``after`` hold the
    text when the step changed it (subject to content capture). Outside any span, the
    decision gets a span of its own so that it is not lost.

    The decision is the GenAI conventions' ``gen_ai.evaluation.result`` event (name, verdict as
    the score label, score, reason as the explanation), so any OpenTelemetry back end reads it
    as an evaluation result; ``spyglass.decision.verdict`` marks it as a decision and
    ``spyglass.decision.action`` / ``before`` / ``after`` carry what the conventions have no name
    for (docs/schema.md, "decisions").
    """
    with guard("record_decision"):
        s = settings()
        label = _verdict(verdict)
        attrs: dict[str, Any] = {
            A.GEN_AI_EVALUATION_NAME: _text(name, s),
            A.GEN_AI_EVALUATION_SCORE_LABEL: label,
            A.DECISION_VERDICT: label,
        }
        if score is not None and math.isfinite(float(score)):  # NaN is no score (and not JSON)
            attrs[A.GEN_AI_EVALUATION_SCORE_VALUE] = float(score)
        if reason is not None:  # not content, but it may quote some: bounded and scrubbed
            attrs[A.GEN_AI_EVALUATION_EXPLANATION] = _text(reason, s)
        if action is not None:
            attrs[A.DECISION_ACTION] = _text(action, s)
        if s.capture_content:
            for key, text in ((A.DECISION_BEFORE, before), (A.DECISION_AFTER, after)):
                if text is not None:
                    value = _text(text, s)
                    if s.redact is not None:
                        value = s.redact(key, value)  # type: ignore[assignment]
                    if value is not None:
                        attrs[key] = value
        current = trace.get_current_span()
        if current.is_recording():
            current.add_event(A.GEN_AI_EVALUATION_RESULT_EVENT, attrs)
            return
        with span(f"decision {attrs[A.GEN_AI_EVALUATION_NAME]}", kind=A.SPAN_TYPE_POSTPROCESS) as own:
            own.otel_span.add_event(A.GEN_AI_EVALUATION_RESULT_EVENT, attrs)


def _text(value: Any, s: Settings) -> str:
    return to_text(safe_str(value), s)[0]


def _verdict(verdict: Any) -> str:
    """The verdict, lower-cased; an unknown one is kept as given, with a warning (once each,
    for the first few: verdicts built from data must not grow this set without bound)."""
    v = scrub(safe_str(verdict)).strip().lower()  # scrubbed before lower(): AKIA… keys are upper case
    if v not in _SEVERITY and v not in _warned_verdicts and len(_warned_verdicts) < _MAX_WARNED_VERDICTS:
        _warned_verdicts.add(v)
        logger.warning(
            "spyglass: unknown decision verdict %r (expected one of %s); recorded as given",
            v,
            ", ".join(A.VERDICTS),
        )
    return encodable(v)


def record_usage(
    *,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    model: str | None = None,
    cost_usd: float | None = None,
    cache_read_input_tokens: int | None = None,
    reasoning_output_tokens: int | None = None,
) -> None:
    """Add token usage (and optionally the response model and cost) to the current span."""
    with guard("record_usage"):
        current = trace.get_current_span()
        if not current.is_recording():
            return
        values = {
            A.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            A.OI_LLM_TOKEN_COUNT_PROMPT: input_tokens,
            A.OI_LLM_TOKEN_COUNT_COMPLETION: output_tokens,
            A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read_input_tokens,
            A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning_output_tokens,
            A.GEN_AI_RESPONSE_MODEL: scrub_attribute(A.GEN_AI_RESPONSE_MODEL, model),
            A.COST_USD: cost_usd,
        }
        if input_tokens is not None and output_tokens is not None:
            values[A.OI_LLM_TOKEN_COUNT_TOTAL] = input_tokens + output_tokens
        current.set_attributes({k: v for k, v in values.items() if v is not None})
