"""The filters' URL state in real Chromium: choosing a filter writes it into the address bar
(in place: Streamlit replaces the entry, so Back leaves a filtered list rather than undoing
one click), a copied link opens the same filtered list in a new tab, the browser's back
button goes from a trace to the filtered list it was opened from, and Clear empties the
address bar's filters."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from . import _viewer_store as vs
from .test_viewer_browser import choose, chromium_page, serve, settled


def _params(page: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)


def _caption(page: Any, text: str) -> None:
    page.get_by_text(text).first.wait_for()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("url-state") / "spyglass.duckdb"
    return path, vs.build(path)


def test_filters_live_in_the_url_and_a_copied_link_opens_the_same_list(
    store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, _ = store
    shots = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    with serve(path) as url:
        shared = _filter_in_one_tab(url, shots)
        with chromium_page() as fresh:  # the copied link, in a new browser: the same list
            fresh.goto(shared)
            _caption(fresh, "2 traces")
            user_box = fresh.locator('[data-testid="stSelectbox"]').filter(has_text="User")
            fresh.screenshot(path=str(shots / "url-link-opened.png"), full_page=True)
            assert "u-bob" in user_box.inner_text() + user_box.locator("input").input_value()


def _filter_in_one_tab(url: str, shots: Path) -> str:
    with chromium_page() as page:
        page.goto(url)
        _caption(page, "5 traces")

        choose(page, "Status", "ERROR")
        _caption(page, "1 trace ·")
        page.wait_for_function("() => location.search.includes('status=ERROR')")
        assert _params(page)["status"] == ["ERROR"]

        choose(page, "Status", "(any)")
        _caption(page, "5 traces")
        choose(page, "User", "u-bob")
        _caption(page, "2 traces")
        page.wait_for_function("() => location.search.includes('user_id=u-bob')")
        assert "status" not in _params(page)  # a default value leaves the URL
        page.screenshot(path=str(shots / "url-filtered-list.png"), full_page=True)
        return str(page.url)


def test_opening_a_trace_keeps_the_filters_and_back_returns_to_the_list(
    store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, ids = store
    with serve(path) as url, chromium_page() as page:
        page.goto(url + "?decision=block")
        _caption(page, "1 trace ·")
        page.get_by_label("Open a trace").click()
        page.get_by_role("option").first.click()
        page.get_by_text("← All traces").wait_for()
        page.wait_for_function(f"() => location.search.includes('trace={ids['rag_pipeline']}')")
        assert _params(page)["decision"] == ["block"]

        page.go_back()  # one entry for opening the trace: Back is the filtered list again
        _caption(page, "1 trace ·")
        assert "trace" not in _params(page)
        assert _params(page)["decision"] == ["block"]

        settled(page)  # the run Back started drew the list before it ended
        page.get_by_role("button", name="Clear", exact=True).click()
        _caption(page, "5 traces")
        page.wait_for_function("() => !location.search.includes('decision')")


def test_the_finer_filters_in_the_browser(store: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """More filters: an attribute test typed as a user would, and an evaluation with a score
    bound; each lands in the address bar and filters the list."""
    path, _ = store
    shots = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    with serve(path) as url, chromium_page() as page:
        page.goto(url)
        _caption(page, "5 traces")
        page.get_by_text("More filters").click()
        box = page.get_by_label("Attributes", exact=True)
        box.fill("gen_ai.request.model = gpt-4o")
        box.press("Enter")
        _caption(page, "1 trace ·")
        page.wait_for_function("() => location.search.includes('attr=')")
        assert _params(page)["attr"] == ["gen_ai.request.model = gpt-4o"]
        box.fill("gen_ai.usage.input_tokens > lots")
        box.press("Enter")
        page.get_by_text("needs a number").wait_for()  # said under the box; the list is not filtered by it
        _caption(page, "5 traces")
        box.fill("")
        box.press("Enter")
        page.wait_for_function("() => !location.search.includes('attr=')")
        # "More filters" stays open once its last filter is cleared (it folded away here)
        choose(page, "Evaluation", "grounding")
        page.get_by_label("Score ≤", exact=True).fill("0.5")
        page.get_by_label("Score ≤", exact=True).press("Enter")
        _caption(page, "1 trace ·")  # the xss answer, scored 0.0
        page.wait_for_function("() => location.search.includes('max_score=0.5')")
        page.screenshot(path=str(shots / "url-finer-filters.png"), full_page=True)


def test_folded_boxes_draw_when_opened_and_stay_open(store: tuple[Path, dict[str, str]]) -> None:
    """The list's summary charts and "More filters" start folded, with nothing drawn inside
    (that is what a fresh tab saves); a click draws them, and the charts stay open after a
    trace is opened and closed."""
    path, _ = store
    with serve(path) as url, chromium_page() as page:
        page.goto(url)
        _caption(page, "5 traces")
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        settled(page)
        assert charts.count() == 0
        assert page.get_by_label("Attributes", exact=True).count() == 0
        page.get_by_text("Summary charts").click()
        charts.nth(2).locator("canvas, svg").first.wait_for()
        assert charts.count() == 3
        page.get_by_text("More filters").click()
        page.get_by_label("Attributes", exact=True).wait_for()

        page.get_by_label("Open a trace").click()
        page.get_by_role("option").first.click()
        page.get_by_text("← All traces").click()
        _caption(page, "5 traces")
        charts.nth(2).locator("canvas, svg").first.wait_for()  # still open
        assert charts.count() == 3
