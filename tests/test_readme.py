"""README's set-up commands are the ones CI runs, and the quickstart works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import tracer

from .conftest import REPO


def _ci_test_command() -> str:
    text = (REPO / ".ci" / "run").read_text()
    match = re.search(r'^TEST_COMMAND="(.+)"$', text, re.MULTILINE)
    assert match, ".ci/run must define TEST_COMMAND"
    return match.group(1)


def test_readme_shows_exactly_the_ci_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.DOTALL)
    commands = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    setup = [c for c in commands if "pip install" in c]
    assert len(setup) == 2, f"README must have exactly two set-up commands, found {setup}"
    assert _ci_test_command() in setup


def test_quickstart_writes_traces(tmp_path: Path) -> None:
    env = {**os.environ, "SPYGLASS_DB": str(tmp_path / "quick.duckdb")}
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"4 traces are in {tmp_path / 'quick.duckdb'}" in out.stdout


def test_cli_lists_traces_and_explains_a_missing_store(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    env = {**os.environ, "SPYGLASS_DB": str(db)}
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py")],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    cli = [sys.executable, "-m", "tracer.cli"]
    listed = subprocess.run([*cli, "traces", "-n", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("rag_pipeline") == 2
    info = subprocess.run([*cli, "--db", str(db), "info"], capture_output=True, text=True, timeout=60)
    assert "spans:" in info.stdout and "16" in info.stdout
    missing = subprocess.run(
        [*cli, "--db", str(tmp_path / "none.duckdb"), "info"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
    assert "no Spyglass store at" in missing.stderr and "Traceback" not in missing.stderr


def test_cli_rejects_bad_input_without_a_traceback(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "tracer.cli", "--db", str(tmp_path / "typo.duckdb")]
    for args in (["index"], ["check"], ["traces", "--search", "hello"]):
        done = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=60, cwd=REPO)
        assert done.returncode == 2 and "no Spyglass store at" in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "typo.duckdb").exists()  # no command creates a store by mistake
    negative = subprocess.run([*cli, "traces", "-n", "-1"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert negative.returncode == 2 and "must be 1 or more" in negative.stderr and "Traceback" not in negative.stderr


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)


def _run_block(code: str, tmp_path: Path, *, cassette: str | None = None) -> tracer.Store:
    """Run one README example as a user would, in a fresh process, into a fresh store."""
    db = tmp_path / "readme.duckdb"
    script = tmp_path / "example.py"
    script.write_text(code)
    runner = f"exec(compile(open({str(script)!r}).read(), {str(script)!r}, 'exec'))"
    if cassette is not None:  # the real openai client, replaying real recorded traffic
        runner = f"from tests.openai_support import REPLAY\nwith REPLAY.use_cassette({cassette!r}):\n    {runner}"
    env = {**os.environ, "SPYGLASS_DB": str(db), "OPENAI_API_KEY": "test-key"}
    done = subprocess.run(
        [sys.executable, "-c", runner], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "spyglass:" not in done.stderr, done.stderr
    return tracer.Store(db)


def test_readme_has_the_examples_this_test_runs() -> None:
    assert len(_python_blocks()) == 2, "a new README example needs a test here"


def test_readme_tracing_example_gives_one_trace_with_context_answer_and_decision(tmp_path: Path) -> None:
    store = _run_block(_python_blocks()[0], tmp_path)
    [summary] = store.list_traces()
    assert (summary["root_name"], summary["llm_count"], summary["input_tokens"]) == ("rag", 1, 812)
    assert summary["session_id"] == "s-42" and summary["tags"] == ["beta"]
    trace = store.get_trace(summary["trace_id"])
    assert [s["name"] for s in trace["spans"]] == ["rag", "search", "answer", "guard"]
    assert [d["document_id"] for d in trace["documents"]] == ["kb-battery"]
    assert [(d["name"], d["verdict"]) for d in trace["decisions"]] == [("pii_filter", "pass")]
    assert [e["label"] for e in trace["evaluations"]] == ["grounded"]


def test_readme_openai_example_is_one_call_with_the_client_usage(tmp_path: Path) -> None:
    from .openai_support import cassettes_dir

    cassette = str(cassettes_dir() / "test_chat_completion_with_content.yaml")
    store = _run_block(_python_blocks()[1], tmp_path, cassette=cassette)
    [summary] = store.list_traces()
    assert (summary["root_name"], summary["llm_count"]) == ("answer", 1)
    assert (summary["input_tokens"], summary["output_tokens"]) == (12, 5)  # the recording's usage, once
    trace = store.get_trace(summary["trace_id"])
    assert [s["name"] for s in trace["spans"]] == ["answer", "chat gpt-4o-mini"]
    assert [d["document_id"] for d in trace["documents"]] == ["kb-battery"]
    assert len(trace["evaluations"]) == 1  # the answer is checked once, as the logical call
