"""Grounding results as OpenTelemetry data: each ``gen_ai.evaluation.result`` the export-time
check produces is also emitted as a log-based event, parented to the LLM span it is about,
so that any OTLP log pipeline (the app's own, a Collector's) carries it to other back ends.

Why a log record, and not the other two shapes the spec could take:

- A span event before the span ends would put the check (1-4 ms, and the trace's documents)
  on the user's thread inside their call: the check runs on the export thread, after the span
  ended and is immutable.
- A child span would reach trace-only back ends, but it is not the conventions' signal, it
  starts after its parent ended, and every consumer would count it as one more operation.
- The GenAI semantic conventions define ``gen_ai.evaluation.result`` as an event (a log
  record with that event name) that SHOULD be parented to the evaluated span, and
  OpenTelemetry is moving span events to log-based events. Correlation is by trace and span
  id, which every back end that takes OTLP logs joins on.

Nothing is emitted (and nothing costs) until the app sets a ``LoggerProvider`` (globally, or
given to ``tracer.configure(logger_provider=...)``). The events also stay in Spyglass's store
as before (``evaluations`` table), whatever is configured here.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A
from ._guard import guard
from .version import __version__

__all__ = ["EvaluationEvents"]

_SCOPE = "spyglass.evaluation"
# LogRecord grew ``event_name`` and ``context`` after opentelemetry-api 1.27 (our lower
# bound); before, an event's name was its ``event.name`` attribute.
_PARAMS = inspect.signature(_logs.LogRecord.__init__).parameters
_HAS_EVENT_NAME = "event_name" in _PARAMS
_HAS_CONTEXT = "context" in _PARAMS


class EvaluationEvents:
    """Emits the evaluation events of exported batches through a ``LoggerProvider``
    (``None``: the global one, looked up at each batch, so one set later is used)."""

    def __init__(self, provider: _logs.LoggerProvider | None = None) -> None:
        self._provider = provider
        self._logger: tuple[_logs.LoggerProvider, _logs.Logger] | None = None

    def _logger_now(self) -> _logs.Logger:
        provider = self._provider or _logs.get_logger_provider()
        if self._logger is None or self._logger[0] is not provider:
            self._logger = (provider, provider.get_logger(_SCOPE, __version__))
        return self._logger[1]

    def publish(self, spans: Sequence[ReadableSpan], events: Mapping[int, list[dict[str, Any]]]) -> None:
        """``events``: what ``ExportTimeGrounding.observe`` returned for ``spans``."""
        if not events:
            return
        with guard("evaluation events"):
            logger = self._logger_now()
            for span in spans:
                if span.context is None:
                    continue
                for event in events.get(span.context.span_id, ()):
                    logger.emit(_record(span, event))


def _record(span: ReadableSpan, event: Mapping[str, Any]) -> _logs.LogRecord:
    context = span.context
    assert context is not None  # publish skips spans without one
    attributes = dict(event["attributes"])
    # The evaluated span: this one, or the logical call it was checked for (stored on its client call).
    about = attributes.pop(A.EVALUATION_SPAN_ID, None)
    span_id = int(about, 16) if isinstance(about, str) else context.span_id
    response_id = (span.attributes or {}).get(A.GEN_AI_RESPONSE_ID)
    if isinstance(response_id, str):
        attributes[A.GEN_AI_RESPONSE_ID] = response_id
    kwargs: dict[str, Any] = {
        "timestamp": int(event["time_us"]) * 1000,
        "severity_number": _logs.SeverityNumber.INFO,
        "attributes": attributes,
    }
    if _HAS_CONTEXT:
        parent = trace.SpanContext(context.trace_id, span_id, False, context.trace_flags)
        kwargs["context"] = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    else:
        kwargs.update(trace_id=context.trace_id, span_id=span_id, trace_flags=context.trace_flags)
    if _HAS_EVENT_NAME:
        kwargs["event_name"] = A.GEN_AI_EVALUATION_RESULT_EVENT
    else:
        attributes["event.name"] = A.GEN_AI_EVALUATION_RESULT_EVENT
    return _logs.LogRecord(**kwargs)
