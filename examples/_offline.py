"""What the RAG examples share: offline stand-ins (a knowledge base, a word-hashing embedding
and a scripted "model"), the app's guardrail, and the command line. Nothing here is a real
model; it lets the examples run with no API key and no download, and plants one
hallucination for the viewer to find.

Swap the stand-ins for your own embedding and model: the tracing does not change.
"""

from __future__ import annotations

import argparse
import math
import re
import zlib

import tracer

__all__ = ["KB", "PLANTED", "QUESTIONS", "arguments", "embed", "report", "stand_in_answer", "tone_guard", "usage"]

# (id, text, metadata): a product's support articles.
KB: list[tuple[str, str, dict[str, str]]] = [
    (
        "kb-battery",
        "The Orbit thermostat runs on two AA batteries, which last about 18 months.",
        {"source": "manual.pdf", "page": "4"},
    ),
    (
        "kb-wifi",
        "Orbit connects to 2.4 GHz Wi-Fi networks only; 5 GHz networks are not supported.",
        {"source": "manual.pdf", "page": "7"},
    ),
    (
        "kb-warranty",
        "Every Orbit thermostat comes with a two-year limited warranty that covers defects, not water damage.",
        {"source": "warranty.md"},
    ),
    (
        "kb-reset",
        "To reset Orbit, hold the dial down for 10 seconds until the screen turns blue.",
        {"source": "faq.md"},
    ),
]

QUESTIONS = [
    "How long do the batteries in the Orbit thermostat last?",
    "Does Orbit work with 5 GHz Wi-Fi?",
    "What does the Orbit warranty cover?",
]
# The question the stand-in gets wrong, and what it says: the document says two years and no
# water damage. This is the answer the grounding check should flag.
PLANTED = {QUESTIONS[2]: "The Orbit warranty lasts 5 years and covers water damage and accidental drops."}

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "do",
        "does",
        "for",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "the",
        "to",
        "what",
        "which",
        "with",
    ]
)
DIMENSIONS = 512


def _words(text: str) -> list[str]:
    # Crude stemming ("covers" ~ "cover") so that a question finds its article.
    return [w.removesuffix("s") for w in _WORD.findall(text.lower()) if w not in _STOP]


def embed(text: str) -> list[float]:
    """Hashed bag of words, L2-normalised: deterministic, and texts sharing words are close."""
    vector = [0.0] * DIMENSIONS
    for word in _words(text):
        vector[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def stand_in_answer(question: str, context: str) -> str:
    """The context sentence sharing the most words with the question (or the planted answer)."""
    if question in PLANTED:
        return PLANTED[question]
    asked = set(_words(question))
    sentences = [s.strip() for s in re.split(r"(?<=[.])\s+|\n+", context) if s.strip()]
    if not sentences:
        return "I don't know."
    return max(sentences, key=lambda s: len(asked & set(_words(s))))


def usage(prompt: str, answer: str) -> tuple[int, int]:
    """Token counts as a provider would report them (roughly: words * 4/3)."""
    return len(_words(prompt)) * 4 // 3, len(_words(answer)) * 4 // 3


@tracer.trace_postprocess
def tone_guard(answer: str) -> str:
    """A guardrail that checks wording, not facts: why a made-up answer gets through."""
    if "guarantee" in answer.lower():
        tracer.record_decision("tone_guard", verdict="modify", reason="promises a guarantee", before=answer)
        return answer.replace("guarantee", "aim")
    tracer.record_decision("tone_guard", verdict="pass", reason="no promises or blame in the wording")
    return answer


def arguments(doc: str, real_model: str, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--db", help="store to write (default: ./spyglass.duckdb, or $SPYGLASS_DB)")
    parser.add_argument("--openai", action="store_true", help=f"answer with {real_model} (needs OPENAI_API_KEY)")
    return parser.parse_args(argv)


def report(db: str | None) -> None:
    """Waits for the spans to be stored, then says what the grounding check found."""
    tracer.flush()
    verdicts = [e["label"] for e in tracer.Store(db or tracer.default_db_path()).evaluations("grounding")]
    print(f"grounding verdicts: {', '.join(verdicts)}")
    print(f"Open the viewer:  spyglass view{f' --db {db}' if db else ''}")
