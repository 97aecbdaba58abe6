"""OTLP/HTTP trace request bodies to SDK ``ReadableSpan`` objects, the type every Spyglass
store writer takes, so that received spans go down the same path as in-process ones.

Parsing is the maintained ``opentelemetry-proto`` messages' own (protobuf wire format, or
protobuf's JSON mapping); what this module adds is what the OTLP spec says differs from the
plain mapping (hex ids in JSON), gzip, and the per-span checks whose failures become
``partial_success`` instead of failing the whole request.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

__all__ = ["JSON", "PROTOBUF", "BadRequest", "Decoded", "TooLarge", "UnsupportedMediaType", "decode", "inflate"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP span kinds are the SDK's shifted by one (0 is UNSPECIFIED there, read as INTERNAL).
_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
# Fields that hold ids, which OTLP/JSON writes in hex where protobuf's JSON mapping expects base64.
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class BadRequest(ValueError):
    """The body does not parse as an OTLP trace request (answered 400)."""


class TooLarge(ValueError):
    """The body, once decompressed, is over the size limit (answered 413)."""


class UnsupportedMediaType(ValueError):
    """Neither protobuf nor JSON (answered 415)."""


@dataclass
class Decoded:
    spans: list[ReadableSpan]
    rejected: int  # spans left out (invalid ids), reported in partial_success
    errors: list[str]  # why, first few only


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(f"unsupported content type {content_type!r}; send {PROTOBUF} or {JSON}")
    return kind


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (gzip, deflate or none), at most ``limit``
    bytes: a small compressed body may not expand past what we accept uncompressed."""
    coding = (encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"unsupported content encoding {encoding!r}; send gzip or none")
    inflater = zlib.decompressobj(wbits=31 if coding == "gzip" else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"the {coding} body does not decompress: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"the body is over {limit} bytes once decompressed")
    if not inflater.eof:
        raise BadRequest(f"the {coding} body is truncated")
    return out


def decode(body: bytes, content_type: str) -> Decoded:
    """The spans of one ``ExportTraceServiceRequest`` body (already inflated)."""
    request = ExportTraceServiceRequest()
    if media_type(content_type) == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:  # truncated or not protobuf at all
            raise BadRequest(f"the body is not an OTLP protobuf trace request: {exc}") from None
    else:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            json_format.ParseDict(_ids_to_base64(data), request, ignore_unknown_fields=True)
        except (ValueError, json_format.ParseError, TypeError) as exc:
            raise BadRequest(f"the body is not an OTLP JSON trace request: {exc}") from None
    return _spans(request)


def _ids_to_base64(node: Any) -> Any:
    """OTLP/JSON ids are hex strings; protobuf's JSON parser reads ``bytes`` fields as base64."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str) and value:
                try:
                    value = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise ValueError(f"{key} {value[:40]!r} is not hex") from None
            out[key] = _ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_ids_to_base64(item) for item in node]
    return node


def _spans(request: ExportTraceServiceRequest) -> Decoded:
    spans: list[ReadableSpan] = []
    rejected, errors = 0, list[str]()
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes), resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(
                scope_spans.scope.name, scope_spans.scope.version or None, scope_spans.schema_url or None
            )
            for span in scope_spans.spans:
                problem = _invalid(span)
                if problem is not None:
                    rejected += 1
                    if len(errors) < 5:
                        errors.append(problem)
                    continue
                spans.append(_span(span, resource, scope))
    return Decoded(spans, rejected, errors)


def _invalid(span: trace_pb2.Span) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"span {span.name[:80]!r}: trace_id must be 16 bytes, not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"span {span.name[:80]!r}: span_id must be 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return f"span {span.name[:80]!r}: parent_span_id must be 8 bytes"
    return None


def _context(trace_id: bytes, span_id: bytes, flags: int, remote: bool) -> SpanContext:
    return SpanContext(
        int.from_bytes(trace_id, "big"), int.from_bytes(span_id, "big"), remote, TraceFlags(flags & 0xFF)
    )


def _span(span: trace_pb2.Span, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    parent = _context(span.trace_id, span.parent_span_id, span.flags, True) if any(span.parent_span_id) else None
    links = [
        Link(_context(link.trace_id, link.span_id, link.flags, True), _attributes(link.attributes))
        for link in span.links
        if len(link.trace_id) == 16 and len(link.span_id) == 8
    ]
    status = _STATUS.get(span.status.code, StatusCode.UNSET)
    return ReadableSpan(
        name=span.name,
        context=_context(span.trace_id, span.span_id, span.flags, False),
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes),
        events=[Event(e.name, _attributes(e.attributes), e.time_unix_nano) for e in span.events],
        links=links,
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=Status(status, span.status.message or None) if status is StatusCode.ERROR else Status(status),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano or span.start_time_unix_nano,
        instrumentation_scope=scope,
    )


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        value = _value(pair.value)
        if value is not None and pair.key:
            out[pair.key] = value
    return out


def _value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as an OTel attribute value: primitives as they are, a homogeneous
    array of primitives as a tuple; maps, mixed arrays and bytes (which attributes cannot
    hold) as JSON text, bytes in base64, so that nothing a sender set is lost."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        items = [_plain(v) for v in value.array_value.values]
        types = {type(i) for i in items}
        if len(types) == 1 and types <= {str, bool, int, float}:
            return tuple(items)
        return json.dumps(items, ensure_ascii=False) if items else ()
    if kind in ("kvlist_value", "bytes_value"):
        return json.dumps(_plain(value), ensure_ascii=False)
    return getattr(value, kind)


def _plain(value: AnyValue) -> Any:
    """An ``AnyValue`` as plain JSON-able Python."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)
