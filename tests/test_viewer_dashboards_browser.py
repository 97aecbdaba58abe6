"""The dashboards in a real browser: ``spyglass view`` as a subprocess, Debian's chromium driven
by Playwright (helpers of ``test_viewer_browser.py``), in a 1,280 px wide window, on six hours
of two prompt versions (``_dashboard_store.many``).

Screenshots go to ``$SPYGLASS_SCREENSHOTS`` when set (look at them after changing the
screen), else the test's tmp dir."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from ._dashboard_store import many, write
from .test_viewer_browser import CHROMIUM, TIMEOUT_MS, _browser_or_skip, serve

WIDTH = 1280


def _shoot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"dash-{name}.png"), full_page=True)


def _cells(page: Any, holding: str) -> list[str]:
    """Every data cell of every table on the screen (hidden DOM nodes under the canvas), once
    a cell reads ``holding`` (the table of the last rerun is drawn)."""
    cells = page.locator('[data-testid="stDataFrame"] tbody td')
    cells.filter(has_text=holding).first.wait_for(state="attached")
    return [c.strip() for c in cells.all_text_contents()]


def test_the_dashboards_through_the_switch(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    sync_playwright = _browser_or_skip()
    path = tmp_path_factory.mktemp("dashboards-browser") / "spyglass.duckdb"
    write(path, many())
    with serve(path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            # Tall enough that the whole screen is in one screenshot (Streamlit scrolls inside).
            page = browser.new_page(viewport={"width": WIDTH, "height": 2200})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.get_by_text("48 traces").first.wait_for()
            page.get_by_role("radio", name="Dashboards").click()  # a segmented control: radios
            page.get_by_text("Prompt versions: A vs B").wait_for()
            page.get_by_text("48 traces · per hour (UTC)").wait_for()
            assert "view=dashboards" in page.url
            charts = page.locator('[data-testid="stVegaLiteChart"]')
            charts.nth(3).locator("canvas, svg").first.wait_for()
            assert charts.count() == 4
            boxes = [charts.nth(i).bounding_box() for i in range(4)]
            # Two charts a row, side by side, inside the window; every plot as tall.
            assert all(b is not None and b["x"] + b["width"] <= WIDTH and b["width"] > 300 for b in boxes)
            assert boxes[0]["y"] == boxes[1]["y"] and boxes[2]["y"] == boxes[3]["y"] > boxes[0]["y"]  # type: ignore[index]
            assert len({round(b["height"]) for b in boxes}) == 1  # type: ignore[index]

            cells = _cells(page, "(all)")
            assert "(all)" in cells and "48" in cells
            # The A/B table: the versions seen last, B qa-v2 against A qa-v1, with counts. It is
            # drawn after the totals table, so wait for its own row (CI once read it too early).
            label = "grounding rate (95% interval) · grounded of checked"
            cells = _cells(page, label)
            grounding = cells[cells.index(label) :][:4]
            assert re.fullmatch(r"\d+% \(\d+%–\d+%\) · \d+ of 24", grounding[1]), grounding
            assert grounding[3].endswith(" pts")
            page.get_by_text("B (qa-v2) against A (qa-v1)").wait_for()
            assert page.locator('[data-testid="stMetric"]').count() == 4
            _shoot(page, tmp_path, "1-overview")

            page.get_by_role("radio", name="model", exact=True).click()
            page.get_by_text("48 LLM calls (each logical call once)").wait_for()
            page.get_by_text("p95 latency (ms) of the calls").wait_for()
            assert "dash_by=model" in page.url
            assert {"gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet"} <= set(_cells(page, "claude-3-5-sonnet"))
            _shoot(page, tmp_path, "2-by-model")

            # The choice is in the URL: a reload (or a link) opens the same breakdown.
            page.reload()
            page.get_by_text("48 LLM calls (each logical call once)").wait_for()
        finally:
            browser.close()
