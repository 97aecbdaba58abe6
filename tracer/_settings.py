"""Process-wide settings: what is captured, how much of it, and how it is redacted.

One immutable object, swapped whole by ``configure()`` (and by ``reset_settings()`` in
tests), so a traced call reads a consistent set of values without locking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Callable, Optional

#: ``redact(attribute_key, text) -> text`` runs on every captured value before it is set on
#: a span. Return the text unchanged, a masked version, or ``None`` to drop the attribute.
RedactHook = Callable[[str, str], Optional[str]]

_FALSE = {"0", "false", "no", "off", "no_content", "none"}


def _capture_from_env() -> bool:
    spy = os.environ.get("SPYGLASS_CAPTURE_CONTENT")
    if spy is not None and spy.strip().lower() in _FALSE:
        return False
    otel = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    if otel is not None and otel.strip().lower() in _FALSE:
        return False
    return True


@dataclass(frozen=True)
class Settings:
    capture_content: bool = True
    #: A captured value longer than this (in characters, after JSON encoding) is cut and
    #: ends with a visible ``[spyglass: truncated N chars]`` marker.
    max_value_chars: int = 64_000
    #: Containers are cut after this many items, nesting after this depth.
    max_items: int = 1_000
    max_depth: int = 12
    redact: Optional[RedactHook] = None

    @classmethod
    def from_env(cls) -> "Settings":
        limit = os.environ.get("SPYGLASS_MAX_VALUE_CHARS")
        return cls(capture_content=_capture_from_env(), max_value_chars=int(limit) if limit else 64_000)

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_current = Settings.from_env()


def settings() -> Settings:
    return _current


def set_settings(new: Settings) -> None:
    global _current
    _current = new


def reset_settings() -> None:
    set_settings(Settings.from_env())
