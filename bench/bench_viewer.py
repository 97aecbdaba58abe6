"""Viewer benchmark (issue 10): the viewer's speed on a 1,000,000-span store (125,000 traces of 8
spans), in real Chromium, each figure beside its target and beside a bare Streamlit app measured
in the same run (the floor).

    python bench/bench_viewer.py                 # builds or reuses bench/out/store-1m.duckdb
    python bench/bench_viewer.py --db PATH       # any store built by bench_store.build_store
    python bench/bench_viewer.py --reps 5        # medians and max over this many reps (default 5)
    python bench/bench_viewer.py --no-browser    # AppTest only

Targets (issue 10): fresh tab -> list <= 2.0 s; click -> full detail <= 0.6 s; filter or
search -> list <= 0.5 s. A figure is MET when its median and its max are within the target.

The search index is built before anything is timed (``Store.build_search_index()``, what
``spyglass index`` runs), so that search reads the index instead of scanning.

(a) Server side, AppTest: one ``AppTest`` of ``viewer/app.py``; each load times ``at.run()``:
    the whole script rendered to Streamlit's messages, no browser. "cold": the viewer's data
    caches (facets, charts, the Store object) cleared first; "warm": the same run again, its
    caches kept (what a rerun after a click pays, less the parts a click changes). Loads: the
    list; one trace (the span it opens on, each rep another trace); one span picked in a trace
    (``?span=``); the list filtered by status ERROR; the list searched for a word. The screen
    comes from the URL, the filter and the search are set through their widgets (a bound widget
    with state ignores a changed URL), and each list load checks the count its caption shows.
(b) Browser, in a session: ``spyglass view`` as a subprocess, Debian's chromium via
    Playwright. Each rep uses a different trace of the first page.
    - click -> full detail: from clicking a trace in the "Open a trace" box until the Output
      panel shows the LLM's answer and the waterfall chart is drawn;
    - click a waterfall row -> that span's detail: a click on a row of the waterfall (rows are
      ``ROW`` px tall from the chart's top + 5 px) until the span's subheading is on screen;
    - back to the list: from clicking "All traces" until the caption and the table are there;
    - filter -> list: "Status" = "ERROR" in the sidebar until the caption gives the ERROR count
      and the table holds the first ERROR trace; cold (after the sidebar's Refresh, which
      empties the viewer's caches) and warm (the same filter again, its charts cached);
    - search -> list: a word typed in "Search prompts, outputs and documents" and Enter, until
      the caption gives its count and the table holds the first match; a rare word (in ~1 in
      2,000 answers) and a common one (~1 in 50), each after a Refresh.
    "the list" is ready when the "N traces" caption is on screen and the table's hidden cells
    hold the page's first trace id (the table drew this list, not the one before).
(c) Browser, fresh tab: ``page.goto`` until the list (or a trace's detail) is on screen, in a
    new tab (a new Streamlit session: the JS bundle, the websocket, then the script).
(floor) A bare Streamlit app, measured in the same run and browser: a fresh tab of a
    two-element app (title + 3-row dataframe), and a click in it (a button whose click reruns
    the script and draws one text) until that text is on screen: what any Streamlit app pays.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
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
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _synth import COMMON_WORD, RARE_WORD

import tracer
from tracer import TraceFilter
from viewer._trace_detail import ROW  # px per waterfall row

OUT = Path(__file__).resolve().parent / "out"
STORE_1M = OUT / "store-1m.duckdb"
APP = Path(__file__).resolve().parent.parent / "viewer" / "app.py"
# Issue 10's targets, in seconds.
T_FRESH, T_DETAIL, T_LIST = 2.0, 0.6, 0.5
TOP = 5  # Vega's padding above the waterfall's first row (tests/test_viewer_detail_browser.py)
VIEWPORT = {"width": 1600, "height": 1200}


def ensure_store(path: Path) -> Path:
    if path.exists():
        print(f"   reusing {path}")
        return path
    # The store benchmark's builder: the same synthetic traces, so both benchmarks share one file.
    from bench_store import TRACES_1M, build_store

    print(f"   building {path} (1M spans, about two minutes)")
    build_store(path, TRACES_1M)
    return path


def ensure_index(path: Path) -> None:
    t = time.perf_counter()
    done, top = tracer.Store(path).build_search_index()
    print(
        f"   search index: Store.build_search_index() (= `spyglass index`), indexed up to seq {done:,} of "
        f"{top:,}, {time.perf_counter() - t:.1f} s (nothing to do when it was built before)"
    )


def _ms(x: float) -> str:
    return f"{x * 1000:6.0f}"


def _stats(xs: list[float]) -> str:
    if not xs:
        return "   (no data)                  "
    return f"median {_ms(statistics.median(xs))} ms  max {_ms(max(xs))} ms (n={len(xs)})"


def _met(xs: list[float], target: float) -> str:
    if not xs:
        return "n/a"
    return "MET" if statistics.median(xs) <= target and max(xs) <= target else "MISSED"


def _row(label: str, xs: list[float], target: float | None = None, floor: list[float] | None = None) -> str:
    line = f"   {label:<34} {_stats(xs)}"
    if target is not None:
        line += f"   target <= {target:.1f} s: {_met(xs, target):<6}"
    if floor:
        over = statistics.median(xs) - statistics.median(floor) if xs else 0.0
        line += f"   floor {_ms(statistics.median(floor)).strip()} ms, above it {_ms(over).strip()} ms"
    return line


# --- (a) server side ----------------------------------------------------------------------
def bench_apptest(db: Path, cases: dict[str, Any], reps: int) -> dict[str, list[float]]:
    from streamlit.testing.v1 import AppTest

    from viewer import _data

    os.environ["SPYGLASS_DB"] = str(db)
    at = AppTest.from_file(str(APP), default_timeout=120)
    t = time.perf_counter()
    at.run()  # imports altair, pandas...; AppTest scans component manifests once (~0.6 s here)
    print(f"   (first run, imports and AppTest set-up included: {(time.perf_counter() - t) * 1000:.0f} ms)")

    def load(cold: bool, status: str = "(any)", q: str = "", count: int | None = None, **query: str) -> float:
        """One script run. The screen from the URL (``trace``, ``span``); the filter and the
        search through their widgets: a bound widget that has state ignores a changed URL."""
        if cold:
            _data.clear_caches()
            _data.store.clear()
        for k in list(at.query_params):
            del at.query_params[k]
        for k, v in query.items():
            at.query_params[k] = v
        at.selectbox(key="status").set_value(status)
        try:
            at.text_input(key="q").set_value(q)
        except KeyError:  # not drawn (a trace was open): starts empty
            pass
        t = time.perf_counter()
        at.run()
        took = time.perf_counter() - t
        assert not at.exception, at.exception
        if count is not None:  # the run drew the list it was meant to
            shown = [c.value for c in at.caption if " · page " in c.value]
            assert shown and shown[0].startswith(f"{count:,} trace"), (status, q, shown)
        return took

    out: dict[str, list[float]] = {}

    def both(name: str, **query: Any) -> None:
        out.setdefault(f"{name} cold", []).append(load(True, **query))
        out.setdefault(f"{name} warm", []).append(load(False, **query))

    for i in range(reps):
        trace = cases["traces"][i % len(cases["traces"])]
        both("list", count=cases["total"])
        both("detail", trace=trace["id"])
        both("span", trace=trace["id"], span=trace["row_span_id"])
        both("filter", status="ERROR", count=cases["errors"])
        both("search rare", q=RARE_WORD, count=cases["search"][RARE_WORD][0])
        both("search common", q=COMMON_WORD, count=cases["search"][COMMON_WORD][0])
    return out


# --- (b), (c) and the floors: the browser ---------------------------------------------------
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


def _streamlit(app: Path, port: int) -> subprocess.Popen[bytes]:
    return _serve(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        port,
    )


FLOOR_FRESH_APP = "import streamlit as st\nst.title('floor')\nst.dataframe({'a': [1, 2, 3]})\n"
# Two elements; a click reruns the script, which draws one more (a text with the click's number).
FLOOR_CLICK_APP = """import streamlit as st
st.title('floor')
if st.button('go'):
    st.session_state['n'] = st.session_state.get('n', 0) + 1
    st.text(f"clicked {st.session_state['n']}")
"""


def _when(row: dict[str, Any]) -> str:
    """A row's first cell as the table shows it: its start time to the second (the table's
    cells outside the first screen width are not in the page, so the trace id is not)."""
    return f"{row['start_time']:%Y-%m-%d %H:%M:%S}"


def _caption(n: int) -> str:
    return f"{n:,} trace{'s' if n != 1 else ''} · page"


def bench_browser(db: Path, cases: dict[str, Any], reps: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = _serve([sys.executable, "-m", "tracer.cli", "view", "--db", str(db), "--port", str(port)], port)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, list[float]] = {}
    total, first_id = cases["total"], cases["first_id"]

    def cell(page: Any, text: str) -> None:
        """The table's (hidden) cells hold ``text`` (a start time): the table drew the new rows."""
        page.locator('[data-testid="stDataFrame"] tbody td', has_text=text).first.wait_for(state="attached")

    def caption(page: Any, n: int) -> None:
        page.get_by_text(_caption(n)).first.wait_for()

    def list_ready(page: Any) -> None:
        caption(page, total)
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        cell(page, first_id)

    def detail_ready(page: Any, trace: dict[str, Any]) -> None:
        page.locator(".st-key-panel-output").get_by_text(trace["answer"]).first.wait_for()
        chart = page.locator(f".st-key-{trace['chart_key']}")
        chart.locator("canvas.marks, svg.marks").first.wait_for()

    def idle(page: Any) -> None:
        """Untimed, before each timed action: the script's previous run has ended (its status
        widget, shown while it runs, is gone), so that no figure includes the end of the last run."""
        page.wait_for_timeout(250)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")

    def heading(page: Any, name: str) -> Any:
        return page.locator('[data-testid="stHeading"] h3', has_text=re.compile(f"^{re.escape(name)}$")).first

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("SPYGLASS_CHROMIUM", "/usr/bin/chromium"))

            def new_page() -> Any:
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(60_000)
                return page

            def fresh(target: str, ready: Callable[[Any], None]) -> float:
                page = new_page()
                t = time.perf_counter()
                page.goto(target)
                ready(page)
                took = time.perf_counter() - t
                page.close()
                return took

            fresh(url, list_ready)  # warm-up: the server's first session
            for i in range(reps):
                trace = cases["traces"][i % len(cases["traces"])]
                out.setdefault("fresh list", []).append(fresh(url, list_ready))
                out.setdefault("fresh detail", []).append(
                    fresh(f"{url}/?trace={trace['id']}", lambda page, tr=trace: detail_ready(page, tr))
                )

            page = new_page()
            page.goto(url)
            list_ready(page)

            # Open a trace, click a row of its waterfall, back to the list; a different trace each rep.
            for i in range(reps + 1):
                trace = cases["traces"][i]
                page.get_by_role("combobox", name="Open a trace", exact=True).click()
                option = page.get_by_role("option").nth(i)
                option.wait_for()
                idle(page)
                t = time.perf_counter()
                option.click()
                detail_ready(page, trace)
                opened = time.perf_counter() - t
                chart = page.locator(f".st-key-{trace['chart_key']}").locator("canvas.marks, svg.marks").first
                # Untimed: the script's run has ended (the panels below are drawn), and the chart is
                # in the viewport (a mouse click lands only there).
                idle(page)
                chart.scroll_into_view_if_needed()
                box = chart.bounding_box()
                assert box is not None
                t = time.perf_counter()
                page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + TOP + trace["row"] * ROW + ROW / 2)
                heading(page, trace["row_name"]).wait_for()
                picked = time.perf_counter() - t
                idle(page)
                t = time.perf_counter()
                page.get_by_role("button", name="← All traces").click()
                list_ready(page)
                back = time.perf_counter() - t
                if i:  # the first round warms this session's first detail render
                    out.setdefault("open", []).append(opened)
                    out.setdefault("row", []).append(picked)
                    out.setdefault("back", []).append(back)

            def refresh() -> None:
                """The sidebar's Refresh: the viewer's caches emptied (facets, charts)."""
                page.get_by_role("button", name="Refresh", exact=True).click()
                list_ready(page)
                idle(page)

            def choose_status(value: str) -> Any:
                page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Status").click()
                option = page.get_by_role("option", name=value, exact=True)
                option.wait_for()
                return option

            errors, first_error = cases["errors"], cases["first_error"]
            for _ in range(reps):
                for kind in ("filter cold", "filter warm"):
                    if kind == "filter cold":
                        refresh()
                    option = choose_status("ERROR")
                    idle(page)
                    t = time.perf_counter()
                    option.click()
                    caption(page, errors)
                    cell(page, first_error)
                    out.setdefault(kind, []).append(time.perf_counter() - t)
                    choose_status("(any)").click()
                    list_ready(page)
                    idle(page)

            box = page.get_by_role("textbox", name="Search prompts, outputs and documents")
            for _ in range(reps):
                for kind, word in (("search rare", RARE_WORD), ("search common", COMMON_WORD)):
                    refresh()
                    n, first = cases["search"][word]
                    box.fill(word)
                    idle(page)
                    t = time.perf_counter()
                    box.press("Enter")
                    caption(page, n)
                    cell(page, first)
                    out.setdefault(kind, []).append(time.perf_counter() - t)
                    box.fill("")
                    box.press("Enter")
                    list_ready(page)
                    idle(page)
            page.close()

            # The floors, same browser, same run.
            tmp = Path(tempfile.mkdtemp())
            (tmp / "floor.py").write_text(FLOOR_FRESH_APP)
            (tmp / "floor_click.py").write_text(FLOOR_CLICK_APP)
            floor_port = _free_port()
            floor = _streamlit(tmp / "floor.py", floor_port)
            try:

                def floor_ready(page: Any) -> None:
                    page.locator('[data-testid="stDataFrame"]').wait_for()

                fresh(f"http://127.0.0.1:{floor_port}", floor_ready)
                out["floor fresh"] = [fresh(f"http://127.0.0.1:{floor_port}", floor_ready) for _ in range(reps)]
            finally:
                _stop(floor)
            click_port = _free_port()
            floor = _streamlit(tmp / "floor_click.py", click_port)
            try:
                page = new_page()
                page.goto(f"http://127.0.0.1:{click_port}")
                button = page.get_by_role("button", name="go")
                button.wait_for()
                for n in range(1, reps + 2):
                    idle(page)
                    t = time.perf_counter()
                    button.click()
                    page.get_by_text(f"clicked {n}", exact=True).wait_for()
                    if n > 1:  # the first click warms the session
                        out.setdefault("floor click", []).append(time.perf_counter() - t)
                page.close()
            finally:
                _stop(floor)
            browser.close()
    finally:
        _stop(proc)
    return out


# --- what the run opens ---------------------------------------------------------------------
def cases_for(store: tracer.Store, reps: int) -> dict[str, Any]:
    """The traces each rep opens (the first page's, newest first: the "Open a trace" box's
    order), the waterfall row each clicks, and the counts and first rows a filter and a search
    must show, from the store's own API."""
    from viewer import _data
    from viewer._trace_detail import default_span
    from viewer._tree import tree

    rows = store.list_traces(limit=max(reps + 1, 2))
    traces = []
    for r in rows:
        data = store.get_trace(r["trace_id"]) or {}
        _data.readable(data)
        nodes = tree(data["spans"])
        opened = default_span(nodes)
        answer = next(
            (
                n.span["attributes"].get("output.value")
                for n in nodes
                if n.span.get("span_type") == "llm" and n.span["attributes"].get("output.value")
            ),
            "",
        )
        names = [str(n.span.get("name")) for n in nodes]
        # A row that is neither the root (its name is the first subheading) nor the span opened on.
        row = next(
            i for i in range(1, len(nodes)) if i != opened and names.count(names[i]) == 1 and names[i] != names[0]
        )
        traces.append(
            {
                "id": r["trace_id"],
                "answer": " ".join(str(answer).split()[:4]),
                "chart_key": f"waterfall-{r['trace_id']}-{nodes[opened].span_id}",
                "row": row,
                "row_name": names[row],
                "row_span_id": nodes[row].span_id,
                "spans": len(nodes),
            }
        )
    errors = store.count_traces(TraceFilter(status="ERROR"))
    first_error = _when(store.list_traces(TraceFilter(status="ERROR"), limit=1)[0])
    search = {}
    for word in (RARE_WORD, COMMON_WORD):
        flt = TraceFilter(text=word)
        search[word] = (store.count_traces(flt), _when(store.list_traces(flt, limit=1)[0]))
    return {
        "traces": traces,
        "total": store.count_traces(),
        "first_id": _when(rows[0]),
        "errors": errors,
        "first_error": first_error,
        "search": search,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=STORE_1M)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    import streamlit.logger

    streamlit.logger.set_log_level("error")  # "No runtime found" on each cached call outside a server: noise
    started = time.monotonic()
    print(f"# bench_viewer  {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC  {os.cpu_count()} CPUs")
    db = ensure_store(args.db)
    ensure_index(db)
    store = tracer.Store(db)
    counts = store.counts()
    cases = cases_for(store, args.reps)
    total = cases["total"]
    print(
        f"store: {db} ({counts['spans']:,} spans, {total:,} traces); each rep opens another trace of the "
        f"first page ({cases['traces'][0]['spans']} spans each) and clicks its waterfall row "
        f"{cases['traces'][0]['row']} ({cases['traces'][0]['row_name']})"
    )
    print(
        f"filter: status ERROR = {cases['errors']:,} traces; search: '{RARE_WORD}' = "
        f"{cases['search'][RARE_WORD][0]:,} traces, '{COMMON_WORD}' = {cases['search'][COMMON_WORD][0]:,} traces"
    )

    print("(a) server side: AppTest script run (no browser); cold = viewer caches cleared first, warm = rerun")
    a = bench_apptest(db, cases, args.reps)
    for name in ("list", "detail", "span", "filter", "search rare", "search common"):
        print(_row(f"{name} cold", a[f"{name} cold"]) + "   |  warm " + _stats(a[f"{name} warm"]))
    if not args.no_browser:
        b = bench_browser(db, cases, args.reps)
        fl, fc = b["floor fresh"], b["floor click"]
        print("(floor) bare Streamlit app, same run, same browser")
        print(_row("fresh tab (title + dataframe)", fl))
        print(_row("click -> one text drawn", fc))
        print("(c) chromium, fresh tab (new session): goto until on screen")
        print(_row("fresh tab -> trace list", b["fresh list"], T_FRESH, fl))
        print(_row("fresh tab -> trace detail", b["fresh detail"], None, fl))
        print("(b) chromium, in a session: click until on screen")
        print(_row("click -> full detail", b["open"], T_DETAIL, fc))
        print(_row("click waterfall row -> span", b["row"], T_DETAIL, fc))
        print(_row("back to list (list target)", b["back"], T_LIST, fc))
        print(_row("filter ERROR -> list, cold", b["filter cold"], T_LIST, fc))
        print(_row("filter ERROR -> list, warm", b["filter warm"], T_LIST, fc))
        print(_row("search rare word -> list", b["search rare"], T_LIST, fc))
        print(_row("search common word -> list", b["search common"], T_LIST, fc))
    print(f"(run took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
