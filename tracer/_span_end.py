"""How every Spyglass span ends: status, the error record (secrets scrubbed), exactly once.

Decorated calls and ``tracer.span()`` (:class:`tracer._call.Call`) and client integrations
(:class:`integrations._core.Invocation`) are both :class:`SpanEnd` s: the first ending to
:meth:`~SpanEnd._claim` the span records what it has and calls :meth:`~SpanEnd._end`, which
records the exception if there is one and ends the span, also when recording failed, and
then gives the ended span to the GenAI metrics (tracer/_metrics.py).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as attrs
from ._guard import guard
from ._metrics import instruments
from ._serialize import encodable, safe_str, scrub, truncate
from ._settings import settings

# Status descriptions are a one-line summary; the full text is in the exception event.
MAX_STATUS_CHARS = 1000


def _text(text: str, limit: int) -> str:
    """Scrubbed, then cut: cutting first could leave a key too short to be recognised."""
    return encodable(truncate(scrub(text), limit)[0])


def set_error_status(span: Span, description: str) -> None:
    """Status ERROR with ``description`` scrubbed and bounded."""
    span.set_status(Status(StatusCode.ERROR, _text(description, MAX_STATUS_CHARS)))


def _stacktrace(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception as err:  # an exception object broken enough that traceback chokes on it
        return f"<no stacktrace: {type(err).__name__}>"


def record_error(span: Span, exc: BaseException, extra: Mapping[str, Any] | None = None) -> None:
    """``error.type`` (plus ``extra`` attributes), an ``exception`` event and status ERROR.

    Not ``Span.record_exception``: it calls ``str(exc)`` unguarded, so an exception whose
    ``__str__`` raises would lose the whole error record; its text is not scrubbed (an
    authentication error may quote the API key); and it adds ``exception.escaped``, which
    the semantic conventions deprecate.
    """
    limit = settings().max_value_chars
    message = _text(safe_str(exc), limit)
    cls = type(exc)
    module = cls.__module__
    span_attrs: dict[str, Any] = {attrs.ERROR_TYPE: cls.__qualname__}
    if extra:
        span_attrs.update(extra)
    span.set_attributes(span_attrs)
    span.add_event(
        attrs.EXCEPTION_EVENT,
        {
            attrs.EXCEPTION_TYPE: cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}",
            attrs.EXCEPTION_MESSAGE: message,
            attrs.EXCEPTION_STACKTRACE: _text(_stacktrace(exc), limit),
        },
    )
    set_error_status(span, f"{cls.__name__}: {message}")


class SpanEnd:
    """One span that ends exactly once. Subclasses decide what to record before the end."""

    __slots__ = ("ended", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.ended = False

    def _claim(self) -> bool:
        """True for the first ending only; every later one (a second ``close()``, a stream
        collected after it was exhausted) must record nothing."""
        if self.ended:
            return False
        self.ended = True
        return True

    def _error_attributes(self, exc: BaseException) -> Mapping[str, Any] | None:
        """Span attributes that come with an error (an HTTP status...); none by default."""
        return None

    def _end(self, exc: BaseException | None = None, end_ns: int | None = None) -> None:
        """Record ``exc`` if given, then end the span (at ``end_ns``, else now), then its
        GenAI metrics if the app has a meter provider. Called once, by whoever claimed the
        span; the span ends even if recording the error failed."""
        try:
            if exc is not None:
                with guard("error capture"):
                    record_error(self.span, exc, self._error_attributes(exc))
        finally:
            with guard("span end"):
                self.span.end(end_time=end_ns)
            found = instruments()  # None at once while the app has no meter provider
            if found is not None:
                with guard("metrics"):
                    found.record(self.span)
