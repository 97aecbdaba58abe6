"""Finished OpenTelemetry spans -> one Arrow table in the shape of ``spans`` (plus two
staging columns, ``_events`` and ``_documents``, from which ingest derives its tables).

This runs on the exporter's background thread, never on the traced call.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan

from .. import attributes as A
from .._evidence import context_documents
from .._guard import logger
from .._serialize import REDACTED, _is_secret_key, scrub
from ..conventions import canonical
from ._schema import SPAN_COLUMNS

_ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR[]": pa.list_(pa.string()),
    "JSON": pa.string(),
}
STAGING_SCHEMA = pa.schema(
    [pa.field(name, _ARROW_TYPES[typ]) for name, typ in SPAN_COLUMNS if name != "seq"]
    + [pa.field("_events", pa.string()), pa.field("_documents", pa.string())]
)


def conform(table: pa.Table) -> pa.Table:
    """A staging table read back from a spool file, in today's :data:`STAGING_SCHEMA`: a file
    written by an older Spyglass lacks the newer columns, which are then NULL."""
    for field in STAGING_SCHEMA:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table.select(STAGING_SCHEMA.names).cast(STAGING_SCHEMA)


def _json_default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else str(value)


# One encoder for every call (``json.dumps`` with options builds a new one each time).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default).encode


def _dumps(value: Any) -> str:
    """JSON text, secrets scrubbed. Raises on what cannot be stored as is (an int over 4,300
    digits, a lone surrogate, which UTF-8 and so Arrow and DuckDB refuse): the batch is then
    converted again span by span, carefully (see :func:`convert`)."""
    text = scrub(_encode(value))
    if not text.isascii():
        text.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    return text


# --- the careful path: one bad value costs that value, never the span or the batch ---------
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_INT_DIGITS = 4_000  # below CPython's int-to-str limit, and an int DuckDB's JSON keeps


def _fix_text(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _fix_value(value: Any) -> tuple[Any, bool]:
    """``value`` made storable, and whether anything had to change."""
    if isinstance(value, str):
        fixed = _fix_text(value)
        return fixed, fixed != value
    if isinstance(value, bool) or value is None:
        return value, False
    if isinstance(value, int):
        if abs(value).bit_length() > _MAX_INT_DIGITS * 3:  # about 4,000 digits or more
            return f"<int of {value.bit_length()} bits>", True
        return value, False
    if isinstance(value, float):
        return value, False
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        changed = False
        for k, v in value.items():
            key, key_changed = _fix_value(k if isinstance(k, str) else str(k))
            out[key], value_changed = _fix_value(v)
            changed = changed or key_changed or value_changed
        return out, changed
    if isinstance(value, (list, tuple)):
        items = [_fix_value(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return _fix_text(str(value)), True


def _fix_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    replaced: list[str] = []
    for key, value in attrs.items():
        name = _fix_text(key)
        fixed[name], changed = _fix_value(value)
        if changed:
            replaced.append(name)
    if replaced:
        fixed[A.REPLACED] = replaced
    return fixed


# Spans of one kind carry the same keys in the same order: remember which of them are secret.
_secret_names_by_keys: dict[tuple[str, ...], tuple[str, ...]] = {}
_KEY_SETS_CACHE_SIZE = 1024


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs``, or a copy of it with secret-looking keys' values redacted."""
    keys = tuple(attrs)
    secret = _secret_names_by_keys.get(keys)
    if secret is None:
        secret = tuple(k for k in keys if _is_secret_key(k))
        if len(_secret_names_by_keys) >= _KEY_SETS_CACHE_SIZE:
            _secret_names_by_keys.clear()
        _secret_names_by_keys[keys] = secret
    if not secret:
        return attrs
    clean = dict(attrs)
    for k in secret:
        clean[k] = REDACTED
    return clean


_INT64 = 2**63


def _int(value: Any) -> int | None:
    """A token count for a BIGINT column; ``None`` (the attribute keeps the value) when it does not fit."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = int(value)
    return number if -_INT64 <= number < _INT64 else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def spans_to_table(
    spans: Sequence[ReadableSpan], extra_events: Mapping[int, list[dict[str, Any]]] | None = None
) -> pa.Table:
    """The staging table of ``spans`` (see :func:`convert`; spans nothing could store are left out)."""
    return convert(spans, extra_events)[0]


def convert(
    spans: Sequence[ReadableSpan], extra_events: Mapping[int, list[dict[str, Any]]] | None = None
) -> tuple[pa.Table, int]:
    """``(table, left_out)``: the staging table of ``spans`` and how many could not be stored.

    ``extra_events``: events to store with a span (by span id) that the finished span object
    cannot take any more, such as the grounding check's evaluation. The whole batch is tried
    at once first; if anything in it cannot be stored as is, each span is converted on its
    own with its bad values replaced (and named in ``spyglass.replaced``).
    """
    try:
        return _table(spans, extra_events, careful=False), 0
    except Exception:  # noqa: S110 - expected on bad values: the careful path below names them
        pass
    tables: list[pa.Table] = []
    left_out = 0
    for span in spans:
        try:
            tables.append(_table([span], extra_events, careful=True))
        except Exception as exc:  # a span nothing can store: it alone is lost, and counted
            left_out += 1
            logger.warning(
                "spyglass: a span could not be stored and was dropped (counted): %s: %s", type(exc).__name__, exc
            )
    if not tables:
        return STAGING_SCHEMA.empty_table(), left_out
    return (pa.concat_tables(tables) if len(tables) > 1 else tables[0]), left_out


def _table(
    spans: Sequence[ReadableSpan], extra_events: Mapping[int, list[dict[str, Any]]] | None, careful: bool
) -> pa.Table:
    fix = _fix_text if careful else _same
    cols: dict[str, list[Any]] = {field.name: [] for field in STAGING_SCHEMA}
    resource_cache: dict[int, tuple[str, str | None]] = {}
    for span in spans:
        ctx = span.context
        # A plain dict (the span's is a read-only proxy whose every lookup is a Python call).
        attrs = dict(span.attributes or {})
        if careful:
            attrs = _fix_attributes(attrs)
        res = span.resource
        if id(res) not in resource_cache:  # one resource per provider: encode it once per batch
            rattrs = dict(res.attributes) if res is not None else {}
            if careful:
                rattrs = _fix_attributes(rattrs)
            resource_cache[id(res)] = (_dumps(rattrs), _str(rattrs.get(A.SERVICE_NAME)))
        resource_json, service = resource_cache[id(res)]
        start, end = span.start_time or 0, span.end_time or span.start_time or 0
        tags = attrs.get(A.TAGS)
        status = span.status
        # What the span means, whichever convention wrote it; the stored attributes stay as they came.
        view = canonical(attrs, _event_views(span) if A.SPAN_TYPE not in attrs else ())
        cols["trace_id"].append(format(ctx.trace_id, "032x") if ctx else None)
        cols["span_id"].append(format(ctx.span_id, "016x") if ctx else None)
        cols["parent_span_id"].append(format(span.parent.span_id, "016x") if span.parent else None)
        cols["name"].append(scrub(fix(span.name)))
        cols["kind"].append(span.kind.name)
        cols["span_type"].append(view.get(A.SPAN_TYPE))
        cols["start_time"].append(start // 1000)
        cols["end_time"].append(end // 1000)
        cols["duration_ms"].append((end - start) / 1e6)
        cols["status_code"].append(status.status_code.name)
        cols["status_message"].append(scrub(fix(status.description)) if status.description else None)
        cols["service_name"].append(service)
        cols["operation"].append(_str(view.get(A.GEN_AI_OPERATION_NAME)))
        cols["provider"].append(_str(view.get(A.GEN_AI_PROVIDER_NAME)))
        cols["model"].append(_str(view.get(A.GEN_AI_RESPONSE_MODEL) or view.get(A.GEN_AI_REQUEST_MODEL)))
        cols["input_tokens"].append(_int(view.get(A.GEN_AI_USAGE_INPUT_TOKENS)))
        cols["output_tokens"].append(_int(view.get(A.GEN_AI_USAGE_OUTPUT_TOKENS)))
        cols["cost_usd"].append(_float(attrs.get(A.COST_USD)))
        cols["session_id"].append(_str(attrs.get(A.SESSION_ID)))
        cols["user_id"].append(_str(attrs.get(A.USER_ID)))
        cols["prompt_version"].append(_str(attrs.get(A.PROMPT_VERSION)))
        cols["tags"].append([str(t) for t in tags] if isinstance(tags, (list, tuple)) else None)
        cols["error_type"].append(_str(attrs.get(A.ERROR_TYPE)))
        cols["attributes"].append(_dumps(_clean(attrs)))
        cols["resource"].append(resource_json)
        cols["scope"].append(fix(span.instrumentation_scope.name) if span.instrumentation_scope else None)
        cols["llm_parent_span_id"].append(_str(attrs.get(A.LLM_PARENT_SPAN_ID)))
        cols["usage_counted"].append(attrs.get(A.LLM_INNER_USAGE) is not True)
        events = [
            {"time_us": e.timestamp // 1000, "name": e.name, "attributes": dict(e.attributes or {})}
            for e in span.events
        ]
        if extra_events and ctx is not None:
            events += extra_events.get(ctx.span_id, [])
        if careful and events:
            events = [_fix_value(e)[0] for e in events]
        cols["_events"].append(_dumps(events) if events else None)
        docs = view.get(A.GEN_AI_RETRIEVAL_DOCUMENTS)
        if docs is None and A.CONTEXT_ARGUMENTS in attrs:  # an LLM function given its documents
            found = context_documents(attrs)
            docs = _dumps(found) if found else None
        cols["_documents"].append(scrub(fix(docs)) if isinstance(docs, str) else None)
    return pa.Table.from_pydict(cols, schema=STAGING_SCHEMA)


def _event_views(span: ReadableSpan) -> list[dict[str, Any]]:
    """A foreign span's events as conventions read them (some put content there)."""
    return [{"name": e.name, "attributes": e.attributes or {}} for e in span.events]


def _same(text: str) -> str:
    return text
