"""``configure()``, ``flush()``, ``shutdown()``: wiring our processor into OpenTelemetry.

Zero config by default: the store is ``./spyglass.duckdb`` (``SPYGLASS_DB`` overrides). If
the application already has an SDK ``TracerProvider``, our processor is added to it and
its own exporters keep working; otherwise we install one.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from ._call import set_tracer_provider
from ._guard import guard, logger
from ._processor import SpyglassSpanProcessor
from ._settings import RedactHook, Settings, set_settings
from .store import DuckDBSpanExporter

DEFAULT_DB = "spyglass.duckdb"


@dataclass(frozen=True)
class Stats:
    db: str | None
    exported: int
    dropped: int
    queued: int
    spooled_batches: int
    direct_batches: int


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.provider: TracerProvider | None = None
        self.processor: SpyglassSpanProcessor | None = None
        self.exit_hooks_installed = False


_state = _State()


def default_db_path() -> str:
    return os.environ.get("SPYGLASS_DB") or DEFAULT_DB


def configure(
    db: str | os.PathLike[str] | None = None,
    *,
    service_name: str | None = None,
    capture_content: bool | None = None,
    max_value_chars: int | None = None,
    redact: RedactHook | None = None,
    tracer_provider: TracerProvider | None = None,
    instrument: Iterable[str] = (),
    max_queue_size: int = 32_768,
    schedule_delay: float = 0.5,
    grounding: bool | None = None,
) -> TracerProvider:
    """Start tracing into a DuckDB store and return the ``TracerProvider`` in use.

    Calling it again replaces the store and settings (spans queued for the old store are
    flushed to it first). ``instrument=["openai"]`` also patches those client libraries.
    A store that is not a Spyglass file, or has a newer schema, raises ``StoreError`` here.
    ``grounding`` (default on; ``SPYGLASS_GROUNDING=false`` turns it off) checks each LLM
    answer against its trace's retrieved documents on the export thread.
    """
    with _state.lock:
        path = os.path.abspath(os.fspath(db) if db is not None else default_db_path())
        set_settings(Settings.from_env().with_(capture_content=capture_content, max_value_chars=max_value_chars,
                                               redact=redact))
        if grounding is None:
            grounding = os.environ.get("SPYGLASS_GROUNDING", "").strip().lower() not in {"0", "false", "no", "off"}
        exporter = DuckDBSpanExporter(path, grounding=grounding)
        exporter.writer.validate()  # fail here, clearly, on a foreign or newer file
        provider = _provider(tracer_provider, service_name)
        set_tracer_provider(provider)  # our decorators start their spans on it
        if _state.processor is not None and _state.provider is not provider:
            # The SDK cannot remove a processor from the old provider: stop ours there
            # (after a flush) so that it does not keep exporting to the previous store.
            _state.processor.shutdown()
            _state.processor = None
        if _state.processor is not None and _state.provider is provider:
            old = _state.processor
            old.force_flush()
            old.exporter.shutdown()
            old.exporter = exporter  # the SDK cannot remove a processor, so we retarget ours
            old.max_queue_size = max_queue_size
            old.schedule_delay = schedule_delay
        else:
            _state.processor = SpyglassSpanProcessor(exporter, max_queue_size=max_queue_size,
                                                     schedule_delay=schedule_delay)
            provider.add_span_processor(_state.processor)
            _state.provider = provider
        _install_exit_hooks()
        for name in instrument:
            module = importlib.import_module(f"integrations.{name}")
            module.instrument(tracer_provider=provider)
        return provider


def _provider(explicit: TracerProvider | None, service_name: str | None) -> TracerProvider:
    if explicit is not None:
        return explicit
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current  # the application's own provider: add to it, keep its exporters
    resource = Resource.create({"service.name": service_name} if service_name else {})
    provider = TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # set once per process by OTel's rules
        logger.warning("spyglass: a global TracerProvider was already set; using it")
        other = trace.get_tracer_provider()
        if isinstance(other, TracerProvider):
            return other
    return provider


def flush(timeout: float = 30.0) -> bool:
    """Export every finished span and return once they can be queried (True) or on timeout."""
    processor = _state.processor
    if processor is None:
        return True
    with guard("flush"):
        return processor.force_flush(int(timeout * 1000))
    return False


def shutdown() -> None:
    """Flush and stop exporting. Tracing calls keep working; their spans are no longer stored."""
    with _state.lock:
        processor, _state.processor, _state.provider = _state.processor, None, None
    if processor is not None:
        with guard("shutdown"):
            processor.shutdown()


def stats() -> Stats:
    """Counters of the current exporter: what was written, dropped, queued, spooled."""
    p = _state.processor
    if p is None:
        return Stats(None, 0, 0, 0, 0, 0)
    exporter: Any = p.exporter
    writer = getattr(exporter, "writer", None)
    return Stats(getattr(exporter, "path", None), p.exported, p.dropped, len(p._queue),
                 getattr(writer, "spooled_batches", 0), getattr(writer, "direct_batches", 0))


def _install_exit_hooks() -> None:
    if _state.exit_hooks_installed:
        return
    _state.exit_hooks_installed = True
    atexit.register(shutdown)
    # SIGTERM's default action kills the process without running atexit. Flush first, then
    # let the default action happen; leave alone any handler the application installed.
    if threading.current_thread() is threading.main_thread():
        with guard("SIGTERM handler"):
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: Any) -> None:
    try:
        shutdown()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
