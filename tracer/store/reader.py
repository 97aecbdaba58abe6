"""The read API: every query the viewer (and users' scripts) run against a store.

All read SQL lives here. Each call opens the file read-only, answers, and lets go, so
writers are never locked out for long. Spool files that no writer has ingested yet (see
``_writer.py``) are ingested first when the write lock is free; otherwise they are loaded
into an in-memory ``pending`` database beside the file and every table is read as the
union of both, so a query never misses a span that ``tracer.flush()`` already returned for.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from .._evidence import tool_result
from ..conventions import canonical
from . import _search, _snippets, _spool
from ._connect import STORE, StoreBusy, open_read, open_write, store_error
from ._ingest import ingest_batch
from ._location import is_postgres
from ._rows import conform
from ._schema import SCHEMA_VERSION, StoreError, migrate, stored_version
from ._writer import StoreWriter

_TABLES = (
    "spans",
    "events",
    "documents",
    "decisions",
    "traces",
    "search_terms",
    "search_words",
    "evaluations",
    "annotations",
)
#: ``evaluations.label`` of an answer the grounding check found unsupported by its documents.
HALLUCINATION_LABEL = "hallucination"
ANNOTATION_LABELS = ("hallucination", "correct", "other")
# How many of the newest matching spans a text search considers (the trace-list filter
# and ``search``); a word found in more spans than this is not a useful filter anyway.
MAX_TEXT_MATCHES = 10_000

TRACE_COLUMNS = (
    "trace_id",
    "root_span_id",
    "root_name",
    "start_time",
    "end_time",
    "duration_ms",
    "status_code",
    "span_count",
    "llm_count",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "models",
    "span_types",
    "session_id",
    "user_id",
    "prompt_version",
    "tags",
    "error_count",
    "blocked_count",
    "flagged_count",
    "modified_count",
    "service_name",
)
SPAN_SUMMARY_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "span_type",
    "start_time",
    "end_time",
    "duration_ms",
    "status_code",
    "status_message",
    "operation",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error_type",
    "llm_parent_span_id",
    "usage_counted",
)


# What a read gives of an evaluation (every column but seq), on every engine.
EVALUATION_COLUMNS = "trace_id, span_id, time, name, score, label, explanation, details, source"

OUTCOMES = ("delivered", "modified", "blocked")

# The dashboards' breakdowns (Store.metrics_over_time ``by``), and the names of the groups
# that are not a value: every trace, the rest past the top ones, traces without the value.
BREAKDOWNS = (None, "model", "prompt_version", "user", "root_name")
ALL_GROUP, OTHER_GROUP, NO_GROUP = "(all)", "(other)", "(none)"
MAX_GROUPS = 8

# A dated snapshot of a model: its base name, then the date it was pinned on. OpenAI's
# "gpt-4o-mini-2024-07-18" (and the older "gpt-4-0613"), Anthropic's "claude-3-5-sonnet-20241022",
# Mistral's "mistral-large-2407". A provider reports the snapshot that answered where the app
# asked for the base name: a model filter for the base name covers its snapshots. The same
# pattern in Python and in DuckDB's RE2.
_DATE_SUFFIX = r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})"
_SNAPSHOT = rf"(.+){_DATE_SUFFIX}"
# Joins a trace's models into one string for one regular expression (the ASCII unit
# separator: no model name holds it). No list lambda: its syntax changed between DuckDB 1.x and 2.
_MODEL_SEP = chr(31)


def base_model(name: str) -> str:
    """``gpt-4o-mini`` for ``gpt-4o-mini-2024-07-18``; a name with no date suffix unchanged."""
    found = re.fullmatch(_SNAPSHOT, name)
    return found.group(1) if found else name


@dataclass
class TraceFilter:
    """Filters of the trace list. Every field is optional; set fields are AND-ed."""

    since: _dt.datetime | None = None
    until: _dt.datetime | None = None
    status: str | None = None  # "ERROR" (some span of the trace failed, the root or a child) or "OK"
    model: str | None = None  # this model or a dated snapshot of it ("gpt-4o-mini" matches "gpt-4o-mini-2024-07-18")
    span_type: str | None = None  # llm, retriever, postprocess, step, tool, embedding
    prompt_version: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)  # all of them
    min_duration_ms: float | None = None
    min_cost_usd: float | None = None
    decision: str | None = None  # "block", "modify" or "flag": traces with such a decision
    # What the user received: "blocked" (a decision blocked the answer), "modified" (one
    # changed it, none blocked it) or "delivered" (post-processing let it through as it was).
    outcome: str | None = None
    hallucination: bool | None = None  # True: suspected by the grounding check or annotated as one
    text: str | None = None  # full-text search over prompts, outputs and documents
    annotation: str | None = None  # traces someone labelled so ("hallucination", "correct"...)
    # Traces with an evaluation of this name ("grounding", a scorer's, a judge's) scoring
    # within [min_score, max_score]; the bounds alone apply to any evaluation.
    evaluation: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    # Traces with a span whose attribute matches each of these (AND-ed): see AttributeFilter.
    attributes: Sequence[AttributeFilter] = field(default_factory=tuple)

    def where(self, sql: FilterSQL | None = None) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters, in DuckDB's words unless ``sql`` says otherwise."""
        q = sql or DUCKDB_FILTERS
        p = q.param
        clauses: list[str] = []
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            clauses.append(clause)
            params.extend(values)

        if self.since is not None:
            add(f"start_time >= {p}", _naive_utc(self.since))
        if self.until is not None:
            add(f"start_time < {p}", _naive_utc(self.until))
        if self.status:
            add(f"status_code = {p}", self.status.upper())
        if self.model:
            # The model itself, or a dated snapshot of it (never "gpt-4o-mini" for "gpt-4o").
            snapshot = f"(^|{_MODEL_SEP}){re.escape(self.model)}{_DATE_SUFFIX}({_MODEL_SEP}|$)"
            add(
                f"({q.contains.format(column='models')} OR {q.joined_matches.format(column='models')})",
                self.model,
                _MODEL_SEP,
                snapshot,
            )
        if self.span_type:
            add(q.contains.format(column="span_types"), self.span_type)
        if self.prompt_version:
            add(f"prompt_version = {p}", self.prompt_version)
        if self.session_id:
            add(f"session_id = {p}", self.session_id)
        if self.user_id:
            add(f"user_id = {p}", self.user_id)
        if self.tags:
            add(q.has_all.format(column="tags"), list(self.tags))
        if self.min_duration_ms is not None:
            add(f"duration_ms >= {p}", float(self.min_duration_ms))
        if self.min_cost_usd is not None:
            add(f"cost_usd >= {p}", float(self.min_cost_usd))
        if self.decision == "block":
            add("blocked_count > 0")
        elif self.decision == "flag":
            add("flagged_count > 0")
        elif self.decision == "modify":
            add("modified_count > 0")
        elif self.decision == "pass":  # no count column: the decisions themselves
            add(f"trace_id IN (SELECT trace_id FROM decisions WHERE verdict = {p})", "pass")
        elif self.decision == "any":
            add("trace_id IN (SELECT trace_id FROM decisions)")
        elif self.decision is not None:
            raise ValueError(f"decision must be one of {DECISION_FILTERS}, not {self.decision!r}")
        if self.annotation:
            add(f"trace_id IN (SELECT trace_id FROM annotations WHERE label = {p})", self.annotation)
        if self.evaluation or self.min_score is not None or self.max_score is not None:
            scored = ["TRUE"]
            values: list[Any] = []
            if self.evaluation:
                scored.append(f"name = {p}")
                values.append(self.evaluation)
            if self.min_score is not None:
                scored.append(f"score >= {p}")
                values.append(float(self.min_score))
            if self.max_score is not None:
                scored.append(f"score <= {p}")
                values.append(float(self.max_score))
            add(f"trace_id IN (SELECT trace_id FROM evaluations WHERE {' AND '.join(scored)})", *values)
        for attribute in self.attributes:
            condition, values = attribute.sql(q)
            add(f"trace_id IN (SELECT trace_id FROM spans WHERE {condition})", *values)
        if self.outcome is not None:
            if self.outcome not in OUTCOMES:
                raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
            add(
                {
                    "blocked": "blocked_count > 0",
                    "modified": "blocked_count = 0 AND modified_count > 0",
                    "delivered": "blocked_count = 0 AND modified_count = 0",
                }[self.outcome]
            )
        if self.hallucination is not None:
            add(f"{'' if self.hallucination else 'NOT '}({_SUSPECTED})")
        return (" AND ".join(clauses) or "TRUE"), params


DECISION_FILTERS = ("block", "modify", "flag", "pass", "any")
ATTRIBUTE_OPS = ("=", "~", ">", ">=", "<", "<=", "exists")
METADATA_PREFIX = "metadata."


@dataclass(frozen=True)
class AttributeFilter:
    """A span attribute test: ``key = value`` (the value as text, ``true`` for a boolean),
    ``key ~ text`` (contains, any case), ``key > 10`` (and ``>=``, ``<``, ``<=``: numbers), or
    ``key exists``. ``metadata.<name>`` reads a key of the metadata set with
    ``trace_context(metadata=...)`` (stored as one JSON text, ``spyglass.metadata``).

    It reads every span's attributes: on a large store, add a time range."""

    key: str
    op: str = "="
    value: str = ""

    def __post_init__(self) -> None:
        if self.op not in ATTRIBUTE_OPS:
            raise ValueError(f"attribute filter: op must be one of {ATTRIBUTE_OPS}, not {self.op!r}")
        if not self.key.strip():
            raise ValueError("attribute filter: the key is empty")
        if self.op in (">", ">=", "<", "<="):
            try:
                float(self.value)
            except ValueError:
                raise ValueError(f"attribute filter: {self.op} needs a number, not {self.value!r}") from None

    @classmethod
    def parse(cls, text: str) -> AttributeFilter:
        """``"key = value"``, ``"key ~ text"``, ``"key > 3"``, ``"key exists"`` or ``"key"``
        (exists). The first operator found splits the text; spaces around it are dropped."""
        text = text.strip()
        found = re.match(r"^(.*?)\s*(>=|<=|=|~|>|<)\s*(.*)$", text)
        if found:
            return cls(found.group(1).strip(), found.group(2), found.group(3).strip())
        key = re.sub(r"\s+exists$", "", text)
        return cls(key.strip(), "exists")

    def __str__(self) -> str:
        return f"{self.key} exists" if self.op == "exists" else f"{self.key} {self.op} {self.value}"

    def sql(self, q: FilterSQL) -> tuple[str, list[Any]]:
        """A condition on one ``spans`` row and its parameters."""
        p = q.param
        if self.key.startswith(METADATA_PREFIX):
            return self._metadata_sql(q)
        path = q.attribute_key(self.key)
        value = q.attribute.format(p=p)
        if self.op == "exists":
            return f"{value} IS NOT NULL", [path]
        if self.op == "=":
            return f"{value} = {p}", [path, self.value]
        if self.op == "~":
            return f"strpos(lower({value}), {p}) > 0", [path, self.value.lower()]
        number = q.as_number.format(value=value)
        return f"{number} {self.op} {p}", [path, float(self.value)]

    def _metadata_sql(self, q: FilterSQL) -> tuple[str, list[Any]]:
        # A regular expression over the metadata's JSON text rather than a JSON parse: the
        # text may be truncated (with a marker) past the capture limit, which no parser reads.
        p = q.param
        text = q.attribute.format(p=p)
        name = _regex_literal(json.dumps(self.key[len(METADATA_PREFIX) :]))
        path = q.attribute_key("spyglass.metadata")
        if self.op == "exists":
            pattern = name + r"\s*:"
        elif self.op == "=":
            literal = json.dumps(self.value) if not _JSON_SCALAR.match(self.value) else self.value
            quoted = _regex_literal(json.dumps(self.value))
            pattern = name + r"\s*:\s*(" + quoted + "|" + _regex_literal(literal) + r")\s*[,}]"
        elif self.op == "~":
            pattern = name + r'\s*:\s*"[^"]*' + _regex_literal(json.dumps(self.value)[1:-1])
        else:
            raise ValueError(f"attribute filter: {self.op} is not offered for metadata (its values are text)")
        return q.matches.format(text=text, p=p), [path, pattern]


_JSON_SCALAR = re.compile(r"^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$")


def _regex_literal(text: str) -> str:
    """``text`` matched literally by both RE2 (DuckDB) and PostgreSQL's regular expressions."""
    return "".join(c if c.isalnum() or c in " _" else "\\" + c for c in text)


@dataclass(frozen=True)
class FilterSQL:
    """The few pieces of SQL that each engine writes its own way: those of a trace filter
    (``{column}`` is a list column; each piece takes the parameters :meth:`TraceFilter.where`
    passes it), and an aggregate the dashboards need (``quantile``)."""

    param: str  # a parameter placeholder
    in_list: str  # a column's value is one of a list given as one parameter
    contains: str  # the list holds one value
    has_all: str  # the list holds every value of a list
    joined_matches: str  # the list joined by a separator matches a regular expression
    attribute: str  # a span attribute as text, its key given as a parameter (attribute_key)
    attribute_key: Callable[[str], str]  # the parameter that names an attribute
    as_number: str  # ``{value}`` as a number, NULL when it is not one
    matches: str  # ``{text}`` matches the regular expression given as a parameter
    # ``{column}`` in a byte-order range given as two parameters (an id prefix's bounds)
    in_range: str
    # A continuous (interpolated) percentile of ``{column}`` at fraction ``{q}``, as an aggregate.
    quantile: str


def _json_path(key: str) -> str:
    return "$." + json.dumps(key)  # quoted: a dotted key ("a.b.c") is one member, not a path


DUCKDB_FILTERS = FilterSQL(
    param="?",
    in_list="list_contains(?, {column})",
    contains="list_contains({column}, ?)",
    has_all="list_has_all({column}, ?)",
    # No list lambda: its syntax changed between DuckDB 1.x and 2.
    joined_matches="regexp_matches(array_to_string({column}, ?), ?)",
    attribute="json_extract_string(attributes, {p})",
    attribute_key=_json_path,
    as_number="TRY_CAST({value} AS DOUBLE)",
    matches="regexp_matches({text}, {p})",
    in_range="{column} >= ? AND {column} < ?",
    quantile="quantile_cont({column}, {q})",
)


# A trace is a suspected hallucination when an evaluation or an annotation says so.
_SUSPECTED = (
    f"trace_id IN (SELECT trace_id FROM evaluations WHERE label = '{HALLUCINATION_LABEL}' "
    f"UNION ALL SELECT trace_id FROM annotations WHERE label = 'hallucination')"
)


# A session's row (Store.list_sessions): every engine's SQL. Counts of turns (traces), not of
# decisions: a turn blocked twice is one blocked turn; "modified" means changed and not blocked,
# as the outcome filter reads it.
SESSION_COLUMNS = (
    "session_id",
    "users",
    "turns",
    "first_start",
    "last_start",
    "last_end",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error_turns",
    "blocked_turns",
    "modified_turns",
    "suspected_turns",
)


# ``_SUSPECTED`` for a few traces: looked up by trace id (PostgreSQL's index) rather than a
# scan of every hallucination label (55 ms on 125k evaluations). The same rule, tested so.
_SUSPECTED_EACH = (
    f"(EXISTS (SELECT 1 FROM evaluations e WHERE e.trace_id = traces.trace_id AND e.label = '{HALLUCINATION_LABEL}') "
    "OR EXISTS (SELECT 1 FROM annotations a WHERE a.trace_id = traces.trace_id AND a.label = 'hallucination'))"
)


# Two steps, in one statement: the page of sessions by their newest turn (a narrow GROUP BY
# over the matching traces), then every number for the page's sessions only. On 125k traces
# that is ~60 ms on DuckDB where one GROUP BY of everything took 280 (the sorted user lists
# and the suspected flag of every trace), and on PostgreSQL it keeps the grouping in memory
# (the wide one spilled to disk). ``where`` appears in both steps: its parameters go twice.
def _session_page(where: str, p: str) -> str:
    """:meth:`Store.list_sessions`'s SQL on the traces matching ``where``; ``p``: a placeholder."""
    return f"""
    WITH page AS (
      SELECT session_id, max(start_time) AS newest FROM traces WHERE session_id IS NOT NULL AND {where}
      GROUP BY session_id ORDER BY newest DESC, session_id LIMIT {p} OFFSET {p})
    SELECT session_id,
           array_agg(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL) AS users,
           count(*) AS turns, min(start_time) AS first_start, max(start_time) AS last_start,
           max(end_time) AS last_end, sum(duration_ms) AS duration_ms,
           -- sum() of a BIGINT is a NUMERIC in PostgreSQL (a Decimal in Python): cast back.
           sum(input_tokens)::BIGINT AS input_tokens, sum(output_tokens)::BIGINT AS output_tokens,
           sum(cost_usd) AS cost_usd,
           count(*) FILTER (WHERE error_count > 0 OR status_code = 'ERROR') AS error_turns,
           count(*) FILTER (WHERE blocked_count > 0) AS blocked_turns,
           count(*) FILTER (WHERE blocked_count = 0 AND modified_count > 0) AS modified_turns,
           count(*) FILTER (WHERE suspected) AS suspected_turns
    FROM (SELECT *, {_SUSPECTED_EACH} AS suspected FROM traces
          WHERE session_id IN (SELECT session_id FROM page) AND {where}) t
    GROUP BY session_id ORDER BY last_start DESC, session_id"""


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion (95% for the default ``z``): honest at small
    ``n`` and at 0% or 100%, where the normal approximation collapses to a point. ``(None,
    None)`` for ``n == 0``. https://en.wikipedia.org/wiki/Binomial_proportion_confidence_interval"""
    if n <= 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _model_parts(where: str) -> str:
    """``WITH`` clauses ending in ``parts``, for the traces matching ``where``: a row per logical
    LLM call (``calls`` 1: its start, trace, duration, status, and the model that answered it:
    the client call's response model when a ``@trace_llm`` function encloses it), and a row per
    span that reported usage (``calls`` 0: its tokens and cost, under the model of that span).
    So a call, and its usage, count once (docs/schema.md, "One call, counted once"). One SQL
    for every engine. ``s`` names its columns and keeps only spans with a model or of type
    ``llm`` (every part needs one or the other): it is read three times, and an engine that
    materialises it would otherwise copy every span's attributes."""
    return f"""
                WITH s AS (SELECT s.trace_id, s.span_id, s.llm_parent_span_id, s.span_type, s.model, s.start_time,
                                  s.duration_ms, s.status_code, s.input_tokens, s.output_tokens, s.cost_usd,
                                  s.usage_counted
                           FROM spans s JOIN (SELECT trace_id FROM traces WHERE {where}) t ON s.trace_id = t.trace_id
                           WHERE s.span_type = 'llm' OR s.model IS NOT NULL),
                answered AS (SELECT trace_id, llm_parent_span_id AS span_id, min(model) AS model
                             FROM s WHERE llm_parent_span_id IS NOT NULL AND model IS NOT NULL
                             GROUP BY trace_id, llm_parent_span_id),
                parts AS (
                  SELECT s.start_time, s.trace_id, COALESCE(a.model, s.model) AS model, s.duration_ms,
                         s.status_code, NULL::BIGINT AS tokens, NULL::DOUBLE PRECISION AS cost_usd, 1 AS calls
                  FROM s LEFT JOIN answered a ON a.trace_id = s.trace_id AND a.span_id = s.span_id
                  WHERE s.llm_parent_span_id IS NULL AND (s.span_type = 'llm' OR s.model IS NOT NULL)
                  UNION ALL
                  SELECT start_time, trace_id, model, NULL, NULL,
                         COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0), cost_usd, 0
                  FROM s WHERE usage_counted IS NOT false AND model IS NOT NULL
                    AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR cost_usd IS NOT NULL))"""


def _by_trace(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``rows`` grouped by their ``trace_id`` (taken out of each row), in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.pop("trace_id"), []).append(row)
    return out


def _descendants(nested: Mapping[str, list[tuple[str, Mapping[str, Any]]]], span_id: str) -> list[Mapping[str, Any]]:
    """The attributes of the LLM spans nested in ``span_id`` at any depth (two client
    instrumentations stacked inside a decorator nest twice), outermost first."""
    out: list[Mapping[str, Any]] = []
    todo = [span_id]
    while todo:
        for child_id, attrs in nested.get(todo.pop(0), []):
            out.append(attrs)
            todo.append(child_id)
    return out


def _naive_utc(value: _dt.datetime) -> _dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value


@contextmanager
def _store_errors(path: str) -> Iterator[None]:
    try:
        yield
    except duckdb.Error as exc:
        raise store_error(path, exc) from exc


def _page_spans(con: duckdb.DuckDBPyConnection, ids: list[str]) -> tuple[str, list[Any], list[str]] | None:
    """A condition on ``spans`` for the spans of one page of traces, its parameters, and the
    ids of those traces that are stored (``None`` when none is).

    Narrow seq ranges ORed, inside the page's overall range, then the trace ids: DuckDB
    prunes row groups by the ranges. Measured on 1M spans, 50 traces: 13 ms, against 32 ms
    for ``(seq BETWEEN ? AND ? AND trace_id = ?)`` ORed per trace and 500 ms for the ids
    alone (a full scan)."""
    ranges = con.execute(
        "SELECT trace_id, min_seq, max_seq FROM traces WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()
    if not ranges:
        return None
    each = " OR ".join("seq BETWEEN ? AND ?" for _ in ranges)
    found = [r[0] for r in ranges]
    params: list[Any] = [min(r[1] for r in ranges), max(r[2] for r in ranges)]
    params += [v for _, lo, hi in ranges for v in (lo, hi)]
    params.append(found)
    return f"seq BETWEEN ? AND ? AND ({each}) AND list_contains(?, trace_id)", params, found


def _listed(select: str, order: str) -> str:
    """``select``'s rows as one list of structs, in ``order`` (columns of the struct ``x``)."""
    return f"(SELECT list(x ORDER BY {order}) FROM ({select}) x)"


# seq grows with ingest order, so a trace's rows sit in a narrow seq range and DuckDB's zone
# maps skip every other row group: no full scan for one trace. ``_seq`` only orders the list.
_IN_TRACE = "seq BETWEEN $lo AND $hi AND trace_id = $trace_id"
_TRACE_ROWS = "SELECT " + ", ".join(
    (
        _listed(
            f"SELECT seq, {', '.join(SPAN_SUMMARY_COLUMNS)}, attributes FROM spans WHERE {_IN_TRACE}",
            "x.start_time, x.seq",
        ),
        # A document retrieved and then passed to the LLM function is there twice (the
        # retriever's and the call's context), and a framework retriever around a store query
        # returns the store's documents again, often under other ids: listed once, where it
        # first appeared, by text (by id as well when there is no text), as the grounding check
        # counts them (tracer._evidence.unique).
        _listed(
            f"SELECT seq AS _seq, * EXCLUDE (seq) FROM documents WHERE {_IN_TRACE} QUALIFY row_number() OVER "
            "(PARTITION BY CASE WHEN coalesce(content, '') = '' THEN document_id END, content "
            "ORDER BY seq, position) = 1",
            "x._seq, x.position",
        ),
        _listed(f"SELECT seq AS _seq, * EXCLUDE (seq) FROM decisions WHERE {_IN_TRACE}", "x._seq, x.position"),
        _listed(f"SELECT seq AS _seq, * EXCLUDE (seq) FROM events WHERE {_IN_TRACE}", "x._seq, x.position"),
        # Evaluations written later by `spyglass check` have seq outside the trace's range,
        # and annotations have none: both are looked up by trace id.
        _listed("SELECT * EXCLUDE (seq) FROM evaluations WHERE trace_id = $trace_id", "x.time"),
        _listed("SELECT * FROM annotations WHERE trace_id = $trace_id", "x.created_at"),
    )
)


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def parse_attributes(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """An ``attributes`` value as read (JSON text, or already parsed) as a dict."""
    if not value:
        return {}
    return dict(value) if isinstance(value, Mapping) else json.loads(value)


# --- what every engine's rows are shaped into (each engine's module owns only its SQL) ------
def assemble_previews(
    ids: list[str],
    found: list[str],
    spans: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    evaluations: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """:meth:`Store.trace_previews` from its four queries' rows."""
    for span in spans:
        span["attributes"] = parse_attributes(span["attributes"])
    out: dict[str, dict[str, Any]] = {
        trace_id: {"spans": [], "decisions": [], "evaluations": [], "annotations": []}
        for trace_id in ids
        if trace_id in found
    }
    for key, rows in (
        ("spans", spans),
        ("decisions", decisions),
        ("evaluations", evaluations),
        ("annotations", annotations),
    ):
        for row in rows:
            out[row["trace_id"]][key].append(row)
    return out


def assemble_trace(
    summary: dict[str, Any],
    spans: list[dict[str, Any]],
    documents: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    events: list[dict[str, Any]],
    evaluations: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
) -> dict[str, Any]:
    """:meth:`Store.get_trace` from its queries' rows."""
    for span in spans:
        span["attributes"] = parse_attributes(span["attributes"])
    return {
        "trace": summary,
        "spans": spans,
        "documents": documents,
        "decisions": decisions,
        "events": events,
        "evaluations": evaluations,
        "annotations": annotations,
    }


def assemble_llm_spans(
    spans: list[dict[str, Any]],
    docs: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    shape: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """:meth:`Store.llm_spans` from its four queries' rows."""
    tools: dict[str, list[dict[str, Any]]] = {}
    nested: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for row in shape:
        if row["span_type"] == "tool" or row["llm_parent_span_id"] is not None:
            attrs = canonical(parse_attributes(row["attributes"]))
            if row["llm_parent_span_id"] is not None:
                nested.setdefault(row["llm_parent_span_id"], []).append((row["span_id"], attrs))
            elif (result := tool_result(attrs, row["name"])) is not None:
                tools.setdefault(row["trace_id"], []).append(result)
    by_doc, by_decision, by_shape = _by_trace(docs), _by_trace(decisions), _by_trace(shape)
    for span in spans:
        trace_id = span["trace_id"]
        span["attributes"] = canonical(parse_attributes(span["attributes"]))
        span["inner"] = _descendants(nested, span["span_id"])
        span["spans"] = by_shape.get(trace_id, [])
        span["documents"] = by_doc.get(trace_id, [])
        span["tools"] = tools.get(trace_id, [])
        span["decisions"] = by_decision.get(trace_id, [])
    return spans


class AnnotationNotFound(StoreError):
    """No annotation has this id (a wrong id, or one deleted meanwhile)."""


class Store:
    """Read access to a Spyglass store. Safe to use while other processes write to it."""

    _sql: FilterSQL = DUCKDB_FILTERS  # the engine's words for what differs (a PostgresStore has its own)

    def __new__(cls, path: str | os.PathLike[str], *, timeout: float = 30.0) -> Store:
        # ``Store("postgresql://...")`` is a server store: the same API, its own SQL.
        if cls is Store and is_postgres(path):
            from .postgres._reader import PostgresStore  # psycopg: only for a server store

            return super().__new__(PostgresStore)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.timeout = timeout
        self._local = threading.local()  # the connection held by snapshot(), per thread
        # For the writes a reader does (ingesting spool files, upgrading an old store): one
        # writer, so its DuckDB instance is made once, not on every read while files wait.
        self._writer = StoreWriter(self.path)

    # --- connection ------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside the block shares one read-only connection (per thread), so a page
        that makes several reads opens the file once and its reads agree with each other.
        Keep blocks short: writers that find the file held spool their batches meanwhile."""
        if getattr(self._local, "con", None) is not None:
            yield
            return
        with self._open() as con:  # a DuckDB error raised in the block becomes a StoreError there
            self._local.con = con
            self._local.memo = {}
            try:
                yield
            finally:
                self._local.con = None
                self._local.memo = None

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, once per snapshot block for the same ``key`` (the data cannot change
        inside one); outside a block, every time. A page's count, rows and charts under one
        search then match its text once, not four times (2.9 s of 4 s for a common word on
        1M spans)."""
        memo = getattr(self._local, "memo", None)
        if memo is None:
            return compute()
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection where ``spans``, ``traces``, ``documents``, ``decisions`` and ``events``
        are every span stored so far, ingested or still in the spool. A DuckDB error raised
        inside the block leaves it as a :class:`StoreError` (``DamagedStoreError`` when the
        file's bytes are at fault), with the DuckDB error as its cause."""
        held = getattr(self._local, "con", None)
        if held is not None:
            with _store_errors(self.path):
                yield held
            return
        with self._open() as con:
            yield con

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            with self._attached() as con:
                yield con
        except duckdb.Error as exc:
            # The thread's instance may be unusable after it (a FatalException invalidates
            # it): the next read starts a fresh one rather than failing on it for good.
            self._forget_instance()
            raise store_error(self.path, exc) from exc

    def _forget_instance(self) -> None:
        con = getattr(self._local, "db", None)
        self._local.db = None
        if con is not None:
            try:
                con.close()
            except duckdb.Error:
                pass  # already invalidated: nothing left to close

    @contextmanager
    def _attached(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if _spool.pending(self.path):
            self._writer.drain(timeout=0)  # ingest now if nobody holds the file
        con = self._instance()
        open_read(self.path, self.timeout, onto=con)
        attached = [STORE]
        try:
            version = stored_version(con, STORE, self.path)
            if version is not None and version < SCHEMA_VERSION:
                # Written by an older Spyglass: upgrade it (a brief write lock), then read.
                con.execute(f"DETACH {STORE}")
                attached = []
                self._upgrade()
                open_read(self.path, self.timeout, onto=con)
                attached = [STORE]
                version = stored_version(con, STORE, self.path)
            if version is None:
                # An empty DuckDB file (a writer created it and has not migrated yet).
                con.execute("ATTACH ':memory:' AS empty")
                attached.append("empty")
                migrate(con, "empty", self.path)
                self._views(con, "empty", None)
            else:
                pending = self._load_pending(con)
                if pending:
                    attached.append(pending)
                self._views(con, STORE, pending)
            yield con
        finally:
            for catalog in reversed(attached):
                con.execute(f"DETACH {catalog}")

    def _instance(self) -> duckdb.DuckDBPyConnection:
        """This thread's in-memory DuckDB, kept between calls (the store file is not)."""
        con = getattr(self._local, "db", None)
        if con is None:
            con = self._local.db = duckdb.connect(":memory:")
            self._local.views = None
        return con

    def _upgrade(self) -> None:
        if not self._writer.validate(self.timeout):
            raise StoreBusy(
                f"{self.path} was written by an older Spyglass and must be upgraded, but another "
                f"process held it for {self.timeout:.0f} s; try again"
            )

    def _load_pending(self, con: duckdb.DuckDBPyConnection) -> str | None:
        files = _spool.pending(self.path)
        if not files:
            return None
        done = {r[0] for r in con.execute(f"SELECT file FROM {STORE}.spool_ingested").fetchall()}
        tables = []
        for path in files:
            if os.path.basename(path) in done:
                continue
            try:
                tables.append(conform(_spool.read(path)))
            except (OSError, pa.ArrowException):
                continue  # being written by no one (renamed whole) or damaged: the writer quarantines it
        if not tables:
            return None
        con.execute("ATTACH ':memory:' AS pending")
        try:
            self._fill_pending(con, tables)
        except BaseException:
            con.execute("DETACH pending")  # else every later read on this thread would fail
            raise
        return "pending"

    def _fill_pending(self, con: duckdb.DuckDBPyConnection, tables: list[pa.Table]) -> None:
        migrate(con, "pending", self.path)
        batch = pa.concat_tables(tables)
        con.register("_pending_ids", batch.select(["trace_id"]))
        # Start from the stored summaries of the traces involved so that the merge in
        # ingest_batch adds to them, exactly as a real ingest would.
        con.execute(
            f"INSERT INTO pending.traces SELECT * FROM {STORE}.traces "
            f"WHERE trace_id IN (SELECT DISTINCT trace_id FROM _pending_ids)"
        )
        con.unregister("_pending_ids")
        base = con.execute(f"SELECT COALESCE(max(seq), 0) FROM {STORE}.spans").fetchall()[0][0]
        ingest_batch(con, "pending", batch, base=base)

    def _views(self, con: duckdb.DuckDBPyConnection, catalog: str, pending: str | None) -> None:
        """The unqualified tables every query reads. Views outlive DETACH, so they are made
        again only when what they point at changes (creating them costs ~1 ms each)."""
        if self._local.views == (catalog, pending) and pending is None:
            return
        self._local.views = (catalog, pending)
        for table in _TABLES:
            if pending is None:
                body = f"SELECT * FROM {catalog}.{table}"
            elif table == "traces":
                body = (
                    f"SELECT * FROM {catalog}.traces WHERE trace_id NOT IN (SELECT trace_id FROM "
                    f"{pending}.traces) UNION ALL SELECT * FROM {pending}.traces"
                )
            else:
                body = f"SELECT * FROM {catalog}.{table} UNION ALL SELECT * FROM {pending}.{table}"
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {body}")

    # --- trace list ------------------------------------------------------------------
    def list_traces(self, filters: TraceFilter | None = None, *, limit: int = 50, offset: int = 0) -> list[dict]:
        """One page of traces, newest first."""
        cols = ", ".join(TRACE_COLUMNS)
        with self.connect() as con:
            where, params = self._where(con, filters)
            # The page first, then the flag for its rows only (not for every trace in the store).
            p = self._sql.param
            return _rows(
                con.execute(
                    f"SELECT page.*, {_SUSPECTED} AS suspected_hallucination FROM (SELECT {cols} FROM traces "
                    f"WHERE {where} ORDER BY start_time DESC, trace_id LIMIT {p} OFFSET {p}) page "
                    f"ORDER BY start_time DESC, trace_id",
                    [*params, int(limit), int(offset)],
                )
            )

    def trace_previews(self, trace_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the trace list shows of each of ``trace_ids`` besides its summary row (the
        question, the answer the user received, grounding, the newest annotation): per trace,
        ``spans`` (tree order; ``span_id``, ``parent_span_id``, ``span_type``, ``start_time``,
        ``name``, ``llm_parent_span_id``, ``usage_counted``, and ``attributes``, parsed, of the
        root, LLM and post-processing spans only, else ``{}``), ``decisions`` (in order),
        ``evaluations`` and ``annotations`` (oldest first). Unknown ids are left out.

        Meant for one page of the list: four queries for the whole page, the spans read by
        each trace's seq range as :meth:`get_trace` reads them (zone maps skip the rest)."""
        ids = list(dict.fromkeys(str(t) for t in trace_ids))
        if not ids:
            return {}
        with self.connect() as con:
            page = _page_spans(con, ids)
            if page is None:
                return {}
            by_seq, params, found = page
            spans = _rows(
                con.execute(
                    "SELECT trace_id, span_id, parent_span_id, span_type, start_time, name, llm_parent_span_id, "
                    "usage_counted, CASE WHEN parent_span_id IS NULL OR span_type IN ('llm', 'postprocess') "
                    f"THEN attributes END AS attributes FROM spans WHERE {by_seq} ORDER BY start_time, seq",
                    params,
                )
            )
            decisions = _rows(
                con.execute(f"SELECT * EXCLUDE (seq) FROM decisions WHERE {by_seq} ORDER BY seq, position", params)
            )
            # Evaluations written later by `spyglass check` lie outside the seq range; annotations have none.
            evaluations = _rows(
                con.execute(
                    "SELECT * EXCLUDE (seq) FROM evaluations WHERE trace_id IN (SELECT unnest(?::VARCHAR[])) "
                    "ORDER BY time",
                    [found],
                )
            )
            annotations = _rows(
                con.execute(
                    "SELECT * FROM annotations WHERE trace_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY created_at",
                    [found],
                )
            )
        return assemble_previews(ids, found, spans, decisions, evaluations, annotations)

    def count_traces(self, filters: TraceFilter | None = None) -> int:
        with self.connect() as con:
            where, params = self._where(con, filters)
            return int(con.execute(f"SELECT count(*) FROM traces WHERE {where}", params).fetchall()[0][0])

    # --- sessions --------------------------------------------------------------------
    def list_sessions(self, filters: TraceFilter | None = None, *, limit: int = 50, offset: int = 0) -> list[dict]:
        """One page of sessions, the most recently active first: one row per ``session_id``
        among the traces matching ``filters`` (so every number counts those traces only), with
        the columns of :data:`SESSION_COLUMNS`. Traces without a session are left out.

        Read from the ``traces`` summary, one row a trace (about 125k on a 1M-span store),
        never from the spans."""
        with self.connect() as con:
            where, params = self._where(con, filters)
            sql = _session_page(where, self._sql.param)
            return _rows(con.execute(sql, [*params, int(limit), int(offset), *params]))

    def count_sessions(self, filters: TraceFilter | None = None) -> int:
        """How many sessions :meth:`list_sessions` pages through for ``filters``."""
        with self.connect() as con:
            where, params = self._where(con, filters)
            # Grouped, not count(DISTINCT ...): PostgreSQL sorts for that (150 ms on 125k traces, 110 grouped).
            sql = f"SELECT count(*) FROM (SELECT session_id FROM traces WHERE session_id IS NOT NULL AND {where} GROUP BY session_id) s"
            return int(con.execute(sql, params).fetchall()[0][0])

    def session_turns(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[dict]:
        """One page of a session's turns: its traces **oldest first** (a conversation reads
        forward), each a :meth:`list_traces` row. ``list_sessions(TraceFilter(session_id=...))``
        gives the session's totals and how many turns there are to page through."""
        cols = ", ".join(TRACE_COLUMNS)
        p = self._sql.param
        with self.connect() as con:
            return _rows(
                con.execute(
                    f"SELECT page.*, {_SUSPECTED} AS suspected_hallucination FROM (SELECT {cols} FROM traces "
                    f"WHERE session_id = {p} ORDER BY start_time, trace_id LIMIT {p} OFFSET {p}) page "
                    f"ORDER BY start_time, trace_id",
                    [session_id, int(limit), int(offset)],
                )
            )

    def _where(self, con: duckdb.DuckDBPyConnection, filters: TraceFilter | None) -> tuple[str, list[Any]]:
        flt = filters or TraceFilter()
        where, params = flt.where()
        if flt.text and flt.text.strip():
            where += " AND trace_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(self._memo(("text", flt.text), lambda: self._matching_traces(con, str(flt.text))))
        return where, params

    def _matching_traces(self, con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
        ids = {trace_id for _, trace_id in self._text_matches(con, text, MAX_TEXT_MATCHES)}
        by_span, by_trace = self._id_matches(con, text, MAX_TEXT_MATCHES)
        ids.update(trace_id for _, trace_id in by_span)
        ids.update(by_trace)
        return sorted(ids)

    def facets(self, max_values: int | None = None) -> dict[str, list[str]]:
        """Distinct values for the filter widgets: models, span types, prompt versions,
        sessions, users, tags; at most ``max_values`` of each (the first in sort order)."""
        limit = "" if max_values is None else f" LIMIT {int(max_values)}"
        with self.connect() as con:

            def distinct(expr: str) -> list[str]:
                sql = f"SELECT DISTINCT {expr} AS v FROM traces WHERE v IS NOT NULL ORDER BY v{limit}"
                return [r[0] for r in con.execute(sql).fetchall()]

            # unnest() cannot sit in WHERE: list columns go through a subquery.
            def distinct_list(column: str) -> list[str]:
                sql = (
                    f"SELECT DISTINCT v FROM (SELECT unnest({column}) AS v FROM traces) "
                    f"WHERE v IS NOT NULL ORDER BY v{limit}"
                )
                return [r[0] for r in con.execute(sql).fetchall()]

            # Each base model beside its dated snapshots, even when no span named it (OpenAI
            # reports the snapshot that answered): choosing it selects them all.
            models = (
                f"WITH m AS (SELECT DISTINCT unnest(models) AS v FROM traces) SELECT DISTINCT v FROM "
                f"(SELECT v FROM m UNION ALL SELECT regexp_extract(v, '^{_SNAPSHOT}$', 1) FROM m) "
                f"WHERE v IS NOT NULL AND v <> '' ORDER BY v{limit}"
            )
            return {
                "models": [r[0] for r in con.execute(models).fetchall()],
                "span_types": distinct_list("span_types"),
                "prompt_versions": distinct("prompt_version"),
                "sessions": distinct("session_id"),
                "users": distinct("user_id"),
                "tags": distinct_list("tags"),
                **self._scored_facets(con, limit),
            }

    # Attribute keys are read off this many of the newest spans: every key of 1M spans
    # would be a scan of the whole table for a widget's suggestions.
    ATTRIBUTE_KEY_SAMPLE = 500

    def _scored_facets(self, con: Any, limit: str) -> dict[str, list[str]]:
        """The facets that are the same SQL on both engines: evaluation names, annotation
        labels, and the attribute keys (metadata keys as ``metadata.<name>``) of recent spans."""
        evaluations = [
            r[0] for r in con.execute(f"SELECT DISTINCT name FROM evaluations ORDER BY name{limit}").fetchall()
        ]
        labels = [r[0] for r in con.execute(f"SELECT DISTINCT label FROM annotations ORDER BY label{limit}").fetchall()]
        # A seq range, not ORDER BY seq DESC LIMIT: the range skips all but the last row
        # groups (15 ms on 1M spans, against 360 ms for the sort).
        recent = con.execute(
            "SELECT attributes FROM spans WHERE seq > "
            f"(SELECT max(max_seq) FROM traces) - {int(self.ATTRIBUTE_KEY_SAMPLE)}"
        )
        keys: set[str] = set()
        for (value,) in recent.fetchall():
            try:
                attributes = parse_attributes(value)
            except ValueError:
                continue
            keys.update(attributes)
            metadata = attributes.get("spyglass.metadata")
            try:
                parsed = json.loads(metadata) if isinstance(metadata, str) else None
            except ValueError:  # truncated past the capture limit
                parsed = None
            if isinstance(parsed, dict):
                keys.update(METADATA_PREFIX + str(k) for k in parsed)
        cap = int(limit.split()[-1]) if limit else None
        return {
            "evaluations": [e for e in evaluations if e is not None],
            "annotation_labels": [a for a in labels if a is not None],
            "attribute_keys": sorted(keys)[:cap],
        }

    # --- summary charts ---------------------------------------------------------------
    def durations(self, filters: TraceFilter | None = None, *, limit: int = 20_000) -> list[float]:
        """Trace durations (ms) of the newest ``limit`` matching traces, for a latency histogram."""
        with self.connect() as con:
            where, params = self._where(con, filters)
            return [
                r[0]
                for r in con.execute(
                    f"SELECT duration_ms FROM traces WHERE {where} ORDER BY start_time DESC LIMIT {self._sql.param}",
                    [*params, int(limit)],
                ).fetchall()
            ]

    def usage_over_time(self, filters: TraceFilter | None = None, *, bucket: str = "hour") -> list[dict[str, Any]]:
        """Tokens and cost per time bucket (``minute``, ``hour``, ``day``) and model, from LLM spans,
        each logical call and its usage counted once (docs/schema.md, "One call, counted once")."""
        if bucket not in ("minute", "hour", "day"):
            raise ValueError("bucket must be 'minute', 'hour' or 'day'")
        with self.connect() as con:
            where, params = self._where(con, filters)
            return _rows(
                con.execute(
                    f"""{_model_parts(where)}
                SELECT date_trunc('{bucket}', start_time) AS bucket, model, sum(tokens)::BIGINT AS tokens,
                       sum(cost_usd) AS cost_usd, sum(calls)::BIGINT AS calls
                FROM parts WHERE model IS NOT NULL
                GROUP BY 1, 2 ORDER BY 1, 2""",
                    params,
                )
            )

    def metrics_over_time(
        self,
        filters: TraceFilter | None = None,
        *,
        bucket: str | None = "hour",
        by: str | None = None,
        top: int = MAX_GROUPS,
    ) -> list[dict[str, Any]]:
        """The dashboards' figures per time bucket (``minute``, ``hour``, ``day``; ``None``: one
        row per group for the whole range) and group, oldest bucket first.

        ``by`` is ``None`` (one group, ``(all)``), ``prompt_version``, ``user``, ``root_name``
        or ``model``. Each row: ``bucket``, ``group``, ``traces``, ``calls``, ``errors``,
        ``error_rate``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``tokens``, ``cost_usd``.

        - By trace (``None``, ``prompt_version``, ``user``, ``root_name``): from the ``traces``
          summary, bucketed by the trace's start. ``errors`` are failed traces, the percentiles
          are of trace durations, ``calls`` the logical LLM calls, tokens and cost the traces'.
        - By ``model``: from the logical LLM calls (a ``@trace_llm`` function around a client
          call is one, under the model that answered; docs/schema.md, "One call, counted
          once"). ``errors`` are failed calls, the percentiles are of call durations, ``traces``
          the traces with such a call; tokens and cost as :meth:`usage_over_time` counts them.

        The ``top`` groups with the most traces (calls, by model) over the whole range keep
        their name; the rest are summed as ``(other)``; a trace without the value is ``(none)``.
        ``error_rate`` is ``errors`` over traces (calls, by model). ``tokens`` and ``cost_usd``
        are ``None`` where nothing reported any; the percentiles interpolate (as numpy's default).
        """
        if bucket not in (None, "minute", "hour", "day"):
            raise ValueError("bucket must be 'minute', 'hour', 'day' or None")
        if by not in BREAKDOWNS:
            raise ValueError(f"by must be one of {', '.join(str(b) for b in BREAKDOWNS)}")
        q = self._sql.quantile
        when = f"date_trunc('{bucket}', start_time)" if bucket else "NULL::TIMESTAMP"
        grouped = (
            f"CASE WHEN g IS NULL THEN '{NO_GROUP}' WHEN g IN (SELECT g FROM leaders) THEN g ELSE '{OTHER_GROUP}' END"
        )
        figures = (
            f"{q.format(column='duration_ms', q=0.5)} AS p50_ms, {q.format(column='duration_ms', q=0.95)} AS p95_ms, "
            f"{q.format(column='duration_ms', q=0.99)} AS p99_ms, sum(tokens)::BIGINT AS tokens, "
            "sum(cost_usd) AS cost_usd"
        )
        with self.connect() as con:
            where, params = self._where(con, filters)
            if by == "model":
                sql = f"""{_model_parts(where)},
                calls AS (SELECT * FROM parts WHERE calls = 1),
                leaders AS (SELECT model AS g FROM calls WHERE model IS NOT NULL GROUP BY model
                            ORDER BY count(*) DESC, model LIMIT {int(top)})
                SELECT {when} AS bucket, {grouped} AS "group",
                       count(DISTINCT trace_id) AS traces, sum(calls)::BIGINT AS calls,
                       count(*) FILTER (WHERE status_code = 'ERROR') AS errors, {figures}
                FROM (SELECT *, model AS g FROM parts) p
                GROUP BY 1, 2 ORDER BY 1, 2"""
            else:
                column = {None: f"'{ALL_GROUP}'", "prompt_version": "prompt_version", "user": "user_id"}.get(
                    by, "root_name"
                )
                sql = f"""
                WITH t AS (SELECT start_time, duration_ms, status_code, llm_count, cost_usd, {column} AS g,
                                  CASE WHEN input_tokens IS NOT NULL OR output_tokens IS NOT NULL
                                  THEN COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) END AS tokens
                           FROM traces WHERE {where}),
                leaders AS (SELECT g FROM t WHERE g IS NOT NULL GROUP BY g ORDER BY count(*) DESC, g
                            LIMIT {int(top)})
                SELECT {when} AS bucket, {grouped} AS "group", count(*) AS traces,
                       COALESCE(sum(llm_count), 0)::BIGINT AS calls,
                       count(*) FILTER (WHERE status_code = 'ERROR') AS errors, {figures}
                FROM t GROUP BY 1, 2 ORDER BY 1, 2"""
            rows = _rows(con.execute(sql, params))
        for row in rows:
            row["errors"] = int(row["errors"])
            unit = row["calls"] if by == "model" else row["traces"]
            row["error_rate"] = row["errors"] / unit if unit else None
        return rows

    def compare_prompt_versions(
        self, filters: TraceFilter | None = None, versions: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Per prompt version (``traces.prompt_version``; all, or those in ``versions``) of the
        traces matching ``filters``: how well its answers hold up, what they cost, how long
        they take. Most recently seen first. Each row:

        - ``version``, ``traces``, ``first_seen``, ``last_seen``;
        - ``grounding_checked``: traces with a grounding verdict (``grounded`` or
          ``hallucination``, by the grounding check: ``source`` not ``span``);
          ``grounding_suspected``: those with a ``hallucination`` verdict;
          ``grounding_no_documents``: traces whose answers had nothing to be checked against
          (left out of the rate); ``grounding_rate``: the share of checked traces not
          suspected, with ``grounding_rate_low``/``_high``, its Wilson 95% interval (``None``
          when nothing was checked): with 3 checked, 2 grounded reads 67% (21-94%);
          ``grounding_score``: the mean of each checked trace's worst grounding score;
        - ``annotated_hallucination``: traces someone annotated as a hallucination;
        - ``errors``, ``error_rate`` (with ``error_rate_low``/``_high``, Wilson 95%);
        - ``p50_ms``, ``p95_ms`` (trace durations); ``tokens_per_trace``, ``cost_per_trace``
          (the traces' totals over ``traces``; a trace without usage counts 0).
        """
        if versions is not None and not list(versions):
            return []
        q = self._sql.quantile
        picked = ""
        with self.connect() as con:
            where, params = self._where(con, filters)
            if versions is not None:
                picked = f"AND {self._sql.in_list.format(column='prompt_version')}"
                params.append(list(versions))
            rows = _rows(
                con.execute(
                    f"""
                WITH t AS (SELECT trace_id, prompt_version, start_time, duration_ms, status_code, cost_usd,
                                  COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) AS tokens
                           FROM traces WHERE {where} AND prompt_version IS NOT NULL {picked}),
                e AS (SELECT trace_id, label, score FROM evaluations
                      WHERE name = 'grounding' AND source <> 'span' AND trace_id IN (SELECT trace_id FROM t)),
                g AS (SELECT trace_id, min(score) FILTER (WHERE label <> 'no_documents') AS score,
                             count(*) FILTER (WHERE label IN ('grounded', '{HALLUCINATION_LABEL}')) AS verdicts,
                             count(*) FILTER (WHERE label = '{HALLUCINATION_LABEL}') AS suspected,
                             count(*) FILTER (WHERE label = 'no_documents') AS no_documents
                      FROM e GROUP BY trace_id),
                a AS (SELECT DISTINCT trace_id FROM annotations
                      WHERE label = 'hallucination' AND trace_id IN (SELECT trace_id FROM t))
                SELECT t.prompt_version AS version, count(*) AS traces, min(t.start_time) AS first_seen,
                       max(t.start_time) AS last_seen,
                       count(*) FILTER (WHERE g.verdicts > 0) AS grounding_checked,
                       count(*) FILTER (WHERE g.suspected > 0) AS grounding_suspected,
                       count(*) FILTER (WHERE g.verdicts = 0 AND g.no_documents > 0) AS grounding_no_documents,
                       avg(g.score) FILTER (WHERE g.verdicts > 0) AS grounding_score,
                       count(a.trace_id) AS annotated_hallucination,
                       count(*) FILTER (WHERE t.status_code = 'ERROR') AS errors,
                       {q.format(column="t.duration_ms", q=0.5)} AS p50_ms,
                       {q.format(column="t.duration_ms", q=0.95)} AS p95_ms,
                       sum(t.tokens)::DOUBLE PRECISION / count(*) AS tokens_per_trace,
                       COALESCE(sum(t.cost_usd), 0) / count(*) AS cost_per_trace
                FROM t LEFT JOIN g ON g.trace_id = t.trace_id LEFT JOIN a ON a.trace_id = t.trace_id
                GROUP BY t.prompt_version ORDER BY last_seen DESC, version""",
                    params,
                )
            )
        for row in rows:
            for key in (
                "traces",
                "grounding_checked",
                "grounding_suspected",
                "grounding_no_documents",
                "annotated_hallucination",
                "errors",
            ):
                row[key] = int(row[key])
            checked, errors = row["grounding_checked"], row["errors"]
            row["grounding_rate"] = (checked - row["grounding_suspected"]) / checked if checked else None
            row["grounding_rate_low"], row["grounding_rate_high"] = wilson_interval(
                checked - row["grounding_suspected"], checked
            )
            row["error_rate"] = errors / row["traces"]
            row["error_rate_low"], row["error_rate_high"] = wilson_interval(errors, row["traces"])
        return rows

    # --- one trace -------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> dict[str, Any] | None:
        """The trace summary with its spans (tree order: by start time), documents,
        decisions and events. ``None`` if no such trace."""
        with self.connect() as con:
            found = _rows(
                con.execute(
                    f"SELECT {', '.join(TRACE_COLUMNS)}, min_seq, max_seq FROM traces WHERE trace_id = ?", [trace_id]
                )
            )
            if not found:
                return None
            summary = found[0]
            lo, hi = summary.pop("min_seq"), summary.pop("max_seq")
            # Every row of the trace in one statement, one list of structs per table: each
            # statement costs ~0.6 ms before it reads a row, and there were six of them.
            row = con.execute(_TRACE_ROWS, {"lo": lo, "hi": hi, "trace_id": trace_id}).fetchall()[0]
            spans, documents, decisions, events, evaluations, annotations = (rows or [] for rows in row)
            for ordered in (documents, decisions, events):
                for item in ordered:
                    del item["_seq"]
            return assemble_trace(summary, spans, documents, decisions, events, evaluations, annotations)

    def get_traces(self, trace_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Several traces (as :meth:`get_trace`) read on one connection, e.g. to compare them."""
        with self.snapshot():
            return {trace_id: self.get_trace(trace_id) for trace_id in trace_ids}

    # --- search ----------------------------------------------------------------------
    def search(self, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Spans whose captured content (prompts, outputs, documents, any attribute) has
        every word of ``text`` (whole words, any case; ``batt*``: a word beginning with
        "batt"), or whose span id begins with ``text`` when it is a hex id prefix; newest first."""
        cols = ", ".join(SPAN_SUMMARY_COLUMNS)
        with self.connect() as con:
            found = self._text_matches(con, text, int(limit)) + self._id_matches(con, text, int(limit))[0]
            seqs = sorted({seq for seq, _ in found}, reverse=True)[: int(limit)]
            if not seqs:
                return []
            return _rows(
                con.execute(
                    f"SELECT {cols} FROM spans WHERE seq IN (SELECT unnest(?::BIGINT[])) ORDER BY seq DESC", [seqs]
                )
            )

    def _text_matches(self, con: duckdb.DuckDBPyConnection, text: str, limit: int) -> list[tuple[int, str]]:
        """``(seq, trace_id)`` of the newest ``limit`` spans matching ``text``.

        Indexed spans: candidates from ``search_terms`` (a few row groups per lookup), then
        verified on their text. Spans past the indexed point: scanned. See ``_search.py``.
        """
        query = _search.parse(text)
        if query.empty:
            return []
        patterns = query.patterns()
        verify = " AND ".join([f"regexp_matches({_search.SEARCHED_TEXT}, ?)"] * len(patterns))
        groups = self._term_groups(con, query)
        if not groups:  # nothing the index can answer (very common words): scan
            return [
                (r[0], r[1])
                for r in con.execute(
                    f"SELECT seq, trace_id FROM spans WHERE {verify} ORDER BY seq DESC LIMIT ?", [*patterns, limit]
                ).fetchall()
            ]
        upto = _search.indexed_seq(con)
        candidates: list[int] = []
        if all(len(group) == 1 for group in groups):  # whole words only: a span holds every term
            terms = sorted({group[0] for group in groups})
            candidates = [
                r[0]
                for r in con.execute(
                    "SELECT seq FROM search_terms WHERE term IN (SELECT unnest(?::UINTEGER[])) GROUP BY seq "
                    "HAVING count(DISTINCT term) = ? ORDER BY seq DESC LIMIT ?",
                    [terms, len(terms), limit * 2 + 100],
                ).fetchall()
            ]
        elif all(groups):  # (a prefix that begins no indexed word: no indexed span can match)
            # A span is a candidate when it holds a term of every group (a word is a group of
            # one term; a prefix, the terms of the words it begins).
            terms = [t for group in groups for t in group]
            numbers = [i for i, group in enumerate(groups) for _ in group]
            candidates = [
                r[0]
                for r in con.execute(
                    "SELECT seq FROM search_terms JOIN (SELECT unnest(?::UINTEGER[]) AS term, "
                    "unnest(?::INTEGER[]) AS grp) q USING (term) WHERE term IN (SELECT unnest(?::UINTEGER[])) "
                    "GROUP BY seq HAVING count(DISTINCT grp) = ? ORDER BY seq DESC LIMIT ?",
                    [terms, numbers, sorted(set(terms)), len(groups), limit * 2 + 100],
                ).fetchall()
            ]
        tail = con.execute(
            f"SELECT seq, trace_id FROM spans WHERE seq > ? AND {verify} ORDER BY seq DESC LIMIT ?",
            [upto, *patterns, limit],
        ).fetchall()
        found = [(r[0], r[1]) for r in tail]
        if candidates and len(found) < limit:
            # When the index's answer is exact, the candidates are the answer: reading their
            # text back to verify it is most of a search's cost (0.4-0.7 s for 10,000 spans).
            check = "" if self._index_is_exact(con, query, groups) else f" AND {verify}"
            # A semi-join, not a range: a rare word's candidates span the whole table.
            found += [
                (r[0], r[1])
                for r in con.execute(
                    f"SELECT seq, trace_id FROM spans WHERE seq IN (SELECT unnest(?::BIGINT[])){check} "
                    f"ORDER BY seq DESC LIMIT ?",
                    [candidates, *(patterns if check else ()), limit - len(found)],
                ).fetchall()
            ]
        return found

    @staticmethod
    def _index_is_exact(con: duckdb.DuckDBPyConnection, query: _search.Query, groups: list[list[int]]) -> bool:
        """Whether the spans holding a term of every group are exactly the spans matching
        ``query``: every word and prefix of it is answered by the index (no stop word, no
        prefix left to its pattern), and each term stands for one indexed word only (a
        CRC-32 shared by two words would let the other word's spans in), for a whole word
        that very word. The indexer keeps whole words only (``_search.words``), as the patterns match."""
        if len(groups) != len(query.words) + len(query.prefixes):
            return False
        terms = sorted({t for group in groups for t in group})
        if not terms:
            return False
        words = dict(
            con.execute(
                "SELECT term, CASE WHEN count(*) = 1 THEN min(word) END FROM search_words "
                "WHERE term IN (SELECT unnest(?::UINTEGER[])) GROUP BY term",
                [terms],
            ).fetchall()
        )
        if any(words.get(t) is None for t in terms):
            return False
        return all(words[group[0]] == word for group, word in zip(groups, query.words))

    @staticmethod
    def _term_groups(con: duckdb.DuckDBPyConnection, query: _search.Query) -> list[list[int]]:
        """The index terms standing for each word and prefix of ``query`` the index can answer
        (an empty group: a prefix of no indexed word). Stop words, prefixes of one, and
        prefixes of more than ``MAX_PREFIX_TERMS`` words are left to the regular expressions."""
        groups = [[_search.term(w)] for w in query.words if _search.indexed(w)]
        for prefix in query.prefixes:
            if _search.prefix_of_stop_word(prefix):
                continue
            terms = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT term FROM search_words WHERE word >= ? AND word < ? LIMIT ?",
                    [*_search.prefix_bounds(prefix), _search.MAX_PREFIX_TERMS + 1],
                ).fetchall()
            ]
            if len(terms) <= _search.MAX_PREFIX_TERMS:
                groups.append(terms)
        return groups

    def _id_matches(self, con: Any, text: str, limit: int) -> tuple[list[tuple[int, str]], list[str]]:
        """When ``text`` is a hex id prefix: ``(seq, trace_id)`` of the newest ``limit`` spans whose
        span id begins with it, and the ids of the traces whose trace id does (``limit`` at most)."""
        prefix = _search.parse(text).id_prefix
        if prefix is None:
            return [], []
        # Ids are lower-case hex: "g" sorts after every digit of one, so [prefix, prefix + "g")
        # holds exactly the ids beginning with the prefix.
        bounds = [prefix, prefix + "g"]
        q = self._sql
        spans = con.execute(
            f"SELECT seq, trace_id FROM spans WHERE {q.in_range.format(column='span_id')} "
            f"ORDER BY seq DESC LIMIT {q.param}",
            [*bounds, limit],
        ).fetchall()
        traces = con.execute(
            f"SELECT trace_id FROM traces WHERE {q.in_range.format(column='trace_id')} LIMIT {q.param}",
            [*bounds, limit],
        ).fetchall()
        return [(r[0], r[1]) for r in spans], [r[0] for r in traces]

    def build_search_index(self, *, budget_s: float | None = None) -> tuple[int, int]:
        """Index spans not indexed yet (at most ``budget_s`` seconds of work). Returns
        ``(indexed up to seq, last seq)``. Search works without it, only slower."""
        with _store_errors(self.path):
            return _search.index_pending(self.path, budget_s=budget_s)

    def search_snippets(self, trace_ids: Sequence[str], text: str) -> dict[str, _snippets.Snippet]:
        """Where ``text`` matched in each of ``trace_ids`` (one page of a search's traces): the
        best matching span and field, and a short window of text around the first match with
        the offsets of the matches (``_snippets.Snippet``). Traces without a match (or unknown)
        are left out. Reads the page's traces' matching spans only, by their seq ranges."""
        query = _search.parse(text)
        ids = list(dict.fromkeys(str(t) for t in trace_ids))
        if not ids or (query.empty and query.id_prefix is None):
            return {}
        with self.connect() as con:
            page = _page_spans(con, ids)
            if page is None:
                return {}
            by_seq, params, _ = page
            # The spans that match (every word), and with an id prefix every span: it may be the one named.
            patterns = [] if query.id_prefix is not None else query.patterns()
            verify = " AND ".join([f"regexp_matches({_search.SEARCHED_TEXT}, ?)"] * len(patterns)) or "TRUE"
            spans = _rows(
                con.execute(
                    "SELECT trace_id, span_id, name, span_type, status_message, attributes FROM spans "
                    f"WHERE {by_seq} AND {verify} ORDER BY start_time, seq",
                    [*params, *patterns],
                )
            )
        return _snippets.of_traces(query, ids, spans)

    # --- housekeeping ----------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Row counts of every table, and the dropped-span total."""
        with self.connect() as con:
            out = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in _TABLES}
            dropped = (
                con.execute(f"SELECT COALESCE(sum(count), 0) FROM {STORE}.dropped_spans").fetchall()[0][0]
                if self._has_store_table(con, "dropped_spans")
                else 0
            )
            out["dropped_spans"] = int(dropped)
            return out

    @staticmethod
    def _has_store_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
        return bool(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? AND table_name = ?",
                [STORE, name],
            ).fetchall()[0][0]
        )

    # --- what users add: evaluations and annotations (never a change to span rows) -----
    def annotate(
        self, trace_id: str, label: str, note: str = "", *, span_id: str | None = None, author: str | None = None
    ) -> str:
        """Label a trace (or one of its spans) ``hallucination``, ``correct`` or ``other``,
        with a note. Returns the annotation id."""
        if label not in ANNOTATION_LABELS:
            raise ValueError(f"label must be one of {', '.join(ANNOTATION_LABELS)}, not {label!r}")
        annotation_id = uuid.uuid4().hex
        self._write(
            f"INSERT INTO {STORE}.annotations VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [[annotation_id, trace_id, span_id, label, note, author]],
        )
        return annotation_id

    def update_annotation(self, annotation_id: str, *, label: str | None = None, note: str | None = None) -> None:
        """Change the label and/or the note of one annotation (its id, trace, span, author and
        time stay). Raises :class:`AnnotationNotFound` for an id no annotation has."""
        if label is None and note is None:
            raise ValueError("give a label or a note to change")
        if label is not None and label not in ANNOTATION_LABELS:
            raise ValueError(f"label must be one of {', '.join(ANNOTATION_LABELS)}, not {label!r}")
        sets = [f"{column} = ?" for column, value in (("label", label), ("note", note)) if value is not None]
        values = [value for value in (label, note) if value is not None]
        sql = f"UPDATE {STORE}.annotations SET {', '.join(sets)} WHERE id = ?"
        if not self._change_annotation(annotation_id, sql, [*values, annotation_id]):
            raise AnnotationNotFound(f"no annotation {annotation_id!r} in {self.path} (deleted meanwhile?)")

    def delete_annotation(self, annotation_id: str) -> bool:
        """Remove one annotation (a label given by mistake). True if it existed."""
        return self._change_annotation(annotation_id, f"DELETE FROM {STORE}.annotations WHERE id = ?", [annotation_id])

    def _change_annotation(self, annotation_id: str, sql: str, params: list[Any]) -> bool:
        # Read first: an unknown id on a missing or refused store raises what every read
        # raises, and never creates a file. The write then checks again inside its own
        # transaction, so an annotation deleted meanwhile by another process is reported.
        with self.connect() as con:
            found = con.execute("SELECT count(*) FROM annotations WHERE id = ?", [annotation_id]).fetchall()[0][0]
        if not found:
            return False
        exists = f"SELECT count(*) FROM {STORE}.annotations WHERE id = ?"
        return self._write(sql, [params], only_if=(exists, [annotation_id]))

    def add_evaluations(self, rows: Sequence[dict[str, Any]], *, source: str = "check") -> int:
        """Store evaluation results: dicts with ``trace_id``, ``span_id``, ``name``, ``score``,
        ``label``, ``explanation`` and ``details`` (JSON-serialisable)."""
        values = [
            [
                r["trace_id"],
                r["span_id"],
                r.get("name", "grounding"),
                r.get("score"),
                r.get("label"),
                r.get("explanation"),
                json.dumps(r.get("details"), default=str),
                source,
            ]
            for r in rows
        ]
        if values:
            self._write(
                f"INSERT INTO {STORE}.evaluations VALUES (?, ?, NULL, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)", values
            )
        return len(values)

    def _write(self, sql: str, rows: list[list[Any]], *, only_if: tuple[str, list[Any]] | None = None) -> bool:
        """Run ``sql`` over ``rows`` in one transaction under the write lock. With ``only_if``
        (a count query), only when it counts a row inside that transaction; False when not."""
        con = open_write(self.path, self.timeout)
        if con is None:
            raise StoreBusy(f"{self.path} stayed locked by another process for {self.timeout:.0f} s")
        try:
            with _store_errors(self.path):
                migrate(con, STORE, self.path)
                con.execute("BEGIN TRANSACTION")
                if only_if is not None and not con.execute(*only_if).fetchall()[0][0]:
                    con.execute("ROLLBACK")
                    return False
                con.executemany(sql, rows)
                con.execute("COMMIT")
                return True
        finally:
            con.close()

    def llm_spans(
        self, *, unevaluated: str | None = None, limit: int | None = None, trace_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Logical LLM calls, oldest first, each with what checking and exporting it needs.

        One row per LLM span that is not nested in another LLM span (see docs/schema.md, "One
        call, counted once"), with ``attributes`` (as :func:`tracer.conventions.canonical`
        reads them), ``inner`` (the attributes of the LLM spans nested in it), ``documents``
        (its trace's documents), ``tools`` (its trace's tool results, as documents),
        ``decisions`` (its trace's post-processing decisions, in order) and ``spans`` (its
        trace's span ids, parents and start times; attributes of post-processing spans). With
        ``unevaluated="grounding"``, only calls without such an evaluation yet; with
        ``trace_id``, only that trace's calls.
        """
        skip = (
            # Another tool's evaluation of the same name (source 'span') is not our check's.
            "AND NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.span_id = s.span_id AND e.name = {p} AND e.source <> 'span')"
            if unevaluated
            else ""
        )
        params: list[Any] = [unevaluated] if unevaluated else []
        # The same queries on every engine: only the placeholder and "one of a list" differ.
        p, of_traces = self._sql.param, self._sql.in_list.format(column="trace_id")
        skip = skip.format(p=p)
        if trace_id is not None:
            skip += f" AND s.trace_id = {p}"
            params.append(trace_id)
        with self.connect() as con:
            spans = _rows(
                con.execute(
                    f"SELECT s.trace_id, s.span_id, s.name, s.attributes FROM spans s WHERE s.span_type = 'llm' "
                    f"AND s.llm_parent_span_id IS NULL {skip} ORDER BY s.seq"
                    + (f" LIMIT {int(limit)}" if limit is not None else ""),
                    params,
                )
            )
            if not spans:
                return []
            traces = [sorted({s["trace_id"] for s in spans})]
            docs = _rows(
                con.execute(
                    f"SELECT trace_id, document_id, content, score FROM documents WHERE {of_traces} "
                    "ORDER BY seq, position",
                    traces,
                )
            )
            decisions = _rows(
                con.execute(
                    "SELECT trace_id, span_id, time, name, verdict, action, reason, before_text, after_text "
                    f"FROM decisions WHERE {of_traces} ORDER BY seq, position",
                    traces,
                )
            )
            # Every span of those traces, once: the shape (which answer a decision applies to,
            # tracer/_delivered.py), and the attributes of tool, nested LLM and guardrail spans.
            shape = _rows(
                con.execute(
                    "SELECT trace_id, span_id, parent_span_id, span_type, start_time, name, llm_parent_span_id, "
                    "CASE WHEN span_type IN ('tool', 'postprocess') OR llm_parent_span_id IS NOT NULL "
                    f"THEN attributes END AS attributes FROM spans WHERE {of_traces} ORDER BY seq",
                    traces,
                )
            )
        return assemble_llm_spans(spans, docs, decisions, shape)

    def annotations(self) -> list[dict[str, Any]]:
        """Every annotation, oldest first."""
        with self.connect() as con:
            return _rows(con.execute("SELECT * FROM annotations ORDER BY created_at"))

    def evaluations(self, name: str | None = None, *, source: str | None = None) -> list[dict[str, Any]]:
        """Every evaluation (of one ``name``, e.g. ``grounding``; from one ``source``: ``export``
        and ``check`` are the grounding check's, ``span`` another tool's event), oldest first."""
        p = self._sql.param
        clauses = [clause for clause, value in ((f"name = {p}", name), (f"source = {p}", source)) if value]
        params = [value for value in (name, source) if value]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.connect() as con:
            return _rows(con.execute(f"SELECT {EVALUATION_COLUMNS} FROM evaluations {where} ORDER BY time", params))

    def ingest_pending(self, timeout: float = 10.0) -> bool:
        """Ingest spool files left by writers that could not take the lock. True when none is left."""
        with _store_errors(self.path):
            return self._writer.drain(timeout)

    def check(self) -> None:
        """Raise now the error every read would raise (:class:`StoreNotFound`, ``ForeignStoreError``,
        ``DamagedStoreError``, ``NewerSchemaError``...); a store that is only busy passes."""
        try:
            with self.connect():
                pass
        except StoreBusy:
            pass  # another process writing: readable as soon as it lets go
