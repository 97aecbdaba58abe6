"""Grounding check: which sentences of an LLM's output the retrieved documents support.

    from tracer import grounding
    report = grounding.check(answer, documents, question)
    report.label                        # "grounded" | "hallucination" | "no_documents"
    for s in report.unsupported:        # output[s.start:s.end] == s.text
        print(s.text, s.score, s.best_document_id, s.unsupported_numbers, s.unsupported_entities)

Offline and deterministic by default (a lexical model, no download). Plug in an embedding
model, an NLI model or an LLM judge through :class:`Scorer`; :class:`LLMJudgeScorer` is an
opt-in judge on the ``openai`` client. How it works and how well: docs/grounding.md.
"""

from ._check import check
from ._detector import DetectorUnavailable, TokenDetector, load_detector
from ._judge import LLMJudgeScorer
from ._report import (
    GROUNDED,
    HALLUCINATION,
    LABELS,
    LIKELY_HALLUCINATED,
    NO_DOCUMENTS,
    UNCERTAIN,
    VERDICTS,
    GroundingReport,
    SentenceResult,
)
from ._scorers import Detector, LexicalScorer, Scorer
from ._sentences import split_sentences

__all__ = [
    "GROUNDED",
    "HALLUCINATION",
    "LABELS",
    "LIKELY_HALLUCINATED",
    "NO_DOCUMENTS",
    "UNCERTAIN",
    "VERDICTS",
    "Detector",
    "DetectorUnavailable",
    "GroundingReport",
    "LLMJudgeScorer",
    "LexicalScorer",
    "Scorer",
    "SentenceResult",
    "TokenDetector",
    "check",
    "load_detector",
    "split_sentences",
]
