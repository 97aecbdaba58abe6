"""Small helpers shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"


def ms(ns: float) -> float:
    return ns / 1e6


def size_mb(path: str | os.PathLike[str]) -> float:
    """Size of a DuckDB file and its WAL, in MB."""
    files = [Path(path), Path(f"{os.fspath(path)}.wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def revision() -> str:
    """The commit measured, with ``+dirty`` when the working tree has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "tracer"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty tracer/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load() -> str:
    """The 1/5/15-minute load averages: other processes on the machine skew absolute figures."""
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def timed_ns(fn: Callable[[], Any]) -> int:
    t = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t


class TimedAttr:
    """Replace ``owner.name`` by a wrapper that adds its time to ``self.ns`` (this process only)."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name, self.original = owner, name, getattr(owner, name)
        self.ns = 0
        self.calls = 0

    def __enter__(self) -> TimedAttr:
        original = self.original

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter_ns()
            try:
                return original(*a, **k)
            finally:
                self.ns += time.perf_counter_ns() - t
                self.calls += 1

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.owner, self.name, self.original)


# --- per-call overhead of an instrumentation, bare vs instrumented (bench_anthropic, bench_langchain) ---
# bench_openai.py has the same loop inline; these are it, shared.

Switch = Callable[[], None]
Workload = tuple[Callable[[], None], int]  # one call, and how many calls make a timed block


class NullExporter:
    """Drops every span (the SDK's ``SpanExporter`` contract) and counts them, so a row can say
    how many spans a call made."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def null_provider() -> tuple[Any, NullExporter]:
    """An SDK ``TracerProvider`` exporting through ``BatchSpanProcessor`` to a :class:`NullExporter`:
    what the instrumentations compared with Spyglass pay for export."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = NullExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider, exporter


def spans_of(fn: Callable[[], None], on: Switch, off: Switch, provider: Any, exporter: NullExporter) -> int:
    """How many spans one instrumented call of ``fn`` exports (a check that the patches work, and
    what the per-call figure pays for)."""
    on()
    before = exporter.spans
    fn()
    provider.force_flush()
    off()
    return exporter.spans - before


def per_call_us(fn: Callable[[], None], n: int) -> tuple[float, float]:
    """(wall-clock, process CPU) µs per call of ``fn`` over ``n`` calls. CPU time counts every
    thread of this process (the export thread too) and not the time other processes hold the
    cores, so it stays readable on a loaded machine where wall-clock does not."""
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - wall) / n / 1000, (time.process_time_ns() - cpu) / n / 1000


class Overhead(NamedTuple):
    """Medians over the rounds, µs per call, by workload name."""

    wall: dict[str, float]  # instrumented - bare, wall-clock
    cpu: dict[str, float]  # instrumented - bare, process CPU time
    bare: dict[str, float]  # bare call, wall-clock
    bare_cpu: dict[str, float]


def paired_overhead(workloads: dict[str, Workload], on: Switch, off: Switch, rounds: int) -> Overhead:
    """Medians of the per-round paired differences, instrumented - bare, for each workload.

    Bare and instrumented blocks alternate within each round, switching the patches, and which
    goes first alternates between rounds, so drift and other processes' load fall on both."""
    for fn, n in workloads.values():  # warm up both paths (imports, caches, first spans)
        off()
        per_call_us(fn, n)
        on()
        per_call_us(fn, n)
    samples: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in workloads}
    for r in range(rounds):
        for name, (fn, n) in workloads.items():
            if r % 2:
                on()
                inst = per_call_us(fn, n)
                off()
                base = per_call_us(fn, n)
            else:
                off()
                base = per_call_us(fn, n)
                on()
                inst = per_call_us(fn, n)
            samples[name].append((inst[0] - base[0], inst[1] - base[1], base[0], base[1]))
    off()
    columns = [{k: statistics.median(s[i] for s in v) for k, v in samples.items()} for i in range(4)]
    return Overhead(*columns)


def run_workers(script: str, variants: Iterable[str], args: list[str]) -> dict[str, dict[str, Any] | None]:
    """``script --worker <variant> *args`` in a fresh process per variant (imports and patches of
    one never reach another); each worker prints one JSON line last. ``None`` for a failed one."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("SPYGLASS_RAISE_INTERNAL_ERRORS", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING"):
        env.pop(name, None)  # production behaviour; no LangSmith tracer in the bare path
    rows: dict[str, dict[str, Any] | None] = {}
    for variant in variants:
        proc = subprocess.run(
            [sys.executable, script, "--worker", variant, *args], capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            rows[variant] = None
            print(f"{variant}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rows


def profile_own(fn: Callable[[], None], n: int, top: int = 10) -> str:
    """cProfile of ``n`` calls of ``fn`` (this thread only: not the export thread): the ``top``
    functions of our own code (integrations/, tracer/) by cumulative time, then by own time
    (the cumulative list starts with the wrappers, whose time includes the library's call)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for key in ("cumulative", "tottime"):
        stats.sort_stats(key).print_stats(rf"^{REPO}/(integrations|tracer)/", top)
    return out.getvalue()


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×" if theirs > 0 else "n/a"


CLOCKS = {"wall": "wall-clock", "cpu": "process CPU time"}


def report(rows: dict[str, dict[str, Any] | None], labels: dict[str, str], columns: dict[str, str]) -> None:
    """The overhead tables (one per clock) and the target check against the ``openinference``
    row: Spyglass's overhead below half of OpenInference's.

    A worker's row: ``{"wall"|"cpu"|"bare"|"bare_cpu": {column: µs}, "spans": {column: n or None}}``;
    a column without a per-call figure (per chunk) has no bare value and no span count."""
    for clock, what in CLOCKS.items():
        print(f"\n{what}, median of paired differences (instrumented - bare):\n")
        print("| | " + " | ".join(columns.values()) + " | spans per call |")
        print("|---|" + "---|" * (len(columns) + 1))
        for variant, r in rows.items():
            if r is None:
                print(f"| {labels[variant]} | failed |" + " |" * len(columns))
                continue
            cells = [f"{r[clock][c]:+.0f} µs" if r[clock][c] >= 10 else f"{r[clock][c]:+.2f} µs" for c in columns]
            counted = [str(n) for n in r["spans"].values() if n is not None]
            print(f"| {labels[variant]} | " + " | ".join(cells) + f" | {' / '.join(counted) or '(not counted)'} |")
        bare = next((r for r in rows.values() if r), None)
        if bare:
            key = "bare" if clock == "wall" else "bare_cpu"
            print("\nbare: " + "; ".join(f"{columns[c]} {v:.0f} µs" for c, v in bare[key].items()))
    oi = rows.get("openinference")
    if not oi:
        return
    print("\ntarget: Spyglass's overhead below half of OpenInference's (ratio, wall / CPU)\n")
    print("| | " + " | ".join(columns.values()) + " |")
    print("|---|" + "---|" * len(columns))
    for variant, r in rows.items():
        if not variant.startswith("spyglass") or r is None:
            continue
        cells = [
            " / ".join(f"{ratio(r[k][c], oi[k][c])} {verdict(r[k][c] < oi[k][c] / 2)}" for k in CLOCKS) for c in columns
        ]
        print(f"| {labels[variant]} | " + " | ".join(cells) + " |")


def llm_mock_handler(http: Any, plain: bytes, streams: dict[int, bytes]) -> Callable[[Any], Any]:
    """A client ``MockTransport`` handler: the JSON body, or for a streaming request the SSE
    body of 5 events when ``max_tokens`` is 5, else the longest of ``streams`` (the per-chunk
    benches' two sizes)."""
    longest = max(streams)

    def handler(request: Any) -> Any:
        body = json.loads(request.content)
        if body.get("stream"):
            n = 5 if body.get("max_tokens") == 5 else longest
            return http.Response(200, headers={"content-type": "text/event-stream"}, content=streams[n])
        return http.Response(200, headers={"content-type": "application/json"}, content=plain)

    return handler


def overhead_args(
    unit: str,
    variants: Iterable[str],
    worker: Callable[[str, int, int], dict[str, Any]],
    profile: Callable[[int], None],
) -> argparse.Namespace | None:
    """The command line every per-call overhead bench shares. Runs the ``--worker`` or
    ``--profile`` part itself and returns ``None``; otherwise the options for the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help=f"8 rounds of 20 {unit}")
    parser.add_argument("--only", nargs="*", default=list(variants))
    parser.add_argument("--profile", action="store_true", help="cProfile the spyglass variant instead")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.calls = 8, 20
    if args.worker:
        print(json.dumps(worker(args.worker, args.rounds, args.calls)))
        return None
    if args.profile:
        profile(max(args.calls, 200))
        return None
    return args
