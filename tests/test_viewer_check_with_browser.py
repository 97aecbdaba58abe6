"""'Check this answer with …' in real Chromium: open the box under an LLM call, run the first
offline model on it, and see both scorers' results side by side."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tracer

from . import _viewer_store as vs
from .test_viewer_browser import choose, chromium_page, serve


def test_check_this_answer_with_another_scorer(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    path = tmp_path_factory.mktemp("check-with") / "spyglass.duckdb"
    ids = vs.build(path)
    span_id = vs.llm_span(path, ids["rag_pipeline"])
    shots = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    with serve(path) as url, chromium_page() as page:
        page.goto(f"{url}?trace={ids['rag_pipeline']}")
        page.get_by_role("heading", name="chat gpt-4o").wait_for()
        page.get_by_text("Check this answer with …").first.click()
        page.get_by_text("1 scorer so far on this call").wait_for()
        box = page.locator('[data-testid="stExpander"]').filter(has_text="Check this answer with")
        choose(page, "Scorer", "offline-v1")
        box.get_by_role("button", name="Check").click()
        page.get_by_text("Checked with grounding/offline-v1: grounded.").wait_for()
        page.get_by_text("2 scorers so far on this call").wait_for()
        grid = box.locator('[data-testid="stDataFrame"]')
        grid.wait_for()
        page.screenshot(path=str(shots / "check-with.png"), full_page=True)
    names = [e["name"] for e in tracer.Store(path).evaluations() if e["span_id"] == span_id]
    assert sorted(names) == ["grounding", "grounding/offline-v1"]
