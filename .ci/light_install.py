"""Run inside a fresh venv holding only `pip install .` (no extras): the SDK and the CLI work
without the viewer's dependencies, and the viewer commands say what to install.

Called by .ci/run; exits non-zero with a reason on the first thing that does not hold.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ["streamlit", "pandas", "altair", "tornado", "openai"]


class Failed(Exception):
    pass


def check(ok: object, what: object) -> None:
    """An explicit check, not ``assert``: it must hold under ``python -O`` too."""
    if not ok:
        raise Failed(str(what))


def main() -> int:
    present = [m for m in HEAVY if importlib.util.find_spec(m) is not None]
    check(not present, f"a plain install pulled in {present}")

    import tracer

    check("site-packages" in tracer.__file__, f"tested the checkout, not the install: {tracer.__file__}")
    db = Path(tempfile.mkdtemp()) / "light.duckdb"
    tracer.configure(db=db)

    @tracer.trace_retriever
    def search(query: str) -> list[dict[str, str]]:
        return [{"id": "kb-1", "content": "The X2 battery lasts 12 hours."}]

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, docs: list[dict[str, str]]) -> str:
        return "The X2 battery lasts 12 hours."

    @tracer.trace_step
    def rag(question: str) -> str:
        return answer(question, search(question))

    check(
        rag("How long does the battery last?") == "The X2 battery lasts 12 hours.",
        'rag("How long does the battery last?") == "The X2 battery lasts 12 hours."',
    )
    check(tracer.flush(timeout=30), "the spans did not reach the store")
    store = tracer.Store(db)
    traces = store.list_traces()
    check(len(traces) == 1 and traces[0]["span_count"] == 3, traces)
    loaded = [m for m in HEAVY if m in sys.modules]
    check(not loaded, f"tracing imported {loaded}")

    cli = [str(Path(sys.executable).parent / "spyglass")]
    version = subprocess.run([*cli, "--version"], capture_output=True, text=True, timeout=60)
    check(version.returncode == 0 and version.stdout.startswith(f"spyglass {tracer.__version__}"), version)
    listed = subprocess.run([*cli, "--db", str(db), "traces"], capture_output=True, text=True, timeout=60)
    check(listed.returncode == 0 and "rag" in listed.stdout, listed)
    for args in (["info"], ["check"], ["export"]):  # the store commands need no extra either
        done = subprocess.run([*cli, "--db", str(db), *args], capture_output=True, text=True, timeout=120)
        check(done.returncode == 0 and "Traceback" not in done.stderr, (args, done))
    for args, extra in (
        (["view"], "viewer"),
        (["demo"], "openai"),
        (["demo", "--no-view"], "openai"),
        (["collect"], "collect"),
    ):
        done = subprocess.run([*cli, "--db", str(db), *args], capture_output=True, text=True, timeout=60)
        check(done.returncode == 2, (args, done))
        check(f"'spyglass[{extra}]'" in done.stderr and "Traceback" not in done.stderr, (args, done.stderr))
    print(f"light install: {len(traces)} trace stored in {db}; view/demo/collect name the extra to install")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as exc:
        print(f"light install check failed: {exc}", file=sys.stderr)
        sys.exit(1)
