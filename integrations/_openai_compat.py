"""Everything we know about the ``openai`` package's own types, including its private parts.

Every reach into an openai private attribute or module is HERE and nowhere else. Checked
against openai 1.40.0 and 3.57.0 (the supported range is ``openai>=1.40``):

* ``SyncAPIResource._client`` / ``AsyncAPIResource._client``: the client behind
  ``client.chat.completions`` etc. (openai/_resource.py, unchanged 1.0 … 3.57).
* ``openai._legacy_response.LegacyAPIResponse``: what ``with_raw_response`` methods return
  (openai/_legacy_response.py, 1.0 … 3.57).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai

from tracer import attributes as A

from ._core import ClientAttributes

try:  # private module; see the docstring
    from openai._legacy_response import LegacyAPIResponse as _LegacyAPIResponse
except ImportError:  # pragma: no cover - a future client without it: raw responses stay opaque
    _LegacyAPIResponse = None  # type: ignore[assignment,misc]

STREAM_TYPES: tuple[type, ...] = (openai.Stream,)
ASYNC_STREAM_TYPES: tuple[type, ...] = (openai.AsyncStream,)
RAW_RESPONSE_TYPES: tuple[type, ...] = (_LegacyAPIResponse,) if _LegacyAPIResponse is not None else ()
AZURE_CLIENTS: tuple[type, ...] = tuple(
    t for t in (getattr(openai, "AzureOpenAI", None), getattr(openai, "AsyncAzureOpenAI", None)) if t is not None
)
# ``NOT_GIVEN`` / ``omit``: "no value" markers a caller may pass explicitly.
SENTINEL_TYPES: tuple[type, ...] = tuple(
    t for t in (getattr(openai, "NotGiven", None), getattr(openai, "Omit", None)) if isinstance(t, type)
)

# Other OpenAI-compatible servers the openai client is pointed at, by host suffix.
_PROVIDER_BY_HOST = (
    (".openai.azure.com", A.PROVIDER_AZURE_OPENAI),
    (".cognitiveservices.azure.com", A.PROVIDER_AZURE_OPENAI),
    ("api.groq.com", A.PROVIDER_GROQ),
    ("api.deepseek.com", A.PROVIDER_DEEPSEEK),
    ("api.x.ai", A.PROVIDER_XAI),
    ("api.perplexity.ai", A.PROVIDER_PERPLEXITY),
    ("api.mistral.ai", A.PROVIDER_MISTRAL),
    ("generativelanguage.googleapis.com", A.PROVIDER_GEMINI),
)
# OpenInference's llm.provider values for the same.
_OI_PROVIDER = {
    A.PROVIDER_OPENAI: "openai",
    A.PROVIDER_AZURE_OPENAI: "azure",
    A.PROVIDER_GROQ: "groq",
    A.PROVIDER_DEEPSEEK: "deepseek",
    A.PROVIDER_XAI: "xai",
    A.PROVIDER_MISTRAL: "mistralai",
    A.PROVIDER_GEMINI: "google",
    A.PROVIDER_PERPLEXITY: "perplexity",
}

SENTINELS = frozenset(SENTINEL_TYPES)  # NotGiven, Omit: an argument the caller did not give


def given(value: Any) -> bool:
    return value is not None and type(value) not in SENTINELS


def provider_for(client: Any, host: str) -> str:
    if AZURE_CLIENTS and isinstance(client, AZURE_CLIENTS):
        return A.PROVIDER_AZURE_OPENAI
    for suffix, provider in _PROVIDER_BY_HOST:
        if host.endswith(suffix):
            return provider
    return A.PROVIDER_OPENAI


def _provider_attributes(client: Any, host: str) -> Mapping[str, Any]:
    provider = provider_for(client, host)
    return {
        A.GEN_AI_PROVIDER_NAME: provider,
        A.OI_LLM_PROVIDER: _OI_PROVIDER.get(provider, provider),
        A.OI_LLM_SYSTEM: "openai",
    }


client_attributes = ClientAttributes(
    {A.GEN_AI_PROVIDER_NAME: A.PROVIDER_OPENAI, A.OI_LLM_PROVIDER: "openai", A.OI_LLM_SYSTEM: "openai"},
    _provider_attributes,
)


class OpenAIAdapter:
    """The core's view of openai's return types."""

    client_attributes = staticmethod(client_attributes)

    @staticmethod
    def is_stream(result: Any) -> bool:
        return isinstance(result, STREAM_TYPES)

    @staticmethod
    def is_async_stream(result: Any) -> bool:
        return isinstance(result, ASYNC_STREAM_TYPES)

    @staticmethod
    def is_raw_response(result: Any) -> bool:
        return bool(RAW_RESPONSE_TYPES) and isinstance(result, RAW_RESPONSE_TYPES)
