"""Per-call overhead of the openai instrumentations, side by side in one run.

    pip install opentelemetry-instrumentation-openai-v2==2.4b0 'opentelemetry-util-genai<=1.1b0' \
                openinference-instrumentation-openai
    python bench/bench_openai.py [--rounds 30] [--calls 40] [--wall]

Each instrumentation runs in a fresh process against the same mocked transport (the
client's own ``MockTransport``: no network, a fixed chat completion or an SSE stream of 5 or
205 chunks). Within a process, bare and instrumented calls are timed in interleaved rounds,
switching the patches on and off, and the table reports the median of the per-round paired
differences. Per-chunk cost = (overhead of a 205-chunk stream - overhead of a 5-chunk
stream) / 200. The streams yield chunk objects parsed once, before timing (``openai.Stream``
is patched to replay them): parsing SSE costs the client ~100 µs a chunk, the same with or
without instrumentation, and its noise would bury a 1-3 µs difference. Spyglass runs with
content capture on and DuckDB export on; the others export to a no-op exporter through the
SDK's BatchSpanProcessor.

Spans are exported between timed blocks (a flush before each block, untimed), so that one
variant's background export never lands in another's block; the export itself runs off the
app's thread and is measured by bench_store.py (ingest). The clock is the process's CPU time,
which a virtual machine's stolen time does not inflate; ``--wall`` times with
``perf_counter`` instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import llm_mock_handler

VARIANTS = {
    "spyglass": "Spyglass, content + DuckDB",
    "spyglass-nostore": "Spyglass, content, no-op exporter",
    "contrib": "contrib openai-v2, no content",
    "contrib-content": "contrib openai-v2, with content",
    "openinference": "OpenInference",
}
LONG = 205  # chunks in the long stream; the short one has 5
PROMPT = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say this is a test"}]


def _completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "This is a test.", "refusal": None},
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 5,
            "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _sse(n: int) -> bytes:
    out = []
    for i in range(n):
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": "stop" if i == n - 1 else None}],
        }
        out.append(f"data: {json.dumps(chunk)}\n\n")
    out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def _client() -> Any:
    import openai

    try:
        import httpx2 as http
    except ImportError:  # older clients
        import httpx as http  # type: ignore[no-redef]
    plain = json.dumps(_completion()).encode()
    handler = llm_mock_handler(http, plain, {LONG: _sse(LONG), 5: _sse(5)})

    return openai.OpenAI(
        api_key="sk-bench", max_retries=0, http_client=openai.DefaultHttpxClient(transport=http.MockTransport(handler))
    )


def _replay_parsed_chunks() -> None:
    """Make every ``openai.Stream`` yield chunk objects parsed once, here, instead of parsing
    its SSE body: the instrumentations wrap the returned stream and see the same objects."""
    import openai

    parse = openai.Stream.__stream__
    parsed: dict[Any, list[Any]] = {}  # by max_tokens, which picks the mock's SSE body

    def replay(self: Any) -> Any:
        body = self._options.json_data if self._options is not None else None
        key = body.get("max_tokens") if isinstance(body, dict) else None
        if key not in parsed:  # the first stream of each kind is parsed from the mock's body
            parsed[key] = list(parse(self))
        try:
            yield from parsed[key]
        finally:
            self.response.close()

    openai.Stream.__stream__ = replay  # type: ignore[method-assign]


def _switches(variant: str, tmp: str) -> tuple[Callable[[], None], Callable[[], None], Callable[[], Any]]:
    """(on, off, flush) for the variant's patches, after one-time setup."""
    if variant == "spyglass":
        import tracer
        from integrations import openai as spy

        tracer.configure(db=os.path.join(tmp, "bench.duckdb"), capture_content=True)
        return spy.instrument, spy.uninstrument, tracer.flush
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Null(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Null()))
    if variant == "spyglass-nostore":  # the instrumentation alone, exporting like the others
        from integrations import openai as spy

        return (lambda: spy.instrument(tracer_provider=provider)), spy.uninstrument, provider.force_flush
    if variant.startswith("contrib"):
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Contrib

        inst: Any = Contrib()
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor as OI

        inst = OI()
    return (lambda: inst.instrument(tracer_provider=provider)), inst.uninstrument, provider.force_flush


def worker(variant: str, rounds: int, calls: int, wall: bool = False) -> dict[str, float]:
    if variant == "contrib-content":
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    tmp = tempfile.mkdtemp()
    on, off, flush = _switches(variant, tmp)
    clock = time.perf_counter_ns if wall else time.process_time_ns
    client = _client()
    _replay_parsed_chunks()

    def plain() -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)

    def stream_long() -> None:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, stream=True):
            pass

    def stream5() -> None:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, stream=True, max_tokens=5):
            pass

    def timed(fn: Callable[[], None], n: int) -> float:
        flush()  # what earlier blocks left is exported before this one, untimed
        start = clock()
        for _ in range(n):
            fn()
        return (clock() - start) / n / 1000  # µs per call

    diffs: dict[str, list[float]] = {"plain": [], "stream_long": [], "stream5": []}
    bare_times: dict[str, list[float]] = {k: [] for k in diffs}
    fns = {"plain": (plain, calls), "stream_long": (stream_long, max(calls // 8, 5)), "stream5": (stream5, calls // 2)}
    for name, (fn, n) in fns.items():  # warm up both paths
        off()
        timed(fn, n)
        on()
        timed(fn, n)
    for r in range(rounds):
        for name, (fn, n) in fns.items():
            # Alternate which comes first so drift doesn't favour either side.
            if r % 2:
                on()
                inst = timed(fn, n)
                off()
                bare = timed(fn, n)
            else:
                off()
                bare = timed(fn, n)
                on()
                inst = timed(fn, n)
            diffs[name].append(inst - bare)
            bare_times[name].append(bare)
    off()
    med = {k: statistics.median(v) for k, v in diffs.items()}
    return {
        "plain_us": med["plain"],
        "stream_long_us": med["stream_long"],
        "per_chunk_us": (med["stream_long"] - med["stream5"]) / (LONG - 5),
        "bare_plain_us": statistics.median(bare_times["plain"]),
        "bare_stream_long_us": statistics.median(bare_times["stream_long"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--only", nargs="*", default=list(VARIANTS))
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the process's CPU time")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rounds, args.calls, args.wall)))
        return
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}
    env.pop("SPYGLASS_RAISE_INTERNAL_ERRORS", None)
    rows = []
    for variant in args.only:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", variant, "--rounds", str(args.rounds), "--calls", str(args.calls)]
            + (["--wall"] if args.wall else []),
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode != 0:
            rows.append((variant, None))
            print(f"{variant}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append((variant, json.loads(proc.stdout.strip().splitlines()[-1])))
    import openai

    print(
        f"openai {openai.__version__}, Python {sys.version.split()[0]}, {args.rounds} rounds, "
        f"{'wall-clock' if args.wall else 'process CPU'} time, medians of paired differences (instrumented - bare)\n"
    )
    print(f"| | non-streaming call | {LONG}-chunk stream | per chunk (parsed once) |")
    print("|---|---|---|---|")
    for variant, r in rows:
        if r is None:
            print(f"| {VARIANTS[variant]} | failed | | |")
            continue
        print(
            f"| {VARIANTS[variant]} | +{r['plain_us']:.0f} µs | +{r['stream_long_us']:.0f} µs "
            f"| {r['per_chunk_us']:.2f} µs |"
        )
    bare = next((r for _, r in rows if r), None)
    if bare:
        print(
            f"\nbare call: {bare['bare_plain_us']:.0f} µs; bare {LONG}-chunk stream: {bare['bare_stream_long_us']:.0f} µs"
        )


if __name__ == "__main__":
    main()
