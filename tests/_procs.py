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


# --- fault runs: tests/test_reliability.py and bench/reliability.py ---------------------------
SLOW_EXIT = """
import sys, time, tracer
db, n, exit_timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
tracer.configure(db=db, schedule_delay=3.0, exit_timeout=exit_timeout)
SENT = "The battery of model {i} lasts {h} hours and it was made in Norway by Acme Corp."

@tracer.trace_retriever
def search(q):
    return [{"id": f"d{k}", "content": f"Document {k} says the battery lasts {k + 10} hours. " * 20}
            for k in range(8)]

@tracer.trace_llm(model="m")
def answer(q, docs):
    return " ".join(SENT.format(i=i, h=i % 30) for i in range(120))

@tracer.trace_step
def rag(q):
    return answer(q, search(q))

for i in range(n):
    rag(f"q{i}")
print(time.monotonic(), flush=True)
"""


FORK_WHILE_EXPORTING = """
import os, sys, threading, time, tracer
db = sys.argv[1]
tracer.configure(db=db, schedule_delay=0.01, grounding=False)
stop = threading.Event()
ended = [0]
def busy():
    while not stop.is_set():
        with tracer.span("parent", input="p" * 500):
            pass
        ended[0] += 1
        time.sleep(0.0005)  # steady, not a flood: the queue never fills
t = threading.Thread(target=busy); t.start()
time.sleep(0.5)
children = []
for k in range(3):
    pid = os.fork()
    if pid == 0:
        for i in range(100):
            with tracer.span("child", input=f"c{k}-{i}"):
                pass
        ok = tracer.flush(timeout=30)
        os._exit(0 if ok else 3)
    children.append(pid)
    time.sleep(0.1)
codes = [os.waitpid(pid, 0)[1] for pid in children]
stop.set(); t.join()
assert tracer.flush(timeout=60)
print(ended[0], codes, flush=True)
"""


MULTIPROCESSING = """
import multiprocessing as mp, sys, tracer
db, how = sys.argv[1], sys.argv[2]
tracer.configure(db=db, schedule_delay=3600, grounding=False)

def work(k):
    for i in range(25):
        with tracer.span("child", input=f"{k}-{i}"):
            pass
    return k

if True:  # a fork context needs no __main__ guard
    for i in range(50):  # queued in the parent when it forks: the parent's to export, once
        with tracer.span("parent"):
            pass
    ctx = mp.get_context("fork")
    if how == "pool":
        with ctx.Pool(4) as pool:  # as the docs write it: __exit__ terminates (SIGTERMs) the workers
            assert sorted(pool.map(work, range(4))) == [0, 1, 2, 3]
    else:
        procs = [ctx.Process(target=work, args=(k,)) for k in range(4)]
        for p in procs: p.start()
        for p in procs: p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert tracer.flush(timeout=60)
"""


FLUSH_FOREVER = """
import sys, tracer
tracer.configure(db=sys.argv[1], schedule_delay=3600, grounding=False)
for i in range(int(sys.argv[2])):
    with tracer.span("s", input="x" * 100):
        pass
print("ready", flush=True)
while True:
    tracer.flush(timeout=30)
"""


def writer_code(finish: str = "assert tracer.flush(timeout=60)") -> str:
    return textwrap.dedent(WRITER.replace("{finish}", finish))


def start_writer(
    db: Path, n: int, tag: str, finish: str = "assert tracer.flush(timeout=60)", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-c", writer_code(finish), str(db), str(n), tag],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
