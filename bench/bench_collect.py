"""``spyglass collect`` (the OTLP/HTTP receiver) against in-process export of the same spans,
and the receiver's memory under a sustained overload.

    python bench/bench_collect.py             # 3 reps: 20,000 spans ungrounded, 4,000 grounded; 60 s overload (~7 min)
    python bench/bench_collect.py --quick     # 2 reps: 4,000 and 1,000 spans; 15 s overload (~1.5 min)
    python bench/bench_collect.py --part overload --overload-grounding off --overload-seconds 120

(1) Throughput, spans/s from finished SDK spans to rows queryable in the store. The spans are
made beforehand (untimed) by real ``@trace_llm`` calls, ~4 KB of attribute JSON each (the
ingest benchmark's ``make_spans``). Variants, interleaved rep by rep with the order rotating:

- in-process: ``DuckDBSpanExporter.write_batch`` on the same ``ReadableSpan`` objects in
  batches of 512 (what the SDK's ``BatchSpanProcessor`` exports), and of 8,192 (the most
  Spyglass's own processor exports at once); timed until ``count(*)`` of ``spans`` is N;
- receiver: a ``python -m tracer.cli collect`` subprocess (as users run it, fresh store each
  rep, started untimed); senders in this process use the SDK's ``OTLPSpanExporter`` (protobuf,
  batches of 512), 1 sender or 4 concurrent ones. Timed from the first export until a
  read-only ``count(*)`` reaches N (polled every 50 ms once every export has returned, so the
  reader does not compete with the writer meanwhile); then SIGTERM, and the time until the
  receiver's "stopped; ..." line is reported too.

Grounding: both settings by default, on fewer spans with it on (the check costs ~1 ms per span,
most of the ingest time). The CLI has no switch: without grounding the subprocess runs the same
CLI code with the ``Receiver``'s ``grounding`` argument defaulted off (see ``_UNGROUNDED``).

(2) Overload: a receiver subprocess with its default queue bound (64 MiB of bodies or 50,000 spans) for 60 s,
4 sender threads posting pre-encoded 512-span protobuf bodies (fresh trace ids per post) as
fast as they can over keep-alive connections, retrying a 503 after 50 ms (harsher than the
SDK, which backs off 1 s, 2 s, ...). The receiver's RSS (``/proc/PID/status`` VmRSS) is
sampled every second; then SIGTERM, and the stop line's accepted and stored counts are
compared with the spans the senders had answered 200 and with ``count(*)``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import REPO, load, revision, timed_ns, verdict
from _ingest_bench import make_spans

TARGET = 0.80  # receiver spans/s >= 80% of in-process (issue 12)
SDK_BATCH = 512  # the SDK BatchSpanProcessor's max_export_batch_size
OWN_BATCH = 8_192  # Spyglass's processor's max_batch_size
SENDERS = 4
RETRY_503_S = 0.05
STOP_LINE = re.compile(r"stopped; (\d+) spans accepted, (\d+) stored, (\d+) spooled.*?(\d+) dropped")


# --- helpers ---------------------------------------------------------------------------------
def chunks(seq: list[Any], size: int) -> list[list[Any]]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored_rows(db: str) -> int:
    import tracer

    with tracer.Store(db).connect() as con:
        row = con.execute("SELECT count(*) FROM spans").fetchone()
    return int(row[0]) if row else 0


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The CLI has no grounding switch: without grounding, the same CLI code runs with the
# Receiver's ``grounding`` argument defaulted off (patched in the subprocess only).
_UNGROUNDED = (
    "import functools, sys; import tracer.otlp as o; "
    "o.Receiver = functools.partial(o.Receiver, grounding=False); "
    "from tracer import cli; sys.exit(cli.main(sys.argv[1:]))"
)


class Collector:
    """A ``spyglass collect`` subprocess on a free port, ready once it prints its line."""

    def __init__(self, db: str, grounding: bool = True) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPYGLASS_")}
        env["PYTHONPATH"] = str(REPO)
        launch = ["-m", "tracer.cli"] if grounding else ["-c", _UNGROUNDED]
        self.proc = subprocess.Popen(
            [sys.executable, *launch, "collect", "--db", db, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "receiving" not in line:
            self.proc.kill()
            raise RuntimeError(f"spyglass collect did not start: {line!r} {self.proc.stderr.read()[-2000:]!r}")
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        self.returncode: int | None = None

    def stop(self) -> tuple[float, dict[str, int], str]:
        """SIGTERM; (seconds until the stop line, its counts, the line)."""
        assert self.proc.stdout is not None
        t = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        line = ""
        for line in self.proc.stdout:
            if "stopped;" in line:
                break
        took = time.perf_counter() - t
        self.returncode = self.proc.wait(120)
        m = STOP_LINE.search(line)
        if not m:
            raise RuntimeError(f"no stop line: {line!r} {self.proc.stderr.read()[-2000:]!r}")  # type: ignore[union-attr]
        keys = ("accepted", "stored", "spooled", "dropped")
        return took, dict(zip(keys, map(int, m.groups()))), line.strip()


def codec(spans: list[Any]) -> str:
    """Size of a 512-span OTLP body and, timed here, what encoding it (the sender) and decoding
    it (the receiver's parser, on its request threads) cost per span."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from tracer.otlp import PROTOBUF, decode

    batch = spans[:SDK_BATCH]
    body = encode_spans(batch).SerializeToString()
    enc = min(timed_ns(lambda: encode_spans(batch).SerializeToString()) for _ in range(3))
    dec = min(timed_ns(lambda: decode(body, PROTOBUF)) for _ in range(3))
    return (
        f"{len(body) / len(batch):,.0f} B per span in a {len(batch)}-span OTLP protobuf body; "
        f"SDK encode {enc / len(batch) / 1e3:.0f} µs/span, receiver decode {dec / len(batch) / 1e3:.0f} µs/span"
    )


# --- (1) throughput --------------------------------------------------------------------------
def run_inprocess(spans: list[Any], db: str, batch: int, grounding: bool) -> dict[str, float]:
    from tracer.store._exporter import DuckDBSpanExporter

    exporter = DuckDBSpanExporter(db, grounding=grounding)
    exporter.writer.validate()  # creates the schema, as configure() does: untimed
    batches = chunks(spans, batch)
    cpu, t = time.process_time(), time.perf_counter()
    stored = spooled = 0
    for b in batches:
        outcome = exporter.write_batch(b)
        assert outcome is not None and not outcome.dropped, outcome
        stored, spooled = stored + outcome.stored, spooled + outcome.spooled
    rows = stored_rows(db)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    exporter.shutdown()
    assert rows == len(spans), (rows, len(spans))
    return {"wall": wall, "rate": len(spans) / wall, "cpu_us": cpu / len(spans) * 1e6, "spooled": spooled}


def run_receiver(spans: list[Any], db: str, senders: int, grounding: bool) -> dict[str, float]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    collector = Collector(db, grounding)
    try:
        batches = chunks(spans, SDK_BATCH)
        shares = [batches[i::senders] for i in range(senders)]
        exporters = [OTLPSpanExporter(endpoint=collector.url, timeout=60) for _ in range(senders)]
        failures: list[int] = []

        def send(exporter: Any, share: list[list[Any]]) -> None:
            for b in share:
                if exporter.export(b) is not SpanExportResult.SUCCESS:
                    failures.append(len(b))

        threads = [threading.Thread(target=send, args=a) for a in zip(exporters, shares)]
        receiver_cpu = cpu_s(collector.proc.pid)
        cpu, t = time.process_time(), time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        sent = time.perf_counter() - t
        sender_cpu = time.process_time() - cpu
        while (rows := stored_rows(db)) < len(spans) and time.perf_counter() - t < 300:
            time.sleep(0.05)
        wall = time.perf_counter() - t
        receiver_cpu = cpu_s(collector.proc.pid) - receiver_cpu
        for e in exporters:
            e.shutdown()
        stop_s, counts, _ = collector.stop()
    finally:
        if collector.proc.poll() is None:
            collector.proc.kill()
    assert not failures and rows == len(spans), (failures, rows)
    assert counts["accepted"] == counts["stored"] + counts["spooled"] == len(spans), counts
    n = len(spans)
    return {
        "wall": wall,
        "rate": n / wall,
        "sent_s": sent,
        "stop_s": stop_s,
        "rate_to_stop": n / (wall + stop_s),
        "sender_cpu_us": sender_cpu / n * 1e6,
        "receiver_cpu_us": receiver_cpu / n * 1e6,
        "spooled": counts["spooled"],
    }


Run = Callable[[list[Any], str, bool], dict[str, float]]
VARIANTS: dict[str, tuple[str, Run]] = {
    "inproc-512": ("in-process write_batch, batches of 512", lambda s, db, g: run_inprocess(s, db, SDK_BATCH, g)),
    "inproc-8192": ("in-process write_batch, batches of 8,192", lambda s, db, g: run_inprocess(s, db, OWN_BATCH, g)),
    "collect-1": ("spyglass collect, 1 OTLP sender", lambda s, db, g: run_receiver(s, db, 1, g)),
    "collect-4": (f"spyglass collect, {SENDERS} OTLP senders", lambda s, db, g: run_receiver(s, db, SENDERS, g)),
}


def bench_throughput(spans: list[Any], reps: int, tmp: str, grounding: bool) -> None:
    n = len(spans)
    print(
        f"## (1) throughput: {n:,} spans, {reps} reps, variants interleaved (order rotates), "
        f"grounding {'on' if grounding else 'off'}"
    )
    results: dict[str, list[dict[str, float]]] = {k: [] for k in VARIANTS}
    names = list(VARIANTS)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            db = os.path.join(tmp, f"{name}-{rep}.duckdb")
            r = VARIANTS[name][1](spans, db, grounding)
            results[name].append(r)
            extra = f", stop {r['stop_s']:.2f} s" if "stop_s" in r else ""
            print(f"   rep {rep + 1} {name:<12} {r['rate']:>7,.0f} spans/s ({r['wall']:.2f} s{extra})", flush=True)
            for suffix in ("", ".wal"):
                Path(db + suffix).unlink(missing_ok=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    base = med("inproc-512", "rate")
    print()
    print(f"   {'':<42} {'spans/s':>8} {'vs 512':>7} {'vs 8192':>8} {'s to rows':>9} {'+ stop':>7} {'CPU µs/span':>22}")
    for name, (label, _) in VARIANTS.items():
        rate = med(name, "rate")
        if name.startswith("inproc"):
            cpu = f"{med(name, 'cpu_us'):.0f}"
            stop = "—"
        else:
            cpu = f"recv {med(name, 'receiver_cpu_us'):.0f} + send {med(name, 'sender_cpu_us'):.0f}"
            stop = f"{med(name, 'stop_s'):.2f}"
        print(
            f"   {label:<42} {rate:>8,.0f} {rate / base:>7.0%} {rate / med('inproc-8192', 'rate'):>8.0%} "
            f"{med(name, 'wall'):>9.2f} {stop:>7} {cpu:>22}"
        )
    for name in ("collect-1", "collect-4"):
        ratio = med(name, "rate") / base
        # Load on the machine drifts between reps: the ratio within each rep as well.
        paired = [r["rate"] / b["rate"] for r, b in zip(results[name], results["inproc-512"])]
        print(
            f"   {VARIANTS[name][0]} / in-process (512) = {ratio:.0%}   target >= {TARGET:.0%}   "
            f"{verdict(ratio >= TARGET)}; per rep {' '.join(f'{x:.0%}' for x in paired)}; to the stop line "
            f"{med(name, 'rate_to_stop') / base:.0%}; spans spooled (median) {med(name, 'spooled'):.0f}"
        )
    print(
        "   (in-process CPU is this process's; receiver CPU is the collect subprocess's, sender CPU this "
        "process's while exporting)"
    )


# --- (2) overload ----------------------------------------------------------------------------
def overload(spans: list[Any], seconds: float, tmp: str, grounding: bool) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    print(
        f"## (2) overload: {seconds:.0f} s, {SENDERS} senders posting {SDK_BATCH}-span protobuf bodies as fast as "
        f"they can, 503 retried after {RETRY_503_S * 1000:.0f} ms; default queue bound (64 MiB of bodies or 50,000 spans); "
        f"grounding {'on' if grounding else 'off'}"
    )
    bases = [encode_spans(b) for b in chunks(spans, SDK_BATCH)[:4] if len(b) == SDK_BATCH]
    db = os.path.join(tmp, "overload.duckdb")
    collector = Collector(db, grounding)
    pid = collector.proc.pid
    host_port = ("127.0.0.1", collector.port)
    lock = threading.Lock()
    tally = {"ok_spans": 0, "ok": 0, "busy": 0, "other": 0}
    done = threading.Event()

    def sender(index: int) -> None:
        msgs = []
        for b in bases:
            m = ExportTraceServiceRequest()
            m.CopyFrom(b)
            msgs.append(m)
        con = http.client.HTTPConnection(*host_port, timeout=60)
        seq = 0
        while not done.is_set():
            msg = msgs[seq % len(msgs)]
            seq += 1
            prefix = (index << 40 | seq).to_bytes(8, "big")  # fresh trace ids: new traces each post
            count = 0
            for rs in msg.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        span.trace_id = prefix + span.trace_id[8:]
                        count += 1
            body = msg.SerializeToString()
            while not done.is_set():
                try:
                    con.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
                    response = con.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    con.close()
                    con = http.client.HTTPConnection(*host_port, timeout=60)
                    status = -1
                with lock:
                    if status == 200:
                        tally["ok"] += 1
                        tally["ok_spans"] += count
                    elif status == 503:
                        tally["busy"] += 1
                    else:
                        tally["other"] += 1
                if status == 200:
                    break
                time.sleep(RETRY_503_S)
        con.close()

    samples: list[tuple[float, float]] = []
    start_rss = rss_mb(pid) or 0.0
    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    while (elapsed := time.perf_counter() - t0) < seconds:
        time.sleep(max(0.0, len(samples) + 1 - elapsed))
        mb = rss_mb(pid)
        if mb is not None:
            samples.append((time.perf_counter() - t0, mb))
    done.set()
    for th in threads:
        th.join()
    end_rss = rss_mb(pid) or 0.0
    hwm = rss_mb(pid, "VmHWM") or 0.0
    sampler_stop = threading.Event()
    drain_samples: list[float] = []

    def sample_drain() -> None:
        while not sampler_stop.wait(1.0):
            mb = rss_mb(pid)
            if mb is not None:
                drain_samples.append(mb)

    sampler = threading.Thread(target=sample_drain)
    sampler.start()
    stop_s, counts, line = collector.stop()
    sampler_stop.set()
    sampler.join()
    rows = stored_rows(db)
    rss = [mb for _, mb in samples]
    half = len(rss) // 2
    print("   RSS every 5 s (MB): " + " ".join(f"{mb:.0f}" for _, mb in samples[4::5]))
    print(
        f"   RSS: start {start_rss:.0f} MB, max {max(rss, default=0):.0f} MB (VmHWM {hwm:.0f}), end of load "
        f"{end_rss:.0f} MB; max of the first half {max(rss[:half], default=0):.0f}, of the second half "
        f"{max(rss[half:], default=0):.0f}; during the drain max {max(drain_samples, default=end_rss):.0f} MB"
    )
    if len(samples) >= 4:  # levelled off = no growth over the second half (least-squares slope)
        xs, ys = [x for x, _ in samples[half:]], rss[half:]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        print(f"   RSS slope over the second half: {slope * 60:+.0f} MB/min")
    print(
        f"   requests: {tally['ok']:,} answered 200 ({tally['ok_spans']:,} spans, "
        f"{tally['ok_spans'] / seconds:,.0f} spans/s accepted), {tally['busy']:,} answered 503, "
        f"{tally['other']:,} other answers or errors"
    )
    print(f"   SIGTERM -> stop line in {stop_s:.1f} s (exit code {collector.returncode}): {line}")
    accounted = counts["accepted"] == counts["stored"] + counts["spooled"] == tally["ok_spans"] == rows
    print(
        f"   accepted {counts['accepted']:,} == stored {counts['stored']:,} + spooled {counts['spooled']:,} == "
        f"senders' 200s {tally['ok_spans']:,} == count(*) {rows:,}: {'yes' if accounted else 'NO'}; "
        f"dropped {counts['dropped']}"
    )
    for suffix in ("", ".wal"):
        Path(db + suffix).unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4,000 / 1,000 spans, 2 reps, 15 s overload")
    ap.add_argument("--spans", type=int, default=None, help="spans per run, grounding off (default 20,000)")
    ap.add_argument("--grounded-spans", type=int, default=None, help="spans per run, grounding on (default 4,000)")
    ap.add_argument("--grounding", choices=("on", "off", "both"), default="both", help="throughput runs (both)")
    ap.add_argument("--part", choices=("throughput", "overload", "both"), default="both")
    ap.add_argument("--reps", type=int, default=None, help="throughput reps (default 3)")
    ap.add_argument("--overload-seconds", type=float, default=None, help="overload duration (default 60; 0 skips)")
    ap.add_argument("--overload-grounding", choices=("on", "off"), default="on", help="default on, as the CLI runs")
    args = ap.parse_args()
    n_off = args.spans or (4_000 if args.quick else 20_000)
    n_on = args.grounded_spans or (1_000 if args.quick else 4_000)
    reps = args.reps or (2 if args.quick else 3)
    seconds = args.overload_seconds if args.overload_seconds is not None else (15.0 if args.quick else 60.0)
    started = time.monotonic()
    print(
        f"# bench_collect  {_dt.date.today()}  spyglass {revision()}  python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {load()}"
    )
    runs = [(g, n) for g, n in ((False, n_off), (True, n_on)) if args.grounding in ("both", "on" if g else "off")]
    if args.part == "overload":
        runs = []
    if args.part == "throughput":
        seconds = 0
    t = time.monotonic()
    spans = make_spans(max([n for _, n in runs] + [4 * SDK_BATCH]))
    print(
        f"   {len(spans):,} spans made with the real decorators in {time.monotonic() - t:.0f} s (untimed); "
        f"{codec(spans)}"
    )
    tmp = tempfile.mkdtemp(prefix="spyglass-bench-collect-")
    try:
        for grounding, n in runs:
            bench_throughput(spans[:n], reps, tmp, grounding)
            print(f"   {load()}\n", flush=True)
        if seconds > 0:
            overload(spans, seconds, tmp, args.overload_grounding == "on")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n# done in {time.monotonic() - started:.0f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
