"""Shared fixtures. Every test runs with internal errors raised, never swallowed."""

from __future__ import annotations

import os

os.environ["SPYGLASS_RAISE_INTERNAL_ERRORS"] = "1"

from pathlib import Path  # noqa: E402
from typing import Iterator  # noqa: E402

import pytest  # noqa: E402

import tracer  # noqa: E402
from tracer import _settings  # noqa: E402
from tracer._guard import set_raise_internal_errors  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SPYGLASS_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _raise_internal_errors() -> Iterator[None]:
    set_raise_internal_errors(True)
    yield
    _settings.reset_settings()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "spyglass.duckdb"


@pytest.fixture
def configured(db_path: Path) -> Iterator[Path]:
    """A process configured to trace into a fresh store in a tmp dir."""
    tracer.configure(db=db_path)
    yield db_path
    tracer.flush()


@pytest.fixture
def store(configured: Path) -> tracer.Store:
    return tracer.Store(configured)
