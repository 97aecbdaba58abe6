"""configure(instrument=...): integration names, "auto", and the entry points behind them."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

import tracer
from integrations import _registry
from integrations._registry import INTEGRATIONS, Integration

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean() -> Iterator[None]:
    _registry.uninstrument()
    yield
    _registry.uninstrument()
    tracer.shutdown()


def test_every_integration_module_has_the_same_public_verbs() -> None:
    for integration in INTEGRATIONS.values():
        module = importlib.import_module(integration.module)
        for verb in ("instrument", "uninstrument", "is_instrumented"):
            assert callable(getattr(module, verb)), (integration.name, verb)
            assert verb in module.__all__, (integration.name, verb)


def test_entry_points_name_every_integration_and_resolve() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    points = project["entry-points"]["opentelemetry_instrumentor"]
    assert sorted(points) == sorted(f"spyglass_{name}" for name in INTEGRATIONS)
    for name, target in points.items():
        module_name, attr = target.split(":")
        assert module_name == INTEGRATIONS[name.removeprefix("spyglass_")].module
        instrumentor = getattr(importlib.import_module(module_name), attr)
        assert callable(instrumentor().instrumentation_dependencies)
    extras = project["optional-dependencies"]
    for integration in INTEGRATIONS.values():
        assert integration.extra in extras, integration.extra


def test_auto_means_every_installed_library(clean: None, tmp_path: Path) -> None:
    installed = _registry.installed()
    assert "openai" in installed  # the test extra installs every supported library
    assert installed == list(INTEGRATIONS)
    tracer.configure(db=tmp_path / "s.duckdb", instrument="auto")
    for integration in INTEGRATIONS.values():
        assert importlib.import_module(integration.module).is_instrumented(), integration.name
    _registry.uninstrument()
    for integration in INTEGRATIONS.values():
        assert not importlib.import_module(integration.module).is_instrumented(), integration.name


def test_a_list_may_mix_auto_and_names_without_doubles() -> None:
    assert [i.name for i in _registry.resolve(["openai", "auto"])] == list(INTEGRATIONS)
    assert [i.name for i in _registry.resolve("openai")] == ["openai"]
    assert _registry.resolve([]) == []


def test_an_unknown_name_fails_before_configure_changes_anything(clean: None, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with pytest.raises(ValueError, match=r"unknown integration\(s\) 'opneai'; known: auto, openai, anthropic"):
        tracer.configure(db=db, instrument=["opneai"])
    assert not db.exists()


def test_a_named_library_that_is_missing_is_skipped_with_the_pip_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ghost = Integration("ghost", "integrations.ghost", "spyglass_no_such_library", "ghost")
    monkeypatch.setitem(INTEGRATIONS, "ghost", ghost)
    with caplog.at_level(logging.WARNING, logger="spyglass"):
        assert _registry.resolve(["ghost"]) == []
    assert "spyglass_no_such_library is not installed; skipped (pip install 'spyglass[ghost]')" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spyglass"):
        assert "ghost" not in [i.name for i in _registry.resolve("auto")]
    assert caplog.text == ""  # "auto" only picks what is there: nothing to warn about


def test_finding_installed_libraries_imports_none_of_them() -> None:
    code = (
        "import sys; from integrations import _registry; names = _registry.installed(); "
        "libs = [i.library for i in _registry.INTEGRATIONS.values()]; "
        "print(len(names), [l for l in libs if l in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert out.strip() == f"{len(INTEGRATIONS)} []"
