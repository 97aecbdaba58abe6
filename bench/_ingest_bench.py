"""(a) Ingest throughput: ``DuckDBSpanExporter.export`` against a raw DuckDB Arrow append."""

from __future__ import annotations

import functools
import gc
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
from _common import TimedAttr, ms, size_mb, verdict
from _synth import TextPool

import tracer
from tracer import attributes as A
from tracer.store import _exporter, _writer
from tracer.store._rows import STAGING_SCHEMA, spans_to_table
from tracer.store._schema import SPAN_COLUMNS

TARGET = 0.80  # Spyglass spans/s >= 80% of the raw append of the same rows (issue 15)

_TYPES = dict(SPAN_COLUMNS)
RAW_COLUMNS = [f.name for f in STAGING_SCHEMA if not f.name.startswith("_")]
RAW_SCHEMA = pa.schema([STAGING_SCHEMA.field(n) for n in RAW_COLUMNS])


@functools.cache  # once per run: the SDK lets the global provider be set only once
def make_spans(n_spans: int, seed: int = 3) -> list[Any]:
    """Finished ``ReadableSpan`` objects from real decorated calls, through Spyglass's own span
    processor (so trace attributes are stamped) into an in-memory exporter. Per trace: an
    ``agent`` LLM call with three ``answer`` LLM calls inside; each span has ~4 KB of attributes
    (system + user messages, three documents, a ~550-character answer, usage)."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracer._processor import SpyglassSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bench-ingest"}))
    memory = InMemorySpanExporter()
    processor = SpyglassSpanProcessor(memory, max_queue_size=10 * n_spans, schedule_delay=3600)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)  # the decorators' tracer follows the global provider

    text = TextPool(seed)
    rng = random.Random(seed)
    system = text.text(400)

    @tracer.trace_llm(model="gpt-4o-mini", provider="openai", prompt_version="answer-v4")
    def answer(messages: list[dict], docs: list[dict]) -> str:
        out = text.text(rng.randint(450, 650))
        tracer.record_usage(input_tokens=900, output_tokens=len(out) // 4, cost_usd=0.0004)
        return out

    @tracer.trace_llm(model="gpt-4o", provider="openai", prompt_version="agent-v2", name="agent")
    def agent(messages: list[dict], docs: list[dict]) -> str:
        for _ in range(3):
            answer(messages, docs)
        out = text.text(rng.randint(450, 650))
        tracer.record_usage(input_tokens=1200, output_tokens=len(out) // 4, cost_usd=0.004)
        return out

    for i in range((n_spans + 3) // 4):
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": text.text(rng.randint(120, 260))},
        ]
        docs = text.docs(rng.randint(1_100, 1_500), 3)
        with tracer.trace_attributes(session_id=f"s-{i // 5}", user_id=f"u-{i % 97}", tags=["bench"]):
            agent(messages, docs)
    processor.force_flush()
    processor.shutdown()
    return list(memory.get_finished_spans())[:n_spans]


def _raw_connect(path: str, zstd: bool = True, json_type: bool = True) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path)
    if zstd:
        con.execute("SET force_compression = 'zstd'")
    cols = ", ".join(f"{n} {'VARCHAR' if _TYPES[n] == 'JSON' and not json_type else _TYPES[n]}" for n in RAW_COLUMNS)
    con.execute(f"CREATE TABLE t ({cols})")
    return con


def _raw_append(con: duckdb.DuckDBPyConnection, cols: dict[str, list[Any]]) -> tuple[int, int]:
    """The baseline: Python columns -> pyarrow table -> INSERT ... SELECT. Returns (build ns, insert ns)."""
    t = time.perf_counter_ns()
    table = pa.Table.from_pydict(cols, schema=RAW_SCHEMA)
    t1 = time.perf_counter_ns()
    con.register("arrow_table", table)
    con.execute("INSERT INTO t SELECT * FROM arrow_table")
    con.unregister("arrow_table")
    return t1 - t, time.perf_counter_ns() - t1


def bench_ingest(total: int, batch: int, tmp: str) -> dict[str, Any]:
    print(f"## (a) ingest: {total:,} spans of ~4 KB, batches of {batch:,}, Spyglass and raw alternating per batch")
    t0 = time.monotonic()
    spans = make_spans(total)
    batches = [spans[i : i + batch] for i in range(0, len(spans), batch)]
    # The baseline's input: the very rows Spyglass stages, as Python columns (untimed).
    raw_inputs = [spans_to_table(b).select(RAW_COLUMNS).to_pydict() for b in batches]
    sizes = sorted(len(a.encode()) for cols in raw_inputs for a in cols["attributes"])
    print(
        f"   {len(spans):,} spans created with the real decorators in {time.monotonic() - t0:.0f} s (untimed); "
        f"attribute JSON per span: median {sizes[len(sizes) // 2]:,} B "
        f"(p10 {sizes[len(sizes) // 10]:,}, p90 {sizes[len(sizes) * 9 // 10]:,})"
    )

    spy_path, raw_path = os.path.join(tmp, "spyglass.duckdb"), os.path.join(tmp, "raw.duckdb")
    exporter = _exporter.DuckDBSpanExporter(spy_path)
    exporter.writer.validate()  # creates the schema, as configure() does: untimed
    # The same export without the grounding check (configure(grounding=False)): the store's
    # own ingest, which the target is about; the check's cost is the difference.
    plain_path = os.path.join(tmp, "plain.duckdb")
    plain = _exporter.DuckDBSpanExporter(plain_path, grounding=False)
    plain.writer.validate()
    raw = _raw_connect(raw_path)
    spy_ns: list[int] = []
    plain_ns: list[int] = []
    conv_ns: list[int] = []
    raw_build: list[int] = []
    raw_insert: list[int] = []
    gc.collect()
    with TimedAttr(_exporter, "convert") as conv:
        for i, (spans_b, cols) in enumerate(zip(batches, raw_inputs)):

            def exporting(exp: Any, took: list[int], converting: list[int] | None) -> Callable[[], None]:
                def run() -> None:
                    before = conv.ns
                    t = time.perf_counter_ns()
                    assert exp.export(spans_b).name == "SUCCESS"
                    took.append(time.perf_counter_ns() - t)
                    if converting is not None:
                        converting.append(conv.ns - before)

                return run

            spyglass, ungrounded = exporting(exporter, spy_ns, conv_ns), exporting(plain, plain_ns, None)

            def baseline() -> None:
                b, ins = _raw_append(raw, cols)
                raw_build.append(b)
                raw_insert.append(ins)

            order = (spyglass, ungrounded, baseline)
            for run in order[i % 3 :] + order[: i % 3]:  # rotated, so drift favours none
                run()
    t = time.perf_counter_ns()
    raw.execute("CHECKPOINT")  # Spyglass checkpoints at the end of every batch (closing the file)
    raw.close()
    raw_final = time.perf_counter_ns() - t
    exporter.shutdown()
    plain.shutdown()

    n = len(spans)
    spy_total, conv_total = sum(spy_ns), sum(conv_ns)
    raw_total = sum(raw_build) + sum(raw_insert) + raw_final
    spy_rate, raw_rate = n / (spy_total / 1e9), n / (raw_total / 1e9)
    ratio = spy_rate / raw_rate
    spy_mb, raw_mb = size_mb(spy_path), size_mb(raw_path)
    raw_batch = [a + b for a, b in zip(raw_build, raw_insert)]
    print()
    print(
        f"   {'':<30} {'spans/s':>9} {'MB/s':>7} {'ms/batch':>9} {'first 3':>8} {'last 3':>8} {'file MB':>8} "
        f"{'B/span':>7}"
    )
    mbs = sum(sizes) / 1e6
    plain_total = sum(plain_ns)
    plain_rate = n / (plain_total / 1e9)
    plain_ratio = plain_rate / raw_rate
    for label, rate, per_batch, mb in (
        ("Spyglass export()", spy_rate, spy_ns, spy_mb),
        ("  the same, grounding off", plain_rate, plain_ns, size_mb(plain_path)),
        ("raw Arrow append, zstd", raw_rate, raw_batch, raw_mb),
    ):
        print(
            f"   {label:<30} {rate:>9,.0f} {mbs * rate / n:>7.1f} {ms(statistics.median(per_batch)):>9.1f} "
            f"{ms(statistics.median(per_batch[:3])):>8.1f} {ms(statistics.median(per_batch[-3:])):>8.1f} "
            f"{mb:>8.1f} {mb * 1e6 / n:>7.0f}"
        )
    print(f"   Spyglass / raw = {ratio:.0%} (grounding on, the default)")
    print(
        f"   Spyglass, grounding off / raw = {plain_ratio:.0%}   target >= {TARGET:.0%}   {verdict(plain_ratio >= TARGET)}"
    )
    grounded_llm = sum(1 for s in spans if (s.attributes or {}).get(A.SPAN_TYPE) == A.SPAN_TYPE_LLM)
    print(
        f"   the grounding check at export: {(spy_total - plain_total) / 1e6:,.0f} ms for {grounded_llm:,} LLM spans "
        f"= {(spy_total - plain_total) / max(grounded_llm, 1) / 1e3:,.0f} µs per LLM span"
    )
    print(
        f"   Spyglass time: spans_to_table (Python) {conv_total / spy_total:.0%} = {conv_total / n / 1e3:.0f} µs/span; "
        f"StoreWriter.write {1 - conv_total / spy_total:.0%} = {(spy_total - conv_total) / n / 1e3:.0f} µs/span"
    )
    print(
        f"   raw time: pa.Table.from_pydict {sum(raw_build) / raw_total:.0%}, INSERT {sum(raw_insert) / raw_total:.0%}, "
        f"final CHECKPOINT {raw_final / raw_total:.0%} = {raw_total / n / 1e3:.0f} µs/span in all"
    )
    result: dict[str, Any] = {
        "spans": n,
        "batch": batch,
        "attr_median_b": sizes[len(sizes) // 2],
        "spy_rate": spy_rate,
        "raw_rate": raw_rate,
        "ratio": ratio,
        "plain_rate": plain_rate,
        "plain_ratio": plain_ratio,
        "spy_mb": spy_mb,
        "raw_mb": raw_mb,
        "conv_share": conv_total / spy_total,
        "conv_us": conv_total / n / 1e3,
        "write_us": (spy_total - conv_total) / n / 1e3,
        "raw_us": raw_total / n / 1e3,
    }
    result["write_split"] = write_split(batches[:6], tmp)
    result["batch_sizes"] = batch_size_sweep(spans, tmp)
    result["reference"] = ingest_reference(raw_inputs[:2], tmp)
    return result


class _StatementTimer:
    """A DuckDB connection whose ``execute``/``close`` times are added up by statement kind."""

    _KINDS: ClassVar[dict[str, str]] = {
        "INSERT INTO store.spans": "INSERT spans",
        "INSERT INTO store.events": "INSERT events",
        "INSERT INTO store.documents": "INSERT documents",
        "INSERT INTO store.decisions": "INSERT decisions",
        "INSERT INTO store.traces": "upsert traces",
        "COMMIT": "COMMIT",
        "BEGIN TRANSACTION": "BEGIN",
    }

    def __init__(self, con: duckdb.DuckDBPyConnection, totals: dict[str, int]) -> None:
        self._con, self._totals = con, totals

    def _add(self, key: str, ns: int) -> None:
        self._totals[key] = self._totals.get(key, 0) + ns

    def execute(self, sql: str, *args: Any) -> Any:
        head = " ".join(sql.split()[:3])
        key = self._KINDS.get(head, "SELECT max(seq)" if "max(seq)" in sql else "other statements")
        t = time.perf_counter_ns()
        try:
            return self._con.execute(sql, *args)
        finally:
            self._add(key, time.perf_counter_ns() - t)

    def close(self) -> None:
        t = time.perf_counter_ns()
        self._con.close()
        self._add("close (checkpoint)", time.perf_counter_ns() - t)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def write_split(batches: list[list[Any]], tmp: str) -> dict[str, float]:
    """Where ``StoreWriter.write`` spends its time, per statement (a separate pass, same batches)."""
    path = os.path.join(tmp, "split.duckdb")
    writer = _writer.StoreWriter(path)
    writer.validate()
    tables = [spans_to_table(b) for b in batches]
    totals: dict[str, int] = {}
    real_open = _writer.try_open_write

    def timed_open(p: str, *a: Any, **k: Any) -> Any:
        t = time.perf_counter_ns()
        con = real_open(p, *a, **k)
        totals["open + ATTACH"] = totals.get("open + ATTACH", 0) + time.perf_counter_ns() - t
        return None if con is None else _StatementTimer(con, totals)

    _writer.try_open_write = timed_open  # type: ignore[assignment]
    try:
        t = time.perf_counter_ns()
        for table in tables:
            writer.write(table)
        whole = time.perf_counter_ns() - t
    finally:
        _writer.try_open_write = real_open  # type: ignore[assignment]
    per_batch = ms(whole) / len(tables)
    split = {k: ms(v) / len(tables) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
    print(
        f"   StoreWriter.write per batch of {len(batches[0]):,} spans, by statement ({len(tables)} batches, "
        f"{per_batch:.0f} ms/batch):"
    )
    for k, v in split.items():
        if v >= 0.05 * per_batch or k in ("INSERT spans", "upsert traces"):
            print(f"     {k:<24} {v:7.1f} ms  {v / per_batch:4.0%}")
    rest = sum(v for k, v in split.items() if v < 0.05 * per_batch and k not in ("INSERT spans", "upsert traces"))
    print(f"     {'everything else':<24} {rest:7.1f} ms  {rest / per_batch:4.0%}")
    return split


def batch_size_sweep(spans: list[Any], tmp: str) -> dict[int, float]:
    """StoreWriter.write alone (conversion excluded) at other batch sizes: the fixed cost per batch."""
    out: dict[int, float] = {}
    n = min(len(spans), 16_000)
    tables = {}
    for size in (500, 2_000, 8_000, 16_000):
        if size > n:
            continue
        tables[size] = [spans_to_table(spans[i : i + size]) for i in range(0, n, size)]
    for size, batch_tables in tables.items():
        path = os.path.join(tmp, f"sweep-{size}.duckdb")
        writer = _writer.StoreWriter(path)
        writer.validate()
        t = time.perf_counter_ns()
        for table in batch_tables:
            writer.write(table)
        out[size] = n / ((time.perf_counter_ns() - t) / 1e9)
    print(
        "   StoreWriter.write alone by batch size (spans/s, same spans, conversion excluded): "
        + ", ".join(f"{k:,}: {v:,.0f}" for k, v in out.items())
    )
    return out


def ingest_reference(raw_inputs: list[dict[str, list[Any]]], tmp: str) -> dict[str, float]:
    """Other ways to append the same rows, on a smaller sample, for reference."""
    n = sum(len(c["trace_id"]) for c in raw_inputs)
    rates: dict[str, float] = {}
    sizes: dict[str, float] = {}
    for name, zstd, json_type in (
        ("Arrow append, zstd, JSON column", True, True),
        ("Arrow append, default compression", False, True),
        ("Arrow append, zstd, VARCHAR column", True, False),
    ):
        path = os.path.join(tmp, f"ref-{len(rates)}.duckdb")
        con = _raw_connect(path, zstd=zstd, json_type=json_type)
        t = time.perf_counter_ns()
        for cols in raw_inputs:
            _raw_append(con, cols)
        con.execute("CHECKPOINT")
        rates[name] = n / ((time.perf_counter_ns() - t) / 1e9)
        con.close()
        sizes[name] = size_mb(path)
    # executemany goes row by row through the Python API: a sample of 500 rows is plenty.
    con = _raw_connect(os.path.join(tmp, "ref-executemany.duckdb"))
    rows = list(zip(*(raw_inputs[0][c] for c in RAW_COLUMNS)))[:500]
    t = time.perf_counter_ns()
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in RAW_COLUMNS)})", rows)
    con.execute("CHECKPOINT")
    rates["executemany, zstd (500 rows)"] = len(rows) / ((time.perf_counter_ns() - t) / 1e9)
    con.close()
    print(f"   reference: other appends of the same rows ({n:,} spans unless noted):")
    for k, v in rates.items():
        extra = f"   {sizes[k]:5.1f} MB = {sizes[k] * 1e6 / n:,.0f} B/span" if k in sizes else ""
        print(f"     {k:<38} {v:>9,.0f} spans/s{extra}")
    return {**rates, **{k + " B/span": v * 1e6 / n for k, v in sizes.items()}}
