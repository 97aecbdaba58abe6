"""Per-call overhead of the anthropic instrumentations, Spyglass's and OpenInference's, in one run.

    python bench/bench_anthropic.py [--rounds 30] [--calls 40] [--quick] [--profile]

The real ``anthropic`` client sends to its own ``MockTransport`` (no network): a fixed Messages
response, or an SSE stream of 50 or 5 ``content_block_delta`` events. Each variant runs in a
fresh process; inside it, bare and instrumented calls are timed in interleaved rounds, the
patches switched on and off (``bench/_common.py``, ``paired_overhead``), and the table gives
medians of the per-round paired differences, in wall-clock and in process CPU time
(the latter is what to read on a loaded machine). Per delta = (overhead of the 50-delta stream -
overhead of the 5-delta stream) / 45.

Spyglass captures content; "DuckDB" also exports to a DuckDB store, the other rows export
through the SDK's ``BatchSpanProcessor`` to a no-op exporter. The client's own OpenTelemetry
span (anthropic 2.x, made whenever a global provider is set, as ``tracer.configure()`` does) is
switched off on every client (``open_telemetry=False``), so that the bare call is the same
work in every variant and the difference is the instrumentation's alone.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

from _common import (
    NullExporter,
    Switch,
    llm_mock_handler,
    load,
    null_provider,
    overhead_args,
    paired_overhead,
    profile_own,
    report,
    revision,
    run_workers,
    spans_of,
)

VARIANTS = {
    "spyglass": "Spyglass, content + DuckDB",
    "spyglass-nostore": "Spyglass, content, no-op exporter",
    "openinference": "OpenInference",
}
MODEL = "claude-sonnet-4-5-20250929"
SYSTEM = "You are terse."
USER = [{"role": "user", "content": "Say this is a test"}]


def _message(content: list[dict[str, Any]], stop: str | None) -> dict[str, Any]:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 5,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }


def _sse(n: int) -> bytes:
    """A Messages stream whose answer comes in ``n`` text deltas."""
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": _message([], None)},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"w{i} "}} for i in range(n)
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": n},
        },
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _http() -> Any:
    """The HTTP library the client sends through: ``httpx2`` for anthropic 2.x, ``httpx`` before."""
    import anthropic

    try:
        import httpx2

        if issubclass(anthropic.DefaultHttpxClient, httpx2.Client):
            return httpx2
    except ImportError:  # older clients
        pass
    import httpx

    return httpx


def _client() -> Any:
    import anthropic

    http = _http()
    plain = json.dumps(_message([{"type": "text", "text": "This is a test."}], "end_turn")).encode()
    handler = llm_mock_handler(http, plain, {50: _sse(50), 5: _sse(5)})

    major = int(anthropic.__version__.split(".")[0])
    kwargs: dict[str, Any] = {"open_telemetry": False} if major >= 2 else {}
    return anthropic.Anthropic(
        api_key="sk-ant-bench",
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(transport=http.MockTransport(handler)),
        **kwargs,
    )


def _switches(variant: str, tmp: str) -> tuple[Switch, Switch, tuple[Any, NullExporter] | None]:
    """(on, off) for the variant's patches after one-time setup, and the no-op provider and
    exporter if it uses one."""
    from integrations import anthropic as spy

    if variant == "spyglass":
        import tracer

        tracer.configure(db=os.path.join(tmp, "bench.duckdb"), capture_content=True)
        return spy.instrument, spy.uninstrument, None
    null = provider, _ = null_provider()
    if variant == "spyglass-nostore":  # the instrumentation alone (content is on by default), exporting like the others
        return (lambda: spy.instrument(tracer_provider=provider)), spy.uninstrument, null
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    oi = AnthropicInstrumentor()
    return (lambda: oi.instrument(tracer_provider=provider)), oi.uninstrument, null


def _workloads(calls: int) -> dict[str, tuple[Any, int]]:
    client = _client()

    def plain() -> None:
        client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=USER)

    def stream50() -> None:
        for _ in client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=USER, stream=True):
            pass

    def stream5() -> None:
        for _ in client.messages.create(model=MODEL, max_tokens=5, system=SYSTEM, messages=USER, stream=True):
            pass

    return {"plain": (plain, calls), "stream50": (stream50, max(calls // 4, 5)), "stream5": (stream5, calls // 2)}


COLUMNS = {"plain": "non-streaming call", "stream50": "50-delta stream", "per_delta": "per delta"}


def worker(variant: str, rounds: int, calls: int) -> dict[str, Any]:
    on, off, null = _switches(variant, tempfile.mkdtemp())
    work = _workloads(calls)
    spans = spans_of(work["plain"][0], on, off, *null) if null else None
    o = paired_overhead(work, on, off, rounds)

    def columns(med: dict[str, float]) -> dict[str, float]:
        return {
            "plain": med["plain"],
            "stream50": med["stream50"],
            "per_delta": (med["stream50"] - med["stream5"]) / 45,
        }

    return {
        "wall": columns(o.wall),
        "cpu": columns(o.cpu),
        "bare": {k: o.bare[k] for k in ("plain", "stream50")},
        "bare_cpu": {k: o.bare_cpu[k] for k in ("plain", "stream50")},
        "spans": {"plain": spans},
    }


def profile(calls: int) -> None:
    """Where the spyglass variant's call path spends its time (our own functions only)."""
    on, _, _ = _switches("spyglass", tempfile.mkdtemp())
    on()
    work = _workloads(calls)
    for name in ("plain", "stream50"):
        fn, _ = work[name]
        fn()  # warm
        print(f"--- {name}, {calls} calls, spyglass (content + DuckDB) ---")
        print(profile_own(fn, calls))


def main() -> None:
    args = overhead_args("calls", VARIANTS, worker, profile)
    if args is None:
        return
    import anthropic

    print(f"anthropic {anthropic.__version__}, Python {sys.version.split()[0]}, commit {revision()}, {load()}")
    rows = run_workers(__file__, args.only, ["--rounds", str(args.rounds), "--calls", str(args.calls)])
    print(f"{load()} after; {args.rounds} rounds of {args.calls} calls ({max(args.calls // 4, 5)} streams)")
    report(rows, VARIANTS, COLUMNS)


if __name__ == "__main__":
    main()
