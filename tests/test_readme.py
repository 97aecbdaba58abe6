"""README's set-up commands are the ones CI runs, and the quickstart works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def _ci_test_command() -> str:
    text = (REPO / ".ci" / "run").read_text()
    match = re.search(r'^TEST_COMMAND="(.+)"$', text, re.M)
    assert match, ".ci/run must define TEST_COMMAND"
    return match.group(1)


def test_readme_shows_exactly_the_ci_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    setup = [c for c in commands if "pip install" in c]
    assert len(setup) == 2, f"README must have exactly two set-up commands, found {setup}"
    assert _ci_test_command() in setup


def test_quickstart_writes_traces(tmp_path: Path) -> None:
    env = {**os.environ, "SPYGLASS_DB": str(tmp_path / "quick.duckdb")}
    out = subprocess.run([sys.executable, str(REPO / "examples" / "quickstart.py")], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"4 traces are in {tmp_path / 'quick.duckdb'}" in out.stdout


def test_cli_lists_traces_and_explains_a_missing_store(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    env = {**os.environ, "SPYGLASS_DB": str(db)}
    subprocess.run([sys.executable, str(REPO / "examples" / "quickstart.py")], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    cli = [sys.executable, "-m", "tracer.cli"]
    listed = subprocess.run([*cli, "traces", "-n", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("rag_pipeline") == 2
    info = subprocess.run([*cli, "--db", str(db), "info"], capture_output=True, text=True, timeout=60)
    assert "spans:" in info.stdout and "16" in info.stdout
    missing = subprocess.run([*cli, "--db", str(tmp_path / "none.duckdb"), "info"], capture_output=True, text=True,
                             timeout=60)
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
