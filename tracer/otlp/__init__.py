"""Spans from other processes and languages: an OTLP/HTTP receiver (``spyglass collect``)
writing into a Spyglass store through the same path as in-process spans.

Needs the ``collect`` extra (``opentelemetry-proto``, which brings protobuf).
"""

from __future__ import annotations

from ._decode import JSON, PROTOBUF, BadRequest, Decoded, decode
from ._receiver import DEFAULT_HOST, DEFAULT_PORT, TRACES_PATH, Counts, Receiver

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "JSON",
    "PROTOBUF",
    "TRACES_PATH",
    "BadRequest",
    "Counts",
    "Decoded",
    "Receiver",
    "decode",
]
