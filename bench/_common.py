"""Small helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"


def ms(ns: float) -> float:
    return ns / 1e6


def size_mb(path: str | os.PathLike[str]) -> float:
    """Size of a DuckDB file and its WAL, in MB."""
    files = [Path(path), Path(f"{os.fspath(path)}.wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def revision() -> str:
    """The commit measured, with ``+dirty`` when the working tree has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "tracer"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty tracer/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load() -> str:
    """The 1/5/15-minute load averages: other processes on the machine skew absolute figures."""
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def timed_ns(fn: Callable[[], Any]) -> int:
    t = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t


class TimedAttr:
    """Replace ``owner.name`` by a wrapper that adds its time to ``self.ns`` (this process only)."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name, self.original = owner, name, getattr(owner, name)
        self.ns = 0
        self.calls = 0

    def __enter__(self) -> TimedAttr:
        original = self.original

        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter_ns()
            try:
                return original(*a, **k)
            finally:
                self.ns += time.perf_counter_ns() - t
                self.calls += 1

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.owner, self.name, self.original)
