"""USD cost of a call from its token usage: one price table for every provider.

Where a model's price comes from, first hit wins (``docs/integrations.md``, "Prices"):

1. :func:`set_prices` (code),
2. the JSON or TOML file named by ``SPYGLASS_PRICES``, read by ``configure()`` (or at the
   first lookup, when nothing called it),
3. :data:`DEFAULT_PRICES`: OpenAI and Anthropic list prices, USD per 1M tokens, standard tier,
   which ``tests/test_pricing.py`` checks against genai-prices' snapshot,
4. ``genai-prices`` (``pip install 'spyglass[prices]'``), when switched on with
   :func:`use_genai_prices` or ``SPYGLASS_GENAI_PRICES=1``: every other model and provider it
   knows. Off by default, so that a cost does not depend on what else happens to be installed;
   imported when switched on, not inside a traced call. It never goes to the network: its
   ``UpdatePrices`` fetcher runs only when started, and we never start it.

``set_prices(..., replace=True)`` keeps only the table given (no 2-4).

A name matches a key exactly; else the same name without where it is served from
(``us.anthropic.claude-3-5-sonnet-20240620-v1:0`` on Bedrock, ``claude-3-5-sonnet@20240620``
on Vertex, ``anthropic/claude-3-5-sonnet`` from a router); else as a dated snapshot of the
longest key it starts with: ``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``. Only a date
(``-2024-07-18``, ``-20240620``, ``-0613``), a ``-vN`` and ``-latest`` count as a snapshot:
``gpt-5-pro`` is not ``gpt-5`` (twelve times its price) and ``gpt-5.4`` is not ``gpt-5``.

Usage, for every provider: ``gen_ai.usage.input_tokens`` counts ALL input tokens, cache reads
and cache writes included; ``cache_read.input_tokens`` and ``cache_creation.input_tokens`` are
parts of it. Reasoning tokens are part of the output tokens and billed as output.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from tracer import attributes as A
from tracer._guard import guard

__all__ = [
    "DEFAULT_PRICES",
    "GENAI_PRICES_ENV",
    "PRICES_ENV",
    "Price",
    "configure_from_env",
    "cost_attributes",
    "cost_usd",
    "load_prices_file",
    "price_for",
    "prices",
    "reset_prices",
    "set_prices",
    "use_genai_prices",
]

logger = logging.getLogger("spyglass")
PRICES_ENV: Final = "SPYGLASS_PRICES"  # a JSON or TOML price file
GENAI_PRICES_ENV: Final = "SPYGLASS_GENAI_PRICES"  # 1: ask genai-prices for what the tables miss


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens. ``cached_input`` (cache reads) and ``cache_write`` (cache creation)
    default to ``input`` when a model has no rate of its own."""

    input: float
    output: float = 0.0
    cached_input: float | None = None
    cache_write: float | None = None


# List prices, standard tier. tests/test_pricing.py checks every entry against the snapshot
# bundled with genai-prices (equal for all but claude-instant-1*, which it lacks: the numbers
# are from Anthropic's legacy price list).
DEFAULT_PRICES: Mapping[str, Price] = {
    # OpenAI: chat / responses
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-2024-05-13": Price(5.00, 15.00),  # the first gpt-4o snapshot kept its launch price
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
    # OpenAI: embeddings (input only)
    "text-embedding-3-small": Price(0.02),
    "text-embedding-3-large": Price(0.13),
    "text-embedding-ada-002": Price(0.10),
    # Anthropic: messages. Price(input, output, cache read, 5-minute cache write)
    "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.30),
    "claude-3-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-3-opus": Price(15.00, 75.00, 1.50, 18.75),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08, 1.00),
    "claude-3-5-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-3-7-sonnet": Price(3.00, 15.00, 0.30, 3.75),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30, 3.75),
    "claude-sonnet-4-5": Price(3.00, 15.00, 0.30, 3.75),  # up to 200k input tokens (then 2x)
    "claude-opus-4": Price(15.00, 75.00, 1.50, 18.75),
    "claude-opus-4-1": Price(15.00, 75.00, 1.50, 18.75),
    "claude-opus-4-5": Price(5.00, 25.00, 0.50, 6.25),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10, 1.25),
    # Anthropic: legacy text completions (no prompt caching)
    "claude-2.0": Price(8.00, 24.00),
    "claude-2.1": Price(8.00, 24.00),
    "claude-instant-1": Price(0.80, 2.40),
    "claude-instant-1.2": Price(0.80, 2.40),
}

# --- names -----------------------------------------------------------------------------------
# What may follow a key for a name to be a snapshot of it: a date, a version, "latest".
_SNAPSHOT = re.compile(r"(?:-v\d+)?(?:-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})?(?:-latest)?")
_ROUTE = re.compile(r"^.*/")  # anthropic/claude-..., publishers/anthropic/models/..., Bedrock ARNs
# Bedrock: a cross-region inference profile, the vendor, and the model version.
_BEDROCK_REGION = re.compile(r"^(?:us|us-gov|eu|apac|au|ca|jp|global)\.")
_BEDROCK_VENDOR = re.compile(r"^(?:anthropic|openai)\.")
_BEDROCK_VERSION = re.compile(r"-v\d+:\d+$")


def _served_as(name: str) -> str:
    """The model's own name, without where it is served from."""
    name = _ROUTE.sub("", name)
    name = _BEDROCK_VENDOR.sub("", _BEDROCK_REGION.sub("", name))
    return _BEDROCK_VERSION.sub("", name).replace("@", "-")  # Vertex: claude-3-5-sonnet@20240620


def _match(table: Mapping[str, Price], name: str) -> Price | None:
    found = table.get(name)
    if found is not None:
        return found
    best = ""
    for key in table:
        if len(key) > len(best) and name.startswith(key + "-") and _SNAPSHOT.fullmatch(name, len(key)):
            best = key
    return table[best] if best else None


# --- the table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Table:
    """The layers as one immutable value, swapped whole: a lookup reads one consistent set of
    layers without locking, and each value has its own cache, so a result computed from the
    layers before a change never lands in the cache of the layers after it."""

    layers: tuple[Mapping[str, Price], ...]
    genai_prices: bool
    cache: dict[tuple[str, str | None], Price | None] = field(default_factory=dict, compare=False)


_lock = threading.Lock()
_code: dict[str, Price] = {}
_file: dict[str, Price] = {}
_replaced = False
_genai_code: bool | None = None  # use_genai_prices(); None: GENAI_PRICES_ENV decides
_genai_env = False
_env_read = False
_table: _Table | None = None


def _rebuild() -> None:
    """Caller holds ``_lock``."""
    global _table
    layers = (dict(_code),) if _replaced else (dict(_code), dict(_file), DEFAULT_PRICES)
    wanted = _genai_env if _genai_code is None else _genai_code
    _table = _Table(tuple(t for t in layers if t), wanted and not _replaced and _genai_loaded())


def _current() -> _Table:
    table = _table
    if table is not None:
        return table
    with _lock:
        if not _env_read:  # configure() was not called: read the file now, and say what is wrong with it
            try:
                _read_env()
            except ValueError as exc:
                logger.warning("spyglass: %s", exc)
        if _table is None:
            _rebuild()
        assert _table is not None
        return _table


def _parse_price(name: object, value: object) -> Price:
    if isinstance(value, Price):
        return value
    if not isinstance(name, str) or not isinstance(value, Mapping):
        raise TypeError(f"price of {name!r}: expected a Price or a mapping of rates, got {value!r}")
    known = {f.name for f in fields(Price)}
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"price of {name!r}: unknown rate(s) {sorted(unknown)}; known: {sorted(known)}")
    for rate, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
            raise ValueError(f"price of {name!r}: {rate} must be a number >= 0 (USD per 1M tokens), got {number!r}")
    if "input" not in value:
        raise ValueError(f"price of {name!r}: 'input' is required")
    return Price(**{k: float(v) for k, v in value.items()})


def _parse_table(prices: Mapping[Any, Any]) -> dict[str, Price]:
    return {str(name).lower(): _parse_price(name, p) for name, p in prices.items()}


def set_prices(prices: Mapping[str, Price | Mapping[str, float]], *, replace: bool = False) -> None:
    """Add or override prices (USD per 1M tokens): ``{"my-model": {"input": 1.0, "output": 2.0,
    "cached_input": 0.5, "cache_write": 1.25}}`` or ``Price`` objects. They win over every other
    source. ``replace=True`` keeps only these: no file, built-in table or genai-prices."""
    parsed = _parse_table(prices)
    global _replaced
    with _lock:
        if replace:
            _code.clear()
        _code.update(parsed)
        _replaced = _replaced or replace
        _rebuild()


def reset_prices() -> None:
    """Forget :func:`set_prices`: back to the ``SPYGLASS_PRICES`` file, :data:`DEFAULT_PRICES`
    and genai-prices (if installed)."""
    global _replaced
    with _lock:
        _code.clear()
        _replaced = False
        _rebuild()


def _reset() -> None:
    """As in a fresh process: no overrides, the environment not read yet (tests)."""
    global _replaced, _genai_code, _genai_env, _env_read, _table
    with _lock:
        _code.clear()
        _file.clear()
        _replaced, _genai_code, _genai_env, _env_read, _table = False, None, False, False, None


def use_genai_prices(enabled: bool = True) -> bool:
    """Ask genai-prices (``pip install 'spyglass[prices]'``) for the models the tables miss, or
    stop asking it (``SPYGLASS_GENAI_PRICES=1`` switches it on from the environment). Imports
    it now, not inside the first traced call that needs it. Returns whether it will be asked:
    ``False`` when it is not installed (logged) or ``set_prices(replace=True)`` is in force."""
    global _genai_code
    with _lock:
        _genai_code = enabled
        _rebuild()
        assert _table is not None
        return _table.genai_prices


def prices() -> dict[str, Price]:
    """The table as looked up, before genai-prices: overrides over the file over the defaults."""
    merged: dict[str, Price] = {}
    for layer in reversed(_current().layers):
        merged.update(layer)
    return merged


# --- the SPYGLASS_PRICES file ----------------------------------------------------------------
def load_prices_file(path: str | os.PathLike[str]) -> dict[str, Price]:
    """Prices from a JSON or TOML (``.toml``, Python 3.11+) file: a table of model name ->
    ``{"input": ..., "output": ..., "cached_input": ..., "cache_write": ...}``. Raises
    ``ValueError`` naming the file and what is wrong."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data: object
        if p.suffix.lower() != ".toml":
            data = json.loads(text)
        elif sys.version_info >= (3, 11):
            import tomllib

            data = tomllib.loads(text)
        else:  # Spyglass still runs on 3.10, which has no tomllib
            raise ValueError("a TOML file needs Python 3.11+; use JSON")
        if not isinstance(data, Mapping):
            raise TypeError("expected a table of model name -> rates")
        return _parse_table(data)
    except (OSError, ValueError, TypeError, ImportError) as exc:  # JSON and TOML errors are ValueErrors
        raise ValueError(f"{PRICES_ENV}={str(path)!r}: {exc}") from exc


def _read_env() -> None:
    """Caller holds ``_lock``."""
    global _env_read, _genai_env
    _env_read = True
    _genai_env = os.environ.get(GENAI_PRICES_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    path = os.environ.get(PRICES_ENV, "").strip()
    _file.clear()
    try:
        if path:
            _file.update(load_prices_file(path))
    finally:  # a broken file leaves no prices of its own behind
        _rebuild()


def configure_from_env() -> None:
    """(Re)read ``SPYGLASS_PRICES`` and ``SPYGLASS_GENAI_PRICES``; ``configure()`` calls this.
    A file that cannot be used raises ``ValueError`` here, before any call is traced."""
    with _lock:
        _read_env()


# --- genai-prices ----------------------------------------------------------------------------
# gen_ai.provider.name (semantic conventions' well-known values) -> genai-prices provider id.
_GENAI_PROVIDERS: Final = {
    A.PROVIDER_OPENAI: "openai",
    A.PROVIDER_AZURE_OPENAI: "azure",
    A.PROVIDER_ANTHROPIC: "anthropic",
    "aws.bedrock": "aws",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    A.PROVIDER_GEMINI: "google",
    A.PROVIDER_GROQ: "groq",
    A.PROVIDER_DEEPSEEK: "deepseek",
    A.PROVIDER_XAI: "x-ai",
    A.PROVIDER_PERPLEXITY: "perplexity",
    A.PROVIDER_MISTRAL: "mistral",
    A.PROVIDER_COHERE: "cohere",
}
_PROBE: Final = 1000  # tokens per probe: below every long-context tier, so the base rate


@functools.cache
def _genai_loaded() -> bool:
    """Import genai-prices and load its bundled snapshot (0.4-0.8 s, once), or say it is missing."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:
        logger.warning("spyglass: genai-prices is switched on but not installed: pip install 'spyglass[prices]'")
        return False
    with contextlib.suppress(LookupError):  # the model only makes it load the data
        calc_price(Usage(input_tokens=1), "gpt-4o-mini", provider_id="openai")
    return True


def _from_genai_prices(model: str, provider: str | None) -> Price | None:
    """The rates genai-prices charges for ``model``, read once per model through its public
    ``calc_price`` (about 0.3 ms a call, so never per span). With a provider it knows, that
    provider's price first, then whichever provider genai-prices finds for the name."""
    provider_id = _GENAI_PROVIDERS.get(provider or "")
    with guard("genai-prices lookup"):
        for pid in (provider_id, None) if provider_id else (None,):
            try:
                return _probe(model, pid)
            except LookupError:  # genai-prices' "no such model" (or provider)
                continue
    return None


def _probe(model: str, provider_id: str | None) -> Price:
    """1000 tokens of each kind, priced and scaled to 1M. Only the input and output parts of
    each price count: per-request fees and long-context tiers are left out, as in our table."""
    from genai_prices import Usage, calc_price

    def rate(part: str, **usage: int) -> float:
        calc = calc_price(Usage(**usage), model, provider_id=provider_id)
        return float(getattr(calc, part) * (1_000_000 // _PROBE))

    return Price(
        input=rate("input_price", input_tokens=_PROBE),
        output=rate("output_price", output_tokens=_PROBE),
        cached_input=rate("input_price", input_tokens=_PROBE, cache_read_tokens=_PROBE),
        cache_write=rate("input_price", input_tokens=_PROBE, cache_write_tokens=_PROBE),
    )


# --- lookup and cost -------------------------------------------------------------------------
def price_for(model: str, provider: str | None = None) -> Price | None:
    """The price of ``model`` (as a span names it), or ``None`` when no source has one.
    ``provider`` (``gen_ai.provider.name``) only steers genai-prices between providers."""
    table = _table if _table is not None else _current()
    key = (model, provider)
    hit = table.cache.get(key, table.cache)
    if hit is not table.cache:
        return hit  # type: ignore[return-value]
    name = model.strip().lower()
    served = _served_as(name)
    found = None
    for layer in table.layers:
        found = _match(layer, name) or (_match(layer, served) if served != name else None)
        if found is not None:
            break
    if found is None and table.genai_prices:
        found = _from_genai_prices(name, provider)
    if len(table.cache) > 1024:
        table.cache.clear()
    table.cache[key] = found
    return found


def cost_usd(
    price: Price, input_tokens: int, output_tokens: int, cached_tokens: int = 0, cache_creation_tokens: int = 0
) -> float:
    """USD for one call. ``input_tokens`` counts all input, the cache reads (``cached_tokens``)
    and writes (``cache_creation_tokens``) included; parts larger than the whole are cut to it."""
    read = min(max(cached_tokens, 0), input_tokens)
    rest = input_tokens - read
    read_rate = price.input if price.cached_input is None else price.cached_input
    total = rest * price.input + read * read_rate + output_tokens * price.output
    if cache_creation_tokens > 0:  # only Anthropic-style usage has them: the common path skips this
        write_rate = price.input if price.cache_write is None else price.cache_write
        total += min(cache_creation_tokens, rest) * (write_rate - price.input)
    return total / 1e6


def _count(value: object) -> int:
    return value if type(value) is int else 0  # not bool, not a float from a buggy caller


def cost_attributes(attrs: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``spyglass.cost.usd`` from the usage and model attributes of a span, when priced; else
    ``spyglass.cost.missing_price`` naming the model. The response model is tried first, then
    the requested one (an Azure deployment name, say, is no model name)."""
    input_tokens = attrs.get(A.GEN_AI_USAGE_INPUT_TOKENS)
    if not isinstance(input_tokens, int):
        return
    response, request = attrs.get(A.GEN_AI_RESPONSE_MODEL), attrs.get(A.GEN_AI_REQUEST_MODEL)
    model = response if isinstance(response, str) else request
    if not isinstance(model, str):
        return
    provider = attrs.get(A.GEN_AI_PROVIDER_NAME)
    provider = provider if isinstance(provider, str) else None
    price = price_for(model, provider)
    if price is None and isinstance(request, str) and request != model:
        price = price_for(request, provider)
    if price is None:
        yield A.COST_MISSING_PRICE, model
        return
    yield (
        A.COST_USD,
        cost_usd(
            price,
            input_tokens,
            _count(attrs.get(A.GEN_AI_USAGE_OUTPUT_TOKENS)),
            _count(attrs.get(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
            _count(attrs.get(A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)),
        ),
    )
