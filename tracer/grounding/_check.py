"""``check``: split the output into sentences, give each the probability that the documents
do not support it, and turn the probabilities into a verdict."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._documents import normalize_documents
from ._features import features
from ._index import DocumentIndex, view
from ._model import MODELS
from ._report import (
    GROUNDED,
    HALLUCINATION,
    LIKELY_HALLUCINATED,
    NO_DOCUMENTS,
    UNCERTAIN,
    GroundingReport,
    SentenceResult,
)
from ._scorers import Detector, Scorer
from ._sentences import split_sentences

__all__ = ["check"]

#: Default scorer: the best document is named only when it covers at least this share of
#: the sentence's (IDF-weighted) content; below that, no document supports it.
MIN_EVIDENCE = 0.2
DEFAULT_SCORER = "lexical-model"


def _documents(documents: Iterable[Any] | None) -> tuple[list[str], list[str]]:
    docs = normalize_documents(list(documents or ()))
    ids = [doc["id"] if doc["id"] is not None else str(rank) for rank, doc in enumerate(docs)]
    return ids, [doc["content"] for doc in docs]


def check(
    output: str,
    documents: Sequence[str | dict[str, Any]] | None,
    question: str | None = None,
    *,
    scorer: Scorer | Detector | None = None,
    threshold: float | None = None,
    model: str = "v2",
) -> GroundingReport:
    """Check that each sentence of ``output`` is supported by ``documents``.

    ``documents`` are strings or dicts with ``content`` and ``id`` (or ``document_id``, as in
    the store's ``documents`` table); an id defaults to the document's rank, as a string.
    ``question``, when given, selects the question-answering model and its words are not
    treated as claims. ``scorer`` replaces the default lexical model: a :class:`Scorer`
    (per sentence and document) or a :class:`Detector` (spans of the whole output).
    ``threshold`` overrides the support score under which a sentence is unsupported (support
    is ``1 - probability``), for sentences and the response alike. ``model="v1"`` is the
    first lexical model, kept for comparison.

    Deterministic, offline; a few milliseconds for a short answer over a few documents.
    With no documents every sentence is unsupported and the label is ``"no_documents"``; an
    output without sentences is ``"grounded"``.
    """
    ids, contents = _documents(documents)
    output = output or ""
    spans = split_sentences(output)
    index = DocumentIndex(contents, question)
    lexical = MODELS[model]["qa" if question else "summary"]
    if scorer is None:
        sentence_cut, response_cut, low = lexical.sentence, lexical.response, lexical.low
        scorer_name = DEFAULT_SCORER if model == "v2" else f"{DEFAULT_SCORER}-{model}"
    else:
        sentence_cut = response_cut = low = 1.0 - float(getattr(scorer, "threshold", 0.5))
        low = float(getattr(scorer, "low", low))
        scorer_name = str(getattr(scorer, "name", type(scorer).__name__))
    if threshold is not None:
        sentence_cut = response_cut = 1.0 - threshold
        low = min(low, sentence_cut)
    # Flagging a response's likeliest sentence at the response cut only makes sense below
    # the sentence cut; above it the sentence cut decides alone.
    response_cut = min(response_cut, sentence_cut)

    detected = scorer.detect(output, contents, question=question) if isinstance(scorer, Detector) and contents else ()
    rows = []
    for position, (start, end) in enumerate(spans):
        text = output[start:end]
        sentence = view(text, index.question_stems)
        claims = index.claims(sentence)
        coverage = index.coverage(sentence)
        lexical_support = [(doc + window) / 2.0 for doc, window, _ in coverage]
        if scorer is None or isinstance(scorer, Detector):
            per_doc, floor = lexical_support, MIN_EVIDENCE
            if scorer is None:
                probability = lexical.probability(features(index, sentence, claims, position, len(spans)))
            else:
                probability = max((p for s, e, p in detected if s < end and start < e), default=0.0)
        else:
            per_doc = [float(s) for s in scorer.score(text, contents, question=question)] if contents else []
            if len(per_doc) != len(contents):
                raise ValueError(f"{scorer_name} returned {len(per_doc)} scores for {len(contents)} documents")
            probability, floor = 1.0 - max(per_doc, default=0.0), 0.0
        if not contents:
            probability = 1.0
        rows.append((start, end, text, claims, per_doc, probability, floor))

    # The response is as suspect as its likeliest sentence; when that one is above the
    # response cut it is flagged even if it is not above the sentence cut, so a "likely
    # hallucinated" verdict always points at a sentence.
    top = max(range(len(rows)), key=lambda i: rows[i][5], default=None)
    worst = rows[top][5] if top is not None else 0.0
    results = []
    for i, (start, end, text, claims, per_doc, probability, floor) in enumerate(rows):
        flagged = not contents or probability > sentence_cut or (i == top and worst > response_cut)
        best = max(range(len(per_doc)), key=per_doc.__getitem__) if per_doc else None
        evidence = per_doc[best] if best is not None else 0.0
        results.append(
            SentenceResult(
                text=text,
                start=start,
                end=end,
                supported=not flagged,
                score=1.0 - probability,
                best_document_id=ids[best] if best is not None and (not flagged or evidence > floor) else None,
                unsupported_numbers=tuple(claims.numbers) if contents else (),
                unsupported_entities=tuple(claims.entities) if contents else (),
                document_scores=dict(zip(ids, per_doc)),
                probability=probability,
            )
        )
    if not contents:
        label = verdict = NO_DOCUMENTS
    elif any(not r.supported for r in results):
        label, verdict = HALLUCINATION, LIKELY_HALLUCINATED
    else:
        label = GROUNDED
        verdict = UNCERTAIN if results and worst > low else GROUNDED
    return GroundingReport(
        sentences=tuple(results),
        label=label,
        document_ids=tuple(ids),
        scorer=scorer_name,
        threshold=round(1.0 - sentence_cut, 4),
        verdict=verdict,
        cuts={"sentence": round(sentence_cut, 4), "response": round(response_cut, 4), "low": round(low, 4)},
    )
