"""``check``: split the output into sentences, score each against the documents, and say
which sentences, numbers and names nothing supports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._documents import normalize_documents
from ._index import DocumentIndex, view
from ._model import MODELS, features
from ._report import GROUNDED, HALLUCINATION, NO_DOCUMENTS, GroundingReport, SentenceResult
from ._scorers import Scorer
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
    scorer: Scorer | None = None,
    threshold: float | None = None,
) -> GroundingReport:
    """Check that each sentence of ``output`` is supported by ``documents``.

    ``documents`` are strings or dicts with ``content`` and ``id`` (or ``document_id``, as in
    the store's ``documents`` table); an id defaults to the document's rank, as a string.
    ``question``, when given, selects the question-answering model and its words are not
    treated as claims. ``scorer`` replaces the default lexical model (see :class:`Scorer`);
    ``threshold`` overrides the score under which a sentence is unsupported.

    Deterministic, offline; a few milliseconds for a short answer over a few documents.
    With no documents every sentence is unsupported and the label is ``"no_documents"``; an
    output without sentences is ``"grounded"``.
    """
    ids, contents = _documents(documents)
    spans = split_sentences(output or "")
    index = DocumentIndex(contents, question)
    model = MODELS["qa" if question else "summary"]
    if scorer is None:
        cut = 1.0 - model.threshold if threshold is None else threshold
        scorer_name = DEFAULT_SCORER
    else:
        cut = float(getattr(scorer, "threshold", 0.5) if threshold is None else threshold)
        scorer_name = str(getattr(scorer, "name", type(scorer).__name__))

    results = []
    for position, (start, end) in enumerate(spans):
        text = output[start:end]
        sentence = view(text, index.question_stems)
        claims = index.claims(sentence)
        if scorer is None:
            coverage = index.coverage(sentence)
            per_doc = [(doc + window) / 2.0 for doc, window, _ in coverage]
            x = features(index, sentence, claims, coverage, position, len(spans))
            score = 1.0 - model.probability(x)
            evidence = max(per_doc, default=0.0)
            floor = MIN_EVIDENCE
        else:
            per_doc = [float(s) for s in scorer.score(text, contents, question=question)] if contents else []
            if len(per_doc) != len(contents):
                raise ValueError(f"{scorer_name} returned {len(per_doc)} scores for {len(contents)} documents")
            score = evidence = max(per_doc, default=0.0)
            floor = 0.0
        if not contents:
            score = 0.0
        best = max(range(len(per_doc)), key=per_doc.__getitem__) if per_doc else None
        supported = bool(contents) and score >= cut
        results.append(
            SentenceResult(
                text=text,
                start=start,
                end=end,
                supported=supported,
                score=score,
                best_document_id=ids[best] if best is not None and (supported or evidence > floor) else None,
                unsupported_numbers=tuple(claims.numbers) if contents else (),
                unsupported_entities=tuple(claims.entities) if contents else (),
                document_scores=dict(zip(ids, per_doc)),
            )
        )
    if not contents:
        label = NO_DOCUMENTS
    else:
        label = GROUNDED if all(r.supported for r in results) else HALLUCINATION
    return GroundingReport(
        sentences=tuple(results), label=label, document_ids=tuple(ids), scorer=scorer_name, threshold=round(cut, 4)
    )
