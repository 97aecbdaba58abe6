"""The default verdict: a logistic model over the lexical evidence of ``_features``, one per
task shape, and the thresholds that turn its probability into a verdict.

There are two weight sets: ``qa`` when a question is passed, ``summary`` when it is not (a
summary paraphrases one long document; an answer quotes a few short ones, and their errors
look different). Each model gives P(the sentence is not supported) and has three cuts:

* ``sentence``: a sentence above it is flagged (best sentence F1);
* ``response``: a response whose likeliest sentence is above it is "likely
  hallucinated" (best response F1), and that sentence is flagged too;
* ``low``: below it the response is "grounded"; between ``low`` and ``response`` it is
  "uncertain" (``low`` keeps 90% of the hallucinated responses above it).

``v2`` is the default; ``v1`` (the first model, ten of the features) is kept so that the
benchmark can show both from one run. The constants below were fitted by
``python bench/bench_grounding.py --fit`` on RAGTruth ``rest.jsonl`` only: L2-regularised
logistic regression on standardised features, the L2 strength and every cut chosen on 5-fold
out-of-fold predictions, folds by source document. ``dev.jsonl`` is only reported on. See
docs/grounding.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ._features import FEATURES

__all__ = ["MODELS", "Model"]


class Model:
    """Weights (by feature name) of one logistic model, and its cuts."""

    __slots__ = ("bias", "low", "name", "response", "sentence", "weights")

    def __init__(
        self, name: str, bias: float, weights: Mapping[str, float], sentence: float, response: float, low: float
    ) -> None:
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"{name}: unknown features {sorted(unknown)}")
        self.name = name
        self.bias = bias
        # Dense, in FEATURES order: one multiply per feature, none looked up by name.
        self.weights = tuple(weights.get(f, 0.0) for f in FEATURES)
        self.sentence = sentence
        self.response = response
        self.low = low

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


# --- fitted by bench/bench_grounding.py --fit (rest.jsonl); do not edit by hand -------------
MODELS: dict[str, dict[str, Model]] = {
    "v2": {
        "qa": Model(
            "v2-qa",
            -1.650,
            {
                "uncovered_doc": -0.320,
                "uncovered_window": 4.021,
                "novel_share": -3.501,
                "max_missing_idf": 1.180,
                "missing_idf_sum": 1.121,
                "worst_clause": 0.987,
                "missing_run": 0.019,
                "unsupported_number": 1.912,
                "unsupported_entities": 0.978,
                "number_context": 0.279,
                "citation_gap": 3.855,
                "hedges": -0.120,
                "evaluative": -0.557,
                "refusal": -0.222,
                "no_claim": -2.299,
                "negation_mismatch": -0.764,
                "first_person": -1.761,
                "log_stems": -1.465,
                "position": 0.796,
                "log_sentences": 0.478,
                "log_document_words": -3.249,
            },
            0.2,
            0.2,
            0.1,
        ),
        "summary": Model(
            "v2-summary",
            -9.126,
            {
                "uncovered_doc": 2.561,
                "uncovered_window": 2.254,
                "novel_share": -0.471,
                "max_missing_idf": -0.428,
                "missing_idf_sum": -0.317,
                "uncovered_bigrams": 1.123,
                "uncopied_share": 0.251,
                "unsupported_number": 2.958,
                "unsupported_entities": 0.674,
                "number_context": 0.250,
                "citation_gap": 0.000,
                "hedges": -0.070,
                "evaluative": -0.845,
                "refusal": 0.597,
                "no_claim": -7.153,
                "negation_mismatch": -0.002,
                "first_person": -5.148,
                "log_stems": 1.081,
                "position": 1.070,
                "log_sentences": -0.696,
                "log_document_words": 2.679,
            },
            0.21,
            0.1,
            0.05,
        ),
    },
    # The first model: folds by response, one cut for sentences and responses alike.
    "v1": {
        "qa": Model(
            "v1-qa",
            -6.41,
            {
                "uncovered_doc": 1.7,
                "uncovered_window": 2.78,
                "unsupported_number": 1.89,
                "unsupported_entities": 0.88,
                "negation_mismatch": -0.8,
                "log_stems": 0.28,
                "novel_share": -1.29,
                "no_claim": -1.68,
                "position": 0.82,
                "log_sentences": 0.51,
            },
            0.17,
            0.17,
            0.17,
        ),
        "summary": Model(
            "v1-summary",
            -6.21,
            {
                "uncovered_doc": 1.18,
                "uncovered_window": 2.16,
                "unsupported_number": 2.0,
                "unsupported_entities": 0.69,
                "negation_mismatch": 0.12,
                "log_stems": 0.83,
                "novel_share": 0.26,
                "no_claim": -3.08,
                "position": 1.12,
                "log_sentences": -0.51,
            },
            0.15,
            0.15,
            0.15,
        ),
    },
}
# --- end of fitted constants ----------------------------------------------------------------
