"""The trace screen in real Chromium: a click on a row of the waterfall opens that span (the
span tree is the way to pick one), each click is a step the browser's Back button undoes,
and a sub-millisecond span is drawn wide enough to see and click, its duration beside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from viewer._trace_detail import ROW

from . import _viewer_store as vs
from .test_viewer_browser import chromium_page, serve

# Vega's padding above the first row (the legend is below the chart).
TOP = 5


def _heading(page: Any) -> str:
    """The selected span's name: the second subheading (the first is the trace's root)."""
    return str(page.locator('[data-testid="stHeading"] h3').nth(1).inner_text())


def _click_row(page: Any, row: int) -> None:
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    box = chart.locator("canvas, svg").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + TOP + ROW * row + ROW / 2)


def test_the_waterfall_picks_the_span_and_back_undoes_it(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    path = tmp_path_factory.mktemp("waterfall") / "spyglass.duckdb"
    ids = vs.build(path)
    shots = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    with serve(path) as url, chromium_page() as page:
        page.goto(url)
        page.get_by_text("5 traces").first.wait_for()
        page.goto(f"{url}?trace={ids['rag_pipeline']}")  # a link to the trace
        page.get_by_text("← All traces").wait_for()
        page.get_by_role("heading", name="chat gpt-4o").wait_for()  # opens on the LLM call
        assert "span=" not in page.url  # the span it opens on: no second history entry
        # the waterfall rows: rag_pipeline, vector_search, chat gpt-4o, guardrail
        _click_row(page, 1)
        page.get_by_role("heading", name="vector_search").wait_for()
        assert "span=" in page.url
        _click_row(page, 3)
        page.get_by_role("heading", name="guardrail").wait_for()
        page.screenshot(path=str(shots / "trace-waterfall-picked.png"), full_page=True)

        page.go_back()
        page.get_by_role("heading", name="vector_search").wait_for()
        page.go_back()
        page.get_by_role("heading", name="chat gpt-4o").wait_for()
        page.go_back()  # out of the trace, to the page the link was opened from
        page.get_by_text("5 traces").first.wait_for()
