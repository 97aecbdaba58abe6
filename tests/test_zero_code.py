"""The zero-code path: ``OTEL_TRACES_EXPORTER=spyglass opentelemetry-instrument python app.py``.

Each test runs the real ``opentelemetry-instrument`` (opentelemetry-distro, in the test extra)
on a small app that never calls ``tracer.configure()``: the real openai client replays a
recorded cassette, through Spyglass's openai instrumentor loaded by its entry point. Then the
store is read with ``tracer.Store``.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import duckdb

import tracer
from tracer import attributes as A

from .openai_support import REPO, cassettes_dir

CASSETTE = "test_chat_completion_with_content.yaml"  # "This is a test.", usage 12/5

APP = """
import os, sys, time
import openai
import tracer
from tests.openai_support import REPLAY

@tracer.trace_retriever
def search(query):
    return [{"id": "kb-1", "content": "This is a test."}]

@tracer.trace_step
def pipeline(question):
    docs = search(question)
    client = openai.OpenAI(api_key="test", max_retries=0)
    with REPLAY.use_cassette(os.environ["CASSETTE"]):
        reply = client.chat.completions.create(model="gpt-4o-mini",
                                               messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content

if os.environ.get("APP_CONFIGURES"):
    tracer.configure()  # the app's own call, on top of the zero-code set-up
with tracer.trace_attributes(session_id="s-zero"):
    answer = pipeline("Say this is a test")
print(answer, time.monotonic(), flush=True)
if os.environ.get("APP_WAITS"):
    time.sleep(120)  # until SIGTERM
"""


def _readme_variables() -> dict[str, str]:
    """The variables of README's zero-code command, which the runs here use (so they agree)."""
    readme = (REPO / "README.md").read_text()
    [line] = [
        line
        for block in re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
        for line in block.splitlines()
        if "opentelemetry-instrument" in line
    ]
    words = shlex.split(line)
    variables = {}
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        name, value = words.pop(0).split("=", 1)
        variables[name] = value
    assert words == ["opentelemetry-instrument", "python", "app.py"], line
    assert variables.get("OTEL_TRACES_EXPORTER") == "spyglass", line
    return variables


def _instrument_script() -> Path:
    script = Path(sys.executable).parent / "opentelemetry-instrument"
    assert script.exists(), f"{script} is missing: install the test extra (pip install -e '.[test]')"
    assert entry_points(group="opentelemetry_traces_exporter", name="spyglass"), (
        "the 'spyglass' traces exporter entry point is not installed: reinstall (pip install -e '.[test]')"
    )
    return script


def _env(db: Path, **extra: str) -> dict[str, str]:
    # Only our openai instrumentor: peers installed for the interop tests would add spans of their own.
    others = sorted({ep.name for ep in entry_points(group="opentelemetry_instrumentor")} - {"spyglass_openai"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_"))}
    env.update(_readme_variables())  # OTEL_TRACES_EXPORTER=spyglass, metrics and logs none
    env.update(
        {
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(others),
            "SPYGLASS_DB": str(db),
            "SPYGLASS_RAISE_INTERNAL_ERRORS": "1",
            "CASSETTE": str(cassettes_dir() / CASSETTE),
            # The checkout under test, whatever else is installed; opentelemetry-instrument keeps it.
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        }
    )
    env.update(extra)
    return env


def _start(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    app = tmp_path / "app.py"
    app.write_text(APP)
    # The absolute interpreter: opentelemetry-instrument resolves a bare "python" through PATH.
    return subprocess.Popen(
        [str(_instrument_script()), sys.executable, str(app)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(tmp_path: Path, db: Path, **extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the app to its end; also how long it took to exit after its last line."""
    proc = _start(tmp_path, _env(db, **extra))
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    exited = time.monotonic()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert done.returncode == 0, err
    answer, printed = out.rsplit(" ", 1)
    assert answer.strip() == "This is a test."  # the recorded reply went through the instrumented client
    return done, exited - float(printed)


def _stored(db: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    store = tracer.Store(db)
    [summary] = store.list_traces()  # one trace: the retriever and the openai call under one step
    trace = store.get_trace(summary["trace_id"])
    assert trace is not None
    return summary, trace["spans"], {"trace": trace, "counts": store.counts()}


def _check_app_spans(db: Path) -> None:
    summary, spans, more = _stored(db)
    by_type = {span["span_type"]: span for span in spans}
    assert len(spans) == 3 and set(by_type) == {"step", "retriever", "llm"}, [s["name"] for s in spans]
    step, search, llm = by_type["step"], by_type["retriever"], by_type["llm"]
    assert (step["name"], search["name"]) == ("pipeline", "search")
    assert step["parent_span_id"] is None
    assert search["parent_span_id"] == llm["parent_span_id"] == step["span_id"]
    # The openai span, from the recording.
    assert llm["attributes"][A.GEN_AI_PROVIDER_NAME] == "openai"
    assert (llm["model"], llm["input_tokens"], llm["output_tokens"]) == ("gpt-4o-mini-2024-07-18", 12, 5)
    assert (summary["llm_count"], summary["input_tokens"], summary["output_tokens"]) == (1, 12, 5)
    # What Spyglass's processor adds, and a plain exporter would not: trace attributes stamped
    # when each span starts (the openai span too), and the answer grounded at export.
    assert summary["session_id"] == "s-zero"
    assert all(span["attributes"][A.SESSION_ID] == "s-zero" for span in spans)
    [grounding] = more["trace"]["evaluations"]
    assert (grounding["span_id"], grounding["source"], grounding["label"]) == (llm["span_id"], "export", "grounded")
    assert more["counts"]["dropped_spans"] == 0


def test_zero_code_run_stores_the_app_spans_once(tmp_path: Path) -> None:
    db = tmp_path / "zero.duckdb"
    done, exit_lag = _run(tmp_path, db)
    _check_app_spans(db)  # exactly three spans: nothing stored twice
    assert exit_lag < 10, f"the app took {exit_lag:.1f} s to exit after its last line"
    assert "Traceback" not in done.stderr, done.stderr


def test_an_app_that_also_calls_configure_stores_each_span_once(tmp_path: Path) -> None:
    db = tmp_path / "both.duckdb"
    _run(tmp_path, db, APP_CONFIGURES="1")
    _check_app_spans(db)


def test_default_store_is_in_the_working_directory(tmp_path: Path) -> None:
    env = _env(tmp_path / "unused.duckdb")
    del env["SPYGLASS_DB"]
    proc = _start(tmp_path, env)
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert not (tmp_path / "unused.duckdb").exists()
    _check_app_spans(tmp_path / "spyglass.duckdb")


def test_sigterm_stores_the_spans_and_the_app_dies_by_it(tmp_path: Path) -> None:
    db = tmp_path / "term.duckdb"
    proc = _start(tmp_path, _env(db, APP_WAITS="1", SPYGLASS_EXIT_TIMEOUT="5"))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the app's answer: its spans have ended
        assert line.startswith("This is a test."), proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM  # flushed, then the default action
    _check_app_spans(db)


def test_a_store_that_is_not_ours_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE invoices (id INTEGER)")
    proc = _start(tmp_path, _env(db))
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    # opentelemetry-instrument logs a failed set-up and runs the app untraced.
    assert proc.returncode == 0, err
    assert "ForeignStoreError" in err and f"{db} is a DuckDB database but not a Spyglass store" in err
    with duckdb.connect(str(db), read_only=True) as con:
        assert [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()] == [
            "invoices"
        ]


PLAIN = """
import sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tracer._zero_code import ZeroCodeSpanExporter

exporter = ZeroCodeSpanExporter()  # no global SDK provider: it cannot attach, so it exports
provider = TracerProvider()  # never made global
provider.add_span_processor(SimpleSpanProcessor(exporter))
with provider.get_tracer("app").start_as_current_span("by hand"):
    pass
provider.shutdown()
print(exporter.attached)
"""


def test_without_a_global_sdk_provider_it_is_a_plain_exporter(tmp_path: Path) -> None:
    db = tmp_path / "plain.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", PLAIN], cwd=tmp_path, env=_env(db), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    store = tracer.Store(db)
    [summary] = store.list_traces()
    assert (summary["root_name"], summary["span_count"]) == ("by hand", 1)


def test_entry_point_names_the_exporter() -> None:
    [ep] = entry_points(group="opentelemetry_traces_exporter", name="spyglass")
    assert ep.value == "tracer._zero_code:ZeroCodeSpanExporter"
    from opentelemetry.sdk.trace.export import SpanExporter

    assert issubclass(ep.load(), SpanExporter)  # what the SDK's _import_exporters requires
