"""Turn any Python value into bounded, secret-free JSON text for a span attribute.

``json.dumps(default=...)`` is not enough: it recurses into cycles (ValueError), calls
``repr`` that may raise, and has no notion of size. We first walk the value into plain
JSON types with explicit limits, then encode once.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ._settings import Settings

TRUNCATION_MARKER = "…[spyglass: truncated {n} chars]"
REDACTED = "[REDACTED]"

# Keys whose values are secrets wherever they appear (headers, kwargs, config dicts).
_SECRET_KEY = re.compile(r"(api[_-]?key|authorization|password|passwd|secret|access[_-]?token|cookie|x-api-key)", re.I)
# Secret-looking text inside strings: OpenAI-style keys and bearer tokens.
_SECRET_TEXT = re.compile(r"\b(sk-[A-Za-z0-9_\-]{16,}|Bearer\s+[A-Za-z0-9._\-]{16,})")


def truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + TRUNCATION_MARKER.format(n=len(text) - limit), True


def scrub(text: str) -> str:
    return _SECRET_TEXT.sub(REDACTED, text) if ("sk-" in text or "Bearer" in text) else text


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a user __repr__ that raises must not break capture
        return f"<unrepresentable {type(value).__qualname__}>"


def _bytes(value: bytes | bytearray | memoryview) -> str:
    raw = bytes(value)
    head = base64.b64encode(raw[:48]).decode("ascii")
    return f"<{len(raw)} bytes, base64 head: {head}{'…' if len(raw) > 48 else ''}>"


class _Walker:
    __slots__ = ("s", "path")

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.path: set[int] = set()

    def walk(self, v: Any, depth: int) -> Any:
        if v is None or isinstance(v, (bool, int, str)):
            if isinstance(v, str) and len(v) > self.s.max_value_chars:
                return truncate(v, self.s.max_value_chars)[0]
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else str(v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return _bytes(v)
        if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
            return v.isoformat()
        if isinstance(v, enum.Enum):
            return self.walk(v.value, depth)
        if depth >= self.s.max_depth:
            return f"<max depth: {type(v).__qualname__}>"
        key = id(v)
        if key in self.path:
            return f"<cycle: {type(v).__qualname__}>"
        self.path.add(key)
        try:
            return self._container(v, depth + 1)
        finally:
            self.path.discard(key)

    def _container(self, v: Any, depth: int) -> Any:
        limit = self.s.max_items
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for i, (k, item) in enumerate(v.items()):
                if i >= limit:
                    out["…"] = f"[spyglass: {len(v) - limit} more items]"
                    break
                name = k if isinstance(k, str) else _safe_repr(k)
                out[name] = REDACTED if _SECRET_KEY.search(name) else self.walk(item, depth)
            return out
        if isinstance(v, (list, tuple, set, frozenset)):
            items = list(v)
            if isinstance(v, (set, frozenset)):
                items.sort(key=_safe_repr)  # stable output for equal sets
            out_list = [self.walk(item, depth) for item in items[:limit]]
            if len(items) > limit:
                out_list.append(f"[spyglass: {len(items) - limit} more items]")
            return out_list
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: self.walk(getattr(v, f.name, None), depth) for f in dataclasses.fields(v)}
        dump = getattr(v, "model_dump", None)  # pydantic v2, without importing it
        if callable(dump) and not isinstance(v, type):
            try:
                return self.walk(dump(mode="json"), depth)
            except Exception:
                pass  # fall through to the generic paths below
        tolist = getattr(v, "tolist", None)  # numpy arrays and scalars
        if callable(tolist) and hasattr(v, "dtype"):
            size = getattr(v, "size", 1)
            if size > limit:
                flat = v.reshape(-1)[:limit].tolist()
                return {"shape": list(getattr(v, "shape", ())), "dtype": str(v.dtype), "head": self.walk(flat, depth)}
            return self.walk(tolist(), depth)
        return _safe_repr(v)


def to_jsonable(value: Any, s: Settings) -> Any:
    return _Walker(s).walk(value, 0)


def to_text(value: Any, s: Settings) -> tuple[str, bool, bool]:
    """Encode ``value`` for an attribute: returns ``(text, is_json, truncated)``.

    Strings are kept as they are (``text/plain``); everything else becomes JSON.
    """
    if isinstance(value, str):
        text, is_json = value, False
    else:
        text = json.dumps(to_jsonable(value, s), ensure_ascii=False, separators=(",", ":"))
        is_json = True
    text, cut = truncate(scrub(text), s.max_value_chars)
    return text, is_json, cut
