"""``configure()``, ``flush()``, ``shutdown()``: wiring our processor into OpenTelemetry.

Zero config by default: the store is ``./spyglass.duckdb`` (``SPYGLASS_DB`` overrides). If
the application already has an SDK ``TracerProvider``, our processor is added to it and
its own exporters keep working; otherwise we install one.

Exit and SIGTERM flush, bounded by ``exit_timeout`` (docs/reliability.md). ``configure()``
raises only for a store that is not ours to write (foreign, newer, damaged): a store that
cannot be reached right now (busy, read-only, a directory, a server down) is logged, and spans are spooled
or dropped with a count, never an exception into the app.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from . import _evaluate
from . import _processor as _processor_module
from ._call import set_tracer_provider
from ._guard import guard, logger
from ._ids import id_generator
from ._processor import DEFAULT_EXIT_TIMEOUT, SpyglassSpanProcessor
from ._settings import RedactHook, Settings, flag_from_env, number_from_env, set_settings
from .store import DuckDBSpanExporter, ForeignStoreError, NewerSchemaError, StoreError
from .store._location import resolve

if TYPE_CHECKING:  # the logs API is imported only where an evaluation is emitted
    from opentelemetry._logs import LoggerProvider

DEFAULT_DB = "spyglass.duckdb"


@dataclass(frozen=True)
class Stats:
    """Counters of this process's exporter since ``configure()``. Every span that ended is in
    exactly one of ``stored``, ``spooled`` (on disk beside the store, ingested by the next
    writer; readers see it), ``dropped`` (with ``dropped_reasons``) or ``queued``."""

    db: str | None
    exported: int  # stored + spooled
    dropped: int
    queued: int
    spooled_batches: int
    direct_batches: int
    stored: int = 0
    spooled: int = 0
    dropped_reasons: Mapping[str, int] = field(default_factory=dict)


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.provider: TracerProvider | None = None
        self.processor: SpyglassSpanProcessor | None = None
        self.exit_hooks_installed = False
        self.shutting_down = False
        self.terminate_when_done = False


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
    instrument: str | Iterable[str] = (),
    max_queue_size: int = 32_768,
    schedule_delay: float = 0.5,
    grounding: bool | str | None = None,
    grounding_threshold: float | None = None,
    exit_timeout: float | None = None,
    secret_patterns: Iterable[str] | None = None,
    logger_provider: LoggerProvider | None = None,
) -> TracerProvider:
    """Start tracing into a store and return the ``TracerProvider`` in use.

    ``db`` (default ``SPYGLASS_DB``, else ``./spyglass.duckdb``) is a DuckDB file path, or a
    PostgreSQL URL (``postgresql://user@host/db``; the ``postgres`` extra) for a team store.

    Calling it again replaces the store and settings (spans queued for the old store are
    flushed to it first). ``instrument=["openai"]`` also patches those libraries;
    ``instrument="auto"`` patches every supported one that is installed (docs/integrations.md).
    A store that is not a Spyglass file, has a newer schema or is damaged raises a
    ``StoreError`` subclass here; a store that cannot be written right now never raises.
    ``grounding`` (default on; ``SPYGLASS_GROUNDING=false`` turns it off) checks each LLM
    answer against its trace's retrieved documents on the export thread; each result is stored,
    and also emitted as a ``gen_ai.evaluation.result`` log-based event through
    ``logger_provider`` (default: the global one, if the app set any) for other back ends.
    ``grounding="KRLabsOrg/lettucedect-base-modernbert-en-v1"`` (a model folder, or an id in
    the local Hugging Face cache; or ``SPYGLASS_GROUNDING_MODEL``) checks with that learned
    detector (``spyglass[detector]``) instead of the offline model, which takes over, with the
    reason logged, when it cannot load. ``grounding_threshold`` (``SPYGLASS_GROUNDING_THRESHOLD``):
    the P(unsupported) above which a sentence is flagged, for every check; by default each
    model's own cuts (docs/grounding.md has the precision/recall curve to pick from).
    ``exit_timeout`` (default 10 s, ``SPYGLASS_EXIT_TIMEOUT``): how long exit and SIGTERM wait
    for queued spans before spooling the rest. ``secret_patterns``: regular expressions whose
    matches are replaced by ``[REDACTED]``, besides the built-in token shapes.
    ``SPYGLASS_PRICES`` (a JSON or TOML price file) is read here; one that cannot be used
    raises ``ValueError`` naming it.
    """
    with _state.lock:
        chosen = _integrations(instrument)  # an unknown name fails here, before anything changed
        _read_prices()  # so does a bad SPYGLASS_PRICES file; and no traced call reads it later
        if grounding_threshold is None:
            grounding_threshold = _grounding_threshold_from_env()
        model = grounding if isinstance(grounding, str) else os.environ.get("SPYGLASS_GROUNDING_MODEL")
        _evaluate.choice.set(model, grounding_threshold)  # so does a threshold that is not a probability
        path = resolve(db if db is not None else default_db_path())
        set_settings(
            Settings.from_env().with_(capture_content=capture_content, max_value_chars=max_value_chars, redact=redact)
        )
        if secret_patterns is not None:
            from ._serialize import set_secret_patterns

            set_secret_patterns(secret_patterns)
        if grounding is None:
            grounding = _grounding_from_env()
        grounding = bool(grounding)
        if exit_timeout is None:
            exit_timeout = _exit_timeout_from_env()
        exporter = DuckDBSpanExporter(path, grounding=grounding, logger_provider=logger_provider)
        _check_store(exporter)
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
            old.reset_counts()
            old.max_queue_size = max_queue_size
            old.schedule_delay = schedule_delay
            old.exit_timeout = exit_timeout
        else:
            _state.processor = SpyglassSpanProcessor(
                exporter, max_queue_size=max_queue_size, schedule_delay=schedule_delay, exit_timeout=exit_timeout
            )
            provider.add_span_processor(_state.processor)
            _state.provider = provider
        _install_exit_hooks()
        for integration in chosen:
            importlib.import_module(integration.module).instrument()  # follows the provider set above
        return provider


def _integrations(names: str | Iterable[str]) -> list[Any]:
    if not names:
        return []
    from integrations import _registry  # the capture layer, imported only when asked for

    return _registry.resolve(names)


def _read_prices() -> None:
    from integrations import _pricing  # read here, at start-up, not in the first priced call

    _pricing.configure_from_env()


def _provider(explicit: TracerProvider | None, service_name: str | None) -> TracerProvider:
    if explicit is not None:
        return explicit
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current  # the application's own provider: add to it, keep its exporters
    resource = Resource.create({"service.name": service_name} if service_name else {})
    # Our id generator: the SDK's default one follows random.seed() calls of the app's.
    provider = TracerProvider(resource=resource, id_generator=id_generator())
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # set once per process by OTel's rules
        logger.warning("spyglass: a global TracerProvider was already set; using it")
        other = trace.get_tracer_provider()
        if isinstance(other, TracerProvider):
            return other
    return provider


def _grounding_from_env() -> bool:
    return flag_from_env("SPYGLASS_GROUNDING")


def _grounding_threshold_from_env() -> float | None:
    value = number_from_env("SPYGLASS_GROUNDING_THRESHOLD", -1.0, float, lambda v: 0 <= v <= 1, "a probability 0..1")
    return None if value < 0 else value


def _exit_timeout_from_env() -> float:
    return number_from_env("SPYGLASS_EXIT_TIMEOUT", DEFAULT_EXIT_TIMEOUT, float, lambda v: v >= 0, "seconds >= 0")


def _check_store(exporter: DuckDBSpanExporter) -> None:
    """Create or upgrade the store now, so that a file that is not ours fails here, clearly.
    Never waits for another process, and never raises for a store we just cannot reach."""
    try:
        exporter.writer.validate(timeout=0)  # busy: the first write checks it instead
    except (ForeignStoreError, NewerSchemaError):
        # Someone else's database, or a newer Spyglass's: the configuration is wrong, and
        # saying so now beats dropping every span quietly. (A directory is a path problem.)
        if not os.path.isdir(exporter.path):
            raise
        _log_unwritable(exporter)
    except (StoreError, OSError) as exc:  # damaged, read-only, permissions...
        _log_unwritable(exporter, exc)


def _log_unwritable(exporter: DuckDBSpanExporter, exc: BaseException | None = None) -> None:
    logger.error(
        "spyglass: cannot write the store %s now (%s). Tracing goes on: spans are spooled "
        "beside it, or dropped and counted (tracer.stats()), until it can be written.",
        exporter.path,
        exc or "it is a directory",
    )


def flush(timeout: float = 30.0) -> bool:
    """Wait until every span that ended before this call can be queried. False on timeout,
    or when any span was dropped since the previous flush (``stats().dropped_reasons``)."""
    processor = _state.processor
    if processor is None:
        return True
    with guard("flush"):
        return processor.force_flush(int(timeout * 1000))
    return False


def shutdown() -> None:
    """Flush (bounded by ``exit_timeout``) and stop exporting. Tracing calls keep working;
    their spans are no longer stored (and are counted as such)."""
    # No lock: this also runs on the SIGTERM thread, while configure() may hold one.
    _state.shutting_down = True  # first: a SIGTERM from here on waits for this shutdown
    processor = _state.processor
    _state.processor = None
    _state.provider = None
    if processor is None:
        _state.shutting_down = False
        return
    try:
        with guard("shutdown"):
            processor.shutdown()
    finally:
        _state.shutting_down = False


def stats() -> Stats:
    """Counters of the current exporter: what was stored, spooled, dropped (and why), queued."""
    p = _state.processor
    if p is None:
        return Stats(None, 0, 0, 0, 0, 0)
    exporter: Any = p.exporter
    writer = getattr(exporter, "writer", None)
    reasons = p.dropped_reasons()
    return Stats(
        getattr(exporter, "path", None),
        p.exported,
        sum(reasons.values()),
        p.queued,
        getattr(writer, "spooled_batches", 0),
        getattr(writer, "direct_batches", 0),
        stored=p.stored,
        spooled=p.spooled,
        dropped_reasons=reasons,
    )


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
    # Runs on the main thread, between two bytecodes of whatever it was doing, which may hold
    # a lock that the shutdown needs (the logging module's, a store's...). So the shutdown runs
    # on a thread of its own, and this waits for it at most a bound: a held lock costs the
    # bound, never the process.
    if _state.shutting_down or _processor_module.exit_under_way():
        # An exit is already under way (atexit, a multiprocessing finalizer, the app's own
        # provider.shutdown()): let it finish, then die by the signal. A second SIGTERM kills.
        if _state.terminate_when_done:
            _terminate()
        _state.terminate_when_done = True
        return
    processor = _state.processor
    bound = 2 * (processor.exit_timeout if processor is not None else DEFAULT_EXIT_TIMEOUT) + 5
    worker = threading.Thread(target=shutdown, name="spyglass-sigterm", daemon=True)
    _state.terminate_when_done = False
    try:
        worker.start()
        worker.join(bound)
    finally:
        _terminate()


def _after_exit() -> None:
    if _state.terminate_when_done:
        _terminate()


def _terminate() -> None:
    _state.terminate_when_done = False
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # main thread only
    except ValueError:
        os._exit(128 + signal.SIGTERM)  # what dying by SIGTERM reports to a shell
    os.kill(os.getpid(), signal.SIGTERM)


_processor_module._after_exit = _after_exit
