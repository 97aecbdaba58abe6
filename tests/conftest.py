"""Shared fixtures. Every test runs with internal errors raised, never swallowed."""

from __future__ import annotations

import os
import signal

os.environ["SPYGLASS_RAISE_INTERNAL_ERRORS"] = "1"

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

import tracer
import tracer.testing
from tracer import _settings
from tracer._guard import set_raise_internal_errors

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SPYGLASS_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _raise_internal_errors() -> Iterator[None]:
    set_raise_internal_errors(True)
    yield
    _settings.reset_settings()


_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE") if hasattr(signal, n))


def _inherited() -> tuple[frozenset[int], frozenset[int]]:
    """What a child process inherits across exec: the ignored signals and the blocked ones (a
    Python handler is reset to the default by exec, so Spyglass's own SIGTERM handler is not)."""
    ignored = frozenset(sig for sig in _SIGNALS if signal.getsignal(sig) == signal.SIG_IGN)
    blocked = (
        frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, [])) if hasattr(signal, "pthread_sigmask") else frozenset()
    )
    return ignored, blocked


@pytest.fixture(autouse=True)
def _signals_left_as_found() -> Iterator[None]:
    """A test (or the code under test) that leaves a signal ignored or blocked breaks later
    tests far away: every child process inherits it (a SIGTERMed app that never exits)."""
    before = _inherited()
    yield
    after = _inherited()
    for sig in after[0] - before[0]:
        signal.signal(sig, signal.SIG_DFL)
    if after[1] != before[1] and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, before[1])
    assert after == before, f"signals left ignored or blocked by this test: {after} (before: {before})"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "spyglass.duckdb"


@pytest.fixture
def instrumented() -> Iterator[Any]:
    """An ``openai.OpenAI`` client on Spyglass's openai integration, uninstrumented afterwards."""
    import openai

    from integrations import openai as spy_openai

    spy_openai.instrument()
    try:
        yield openai.OpenAI(api_key="test", max_retries=0)
    finally:
        spy_openai.uninstrument()


@pytest.fixture
def configured(db_path: Path) -> Iterator[Path]:
    """A process configured to trace into a fresh store in a tmp dir."""
    tracer.configure(db=db_path)
    yield db_path
    tracer.flush()


@pytest.fixture
def store(configured: Path) -> tracer.Store:
    return tracer.Store(configured)


# --- in-memory spans, for unit tests of the tracer core --------------------------------------


class _OpenSpans(SpanProcessor):
    """Spans started and not yet ended: a test must leave none behind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[int, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with self.lock:
            self.open[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        with self.lock:
            self.open.pop(span.context.span_id, None)


class _DoubleEnd(logging.Handler):
    """The SDK only logs a second ``end()`` of a span; make it visible to the test."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "ended span" in record.getMessage():
            self.messages.append(record.getMessage())


_OPEN = _OpenSpans()
# One provider for every unit test: cheap to share, since capture_spans() unplugs its
# exporter at the end of each test; no store and no global provider involved.
TEST_PROVIDER = tracer.testing.new_tracer_provider()
TEST_PROVIDER.add_span_processor(_OPEN)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spans_left_open: the test leaves spans open on purpose (the `spans` fixture does not fail it for that)",
    )


@pytest.fixture
def spans(request: pytest.FixtureRequest) -> Iterator[tracer.testing.CapturedSpans]:
    """The spans a test produced, in memory. Fails the test if a span was left open or ended twice."""
    with _OPEN.lock:
        _OPEN.open.clear()
    double = _DoubleEnd()
    sdk_logger = logging.getLogger("opentelemetry.sdk.trace")
    sdk_logger.addHandler(double)
    try:
        with tracer.testing.capture_spans(TEST_PROVIDER) as captured:
            yield captured
    finally:
        sdk_logger.removeHandler(double)
    assert not double.messages, f"a span was ended twice: {double.messages}"
    if request.node.get_closest_marker("spans_left_open") is None:
        assert not _OPEN.open, f"spans left open: {sorted(_OPEN.open.values())}"


@pytest.fixture
def use_settings() -> Callable[..., _settings.Settings]:
    """``use_settings(max_value_chars=100)``: settings for this test only (reset after it)."""

    def apply(**changes: Any) -> _settings.Settings:
        new = dataclasses.replace(_settings.settings(), **changes)
        _settings.set_settings(new)
        return new

    return apply


# --- a real PostgreSQL server, for the PostgreSQL store's tests --------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One throwaway server for the whole session (tests/_postgres.py), stopped and removed at
    the end however the tests went. Skips when PostgreSQL or psycopg is missing, except under
    CI=true, where those tests must run (.ci/run installs the server)."""
    from tests._postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL tests must run in CI: {exc}")
        pytest.skip(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh, empty database for this test (about 10 ms to create, 10 to drop),
    dropped afterwards even if the test left connections open."""
    name = postgres_server.new_name(request.node.name)
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        if not postgres_server.is_running:
            postgres_server.start()  # a test that stopped the server and failed before restarting it
        postgres_server.drop_database(name)


# --- the store contract on both engines -------------------------------------------------------
ENGINES = ("duckdb", "postgres")


@pytest.fixture(params=ENGINES)
def any_store_db(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A fresh store of each engine in turn: a DuckDB file, then a PostgreSQL database. A test
    module runs the store contract on both by overriding ``db_path`` with it."""
    if request.param == "duckdb":
        return tmp_path / "spyglass.duckdb"
    url: str = request.getfixturevalue("postgres_url")
    return url
