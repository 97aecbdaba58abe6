"""GenAI client metrics, read off our LLM and embedding spans as they end.

``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration`` are the two client
metrics of the OpenTelemetry GenAI conventions (``docs/gen-ai/gen-ai-metrics.md`` in
open-telemetry/semantic-conventions-genai): histograms, in ``{token}`` and ``s``, with the
bucket boundaries the conventions advise. Every Spyglass span ends through
:class:`tracer._span_end.SpanEnd`, decorated calls and client integrations alike, and that
is where :func:`instruments` is asked; a span of type ``llm`` or ``embedding`` then gives
its duration and its token counts from its own attributes, so what the metrics say is what
the span says.

One model call is counted once, by the store's rule (tracer/_nesting.py): the tokens of a
span marked ``spyglass.llm.inner_usage`` are not recorded, a call nested in it reported
them; the duration of a span marked ``spyglass.llm.inner_calls`` is not recorded either,
the innermost call is the client call being timed.

Metrics go to the meter provider the app set (``metrics.set_meter_provider``). Until it
sets one, the API's global is a proxy that drops every measurement, and then a span end
costs one module-attribute read and an identity check here. Instruments are made once per
provider, so a provider set after Spyglass was imported is picked up at the next span end.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Final

from opentelemetry import metrics, trace
from opentelemetry.environment_variables import OTEL_PYTHON_METER_PROVIDER
from opentelemetry.metrics import Histogram, MeterProvider, NoOpHistogram, NoOpMeterProvider

from . import attributes as attrs
from ._guard import guard
from .conventions import canonical, span_type
from .version import __version__

_SCOPE: Final = "spyglass"

# ExplicitBucketBoundaries advised by the conventions for each instrument.
TOKEN_USAGE_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

# The span attributes a data point carries, when the span has them.
_POINT_KEYS: Final = (
    attrs.GEN_AI_OPERATION_NAME,
    attrs.GEN_AI_PROVIDER_NAME,
    attrs.GEN_AI_REQUEST_MODEL,
    attrs.GEN_AI_RESPONSE_MODEL,
    attrs.SERVER_ADDRESS,
    attrs.SERVER_PORT,
    attrs.ERROR_TYPE,
    # The conventions' OpenAI refinement of both metrics; only openai spans have them.
    attrs.OPENAI_RESPONSE_SERVICE_TIER,
    attrs.OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)
# What a span of ours that says no operation name is doing (trace_step(kind="embedding")...).
_OPERATION_BY_SPAN_TYPE: Final = {attrs.SPAN_TYPE_LLM: attrs.OP_CHAT, attrs.SPAN_TYPE_EMBEDDING: attrs.OP_EMBEDDINGS}
_TOKENS: Final = (
    (attrs.GEN_AI_USAGE_INPUT_TOKENS, attrs.TOKEN_TYPE_INPUT),
    (attrs.GEN_AI_USAGE_OUTPUT_TOKENS, attrs.TOKEN_TYPE_OUTPUT),
)


class Instruments:
    """The two histograms on one meter provider, and how a span is recorded on them."""

    __slots__ = ("duration", "tokens")

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(_SCOPE, __version__)
        self.tokens = _histogram(
            meter,
            attrs.GEN_AI_CLIENT_TOKEN_USAGE,
            "{token}",
            "Number of input and output tokens used.",
            TOKEN_USAGE_BUCKETS,
        )
        self.duration = _histogram(
            meter, attrs.GEN_AI_CLIENT_OPERATION_DURATION, "s", "GenAI operation duration.", DURATION_BUCKETS
        )

    def record(self, span: Any) -> None:
        """The duration and token counts of an ended span, if it is one of our model calls."""
        found: Mapping[str, Any] | None = getattr(span, "attributes", None)  # SDK spans only
        if not found:
            return
        operation = _OPERATION_BY_SPAN_TYPE.get(found.get(attrs.SPAN_TYPE, ""))
        if operation is None:
            return
        self._record(span, _plain(found), operation)

    def record_foreign(self, span: Any) -> None:
        """A call another instrumentation made inside one of ours, read through its convention
        (tracer/conventions). Only for instrumentations that record no metrics themselves: the
        enclosing span of ours leaves the call to the nested one (see the module docstring)."""
        attributes = dict(canonical(span.attributes or {}, span.events or ()))
        operation = _OPERATION_BY_SPAN_TYPE.get(span_type(attributes) or "")
        if operation is not None:
            self._record(span, attributes, operation)

    def _record(self, span: Any, attributes: Mapping[str, Any], operation: str) -> None:
        point = {key: value for key in _POINT_KEYS if (value := attributes.get(key)) is not None}
        point.setdefault(attrs.GEN_AI_OPERATION_NAME, operation)
        context = trace.set_span_in_context(span)  # exemplars link to the span
        if not attributes.get(attrs.LLM_INNER_CALLS):
            start, end = span.start_time, span.end_time
            if isinstance(start, int) and isinstance(end, int):
                self.duration.record(max(end - start, 0) / 1e9, point, context)
        if attributes.get(attrs.LLM_INNER_USAGE):
            return
        for key, token_type in _TOKENS:
            count = attributes.get(key)
            if type(count) is int and count >= 0:  # not a bool, not a float a user passed
                self.tokens.record(count, {**point, attrs.GEN_AI_TOKEN_TYPE: token_type}, context)


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: tuple[float, ...]) -> Histogram:
    try:
        histogram: Histogram = meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # opentelemetry-api < 1.30 has no advisory: the SDK's default buckets then
        histogram = meter.create_histogram(name, unit=unit, description=description)
    return histogram


def _plain(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """A plain dict of the span's attributes. An SDK span hands out a read-only view of its
    ``BoundedAttributes``, whose ``get`` is Python code that raises and catches a KeyError for
    each missing key (most of ours are, on most spans); its ``copy()`` is one C dict copy."""
    copy = getattr(attributes, "copy", None)
    return copy() if copy is not None else dict(attributes)


# The API keeps the provider the app set in a private global: None until set. Reading it is
# free, where the public get_meter_provider() costs about 0.8 µs while none is set (it looks
# up OTEL_PYTHON_METER_PROVIDER in os.environ, which raises and catches a KeyError). Should a
# later API drop it, the public function is used, and the proxy it returns until a provider
# is set forwards measurements once one is: slower, still right.
def _api_state() -> ModuleType | None:
    try:
        from opentelemetry.metrics import _internal as state
    except ImportError:  # pragma: no cover - depends on the installed API
        return None
    return state if hasattr(state, "_METER_PROVIDER") else None


_state = _api_state()
_UNREAD: Final = object()
# (the provider instruments were last looked up for, what was found there). Replaced whole.
# With OTEL_PYTHON_METER_PROVIDER set, the API loads that provider on first use: the first
# span end has to look, even though the global still reads None.
_cache: tuple[object, Instruments | None] = (_UNREAD if OTEL_PYTHON_METER_PROVIDER in os.environ else None, None)


def instruments() -> Instruments | None:
    """The instruments on the app's meter provider; ``None``, at once, while it has set none."""
    if _state is not None:
        provider = _state._METER_PROVIDER
    else:
        try:  # loads OTEL_PYTHON_METER_PROVIDER on first use, which may fail: never the app's call
            provider = metrics.get_meter_provider()
        except Exception:
            return None
    seen, found = _cache
    if provider is seen:
        return found
    return _look_up(provider)


def _look_up(provider: MeterProvider | None) -> Instruments | None:
    global _cache
    _cache = (provider, None)  # should what follows fail, it is not tried again at every span end
    with guard("metrics instruments"):
        if provider is None:  # OTEL_PYTHON_METER_PROVIDER: let the API load it, then look there
            metrics.get_meter_provider()
            return instruments() if _state is not None and _state._METER_PROVIDER is not None else None
        found = None if isinstance(provider, NoOpMeterProvider) else Instruments(provider)
        if found is not None and isinstance(found.duration, NoOpHistogram):
            found = None  # an SDK provider that is disabled (OTEL_SDK_DISABLED) hands out no-ops
        _cache = (provider, found)
        return found
    return None
