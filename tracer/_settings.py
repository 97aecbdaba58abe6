"""Process-wide settings: what is captured, how much of it, and how it is redacted.

One immutable object, swapped whole by ``configure()`` (and by ``reset_settings()`` in
tests), so a traced call reads a consistent set of values without locking.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

_N = TypeVar("_N", int, float)

#: ``redact(attribute_key, text) -> text`` runs on every captured value before it is set on
#: a span. Return the text unchanged, a masked version, or ``None`` to drop the attribute.
RedactHook = Callable[[str, str], str | None]

# ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` takes booleans in older OTel GenAI
# instrumentations and NO_CONTENT / SPAN_ONLY / EVENT_ONLY / SPAN_AND_EVENT in newer ones.
# We only write span attributes, so EVENT_ONLY means "no content on spans" for us.
_OFF = frozenset({"0", "false", "no", "off"})
_FALSE = _OFF | {"no_content", "none", "event_only"}  # also the OTel GenAI capture variable's "off" values
DEFAULT_MAX_VALUE_CHARS = 64_000


def _capture_from_env() -> bool:
    spy = os.environ.get("SPYGLASS_CAPTURE_CONTENT")
    if spy is not None and spy.strip().lower() in _FALSE:
        return False
    otel = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    return not (otel is not None and otel.strip().lower() in _FALSE)


def number_from_env(
    name: str, default: _N, parse: Callable[[str], _N], valid: Callable[[_N], bool], expected: str
) -> _N:
    """A number from the environment, or ``default`` (logged) when it is unset or not one:
    a typo in the environment must not make ``import tracer`` or ``configure()`` fail."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        pass
    else:
        if valid(value):
            return value
    logging.getLogger("spyglass").warning("spyglass: ignoring %s=%r (expected %s)", name, raw, expected)
    return default


def flag_from_env(name: str) -> bool:
    """On unless the variable says off (``0``, ``false``, ``no``, ``off``)."""
    return os.environ.get(name, "").strip().lower() not in _OFF


def _limit_from_env() -> int:
    # Read at import time.
    return number_from_env(
        "SPYGLASS_MAX_VALUE_CHARS", DEFAULT_MAX_VALUE_CHARS, int, lambda v: v > 0, "a positive integer"
    )


@dataclass(frozen=True)
class Settings:
    capture_content: bool = True
    #: A captured value longer than this (in characters, after JSON encoding) is cut and
    #: ends with a visible ``[spyglass: truncated N chars]`` marker.
    max_value_chars: int = DEFAULT_MAX_VALUE_CHARS
    #: Containers are cut after this many items, nesting after this depth.
    max_items: int = 1_000
    max_depth: int = 12
    redact: RedactHook | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(capture_content=_capture_from_env(), max_value_chars=_limit_from_env())

    def with_(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


_current = Settings.from_env()


def settings() -> Settings:
    return _current


def set_settings(new: Settings) -> None:
    global _current
    _current = new


def reset_settings() -> None:
    set_settings(Settings.from_env())
