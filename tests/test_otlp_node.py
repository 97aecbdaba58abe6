"""A real Node.js OpenTelemetry app (tests/node_otlp/app.js, the JS SDK and its OTLP/HTTP
exporters) sends an LLM-app trace to ``spyglass collect``; the store must hold it as sent,
service.name included. Both of Node's encodings: JSON (exporter-trace-otlp-http) and
protobuf (exporter-trace-otlp-proto).

Needs ``node`` and ``npm ci --prefix tests/node_otlp`` (.ci/run does it): skipped without
them, failed under CI=true, where they must be there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tracer

REPO = Path(__file__).resolve().parent.parent
APP_DIR = REPO / "tests" / "node_otlp"
APP = APP_DIR / "app.js"
START_TIMEOUT_S = 30
APP_TIMEOUT_S = 30


def _node_or_skip() -> str:
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not installed (Node.js 20 or later)"
    elif not (APP_DIR / "node_modules" / "@opentelemetry").is_dir():
        reason = f"the Node app's packages are not installed (npm ci --prefix {APP_DIR.relative_to(REPO)})"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Node.js OTLP test must run in CI: {reason}")
        pytest.skip(reason)
    assert node is not None
    return node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Collect:
    url: str  # the traces URL
    log: Path  # the command's stdout and stderr, complete once the block has exited


@contextmanager
def collect(db: Path) -> Iterator[Collect]:
    """``spyglass collect --db db`` as a subprocess, once /health answers; SIGTERMed on exit,
    which must end it with status 0 (every accepted span written)."""
    port = _free_port()
    log = db.parent / "collect.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracer.cli", "collect", "--db", str(db), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,  # a Ctrl-C of pytest is not also the receiver's
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _healthy(base):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"spyglass collect did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield Collect(f"{base}/v1/traces", log)
        finally:
            proc.send_signal(signal.SIGTERM)
            code: int | None = None
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    assert code == 0, f"spyglass collect exited with {code}:\n{log.read_text()}"


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=1) as r:
            return bool(r.status == 200 and r.read().strip() == b"ok")
    except OSError:
        return False


def _stop_counts(log: Path) -> dict[str, int]:
    """The numbers of the receiver's "stopped; ..." line."""
    line = next((ln for ln in log.read_text().splitlines() if "spyglass collect: stopped;" in ln), None)
    assert line is not None, log.read_text()
    found = re.search(r"(\d+) spans accepted, (\d+) stored, .* (\d+) dropped, .* (\d+) requests refused", line)
    assert found is not None, line
    return dict(zip(("accepted", "stored", "dropped", "refused"), map(int, found.groups()), strict=True))


def _run_app(node: str, url: str, protocol: str) -> dict[str, Any]:
    proc = subprocess.run(
        [node, str(APP), url, "--protocol", protocol],
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT_S,
        cwd=APP_DIR,
    )
    assert proc.returncode == 0, f"the Node app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
def test_a_node_app_traces_into_spyglass_collect(db_path: Path, protocol: str) -> None:
    node = _node_or_skip()
    with collect(db_path) as receiver:
        sent = _run_app(node, receiver.url, protocol)
    assert sent["exported"] == 4
    counts = _stop_counts(receiver.log)
    assert (counts["accepted"], counts["stored"], counts["dropped"]) == (4, 4, 0), receiver.log.read_text()
    assert counts["refused"] == 0, receiver.log.read_text()

    store = tracer.Store(db_path)
    (listed,) = store.list_traces()
    assert listed["trace_id"] == sent["trace_id"]
    assert (listed["service_name"], listed["root_name"]) == ("node-rag-app", "answer")
    trace = store.get_trace(sent["trace_id"])
    assert trace is not None
    spans = {s["name"]: s for s in trace["spans"]}
    assert sorted(spans) == ["answer", "chat gpt-4o-mini", "rerank", "retrieve"]

    root = spans["answer"]
    assert root["parent_span_id"] is None and root["kind"] == "SERVER"
    for child in ("retrieve", "rerank", "chat gpt-4o-mini"):
        assert spans[child]["parent_span_id"] == root["span_id"], child

    retriever = spans["retrieve"]
    assert (retriever["span_type"], retriever["kind"]) == ("retriever", "INTERNAL")
    assert retriever["attributes"]["openinference.span.kind"] == "RETRIEVER"
    docs = sorted(trace["documents"], key=lambda d: d["position"])
    assert [(d["document_id"], d["span_id"]) for d in docs] == [
        ("doc-battery", retriever["span_id"]),
        ("doc-warranty", retriever["span_id"]),
    ]
    assert docs[0]["content"] == "The Acme X2 battery lasts 12 hours on a single charge."
    assert [d["score"] for d in docs] == pytest.approx([0.92, 0.41])

    llm = spans["chat gpt-4o-mini"]
    assert (llm["span_type"], llm["kind"], llm["operation"]) == ("llm", "CLIENT", "chat")
    assert (llm["model"], llm["provider"], llm["input_tokens"], llm["output_tokens"]) == (
        "gpt-4o-mini",
        "openai",
        57,
        9,
    )
    messages = json.loads(llm["attributes"]["gen_ai.input.messages"])
    assert messages[-1] == {
        "role": "user",
        "parts": [{"type": "text", "content": "How long does the Acme X2 battery last?"}],
    }
    (output,) = json.loads(llm["attributes"]["gen_ai.output.messages"])
    assert output["parts"] == [{"type": "text", "content": "The Acme X2 battery lasts 12 hours."}]
    assert (listed["llm_count"], listed["input_tokens"], listed["output_tokens"]) == (1, 57, 9)

    failed = spans["rerank"]
    assert (failed["status_code"], failed["status_message"]) == ("ERROR", "reranker timed out after 2000 ms")
    assert (listed["status_code"], listed["error_count"]) == ("ERROR", 1)

    events = {(e["span_id"], e["name"]): json.loads(e["attributes"]) for e in trace["events"]}
    assert events[(root["span_id"], "answer.ready")] == {"answer.chars": 35}
    assert events[(llm["span_id"], "gen_ai.choice.received")] == {"gen_ai.response.finish_reasons": ["stop"]}
    exception = events[(failed["span_id"], "exception")]
    assert (exception["exception.type"], exception["exception.message"]) == (
        "Error",
        "reranker timed out after 2000 ms",
    )
