"""Everything we know about the ``anthropic`` package's own types, including its private parts.

Every reach into an anthropic private attribute or module is HERE and nowhere else. Read in
anthropic 0.40.0 and 2.15.0, tested on 0.45.0 and 2.15.0 (the supported range is
``anthropic>=0.45``: before it, a ``messages.stream()`` span gets no response data):

* ``SyncAPIResource._client`` / ``AsyncAPIResource._client``: the client behind
  ``client.messages`` (anthropic/_resource.py, unchanged 0.x … 2.15).
* ``MessageStreamManager.__api_request`` (name-mangled ``_MessageStreamManager__api_request``,
  and the same for ``AsyncMessageStreamManager`` and the ``Beta*`` managers): the request that
  ``messages.stream()`` makes on ``__enter__``. ``stream()`` does not call ``create``; it posts
  itself, so we wrap this callable (async: awaitable) to start the span when the request is
  really made and to hand the helper our stream proxy (anthropic/lib/streaming/_messages.py,
  0.40 … 2.15).
* ``anthropic._base_client.start_api_call_span`` (2.x only): the SDK's own OpenTelemetry span
  for each API call. Inside a call Spyglass traces, it would be a second span for the same
  call, nested in ours; we make it return ``None`` there, which the SDK treats as "no span"
  (the path a client built with ``open_telemetry=False`` takes).
* ``anthropic._legacy_response.LegacyAPIResponse`` (0.x): what ``with_raw_response`` returns.
  In 2.x it returns ``anthropic.APIResponse``, the type ``with_streaming_response`` returns
  too; the request header ``X-Stainless-Raw-Response: raw`` (anthropic/_constants.py) tells
  the first (body read, ``parse()`` cached) from the second (body unread: never parsed by us).
  The async ``AsyncAPIResponse`` parses only when awaited: its span keeps the request only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

import anthropic

from tracer import attributes as A

from ._core import ClientAttributes

try:  # private module, gone in 2.x; see the docstring
    from anthropic._legacy_response import LegacyAPIResponse as _LegacyAPIResponse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the installed client
    _LegacyAPIResponse = None

STREAM_TYPES: tuple[type, ...] = (anthropic.Stream,)
ASYNC_STREAM_TYPES: tuple[type, ...] = (anthropic.AsyncStream,)
RAW_RESPONSE_TYPES: tuple[type, ...] = (_LegacyAPIResponse,) if isinstance(_LegacyAPIResponse, type) else ()
_API_RESPONSE = getattr(anthropic, "APIResponse", None)
_RAW_HEADER = "X-Stainless-Raw-Response"  # private constant, see the docstring
# ``NOT_GIVEN`` / ``omit``: "no value" markers a caller may pass explicitly.
_SENTINELS = frozenset(
    t for t in (getattr(anthropic, "NotGiven", None), getattr(anthropic, "Omit", None)) if isinstance(t, type)
)

# The same messages resource serves the cloud platforms' clients; their provider names.
_PROVIDER_BY_CLIENT_MODULE = (
    ("anthropic.lib.bedrock", A.PROVIDER_AWS_BEDROCK),
    ("anthropic.lib.vertex", A.PROVIDER_GCP_VERTEX_AI),
)
# Name-mangled private attribute of every stream manager class; see the docstring.
_MANAGER_REQUEST = "_{cls}__api_request"


def given(value: Any) -> bool:
    return value is not None and type(value) not in _SENTINELS


def _provider(client: Any) -> str:
    module = type(client).__module__
    for prefix, provider in _PROVIDER_BY_CLIENT_MODULE:
        if module.startswith(prefix):
            return provider
    return A.PROVIDER_ANTHROPIC


def _provider_attributes(client: Any, host: str) -> Mapping[str, Any]:
    provider = _provider(client)
    return {
        A.GEN_AI_PROVIDER_NAME: provider,
        A.OI_LLM_PROVIDER: {A.PROVIDER_AWS_BEDROCK: "aws", A.PROVIDER_GCP_VERTEX_AI: "google"}.get(
            provider, "anthropic"
        ),
        A.OI_LLM_SYSTEM: "anthropic",
    }


client_attributes = ClientAttributes(
    {A.GEN_AI_PROVIDER_NAME: A.PROVIDER_ANTHROPIC, A.OI_LLM_PROVIDER: "anthropic", A.OI_LLM_SYSTEM: "anthropic"},
    _provider_attributes,
)


class AnthropicAdapter:
    """The core's view of anthropic's return types."""

    client_attributes = staticmethod(client_attributes)

    @staticmethod
    def is_stream(result: Any) -> bool:
        return isinstance(result, STREAM_TYPES)

    @staticmethod
    def is_async_stream(result: Any) -> bool:
        return isinstance(result, ASYNC_STREAM_TYPES)

    @staticmethod
    def is_raw_response(result: Any) -> bool:
        if RAW_RESPONSE_TYPES and isinstance(result, RAW_RESPONSE_TYPES):
            return True
        if isinstance(_API_RESPONSE, type) and isinstance(result, _API_RESPONSE):
            request: Any = getattr(result, "http_request", None)
            return request is not None and request.headers.get(_RAW_HEADER) == "raw"
        return False


# --- stream managers (messages.stream()) -------------------------------------------------------
def _request_attribute(manager: Any) -> str | None:
    for cls in type(manager).__mro__:
        name = _MANAGER_REQUEST.format(cls=cls.__name__)
        if name in getattr(manager, "__dict__", ()):
            return name
    return None


def replace_manager_request(manager: Any, wrap: Callable[[Any], Any]) -> bool:
    """Replace the request a stream manager makes on ``__enter__`` by ``wrap(original)``.
    False (manager left as it was) when this client version keeps it elsewhere."""
    name = _request_attribute(manager)
    if name is None:
        return False
    setattr(manager, name, wrap(getattr(manager, name)))
    return True


class LazyAwaitable:
    """An awaitable that creates its coroutine only when awaited: an async stream manager that
    is never entered then leaves no "coroutine was never awaited" warning of ours behind."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Awaitable[Any]]) -> None:
        self._make = make

    def __await__(self) -> Generator[Any, None, Any]:
        return self._make().__await__()


# --- the SDK's own call span (anthropic 2.x) ---------------------------------------------------
SDK_SPAN_MODULE = "anthropic._base_client"
SDK_SPAN_FUNCTION = "start_api_call_span"
