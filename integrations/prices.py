"""One price table for every provider: what ``spyglass.cost.usd`` is computed from.

    from integrations import prices

    prices.set_prices({"my-finetune": {"input": 3.0, "output": 12.0}})  # USD per 1M tokens; wins
    prices.price_for("claude-3-5-sonnet-20240620")  # Price(input=3.0, output=15.0, ...)

Sources, first hit wins: :func:`set_prices`, the ``SPYGLASS_PRICES`` file (JSON or TOML),
:data:`DEFAULT_PRICES` (OpenAI and Anthropic), then, when switched on with
:func:`use_genai_prices`, ``genai-prices`` (``pip install 'spyglass[prices]'``). See ``docs/integrations.md``, "Prices".
"""

from __future__ import annotations

from ._pricing import (
    DEFAULT_PRICES,
    GENAI_PRICES_ENV,
    PRICES_ENV,
    Price,
    cost_usd,
    load_prices_file,
    price_for,
    prices,
    reset_prices,
    set_prices,
    use_genai_prices,
)

__all__ = [
    "DEFAULT_PRICES",
    "GENAI_PRICES_ENV",
    "PRICES_ENV",
    "Price",
    "cost_usd",
    "load_prices_file",
    "price_for",
    "prices",
    "reset_prices",
    "set_prices",
    "use_genai_prices",
]
