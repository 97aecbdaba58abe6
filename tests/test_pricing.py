"""The price table: exact costs for OpenAI and Anthropic usage, the order of the sources,
name matching, the SPYGLASS_PRICES file, and genai-prices (agreement, fallback, no network).

Rates in the expected values are written out by hand (USD per 1M tokens), not read back
from the table, so a wrong entry fails here."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import integrations.openai as spy_openai
from integrations import _pricing, prices
from integrations.prices import Price, cost_usd, price_for, set_prices
from tracer import attributes as A

from .conftest import REPO, SHARED

CI = os.environ.get("CI", "").lower() == "true"


def _genai_prices_installed() -> bool:
    try:
        import genai_prices  # noqa: F401
    except ImportError:
        return False
    return True


needs_genai_prices = pytest.mark.skipif(
    not _genai_prices_installed() and not CI,
    reason="genai-prices is not installed (pip install 'spyglass[prices]'); required under CI=true",
)


@pytest.fixture(autouse=True)
def _fresh_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(_pricing.PRICES_ENV, raising=False)
    monkeypatch.delenv(_pricing.GENAI_PRICES_ENV, raising=False)
    _pricing._reset()
    yield
    _pricing._reset()


def cost(**attrs: Any) -> dict[str, Any]:
    return dict(_pricing.cost_attributes(attrs))


def usage(model: str, input: int, output: int, read: int = 0, creation: int = 0, **more: Any) -> dict[str, Any]:
    attrs = {
        A.GEN_AI_RESPONSE_MODEL: model,
        A.GEN_AI_USAGE_INPUT_TOKENS: input,
        A.GEN_AI_USAGE_OUTPUT_TOKENS: output,
        **more,
    }
    if read:
        attrs[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = read
    if creation:
        attrs[A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = creation
    return attrs


# --- exact costs -----------------------------------------------------------------------------
def test_openai_usage_cached_tokens_are_part_of_the_input() -> None:
    # OpenAI reports prompt_tokens=1200 with prompt_tokens_details.cached_tokens=200.
    got = cost(**usage("gpt-4o-mini-2024-07-18", 1200, 300, read=200))
    assert got == {A.COST_USD: pytest.approx((1000 * 0.15 + 200 * 0.075 + 300 * 0.60) / 1e6, rel=1e-12)}


def test_openai_costs_unchanged_for_the_cassette_models() -> None:
    assert cost(**usage("gpt-4o-mini-2024-07-18", 12, 5))[A.COST_USD] == pytest.approx((12 * 0.15 + 5 * 0.60) / 1e6)
    assert cost(**usage("gpt-4-0613", 12, 5))[A.COST_USD] == pytest.approx((12 * 30.0 + 5 * 60.0) / 1e6)
    assert cost(**usage("text-embedding-3-small", 8, 0))[A.COST_USD] == pytest.approx(8 * 0.02 / 1e6)
    assert cost(**usage("o3", 100, 50))[A.COST_USD] == pytest.approx((100 * 2.0 + 50 * 8.0) / 1e6)


def _recorded_anthropic_usage() -> list[tuple[str, dict[str, int]]]:
    path = SHARED / "cassettes" / "anthropic" / "test_anthropic_prompt_caching_legacy.yaml"
    if not path.exists():
        if CI:
            pytest.fail(f"cassette corpus missing under CI: {path}")
        pytest.skip(f"no recorded Anthropic traffic at {path} (set SPYGLASS_SHARED)")
    out = []
    for interaction in yaml.safe_load(path.read_text())["interactions"]:
        body = interaction["response"]["body"]["string"]
        if isinstance(body, bytes) and body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        reply = json.loads(body)
        out.append((reply["model"], reply["usage"]))
    return out


def test_anthropic_recorded_prompt_caching_write_then_read() -> None:
    """Anthropic's usage counts input_tokens WITHOUT the cache: the integration adds the cache
    parts in (the shared contract), and the cost charges each part its own rate."""
    (m1, write), (m2, read) = _recorded_anthropic_usage()
    assert m1 == m2 == "claude-3-5-sonnet-20240620"
    assert (write["input_tokens"], write["cache_creation_input_tokens"], write["output_tokens"]) == (4, 1163, 187)
    assert (read["input_tokens"], read["cache_read_input_tokens"], read["output_tokens"]) == (4, 1163, 202)
    for u, expected in (
        (write, (4 * 3.00 + 1163 * 3.75 + 187 * 15.00) / 1e6),
        (read, (4 * 3.00 + 1163 * 0.30 + 202 * 15.00) / 1e6),
    ):
        total = u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
        attrs = usage(
            m1,
            total,
            u["output_tokens"],
            read=u["cache_read_input_tokens"],
            creation=u["cache_creation_input_tokens"],
            **{A.GEN_AI_PROVIDER_NAME: A.PROVIDER_ANTHROPIC},
        )
        assert cost(**attrs) == {A.COST_USD: pytest.approx(expected, rel=1e-12)}


@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("claude-3-haiku-20240307", (0.25, 1.25, 0.03, 0.30)),
        ("claude-3-opus-20240229", (15.00, 75.00, 1.50, 18.75)),
        ("claude-3-5-haiku-20241022", (0.80, 4.00, 0.08, 1.00)),
        ("claude-3-7-sonnet-20250219", (3.00, 15.00, 0.30, 3.75)),
        ("claude-sonnet-4-20250514", (3.00, 15.00, 0.30, 3.75)),
        ("claude-sonnet-4-5-20250929", (3.00, 15.00, 0.30, 3.75)),
        ("claude-opus-4-20250514", (15.00, 75.00, 1.50, 18.75)),
        ("claude-opus-4-1-20250805", (15.00, 75.00, 1.50, 18.75)),
        ("claude-opus-4-5-20251101", (5.00, 25.00, 0.50, 6.25)),
        ("claude-haiku-4-5-20251001", (1.00, 5.00, 0.10, 1.25)),
    ],
)
def test_anthropic_models_with_all_four_rates(model: str, rates: tuple[float, float, float, float]) -> None:
    i, o, r, w = rates
    got = cost(**usage(model, 10_000, 1_000, read=3_000, creation=2_000))[A.COST_USD]
    assert got == pytest.approx((5_000 * i + 3_000 * r + 2_000 * w + 1_000 * o) / 1e6, rel=1e-12)


def test_legacy_completions_models() -> None:
    # The legacy completions cassette answers as claude-instant-1.2; no prompt caching there.
    assert cost(**usage("claude-instant-1.2", 20, 10))[A.COST_USD] == pytest.approx((20 * 0.80 + 10 * 2.40) / 1e6)
    assert cost(**usage("claude-2.1", 20, 10))[A.COST_USD] == pytest.approx((20 * 8.0 + 10 * 24.0) / 1e6)


def test_cache_write_and_read_default_to_the_input_rate() -> None:
    p = Price(input=1.0, output=2.0)
    assert cost_usd(p, 1000, 10, cached_tokens=300, cache_creation_tokens=200) == pytest.approx(
        (1000 * 1.0 + 10 * 2.0) / 1e6
    )


def test_parts_larger_than_the_whole_are_cut_to_it() -> None:
    """A caller that forgot to add the cache to input_tokens gets no negative uncached part."""
    p = Price(input=1.0, output=0.0, cached_input=0.5, cache_write=2.0)
    assert cost_usd(p, 100, 0, cached_tokens=80, cache_creation_tokens=80) == pytest.approx((80 * 0.5 + 20 * 2.0) / 1e6)
    assert cost_usd(p, 100, 0, cached_tokens=-5) == pytest.approx(100 * 1.0 / 1e6)


def test_cost_attributes_skip_spans_without_usage_or_model() -> None:
    assert cost(**{A.GEN_AI_RESPONSE_MODEL: "gpt-4o"}) == {}
    assert cost(**{A.GEN_AI_USAGE_INPUT_TOKENS: 5}) == {}


# --- missing prices ---------------------------------------------------------------------------
def test_unknown_model_is_reported_not_priced() -> None:
    assert cost(**usage("my-own-model-7b", 10, 5)) == {A.COST_MISSING_PRICE: "my-own-model-7b"}


def test_request_model_is_tried_when_the_response_model_is_unknown() -> None:
    # Azure, say: the response names a model we do not know, the request a known one.
    attrs = usage("my-deployment", 10, 5, **{A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"})
    assert cost(**attrs)[A.COST_USD] == pytest.approx((10 * 0.15 + 5 * 0.60) / 1e6)
    assert cost(**usage("x", 1, 1, **{A.GEN_AI_REQUEST_MODEL: "y"})) == {A.COST_MISSING_PRICE: "x"}


# --- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # an exact key beats the snapshot rule
        ("o3-mini-2025-01-31", "o3-mini"),
        ("claude-3-5-sonnet-20240620", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),  # the longest key, not claude-sonnet-4
        ("GPT-4o-Mini", "gpt-4o-mini"),
        # provider-qualified: Bedrock (cross-region profiles, ARNs), Vertex, routers
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet"),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet"),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
            "claude-3-haiku",
        ),
        ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("publishers/anthropic/models/claude-3-opus@20240229", "claude-3-opus"),
        ("anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ],
)
def test_names_find_their_entry(model: str, key: str) -> None:
    assert price_for(model) == prices.DEFAULT_PRICES[key]


@pytest.mark.parametrize(
    "model",
    [
        "gpt-5-pro",  # $15/$120: not gpt-5 ($1.25/$10)
        "o3-pro",  # $20/$80: not o3
        "gpt-5.4",  # not gpt-5
        "gpt-4-1106-preview",  # a gpt-4-turbo preview: not gpt-4
        "gpt-4o-mini-tts",  # audio: not gpt-4o-mini
        "claude-sonnet-4-6",  # not claude-sonnet-4
        "claude-3-5-sonnet-20240620-extra",
        "ft:gpt-4o-mini-2024-07-18:org::abc",  # fine-tunes cost more
    ],
)
def test_other_models_do_not_borrow_a_shorter_key(model: str) -> None:
    assert price_for(model) is None


# --- overrides --------------------------------------------------------------------------------
def test_overrides_win_over_every_other_source() -> None:
    assert price_for("claude-3-5-sonnet-20240620") == Price(3.0, 15.0, 0.30, 3.75)  # cached now
    set_prices({"claude-3-5-sonnet": {"input": 1.0, "output": 2.0, "cached_input": 0.1, "cache_write": 1.5}})
    mine = Price(1.0, 2.0, 0.1, 1.5)
    assert price_for("claude-3-5-sonnet-20240620") == mine  # the cache went with the old table
    assert price_for("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == mine
    set_prices({"gpt-4o": Price(9.0, 9.0)})
    assert price_for("gpt-4o-2024-05-13") == Price(9.0, 9.0)  # over the built-in exact key
    assert price_for("gpt-4o-mini") == prices.DEFAULT_PRICES["gpt-4o-mini"]  # the rest stays
    # A qualified key of your own beats the plain one: Bedrock's EU profiles cost 10% more.
    set_prices({"eu.anthropic.claude-3-5-sonnet-20240620-v1:0": {"input": 3.3, "output": 16.5}})
    assert price_for("eu.anthropic.claude-3-5-sonnet-20240620-v1:0") == Price(3.3, 16.5)
    assert price_for("claude-3-5-sonnet-20240620") == mine


def test_replace_keeps_only_the_given_table() -> None:
    set_prices({"my-model": {"input": 1.0}}, replace=True)
    assert prices.prices() == {"my-model": Price(1.0)}
    assert price_for("gpt-4o-mini") is None
    assert cost(**usage("gpt-4o-mini", 10, 5)) == {A.COST_MISSING_PRICE: "gpt-4o-mini"}
    set_prices({"other": {"input": 2.0}})  # later additions join the replaced table
    assert set(prices.prices()) == {"my-model", "other"}
    prices.reset_prices()
    assert price_for("gpt-4o-mini") == Price(0.15, 0.60, 0.075)
    assert "my-model" not in prices.prices()


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"m": {"output": 1.0}}, "'input' is required"),
        ({"m": {"input": 1.0, "cache_read": 1.0}}, "unknown rate"),
        ({"m": {"input": -1.0}}, "must be a number >= 0"),
        ({"m": {"input": "1.0"}}, "must be a number >= 0"),
        ({"m": {"input": True}}, "must be a number >= 0"),
    ],
)
def test_bad_prices_are_refused_whole(bad: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        set_prices({"fine": {"input": 1.0}, **bad})
    assert "fine" not in prices.prices()


def test_openai_module_keeps_its_price_api() -> None:
    assert spy_openai.Price is Price and spy_openai.DEFAULT_PRICES is prices.DEFAULT_PRICES
    assert spy_openai.set_prices is set_prices and spy_openai.reset_prices is prices.reset_prices
    assert spy_openai.prices is prices.prices


def test_public_names() -> None:
    assert prices.__all__ == sorted(prices.__all__)
    assert all(hasattr(prices, name) for name in prices.__all__)


# --- SPYGLASS_PRICES --------------------------------------------------------------------------
def test_prices_file_json_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    js = tmp_path / "prices.json"
    js.write_text(json.dumps({"my-model": {"input": 1.0, "output": 4.0}, "gpt-4o-mini": {"input": 0.2}}))
    monkeypatch.setenv(_pricing.PRICES_ENV, str(js))
    _pricing.configure_from_env()
    assert price_for("my-model") == Price(1.0, 4.0)
    assert price_for("gpt-4o-mini-2024-07-18") == Price(0.2)  # the file beats the built-in table
    set_prices({"gpt-4o-mini": {"input": 0.3}})
    assert price_for("gpt-4o-mini") == Price(0.3)  # and code beats the file
    prices.reset_prices()
    assert price_for("gpt-4o-mini") == Price(0.2)  # reset_prices forgets code, not the file

    toml = tmp_path / "prices.toml"
    toml.write_text('["claude-3-5-sonnet"]\ninput = 2.0\noutput = 10.0\ncache_write = 2.5\n')
    monkeypatch.setenv(_pricing.PRICES_ENV, str(toml))
    _pricing.configure_from_env()
    assert price_for("claude-3-5-sonnet-20240620") == Price(2.0, 10.0, None, 2.5)
    assert price_for("my-model") is None  # the previous file is gone


def test_prices_file_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.json"
    for text, error in (("{not json", "Expecting property name"), ("[1, 2]", "table of model name"),
                        ('{"m": {"inputs": 1}}', "unknown rate")):  # fmt: skip
        bad.write_text(text)
        monkeypatch.setenv(_pricing.PRICES_ENV, str(bad))
        with pytest.raises(ValueError, match=error) as info:
            _pricing.configure_from_env()
        assert str(bad) in str(info.value)
        assert price_for("gpt-4o-mini") == Price(0.15, 0.60, 0.075)  # the built-in table still works
    monkeypatch.setenv(_pricing.PRICES_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="missing.json"):
        _pricing.configure_from_env()


def test_prices_file_read_at_first_lookup_without_configure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    good = tmp_path / "p.json"
    good.write_text('{"my-model": {"input": 1.0}}')
    monkeypatch.setenv(_pricing.PRICES_ENV, str(good))
    assert price_for("my-model") == Price(1.0)

    _pricing._reset()
    monkeypatch.setenv(_pricing.PRICES_ENV, str(tmp_path / "nope.json"))
    with caplog.at_level(logging.WARNING, logger="spyglass"):
        assert price_for("gpt-4o-mini") == Price(0.15, 0.60, 0.075)  # inside a traced call: never raise
    assert "nope.json" in caplog.text


# --- genai-prices -----------------------------------------------------------------------------
def _genai_probe(model: str, provider: str) -> Price:
    return _pricing._probe(model, provider)


# In DEFAULT_PRICES but not in genai-prices 0.2.3's snapshot (Anthropic's legacy price list).
NOT_IN_GENAI_PRICES = {"claude-instant-1", "claude-instant-1.2"}


@needs_genai_prices
def test_builtin_table_agrees_with_genai_prices() -> None:
    """Every built-in rate equals what genai-prices charges (tolerance 1e-9 relative: both are
    decimal list prices; float conversion is the only difference)."""
    disagree = {}
    for key, ours in prices.DEFAULT_PRICES.items():
        provider = "anthropic" if key.startswith("claude") else "openai"
        if key in NOT_IN_GENAI_PRICES:
            with pytest.raises(LookupError):
                _genai_probe(key, provider)
            continue
        theirs = _genai_probe(key, provider)
        pairs = [
            (ours.input, theirs.input),
            (ours.output, theirs.output),
            (ours.input if ours.cached_input is None else ours.cached_input, theirs.cached_input),
            (ours.input if ours.cache_write is None else ours.cache_write, theirs.cache_write),
        ]
        if any(t != pytest.approx(o, rel=1e-9) for o, t in pairs):
            disagree[key] = (ours, theirs)
    assert disagree == {}


@needs_genai_prices
def test_genai_prices_fills_what_the_table_misses() -> None:
    assert price_for("gpt-5-pro") is None  # off by default
    assert prices.use_genai_prices() is True
    assert price_for("gpt-5-pro") == Price(15.0, 120.0, 15.0, 15.0)
    got = cost(**usage("gpt-5-pro", 1000, 100, **{A.GEN_AI_PROVIDER_NAME: A.PROVIDER_OPENAI}))
    assert got == {A.COST_USD: pytest.approx((1000 * 15.0 + 100 * 120.0) / 1e6)}
    # Another provider, named by gen_ai.provider.name; its per-search fees are left out.
    assert price_for("sonar", A.PROVIDER_PERPLEXITY) == Price(1.0, 1.0, 1.0, 1.0)
    # The built-in table still answers first, and unknown names stay unknown.
    assert price_for("claude-instant-1.2") == Price(0.80, 2.40)
    assert cost(**usage("my-own-model-7b", 1, 1)) == {A.COST_MISSING_PRICE: "my-own-model-7b"}
    set_prices({"x": {"input": 1.0}}, replace=True)
    assert price_for("gpt-5-pro") is None  # replace=True: only your table
    prices.reset_prices()
    assert prices.use_genai_prices(False) is False
    assert price_for("gpt-5-pro") is None


@needs_genai_prices
def test_genai_prices_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_pricing.GENAI_PRICES_ENV, "1")
    _pricing.configure_from_env()
    assert price_for("o3-pro") == Price(20.0, 80.0, 20.0, 20.0)


NO_NETWORK = textwrap.dedent(
    """
    import socket, sys, threading
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network used")
    socket.socket.connect = socket.socket.connect_ex = refuse
    socket.create_connection = socket.getaddrinfo = refuse
    from integrations import prices
    assert "genai_prices" not in sys.modules  # nothing imports it before it is switched on
    assert prices.use_genai_prices() is True
    for model in ("gpt-5-pro", "claude-opus-4-6", "gemini-2.5-flash", "mistral-large-latest", "gpt-4o-mini"):
        assert prices.price_for(model) is not None, model
    assert attempts == [], attempts
    assert not [t for t in threading.enumerate() if t.name.startswith("genai_prices")]
    print("ok")
    """
)


@needs_genai_prices
def test_genai_prices_never_touches_the_network() -> None:
    """A fresh process whose sockets refuse to connect or resolve: importing genai-prices,
    loading its snapshot and pricing models from four providers makes no attempt."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(_pricing.GENAI_PRICES_ENV, None)
    run = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_switched_on_without_genai_prices_installed() -> None:
    code = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig(level=logging.WARNING)
        sys.modules["genai_prices"] = None  # as if not installed
        from integrations import prices
        assert prices.use_genai_prices() is False
        assert prices.price_for("gpt-5-pro") is None and prices.price_for("gpt-4o") is not None
        print("ok")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert "pip install 'spyglass[prices]'" in run.stderr


def test_configure_reads_the_prices_file_before_anything_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracer

    db = tmp_path / "s.duckdb"
    monkeypatch.setenv(_pricing.PRICES_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(ValueError, match="nope.json"):
        tracer.configure(db=db)
    assert not db.exists()
    good = tmp_path / "p.json"
    good.write_text('{"my-model": {"input": 1.0}}')
    monkeypatch.setenv(_pricing.PRICES_ENV, str(good))
    try:
        tracer.configure(db=db)
        good.unlink()  # read at configure(): the first lookup does not go back to the file
        assert price_for("my-model") == Price(1.0)
    finally:
        tracer.shutdown()
