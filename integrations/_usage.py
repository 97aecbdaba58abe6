"""Token counts as span attributes: each GenAI name with its OpenInference twin, once for every
provider (each provider's extractor only finds the numbers in its own response shape)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracer import attributes as A

__all__ = ["count", "usage_pairs"]


def count(value: Any) -> int | None:
    """A token count as the provider gave it, or ``None`` (``True`` is an int to Python, not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_pairs(
    *,
    input: int | None = None,
    output: int | None = None,
    total: int | None = None,
    cache_read: int | None = None,
    cache_creation: int | None = None,
    reasoning: int | None = None,
) -> Iterator[tuple[str, Any]]:
    """``input`` is every input token, cache reads and writes included (the conventions' rule);
    ``total`` is written only when given: a provider's own total, or the caller's sum."""
    if input is not None:
        yield A.GEN_AI_USAGE_INPUT_TOKENS, input
        yield A.OI_LLM_TOKEN_COUNT_PROMPT, input
    if output is not None:
        yield A.GEN_AI_USAGE_OUTPUT_TOKENS, output
        yield A.OI_LLM_TOKEN_COUNT_COMPLETION, output
    if total is not None:
        yield A.OI_LLM_TOKEN_COUNT_TOTAL, total
    if cache_read is not None:
        yield A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read
        yield A.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ, cache_read
    if cache_creation is not None:
        yield A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, cache_creation
        yield A.OI_LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE, cache_creation
    if reasoning is not None:
        yield A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, reasoning
        yield A.OI_LLM_TOKEN_COUNT_COMPLETION_REASONING, reasoning
