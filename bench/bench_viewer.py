"""Viewer benchmark: time to load the trace-list page and the trace-detail page on a
1,000,000-span store (125,000 traces of 8 spans; target <= 1 s each, end to end).

    python bench/bench_viewer.py                 # builds or reuses bench/out/store-1m.duckdb
    python bench/bench_viewer.py --db PATH       # any store built by bench_store.build_store
    python bench/bench_viewer.py --no-browser    # AppTest only

(a) Server side, AppTest: one ``AppTest`` of ``viewer/app.py``; each load clears the
    viewer's data caches (facets, charts, the Store object) and times ``at.run()``: the whole
    script (sidebar facets, count, one page of 50 traces, both summary charts; or one trace
    with its span tree and panels), rendered to Streamlit's messages, no browser.
(b) Browser, in a session: ``spyglass view`` as a subprocess, Debian's chromium via
    Playwright. "Open a trace": from clicking a trace in the "Open a trace" box until the
    Output panel shows the LLM's answer. "Back to the list": from clicking "All traces" until
    the "125,000 traces" caption and the table are on screen. Each rep opens a different trace.
(c) Browser, fresh tab: ``page.goto`` until the same elements are on screen, in a new tab
    (a new Streamlit session: the JS bundle, the websocket, then the script). For scale, the
    same for a two-element Streamlit app (title + 3-row dataframe): Streamlit's own floor.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tracer

OUT = Path(__file__).resolve().parent / "out"
STORE_1M = OUT / "store-1m.duckdb"
TARGET_S = 1.0
APP = Path(__file__).resolve().parent.parent / "viewer" / "app.py"


def ensure_store(path: Path) -> Path:
    if path.exists():
        print(f"   reusing {path}")
        return path
    # The store benchmark's builder: the same synthetic traces, so both benchmarks share one file.
    from bench_store import TRACES_1M, build_store

    print(f"   building {path} (1M spans, about a minute)")
    build_store(path, TRACES_1M)
    return path


def _stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:6.0f} ms   max {max(xs) * 1000:6.0f} ms   (n={len(xs)})"


def _met(xs: list[float]) -> str:
    return "MET" if statistics.median(xs) <= TARGET_S and max(xs) <= TARGET_S else "MISSED"


def bench_apptest(db: Path, trace_id: str, reps: int) -> dict[str, list[float]]:
    from streamlit.testing.v1 import AppTest

    from viewer import _data

    os.environ["SPYGLASS_DB"] = str(db)
    at = AppTest.from_file(str(APP), default_timeout=60)
    t = time.perf_counter()
    at.run()  # imports altair, pandas...; AppTest scans component manifests once (~0.6 s here)
    print(f"   (first run, imports and AppTest set-up included: {(time.perf_counter() - t) * 1000:.0f} ms)")

    def load(**query: str) -> float:
        _data.clear_caches()
        _data.store.clear()
        for k in list(at.query_params):
            del at.query_params[k]
        for k, v in query.items():
            at.query_params[k] = v
        t = time.perf_counter()
        at.run()
        took = time.perf_counter() - t
        assert not at.exception, at.exception
        return took

    out: dict[str, list[float]] = {"list": [], "detail": []}
    for _ in range(reps):
        out["list"].append(load())
        out["detail"].append(load(trace=trace_id))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return proc
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd} did not start") from None
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def bench_browser(db: Path, trace_id: str, answer_snippet: str, total: int, reps: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = _serve([sys.executable, "-m", "tracer.cli", "view", "--db", str(db), "--port", str(port)], port)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, list[float]] = {"open": [], "back": [], "fresh list": [], "fresh detail": [], "floor": []}

    def list_ready(page: Any) -> None:
        page.get_by_text(f"{total:,} traces").wait_for()
        page.locator('[data-testid="stDataFrame"]').wait_for()

    def detail_ready(page: Any, snippet: str = answer_snippet) -> None:
        page.locator(".st-key-panel-output").get_by_text(snippet).first.wait_for()

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("SPYGLASS_CHROMIUM", "/usr/bin/chromium"))

            def fresh(target: str, ready: Callable[[Any], None]) -> float:
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                page.set_default_timeout(60_000)
                t = time.perf_counter()
                page.goto(target)
                ready(page)
                took = time.perf_counter() - t
                page.close()
                return took

            fresh(url, list_ready)  # warm-up: the server's first session
            for _ in range(reps):
                out["fresh list"].append(fresh(url, list_ready))
                out["fresh detail"].append(fresh(f"{url}/?trace={trace_id}", detail_ready))

            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.set_default_timeout(60_000)
            page.goto(url)
            list_ready(page)
            for i in range(reps + 1):
                page.get_by_role("combobox", name="Open a trace", exact=True).click()
                option = page.get_by_role("option").nth(i)
                option.wait_for()
                t = time.perf_counter()
                option.click()
                page.locator(".st-key-panel-output").get_by_text("assistant").wait_for()
                opened = time.perf_counter() - t
                t = time.perf_counter()
                page.get_by_role("button", name="← All traces").click()
                list_ready(page)
                back = time.perf_counter() - t
                if i:  # the first round warms this session's first detail render
                    out["open"].append(opened)
                    out["back"].append(back)
            page.close()

            floor_port = _free_port()
            app = Path(tempfile.mkdtemp()) / "floor.py"
            app.write_text("import streamlit as st\nst.title('floor')\nst.dataframe({'a': [1, 2, 3]})\n")
            floor = _serve(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    str(app),
                    "--server.headless",
                    "true",
                    "--server.port",
                    str(floor_port),
                    "--browser.gatherUsageStats",
                    "false",
                    "--server.fileWatcherType",
                    "none",
                ],
                floor_port,
            )
            try:

                def floor_ready(page: Any) -> None:
                    page.locator('[data-testid="stDataFrame"]').wait_for()

                fresh(f"http://127.0.0.1:{floor_port}", floor_ready)
                out["floor"] = [fresh(f"http://127.0.0.1:{floor_port}", floor_ready) for _ in range(reps)]
            finally:
                _stop(floor)
            browser.close()
    finally:
        _stop(proc)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=STORE_1M)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    db = ensure_store(args.db)
    store = tracer.Store(db)
    counts = store.counts()
    total = store.count_traces()
    newest = store.list_traces(limit=1)[0]
    detail = store.get_trace(newest["trace_id"]) or {}
    answer = next(
        (
            s["attributes"].get("output.value")
            for s in detail.get("spans", [])
            if s.get("span_type") == "llm" and s["attributes"].get("output.value")
        ),
        "",
    )
    print(
        f"store: {db} ({counts['spans']:,} spans, {total:,} traces); detail page: trace {newest['trace_id']} "
        f"({len(detail.get('spans', []))} spans)"
    )

    print("(a) server side: AppTest script run, data caches cleared before each load")
    a = bench_apptest(db, newest["trace_id"], args.reps)
    print(f"   trace list     {_stats(a['list'])}   target <= {TARGET_S:.0f} s: {_met(a['list'])}")
    print(f"   trace detail   {_stats(a['detail'])}   target <= {TARGET_S:.0f} s: {_met(a['detail'])}")
    if not args.no_browser:
        b = bench_browser(db, newest["trace_id"], " ".join(answer.split()[:4]), total, args.reps)
        print("(b) chromium, in a session: click until the page's first meaningful element is on screen")
        print(f"   open a trace   {_stats(b['open'])}   target <= {TARGET_S:.0f} s: {_met(b['open'])}")
        print(f"   back to list   {_stats(b['back'])}   target <= {TARGET_S:.0f} s: {_met(b['back'])}")
        print("(c) chromium, fresh tab (new session): goto until the same elements are on screen")
        print(f"   trace list     {_stats(b['fresh list'])}")
        print(f"   trace detail   {_stats(b['fresh detail'])}")
        print(f"   floor: 2-element Streamlit app {_stats(b['floor'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
