"""Trace and span ids that do not depend on the application's use of ``random``.

The SDK's default ``RandomIdGenerator`` draws from the ``random`` module's global state, so
two processes that call ``random.seed(0)`` (common in ML code and tests) produce the same
ids and their traces merge in the store. Ours draws from a private generator seeded from
``os.urandom`` and reseeded in every forked child.
"""

from __future__ import annotations

import os
import random

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator


class PrivateRandomIdGenerator(IdGenerator):
    """Like the SDK's ``RandomIdGenerator`` (same speed, same validity rules), on its own state."""

    def __init__(self) -> None:
        self._random = random.Random(os.urandom(32))
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._random.seed(os.urandom(32))

    def generate_span_id(self) -> int:
        span_id = self._random.getrandbits(64)
        while span_id == trace.INVALID_SPAN_ID:
            span_id = self._random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        trace_id = self._random.getrandbits(128)
        while trace_id == trace.INVALID_TRACE_ID:
            trace_id = self._random.getrandbits(128)
        return trace_id


_shared: PrivateRandomIdGenerator | None = None


def id_generator() -> PrivateRandomIdGenerator:
    """One per process (each registers a fork hook)."""
    global _shared
    if _shared is None:
        _shared = PrivateRandomIdGenerator()
    return _shared
