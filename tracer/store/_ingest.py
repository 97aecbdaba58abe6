"""Write SQL: load one staged Arrow batch into a store's tables, in one transaction.

``catalog`` is the attached database to write into: the store file itself, or (for a
reader that cannot take the write lock) an in-memory copy of the schema that holds the
spool files not yet ingested. The same statements serve both, so there is one definition
of how ``documents``, ``decisions``, ``events`` and ``traces`` derive from spans.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from .. import attributes as A
from ._schema import SPAN_COLUMNS

_SPAN_COLS = ", ".join(name for name, _ in SPAN_COLUMNS)


def _attr(key: str) -> str:
    """A span or event attribute, as text, from the ``attributes`` JSON column."""
    return f"""attributes->>'$."{key}"'"""


def ingest_batch(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    table: pa.Table,
    base: int | None = None,
    seqs: pa.Array | None = None,
    derive_only: bool = False,
) -> pa.Table:
    """Append ``table`` (``STAGING_SCHEMA``) to ``catalog``; the caller owns the transaction.

    Rows get ``seq`` numbers after ``base`` (default: the highest in ``catalog``), or the
    increasing ``seqs`` given (a PostgreSQL store's sequence hands them out; its batches are
    derived here, in an empty in-memory catalog, then copied: see ``postgres/_writer.py``).
    ``derive_only``: ``catalog`` is an empty staging catalog that receives the derived tables
    only (the span rows are returned, not inserted, and there are no summaries to merge with).
    Returns the span rows, ``seq`` included.
    """
    if table.num_rows == 0:
        return table
    if seqs is not None:
        seq = seqs
        base = int(seqs[0].as_py()) - 1
    else:
        if base is None:
            base = int(con.execute(f"SELECT COALESCE(max(seq), 0) FROM {catalog}.spans").fetchall()[0][0])
        seq = pa.array(range(base + 1, base + 1 + table.num_rows), type=pa.int64())
    batch = table.add_column(0, "seq", seq)
    con.register("_spyglass_batch", batch)
    try:
        _insert(con, catalog, base, derive_only)
    finally:
        con.unregister("_spyglass_batch")
    return batch


def _insert(con: duckdb.DuckDBPyConnection, c: str, base: int, derive_only: bool) -> None:
    if not derive_only:
        con.execute(f"INSERT INTO {c}.spans SELECT {_SPAN_COLS} FROM _spyglass_batch")
    con.execute(f"""
        INSERT INTO {c}.events
        SELECT trace_id, span_id, seq, (pos - 1)::INTEGER, make_timestamp((e->>'time_us')::BIGINT),
               e->>'name', e->'attributes'
        FROM (SELECT trace_id, span_id, seq, unnest(_events::JSON[]) AS e,
                     generate_subscripts(_events::JSON[], 1) AS pos
              FROM _spyglass_batch WHERE _events IS NOT NULL)""")
    con.execute(f"""
        INSERT INTO {c}.documents
        SELECT trace_id, span_id, seq, (pos - 1)::INTEGER, d->>'id', d->>'content',
               TRY_CAST(d->>'score' AS DOUBLE), d->'metadata'
        FROM (SELECT trace_id, span_id, seq, unnest(TRY_CAST(_documents AS JSON[])) AS d,
                     generate_subscripts(TRY_CAST(_documents AS JSON[]), 1) AS pos
              FROM _spyglass_batch WHERE _documents IS NOT NULL)""")
    d = _attr
    # A decision is a gen_ai.evaluation.result event marked with spyglass.decision.verdict
    # (tracer.record_decision), or a spyglass.decision event (what it wrote before: old spool
    # files and apps), whose name, reason and score sit under spyglass.decision.* instead.
    # Every other gen_ai.evaluation.result event is an evaluation: the grounding check's
    # (it carries spyglass.evaluation.details) or one the app or another instrumentation recorded.
    is_decision = f"(name = ? OR (name = ? AND {d(A.DECISION_VERDICT)} IS NOT NULL))"
    con.execute(
        f"""
        INSERT INTO {c}.decisions
        SELECT trace_id, span_id, seq,
               (row_number() OVER (PARTITION BY seq ORDER BY position) - 1)::INTEGER, time,
               COALESCE({d(A.GEN_AI_EVALUATION_NAME)}, {d(A.DECISION_NAME)}), {d(A.DECISION_VERDICT)},
               {d(A.DECISION_ACTION)}, COALESCE({d(A.GEN_AI_EVALUATION_EXPLANATION)}, {d(A.DECISION_REASON)}),
               TRY_CAST(COALESCE({d(A.GEN_AI_EVALUATION_SCORE_VALUE)}, {d(A.DECISION_SCORE)}) AS DOUBLE),
               {d(A.DECISION_BEFORE)}, {d(A.DECISION_AFTER)}
        FROM {c}.events WHERE seq > ? AND {is_decision}""",
        [base, A.DECISION_EVENT, A.GEN_AI_EVALUATION_RESULT_EVENT],
    )
    con.execute(
        f"""
        INSERT INTO {c}.evaluations
        SELECT trace_id, COALESCE({d(A.EVALUATION_SPAN_ID)}, span_id), seq, time, {d(A.GEN_AI_EVALUATION_NAME)},
               TRY_CAST({d(A.GEN_AI_EVALUATION_SCORE_VALUE)} AS DOUBLE), {d(A.GEN_AI_EVALUATION_SCORE_LABEL)},
               {d(A.GEN_AI_EVALUATION_EXPLANATION)}, TRY_CAST({d(A.EVALUATION_DETAILS)} AS JSON),
               CASE WHEN {d(A.EVALUATION_DETAILS)} IS NULL THEN 'span' ELSE 'export' END
        FROM {c}.events WHERE seq > ? AND name = ? AND {d(A.DECISION_VERDICT)} IS NULL""",
        [base, A.GEN_AI_EVALUATION_RESULT_EVENT],
    )
    # Per-trace summary, merged with what earlier batches of the same trace contributed
    # (children usually end, and arrive, before their root). One logical LLM call counts
    # once: nested LLM spans are not calls of their own, and a span whose nested calls
    # carry the usage does not add its own (docs/schema.md, "One call, counted once").
    con.execute(
        f"""
        INSERT INTO {c}.traces
        SELECT b.trace_id,
               any_value(span_id) FILTER (WHERE parent_span_id IS NULL),
               any_value(name) FILTER (WHERE parent_span_id IS NULL),
               min(start_time), max(end_time),
               date_diff('microsecond', min(start_time), max(end_time)) / 1000.0,
               CASE WHEN bool_or(status_code = 'ERROR') THEN 'ERROR' ELSE 'OK' END,
               count(*), count(*) FILTER (WHERE span_type = 'llm' AND llm_parent_span_id IS NULL),
               sum(input_tokens) FILTER (WHERE usage_counted IS NOT false),
               sum(output_tokens) FILTER (WHERE usage_counted IS NOT false),
               sum(cost_usd) FILTER (WHERE usage_counted IS NOT false),
               list_sort(list_distinct(list(model) FILTER (WHERE model IS NOT NULL))),
               list_sort(list_distinct(list(span_type) FILTER (WHERE span_type IS NOT NULL))),
               any_value(session_id) FILTER (WHERE session_id IS NOT NULL),
               any_value(user_id) FILTER (WHERE user_id IS NOT NULL),
               any_value(prompt_version) FILTER (WHERE prompt_version IS NOT NULL),
               list_sort(list_distinct(flatten(list(tags) FILTER (WHERE tags IS NOT NULL)))),
               count(*) FILTER (WHERE status_code = 'ERROR'),
               COALESCE(any_value(dec.blocked), 0), COALESCE(any_value(dec.flagged), 0),
               any_value(service_name), min(seq), max(seq), COALESCE(any_value(dec.modified), 0)
        FROM _spyglass_batch b
        LEFT JOIN (SELECT trace_id, count(*) FILTER (WHERE verdict = 'block') AS blocked,
                          count(*) FILTER (WHERE verdict = 'flag') AS flagged,
                          count(*) FILTER (WHERE verdict = 'modify') AS modified
                   FROM {c}.decisions WHERE seq > ? GROUP BY trace_id) dec USING (trace_id)
        GROUP BY b.trace_id
        {"" if derive_only else _MERGE_TRACES}""",
        [base],
    )


# A batch's trace summaries merged with those already stored (skipped where none can be: the
# empty catalog a PostgreSQL batch is derived in, where DuckDB's ON CONFLICT costs ~0.4 ms a trace).
_MERGE_TRACES = """ON CONFLICT (trace_id) DO UPDATE SET
          root_span_id = COALESCE(EXCLUDED.root_span_id, root_span_id),
          root_name = COALESCE(EXCLUDED.root_name, root_name),
          start_time = least(start_time, EXCLUDED.start_time),
          end_time = greatest(end_time, EXCLUDED.end_time),
          duration_ms = date_diff('microsecond', least(start_time, EXCLUDED.start_time),
                                  greatest(end_time, EXCLUDED.end_time)) / 1000.0,
          status_code = CASE WHEN status_code = 'ERROR' OR EXCLUDED.status_code = 'ERROR'
                             THEN 'ERROR' ELSE 'OK' END,
          span_count = span_count + EXCLUDED.span_count,
          llm_count = llm_count + EXCLUDED.llm_count,
          input_tokens = COALESCE(input_tokens, 0) + COALESCE(EXCLUDED.input_tokens, 0),
          output_tokens = COALESCE(output_tokens, 0) + COALESCE(EXCLUDED.output_tokens, 0),
          cost_usd = CASE WHEN cost_usd IS NULL AND EXCLUDED.cost_usd IS NULL THEN NULL
                          ELSE COALESCE(cost_usd, 0) + COALESCE(EXCLUDED.cost_usd, 0) END,
          models = list_sort(list_distinct(list_concat(models, EXCLUDED.models))),
          span_types = list_sort(list_distinct(list_concat(span_types, EXCLUDED.span_types))),
          session_id = COALESCE(session_id, EXCLUDED.session_id),
          user_id = COALESCE(user_id, EXCLUDED.user_id),
          prompt_version = COALESCE(prompt_version, EXCLUDED.prompt_version),
          tags = list_sort(list_distinct(list_concat(tags, EXCLUDED.tags))),
          error_count = error_count + EXCLUDED.error_count,
          blocked_count = blocked_count + EXCLUDED.blocked_count,
          flagged_count = flagged_count + EXCLUDED.flagged_count,
          service_name = COALESCE(service_name, EXCLUDED.service_name),
          min_seq = least(min_seq, EXCLUDED.min_seq),
          max_seq = greatest(max_seq, EXCLUDED.max_seq),
          modified_count = modified_count + EXCLUDED.modified_count"""
