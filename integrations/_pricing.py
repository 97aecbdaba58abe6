"""USD cost of a call from its token usage, with a price table users can override.

Prices are USD per 1M tokens, standard tier, OpenAI list prices (checked 2025; providers
change them, so override with :func:`set_prices` when yours differ). A response model such
as ``gpt-4o-mini-2024-07-18`` matches the longest table key it starts with followed by ``-``
(``gpt-4o-mini``), so dated snapshots need no entry of their own; ``gpt-5.4`` does not match
``gpt-5``. Cached input tokens (part of the input tokens) are charged at the cached rate;
reasoning tokens are part of the output tokens and charged as output.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tracer import attributes as A


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens. ``cached_input`` defaults to ``input`` when a model has no discount."""

    input: float
    output: float = 0.0
    cached_input: float | None = None


DEFAULT_PRICES: Mapping[str, Price] = {
    # chat / responses
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "gpt-3.5-turbo-instruct": Price(1.50, 2.00),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    # embeddings (input only)
    "text-embedding-3-small": Price(0.02),
    "text-embedding-3-large": Price(0.13),
    "text-embedding-ada-002": Price(0.10),
}

_lock = threading.Lock()
_prices: dict[str, Price] = dict(DEFAULT_PRICES)
_cache: dict[str, Price | None] = {}


def set_prices(prices: Mapping[str, Price | Mapping[str, float]], *, replace: bool = False) -> None:
    """Add or override prices (USD per 1M tokens): ``{"my-model": {"input": 1.0, "output": 2.0,
    "cached_input": 0.5}}`` or ``Price`` objects. ``replace=True`` drops the built-in table."""
    parsed = {name: p if isinstance(p, Price) else Price(**p) for name, p in prices.items()}
    global _prices
    with _lock:
        _prices = {**({} if replace else _prices), **parsed}
        _cache.clear()


def reset_prices() -> None:
    """Back to :data:`DEFAULT_PRICES`."""
    global _prices
    with _lock:
        _prices = dict(DEFAULT_PRICES)
        _cache.clear()


def prices() -> dict[str, Price]:
    return dict(_prices)


def price_for(model: str) -> Price | None:
    hit = _cache.get(model, _cache)
    if hit is not _cache:
        return hit  # type: ignore[return-value]
    table = _prices
    found = table.get(model)
    if found is None:
        best = ""
        for name in table:
            if len(name) > len(best) and model.startswith(name + "-"):
                best = name
        found = table[best] if best else None
    if len(_cache) > 1024:
        _cache.clear()
    _cache[model] = found
    return found


def cost_usd(price: Price, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    cached = min(max(cached_tokens, 0), input_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return ((input_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output) / 1e6


def cost_attributes(attrs: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``spyglass.cost.usd`` from the usage and model attributes of a span, when priced."""
    input_tokens = attrs.get(A.GEN_AI_USAGE_INPUT_TOKENS)
    if not isinstance(input_tokens, int):
        return
    model = attrs.get(A.GEN_AI_RESPONSE_MODEL) or attrs.get(A.GEN_AI_REQUEST_MODEL)
    if not isinstance(model, str):
        return
    price = price_for(model)
    if price is None:
        yield A.COST_MISSING_PRICE, model
        return
    output_tokens = attrs.get(A.GEN_AI_USAGE_OUTPUT_TOKENS)
    cached = attrs.get(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    yield (
        A.COST_USD,
        cost_usd(
            price,
            input_tokens,
            output_tokens if isinstance(output_tokens, int) else 0,
            cached if isinstance(cached, int) else 0,
        ),
    )
