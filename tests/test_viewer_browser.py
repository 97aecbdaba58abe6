"""The viewer in a real browser: ``spyglass view`` as a subprocess, Debian's chromium driven
by Playwright (recipe: ../shared/TESTING.md). Skipped when chromium is missing, except under
``CI=true`` where that is a failure (``.ci/run`` installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from . import _viewer_store as vs
from .conftest import ENGINES

CHROMIUM = os.environ.get("SPYGLASS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 30_000


def _browser_or_skip() -> Any:
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install playwright)"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(path: Path | str, log_dir: Path | None = None) -> Iterator[str]:
    """``spyglass view --db path`` on a free port, as a subprocess in its own process group;
    yields its URL once healthy, and stops the group afterwards. The log goes in ``log_dir``
    (default: the store's folder)."""
    port = _free_port()
    log_path = (log_dir or Path(path).parent) / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - the server writes to it until the fixture ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "view", "--db", str(path), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"spyglass view did not start: {log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    _browser_or_skip()
    path = tmp_path_factory.mktemp("browser") / "spyglass.duckdb"
    ids = vs.build(path)
    with serve(path) as url:
        yield url, ids, path


@pytest.fixture(scope="module")
def pg_server(
    postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str], str]]:
    """The same viewer on the same traces in a PostgreSQL store."""
    _browser_or_skip()
    db = postgres_server.create_database(postgres_server.new_name("browser"))
    ids = vs.build(db)
    with serve(db, log_dir=tmp_path_factory.mktemp("browser-pg")) as url:
        yield url, ids, db


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A page of Debian's chromium, driven by Playwright (skips, or fails under CI, without it)."""
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            pg = browser.new_page(viewport={"width": 1600, "height": 2000})
            pg.set_default_timeout(TIMEOUT_MS)
            yield pg
        finally:
            browser.close()


def settled(page: Any) -> None:
    """Wait until the app's script run is over (the root's ``data-test-script-state``). What a
    run draws can be on the page before the run ends; a click made meanwhile may be lost when
    the run redraws its widget."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(state="attached")


@pytest.fixture(scope="module")
def page(server: tuple[str, dict[str, str], Path]) -> Iterator[Any]:
    with chromium_page() as pg:
        yield pg


def _pick(page: Any, label: str, option: str) -> None:
    """Choose from a Streamlit select box the first option containing ``option``, for boxes
    whose choice navigates away (such as "Open a trace"); ``choose`` for those that stay."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option").filter(has_text=option).first.click()


def choose(page: Any, label: str, option: str) -> None:
    """Choose exactly ``option`` in a select box that stays on the page. Streamlit's box is a
    combobox whose input holds the choice as its value; under load its option list can
    re-render while the click lands, so open it again until the value shows the choice."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    box = page.get_by_role("combobox", name=label, exact=True)
    for _ in range(4):
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            expect(box).to_have_value(option, timeout=5_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    expect(box).to_have_value(option)  # fails with playwright's own message


def _panel(page: Any, name: str) -> str:
    return str(page.locator(f".st-key-panel-{name}").inner_text())


@pytest.mark.parametrize("engine", ENGINES)
def test_open_a_trace_and_the_llm_span(engine: str, request: pytest.FixtureRequest, page: Any, tmp_path: Path) -> None:
    url, ids, _ = request.getfixturevalue("server" if engine == "duckdb" else "pg_server")
    page.goto(url)
    # health is ok before the script ran: wait for a real element, a cell of the trace table
    page.locator('[data-testid="stDataFrame"]').wait_for()
    page.get_by_text("5 traces").wait_for()
    page.screenshot(path=str(tmp_path / "1-trace-list.png"), full_page=True)

    _pick(page, "Open a trace", "rag_pipeline")
    page.locator(".st-key-panel-context").wait_for()
    assert f"trace={ids['rag_pipeline']}" in page.url
    page.get_by_text("ms since trace start").wait_for()  # the waterfall chart drew
    page.screenshot(path=str(tmp_path / "2-trace-detail.png"), full_page=True)

    _pick(page, "Span", "vector_search")  # another span first, then the LLM span
    page.get_by_role("heading", name="vector_search").wait_for()
    _pick(page, "Span", "chat gpt-4o")
    page.get_by_role("heading", name="chat gpt-4o").wait_for()
    page.get_by_text("in prompt: exact match").wait_for()
    # The panels fill in as the script runs: wait for the last pieces before reading them.
    page.locator(".st-key-panel-output").get_by_text("tool call: lookup_term", exact=False).first.wait_for()
    page.locator(".st-key-panel-output").get_by_text(vs.ANSWER, exact=False).first.wait_for()
    page.locator(".st-key-panel-decisions").get_by_text("secret_filter", exact=False).first.wait_for()

    context = _panel(page, "context")
    for d in vs.DOCS:
        assert d["content"] in context
    assert (
        context.index(vs.DOCS[0]["content"])
        < context.index(vs.DOCS[1]["content"])
        < context.index(vs.DOCS[2]["content"])
    )
    assert "in prompt: exact match" in context and "in prompt: normalised match" in context
    assert "not in prompt" in context and "3 documents: 2 in the prompt, 0 truncated, 1 dropped" in context

    prompt = _panel(page, "prompt")
    assert vs.SYSTEM in prompt and vs.QUESTION in prompt and "user" in prompt
    assert "lookup_term" in prompt and "qa-v2" in prompt

    output = _panel(page, "output")
    assert vs.ANSWER in output and "tool call: lookup_term" in output and "finish reason: tool_calls" in output

    decisions = _panel(page, "decisions")
    assert "pii_filter" in decisions and "secret_filter" in decisions
    assert "BLOCK" in decisions and "PASS" in decisions and "reason: mentions a password" in decisions
    assert vs.BLOCKED_BEFORE in decisions and vs.BLOCKED_AFTER in decisions
    page.screenshot(path=str(tmp_path / "3-span-detail.png"), full_page=True)


def test_model_output_is_shown_as_text_not_html(
    server: tuple[str, dict[str, str], Path], page: Any, tmp_path: Path
) -> None:
    url, ids, _ = server
    page.goto(f"{url}/?trace={ids['xss_pipeline']}")
    page.locator(".st-key-panel-output").wait_for()
    page.get_by_text("bold claim", exact=False).first.wait_for()
    output = page.locator(".st-key-panel-output")
    assert vs.XSS_OUTPUT in output.inner_text()  # the tags are literal characters on screen
    assert output.locator("b, i, script").count() == 0  # ... and no element was made from them
    assert page.evaluate("window.__spyglass_pwned") is None  # the script never ran
    page.screenshot(path=str(tmp_path / "4-html-output-as-text.png"), full_page=True)


# --- hallucination debugging -----------------------------------------------------------------
def test_grounding_highlight_and_best_document(
    server: tuple[str, dict[str, str], Path], page: Any, tmp_path: Path
) -> None:
    url, ids, _ = server
    page.goto(f"{url}/?trace={ids['xss_pipeline']}")
    output = page.locator(".st-key-panel-output")
    output.get_by_text("no supporting document").wait_for()
    text = output.inner_text()
    assert "hallucination suspected" in text and "unsupported" in text and vs.XSS_OUTPUT in text
    assert "names in no document" in text
    assert output.locator("b, i, script").count() == 0 and page.evaluate("window.__spyglass_pwned") is None
    page.screenshot(path=str(tmp_path / "5-unsupported-sentence.png"), full_page=True)

    page.goto(f"{url}/?trace={ids['rag_pipeline']}")
    page.locator(".st-key-panel-output").get_by_text("0 of 1 sentences unsupported").wait_for()
    assert page.locator(".st-key-context-focus").count() == 0
    page.get_by_role("button", name="best document: d1 (#1) → Context").click()
    focus = page.locator(".st-key-context-focus")
    focus.wait_for()
    assert (
        "best document for sentence 1" in " ".join(focus.inner_text().split())
        and vs.DOCS[0]["content"] in focus.inner_text()
    )
    page.screenshot(path=str(tmp_path / "6-best-document.png"), full_page=True)


def test_compare_two_traces_from_the_list(server: tuple[str, dict[str, str], Path], page: Any, tmp_path: Path) -> None:
    url, ids, _ = server
    page.goto(url)
    page.get_by_text("5 traces").wait_for()
    for root in ("rag_pipeline", "xss_pipeline"):
        page.get_by_role("combobox", name="Compare two traces").click()
        page.get_by_role("option").filter(has_text=root).first.click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_role("heading", name="Compare two traces").wait_for()
    assert (
        f"compare={ids['rag_pipeline']}%2C{ids['xss_pipeline']}" in page.url
        or f"compare={ids['rag_pipeline']},{ids['xss_pipeline']}" in page.url
    )
    # The page fills in as the script runs: wait for the last pieces before reading it.
    page.get_by_text("Deltas").wait_for()
    page.get_by_text("+++ B").first.wait_for()  # the diffs drew
    page.locator(".st-key-compare-a").get_by_text(vs.ANSWER, exact=False).first.wait_for()
    page.locator(".st-key-compare-b").get_by_text("sentences unsupported", exact=False).first.wait_for()
    a, b = page.locator(".st-key-compare-a").inner_text(), page.locator(".st-key-compare-b").inner_text()
    assert vs.ANSWER in a and "grounded" in a and "score 0.93" in a
    assert vs.XSS_OUTPUT in b and "hallucination suspected" in b and "1 of 1 sentences unsupported" in b
    diffs = "\n".join(page.locator('[data-testid="stCode"]').all_inner_texts())
    assert "-Spyglass writes its traces to a local DuckDB file [d1]." in diffs  # the output diff
    page.screenshot(path=str(tmp_path / "7-compare.png"), full_page=True)


def test_annotation_made_in_the_browser_is_stored(
    server: tuple[str, dict[str, str], Path], page: Any, tmp_path: Path
) -> None:
    import tracer

    url, ids, path = server
    tid = ids["rag_pipeline"]
    spans_before = tracer.Store(path).get_trace(tid)["spans"]  # type: ignore[index]
    page.goto(f"{url}/?trace={tid}")
    form = page.locator(".st-key-annotate")
    form.wait_for()
    form.get_by_text("hallucination", exact=True).click()
    form.get_by_label("Note").fill("d1 does not say <i>this</i>")
    form.get_by_label("Author (optional)").fill("browser-test")
    form.get_by_label("Author (optional)").press("Enter")
    form.get_by_role("button", name="Save annotation").click()
    page.get_by_text("Saved: hallucination on this span.").wait_for()
    page.get_by_text("Annotations (1)").wait_for()
    page.screenshot(path=str(tmp_path / "8-annotation.png"), full_page=True)
    store = tracer.Store(path)
    [saved] = store.annotations()
    assert (saved["trace_id"], saved["label"], saved["note"], saved["author"]) == (
        tid,
        "hallucination",
        "d1 does not say <i>this</i>",
        "browser-test",
    )
    assert saved["span_id"] == vs.llm_span(path, tid)
    assert store.get_trace(tid)["spans"] == spans_before  # type: ignore[index]
