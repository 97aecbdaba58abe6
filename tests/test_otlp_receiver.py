"""``spyglass collect``: OTLP/HTTP in, rows in a real DuckDB store out, as the spec says.

The bodies come from real clients: an app in a subprocess on the plain OpenTelemetry SDK,
OpenInference and the SDK's OTLP/HTTP exporter (no Spyglass import), and the SDK's own OTLP
encoder for the protocol cases, which then damage, compress or re-encode what it made.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto", reason="the collect extra is not installed")

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracer
from tracer.otlp import Receiver

from .conftest import REPO
from .openai_support import cassettes_dir

PROTOBUF, JSON = "application/x-protobuf", "application/json"


# --- helpers ---------------------------------------------------------------------------------
def made_spans(n: int, service: str = "sender", prefix: str = "op") -> list[ReadableSpan]:
    """``n`` finished SDK spans in one trace: a root and ``n - 1`` children, with attributes of
    every OTLP value type, an event and an error."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    t = provider.get_tracer("test.sender", "9.9")
    with t.start_as_current_span(f"{prefix}-root", attributes={"s": "x", "i": 7, "f": 0.5, "b": True}) as root:
        root.set_attribute("many", ["a", "b"])
        for i in range(n - 1):
            with t.start_as_current_span(f"{prefix}-{i}") as child:
                child.add_event("step", {"index": i})
                if i == 0:
                    child.set_status(StatusCode.ERROR, "it broke")
    provider.shutdown()
    return list(exporter.get_finished_spans())


def proto_body(spans: list[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()


def json_body(spans: list[ReadableSpan]) -> bytes:
    """OTLP/JSON as the spec writes it: protobuf's JSON mapping with ids in hex, not base64."""

    def hexify(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hexify(v)
                for k, v in node.items()
            }
        return [hexify(x) for x in node] if isinstance(node, list) else node

    return json.dumps(hexify(json_format.MessageToDict(encode_spans(spans)))).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    host, port = url.split("//")[1].split("/")[0].split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        con.request("POST", "/v1/traces", body=body, headers=headers)
        response = con.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        con.close()


def rpc_status(body: bytes) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(body)
    return status


def stored_names(path: Path) -> list[str]:
    store = tracer.Store(path)
    with store.connect() as con:
        return sorted(r[0] for r in con.execute("SELECT name FROM spans").fetchall())


@pytest.fixture
def receiver(db_path: Path) -> Iterator[Receiver]:
    r = Receiver(str(db_path), port=0).start()
    try:
        yield r
    finally:
        r.stop()


# --- a real app, no Spyglass inside ----------------------------------------------------------
def test_an_app_on_the_plain_sdk_with_openinference_lands_in_the_store_and_is_checked(
    receiver: Receiver, db_path: Path
) -> None:
    app = REPO / "tests" / "otlp_apps" / "python_openinference.py"
    proc = subprocess.run(
        [sys.executable, str(app), receiver.url, str(cassettes_dir())],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SPYGLASS_")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = receiver.stop()
    assert (counts.accepted, counts.stored, counts.rejected, counts.dropped) == (3, 3, 0, {})
    store = tracer.Store(db_path)
    [summary] = store.list_traces()
    assert summary["service_name"] == "py-oi-app" and summary["root_name"] == "rag"
    assert (summary["llm_count"], summary["input_tokens"], summary["output_tokens"]) == (1, 12, 5)
    detail = store.get_trace(summary["trace_id"])
    assert detail is not None
    by_name = {s["name"]: s for s in detail["spans"]}
    assert {n: s["span_type"] for n, s in by_name.items()} == {
        "rag": "step",
        "retrieve": "retriever",
        "ChatCompletion": "llm",
    }
    assert (
        by_name["retrieve"]["parent_span_id"]
        == by_name["ChatCompletion"]["parent_span_id"]
        == by_name["rag"]["span_id"]
    )
    with store.connect() as con:  # the documented column, as SQL users read it
        [(text,)] = con.execute("SELECT resource FROM spans WHERE name = 'rag'").fetchall()
    resource = json.loads(text)
    assert resource["service.name"] == "py-oi-app" and resource["service.version"] == "1.2.3"  # all of it kept
    assert resource["telemetry.sdk.language"] == "python"
    assert [(d["document_id"], d["score"]) for d in detail["documents"]] == [("kb-test", 0.9), ("kb-other", 0.2)]
    assert "Say this is a test" in by_name["ChatCompletion"]["attributes"]["input.value"]
    # The export-time grounding check ran on the received LLM span, against the received documents.
    [verdict] = detail["evaluations"]
    assert verdict["span_id"] == by_name["ChatCompletion"]["span_id"] and verdict["label"] == "grounded"
    assert json.loads(verdict["details"])["sentences"][0]["best_document_id"] == "kb-test"


def test_the_viewer_shows_a_received_trace_like_an_in_process_one(
    receiver: Receiver, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import _viewer_store as vs

    app = REPO / "tests" / "otlp_apps" / "python_openinference.py"
    proc = subprocess.run(
        [sys.executable, str(app), receiver.url, str(cassettes_dir())], capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    receiver.stop()
    [summary] = tracer.Store(db_path).list_traces()
    at = vs.run(vs.app_on(db_path, monkeypatch), trace=summary["trace_id"])
    assert at.subheader[1].value == "ChatCompletion"  # the detail opens on the model call
    md, shown = vs.markdowns(at), [t.value for t in at.text]
    assert "**system**" in md and "**user**" in md and "kb\\-test" in md  # prompt, and the context's ids
    assert "Say this is a test" in shown and "This is a test." in shown
    assert "The test phrase is: This is a test." in shown  # the received document, in the Context panel
    assert ":green-badge[supported] · sentence 1" in md  # grounding, on the received spans
    assert "2 documents: 2 in the prompt, 0 truncated, 0 dropped" in vs.captions(at)


def test_the_sdk_exporter_gets_success_and_resource_attributes_are_kept(receiver: Receiver, db_path: Path) -> None:
    spans = made_spans(3, service="billing")
    assert OTLPSpanExporter(endpoint=receiver.url).export(spans).name == "SUCCESS"
    receiver.stop()
    detail = tracer.Store(db_path).get_trace(format(spans[0].context.trace_id, "032x"))
    assert detail is not None and detail["trace"]["service_name"] == "billing"
    by_name = {s["name"]: s for s in detail["spans"]}
    root = by_name["op-root"]
    assert {k: root["attributes"][k] for k in ("s", "i", "f", "b")} == {"s": "x", "i": 7, "f": 0.5, "b": True}
    assert list(root["attributes"]["many"]) == ["a", "b"]
    assert by_name["op-0"]["status_code"] == "ERROR" and by_name["op-0"]["parent_span_id"] == root["span_id"]
    assert [e["name"] for e in detail["events"] if e["span_id"] == by_name["op-1"]["span_id"]] == ["step"]


def test_secrets_a_sender_recorded_never_land_in_the_store(receiver: Receiver, db_path: Path) -> None:
    """The store scrubs every row it writes (tracer/store/_rows.py), whoever made the span."""
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    spans = made_spans(2)
    request = encode_spans(spans)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    for k, v in (("http.request.header.authorization", f"Bearer {key}"), ("input.value", f"my key is {key}")):
        attribute = span.attributes.add()
        attribute.key, attribute.value.string_value = k, v
    assert post(receiver.url, request.SerializeToString(), {"Content-Type": PROTOBUF})[0] == 200
    receiver.stop()
    with tracer.Store(db_path).connect() as con:
        rows = " ".join(str(r) for r in con.execute("SELECT * FROM spans").fetchall())
    assert key not in rows and key[:20] not in rows
    assert "my key is" in rows and "REDACTED" in rows


# --- encodings -------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["json", "gzip-protobuf", "gzip-json"])
def test_json_and_gzip_bodies_are_stored_like_protobuf(receiver: Receiver, db_path: Path, encoding: str) -> None:
    spans = made_spans(3, prefix=encoding)
    body, kind = (json_body(spans), JSON) if "json" in encoding else (proto_body(spans), PROTOBUF)
    headers = {"Content-Type": kind}
    if encoding.startswith("gzip"):
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    status, reply_headers, reply = post(receiver.url, body, headers)
    assert status == 200 and reply_headers["Content-Type"] == kind
    if kind == PROTOBUF:
        ExportTraceServiceResponse().ParseFromString(reply)  # a valid (empty) response
    else:
        assert json.loads(reply) == {}
    receiver.stop()
    detail = tracer.Store(db_path).get_trace(format(spans[0].context.trace_id, "032x"))
    assert detail is not None
    assert sorted(s["span_id"] for s in detail["spans"]) == sorted(format(s.context.span_id, "016x") for s in spans)
    assert detail["trace"]["service_name"] == "sender"


# --- bad input: a clear answer, nothing stored, the server still up --------------------------
def test_bodies_that_do_not_parse_get_400_and_nothing_is_stored(receiver: Receiver, db_path: Path) -> None:
    good = proto_body(made_spans(3))
    cases = [
        (b"\xff\xfe garbage \x00\x01", PROTOBUF, None),
        (good[: len(good) // 2], PROTOBUF, None),  # a truncated protobuf
        (b'{"resourceSpans": [{"scopeSpans": [', JSON, None),  # truncated JSON
        (b'{"resourceSpans": "nope"}', JSON, None),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(), JSON, None),
        (gzip.compress(good)[:-9], PROTOBUF, "gzip"),  # a gzip stream cut short
        (good, PROTOBUF, "gzip"),  # says gzip, is not
    ]
    for body, kind, coding in cases:
        headers = {"Content-Type": kind, **({"Content-Encoding": coding} if coding else {})}
        status, _, reply = post(receiver.url, body, headers)
        assert status == 400, (body[:40], status, reply)
        if kind == PROTOBUF:
            assert rpc_status(reply).message
        else:
            assert json.loads(reply)["message"]
    assert post(receiver.url, good, {"Content-Type": PROTOBUF})[0] == 200  # still serving
    counts = receiver.stop()
    assert counts.refused_requests == len(cases) and counts.accepted == counts.stored == 3
    assert len(stored_names(db_path)) == 3


def test_other_media_types_and_paths_get_their_answers(receiver: Receiver) -> None:
    body = proto_body(made_spans(2))
    assert post(receiver.url, body, {"Content-Type": "text/plain"})[0] == 415
    assert post(receiver.url, body, {"Content-Type": PROTOBUF, "Content-Encoding": "br"})[0] == 415
    host, port = receiver.address
    con = http.client.HTTPConnection(host, port, timeout=10)
    con.request("POST", "/v1/metrics", body=body, headers={"Content-Type": PROTOBUF})
    assert con.getresponse().status == 404
    con.close()
    con = http.client.HTTPConnection(host, port, timeout=10)
    con.request("GET", "/health")
    response = con.getresponse()
    assert (response.status, response.read()) == (200, b"ok\n")
    con.close()


def test_oversized_bodies_get_413_unread_and_a_gzip_bomb_too(db_path: Path) -> None:
    r = Receiver(str(db_path), port=0, max_body_bytes=1024 * 1024).start()
    try:
        host, port = r.address
        # 50 MB announced: answered from the headers, the body never read.
        con = http.client.HTTPConnection(host, port, timeout=30)
        con.putrequest("POST", "/v1/traces")
        con.putheader("Content-Type", PROTOBUF)
        con.putheader("Content-Length", str(50 * 1024 * 1024))
        con.endheaders()
        con.send(b"\0" * 65536)
        response = con.getresponse()
        assert response.status == 413 and "over" in rpc_status(response.read()).message
        con.close()
        bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))  # ~8 KB that inflates to 8 MB
        assert len(bomb) < 64 * 1024
        status, _, reply = post(r.url, bomb, {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"})
        assert status == 413 and "decompressed" in rpc_status(reply).message
        assert post(r.url, proto_body(made_spans(2)), {"Content-Type": PROTOBUF})[0] == 200
    finally:
        counts = r.stop()
    assert (counts.refused_requests, counts.stored) == (2, 2)


def _raw(receiver: Receiver, head: bytes, body: bytes) -> bytes:
    """Send bytes as they are (for chunked bodies, cut or not), return the status line."""
    import socket

    with socket.create_connection(receiver.address, timeout=30) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        return sock.makefile("rb").readline()


def test_chunked_bodies_as_the_javascript_exporters_send_them(db_path: Path) -> None:
    r = Receiver(str(db_path), port=0, max_body_bytes=64 * 1024).start()
    try:
        body = proto_body(made_spans(3))
        host, port = r.address
        con = http.client.HTTPConnection(host, port, timeout=30)
        pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
        con.request("POST", "/v1/traces", body=iter(pieces), headers={"Content-Type": PROTOBUF}, encode_chunked=True)
        assert con.getresponse().status == 200
        con.close()
        head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        chunked = head + b"Transfer-Encoding: chunked\r\n\r\n"
        cut = f"{len(body):x}\r\n".encode() + body[:50]  # the sender went away mid-chunk
        assert b" 400 " in _raw(r, chunked, cut)
        assert b" 400 " in _raw(r, chunked, b"zz\r\n" + body + b"\r\n0\r\n\r\n")  # not a size
        big = b"".join(f"{8192:x}\r\n".encode() + b"\0" * 8192 + b"\r\n" for _ in range(9))
        assert b" 413 " in _raw(r, chunked, big + b"0\r\n\r\n")  # 72 KiB over the 64 KiB limit
        # 10 MiB: the receiver stops reading at 64 KiB, then drops the rest before it closes,
        # so the sender reads the 413 instead of a reset (a broken pipe, before the fix).
        assert b" 413 " in _raw(r, chunked, big * 142 + b"0\r\n\r\n")
        huge = head + f"Content-Length: {10 * 1024 * 1024}\r\n\r\n".encode()
        assert b" 413 " in _raw(r, huge, b"\0" * (10 * 1024 * 1024))  # refused before it is read
        assert b" 400 " in _raw(r, head + b"Transfer-Encoding: gzip\r\n\r\n", body)
        assert b" 411 " in _raw(r, head + b"\r\n", b"")  # neither length nor chunks
        short = head + f"Content-Length: {len(body)}\r\n\r\n".encode()
        assert b" 400 " in _raw(r, short, body[:-10])  # shorter than it says
    finally:
        counts = r.stop()
    assert (counts.stored, counts.refused_requests) == (3, 8)


def test_spans_with_invalid_ids_are_reported_in_partial_success(receiver: Receiver, db_path: Path) -> None:
    request = encode_spans(made_spans(4))
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[1].span_id = b""
    spans[2].trace_id = b"\0" * 16
    status, _, reply = post(receiver.url, request.SerializeToString(), {"Content-Type": PROTOBUF})
    assert status == 200
    response = ExportTraceServiceResponse()
    response.ParseFromString(reply)
    assert response.partial_success.rejected_spans == 2
    assert "span_id must be 8 bytes" in response.partial_success.error_message
    assert "trace_id must be 16 bytes" in response.partial_success.error_message
    counts = receiver.stop()
    assert (counts.accepted, counts.rejected, counts.stored) == (2, 2, 2)
    assert len(stored_names(db_path)) == 2


def test_a_bearer_token_is_required_when_set(db_path: Path) -> None:
    r = Receiver(str(db_path), port=0, token="s3cret-token").start()
    try:
        body = proto_body(made_spans(2))
        for auth in (None, "Bearer wrong", "Basic s3cret-token", "s3cret-token"):
            headers = {"Content-Type": PROTOBUF, **({"Authorization": auth} if auth else {})}
            status, _, reply = post(r.url, body, headers)
            assert status == 401 and "token" in rpc_status(reply).message
        exporter = OTLPSpanExporter(endpoint=r.url, headers={"Authorization": "Bearer s3cret-token"})
        assert exporter.export(made_spans(2)).name == "SUCCESS"
    finally:
        counts = r.stop()
    assert counts.stored == 2
    store = tracer.Store(db_path)
    with store.connect() as con:
        text = " ".join(str(r) for r in con.execute("SELECT * FROM spans").fetchall())
    assert "s3cret-token" not in text  # the token is never stored


# --- load: bounded memory, concurrent senders ------------------------------------------------
def test_a_full_queue_answers_503_with_retry_after_and_loses_nothing_it_accepted(db_path: Path) -> None:
    r = Receiver(str(db_path), port=0, max_queued_spans=10).start()
    gate = threading.Event()
    write = r.exporter.write_batch

    def slow_write(spans: Any, *args: Any) -> Any:
        gate.wait(30)
        return write(spans, *args)

    r.exporter.write_batch = slow_write  # type: ignore[method-assign]
    answers = []
    try:
        for i in range(8):
            status, headers, _ = post(r.url, proto_body(made_spans(2, prefix=f"b{i}")), {"Content-Type": PROTOBUF})
            answers.append((status, headers.get("Retry-After")))
    finally:
        gate.set()
        counts = r.stop()
    # The first batch is with the writer; 10 more spans fit in the queue; then 503s.
    assert answers[:6] == [(200, None)] * 6
    assert answers[6:] == [(503, "2")] * 2
    assert (counts.accepted, counts.stored, counts.busy_requests) == (12, 12, 2)
    assert len(stored_names(db_path)) == 12


def test_past_the_stop_deadline_what_is_left_goes_to_the_spool_not_away(db_path: Path) -> None:
    """A store too slow to take everything before the deadline: the queued spans and the
    batch the writer had not begun to write are spooled, counted, and read back."""
    r = Receiver(str(db_path), port=0).start()
    gate = threading.Event()
    write = r.exporter.write_batch

    def stuck_write(spans: Any, *args: Any) -> Any:
        gate.wait(30)  # before the real write (and its claim): as if DuckDB were held elsewhere
        return write(spans, *args)

    r.exporter.write_batch = stuck_write  # type: ignore[method-assign]
    for i in range(6):
        assert post(r.url, proto_body(made_spans(2, prefix=f"d{i}")), {"Content-Type": PROTOBUF})[0] == 200
    threading.Timer(3.0, gate.set).start()  # the stuck write ends later: it must not store the batch again
    started = time.monotonic()
    counts = r.stop(timeout=1.0)
    assert time.monotonic() - started < 20
    assert (counts.accepted, counts.spooled, counts.stored, counts.dropped) == (12, 12, 0, {})
    assert len(stored_names(db_path)) == 12  # readers see the spool files
    # The next writer of the store ingests them, once.
    Receiver(str(db_path), port=0).start().stop()
    with tracer.Store(db_path).connect() as con:
        assert con.execute("SELECT count(*), count(DISTINCT span_id) FROM main.spans").fetchone() == (12, 12)


def test_twenty_concurrent_senders_all_land(receiver: Receiver, db_path: Path) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def sender(k: int) -> None:
        exporter = OTLPSpanExporter(endpoint=receiver.url)
        for j in range(5):
            outcome = exporter.export(made_spans(10, prefix=f"s{k}-{j}")).name
            with lock:
                results.append(outcome == "SUCCESS")

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    counts = receiver.stop()
    assert results == [True] * 100
    assert (counts.accepted, counts.stored, counts.dropped) == (1000, 1000, {})
    assert len(stored_names(db_path)) == 1000
    assert tracer.Store(db_path).count_traces() == 100


# --- the command -----------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _collect(db: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "collect", "--db", str(db), "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "receiving OTLP/HTTP traces on" in line, line + proc.stderr.read() if proc.stderr else line
    return proc, f"http://127.0.0.1:{port}/v1/traces"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_collect_writes_everything_it_accepted_when_stopped(db_path: Path, sig: signal.Signals) -> None:
    proc, url = _collect(db_path)
    try:
        exporter = OTLPSpanExporter(endpoint=url)
        for j in range(10):
            assert exporter.export(made_spans(20, prefix=f"t{j}")).name == "SUCCESS"
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "200 spans accepted, 200 stored" in out and "0 dropped" in out
    assert len(stored_names(db_path)) == 200


def test_collect_says_why_it_cannot_start(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.duckdb"
    foreign.write_text("not a database")
    proc = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "collect", "--db", str(foreign), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "spyglass:" in proc.stderr
    busy, url = _collect(tmp_path / "a.duckdb")
    try:
        port = url.split(":")[2].split("/")[0]
        again = subprocess.run(
            [sys.executable, "-m", "tracer.cli", "collect", "--db", str(tmp_path / "b.duckdb"), "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        assert again.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in again.stderr
        assert "--port" in again.stderr
    finally:
        busy.send_signal(signal.SIGTERM)
        busy.communicate(timeout=60)


def test_listening_beyond_this_machine_warns(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "collect", "--db", str(tmp_path / "s.duckdb"), "--host", "0.0.0.0"]
        + ["--port", str(_free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None and "receiving" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert "WARNING: listening on 0.0.0.0" in err and "--token" in err


def test_the_viewer_reads_the_store_while_collect_writes(
    receiver: Receiver, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import _viewer_store as vs

    exporter = OTLPSpanExporter(endpoint=receiver.url)
    assert exporter.export(made_spans(3, service="live", prefix="first")).name == "SUCCESS"
    deadline = time.monotonic() + 30
    while receiver.counts.stored < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    at = vs.run(vs.app_on(db_path, monkeypatch))
    assert exporter.export(made_spans(3, service="live", prefix="second")).name == "SUCCESS"  # while it is open
    at.run()
    assert not at.exception
    receiver.stop()
    assert tracer.Store(db_path).count_traces() == 2
