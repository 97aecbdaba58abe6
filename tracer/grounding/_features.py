"""The evidence the default model weighs, per sentence of the output: one named feature each.

Grouped by what they look at (``GROUPS``), so that ``bench/bench_grounding.py --ablate`` can
say what each group adds. Every feature is a plain number computed from the documents'
index; none needs a model or a download.

* ``coverage``: how much of the sentence's content the documents hold (IDF-weighted share in
  the best document and the best two-sentence window, the share of stems no document has,
  the IDF of the rarest missing stem).
* ``order``: whether the words come in the documents' order: content bigrams, and the share
  of the sentence's words inside a run of three or more copied from a document.
* ``clauses``: the least covered clause, and the longest run of missing content words. A
  sentence is often right in its first half and invented in its second.
* ``claims``: numbers and names no document mentions, and numbers that are mentioned but in
  other company (``3`` next to ``years`` in the document, next to ``months`` here).
* ``citation``: the sentence cites a passage ("Passage 2 says...") that covers it less than
  the best one does.
* ``style``: hedges, evaluative words, refusals ("does not mention"), lead-ins, negation the
  evidence lacks.
* ``shape``: sentence length, position, the output's length, the documents' length.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

from ._index import Claims, DocumentIndex, SentenceView
from ._text import stem

__all__ = ["FEATURES", "GROUPS", "features"]

GROUPS: dict[str, tuple[str, ...]] = {
    "coverage": ("uncovered_doc", "uncovered_window", "novel_share", "max_missing_idf", "missing_idf_sum"),
    "order": ("uncovered_bigrams", "uncopied_share"),
    "clauses": ("worst_clause", "missing_run"),
    "claims": ("unsupported_number", "unsupported_entities", "number_context"),
    "citation": ("citation_gap",),
    "style": ("hedges", "evaluative", "refusal", "no_claim", "negation_mismatch", "first_person"),
    "shape": ("log_stems", "position", "log_sentences", "log_document_words"),
}
FEATURES: tuple[str, ...] = tuple(name for names in GROUPS.values() for name in names)

_HEDGES = frozenset(
    [
        "may",
        "might",
        "could",
        "possibly",
        "likely",
        "probably",
        "perhaps",
        "potentially",
        "suggest",
        "suggests",
        "suggested",
        "seem",
        "seems",
        "appear",
        "appears",
        "apparently",
        "presumably",
    ]
)
# Words of judgement a summary adds on its own ("a significant step", "crucial for"): the
# likeliest "baseless information" when no document uses them.
_EVALUATIVE = frozenset(
    stem(w)
    for w in [
        "important",
        "importance",
        "significant",
        "significantly",
        "crucial",
        "essential",
        "key",
        "vital",
        "major",
        "notable",
        "notably",
        "remarkable",
        "successful",
        "success",
        "effective",
        "effectively",
        "beneficial",
        "valuable",
        "unique",
        "popular",
        "ultimately",
        "highlight",
        "highlights",
        "highlighting",
        "emphasize",
        "emphasizes",
        "underscore",
        "underscores",
        "demonstrate",
        "demonstrates",
        "commitment",
        "dedication",
        "impact",
        "impacts",
        "overall",
        "recommend",
        "recommended",
        "strong",
        "strongly",
    ]
)
_REFUSAL = re.compile(
    r"\b(?:do(?:es)?\s*n[o']t|did\s*n[o']t|not)\s+(?:\w+\s+){0,2}(?:mention|provide|specify|say|state|contain|"
    r"include|give|indicate|offer|address)|\bno\s+(?:specific\s+)?(?:information|mention|details?)\b|"
    r"\bunable\s+to\b|\bcannot\s+(?:be\s+)?(?:answer|determin)|\bnot\s+(?:mentioned|specified|provided|stated)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|me|my|we|our|us)\b")
_CLAUSE = re.compile(r"[,;:()\u2014\u2013]|\s-\s|\b(?:and|but|which|while|whereas|although|because|who)\b")
_CITED = re.compile(r"\b(?:passages?|documents?|sources?)\s*#?(\d{1,2})\b", re.IGNORECASE)


def features(
    index: DocumentIndex,
    sentence: SentenceView,
    claims: Claims,
    position: int,
    n_sentences: int,
) -> list[float]:
    """The feature vector of one sentence, in the order of ``FEATURES``."""
    stems = sentence.stems
    unique = set(stems)
    coverage = index.coverage(sentence)
    if coverage:
        best = max(range(len(coverage)), key=lambda i: coverage[i][1])
        doc_cov = max(c[0] for c in coverage)
        win_cov, win_negated = coverage[best][1], coverage[best][2]
    else:
        best = -1
        doc_cov = win_cov = 0.0 if unique else 1.0
        win_negated = False
    missing = [s for s in unique if not index.known(s)]
    best_doc = index.doc_stems[best] if best >= 0 else frozenset()
    missing_idf = [index.idf(s) for s in unique if s not in best_doc]
    lower = sentence.text.lower()
    return [
        # coverage
        1.0 - doc_cov,
        1.0 - win_cov,
        len(missing) / len(unique) if unique else 0.0,
        max(missing_idf, default=0.0) / 5.0,
        min(sum(missing_idf) / 10.0, 3.0),
        # order
        _uncovered_bigrams(index, stems),
        index.uncopied_share(sentence),
        # clauses
        1.0 - _worst_clause(index, sentence),
        _missing_run(stems, best_doc) / max(1, len(stems)),
        # claims
        1.0 if claims.numbers else 0.0,
        float(min(len(claims.entities), 3)),
        index.number_context(sentence),
        # citation
        _citation_gap(index, sentence, coverage),
        # style
        float(min(sum(1 for t in sentence.toks if t.lower in _HEDGES), 2)),
        float(min(sum(1 for s in unique if s in _EVALUATIVE and s not in best_doc), 2)),
        1.0 if _REFUSAL.search(lower) else 0.0,
        1.0 if not unique or sentence.text.rstrip().endswith(":") else 0.0,
        1.0 if sentence.negated and not win_negated else 0.0,
        1.0 if _FIRST_PERSON.search(sentence.text) else 0.0,
        # shape
        math.log1p(len(unique)),
        position / (n_sentences - 1) if n_sentences > 1 else 0.0,
        math.log(max(1, n_sentences)),
        math.log1p(index.word_count) / 8.0,
    ]


def _uncovered_bigrams(index: DocumentIndex, stems: Sequence[str]) -> float:
    pairs = list(itertools.pairwise(stems))
    if not pairs:
        return 0.0
    return sum(1 for p in pairs if p not in index.bigrams) / len(pairs)


def _worst_clause(index: DocumentIndex, sentence: SentenceView) -> float:
    """The (unweighted) share of stems found in some document, in the sentence's least
    covered clause of at least two content words."""
    worst = 1.0
    bounds = [0, *(m.start() for m in _CLAUSE.finditer(sentence.text)), len(sentence.text)]
    toks = sentence.toks
    k = 0
    for lo, hi in itertools.pairwise(bounds):
        clause = []
        while k < len(toks) and toks[k].start < hi:
            if toks[k].start >= lo:
                clause.append(toks[k])
            k += 1
        clause_stems = [s for s in index.stems_of(clause) if s not in index.question_stems]
        if len(clause_stems) >= 2:
            worst = min(worst, sum(1 for s in clause_stems if index.known(s)) / len(clause_stems))
    return worst


def _missing_run(stems: Sequence[str], known: frozenset[str]) -> int:
    longest = run = 0
    for s in stems:
        run = run + 1 if s not in known else 0
        longest = max(longest, run)
    return longest


def _citation_gap(index: DocumentIndex, sentence: SentenceView, coverage: list[tuple[float, float, bool]]) -> float:
    """How much less the passage the sentence cites covers it than the best document does
    (0 when it cites none, or one that does not exist)."""
    cited = [int(m.group(1)) - 1 for m in _CITED.finditer(sentence.text)]
    cited = [c for c in cited if 0 <= c < len(coverage)]
    if not cited or not sentence.stems:
        return 0.0
    best = max(c[0] for c in coverage)
    return best - max(coverage[c][0] for c in cited)
