"""The PostgreSQL store in ``bench_store.py --engine postgres``: ingest into a real server, and
the read API on 1,000,000 spans, printed next to the DuckDB figures of the same run.

The server is Debian's PostgreSQL, started here (tests/_postgres.py finds it and drops root),
with durable settings (fsync, synchronous_commit and full_page_writes on: the defaults), its
data on disk in ``bench/out/postgres/``, kept between runs like the DuckDB stores (the 1M
build and its search index take minutes); ``--rebuild`` regenerates it.

Targets (issue 16): ingest >= 10k spans/s from one host, trace list <= 50 ms, open a trace
<= 20 ms, search <= 300 ms.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from _common import ms, verdict
from _query_bench import LIST_MS, OPEN_MS, SEARCH_MS, TRACES
from _synth import COMMON_WORD, RARE_WORD, StoreGenerator

import tracer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests._postgres import USER, PostgresServer, _free_port  # the repo root is put on the path just above

OUT = Path(__file__).resolve().parent / "out" / "postgres"
DATABASE = "bench1m"
INGEST_TARGET = 10_000  # spans/s from one host
# What the server runs with besides its defaults (which are durable): room for the build.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "max_connections": "50",
}


class BenchServer(PostgresServer):
    """A PostgreSQL server whose data stays in ``OUT`` between runs, on a free port each run."""

    def __init__(self, root: Path = OUT, fresh: bool = False) -> None:
        from tests._postgres import find_bindir

        self.bindir = find_bindir()
        self._run_as = self._user_prefix()
        if fresh and root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = _free_port()
        self.is_running = False
        self._conn: Any = None
        self._names = iter(())
        if not (self.data / "PG_VERSION").exists():
            if self._run_as:
                import pwd

                pw = pwd.getpwnam("postgres")
                os.chown(root, pw.pw_uid, pw.pw_gid)
            self._tool("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8")
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write("\n# bench/_pg_bench.py: durable defaults kept, room for a 1M-span build\n")
                conf.writelines(f"{k} = {v}\n" for k, v in SETTINGS.items())

    def start(self) -> None:
        self._tool(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "-s",
            "-o", f"-p {self.port} -k {self.root}",
        )  # fmt: skip
        self.is_running = True

    def close(self) -> None:
        """Stop, keeping the data for the next run."""
        if self.is_running:
            self.stop()

    def settings(self) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres")) as con:
            rows = con.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', "
                "'full_page_writes', 'shared_buffers', 'server_version') ORDER BY name"
            ).fetchall()
        return ", ".join(f"{k}={v}" for k, v in rows)


def _database(server: BenchServer, name: str, fresh: bool) -> str:
    from psycopg import sql

    con = server._admin_conn()
    exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if exists and fresh:
        con.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        exists = None
    if not exists:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)


# --- (a) ingest ---------------------------------------------------------------------------------
def bench_ingest(server: BenchServer, spans: list[Any], batch: int, duckdb_rate: float | None) -> dict[str, Any]:
    """The ingest part's spans (the same ``ReadableSpan`` objects as the DuckDB part) through the
    exporter (``spans_to_table`` + ``PostgresWriter.write``) in one process; then 2 and 4
    processes writing the same staging batches at once, each under its own trace ids."""
    from _common import TimedAttr

    from tracer.store import _exporter
    from tracer.store._rows import spans_to_table

    url = _database(server, "bench_ingest", fresh=True)
    exporter = _exporter.DuckDBSpanExporter(url)  # as the DuckDB part: grounding on, as configure() does
    exporter.writer.validate()  # the schema, untimed
    batches = [spans[i : i + batch] for i in range(0, len(spans), batch)]
    times = []
    with TimedAttr(_exporter, "convert") as conv:
        for b in batches:
            t = time.perf_counter_ns()
            assert exporter.export(b).name == "SUCCESS"
            times.append(time.perf_counter_ns() - t)
    exporter.shutdown()
    one = len(spans) / (sum(times) / 1e9)
    write_us = (sum(times) - conv.ns) / len(spans) / 1e3
    print(f"## (a') ingest into PostgreSQL: the same {len(spans):,} spans of ~4 KB, batches of {batch:,}")
    print(f"   {'writers on this host':<40} {'spans/s':>9} {'ms/batch':>9}")
    print(f"   {'1 process, export()':<40} {one:>9,.0f} {ms(statistics.median(times)):>9.1f}")
    print(
        f"     of which spans_to_table {conv.ns / len(spans) / 1e3:.0f} µs/span, "
        f"the rest (the export-time grounding check and PostgresWriter.write) {write_us:.0f} µs/span"
    )
    out: dict[str, Any] = {"1": one, "rest_us": write_us}
    with tempfile.TemporaryDirectory(prefix="spyglass-pg-ingest-") as tmp:
        staged = Path(tmp, "batches.arrow")
        tables = [spans_to_table(b) for b in batches]
        with pa.ipc.new_file(staged, tables[0].schema) as f:
            for table in tables:
                f.write_table(table)
        for n in (2, 4):
            rate = _parallel_ingest(server, n, staged)
            out[str(n)] = rate
            print(
                f"   {f'{n} processes at once, PostgresWriter.write':<40} {rate:>9,.0f}  (total, {n * len(spans):,} spans)"
            )
    best = max(out[k] for k in ("1", "2", "4"))
    if duckdb_rate:
        print(f"   DuckDB file, same run, 1 process, export(): {duckdb_rate:,.0f} spans/s")
    print(f"   target >= {INGEST_TARGET:,} spans/s from one host: best {best:,.0f}   {verdict(best >= INGEST_TARGET)}")
    return out


def _writer_process(url: str, staged: str, prefix: str, ready: Any, go: Any, done: Any) -> None:
    from tracer.store.postgres import PostgresWriter

    with pa.memory_map(staged) as source:
        reader = pa.ipc.open_file(source)
        tables = [reader.get_batch(i) for i in range(reader.num_record_batches)]
    # The same spans under this process's own trace ids: distinct traces, as separate apps send.
    tables = [
        pa.Table.from_batches([b]).set_column(0, "trace_id", pc.utf8_replace_slice(b.column(0), 0, 1, prefix))
        for b in tables
    ]
    writer = PostgresWriter(url)
    writer.validate()
    ready.put(1)
    go.wait()
    t = time.perf_counter()
    stored = 0
    for table in tables:
        outcome = writer.write(table)
        assert outcome.stored == table.num_rows and not outcome.spooled, outcome
        stored += table.num_rows
    done.put((stored, time.perf_counter() - t))


def _parallel_ingest(server: BenchServer, n: int, staged: Path) -> float:
    """Total spans/s of ``n`` processes, each writing every staged batch, started together."""
    url = _database(server, f"bench_ingest_{n}", fresh=True)
    tracer.Store(url).check()  # the schema first
    ctx = mp.get_context("spawn")
    ready, done, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_writer_process, args=(url, str(staged), f"{i:x}", ready, go, done)) for i in range(n)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=600)
    t = time.perf_counter()
    go.set()
    results = [done.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.join(timeout=60)
    return sum(r[0] for r in results) / wall


# --- (b) read API on 1M spans -------------------------------------------------------------------
def build(server: BenchServer, fresh: bool) -> str:
    """125,000 traces of 8 spans (the DuckDB part's generator), written by PostgresWriter, and
    the search index built; kept in ``OUT`` between runs."""
    from tracer.store.postgres import PostgresWriter

    url = _database(server, DATABASE, fresh=fresh)
    store = tracer.Store(url)
    have = store.counts()["spans"]
    if have == TRACES * 8:
        done, top = store.build_search_index()
        print(f"   reusing {DATABASE} in {server.root} ({have:,} spans; index up to {done:,} of {top:,})")
        return url
    if have:
        raise SystemExit(f"{DATABASE} holds {have:,} spans, not {TRACES * 8:,}: run with --rebuild")
    writer = PostgresWriter(url)
    writer.validate()
    gen = StoreGenerator(traces=TRACES)
    t0, write_s, done = time.monotonic(), 0.0, 0
    while done < TRACES:
        k = min(1_000, TRACES - done)
        table = gen.batch(k)
        t = time.perf_counter()
        outcome = writer.write(table)
        assert outcome.stored == table.num_rows, outcome
        write_s += time.perf_counter() - t
        done += k
        if done % 25_000 == 0:
            print(f"   {done * 8:>9,} spans written, PostgresWriter.write {write_s:.0f} s", flush=True)
    writer.release()
    print(f"   PostgresWriter.write: {TRACES * 8 / write_s:,.0f} spans/s in batches of 8,000 spans")
    t = time.monotonic()
    store.build_search_index()
    print(f"   search index built in {time.monotonic() - t:.0f} s ({TRACES * 8 / (time.monotonic() - t):,.0f} spans/s)")
    print(f"   built in {time.monotonic() - t0:.0f} s")
    return url


def bench_queries(url: str, reps: int, duckdb_rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    import psycopg

    store = tracer.Store(url)
    with psycopg.connect(url) as con:
        ids = [r[0] for r in con.execute("SELECT trace_id FROM traces ORDER BY random() LIMIT 500").fetchall()]
        p99 = con.execute("SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) FROM traces").fetchone()[0]
        size = con.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        top = con.execute("SELECT max(seq) FROM spans").fetchone()[0]
    print(f"   database size {size}")
    rng = random.Random(5)
    word, common = RARE_WORD.lower(), COMMON_WORD.lower()
    queries: list[tuple[str, Callable[[tracer.Store], Any], float]] = [
        ("list_traces(limit=50)", lambda s: s.list_traces(limit=50), LIST_MS),
        (
            "list_traces(model='gpt-4o', status='ERROR')",
            lambda s: s.list_traces(tracer.TraceFilter(model="gpt-4o", status="ERROR")),
            LIST_MS,
        ),
        (
            f"list_traces(min_duration_ms={p99:,.0f}) (p99)",
            lambda s: s.list_traces(tracer.TraceFilter(min_duration_ms=p99)),
            LIST_MS,
        ),
        (
            "list_traces(session_id=<random>)",
            lambda s: s.list_traces(tracer.TraceFilter(session_id=f"sess-{rng.randrange(25_000):06d}")),
            LIST_MS,
        ),
        ("get_trace(<random id>)", lambda s: s.get_trace(rng.choice(ids)), OPEN_MS),
        (f"search('{word}')", lambda s: s.search(word), SEARCH_MS),
        (f"list_traces(text='{word}')", lambda s: s.list_traces(tracer.TraceFilter(text=word)), SEARCH_MS),
        (f"search('{common}')", lambda s: s.search(common), SEARCH_MS),
    ]
    times: dict[str, list[float]] = {q[0]: [] for q in queries}
    for _, fn, _ in queries:
        fn(store)  # untimed: checks each query, warms the caches
    for _ in range(reps):
        for name, fn, _ in queries:
            t = time.perf_counter_ns()
            fn(store)
            times[name].append(ms(time.perf_counter_ns() - t))
    # The scan path: the newest 8,000 spans marked "not indexed yet" (what a search meets while
    # the index catches up), for a few runs, then unmarked.
    scan = _scan_times(url, store, top, word, max(3, reps // 4))
    duck = {r["query"]: r["api_ms"] for r in duckdb_rows or [] if "api_ms" in r}
    print()
    print(f"   {'read API call (median ms)':<54} {'PostgreSQL':>10} {'DuckDB':>8} {'runs':>5} {'target':>7}")
    rows = []
    for name, _, target in queries + [(n, lambda s: None, SEARCH_MS) for n in scan]:
        series = times.get(name) or scan[name]
        med = statistics.median(series)
        d = duck.get(name)
        d_text = f"{d:>8.1f}" if d is not None else f"{'':>8}"
        rows.append({"query": name, "pg_ms": med, "duckdb_ms": d, "target_ms": target, "met": med <= target})
        print(f"   {name:<54} {med:>10.1f} {d_text} {len(series):>5} {target:>7.0f}  {verdict(med <= target)}")
    print("   DuckDB: its 'Store(path)' figure from part (b) of this run (the file is opened per call);")
    print("   PostgreSQL: tracer.Store(url), which keeps one connection per thread.")
    return rows


def _scan_times(url: str, store: tracer.Store, top: int, word: str, reps: int) -> dict[str, list[float]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("INSERT INTO search_batches VALUES (%s, %s)", [top - 7_999, top])
        try:
            out: dict[str, list[float]] = {
                f"search('{word}'), 8,000 spans not indexed": [],
                f"list_traces(text='{word}'), 8,000 not indexed": [],
            }
            fns = [lambda s: s.search(word), lambda s: s.list_traces(tracer.TraceFilter(text=word))]
            for _ in range(reps):
                for name, fn in zip(out, fns):
                    t = time.perf_counter_ns()
                    fn(store)
                    out[name].append(ms(time.perf_counter_ns() - t))
        finally:
            con.execute("DELETE FROM search_batches WHERE first_seq = %s AND last_seq = %s", [top - 7_999, top])
    return out


def run(
    args: Any, spans: list[Any] | None, duckdb_ingest: float | None, duckdb_rows: list[dict[str, Any]] | None
) -> None:
    server = BenchServer(fresh=args.rebuild)
    server.start()
    try:
        print(f"## PostgreSQL server: {server.settings()}; data on disk in {OUT}")
        if spans is not None:
            bench_ingest(server, spans, args.batch, duckdb_ingest)
            print()
        if args.part in ("query", "both"):
            print(f"## (b') read API on PostgreSQL, {TRACES * 8:,} spans ({TRACES:,} traces of 8 spans)")
            url = build(server, fresh=args.rebuild)
            bench_queries(url, args.reps or (8 if args.quick else 20), duckdb_rows)
    finally:
        server.close()
