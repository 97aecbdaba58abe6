"""Code run in child processes by the store tests (as ``python -c``), kept in one place."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WRITER = """
import os, sys, time
os.environ["SPYGLASS_RAISE_INTERNAL_ERRORS"] = "1"
import tracer
db, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tracer.configure(db=db, schedule_delay=0.05)
@tracer.trace_llm(model="m-" + tag)
def call(i):
    return "answer %d from %s " % (i, tag) + "x" * 200
with tracer.trace_attributes(tags=[tag]):
    for i in range(n):
        call(i)
        if os.environ.get("WRITER_PACE"):
            time.sleep(float(os.environ["WRITER_PACE"]))
{finish}
"""


def writer_code(finish: str = "assert tracer.flush(timeout=60)") -> str:
    return textwrap.dedent(WRITER.replace("{finish}", finish))


def start_writer(db: Path, n: int, tag: str, finish: str = "assert tracer.flush(timeout=60)",
                 env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    import os
    return subprocess.Popen([sys.executable, "-c", writer_code(finish), str(db), str(n), tag], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
