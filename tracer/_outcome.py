"""What became of the spans of one batch: stored, spooled, or dropped with a reason.

Shared by the span processor (which counts) and the store's exporter (which knows), so that
no span is ever lost without a count and a reason (docs/reliability.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The ``reason`` of ``dropped_spans`` rows and the keys of ``tracer.stats().dropped_reasons``.
QUEUE_FULL = "queue full"
AFTER_SHUTDOWN = "ended after shutdown"
EXPORTER_FAILED = "exporter failed"
EXIT_TIMEOUT = "exit timeout"
UNENCODABLE = "unencodable span"
STORE_REFUSED = "store refused"
UNWRITABLE = "store and spool not writable"
# A server store unreachable for so long that its local spool reached its bound (SPYGLASS_SPOOL_MAX_MB).
SPOOL_FULL = "spool full"


@dataclass
class Outcome:
    """Counts for one batch; ``stored + spooled + sum(dropped.values())`` is the batch size."""

    stored: int = 0
    spooled: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, count: int) -> Outcome:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        return self
