"""What the documents (and the question) say, indexed once per call.

A :class:`DocumentIndex` holds, for each document, its content stems, the stems of every
window of consecutive sentences, and the words and numbers it mentions. It answers three
questions about a sentence of the output:

* how much of the sentence's content each document covers, weighting each stem by its
  inverse document frequency over the documents' sentences (a stem that no document
  sentence contains weighs the most: it is the likeliest invention);
* which numbers of the sentence no document (and not the question) mentions;
* which capitalised names of the sentence no document (and not the question) mentions.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._sentences import split_sentences
from ._text import NEGATIONS, STOPWORDS, Token, content_stems, spelled_numbers, stem, tokens

__all__ = ["WINDOW", "Claims", "DocumentIndex", "SentenceView", "view"]

#: Consecutive document sentences compared with one output sentence. Two: an output
#: sentence often fuses two neighbouring source sentences, rarely more.
WINDOW = 2

# Formatting, not claims: citation markers and leading list markers.
_CITATION = re.compile(
    r"\(?\b(?:passages?|documents?|docs?|sources?|context)\s*#?\d+(?:\s*(?:,|and|&|-|to)\s*\d+)*\)?"
    r"|\[\d+(?:\s*[,-]\s*\d+)*\]",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^\s*(?:(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,4})[.)]|[-*\u2022#>]+|\(\d{1,3}\))\s+")
# Contact details and addresses: made up, they send a user somewhere no document mentions.
_IDENTIFIER = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\bhttps?://[^\s)\]>\"']+|\bwww\.[\w-]+(?:\.[\w-]+)+", re.IGNORECASE
)
_ENUMERATOR = re.compile(
    r"\b(?:step|option|part|phase|stage|tip|method|way|point|reason|number|no|#)"
    r"\s*\.?\s*\d{1,3}\b",
    re.IGNORECASE,
)


@dataclass
class SentenceView:
    """A sentence of the output as the checks see it: its claim tokens and content stems."""

    text: str
    toks: list[Token]
    stems: list[str]
    offset: int = 0  # where the cleaned text starts in the sentence (list marker removed)
    negated: bool = False


@dataclass
class Claims:
    """Numbers and names in a sentence that no document and not the question mention."""

    numbers: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)


def _blank(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())  # keep offsets: blank out, never delete


def view(sentence: str, question_stems: frozenset[str] = frozenset()) -> SentenceView:
    """Tokens of ``sentence`` without list markers, citations and enumerators."""
    cleaned = _LIST_MARKER.sub(_blank, sentence, count=1)
    cleaned = _CITATION.sub(_blank, cleaned)
    cleaned = _ENUMERATOR.sub(lambda m: m.group(0)[:1] + " " * (len(m.group(0)) - 1), cleaned)
    toks = tokens(cleaned)
    stems = [s for s in content_stems(toks) if s not in question_stems]
    offset = len(sentence) - len(sentence.lstrip()) if not toks else toks[0].start
    return SentenceView(sentence, toks, stems, offset, any(t.lower in NEGATIONS for t in toks))


class DocumentIndex:
    """Stems, words and numbers of ``documents`` and ``question``, for one ``check`` call."""

    def __init__(self, documents: Sequence[str], question: str | None = None) -> None:
        self.documents = tuple(documents)
        self.question = question
        q_toks = tokens(question or "")
        self.question_stems = frozenset(content_stems(q_toks))
        self.doc_stems: list[frozenset[str]] = []
        self.windows: list[list[frozenset[str]]] = []
        self.window_negated: list[list[bool]] = []
        self.words: set[str] = set()  # lower-case words and their stems, any document
        self.numbers: set[str] = set()  # normalised values, any document
        self.bigrams: set[tuple[str, str]] = set()  # consecutive content stems of a document sentence
        self._trigrams: set[tuple[str, str, str]] = set()  # consecutive word stems, stopwords kept
        self._number_context: dict[str, set[str]] = {}  # value -> stems of the sentences holding it
        self.word_count = 0
        self._text = "\n".join([*self.documents, question or ""]).lower()
        df: Counter[str] = Counter()
        n_sentences = 0
        for doc in self.documents:
            sentence_stems: list[frozenset[str]] = []
            sentence_neg: list[bool] = []
            for start, end in split_sentences(doc):
                toks = tokens(doc[start:end])
                ordered = content_stems(toks)
                stems = frozenset(ordered)
                self.bigrams.update(itertools.pairwise(ordered))
                words = [stem(t.lower) for t in toks]
                self._trigrams.update(zip(words, words[1:], words[2:]))
                self.word_count += len(toks)
                for tok in toks:
                    if tok.number is not None:
                        self._number_context.setdefault(tok.number, set()).update(stems)
                sentence_stems.append(stems)
                sentence_neg.append(any(t.lower in NEGATIONS for t in toks))
                df.update(stems)
                n_sentences += 1
                self._add_vocabulary(toks)
            windows = (
                [
                    frozenset().union(*sentence_stems[i : i + WINDOW])
                    for i in range(max(1, len(sentence_stems) - WINDOW + 1))
                ]
                if sentence_stems
                else []
            )
            self.windows.append(windows)
            self.window_negated.append(
                [any(sentence_neg[i : i + WINDOW]) for i in range(max(1, len(sentence_neg) - WINDOW + 1))]
            )
            self.doc_stems.append(frozenset().union(*sentence_stems) if sentence_stems else frozenset())
        self._add_vocabulary(q_toks)
        self._all_stems = frozenset().union(*self.doc_stems) if self.doc_stems else frozenset()
        self._n = n_sentences
        self._df = df

    def _add_vocabulary(self, toks: list[Token]) -> None:
        for tok in toks:
            if tok.number is not None:
                self.numbers.add(tok.number)
                if "." in tok.number:  # "2.5" also admits the "2" and "5" written around it
                    self.numbers.update(p.lstrip("0") or "0" for p in tok.number.split("."))
            self.words.add(tok.lower)
            self.words.add(stem(tok.lower))
        for _, _, value in spelled_numbers(toks):
            self.numbers.add(value)

    def known(self, stem_: str) -> bool:
        """Whether any document contains ``stem_``."""
        return stem_ in self._all_stems

    def stems_of(self, toks: list[Token]) -> list[str]:
        return content_stems(toks)

    def uncopied_share(self, sentence: SentenceView) -> float:
        """The share of the sentence's words that are in no run of three consecutive words
        found in a document (stems compared, stopwords kept)."""
        words = [stem(t.lower) for t in sentence.toks]
        if len(words) < 3:
            return 0.0
        copied = [False] * len(words)
        for i in range(len(words) - 2):
            if (words[i], words[i + 1], words[i + 2]) in self._trigrams:
                copied[i] = copied[i + 1] = copied[i + 2] = True
        return copied.count(False) / len(words)

    def number_context(self, sentence: SentenceView) -> float:
        """For the numbers of the sentence that some document mentions: the largest share of
        the content words around one (three either side) that no document sentence holding
        that number has. A right number in the wrong company ("3 months" for "3 years")."""
        toks = sentence.toks
        worst = 0.0
        for i, tok in enumerate(toks):
            if tok.number is None or not tok.text[0].isdigit() or tok.number not in self._number_context:
                continue
            around = [
                s
                for s in content_stems(toks[max(0, i - 3) : i] + toks[i + 1 : i + 4])
                if not s.startswith("#") and s not in self.question_stems
            ]
            if around:
                context = self._number_context[tok.number]
                worst = max(worst, sum(1 for s in around if s not in context) / len(around))
        return worst

    def idf(self, stem_: str) -> float:
        return math.log(1.0 + (self._n + 1) / (self._df.get(stem_, 0) + 0.5))

    def coverage(self, sentence: SentenceView) -> list[tuple[float, float, bool]]:
        """Per document: (IDF-weighted share of the sentence's stems found in the document,
        the same in its best window of consecutive sentences, whether that window negates)."""
        stems = set(sentence.stems)
        if not stems:
            return [(1.0, 1.0, False)] * len(self.documents)
        weights = {s: self.idf(s) for s in stems}
        total = sum(weights.values())
        out = []
        for doc_stems, windows, negs in zip(self.doc_stems, self.windows, self.window_negated):
            doc_cov = sum(w for s, w in weights.items() if s in doc_stems) / total
            best, best_neg = 0.0, False
            for win, neg in zip(windows, negs):
                cov = sum(w for s, w in weights.items() if s in win)
                if cov > best:
                    best, best_neg = cov, neg
            out.append((doc_cov, best / total, best_neg))
        return out

    def claims(self, sentence: SentenceView) -> Claims:
        """Numbers, capitalised names, e-mail addresses and URLs of the sentence found in no
        document nor the question."""
        found = Claims()
        for match in _IDENTIFIER.finditer(sentence.text):
            address = match.group(0).rstrip(".,;:!?")
            if address.lower() not in self._text:
                found.entities.append(address)
        toks = sentence.toks
        spelled = {i: value for first, last, value in spelled_numbers(toks) for i in range(first, last + 1)}
        for i, tok in enumerate(toks):
            if tok.number is not None and tok.text[0].isdigit():
                value = spelled.get(i, tok.number)
                if value not in self.numbers and tok.number not in self.numbers:
                    found.numbers.append(tok.text)
            elif i in spelled and tok.lower not in ("hundred", "thousand", "million", "billion", "trillion"):
                if spelled[i] not in self.numbers and tok.number not in self.numbers:
                    found.numbers.append(tok.text)
            elif (
                tok.number is None and tok.text[0].isupper() and len(tok.text) > 1 and _mid_sentence(sentence.text, tok)
            ):
                if tok.lower in STOPWORDS or tok.lower in self.words or stem(tok.lower) in self.words:
                    continue
                found.entities.append(tok.text)
        return found


def _mid_sentence(text: str, tok: Token) -> bool:
    """Whether a capital at ``tok`` marks a name rather than the start of a sentence, a list
    item, a quotation or a clause after a colon."""
    before = text[: tok.start].rstrip(" \t\"'\u201c\u2018([*-")
    return bool(before) and before[-1] not in ":.!?;\u2022" and not _LIST_MARKER.fullmatch(text[: tok.start] + " ")
