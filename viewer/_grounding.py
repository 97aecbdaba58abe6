"""The grounding check's results as the viewer shows them. Pure: no Streamlit.

The check (``tracer.grounding``) stores one ``evaluations`` row per LLM span
(``name='grounding'``; ``label='hallucination'`` when the answer is not grounded; ``score``;
``explanation``; ``details``: the report's ``to_dict()`` as JSON, with
``sentences: [{text, start, end, supported, score, best_document_id, ...}]``). This module
reads those rows, and runs the check on a replayed answer when ``tracer.grounding`` is
installed. Unknown or missing fields are tolerated: an older or newer report still shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracer import _evidence
from tracer._evidence import TOOL_PREFIX

from ._messages import parse_json

EVALUATION_NAME = "grounding"
HALLUCINATION = "hallucination"
SOURCE_DOCUMENT, SOURCE_TOOL = "document", _evidence.SOURCE_TOOL


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int | None
    end: int | None
    supported: bool
    score: float | None
    best_document_id: str | None
    numbers: tuple[str, ...] = ()  # numbers in the sentence that no document mentions
    entities: tuple[str, ...] = ()  # names in the sentence that no document mentions
    # What supports it: a retrieved document, or a tool result (then ``best_source`` names it).
    best_source_kind: str = SOURCE_DOCUMENT
    best_source: str | None = None
    # P(not supported): the check's calibrated probability; ``1 - score`` in older reports.
    probability: float | None = None


@dataclass(frozen=True)
class Grounding:
    """One grounding result: the verdict and a result per sentence of the answer."""

    label: str | None
    score: float | None
    explanation: str | None
    sentences: tuple[Sentence, ...]
    numbers: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    #: The report's three-step verdict (``uncertain`` below the flag cut), and its scorer.
    step: str | None = None
    scorer: str | None = None

    @property
    def suspected(self) -> bool:
        return self.label == HALLUCINATION

    @property
    def uncertain(self) -> bool:
        return not self.suspected and self.step == "uncertain"

    @property
    def probability(self) -> float | None:
        """The likeliest sentence's P(not supported)."""
        found = [s.probability for s in self.sentences if s.probability is not None]
        return max(found) if found else None

    def ranked(self) -> list[tuple[int, Sentence]]:
        """The unsupported sentences (numbered as in the answer), likeliest hallucination first;
        a sentence without a probability comes last."""
        found = [(i, s) for i, s in enumerate(self.sentences, 1) if not s.supported]
        return sorted(found, key=lambda p: (p[1].probability is None, -(p[1].probability or 0.0), p[0]))

    @property
    def unsupported(self) -> list[Sentence]:
        return [s for s in self.sentences if not s.supported]

    @property
    def verdict(self) -> str:
        return (
            "hallucination suspected"
            if self.suspected
            else (
                "uncertain: worth a look"
                if self.uncertain
                else "grounded"
                if self.label in (None, "", "grounded", "supported", "pass")
                else "no documents to check against"
                if self.label == "no_documents"
                else str(self.label)
            )
        )

    def facts(self) -> str:
        """Score and sentence counts, e.g. ``score 0.35 · 1 of 2 sentences unsupported``."""
        bits = []
        if self.score is not None:
            bits.append(f"score {self.score:.2f}")
        if self.sentences:
            bits.append(f"{len(self.unsupported)} of {len(self.sentences)} sentences unsupported")
        return " · ".join(bits)

    def summary(self) -> str:
        return " · ".join(b for b in (self.verdict, self.facts()) if b)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v.get("text", v)) if isinstance(v, Mapping) else str(v) for v in value)
    return ()


def _claims(d: Mapping[str, Any], kind: str) -> tuple[str, ...]:
    """``unsupported_numbers`` / ``numbers`` / ``claims.numbers`` (and the same for entities)."""
    claims = d.get("claims") if isinstance(d.get("claims"), Mapping) else {}
    for value in (d.get(f"unsupported_{kind}"), d.get(kind), claims.get(kind)):  # type: ignore[union-attr]
        if value:
            return _strings(value)
    return ()


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _source(d: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(kind, name)`` of a sentence's best evidence: a tool result when its id is
    ``tool:<name>`` (``tracer._evidence`` names tool results so), else a document."""
    best = d.get("best_document_id")
    if isinstance(best, str) and best.startswith(TOOL_PREFIX):
        return SOURCE_TOOL, best[len(TOOL_PREFIX) :]
    return SOURCE_DOCUMENT, None


def _sentence(d: Any) -> Sentence | None:
    if not isinstance(d, Mapping):
        return None
    best = d.get("best_document_id")
    kind, name = _source(d)
    score, probability = _float(d.get("score")), _float(d.get("probability"))
    return Sentence(
        text=str(d.get("text") or ""),
        start=_int(d.get("start")),
        end=_int(d.get("end")),
        supported=bool(d.get("supported", True)),
        score=score,
        best_document_id=None if best in (None, "") else str(best),
        numbers=_claims(d, "numbers"),
        entities=_claims(d, "entities"),
        best_source_kind=kind,
        best_source=name,
        probability=probability if probability is not None else (None if score is None else 1.0 - score),
    )


def _verdict(details: Mapping[str, Any], sentences: Sequence[Sentence]) -> str:
    for key in ("label", "verdict"):
        if isinstance(details.get(key), str):
            return str(details[key])
    for key in ("hallucination", "suspected_hallucination"):
        if isinstance(details.get(key), bool):
            return HALLUCINATION if details[key] else "grounded"
    if isinstance(details.get("supported"), bool):
        return "grounded" if details["supported"] else HALLUCINATION
    return HALLUCINATION if any(not s.supported for s in sentences) else "grounded"


def from_details(
    details: Any, *, label: str | None = None, score: float | None = None, explanation: str | None = None
) -> Grounding:
    """A grounding result from a report dict (``report.to_dict()``, or an evaluation's details)."""
    d = parse_json(details)
    d = d if isinstance(d, Mapping) else {}
    sentences = tuple(s for s in map(_sentence, d.get("sentences") or ()) if s is not None)
    numbers = _claims(d, "numbers") or tuple(dict.fromkeys(n for s in sentences for n in s.numbers))
    entities = _claims(d, "entities") or tuple(dict.fromkeys(e for s in sentences for e in s.entities))
    return Grounding(
        label=label if label is not None else _verdict(d, sentences),
        score=score if score is not None else _float(d.get("score")),
        explanation=explanation
        if explanation is not None
        else (str(d["explanation"]) if isinstance(d.get("explanation"), str) else None),
        sentences=sentences,
        numbers=numbers,
        entities=entities,
        step=d["verdict"] if isinstance(d.get("verdict"), str) else None,
        scorer=d["scorer"] if isinstance(d.get("scorer"), str) else None,
    )


def _ours(row: Mapping[str, Any]) -> bool:
    """The grounding check's result, not another tool's evaluation event of the same name."""
    return row.get("name") == EVALUATION_NAME and row.get("source") != "span"


def for_span(evaluations: Iterable[Mapping[str, Any]], span_id: str) -> Grounding | None:
    """The newest grounding result of one span (rows of ``get_trace()['evaluations']``, oldest first)."""
    newest = None
    for row in evaluations:
        if _ours(row) and row.get("span_id") == span_id:
            newest = row
    if newest is None:
        return None
    return from_details(
        newest.get("details"),
        label=newest.get("label"),
        score=_float(newest.get("score")),
        explanation=newest.get("explanation"),
    )


def by_scorer(evaluations: Iterable[Mapping[str, Any]], span_id: str) -> list[tuple[str, Grounding]]:
    """The newest result of each grounding scorer on one span: the default check
    (``grounding``) first, then each ``grounding/<scorer>`` in the order they were first run."""
    newest: dict[str, Mapping[str, Any]] = {}
    for row in evaluations:
        name = str(row.get("name") or "")
        ours = name == EVALUATION_NAME or name.startswith(EVALUATION_NAME + "/")
        if ours and row.get("span_id") == span_id and row.get("source") != "span":
            newest[name] = row
    order = sorted(newest, key=lambda n: n != EVALUATION_NAME)
    return [
        (
            name,
            from_details(
                newest[name].get("details"),
                label=newest[name].get("label"),
                score=_float(newest[name].get("score")),
                explanation=newest[name].get("explanation"),
            ),
        )
        for name in order
    ]


def for_trace(evaluations: Iterable[Mapping[str, Any]]) -> Grounding | None:
    """The trace's worst grounding result (a suspected one first, then the lowest score)."""
    each = (for_span([r], str(r.get("span_id"))) for r in evaluations if _ours(r))
    found = [g for g in each if g is not None]
    if not found:
        return None
    return min(found, key=lambda g: (not g.suspected, g.score if g.score is not None else 1.0))


def available() -> bool:
    try:
        from tracer import grounding
    except ImportError:
        return False
    return callable(getattr(grounding, "check", None))


def check(output: str, documents: Sequence[Mapping[str, Any]], question: str | None = None) -> Grounding | None:
    """Run ``tracer.grounding.check`` (offline) on an answer; ``None`` when it is not installed."""
    if not available():
        return None
    from tracer import grounding

    docs = [{"id": d.get("id"), "content": d.get("content") or ""} for d in documents]
    report = grounding.check(output, docs, question=question)
    as_dict = report.to_dict() if hasattr(report, "to_dict") else report
    return from_details(as_dict)
