"""The session screens in a real browser: ``spyglass view`` as a subprocess on a store of
conversations written by the real tracer (tests/_session_store.py), Debian's chromium driven
by Playwright (the helpers of ``test_viewer_browser.py``).

Screenshots go to ``$SPYGLASS_SCREENSHOTS`` when set, else the test's tmp dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import _session_store as ss
from .test_viewer_browser import chromium_page, serve


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _turn(page: Any, number: int, having: str = "") -> str:
    """A turn card's text, once it holds ``having`` (a card is drawn in parts: its header can
    be on the page before its question)."""
    card = page.locator(f".st-key-turn-{number}")
    card.filter(has_text=having).wait_for()
    return str(card.inner_text())


def _click_first_row(page: Any) -> None:
    """Select the first row of the table by its row marker (the grid is a canvas: no DOM row
    to click), the way a user ticks it."""
    grid = page.locator('[data-testid="stDataFrame"]')
    box = grid.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 60, box["y"] + 52)  # the marker shows on hover
    page.mouse.click(box["x"] + 18, box["y"] + 52)


def test_open_a_session_read_its_turns_and_open_one(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    path = tmp_path_factory.mktemp("sessions") / "spyglass.duckdb"
    ids = ss.build(path)
    with serve(path) as url, chromium_page() as page:
        page.goto(url)
        page.locator('[data-testid="stDataFrame"]').wait_for()  # the trace list drew
        page.get_by_text("Sessions", exact=True).click()  # the Traces | Sessions | Dashboards switch
        page.get_by_text("2 sessions · page 1 of 1").wait_for()
        assert "view=sessions" in page.url
        # The table's cells are hidden DOM nodes behind the canvas: read them attached.
        # (The trace list's table may linger a moment while the screen changes: wait for ours.)
        rows = page.locator('[data-testid="stDataFrame"] tbody tr')
        rows.filter(has_text=ss.SINGLE).first.wait_for(state="attached")
        first_row = [c.strip() for c in rows.first.locator("td").all_text_contents()[:8]]
        assert first_row[1:8] == [ss.SESSION, ss.USER, "4", "1", "1", "0", "1"], first_row
        page.screenshot(path=str(_shots(tmp_path) / "session-1-list.png"), full_page=True)

        _click_first_row(page)
        page.locator(".st-key-turn-4").wait_for()
        assert f"session={ss.SESSION}" in page.url and "view=" not in page.url
        page.get_by_text("1 suspected hallucination").wait_for()
        # The conversation in order: each turn's question, the answer the user got, its verdict.
        for number, turn in enumerate(ss.TURNS, start=1):
            text = _turn(page, number, turn.question)
            assert f"Turn {number}" in text and turn.question in text, text
        last = "(no answer: the turn failed; its trace shows the error)"
        first, second, third, fourth = (_turn(page, n, last if n == 4 else "") for n in (1, 2, 3, 4))
        assert ss.TURNS[0].answer in first and "grounding: grounded" in first and "warning" not in first
        assert ss.TURNS[1].answer in second and "hallucination suspected" in second
        # The blocked turn shows what the user received, never the answer kept from them.
        assert ss.BLOCKED_TEXT in third and "hunter2" not in third and "blocked by secret_filter" in third
        assert "grounding (before post-processing)" in third
        assert "error" in fourth and "(no answer: the turn failed; its trace shows the error)" in fourth
        page.screenshot(path=str(_shots(tmp_path) / "session-2-turns.png"), full_page=True)

        page.locator(".st-key-turn-2").get_by_role("button", name="Open trace →").click()
        page.get_by_text("ms since trace start").wait_for()  # the trace detail's waterfall drew
        assert f"trace={ids[1]}" in page.url and "session=" not in page.url
        page.screenshot(path=str(_shots(tmp_path) / "session-3-turn-trace.png"), full_page=True)

        # And back into the conversation from the trace.
        page.get_by_role("button", name=f"Open session {ss.SESSION} →").click()
        page.locator(".st-key-turn-1").wait_for()
        assert f"session={ss.SESSION}" in page.url
