"""Fault runs behind docs/reliability.md: each prints what was stored against what was traced.

    python bench/reliability.py load [--runs 5] [--writers 8] [--spans 5000] [--payload 50000]
    python bench/reliability.py exit [--runs 3]
    python bench/reliability.py fork
    python bench/reliability.py sigterm [--trials 8]
    python bench/reliability.py secrets
    python bench/reliability.py all

Real processes, real stores in a temporary folder, the public API only. ``load`` is the
issue's load test: N writer processes exit normally (no explicit flush) while a
``tracer.Store`` reader and a plain ``duckdb`` reader poll the same file.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


import tracer
from tests._procs import FLUSH_FOREVER, FORK_WHILE_EXPORTING, MULTIPROCESSING, SLOW_EXIT

WRITER = """
import atexit, json, sys
import tracer
from tracer import _config
db, n, size, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# Registered before configure(): atexit runs it after Spyglass's own exit flush.
atexit.register(lambda: print(json.dumps({"stored": p.stored, "spooled": p.spooled,
                                          "dropped": p.dropped_reasons()}), flush=True))
tracer.configure(db=db)
p = _config._state.processor
words = ("battery charge hours model shipped order refund warranty support region cable "
         "screen firmware update device account invoice").split()
payloads = [" ".join(words[(i * 7 + k) % len(words)] for k in range(size // 6))[:size] for i in range(16)]
for i in range(n):
    with tracer.span("work", input=f"{tag}-{i} " + payloads[i % 16]):
        pass
"""  # no flush: a normal exit must store everything


PLAIN_READER = """
import sys, threading, time, duckdb
db, ok, refused = sys.argv[1], 0, 0
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
while not stop.is_set():
    try:
        with duckdb.connect(db, read_only=True) as con:
            con.execute("SELECT count(*) FROM spans").fetchall()
        ok += 1
    except duckdb.Error:  # DuckDB refuses read-only opens while a writer holds the file
        refused += 1
    time.sleep(0.05)
print(ok, refused)
"""


def _py(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def _spans(db: Path) -> tuple[int, int]:
    """(rows, distinct span ids), spool files included."""
    with tracer.Store(db).connect() as con:
        rows, distinct = con.execute("SELECT count(*), count(DISTINCT span_id) FROM spans").fetchall()[0]
    return int(rows), int(distinct)


def _by_name(db: Path) -> dict[str, int]:
    with tracer.Store(db).connect() as con:
        return dict(con.execute("SELECT name, count(*) FROM spans GROUP BY 1").fetchall())


# --- load --------------------------------------------------------------------------------------
def load(tmp: Path, runs: int, writers: int, spans: int, payload: int, keep: bool = False) -> None:
    print(
        f"load: {writers} processes x {spans:,} spans ({payload // 1000} KB each), normal exit, "
        f"a tracer.Store reader and a plain duckdb reader polling"
    )
    for run in range(1, runs + 1):
        db = tmp / f"load{run}.duckdb"
        tracer.configure(db=tmp / "scratch.duckdb")  # create nothing at db: the writers do
        stop = threading.Event()
        reads = {"store": [0, 0], "duckdb": [0, 0]}  # [ok, errors]
        refusals: collections.Counter[str] = collections.Counter()

        def store_reader() -> None:
            while not stop.is_set():
                try:
                    tracer.Store(db, timeout=5).count_traces()
                    reads["store"][0] += 1
                except tracer.StoreError as exc:  # not created yet, or busy past the timeout
                    reads["store"][1] += 1
                    refusals[type(exc).__name__] += 1
                time.sleep(0.05)

        # The plain duckdb reader is a process of its own, as a user's notebook would be.
        plain = subprocess.Popen(
            _py(PLAIN_READER, str(db)), cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

        started = time.monotonic()
        procs = [
            subprocess.Popen(
                _py(WRITER, str(db), str(spans), str(payload), f"w{k}"),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(writers)
        ]
        time.sleep(0.5)
        threads = [threading.Thread(target=store_reader)]
        for t in threads:
            t.start()
        outs = [p.communicate(timeout=1800) for p in procs]
        errs = [err for _, err in outs]
        own = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs if out.strip()]
        said_stored = sum(o["stored"] for o in own)
        said_spooled = sum(o["spooled"] for o in own)
        said_dropped = sum(sum(o["dropped"].values()) for o in own)
        elapsed = time.monotonic() - started
        stop.set()
        for t in threads:
            t.join()
        plain_out, _ = plain.communicate("stop\n", timeout=60)
        reads["duckdb"] = [int(x) for x in plain_out.split()]
        rcs = [p.returncode for p in procs]
        rows, distinct = _spans(db)
        expected = writers * spans
        aborted = sum("terminate called" in e or "Traceback" in e for e in errs)
        said = sorted({line[:90] for e in errs for line in e.splitlines() if line.startswith("spyglass:")})
        print(
            f"  run {run}: stored {rows:,} / {expected:,} ({distinct:,} distinct), writer rcs "
            f"{sorted(set(rcs))}, {aborted} aborted, {elapsed:.0f} s; reads ok/refused: "
            f"Store {reads['store'][0]}/{reads['store'][1]} {dict(refusals) or ''}, "
            f"plain duckdb {reads['duckdb'][0]}/{reads['duckdb'][1]}"
        )
        print(f"    as the writers counted: {said_stored:,} stored, {said_spooled:,} spooled, {said_dropped:,} dropped")
        for line in said:  # what the writers logged (the exit bound passing, say)
            print(f"    writers logged: {line}")
        for path in [] if keep else tmp.glob(f"load{run}.duckdb*"):
            if path.is_file():
                path.unlink()
            else:
                for f in path.rglob("*"):
                    f.unlink()
                path.rmdir()


# --- exit --------------------------------------------------------------------------------------
def exit_(tmp: Path, runs: int) -> None:
    print(
        "exit: 600 traces (retriever with 8 docs, LLM with a 120-sentence answer), schedule_delay=3 s, "
        "normal exit with the batch in flight"
    )
    for run in range(1, runs + 1):
        db = tmp / f"exit{run}.duckdb"
        proc = subprocess.run(
            _py(SLOW_EXIT, str(db), "600", "10"), cwd=REPO, capture_output=True, text=True, timeout=300
        )
        ended = time.monotonic()
        traced_at = float(proc.stdout.strip() or "nan")
        rows, distinct = _spans(db)
        with tracer.Store(db).connect() as con:
            checked = con.execute("SELECT count(*) FROM evaluations").fetchall()[0][0]
        print(
            f"  run {run}: stored {rows:,} / 1,800 ({distinct:,} distinct), rc {proc.returncode}, exit took "
            f"{ended - traced_at:.1f} s (bound: exit_timeout 10 s + the write under way), "
            f"{checked} of 600 answers grounding-checked before exit cut the checks"
        )


# --- fork --------------------------------------------------------------------------------------
def fork(tmp: Path) -> None:
    db = tmp / "fork.duckdb"
    proc = subprocess.run(_py(FORK_WHILE_EXPORTING, str(db)), cwd=REPO, capture_output=True, text=True, timeout=300)
    parent, codes = proc.stdout.split(" ", 1)
    names = _by_name(db)
    rows, distinct = _spans(db)
    failed = sum(1 for c in json.loads(codes) if c != 0)
    print(
        f"fork: 3 children forked while the parent exports: parent {names.get('parent', 0):,} / {int(parent):,}, "
        f"children {names.get('child', 0)} / 300, {failed} children failed or hung, "
        f"{rows - distinct} duplicates, rc {proc.returncode}"
    )
    for how in ("pool", "process"):
        db = tmp / f"mp-{how}.duckdb"
        proc = subprocess.run(_py(MULTIPROCESSING, str(db), how), cwd=REPO, capture_output=True, text=True, timeout=300)
        names = _by_name(db)
        rows, distinct = _spans(db)
        print(
            f"fork: multiprocessing {how}: children {names.get('child', 0)} / 100, parent "
            f"{names.get('parent', 0)} / 50, {rows - distinct} duplicates, rc {proc.returncode}"
        )


# --- sigterm -----------------------------------------------------------------------------------
def sigterm(tmp: Path, trials: int) -> None:
    hung = kept = 0
    worst = 0.0
    for trial in range(trials):
        db = tmp / f"term{trial}.duckdb"
        proc = subprocess.Popen(
            _py(FLUSH_FOREVER, str(db), "3000"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(0.03 * trial)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hung += 1
            proc.kill()
            proc.wait()
        worst = max(worst, time.monotonic() - started)
        kept += _spans(db)[0] == 3000
    print(
        f"sigterm: during flush(), {trials} trials: {hung} hung, {kept} kept all 3,000 spans, "
        f"slowest exit {worst:.2f} s"
    )


def secrets() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/test_secrets.py::test_no_planted_secret_reaches_the_store",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = re.search(r"secrets found / planted: \d+ / \d+", proc.stdout)
    print(
        f"secrets: {line.group(0) if line else 'no result: ' + proc.stdout[-500:]} "
        f"(tables, spool Parquet, DuckDB file and WAL bytes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["load", "exit", "fork", "sigterm", "secrets", "all"])
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--spans", type=int, default=5000)
    parser.add_argument("--payload", type=int, default=50_000)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--keep", metavar="DIR", help="load: write the stores to DIR and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spyglass-reliability-") as folder:
        tmp = Path(folder)
        if args.what in ("exit", "all"):
            exit_(tmp, args.runs or 3)
        if args.what in ("fork", "all"):
            fork(tmp)
        if args.what in ("sigterm", "all"):
            sigterm(tmp, args.trials)
        if args.what in ("secrets", "all"):
            secrets()
        if args.what in ("load", "all"):
            load(
                Path(args.keep) if args.keep else tmp,
                args.runs or 5,
                args.writers,
                args.spans,
                args.payload,
                keep=bool(args.keep),
            )
        tracer.shutdown()


if __name__ == "__main__":
    os.environ.pop("SPYGLASS_RAISE_INTERNAL_ERRORS", None)  # measure the shipped behaviour
    main()
