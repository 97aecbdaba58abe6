"""Words, stems and numbers: the vocabulary every lexical check here shares.

Kept deliberately small and deterministic: a light suffix-stripping stemmer (no Porter
tables, no dependency), a stopword list of function words plus the boilerplate LLMs wrap
answers in ("based on the passages"), and number normalisation so that "4,000", "4000" and
"four thousand" are one value, and "3.50" equals "3.5".
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "NEGATIONS",
    "STOPWORDS",
    "Token",
    "content_stems",
    "normalize_number",
    "spelled_numbers",
    "stem",
    "tokens",
]

# Words that carry no claim. Function words, auxiliaries, and the phrases models use to
# cite or hedge ("according to the passage", "it is mentioned"): a sentence must not look
# grounded or ungrounded because of them.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "yet",
        "if",
        "then",
        "else",
        "than",
        "as",
        "of",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "onto",
        "on",
        "off",
        "out",
        "over",
        "under",
        "up",
        "down",
        "to",
        "toward",
        "towards",
        "with",
        "within",
        "without",
        "about",
        "above",
        "below",
        "across",
        "after",
        "afterwards",
        "against",
        "along",
        "among",
        "around",
        "before",
        "behind",
        "beneath",
        "beside",
        "besides",
        "between",
        "beyond",
        "during",
        "except",
        "inside",
        "near",
        "since",
        "through",
        "throughout",
        "till",
        "until",
        "upon",
        "via",
        "per",
        "i",
        "me",
        "my",
        "mine",
        "myself",
        "we",
        "us",
        "our",
        "ours",
        "ourselves",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "he",
        "him",
        "his",
        "himself",
        "she",
        "her",
        "hers",
        "herself",
        "it",
        "its",
        "itself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "one",
        "ones",
        "this",
        "that",
        "these",
        "those",
        "who",
        "whom",
        "whose",
        "which",
        "what",
        "whatever",
        "whichever",
        "whoever",
        "when",
        "whenever",
        "where",
        "wherever",
        "why",
        "how",
        "am",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "have",
        "has",
        "had",
        "having",
        "do",
        "does",
        "did",
        "doing",
        "done",
        "get",
        "gets",
        "got",
        "getting",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "ought",
        "let",
        "lets",
        "not",
        "no",
        "never",
        "none",
        "nothing",
        "nobody",
        "neither",
        "either",
        "both",
        "each",
        "every",
        "all",
        "any",
        "some",
        "such",
        "many",
        "much",
        "more",
        "most",
        "few",
        "fewer",
        "less",
        "least",
        "other",
        "others",
        "another",
        "same",
        "own",
        "only",
        "just",
        "also",
        "too",
        "very",
        "quite",
        "rather",
        "really",
        "even",
        "still",
        "already",
        "again",
        "ever",
        "once",
        "here",
        "there",
        "now",
        "thus",
        "hence",
        "therefore",
        "however",
        "although",
        "though",
        "while",
        "whereas",
        "because",
        "whether",
        "also",
        "etc",
        "ie",
        "eg",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "st",
        "nd",
        "rd",
        "th",
        "based",
        "provided",
        "according",
        "passage",
        "passages",
        "text",
        "article",
        "context",
        "document",
        "documents",
        "information",
        "mentioned",
        "mention",
        "mentions",
        "stated",
        "states",
        "state",
        "note",
        "noted",
        "notes",
        "given",
        "described",
        "describes",
        "summary",
        "summarize",
        "summarized",
        "overall",
        "additionally",
        "furthermore",
        "moreover",
        "instance",
        "example",
        "include",
        "includes",
        "including",
        "specifically",
        "generally",
        "typically",
        "usually",
        "often",
        "certain",
        "various",
    ]
)

NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nor",
        "neither",
        "nobody",
        "nothing",
        "nowhere",
        "without",
        "cannot",
        "cant",
        "can't",
        "won't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "hasn't",
        "haven't",
        "hadn't",
        "shouldn't",
        "wouldn't",
        "couldn't",
        "n't",
        "unable",
        "fail",
        "fails",
        "failed",
        "lack",
        "lacks",
    ]
)

_SUFFIXES = (
    "ational",
    "fulness",
    "ousness",
    "iveness",
    "ements",
    "ement",
    "ments",
    "ment",
    "nesses",
    "ness",
    "ities",
    "ity",
    "ations",
    "ation",
    "ings",
    "ing",
    "ingly",
    "edly",
    "ied",
    "ies",
    "ers",
    "er",
    "ed",
    "ly",
    "es",
    "s",
)

_SMALL = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "twelfth": 12,
    "twentieth": 20,
    "dozen": 12,
    "half": 0.5,
}
_SCALE = {
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}

# A word (with inner apostrophes or hyphens) or a number with thousands separators,
# decimals, and an ordinal suffix ("1st", "2,500", "3.5", "20th").
_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?(?![A-Za-z])|\d+[A-Za-z]+|(?:[A-Za-z]\.){2,}(?![A-Za-z])"
    r"|[^\W\d_]+(?:['\u2019-][^\W\d_]+)*"
)
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)(?:st|nd|rd|th|s)?")


class Token:
    """One word or number of a text, with its position (for reporting it)."""

    __slots__ = ("end", "lower", "number", "start", "text")

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text = text
        self.start = start
        self.end = end
        lower = text.lower().replace("\u2019", "'")
        lower = lower.removesuffix("'s")
        self.lower = lower.rstrip(".")
        self.number: str | None = None
        match = _NUMBER.fullmatch(text)
        if match:
            self.number = normalize_number(match.group(1))
        elif self.lower in _SMALL:
            self.number = _format(_SMALL[self.lower])
        elif "-" in self.lower:  # "twenty-five"
            parts = self.lower.split("-")
            if len(parts) == 2 and parts[0] in _SMALL and parts[1] in _SMALL:
                self.number = _format(_SMALL[parts[0]] + _SMALL[parts[1]])

    @property
    def capitalized(self) -> bool:
        return self.text[0].isupper()


def tokens(text: str) -> list[Token]:
    """The words and numbers of ``text`` with their offsets."""
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def normalize_number(raw: str) -> str:
    """One spelling per value: "4,000" and "4000" -> "4000"; "3.50" -> "3.5"; "1.5" stays.

    A comma followed by exactly three digits groups thousands; any other comma is a decimal
    mark (European "3,5"). Values that do not parse are returned as written.
    """
    text = raw
    if "," in text:
        parts = text.split(",")
        if all(len(p) == 3 for p in parts[1:]) and "." not in parts[0]:
            text = "".join(parts)
        elif text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        else:
            text = text.replace(",", "")
    if text.count(".") > 1:  # a version or a date ("3.11.7", "12.05.2020"): keep as written
        return text
    try:
        return _format(float(text))
    except ValueError:  # pragma: no cover - the regex only lets digits and separators through
        return raw


def spelled_numbers(toks: list[Token]) -> list[tuple[int, int, str]]:
    """Values of multi-word numbers ("two million", "twenty-five", "3.5 million"):
    ``(first token index, last token index, value)``."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        base = _word_value(tok)
        if base is None:
            i += 1
            continue
        value, j = base, i
        while j + 1 < len(toks) and toks[j + 1].lower in _SCALE:
            value *= _SCALE[toks[j + 1].lower]
            j += 1
        if j > i:
            out.append((i, j, _format(value)))
        i = j + 1
    return out


def _word_value(tok: Token) -> float | None:
    if tok.number is None:
        return None
    try:
        return float(tok.number)
    except ValueError:  # a version or a date
        return None


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light stem: possessive, one suffix and a final "e" removed ("organizations",
    "organized", "organize" -> "organiz"). Conflates a little too much rather than too
    little: a false match costs less here than a missed paraphrase."""
    word = word.removesuffix("'s")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied", "ities", "ity"):
                word += "i"
            break
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "ls":  # "stopp" -> "stop"
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def content_stems(toks: list[Token]) -> list[str]:
    """Stems of the claim-bearing tokens: numbers as their value, words stemmed, stopwords out.

    Spelled small numbers ("two") count as words too: "two" is as often a determiner as a
    claim, and the number check (see ``_claims``) looks at values separately."""
    out = []
    for tok in toks:
        if tok.number is not None and tok.lower not in _SMALL:
            out.append("#" + tok.number)
        elif tok.lower in _SCALE:
            continue
        elif len(tok.lower) > 1 and tok.lower not in STOPWORDS:
            out.append(stem(tok.lower))
    return out
