"""Search on the trace list as users type it: the match shown (a "match" column with the match
between « », a list with the match highlighted), words that only begin ("potass" offers
"potass*"), id prefixes; in-process (AppTest) on both engines, and in real Chromium.

Browser screenshots go to ``$SPYGLASS_SCREENSHOTS`` when set, else the test's tmp dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import tracer
from tracer.store._snippets import Snippet
from viewer import _search_hits

from . import _viewer_store as vs
from .conftest import ENGINES
from .test_viewer_browser import chromium_page, serve

run = vs.run


@pytest.fixture(scope="module", params=ENGINES)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    path: Any = tmp_path_factory.mktemp("viewer-search") / "spyglass.duckdb"
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        path = server.create_database(server.new_name("viewer_search"))
    return path, vs.build(path)


@pytest.fixture
def app(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return vs.app_on(built[0], monkeypatch)


def _column(at: AppTest, name: str) -> list[str]:
    return list(at.dataframe[0].value[name]) if at.dataframe else []


def test_a_search_shows_where_each_trace_matched(app: AppTest) -> None:
    at = run(app)
    assert _search_hits.MATCH_COLUMN not in at.dataframe[0].value.columns  # no search, no match column
    at.text_input(key="q").input("potassium").run()  # only in document d3 of rag_pipeline
    assert _column(at, "root") == ["rag_pipeline"]
    (cell,) = _column(at, _search_hits.MATCH_COLUMN)
    assert "«potassium»" in cell and "excellent source of" in cell, cell
    assert cell.startswith("vector_search · document: "), cell  # the retriever's output: its documents
    listed = "\n".join(m.value for m in at.markdown)
    assert ":orange-background[**potassium**]" in listed and "excellent source of" in listed
    assert "**rag\\_pipeline** › vector\\_search · document:" in listed, listed
    assert any(b.label == "Open" for b in at.button)


def test_a_word_that_only_begins_offers_the_words_it_begins(app: AppTest) -> None:
    at = run(app)
    at.text_input(key="q").input("potass").run()
    assert _column(at, "root") == []
    assert any("No whole-word match for “potass”" in i.value and "1 trace has" in i.value for i in at.info)
    at.button(key="search_prefixes").click().run()
    assert at.text_input(key="q").value == "potass*"  # the box shows the rule it now uses
    assert _column(at, "root") == ["rag_pipeline"]
    assert "«potassium»" in _column(at, _search_hits.MATCH_COLUMN)[0]
    at.text_input(key="q").input("zzqx").run()  # begins no word: nothing is offered
    assert not any(b.key == "search_prefixes" for b in at.button)
    assert any("No trace matches" in i.value for i in at.info)


def test_an_id_prefix_finds_its_trace(app: AppTest, built: tuple[Any, dict[str, str]]) -> None:
    trace_id = built[1]["xss_pipeline"]
    at = run(app)
    at.text_input(key="q").input(trace_id[:8]).run()
    assert _column(at, "root") == ["xss_pipeline"]
    assert _column(at, _search_hits.MATCH_COLUMN)[0].endswith(f"trace id: «{trace_id[:8]}»{trace_id[8:]}")


def test_highlighting_escapes_the_text_around_and_inside_the_match() -> None:
    text = "see [link](http://x) and **battery** :red[x] <b>"
    start = text.index("battery")
    snippet = Snippet("s1", "answer", "output", None, text, ((start, start + 7),))
    # Every punctuation of the text escaped, spaces between the pieces kept, the match bold on a background.
    assert _search_hits.highlighted(snippet) == (
        "see \\[link\\]\\(http\\:\\/\\/x\\) and \\*\\*:orange-background[**battery**]\\*\\* \\:red\\[x\\] \\<b\\>"
    )
    assert _search_hits.cell(snippet) == "answer · output: …[link](http://x) and **«battery»** :red[x] <b>"


def test_searching_batt_in_the_browser_finds_the_battery_trace(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    path = tmp_path_factory.mktemp("search-browser") / "spyglass.duckdb"
    vs.build(path)

    @tracer.trace_retriever
    def retrieve(q: str) -> list[dict]:
        return [{"id": "kb-battery", "content": "The X2 battery lasts 12 hours on a full charge.", "score": 0.9}]

    @tracer.trace_step
    def battery_question(q: str) -> str:
        retrieve(q)
        return "The X2 battery lasts 12 hours."

    tracer.configure(db=path)
    battery_question("How long does it last?")
    assert tracer.flush()
    shots = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with serve(path) as url, chromium_page() as page:
        page.goto(url)
        page.get_by_text("6 traces").wait_for()
        box = page.get_by_label("Search prompts, outputs and documents")
        box.fill("batt")
        box.press("Enter")
        page.get_by_text("No whole-word match for “batt”").wait_for()
        page.get_by_role("button", name="Show them: search batt*").click()
        page.get_by_text("1 trace ·").wait_for()
        assert box.input_value() == "batt*"
        cells = page.locator('[data-testid="stDataFrame"] tbody td')
        cells.first.wait_for(state="attached")
        assert any("«battery»" in c for c in cells.all_inner_texts()), cells.all_inner_texts()
        hit = page.locator('[data-testid="stExpander"]').filter(has_text="Where the search matched")
        mark = hit.locator("span", has_text="battery").last
        mark.wait_for()
        # The match is on a background of its own, the text around it plain.
        assert mark.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
        assert "battery_question" in hit.inner_text()
        page.screenshot(path=str(shots / "search-batt.png"), full_page=True)

        # Model output with markup (the xss trace's "<script>...<b>bold claim</b>") reads as text.
        box.fill("bold claim")
        box.press("Enter")
        page.get_by_text("1 trace ·").wait_for()
        hit = page.locator('[data-testid="stExpander"]').filter(has_text="Where the search matched")
        hit.get_by_text("bold claim", exact=True).wait_for()  # two words next to each other: one highlight
        assert "<script>" in hit.inner_text() and "</b>" in hit.inner_text()
        assert hit.locator("script").count() == 0 and hit.locator("b").count() == 0
        assert page.evaluate("window.__spyglass_pwned") is None
        page.screenshot(path=str(shots / "search-markup.png"), full_page=True)
        hit.get_by_role("button", name="Open").click()
        page.get_by_text("xss_pipeline").first.wait_for()
        page.screenshot(path=str(shots / "search-opened.png"), full_page=True)
