"""OTLP fan-out: an app keeps sending to its own back end and adds the Spyglass store, with
the same spans in both, and what Spyglass adds (documents, decisions) travels as OTel data.

The "back end" here is a ``spyglass collect`` receiver writing to a store of its own: it
stands for Phoenix, Langfuse or a Collector, and lets the test read what arrived.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.proto", reason="the collect extra is not installed")

import tracer
from tracer.otlp import Receiver

from .conftest import REPO
from .test_zero_code import _env, _start

APP = """
import sys
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
import tracer

# The app's own set-up, as it was before Spyglass: its provider, exporting to its back end.
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1])))
trace.set_tracer_provider(provider)
tracer.configure(db=sys.argv[2])  # added: the same spans into the Spyglass store too

@tracer.trace_retriever
def search(question):
    return [{"id": "kb-1", "content": "The L2 lamp battery lasts 12 hours."}]

@tracer.trace_llm(model="stand-in")
def answer(question, docs):
    return "The battery lasts 12 hours."

@tracer.trace_postprocess
def guard(text):
    tracer.record_decision("length_guard", verdict="pass", reason="short enough")
    return text

@tracer.trace_step
def rag(question):
    return guard(answer(question, search(question)))

rag("How long does the battery last?")
tracer.flush()
provider.shutdown()
"""


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    path = tmp_path / "backend.duckdb"
    r = Receiver(str(path), port=0).start()
    try:
        yield r, path
    finally:
        r.stop()


def _spans(path: Path) -> dict[str, dict]:
    store = tracer.Store(path)
    [summary] = store.list_traces()
    detail = store.get_trace(summary["trace_id"])
    assert detail is not None
    return {**detail, "spans": {s["span_id"]: s for s in detail["spans"]}}


def test_configure_next_to_the_apps_otlp_exporter_sends_the_same_spans_to_both(
    backend: tuple[Receiver, Path], tmp_path: Path
) -> None:
    receiver, backend_db = backend
    app, local_db = tmp_path / "app.py", tmp_path / "local.duckdb"
    app.write_text(APP)
    proc = subprocess.run(
        [sys.executable, str(app), receiver.url, str(local_db)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "SPYGLASS_RAISE_INTERNAL_ERRORS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    receiver.stop()
    local, remote = _spans(local_db), _spans(backend_db)
    assert local["spans"].keys() == remote["spans"].keys() and len(local["spans"]) == 4
    for span_id, span in local["spans"].items():
        assert remote["spans"][span_id]["name"] == span["name"]
        assert remote["spans"][span_id]["parent_span_id"] == span["parent_span_id"]
    # What Spyglass adds is OTel data: the documents (gen_ai.retrieval.documents) and the
    # decision (a span event) reach the other back end, which reads them back as rows.
    assert [(d["document_id"], d["content"]) for d in remote["documents"]] == [
        ("kb-1", "The L2 lamp battery lasts 12 hours.")
    ]
    assert [(d["name"], d["verdict"], d["reason"]) for d in remote["decisions"]] == [
        ("length_guard", "pass", "short enough")
    ]
    [retriever] = [s for s in remote["spans"].values() if s["span_type"] == "retriever"]
    assert json.loads(retriever["attributes"]["gen_ai.retrieval.documents"])[0]["id"] == "kb-1"


def test_zero_code_sends_to_spyglass_and_an_otlp_endpoint_from_the_standard_variables(
    backend: tuple[Receiver, Path], tmp_path: Path
) -> None:
    receiver, backend_db = backend
    local_db = tmp_path / "local.duckdb"
    env = _env(
        local_db,
        OTEL_TRACES_EXPORTER="spyglass,otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.url,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
        # Export at exit only: vcrpy, replaying the model's answer, would catch an export in between.
        OTEL_BSP_SCHEDULE_DELAY="60000",
    )
    proc = _start(tmp_path, env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.startswith("This is a test.")
    receiver.stop()
    local, remote = _spans(local_db), _spans(backend_db)
    assert local["spans"].keys() == remote["spans"].keys() and len(local["spans"]) == 3
    assert sorted(s["span_type"] for s in remote["spans"].values()) == ["llm", "retriever", "step"]
