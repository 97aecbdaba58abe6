"""``spyglass collect``: an OTLP/HTTP trace receiver in front of a Spyglass store.

Requests are parsed on the HTTP server's threads and their spans put on one bounded queue;
one writer thread takes everything queued and hands it to the same exporter in-process spans
go through (:class:`tracer.store._exporter.DuckDBSpanExporter`: the writer's locking and
spooling, the export-time grounding check). So several receivers, apps writing in-process
and viewers reading can share one store file, as in-process writers do.

The answers follow the OTLP/HTTP spec: 200 once the spans are queued (with
``partial_success`` for spans left out), 400 for a body that does not parse, 413 over the
size limit, 415 for another media type, 503 with ``Retry-After`` while the queue is full or
the receiver is stopping, 401 without the bearer token when one is set. A span is either
queued, and then stored by :meth:`Receiver.stop` at the latest, or its request was answered
with an error: never dropped silently.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan

from .._guard import logger
from .._outcome import Outcome
from ..store._exporter import DuckDBSpanExporter
from ._decode import JSON, PROTOBUF, BadRequest, Decoded, TooLarge, UnsupportedMediaType, decode, inflate, media_type

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TRACES_PATH", "Counts", "Receiver"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # OTLP/HTTP's registered port
TRACES_PATH = "/v1/traces"
MAX_BODY_BYTES = 16 * 1024 * 1024  # compressed or not; the Collector's default is 20 MiB
# Received, not yet written: the memory bound. A queued span takes about 2-3 times its
# uncompressed wire size (measured ~11 KB for a 4.7 KB span), so 64 MiB of bodies is a few
# hundred MB at most; the span bound caps many tiny spans.
MAX_QUEUED_SPANS = 50_000
MAX_QUEUED_BYTES = 64 * 1024 * 1024
WRITE_BATCH_SPANS = 8_192  # the most one write takes (the SDK's BatchSpanProcessor exports 512)
RETRY_AFTER_S = 2
# After a refusal whose body is left unread, the rest of the body is read and dropped for at
# most this long: closing a socket with unread input sends a reset, and the sender would see a
# broken pipe instead of our 413 or 503 (Apache's "lingering close").
LINGER_S = 2.0


class _Body(Protocol):
    """The request's body stream (the handler's ``rfile``)."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


@dataclass
class Counts:
    """What the receiver did since it started (``spyglass collect`` prints it at exit)."""

    requests: int = 0
    accepted: int = 0  # spans queued
    rejected: int = 0  # spans left out of an accepted request (partial_success)
    refused_requests: int = 0  # 4xx other than 503 / 5xx: nothing of theirs queued
    busy_requests: int = 0  # 503: queue full or stopping
    stored: int = 0
    spooled: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


class _Queue:
    """Spans waiting for the writer, bounded by their number and by the bytes of the bodies
    they came in (a decoded span takes a few times its wire size in memory)."""

    def __init__(self, max_spans: int, max_bytes: int) -> None:
        self.max_spans, self.max_bytes = max_spans, max_bytes
        self.spans = self.bytes = 0
        self.batches: deque[tuple[list[ReadableSpan], int]] = deque()
        self.cond = threading.Condition()
        self.closed = False

    def full(self) -> bool:
        """No room for anything more (checked before a body is decoded, so a 503 is cheap)."""
        return self.spans >= self.max_spans or self.bytes >= self.max_bytes

    def offer(self, spans: list[ReadableSpan], nbytes: int) -> bool:
        with self.cond:
            if self.closed or self.spans + len(spans) > self.max_spans or self.bytes + nbytes > self.max_bytes:
                return False
            self.batches.append((spans, nbytes))
            self.spans += len(spans)
            self.bytes += nbytes
            self.cond.notify()
            return True

    def take(self, most: int, wait: float) -> list[ReadableSpan] | None:
        """Up to ``most`` spans (whole requests; at least one); ``None`` once closed and empty."""
        with self.cond:
            while not self.batches:
                if self.closed:
                    return None
                self.cond.wait(wait)
            out: list[ReadableSpan] = []
            while self.batches and (not out or len(out) + len(self.batches[0][0]) <= most):
                batch, nbytes = self.batches.popleft()
                self.spans -= len(batch)
                self.bytes -= nbytes
                out.extend(batch)
            return out

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def drain(self) -> list[ReadableSpan]:
        """Everything still queued, taken from the writer (past the stop deadline)."""
        with self.cond:
            out = [span for batch, _ in self.batches for span in batch]
            self.batches.clear()
            self.spans = self.bytes = 0
            return out


class _InFlight:
    """The batch the writer is converting. Past the stop deadline, :meth:`Receiver.stop`
    spools it instead, unless the writer already claimed it for DuckDB (then it waits for
    that write): one of them stores it, never both, never neither."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[ReadableSpan] | None = None
        self.writing = False

    def begin(self, spans: list[ReadableSpan]) -> None:
        with self.lock:
            self.spans, self.writing = spans, False

    def claim(self) -> bool:
        """The writer's: may it write the batch? False once stop took it."""
        with self.lock:
            if self.spans is None:
                return False
            self.writing = True
            return True

    def take(self) -> list[ReadableSpan] | None:
        """Stop's: the batch, if the writer has not started writing it."""
        with self.lock:
            if self.spans is None or self.writing:
                return None
            spans, self.spans = self.spans, None
            return spans

    def done(self) -> None:
        with self.lock:
            self.spans, self.writing = None, False


class Receiver:
    """An OTLP/HTTP receiver writing into the store at ``db``. :meth:`start`, then
    :meth:`stop` (which writes everything accepted before returning)."""

    def __init__(
        self,
        db: str,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_queued_spans: int = MAX_QUEUED_SPANS,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        grounding: bool = True,
    ) -> None:
        self.exporter = DuckDBSpanExporter(db, grounding=grounding)
        self.exporter.writer.validate()  # a foreign or newer store fails here, before serving
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.counts = Counts()
        self._counts_lock = threading.Lock()
        self._queue = _Queue(max_queued_spans, max_queued_bytes)
        self._inflight = _InFlight()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{TRACES_PATH}"

    def start(self) -> Receiver:
        for target, name in ((self._server.serve_forever, "server"), (self._write_loop, "writer")):
            thread = threading.Thread(target=target, name=f"spyglass-collect-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> Counts:
        """Stop answering (new requests get 503) and store everything accepted: written to
        the store within ``timeout`` s (grounding checks stop at half of it; ``spyglass check``
        does them later), and what is left then goes to the spool, which the next writer of
        the store ingests. Nothing accepted is dropped unless the disk refuses the spool."""
        deadline = time.monotonic() + timeout
        self._stopping = True
        self._server.shutdown()  # waits for serve_forever; requests being handled finish
        self._server.server_close()
        self._queue.close()
        self.exporter.hurry(time.monotonic() + timeout / 2)
        writer = self._threads[1] if len(self._threads) > 1 else None
        if writer is not None:
            writer.join(max(deadline - time.monotonic(), 0))
            if writer.is_alive():
                self._spool_rest()
                writer.join()  # only a DuckDB write already under way is left: it ends
        self.exporter.close(max(deadline - time.monotonic(), 1.0), may_drain=True)
        return self.counts

    def _spool_rest(self) -> None:
        spans = self._queue.drain()
        current = self._inflight.take()
        if current is not None:
            spans = current + spans
        if not spans:
            return
        logger.warning("spyglass collect: stop deadline passed; %d spans go to the spool", len(spans))
        self._count(self.exporter.spool_batch(spans), len(spans))

    def _count(self, outcome: Outcome | None, n: int) -> None:
        with self._counts_lock:
            if outcome is None:
                self.counts.dropped["write failed"] = self.counts.dropped.get("write failed", 0) + n
                return
            self.counts.stored += outcome.stored
            self.counts.spooled += outcome.spooled
            for reason, k in outcome.dropped.items():
                self.counts.dropped[reason] = self.counts.dropped.get(reason, 0) + k

    # --- the writer thread ---------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            spans = self._queue.take(WRITE_BATCH_SPANS, wait=0.5)
            if spans is None:
                return
            self._inflight.begin(spans)
            try:
                outcome = self.exporter.write_batch(spans, self._inflight.claim)
            except Exception:  # never lose the thread: count the batch as dropped, go on
                logger.exception("spyglass collect: writing %d spans failed", len(spans))
                self._count(None, len(spans))
                continue
            finally:
                claimed = self._inflight.writing
                self._inflight.done()
            if outcome is not None or claimed:
                self._count(outcome, len(spans))
            # else: stop took the batch before the write began, and spooled it

    # --- one request (on a server thread) ------------------------------------------------
    def handle(self, headers: Any, body_file: _Body) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` for a POST to the traces path."""
        # Errors are answered in the request's encoding when it names one we know.
        kind = JSON if (headers.get("Content-Type") or "").lower().startswith(JSON) else PROTOBUF
        with self._counts_lock:
            self.counts.requests += 1
        if self.token is not None and not _bearer_matches(headers.get("Authorization"), self.token):
            return self._refuse(401, "missing or wrong bearer token", kind)
        if self._stopping or self._queue.full():  # before reading and decoding: a 503 stays cheap
            return self._busy(kind)
        try:
            kind = media_type(headers.get("Content-Type"))
            raw = _read_body(headers, body_file, self.max_body_bytes)
            if raw is None:
                return self._refuse(411, "Content-Length or Transfer-Encoding: chunked is required", kind)
            body = inflate(raw, headers.get("Content-Encoding"), self.max_body_bytes)
            decoded = decode(body, kind)
        except UnsupportedMediaType as exc:
            return self._refuse(415, str(exc), kind)
        except TooLarge as exc:
            return self._refuse(413, str(exc), kind)
        except BadRequest as exc:
            return self._refuse(400, str(exc), kind)
        if self._stopping or not self._queue.offer(decoded.spans, len(body)):
            return self._busy(kind)
        with self._counts_lock:
            self.counts.accepted += len(decoded.spans)
            self.counts.rejected += decoded.rejected
        return 200, {"Content-Type": kind}, _success(decoded, kind)

    def _busy(self, kind: str) -> tuple[int, dict[str, str], bytes]:
        with self._counts_lock:
            self.counts.busy_requests += 1
        status, headers, body = _status_reply(503, "the receiver is busy; retry later", kind)
        return status, {**headers, "Retry-After": str(RETRY_AFTER_S)}, body

    def _refuse(self, status: int, message: str, kind: str) -> tuple[int, dict[str, str], bytes]:
        with self._counts_lock:
            self.counts.refused_requests += 1
        return _status_reply(status, message, kind)


def _read_body(headers: Any, body_file: _Body, limit: int) -> bytes | None:
    """The request body, by ``Content-Length`` or chunked (as the JavaScript SDK's exporters
    send it); ``None`` when the request gives neither. Never reads more than ``limit`` bytes."""
    coding = (headers.get("Transfer-Encoding") or "").strip().lower()
    if coding:  # it takes precedence over Content-Length (RFC 9112, 6.3)
        if coding != "chunked":
            raise BadRequest(f"unsupported Transfer-Encoding {coding!r}")
        return _read_chunked(body_file, limit)
    length = headers.get("Content-Length")
    if length is None:
        return None
    try:
        size = int(length)
    except ValueError:
        raise BadRequest(f"bad Content-Length {length!r}") from None
    if size > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    body = body_file.read(size)
    if len(body) != size:
        raise BadRequest("the body is shorter than its Content-Length")
    return body


def _read_chunked(body_file: _Body, limit: int) -> bytes:
    out = bytearray()
    while True:
        line = body_file.readline(1024)
        if not line.endswith(b"\n"):
            raise BadRequest("the chunked body is cut short or malformed")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)  # a size, then optional extensions
        except ValueError:
            raise BadRequest("the chunked body has a bad chunk size") from None
        if size == 0:
            while True:  # trailers, up to the empty line that ends the body
                trailer = body_file.readline(8192)
                if not trailer.endswith(b"\n"):
                    raise BadRequest("the chunked body is cut short or malformed")
                if trailer in (b"\r\n", b"\n"):
                    return bytes(out)
        if len(out) + size > limit:
            raise TooLarge(f"the body is over {limit} bytes")
        chunk = body_file.read(size)
        if len(chunk) != size or body_file.readline(3) not in (b"\r\n", b"\n"):
            raise BadRequest("the chunked body is cut short or malformed")
        out += chunk


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _success(decoded: Decoded, kind: str) -> bytes:
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.rejected_spans = decoded.rejected
        response.partial_success.error_message = "; ".join(decoded.errors)
    if kind == JSON:
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


def _status_reply(status: int, message: str, kind: str) -> tuple[int, dict[str, str], bytes]:
    """An error answer: a ``google.rpc.Status`` as the spec says, in the request's encoding."""
    rpc = status_pb2.Status(code=_GRPC_CODES.get(status, 2), message=message)
    if kind == JSON:
        return status, {"Content-Type": JSON}, json.dumps({"code": rpc.code, "message": message}).encode()
    return status, {"Content-Type": PROTOBUF}, rpc.SerializeToString()


# The gRPC status code matching each HTTP answer (what google.rpc.Status.code holds).
_GRPC_CODES = {400: 3, 401: 16, 411: 3, 413: 8, 415: 3, 503: 14, 404: 5, 405: 12}


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the SDK exporters reuse their connection
        # A sender that stalls mid-request (or an idle kept-alive connection) frees its thread
        # after this many seconds; http.server answers nothing and closes the connection.
        timeout = 60
        server_version = "spyglass-collect"

        def do_POST(self) -> None:
            if self.path.split("?")[0] != TRACES_PATH:
                self.close_connection = True  # its body is not read
                self._reply(*_status_reply(404, f"only {TRACES_PATH} is served here", PROTOBUF))
                self._linger()
                return
            status, headers, body = receiver.handle(self.headers, self.rfile)
            if status != 200:
                self.close_connection = True  # the body may not have been read (a 503 is sent unread)
            self._reply(status, headers, body)
            if status != 200:
                self._linger()

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/health":
                self._reply(200, {"Content-Type": "text/plain"}, b"ok\n")
            else:
                self._reply(*_status_reply(405 if self.path == TRACES_PATH else 404, "POST traces here", PROTOBUF))

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def _linger(self) -> None:
            """Stop writing, then drop what the sender still sends until it stops or
            ``LINGER_S`` is up, so that it reads the reply instead of a connection reset."""
            deadline = time.monotonic() + LINGER_S
            try:
                self.connection.shutdown(socket.SHUT_WR)
                while (left := deadline - time.monotonic()) > 0:
                    self.connection.settimeout(left)
                    if not self.connection.recv(65536):
                        break
            except OSError:  # the sender went away or timed out: nothing more to do
                pass

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("spyglass collect: " + format, *args)

    return Handler
