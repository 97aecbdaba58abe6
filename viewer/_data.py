"""Everything the viewer reads, through ``tracer.Store`` only (the viewer writes no SQL).

Each function asks for exactly what one screen shows: one page of traces, one trace.
Short-lived caches keep a rerun (a widget click) from asking again; they are keyed by the
store path, because ``st.cache_*`` is shared by every session and test in the process.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import streamlit as st

import tracer
from tracer import (
    DamagedStoreError,
    ForeignStoreError,
    NewerSchemaError,
    Store,
    StoreBusy,
    StoreError,
    StoreNotFound,
    StoreUnreachable,
    TraceFilter,
)
from tracer.conventions import canonical
from tracer.store import display_location, resolve_location

from ._messages import parse_json
from ._safe import md

# A read retries while a writer holds the file for its batch (tens of ms). Far longer than
# that means a foreign holder: say so instead of leaving the page spinning for the default 30 s.
READ_TIMEOUT_S = 5.0
FACETS_TTL_S = 30.0
CHARTS_TTL_S = 10.0
SEARCH_INDEX_EVERY_S = 30.0
SEARCH_INDEX_BUDGET_S = 0.5
# A select box ships all its options to the browser; past this many distinct sessions or
# users, the rest are reachable by typing the exact value (``accept_new_options``). The
# facets are fetched with this cap, so the viewer never reads more values than it shows.
MAX_OPTIONS = 1_000


def db_path() -> str:
    """The store the viewer shows: ``$SPYGLASS_DB`` (``spyglass view --db`` sets it), else the default."""
    return resolve_location(tracer.default_db_path())


@st.cache_resource(show_spinner=False)
def store(path: str) -> Store:
    return Store(path, timeout=READ_TIMEOUT_S)


def snapshot(path: str) -> Any:
    return store(path).snapshot()


class Problem(Exception):
    """A store that cannot be shown right now, with the sentence to show instead."""

    def __init__(self, level: str, message: str) -> None:
        super().__init__(message)
        self.level = level  # "info" | "warning" | "error"
        self.message = message


@contextmanager
def reading(path: str) -> Iterator[None]:
    """Turn the store's known failure modes into a :class:`Problem` (a clear message, no traceback).

    Only what passes by itself (a store not created yet, a busy one) says to refresh; a
    damaged, foreign or newer file stays so until someone acts, and the message says what to do.
    ``Store`` raises ``StoreError`` subclasses only, so no DuckDB error needs catching here.
    """
    try:
        yield
    except StoreNotFound:
        raise Problem(
            "info",
            f"No Spyglass store at {md(display_location(path), 300)} yet. Run your traced app (or `spyglass demo`), "
            f"or start the viewer with `spyglass view --db PATH`; then press Refresh.",
        ) from None
    except ForeignStoreError as exc:
        raise Problem("error", f"This path is not a Spyglass store: {md(exc, 400)}") from None  # a directory, too
    except DamagedStoreError as exc:
        raise Problem("error", f"This store is damaged and cannot be read: {md(exc, 400)}") from None
    except NewerSchemaError as exc:
        raise Problem("error", f"This store was written by a newer Spyglass: {md(exc, 400)}") from None
    except StoreBusy:
        raise Problem(
            "warning",
            f"The store is being written by another process and stayed locked for "
            f"{READ_TIMEOUT_S:.0f} s. It will show as soon as the lock is free: "
            f"press Refresh or turn on auto-refresh.",
        ) from None
    except StoreUnreachable as exc:  # a server down or restarting: passes by itself, usually
        raise Problem("warning", f"{md(exc, 400)}. Traces show as soon as the server answers: press Refresh.") from None
    except StoreError as exc:
        raise Problem("error", f"Could not read the store: {md(exc, 400)}") from None
    except OSError as exc:
        # A disk error, or a spool file being renamed under us: the next refresh usually reads fine.
        raise Problem(
            "warning",
            f"Could not read the store right now ({type(exc).__name__}: {md(exc, 300)}). Press Refresh to try again.",
        ) from None


# --- trace list --------------------------------------------------------------------------
def trace_page(path: str, flt: TraceFilter, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """The number of matching traces and one page of them, newest first."""
    s = store(path)
    total = s.count_traces(flt)
    rows = s.list_traces(flt, limit=limit, offset=offset) if total > offset else []
    return total, rows


def previews(path: str, trace_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What the preview columns of one page of traces are made of (``Store.trace_previews``:
    one call for the whole page, never a query per row), read as the panels read it."""
    found = store(path).trace_previews(trace_ids)
    for data in found.values():
        readable(data)
    return found


# --- sessions ----------------------------------------------------------------------------
def session_page(path: str, flt: TraceFilter, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """The number of sessions among the matching traces and one page of them, the most
    recently active first (``Store.list_sessions``: every number counts matching traces only)."""
    s = store(path)
    total = s.count_sessions(flt)
    rows = s.list_sessions(flt, limit=limit, offset=offset) if total > offset else []
    return total, rows


def session(path: str, session_id: str) -> dict[str, Any] | None:
    """One session's totals over all its traces, whatever the sidebar says; ``None`` when no
    trace has this session id."""
    rows = store(path).list_sessions(TraceFilter(session_id=session_id), limit=1)
    return rows[0] if rows else None


def session_turns(path: str, session_id: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """One page of the session's traces, oldest first (a conversation reads forward)."""
    return store(path).session_turns(session_id, limit=limit, offset=offset)


@st.cache_data(ttl=FACETS_TTL_S, show_spinner=False)
def facets(path: str) -> dict[str, list[str]]:
    return store(path).facets(max_values=MAX_OPTIONS)


@st.cache_data(ttl=CHARTS_TTL_S, show_spinner=False, max_entries=32)
def durations(path: str, flt_key: str, _flt: TraceFilter) -> list[float]:
    return store(path).durations(_flt, limit=20_000)


@st.cache_data(ttl=CHARTS_TTL_S, show_spinner=False, max_entries=32)
def usage(path: str, flt_key: str, _flt: TraceFilter, bucket: str) -> list[dict[str, Any]]:
    return store(path).usage_over_time(_flt, bucket=bucket)


@st.cache_resource(show_spinner=False)
def _index_runs() -> dict[str, float]:
    return {}


def refresh_search_index(path: str) -> None:
    """Index new spans for search a little at a time (the viewer is one of the index's builders,
    see docs/schema.md); search works without it, by a scan, so failing here is harmless."""
    runs = _index_runs()
    now = time.monotonic()
    if now - runs.get(path, -1e9) < SEARCH_INDEX_EVERY_S:
        return
    runs[path] = now
    try:
        store(path).build_search_index(budget_s=SEARCH_INDEX_BUDGET_S)
    except (StoreError, OSError):
        pass  # busy or read-only: searching scans instead; retried after SEARCH_INDEX_EVERY_S


# --- one trace ---------------------------------------------------------------------------
def trace(path: str, trace_id: str) -> dict[str, Any] | None:
    """One trace (``Store.get_trace``), each span's attributes read as the panels read them."""
    data = store(path).get_trace(trace_id)
    if data is not None:
        readable(data)
    return data


def readable(data: dict[str, Any]) -> None:
    """Spans written by other instrumentations (OpenInference, OpenLLMetry, the OTel contrib
    GenAI ones, Logfire) keep their content under their own keys; the panels read the GenAI
    keys that ``tracer.conventions.canonical`` derives from them, as the grounding check and
    ``spyglass export`` do. The stored attributes stay under ``raw_attributes`` (the "Raw
    attributes" box shows those). Our own spans come back unchanged."""
    events: dict[str, list[dict[str, Any]]] = {}
    for ev in data.get("events") or ():
        attrs = parse_json(ev.get("attributes"))
        events.setdefault(str(ev.get("span_id")), []).append(
            {"name": ev.get("name"), "attributes": attrs if isinstance(attrs, Mapping) else {}}
        )
    for span in data["spans"]:
        raw = span.get("attributes") or {}
        view = canonical(raw, events.get(str(span["span_id"]), ()))
        if view is not raw:
            span["raw_attributes"] = raw
            span["attributes"] = dict(view)


NEARBY_LIMIT = 5


def traces_with(path: str, span_type: str, since: _dt.datetime, until: _dt.datetime) -> list[dict[str, Any]]:
    """Traces with a span of ``span_type`` that started in ``[since, until)``, newest first:
    where an answer's retrieval or post-processing went when nothing enclosed it (the hints
    of the Context and Decisions panels)."""
    flt = TraceFilter(since=since, until=until, span_type=span_type)
    return store(path).list_traces(flt, limit=NEARBY_LIMIT)


# --- filters -----------------------------------------------------------------------------
TIME_RANGES: dict[str, _dt.timedelta | None] = {
    "all time": None,
    "last 15 minutes": _dt.timedelta(minutes=15),
    "last hour": _dt.timedelta(hours=1),
    "last 24 hours": _dt.timedelta(days=1),
    "last 7 days": _dt.timedelta(days=7),
    "last 30 days": _dt.timedelta(days=30),
}


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def bucket_for(since: _dt.datetime | None, until: _dt.datetime | None) -> str:
    """A time bucket that gives the usage chart tens of points, not thousands."""
    if since is None:
        return "day"
    span = (until or utcnow()) - since
    if span <= _dt.timedelta(hours=2):
        return "minute"
    return "hour" if span <= _dt.timedelta(days=7) else "day"


def clear_caches() -> None:
    """The Refresh button: forget cached facets and charts, so the next read sees new traces."""
    facets.clear()
    durations.clear()
    usage.clear()


# --- what the viewer writes: annotations (never a change to span rows) -------------------
def annotate(path: str, trace_id: str, label: str, note: str, *, span_id: str | None, author: str | None) -> str:
    """A human label on a trace or one of its spans, through ``Store.annotate``."""
    return store(path).annotate(trace_id, label, note, span_id=span_id, author=author or None)
