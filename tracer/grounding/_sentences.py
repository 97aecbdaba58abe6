"""Offset-preserving sentence splitter.

Every span it returns indexes the input exactly (``text[start:end]`` is the sentence, with
surrounding whitespace trimmed), so a highlight in the viewer lands on the right characters.

Rules, in order:

* a line break ends a sentence: LLM answers use lines for list items and paragraphs, and an
  item without a final period ("* Building muscle strength") is still a unit;
* inside a line, a sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus closing quotes and
  brackets) followed by whitespace and a capital letter, a digit, or an opening quote or
  bracket before one;
* no boundary after a list marker alone ("1.", "b)", "iv."), a single initial ("J."), a dotted
  acronym ("U.S.", "e.g.") or a known abbreviation ("Dr.", "approx.", "Jan.");
* decimals ("2.5"), versions ("3.11.7") and URLs never split: a digit or letter follows the dot.
"""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

_END = re.compile(r"(?:[.!?]+|\u2026)[\"'\)\]\u201d\u2019]*(?=\s+[\"'\(\[\u201c\u2018]*[A-Z0-9])")
_LINE = re.compile(r"[^\r\n\u2028\u2029]+")
_MARKER = re.compile(r"(?:\d{1,3}|[A-Za-z]|[ivxlcdm]{1,6}|[IVXLCDM]{1,6})[.)]")
_LAST_WORD = re.compile(r"[\(\[\"'\u201c]*([^\s\(\[\"'\u201c]+)$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")

# Lower-case, without the final dot. Titles, Latin, units and months: each is usually
# followed by a capital or a number that does not start a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "ft",
        "rev",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "gov",
        "sen",
        "rep",
        "pres",
        "hon",
        "inc",
        "ltd",
        "co",
        "corp",
        "llc",
        "dept",
        "univ",
        "assn",
        "bros",
        "vs",
        "etc",
        "al",
        "cf",
        "approx",
        "est",
        "fig",
        "figs",
        "no",
        "nos",
        "vol",
        "vols",
        "pp",
        "ed",
        "eds",
        "ch",
        "sec",
        "art",
        "op",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "u.s",
        "u.k",
    ]
)


def _is_abbreviation(text: str, seg_start: int, dot: int) -> bool:
    """Whether the ``.`` at ``dot`` closes an abbreviation, an initial or a list marker."""
    head = text[seg_start : dot + 1].strip()
    if _MARKER.fullmatch(head):
        return True
    match = _LAST_WORD.search(text, seg_start, dot)
    if not match:
        return False
    word = match.group(1)
    return word.lower() in _ABBREVIATIONS or bool(_INITIALS.fullmatch(word))


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of each sentence of ``text``, in order, never empty."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        seg_start = line.start()
        for end in _END.finditer(text, line.start(), line.end()):
            if (
                text[end.start()] == "."
                and end.end() - end.start() == 1
                and _is_abbreviation(text, seg_start, end.start())
            ):
                continue
            start, stop = _trimmed(text, seg_start, end.end())
            if stop > start:
                spans.append((start, stop))
            seg_start = end.end()
        start, stop = _trimmed(text, seg_start, line.end())
        if stop > start:
            spans.append((start, stop))
    return spans
