"""The one place where Spyglass's own errors are caught.

Telemetry must never break the user's call: an error inside our code is logged once per
kind and swallowed. Our own test suite sets ``SPYGLASS_RAISE_INTERNAL_ERRORS=1`` (or calls
:func:`set_raise_internal_errors`) so that the same errors fail the tests instead of hiding.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

logger = logging.getLogger("spyglass")

_T = TypeVar("_T")
_raise = os.environ.get("SPYGLASS_RAISE_INTERNAL_ERRORS", "").lower() in {"1", "true", "yes"}
_seen: set[str] = set()
_lock = threading.Lock()


def set_raise_internal_errors(enabled: bool) -> None:
    """Make internal errors propagate (for tests) instead of being logged and swallowed."""
    global _raise
    _raise = enabled


def reset_reported() -> None:
    """Forget which kinds were reported, so the next error of each kind warns again (tests)."""
    with _lock:
        _seen.clear()


def report(kind: str, exc: BaseException) -> None:
    """Log an internal error the first time its kind is seen; later ones go to DEBUG."""
    with _lock:
        first = kind not in _seen
        _seen.add(kind)
    if first:
        logger.warning("spyglass: internal error in %s (telemetry only; your call went on)", kind, exc_info=exc)
    else:
        logger.debug("spyglass: internal error in %s", kind, exc_info=exc)


def swallow(kind: str, exc: Exception) -> None:
    """What :class:`guard` does with an error, for a path run per stream chunk that catches it
    with a plain ``try`` (free until it raises; ``with guard(...)`` costs about 0.4 µs)."""
    if _raise:
        raise exc
    report(kind, exc)


class guard:
    """``with guard("what"):`` swallows and reports ``Exception`` raised by our own code.

    A class rather than ``@contextmanager``: it sits on every traced call, and a plain
    ``__enter__``/``__exit__`` costs a fraction of a generator-based context manager.
    """

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        if _raise:
            return False
        report(self.kind, exc)
        return True


def guarded(kind: str, default: _T) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Decorator form of :class:`guard`: on an internal error, return ``default``."""

    def decorate(fn: Callable[..., _T]) -> Callable[..., _T]:
        def run(*args: object, **kwargs: object) -> _T:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if _raise:
                    raise
                report(kind, exc)
                return default

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        run.__wrapped__ = fn  # type: ignore[attr-defined]
        return run

    return decorate
