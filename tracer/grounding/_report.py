"""The result of a grounding check: per sentence, and for the whole response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GROUNDED",
    "HALLUCINATION",
    "LABELS",
    "LIKELY_HALLUCINATED",
    "NO_DOCUMENTS",
    "UNCERTAIN",
    "VERDICTS",
    "GroundingReport",
    "SentenceResult",
]

#: Every sentence is supported by the documents.
GROUNDED = "grounded"
#: At least one sentence is not supported: a suspected hallucination.
HALLUCINATION = "hallucination"
#: There were no documents to check against; no sentence can be supported.
NO_DOCUMENTS = "no_documents"
LABELS = (GROUNDED, HALLUCINATION, NO_DOCUMENTS)

#: ``report.verdict``: the label in three steps. "likely_hallucinated" is the
#: ``hallucination`` label; "uncertain" is a ``grounded`` label whose likeliest sentence is
#: between the model's low cut and its flag cut (worth a look); "grounded" is under it.
LIKELY_HALLUCINATED = "likely_hallucinated"
UNCERTAIN = "uncertain"
VERDICTS = (GROUNDED, UNCERTAIN, LIKELY_HALLUCINATED, NO_DOCUMENTS)


@dataclass(frozen=True)
class SentenceResult:
    """One sentence of the output. ``output[start:end] == text``."""

    text: str
    start: int
    end: int
    supported: bool
    #: Support, 0..1 (higher is better supported). Default scorer: 1 - P(not supported).
    score: float
    #: The document that supports the sentence best, or ``None`` when none gives any support.
    best_document_id: str | None
    #: Numbers in the sentence that no document (and not the question) mentions, as written.
    unsupported_numbers: tuple[str, ...] = ()
    #: Capitalised names in the sentence that no document (and not the question) mentions.
    unsupported_entities: tuple[str, ...] = ()
    #: Per document id, that document's support for this sentence (the scorer's raw score).
    document_scores: dict[str, float] = field(default_factory=dict)
    #: P(the documents do not support the sentence), 0..1: the default model's calibrated
    #: probability, a detector's, or ``1 - score`` for a per-document scorer.
    probability: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "supported": self.supported,
            "score": round(self.score, 4),
            "probability": round(self.probability, 4),
            "best_document_id": self.best_document_id,
            "unsupported_numbers": list(self.unsupported_numbers),
            "unsupported_entities": list(self.unsupported_entities),
            "document_scores": {k: round(v, 4) for k, v in self.document_scores.items()},
        }


@dataclass(frozen=True)
class GroundingReport:
    """What :func:`tracer.grounding.check` found."""

    sentences: tuple[SentenceResult, ...]
    #: ``"grounded"``, ``"hallucination"`` or ``"no_documents"`` (see ``LABELS``).
    label: str
    #: The ids of the documents checked against, in the order given.
    document_ids: tuple[str, ...]
    #: Name of the scorer and the threshold under which a sentence is unsupported.
    scorer: str
    threshold: float
    #: ``"grounded"``, ``"uncertain"``, ``"likely_hallucinated"`` or ``"no_documents"``.
    verdict: str = GROUNDED
    #: The probability cuts used: ``sentence`` (flag a sentence), ``response`` (flag the
    #: likeliest sentence, so the response), ``low`` (under it, not even uncertain).
    cuts: dict[str, float] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        """Whether every sentence is supported (``True`` for an output without sentences)."""
        return self.label == GROUNDED

    @property
    def score(self) -> float:
        """The lowest sentence score: the response is as grounded as its weakest sentence."""
        return min((s.score for s in self.sentences), default=1.0)

    @property
    def probability(self) -> float:
        """P(some sentence is not supported), as the likeliest sentence's probability."""
        return max((s.probability for s in self.sentences), default=0.0)

    @property
    def ranked(self) -> tuple[SentenceResult, ...]:
        """The unsupported sentences, likeliest hallucination first."""
        return tuple(sorted(self.unsupported, key=lambda s: -s.probability))

    @property
    def unsupported(self) -> tuple[SentenceResult, ...]:
        return tuple(s for s in self.sentences if not s.supported)

    @property
    def unsupported_numbers(self) -> tuple[str, ...]:
        return tuple(n for s in self.sentences for n in s.unsupported_numbers)

    @property
    def unsupported_entities(self) -> tuple[str, ...]:
        return tuple(e for s in self.sentences for e in s.unsupported_entities)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form: what the evaluations table and the OTel
        ``gen_ai.evaluation.result`` event store."""
        return {
            "label": self.label,
            "verdict": self.verdict,
            "probability": round(self.probability, 4),
            "cuts": dict(self.cuts),
            "supported": self.supported,
            "score": round(self.score, 4),
            "scorer": self.scorer,
            "threshold": self.threshold,
            "document_ids": list(self.document_ids),
            "unsupported_sentences": len(self.unsupported),
            "unsupported_numbers": list(self.unsupported_numbers),
            "unsupported_entities": list(self.unsupported_entities),
            "sentences": [s.to_dict() for s in self.sentences],
        }
