"""Running the grounding check on traced LLM spans: at export time and in ``spyglass check``.

At export, the exporter's background thread (never the traced call) remembers the documents
each trace retrieved and, when an LLM span of that trace ends with a text answer, checks the
answer against them. The result is stored as an OpenTelemetry ``gen_ai.evaluation.result``
event of that LLM span (the semantic conventions' evaluation event, with its
``gen_ai.evaluation.*`` attributes), which ingest also turns into an ``evaluations`` row.
The span itself is finished and immutable by then, so the event is added to the stored row,
not to the span object: other exporters do not see it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import time

from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A
from ._content import output_text, question_text
from ._guard import guard

EVALUATION_NAME = "grounding"
_MAX_TRACES = 2_000  # documents remembered per trace, for this many recent traces


def evaluation_row(report: Any) -> dict[str, Any]:
    """What is stored about one check: ``score``, ``label``, ``explanation``, ``details``."""
    bad = len(report.unsupported)
    total = len(report.sentences)
    explanation = (f"{bad} of {total} sentences not supported by the retrieved documents" if bad
                   else f"all {total} sentences supported")
    return {"name": EVALUATION_NAME, "score": float(report.score), "label": report.label,
            "explanation": explanation, "details": report.to_dict()}


def check_span(attributes: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The evaluation row for an LLM span, or ``None`` when there is nothing to check."""
    from . import grounding  # imported on first use: most processes never check anything

    output = output_text(attributes)
    if not output or not documents:
        return None
    return evaluation_row(grounding.check(output, list(documents), question_text(attributes)))


class ExportTimeGrounding:
    """Checks LLM answers against their trace's documents as spans are exported."""

    def __init__(self) -> None:
        self._documents: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()

    def observe(self, spans: Sequence[ReadableSpan], until: float | None = None) -> dict[int, list[dict[str, Any]]]:
        """Evaluation events to store with the spans of this batch, by span id.

        ``until`` (a ``time.monotonic()`` deadline, set once exit has begun): answers not
        checked by then are stored unchecked, for ``spyglass check`` to do later; exit does
        not wait for them.
        """
        events: dict[int, list[dict[str, Any]]] = {}
        # Retrievers first: a batch often holds a trace's retriever and LLM spans together.
        for span in sorted(spans, key=lambda s: (s.attributes or {}).get(A.SPAN_TYPE) != A.SPAN_TYPE_RETRIEVER):
            if until is not None and time.monotonic() > until:
                break
            with guard("export-time grounding"):
                event = self._observe(span)
                if event is not None and span.context is not None:
                    events.setdefault(span.context.span_id, []).append(event)
        return events

    def _observe(self, span: ReadableSpan) -> dict[str, Any] | None:
        attrs = span.attributes or {}
        trace_id = span.context.trace_id if span.context else 0
        kind = attrs.get(A.SPAN_TYPE)
        if kind == A.SPAN_TYPE_RETRIEVER and isinstance(attrs.get(A.GEN_AI_RETRIEVAL_DOCUMENTS), str):
            try:
                docs = json.loads(attrs[A.GEN_AI_RETRIEVAL_DOCUMENTS])
            except ValueError:  # cut by the size limit: nothing reliable to check against
                return None
            self._documents.setdefault(trace_id, []).extend(d for d in docs if isinstance(d, dict))
            self._documents.move_to_end(trace_id)
            while len(self._documents) > _MAX_TRACES:
                self._documents.popitem(last=False)
        elif kind == A.SPAN_TYPE_LLM and trace_id in self._documents:
            row = check_span(attrs, self._documents[trace_id])
            if row is not None:
                return evaluation_event(row)
        return None


def evaluation_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``gen_ai.evaluation.result`` event, in the shape the store keeps span events."""
    return {"time_us": time.time_ns() // 1000, "name": A.GEN_AI_EVALUATION_RESULT_EVENT, "attributes": {
        A.GEN_AI_EVALUATION_NAME: row["name"], A.GEN_AI_EVALUATION_SCORE_VALUE: row["score"],
        A.GEN_AI_EVALUATION_SCORE_LABEL: row["label"], A.GEN_AI_EVALUATION_EXPLANATION: row["explanation"],
        A.EVALUATION_DETAILS: json.dumps(row["details"], ensure_ascii=False)}}
