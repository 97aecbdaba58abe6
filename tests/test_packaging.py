"""What the distribution promises: a light SDK install, one version, a licence, and CLI
commands that say which extra to install instead of failing on an import.

The plain install itself (a fresh venv, ``pip install .``, no Streamlit) is checked by
``.ci/light_install.py``, which ``.ci/run`` runs; here the same promises are checked on the
installed metadata and in-process.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tracer
from tracer import cli
from tracer.store._schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
VIEWER_ONLY = {"streamlit", "pandas", "altair", "tornado"}


def _requirements() -> tuple[set[str], dict[str, set[str]]]:
    """Base requirement names, and the names each extra adds, from the installed metadata."""
    base: set[str] = set()
    extras: dict[str, set[str]] = {}
    for req in md.requires("spyglass") or []:
        name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower()
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", req)
        if extra:
            extras.setdefault(extra.group(1), set()).add(name)
        else:
            base.add(name)
    return base, extras


def test_the_sdk_needs_no_viewer_dependency() -> None:
    base, extras = _requirements()
    assert base == {"opentelemetry-api", "opentelemetry-sdk", "wrapt", "duckdb", "pyarrow"}
    assert extras["viewer"] == {"streamlit", "pandas", "altair"}  # what viewer/ imports
    assert "spyglass" in extras["test"]  # the test extra pulls in the viewer extra
    assert not VIEWER_ONLY & base


def test_one_version_everywhere() -> None:
    assert md.version("spyglass") == tracer.__version__
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and not re.search(r'^version\s*=\s*"', pyproject, re.MULTILINE)
    done = subprocess.run([sys.executable, "-m", "tracer.cli", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"spyglass {tracer.__version__} (store schema {SCHEMA_VERSION}, Python {sys.version.split()[0]})"
    )


def test_licence_and_metadata_ship() -> None:
    meta = md.metadata("spyglass")
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    assert (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and any(
        c.startswith("Programming Language :: Python :: 3.10") for c in classifiers
    )
    assert meta["Author"] or meta["Author-email"]
    assert (REPO / "CHANGELOG.md").read_text().startswith("# Changelog")


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``importlib.util.find_spec`` report the given modules as not installed."""
    real = importlib.util.find_spec

    def hide(*modules: str) -> None:
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in modules else real(name, *a))

    return hide


@pytest.mark.parametrize(
    ("args", "missing", "extra"),
    [
        (["view"], "streamlit", "viewer"),
        (["demo"], "streamlit", "viewer"),
        (["demo"], "openai", "openai"),
        (["demo", "--no-view"], "openai", "openai"),
    ],
)
def test_a_command_names_the_extra_it_needs(
    args: list[str], missing: str, extra: str, without: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.duckdb"
    without(missing)
    assert cli.main(["--db", str(db), *args]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'spyglass[{extra}]'" in err and missing in err
    assert not db.exists()  # checked before anything is written


def test_demo_without_the_viewer_still_writes_its_store_with_no_view(
    without: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without("streamlit")
    db = tmp_path / "demo.duckdb"
    assert cli.main(["--db", str(db), "demo", "--no-view"]) == 0
    assert tracer.Store(db).count_traces() > 0
