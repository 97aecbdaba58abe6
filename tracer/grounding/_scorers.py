"""The scorer interface, and the lexical scorer that the default check is built on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ._index import DocumentIndex, view

__all__ = ["Detector", "LexicalScorer", "Scorer", "cached_index"]


@runtime_checkable
class Scorer(Protocol):
    """Scores one sentence of the output against each document.

    Return one score per document, in order, each in ``[0, 1]``: how well that document
    supports the sentence (an NLI entailment probability, a cosine similarity, a judge's
    verdict). ``check`` takes the best document's score; the sentence is supported when it is
    at least the scorer's ``threshold`` attribute (0.5 when the scorer has none).

    ``question`` is the user's question when there is one: words taken from it are not
    claims the documents need to support.
    """

    def score(self, sentence: str, documents: Sequence[str], *, question: str | None = None) -> Sequence[float]: ...


@runtime_checkable
class Detector(Protocol):
    """Finds unsupported spans in a whole output at once, as a token-classification
    hallucination detector does (it reads the documents and the answer together).

    Return ``(start, end, probability)`` character spans of ``output`` with the probability
    that each is not supported; ``check`` gives each sentence the highest probability of the
    spans it overlaps (0 when none), and flags it above ``1 - threshold`` (the
    detector's ``threshold`` attribute, 0.5 when it has none). Spans may be single tokens.
    """

    def detect(
        self, output: str, documents: Sequence[str], *, question: str | None = None
    ) -> Sequence[tuple[int, int, float]]: ...


_cache: tuple[tuple[tuple[str, ...], str | None], DocumentIndex] | None = None


def cached_index(documents: Sequence[str], question: str | None) -> DocumentIndex:
    """The index of ``documents``: built once per call, reused for each sentence of it.

    One entry only: ``check`` scores all sentences of one output before the next output, and
    a bigger cache would keep documents alive for nothing. Not shared state worth a lock: a
    race only rebuilds an index."""
    global _cache
    key = (tuple(documents), question)
    cached = _cache
    if cached is not None and cached[0] == key:
        return cached[1]
    index = DocumentIndex(key[0], question)
    _cache = (key, index)
    return index


class LexicalScorer:
    """Content-word overlap, no model: per document, the IDF-weighted share of the sentence's
    stems (stopwords and question words left out) that the document contains, averaged with
    the same share in the document's best window of consecutive sentences.

    Fast (tens of microseconds per sentence) and transparent, blind to paraphrase and to
    facts rearranged out of the same words. ``check`` with no scorer uses this evidence and
    more (numbers, names, negation, calibrated weights); pass a ``LexicalScorer()`` to get the
    plain overlap verdict with its own ``threshold``.
    """

    name = "lexical"

    def __init__(self, threshold: float = 0.6) -> None:
        self.threshold = threshold

    def score(self, sentence: str, documents: Sequence[str], *, question: str | None = None) -> list[float]:
        index = cached_index(documents, question)
        coverage = index.coverage(view(sentence, index.question_stems))
        return [(doc + window) / 2.0 for doc, window, _ in coverage]
