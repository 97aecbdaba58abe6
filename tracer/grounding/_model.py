"""The default verdict: a logistic model over lexical evidence, one per task shape.

For each sentence of the output it combines:

0. ``1 - coverage`` in the best document (IDF-weighted share of the sentence's stems);
1. ``1 - coverage`` in the best window of ``WINDOW`` consecutive sentences of a document;
2. whether the sentence has a number no document (nor the question) mentions;
3. how many capitalised names no document mentions (capped at 3);
4. whether the sentence negates and the best window does not;
5. ``log(1 + distinct stems)``: short sentences cover by chance, long ones drift;
6. the share of stems found in no document at all (unweighted);
7. whether the sentence carries no claim (no content stem, or a lead-in ending in ":");
8. the sentence's relative position in the output (0 first, 1 last);
9. ``log(number of sentences)`` of the output.

The output is the probability that the sentence is *not* supported. There are two weight
sets: ``qa`` when a question is passed, ``summary`` when it is not (a summary paraphrases
one long document; an answer quotes a few short ones, and their errors look different).

The weights and thresholds below were fitted by ``python bench/bench_grounding.py --fit``
on RAGTruth ``rest.jsonl`` only (L2-regularised logistic regression; each threshold
maximises sentence F1 + response F1 of 5-fold out-of-fold predictions on ``rest.jsonl``,
folds by response). ``dev.jsonl`` is only reported on. See docs/grounding.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._index import Claims, DocumentIndex, SentenceView

__all__ = ["FEATURES", "MODELS", "Model", "features"]

FEATURES = (
    "uncovered_doc",
    "uncovered_window",
    "unsupported_number",
    "unsupported_entities",
    "negation_mismatch",
    "log_stems",
    "novel_share",
    "no_claim",
    "position",
    "log_sentences",
)


class Model:
    """Weights of one logistic model and the probability above which a sentence is flagged."""

    __slots__ = ("bias", "name", "threshold", "weights")

    def __init__(self, name: str, bias: float, weights: Sequence[float], threshold: float) -> None:
        if len(weights) != len(FEATURES):
            raise ValueError(f"{name}: {len(weights)} weights for {len(FEATURES)} features")
        self.name = name
        self.bias = bias
        self.weights = tuple(weights)
        self.threshold = threshold

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


# --- fitted by bench/bench_grounding.py --fit (rest.jsonl); do not edit by hand -------------
MODELS = {
    "qa": Model("qa", -6.41, (1.7, 2.78, 1.89, 0.88, -0.8, 0.28, -1.29, -1.68, 0.82, 0.51), 0.17),
    "summary": Model("summary", -6.21, (1.18, 2.16, 2.0, 0.69, 0.12, 0.83, 0.26, -3.08, 1.12, -0.51), 0.15),
}
# --- end of fitted constants ----------------------------------------------------------------


def features(
    index: DocumentIndex,
    sentence: SentenceView,
    claims: Claims,
    coverage: list[tuple[float, float, bool]],
    position: int,
    n_sentences: int,
) -> list[float]:
    """The feature vector of one sentence (order: ``FEATURES``)."""
    stems = set(sentence.stems)
    if coverage:
        best = max(range(len(coverage)), key=lambda i: coverage[i][1])
        doc_cov = max(c[0] for c in coverage)
        win_cov, win_negated = coverage[best][1], coverage[best][2]
    else:
        doc_cov = win_cov = 0.0 if stems else 1.0
        win_negated = False
    novel = sum(1 for s in stems if not index.known(s)) / len(stems) if stems else 0.0
    no_claim = not stems or sentence.text.rstrip().endswith(":")
    return [
        1.0 - doc_cov,
        1.0 - win_cov,
        1.0 if claims.numbers else 0.0,
        float(min(len(claims.entities), 3)),
        1.0 if sentence.negated and not win_negated else 0.0,
        math.log1p(len(stems)),
        novel,
        1.0 if no_claim else 0.0,
        position / (n_sentences - 1) if n_sentences > 1 else 0.0,
        math.log(max(1, n_sentences)),
    ]
