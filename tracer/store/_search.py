"""Full-text search: a word index over span content, built off the application's path.

DuckDB's ``fts`` extension cannot be downloaded here and ``ILIKE`` over every attribute
scans gigabytes (2+ s on 1M spans), so we keep our own inverted index in the store:
``search_terms(term UINTEGER, seq BIGINT)``, one row per distinct word per span, where
``term`` is the CRC-32 of the lower-cased word.

Tokenising costs about as much as ingesting, so writers (the user's app) never do it.
Readers do it incrementally: ``index_pending`` takes the write lock for one chunk of a few
thousand spans at a time (writers spool meanwhile, so nothing waits long) and records how
far it got in ``spyglass_meta.search_indexed_seq``. Each chunk is inserted sorted by term,
so within a chunk consecutive row groups cover consecutive term ranges and DuckDB's zone
maps read about one row group per chunk for a lookup. Spans beyond the indexed point are
searched by a scan, so results are complete while the index catches up.

Matching is by whole words, case-insensitive, all words required (like other full-text
engines); very common words (``STOP_WORDS``) are not indexed and are checked on the
candidates instead.

A query word ending in ``*`` (``batt*``) matches the words that begin with it. The indexer
also keeps ``search_words(term, word)``, each distinct indexed word once (schema version 6),
so that a prefix becomes the terms of the words it begins (a range read of that table), then
the usual lookup, any of those terms standing for the prefix. A prefix that begins a stop
word (those are not in the index) or more than ``MAX_PREFIX_TERMS`` words is checked by its
regular expression only, as stop words are. A query that is one hex id prefix (6 to 32 hex
digits, see :func:`parse`) also matches the traces whose trace id or any span id begins
with it: a range on the id columns, no index needed.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from .. import attributes as A
from ._connect import STORE, StoreNotFound, open_write
from ._schema import migrate

WORD = re.compile(r"\w{2,40}")
# What the indexer keeps: whole words of 2 to 40 characters. A longer run of word characters
# (a hash, base64) is no word anyone searches for, and a piece of it indexed as a word would
# be a false match once the index's answer is taken as exact (reader._index_is_exact).
_WHOLE_WORD = re.compile(r"(?<!\w)\w{2,40}(?!\w)")
MAX_WORD = 40
# A query's words: a longer one is looked for by its pattern alone, as a stop word is.
_QUERY_WORD = re.compile(r"\w{2,}")
# JSON escapes become spaces so that "\nHello" yields "hello", not "nhello".
_ESCAPE = re.compile(r"\\+[nrtbf\"\\/]")
_ENGLISH = (
    "the a an and or of to in on at for by with is are was were be been it its this that these those "
    "as from not no but if then so do does did has have had will would can could should i you he she we "
    "they me him her us them my your our their what which who whom how when where why"
)
_JSON_KEYS = (
    "role content parts type text id score metadata finish_reason assistant user system tool true false "
    "null value name arguments function call mime_type application json plain"
)


def _key_words() -> set[str]:
    keys = [v for k, v in vars(A).items() if k.isupper() and isinstance(v, str)]
    return {w for key in keys for w in WORD.findall(key.lower())}


STOP_WORDS = frozenset(_ENGLISH.split()) | frozenset(_JSON_KEYS.split()) | frozenset(_key_words())
INDEXED_KEY = "search_indexed_seq"
#: What is searched in a span: its name, status message (the error) and every attribute.
SEARCHED_TEXT = "concat_ws(' ', name, status_message, attributes::VARCHAR)"


def words(text: str) -> set[str]:
    return {w for w in _WHOLE_WORD.findall(_ESCAPE.sub(" ", text).lower()) if w not in STOP_WORDS}


def term(word: str) -> int:
    return zlib.crc32(word.encode("utf-8"))


def indexed(word: str) -> bool:
    """Whether the index holds ``word`` (a query word): not a stop word, not too long."""
    return word not in STOP_WORDS and len(word) <= MAX_WORD


def query_words(text: str) -> tuple[list[str], list[str]]:
    """``(indexed words, all words)`` of a query's whole words (its prefixes left out)."""
    every = list(parse(text).words)
    return [w for w in every if indexed(w)], every


# "batt*": the words beginning with "batt". Two characters at least, as an indexed word has.
_PREFIX = re.compile(r"(\w{2,40})\*")
# A query that is only this is also an id prefix: 6 hex digits give one span in 16 million.
_HEX_ID = re.compile(r"([0-9a-f]{6,32})\*?")
#: A prefix beginning more indexed words than this is checked by regular expression instead
#: (its terms would make the lookup read most of ``search_terms`` anyway).
MAX_PREFIX_TERMS = 2_000


@dataclass(frozen=True)
class Query:
    """A search query as the store reads it: every word required, each prefix required."""

    words: tuple[str, ...] = ()  # whole words, lower-cased, stop words included
    prefixes: tuple[str, ...] = ()  # the beginnings of words ("batt" of "batt*"), lower-cased
    id_prefix: str | None = None  # the query is one hex id prefix (lower-cased)

    @property
    def empty(self) -> bool:
        return not self.words and not self.prefixes

    def patterns(self) -> list[str]:
        """RE2 patterns a matching span's text matches, one per word and prefix."""
        return [word_regex(w) for w in self.words] + [prefix_regex(p) for p in self.prefixes]


def parse(text: str) -> Query:
    """The words and prefixes of a query (each once, in order), and its id prefix if it is one."""
    lowered = text.lower()
    prefixes = list(dict.fromkeys(_PREFIX.findall(lowered)))
    words = list(dict.fromkeys(_QUERY_WORD.findall(_PREFIX.sub(" ", lowered))))
    hex_id = _HEX_ID.fullmatch(lowered.strip())
    return Query(tuple(words), tuple(prefixes), hex_id.group(1) if hex_id else None)


def as_prefixes(text: str) -> str | None:
    """The query with each whole word made a prefix ("batt" -> "batt*"), or ``None`` when it
    has no whole word to widen: what the viewer offers when whole words match nothing."""
    query = parse(text)
    if not query.words:
        return None
    return " ".join(f"{w}*" for w in (*query.words, *query.prefixes))


# A word starts at the text's start, after a non-word character, or right after a JSON escape
# ("\nHello" holds "hello"), as the indexer reads it (``_ESCAPE``).
_WORD_START = r"(?i)(^|\W|\\[nrtbf])"


def word_regex(word: str) -> str:
    """An RE2 pattern matching ``word`` as a whole word, for verifying candidates."""
    return _WORD_START + re.escape(word) + r"($|\W)"


def prefix_regex(prefix: str) -> str:
    """An RE2 pattern matching a word that begins with ``prefix``."""
    return _WORD_START + re.escape(prefix)


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """``[low, high)``: the strings that begin with ``prefix``, as a range (zone maps prune it)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def prefix_of_stop_word(prefix: str) -> bool:
    """Whether a stop word (never indexed) begins with ``prefix``: the index cannot answer it."""
    return any(w.startswith(prefix) for w in STOP_WORDS)


def indexed_seq(con: duckdb.DuckDBPyConnection, catalog: str = STORE) -> int:
    try:
        rows = con.execute(f"SELECT value FROM {catalog}.spyglass_meta WHERE key = ?", [INDEXED_KEY]).fetchall()
    except duckdb.CatalogException:  # an empty file a writer has not set up yet: nothing indexed
        return 0
    return int(rows[0][0]) if rows else 0


def _terms(rows: Iterable[tuple[int, str]]) -> tuple[pa.Table, pa.Table]:
    """A chunk's ``search_terms`` rows, and its distinct words with their terms."""
    terms: list[int] = []
    seqs: list[int] = []
    vocabulary: dict[str, int] = {}
    for seq, text in rows:
        for word in words(text or ""):
            t = vocabulary.get(word)
            if t is None:
                t = vocabulary[word] = term(word)
            terms.append(t)
            seqs.append(seq)
    return (
        pa.table({"term": pa.array(terms, pa.uint32()), "seq": pa.array(seqs, pa.int64())}),
        pa.table({"term": pa.array(list(vocabulary.values()), pa.uint32()), "word": list(vocabulary)}),
    )


def index_pending(
    path: str, *, chunk: int = 4_000, budget_s: float | None = None, lock_timeout: float = 2.0
) -> tuple[int, int]:
    """Index spans not yet indexed, chunk by chunk, for at most ``budget_s`` seconds
    (``None``: until done). Returns ``(indexed_seq, max_seq)``; stops early, without
    error, when the store stays busy."""
    if not os.path.exists(path):  # never create a store just to index it
        raise StoreNotFound(
            f"no Spyglass store at {path} yet: run your traced app (or `spyglass demo`) "
            f"first, or pass the right --db / SPYGLASS_DB"
        )
    deadline = None if budget_s is None else time.monotonic() + budget_s
    done, top = 0, 0
    while True:
        con = open_write(path, lock_timeout)
        if con is None:
            return done, top
        try:
            migrate(con, STORE, path)  # refuses a foreign or newer file; upgrades an older one
            done = indexed_seq(con)
            top = con.execute(f"SELECT COALESCE(max(seq), 0) FROM {STORE}.spans").fetchall()[0][0]
            if done >= top:
                return done, top
            rows = con.execute(
                f"SELECT seq, {SEARCHED_TEXT} FROM {STORE}.spans WHERE seq > ? AND seq <= ? ORDER BY seq",
                [done, done + chunk],
            ).fetchall()
            new = min(done + chunk, top)
            table, vocabulary = _terms(rows)
            con.execute("BEGIN TRANSACTION")
            con.register("_spyglass_terms", table)
            con.register("_spyglass_words", vocabulary)
            con.execute(f"INSERT INTO {STORE}.search_terms SELECT term, seq FROM _spyglass_terms ORDER BY term, seq")
            # The words new to the vocabulary, sorted, so that a prefix's range reads few row groups.
            con.execute(
                f"INSERT INTO {STORE}.search_words SELECT term, word FROM _spyglass_words w WHERE NOT EXISTS "
                f"(SELECT 1 FROM {STORE}.search_words v WHERE v.word = w.word) ORDER BY word"
            )
            con.unregister("_spyglass_words")
            con.unregister("_spyglass_terms")
            con.execute(f"UPDATE {STORE}.spyglass_meta SET value = ? WHERE key = ?", [str(new), INDEXED_KEY])
            con.execute("COMMIT")
            done = new
        finally:
            con.close()
        if deadline is not None and time.monotonic() >= deadline:
            return done, top
