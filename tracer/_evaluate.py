"""Running the grounding check on traced LLM spans: at export time and in ``spyglass check``.

At export, the exporter's background thread (never the traced call) remembers the evidence of
each trace (retrieved documents and tool results, see ``_evidence.py``) and, when a logical LLM
call of that trace ends with a text answer, checks the answer against it; an LLM span nested
in another (the client call inside a ``@trace_llm`` function) is checked as part of that call. The result is stored as an OpenTelemetry ``gen_ai.evaluation.result``
event of that LLM span (the semantic conventions' evaluation event, with its
``gen_ai.evaluation.*`` attributes), which ingest also turns into an ``evaluations`` row.
The span itself is finished and immutable by then, so the event is added to the stored row,
not to the span object: other exporters do not see it.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from . import _evidence
from . import attributes as A
from ._guard import guard
from .conventions import canonical, span_type

EVALUATION_NAME = "grounding"
_MAX_TRACES = 2_000  # documents remembered per trace, for this many recent traces


class _Choice:
    """What checks answers at export and in ``spyglass check``: ``configure(grounding=...,
    grounding_threshold=...)``, else ``SPYGLASS_GROUNDING_MODEL`` / ``_THRESHOLD``.

    The detector is loaded on the first check, on the export thread (never in the traced
    call), and only once: a missing model logs its reason once and the offline model goes on.
    """

    def __init__(self) -> None:
        self.model: str | None = None
        self.threshold: float | None = None  # P(unsupported) above which a sentence is flagged
        self._loaded: tuple[str | None, Any] = (None, None)

    def set(self, model: str | None, threshold: float | None) -> None:
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"grounding_threshold must be a probability in [0, 1], got {threshold!r}")
        self.model, self.threshold = model or None, threshold

    def scorer(self) -> Any:
        if self._loaded[0] != self.model:
            from .grounding import load_detector

            self._loaded = (self.model, load_detector(self.model))
        return self._loaded[1]


choice = _Choice()

#: ``spyglass check --scorer`` and the viewer's "check this answer with": the names that are
#: not a detector model.
SCORERS = ("offline", "offline-v1", "llm-judge")


def named_scorer(name: str, *, judge_model: str = "gpt-4o-mini") -> tuple[str, Any]:
    """``(evaluation name, scorer)`` for a scorer chosen by name: ``offline`` (the default
    model, stored as ``grounding``), ``offline-v1``, ``llm-judge`` (the ``openai`` client and
    ``OPENAI_API_KEY``), or a detector's model folder or id. The others are stored as
    ``grounding/<name>``, next to the default check's result. A detector that cannot load
    raises :class:`~tracer.grounding.DetectorUnavailable`: asked for by name, it must not be
    replaced silently."""
    from . import grounding

    if name == "offline":
        return EVALUATION_NAME, None
    if name == "offline-v1":
        return f"{EVALUATION_NAME}/{name}", _V1
    if name == "llm-judge":
        return f"{EVALUATION_NAME}/{name}", grounding.LLMJudgeScorer(model=judge_model)
    detector = grounding.TokenDetector(name)
    return f"{EVALUATION_NAME}/{detector.name}", detector


_V1 = object()  # the first offline model: check(model="v1") rather than a scorer


def evaluation_row(
    report: Any, documents: Sequence[Mapping[str, Any]] = (), *, name: str = EVALUATION_NAME
) -> dict[str, Any]:
    """What is stored about one check: ``score``, ``label``, ``explanation``, ``details``."""
    bad = len(report.unsupported)
    total = len(report.sentences)
    tools = _evidence.sources(documents)
    evidence = "the retrieved documents or tool results" if tools else "the retrieved documents"
    explanation = (
        f"{bad} of {total} sentences not supported by {evidence}" if bad else f"all {total} sentences supported"
    )
    details = report.to_dict()
    if tools:  # which of the checked ids are tool results, so a sentence can name its source
        details["sources"] = tools
    return {
        "name": name,
        "score": float(report.score),
        "label": report.label,
        "explanation": explanation,
        "details": details,
    }


def check_span(
    attributes: Mapping[str, Any],
    documents: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] = (),
    inner: Sequence[Mapping[str, Any]] = (),
    *,
    scorer: Any = None,
    threshold: float | None = None,
    name: str = EVALUATION_NAME,
) -> dict[str, Any] | None:
    """The evaluation row for a logical LLM call, or ``None`` when there is nothing to check.

    ``documents``/``tools``: what its trace retrieved and its tools returned; ``inner``: the
    attributes of the LLM spans nested in it (whose answer is its answer if it has none).
    ``scorer``/``threshold`` (P(unsupported) above which a sentence is flagged): the
    configured ones when not given; ``name``: the evaluation's name.
    """
    from . import grounding  # imported on first use: most processes never check anything

    output, question = _evidence.answer(attributes, inner)
    evidence = _evidence.evidence(attributes, documents, tools, inner)
    if not output or not evidence:
        return None
    model = "v2"
    if scorer is _V1:
        scorer, model = None, "v1"
    elif scorer is None:
        scorer = choice.scorer()
    cut = choice.threshold if threshold is None else threshold
    support = None if cut is None else 1.0 - cut
    report = grounding.check(output, evidence, question, scorer=scorer, threshold=support, model=model)
    return evaluation_row(report, evidence, name=name)


class _Trace:
    """What export has seen of one trace so far: the evidence, and nested calls' answers."""

    __slots__ = ("documents", "inner", "tools", "waiting")

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self.tools: list[dict[str, Any]] = []
        # Enclosing LLM span id -> the attributes of every LLM span nested in it, at any depth.
        self.inner: dict[str, list[Mapping[str, Any]]] = {}
        # Logical calls that ended before the calls inside them (a function returning the
        # client's stream): checked once those have ended, by span id.
        self.waiting: dict[str, Mapping[str, Any]] = {}


def _order(span: ReadableSpan) -> int:
    # Evidence first: a batch often holds a trace's retriever, tool and LLM spans together.
    return 0 if span_type(span.attributes or {}) in (A.SPAN_TYPE_RETRIEVER, A.SPAN_TYPE_TOOL) else 1


class ExportTimeGrounding:
    """Checks LLM answers against their trace's evidence as spans are exported."""

    def __init__(self) -> None:
        self._traces: OrderedDict[int, _Trace] = OrderedDict()

    def observe(self, spans: Sequence[ReadableSpan], until: float | None = None) -> dict[int, list[dict[str, Any]]]:
        """Evaluation events to store with the spans of this batch, by span id.

        ``until`` (a ``time.monotonic()`` deadline, set once exit has begun): answers not
        checked by then are stored unchecked, for ``spyglass check`` to do later; exit does
        not wait for them.
        """
        events: dict[int, list[dict[str, Any]]] = {}
        for span in sorted(spans, key=_order):
            if until is not None and time.monotonic() > until:
                break
            with guard("export-time grounding"):
                event = self._observe(span)
                if event is not None and span.context is not None:
                    events.setdefault(span.context.span_id, []).append(event)
        return events

    def _trace(self, trace_id: int) -> _Trace:
        found = self._traces.get(trace_id)
        if found is None:
            found = self._traces[trace_id] = _Trace()
            while len(self._traces) > _MAX_TRACES:
                self._traces.popitem(last=False)
        else:
            self._traces.move_to_end(trace_id)
        return found

    def _observe(self, span: ReadableSpan) -> dict[str, Any] | None:
        raw = span.attributes or {}
        kind = span_type(raw)
        if kind not in (A.SPAN_TYPE_RETRIEVER, A.SPAN_TYPE_TOOL, A.SPAN_TYPE_LLM):
            return None
        attrs = canonical(
            raw,
            [{"name": e.name, "attributes": e.attributes or {}} for e in span.events] if A.SPAN_TYPE not in raw else (),
        )
        trace = self._trace(span.context.trace_id if span.context else 0)
        if kind == A.SPAN_TYPE_RETRIEVER:
            trace.documents.extend(_evidence.retrieved_documents(attrs))
        elif kind == A.SPAN_TYPE_TOOL:
            result = _evidence.tool_result(attrs, span.name)
            if result is not None:
                trace.tools.append(result)
        else:
            own_id = format(span.context.span_id, "016x") if span.context else ""
            parent = attrs.get(A.LLM_PARENT_SPAN_ID)
            if isinstance(parent, str):
                # A client call inside a logical call: its answer is checked as that call's.
                trace.inner.setdefault(parent, []).extend((attrs, *trace.inner.pop(own_id, ())))
                waiting = trace.waiting.get(parent)
                if waiting is not None and self._complete(trace, parent, waiting):
                    del trace.waiting[parent]
                    return self._check(trace, parent, waiting, about=parent)
            elif not self._complete(trace, own_id, attrs):
                trace.waiting[own_id] = attrs
            else:
                return self._check(trace, own_id, attrs)
        return None

    @staticmethod
    def _complete(trace: _Trace, span_id: str, attrs: Mapping[str, Any]) -> bool:
        """Whether every call nested directly in ``span_id`` has been seen (or it needs none:
        it has an answer of its own)."""
        if attrs.get(A.GEN_AI_OUTPUT_MESSAGES) is not None:
            return True
        seen = sum(1 for a in trace.inner.get(span_id, ()) if a.get(A.LLM_PARENT_SPAN_ID) == span_id)
        return seen >= int(attrs.get(A.LLM_INNER_CALLS) or 0)

    @staticmethod
    def _check(
        trace: _Trace, span_id: str, attrs: Mapping[str, Any], about: str | None = None
    ) -> dict[str, Any] | None:
        row = check_span(attrs, trace.documents, trace.tools, trace.inner.pop(span_id, ()))
        return evaluation_event(row, about) if row is not None else None


def evaluation_event(row: Mapping[str, Any], about: str | None = None) -> dict[str, Any]:
    """A ``gen_ai.evaluation.result`` event, in the shape the store keeps span events.
    ``about``: the span evaluated, when the event is stored with another one (a logical call
    checked once the client call inside it, which ended later, was exported)."""
    attributes = {
        A.GEN_AI_EVALUATION_NAME: row["name"],
        A.GEN_AI_EVALUATION_SCORE_VALUE: row["score"],
        A.GEN_AI_EVALUATION_SCORE_LABEL: row["label"],
        A.GEN_AI_EVALUATION_EXPLANATION: row["explanation"],
        A.EVALUATION_DETAILS: json.dumps(row["details"], ensure_ascii=False),
    }
    if about is not None:
        attributes[A.EVALUATION_SPAN_ID] = about
    return {"time_us": time.time_ns() // 1000, "name": A.GEN_AI_EVALUATION_RESULT_EVENT, "attributes": attributes}
