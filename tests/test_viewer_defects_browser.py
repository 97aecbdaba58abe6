"""Issue 10's viewer defects that only a real browser shows: ``spyglass view`` as a subprocess,
Debian's chromium driven by Playwright (helpers of ``test_viewer_browser.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import _viewer_store as vs
from .test_viewer_browser import chromium_page, serve

SEARCH = "Search prompts, outputs and documents"


def test_clearing_the_search_box_shows_every_trace_again(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # The search box lives in the auto-refresh fragment: pressing Enter in it reruns only the
    # fragment, which used to reuse (and had changed) the filter of the last full run.
    path = tmp_path_factory.mktemp("search-reset") / "spyglass.duckdb"
    vs.build(path)
    with serve(path) as url, chromium_page() as page:
        page.goto(url)
        page.locator('[data-testid="stDataFrame"]').wait_for()
        page.get_by_text("5 traces").wait_for()
        box = page.get_by_label(SEARCH)

        box.fill("potassium")  # only in a document of rag_pipeline
        box.press("Enter")
        page.get_by_text("1 trace ·").wait_for()
        box.fill("")
        box.press("Enter")
        page.get_by_text("5 traces").wait_for()
        page.screenshot(path=str(tmp_path / "1-search-cleared.png"), full_page=True)

        box.fill("zyzzyva")  # in no trace
        box.press("Enter")
        page.get_by_text("No trace matches these filters.").wait_for()
        box.fill("")
        box.press("Enter")
        page.get_by_text("5 traces").wait_for()
        assert page.get_by_text("No trace matches these filters.").count() == 0
        page.screenshot(path=str(tmp_path / "2-no-match-cleared.png"), full_page=True)
