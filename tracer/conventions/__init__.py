"""What other instrumentations' spans mean, in the keys Spyglass reads.

Spans reach the store from our decorators and integrations, and from other OpenTelemetry
instrumentations installed alongside (OpenInference, OpenLLMetry, the OTel contrib GenAI
instrumentations, Logfire). Each keeps its content under its own keys, and the store keeps
them as they came. :func:`canonical` maps one span's attributes to the keys the panels, the
grounding check and ``spyglass export`` read (``spyglass.span.type``, ``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.retrieval.documents``, usage and model), filling only
what is absent: a span that already speaks the GenAI conventions is returned as is.

One module per convention, each a :class:`Convention`: ``detect`` says whether a span is
written in it, ``kind`` gives its span type cheaply (at span start too), ``normalize`` gives
the canonical keys it can derive. docs/conventions.md lists what each one maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .. import attributes as A

__all__ = ["Convention", "canonical", "span_type"]

Events = Sequence[Mapping[str, Any]]  # {"name": ..., "attributes": {...}} per span event


class Convention(Protocol):
    name: str

    def detect(self, attributes: Mapping[str, Any], events: Events) -> bool: ...

    def kind(self, attributes: Mapping[str, Any]) -> str | None: ...

    def normalize(self, attributes: Mapping[str, Any], events: Events) -> Mapping[str, Any]: ...


_TYPE_BY_OPERATION = {
    A.OP_CHAT: A.SPAN_TYPE_LLM,
    A.OP_TEXT_COMPLETION: A.SPAN_TYPE_LLM,
    A.OP_GENERATE_CONTENT: A.SPAN_TYPE_LLM,
    A.OP_EMBEDDINGS: A.SPAN_TYPE_EMBEDDING,
    A.OP_RETRIEVAL: A.SPAN_TYPE_RETRIEVER,
    A.OP_EXECUTE_TOOL: A.SPAN_TYPE_TOOL,
}
_TYPE_BY_OI_KIND = {v: k for k, v in A.OI_KIND_BY_SPAN_TYPE.items()}


_CONVENTIONS: tuple[Convention, ...] | None = None


def _conventions() -> tuple[Convention, ...]:
    global _CONVENTIONS
    if _CONVENTIONS is None:  # built on first use: importing tracer stays cheap
        from ._logfire import Logfire
        from ._openinference import OpenInference
        from ._openllmetry import OpenLLMetry
        from ._otel_contrib import OTelContrib

        _CONVENTIONS = (OpenInference(), OpenLLMetry(), Logfire(), OTelContrib())
    return _CONVENTIONS


def span_type(attributes: Mapping[str, Any]) -> str | None:
    """``llm``, ``retriever``, ``tool``... for a span of any convention; ``None`` if unknown.

    Cheap, and readable at span start (the SDK span's attributes so far) as well as at export.
    """
    kind = attributes.get(A.SPAN_TYPE)
    if kind:
        return str(kind)
    for convention in _conventions():
        if convention.detect(attributes, ()):
            found = convention.kind(attributes)
            if found:
                return found
    return _TYPE_BY_OI_KIND.get(str(attributes.get(A.OI_SPAN_KIND))) or _TYPE_BY_OPERATION.get(
        str(attributes.get(A.GEN_AI_OPERATION_NAME))
    )


def canonical(attributes: Mapping[str, Any], events: Events = ()) -> Mapping[str, Any]:
    """``attributes``, with the canonical keys that other conventions' keys give, where absent.

    Our own spans (``spyglass.span.type`` set) come back unchanged, without a copy.
    """
    if A.SPAN_TYPE in attributes:
        return attributes
    out: dict[str, Any] | None = None
    for convention in _conventions():
        if convention.detect(attributes, events):
            if out is None:
                out = dict(attributes)
            for key, value in convention.normalize(attributes, events).items():
                if value is not None and out.get(key) is None:
                    out[key] = value
    kind = span_type(out if out is not None else attributes)
    if kind is None:
        return out if out is not None else attributes
    if out is None:
        out = dict(attributes)
    out[A.SPAN_TYPE] = kind
    return out
