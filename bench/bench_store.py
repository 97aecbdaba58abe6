"""Store benchmarks: (a) ingest throughput against a raw DuckDB Arrow append, (b) read API
latency on a 1,000,000-span store.

    python bench/bench_store.py                 # both parts (first run builds the 1M store, ~3 min)
    python bench/bench_store.py --quick         # 8k-span ingest sample, 8 query repetitions
    python bench/bench_store.py --part ingest   # or --part query; --rebuild regenerates the store
    python bench/bench_store.py --engine both   # the PostgreSQL store too, side by side (_pg_bench.py)

(a) Spans with ~4 KB of attribute JSON (an LLM call whose input holds chat messages and three
documents) are created beforehand by real ``@trace_llm`` calls through Spyglass's span
processor into an in-memory exporter, so span creation is not timed. Then, batch by batch,
alternating which goes first, the same batch is written by ``DuckDBSpanExporter.export``
(``spans_to_table`` + ``StoreWriter.write``) and, as the baseline, built into a pyarrow
table and appended with ``INSERT INTO t SELECT * FROM arrow_table`` into a DuckDB file with
``force_compression='zstd'`` and the same columns.

(b) 125,000 traces of 8 spans are generated straight into staging Arrow tables
(``_synth.py``) and ingested with ``StoreWriter.write``; a copy gets the search index
(``Store.build_search_index``). Both are cached in ``bench/out/``. Each read call is timed
through ``tracer.Store`` (which opens the file per call) and as the same method on a
connection opened once, interleaved, in rounds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load, revision
from _ingest_bench import bench_ingest
from _query_bench import TRACES, bench_queries, build, build_plain, store_paths

# For bench_viewer.py, which builds its store with this benchmark's generator.
TRACES_1M = TRACES


def build_store(path: Path, traces: int = TRACES_1M) -> None:
    """A store of ``traces`` synthetic traces of 8 spans at ``path``, without the search index."""
    build_plain(Path(path), traces)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("ingest", "query", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="8k-span ingest sample and 8 query repetitions")
    ap.add_argument("--rebuild", action="store_true", help="regenerate the cached 1M-span stores in bench/out/")
    ap.add_argument("--spans", type=int, default=None, help="ingest sample size (default 40,000)")
    ap.add_argument("--batch", type=int, default=2_000, help="ingest batch size (default 2,000)")
    ap.add_argument("--reps", type=int, default=None, help="query repetitions (default 20)")
    ap.add_argument(
        "--engine",
        choices=("duckdb", "postgres", "both"),
        default="duckdb",
        help="postgres/both: also a PostgreSQL server started here (bench/_pg_bench.py); postgres skips nothing "
        "of DuckDB's part, whose figures it prints beside",
    )
    args = ap.parse_args()
    total = args.spans or (8_000 if args.quick else 40_000)
    reps = args.reps or (8 if args.quick else 20)
    started = time.monotonic()
    print(
        f"# bench_store  {_dt.date.today()}  spyglass {revision()}  python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, duckdb {duckdb.__version__}, pyarrow {pa.__version__}, {load()}"
    )
    ingest: dict | None = None
    rows: list | None = None
    if args.part in ("ingest", "both"):
        tmp = tempfile.mkdtemp(prefix="spyglass-bench-store-")
        try:
            ingest = bench_ingest(total, args.batch, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print()
    if args.part in ("query", "both"):
        plain, indexed = store_paths()
        print(f"## (b) read API on {TRACES * 8:,} spans ({TRACES:,} traces of 8 spans)")
        if args.rebuild or not (plain.exists() and indexed.exists()):
            t = time.monotonic()
            build(plain, indexed)
            print(f"   built in {time.monotonic() - t:.0f} s")
        else:
            print(f"   reusing {plain.name} and {indexed.name} in bench/out/ (--rebuild to regenerate)")
        rows = bench_queries(plain, indexed, reps)
    if args.engine in ("postgres", "both"):
        import _pg_bench
        from _ingest_bench import make_spans

        print()
        spans = make_spans(total) if args.part in ("ingest", "both") else None  # the same spans (same seed)
        _pg_bench.run(args, spans, ingest["spy_rate"] if ingest else None, rows)
    print(f"\n# done in {time.monotonic() - started:.0f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
