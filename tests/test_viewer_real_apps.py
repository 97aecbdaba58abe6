"""The viewer on the shapes real apps take (issue 9), in streamlit.testing and in a real browser.

The store is written by ordinary user programs in their own processes
(``tests/_viewer_store.py``, ``build_real_apps``): decorators, the instrumented openai client
answering from a recorded cassette, ``tracer.configure(db=...)`` and ``tracer.flush()``, with
the export-time grounding check on. What the tests look for:

- names: spans are named after the user's functions, with the model beside them;
- a ``@trace_llm`` function around the openai client is one call, and its detail shows the
  client call's messages and usage, saying where they come from;
- the README pattern with nothing enclosing it: the answer's Context panel says retrieval ran
  in another trace, links it, and gives the fix; its Decisions panel says the same of the guard;
- an answer with no retrieval at all: how to record context;
- blocked and modified answers: what the user received first, the original "before
  post-processing", never a green "grounded" for a blocked answer; the outcome filter.

Browser screenshots go to ``$SPYGLASS_SCREENSHOTS`` when set, else the test's tmp dir.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from . import _viewer_store as vs
from ._viewer_store import captions, markdowns, texts
from .test_viewer_browser import _browser_or_skip, _panel, _pick, chromium_page, serve

Built = tuple[Path, dict[str, Any]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("real-apps") / "spyglass.duckdb"
    return path, vs.build_real_apps(path)


@pytest.fixture(autouse=True)
def _fresh_resource_cache() -> Iterator[None]:
    yield
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def _app(built: Built, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    return vs.run(vs.app_on(built[0], monkeypatch), **query)


def plain(value: str) -> str:
    """Markdown as the user reads it: ``md()``'s backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", value)


def query(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def rows(at: AppTest) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in at.dataframe[0].value.to_dict("records"):
        out.setdefault(r["root"], []).append(r)
    return out


# --- names and logical calls -----------------------------------------------------------------
def test_list_counts_a_decorator_around_the_client_once_and_flags_the_outcome(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(built, monkeypatch)
    found = rows(at)
    assert set(found) == {
        "answer_from_memory",
        "search_kb",
        "answer_joined",
        "length_guard",
        "answer",
        "rag",
        "rag_blocked",
        "rag_redacted",
        "order_status",
        "oi_rag",
    }  # function names, not "chat gpt-4o-mini"
    for root in ("answer_from_memory", "answer_joined", "answer", "rag", "rag_blocked", "rag_redacted"):
        [r] = found[root]
        assert r["LLM calls"] == 1 and r["tokens"] == sum(vs.REAL_TOKENS), root
    assert found["rag_blocked"][0]["flags"] == "blocked" and found["rag_redacted"][0]["flags"] == "modified"
    assert found["rag"][0]["flags"] == ""
    # The pickers name traces by function, with the model beside it.
    picker = at.selectbox(key="open_trace")
    label = picker.format_func(built[1]["rag_blocked"])
    assert " · rag_blocked · gpt-4o-mini" in label and " · blocked · " in label


def test_outcome_filter(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(built, monkeypatch)
    for outcome, expected in (("blocked", {"rag_blocked"}), ("modified", {"rag_redacted"})):
        at.selectbox(key="outcome").select(outcome)
        at = vs.run(at)
        assert set(rows(at)) == expected, outcome
    at.selectbox(key="outcome").select("delivered")
    at = vs.run(at)
    assert "rag" in rows(at) and not {"rag_blocked", "rag_redacted"} & set(rows(at))


def test_detail_opens_on_the_logical_call_with_the_client_calls_messages_and_usage(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = built[1]["rag"]
    at = _app(built, monkeypatch, trace=tid)
    span_box = at.selectbox(key=f"span-{tid}")
    options = [o.replace("\u00a0", " ").replace("└ ", "").strip() for o in span_box.options]
    assert [o.split(" · ")[:3] for o in options] == [
        ["rag", "step", options[0].split(" · ")[2]],
        ["search_kb", "retriever", options[1].split(" · ")[2]],
        ["answer", "gpt-4o-mini", "llm"],
        ["chat gpt-4o-mini", "gpt-4o-mini-2024-07-18", "llm (inside answer)"],
        ["length_guard", "postprocess", options[4].split(" · ")[2]],
    ]
    assert span_box.value == 2  # the @trace_llm function, not the client call inside it
    assert at.subheader[1].value == "answer"
    assert "llm · chat · status" in texts(at) and "model gpt-4o-mini" in texts(at)
    caps = plain(captions(at))
    assert "messages from the openai call inside: chat gpt-4o-mini" in caps
    assert "tokens and cost from the openai call inside: chat gpt-4o-mini" in caps
    assert "Say this is a test" in texts(at) and vs.KB[0]["content"] in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["LLM calls"] == "1" and metrics["tokens"] == str(sum(vs.REAL_TOKENS))
    assert (metrics["input tokens"], metrics["output tokens"]) == tuple(str(n) for n in vs.REAL_TOKENS)
    # The client call itself: its own messages and usage, and where it is counted.
    at = _app(built, monkeypatch, trace=tid, span=_span_id(built, "rag", "chat gpt-4o-mini"))
    caps = plain(captions(at))
    assert "messages from" not in caps and "nested in answer: counted as part of that LLM call" in caps


def _span_id(built: Built, root: str, name: str) -> str:
    import tracer

    data = tracer.Store(built[0]).get_trace(built[1][root])
    assert data is not None
    return next(str(s["span_id"]) for s in data["spans"] if s["name"] == name)


# --- context: shown, missing, and why --------------------------------------------------------
def test_readme_pattern_inside_a_step_shows_its_context(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(built, monkeypatch, trace=built[1]["rag"])
    assert "2 documents: 2 in the prompt, 0 truncated, 0 dropped" in captions(at)
    assert vs.KB[0]["content"] in texts(at) and not at.warning
    assert "grounding: grounded" in plain(markdowns(at)) and ":green-badge[grounding" in markdowns(at)


def test_readme_pattern_without_an_enclosing_step_says_retrieval_ran_in_another_trace(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = built[1]
    at = _app(built, monkeypatch, trace=ids["answer_joined"])
    warnings = [plain(w.value) for w in at.warning]
    assert any(
        "No context for this answer" in w and "Retrieval ran in another trace" in w and "nothing encloses both" in w
        for w in warnings
    )
    assert any("Post-processing ran in another trace" in w for w in warnings)
    code = texts(at)
    assert "@tracer.trace_step" in code and "docs = search_kb(question)" in code
    assert "return length_guard(answer_joined(question, docs))" in code and 'with tracer.span("pipeline")' in code
    assert 'README.md, section "Tracing your code" (#tracing-your-code)' in plain(captions(at))
    [link] = [b for b in at.button if plain(b.label).startswith("open the retrieval trace: search_kb")]
    assert "earlier" in link.label
    link.click()
    at = vs.run(at)
    assert query(at, "trace") == ids["search_kb"][0]  # the retrieval of this request
    assert at.subheader[0].value == "search\\_kb" and vs.KB[0]["content"] in texts(at)


def test_documents_passed_as_arguments_are_the_context_and_the_guard_elsewhere_is_named(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = built[1]
    at = _app(built, monkeypatch, trace=ids["answer"])
    assert "2 documents: 2 in the prompt" in captions(at) and vs.KB[0]["content"] in texts(at)
    [warning] = [plain(w.value) for w in at.warning]
    assert "Post-processing ran in another trace" in warning
    [link] = [b for b in at.button if plain(b.label).startswith("open the post-processing trace: length_guard")]
    link.click()
    at = vs.run(at)
    assert query(at, "trace") == ids["length_guard"][1]  # this request's guard, not the one before


def test_an_answer_with_no_retrieval_anywhere_says_how_to_record_context(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kb-app retrieved in the seconds before, but chat-app is another service: not its retrieval.
    at = _app(built, monkeypatch, trace=built[1]["answer_from_memory"])
    [info] = [plain(i.value) for i in at.info if "context" in i.value]
    assert "No context was recorded for this answer" in info
    assert "@tracer.trace_retriever" in info and 'context="docs"' in info and "answer(question, docs)" in info
    assert not at.warning and 'section "Tracing your code"' in plain(captions(at))


def test_a_tool_result_is_context_and_the_sentence_names_it(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(built, monkeypatch, trace=built[1]["order_status"])
    assert "**tool results** (1)" in markdowns(at) and vs.ORDER_RESULT in texts(at)
    assert not at.warning and not [i for i in at.info if "context" in i.value]
    [best] = [b for b in at.button if plain(b.label).startswith("best source: the tool result lookup_order")]
    best.click()
    at = vs.run(at)
    assert "best tool result] for sentence 1" in markdowns(at)


def test_a_call_traced_by_openinference_reads_like_ours(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenInference keeps messages under llm.input_messages.N...: the panels read them mapped
    # (tracer.conventions), the Raw attributes box shows them as stored.
    at = _app(built, monkeypatch, trace=built[1]["oi_rag"])
    assert at.subheader[1].value == "ChatCompletion"
    md = markdowns(at)
    assert "**system**" in md and "**user**" in md and ":green-badge[supported] · sentence 1" in md
    shown = [t.value for t in at.text]
    assert "Say this is a test" in shown and vs.REAL_ANSWER in shown
    assert "2 documents: 2 in the prompt, 0 truncated, 0 dropped" in captions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["input tokens"], metrics["output tokens"]) == tuple(str(n) for n in vs.REAL_TOKENS)
    raw = next(c.value for c in at.code if '"llm.input_messages.0.message.role"' in c.value)
    assert '"gen_ai.input.messages"' not in raw


# --- what the user received ------------------------------------------------------------------
def _header(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "badge[grounding" in m.value)


def test_a_blocked_answer_says_blocked_and_its_grounding_is_before_post_processing(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(built, monkeypatch, trace=built[1]["rag_blocked"])
    header = _header(at)
    assert ":red-badge[blocked by policy\\_filter]" in header
    assert "green" not in header and ":gray-badge[grounding (before post-processing): grounded" in plain(header)
    md = plain(markdowns(at))
    assert "**what the user received**" in md and "**before post-processing**" in md
    assert ":gray-badge[grounded · before post-processing]" in md and ":green-badge[grounded" not in md
    shown = [t.value for t in at.text]
    assert shown.index(vs.BLOCKED_TEXT) < shown.index(vs.REAL_ANSWER)  # received first, the original below
    assert "reason: the policy check failed" in plain(captions(at))


def test_a_modified_answer_shows_what_was_delivered_then_the_original(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(built, monkeypatch, trace=built[1]["rag_redacted"])
    header = _header(at)
    assert ":blue-badge[modified by redact\\_terms]" in header and "green" not in header
    md = plain(markdowns(at))
    assert "**what the user received**" in md and "**before post-processing**" in md
    shown = [t.value for t in at.text]
    assert shown.index(vs.REDACTED_TEXT) < shown.index(vs.REAL_ANSWER)


# --- the same in a real browser --------------------------------------------------------------
def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(built: Built) -> Iterator[tuple[str, dict[str, Any], Path]]:
    _browser_or_skip()
    with serve(built[0]) as url:
        yield url, built[1], built[0]


@pytest.fixture(scope="module")
def page(server: tuple[str, dict[str, Any], Path]) -> Iterator[Any]:
    with chromium_page() as pg:
        yield pg


def _header_badges(page: Any) -> list[tuple[str, str]]:
    """(text, background colour) of the trace header's badges."""
    first = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="grounding").first
    first.wait_for()
    return [
        (b.inner_text(), b.evaluate("e => getComputedStyle(e).backgroundColor"))
        for b in first.locator("span").all()
        if b.inner_text().strip()
    ]


def test_browser_readme_pattern_without_an_enclosing_step(
    server: tuple[str, dict[str, Any], Path], page: Any, tmp_path: Path
) -> None:
    url, ids, _ = server
    page.goto(f"{url}/?trace={ids['answer_joined']}")
    hint = page.locator(".st-key-context-missing")
    hint.get_by_text("Retrieval ran in another trace", exact=False).wait_for()
    page.locator(".st-key-decisions-elsewhere").get_by_text("length_guard", exact=False).first.wait_for()
    hint.locator('[data-testid="stCode"]').get_by_text("search_kb", exact=False).wait_for()
    context = _panel(page, "context")
    assert "No context for this answer" in context and "@tracer.trace_step" in context
    assert "docs = search_kb(question)" in context and 'README.md, section "Tracing your code"' in context
    page.screenshot(path=str(_shots(tmp_path) / "real-1-readme-without-enclosing-step.png"), full_page=True)
    hint.get_by_role("button", name=re.compile("open the retrieval trace: search_kb")).click()
    page.wait_for_url(re.compile(f"trace={ids['search_kb'][0]}"))
    page.get_by_role("heading", name="search_kb").first.wait_for()


def test_browser_readme_pattern_inside_a_step_decorator_and_client(
    server: tuple[str, dict[str, Any], Path], page: Any, tmp_path: Path
) -> None:
    url, ids, _ = server
    page.goto(f"{url}/?trace={ids['rag']}")
    page.get_by_role("heading", name="answer", exact=True).wait_for()
    page.locator(".st-key-panel-prompt").get_by_text("messages from the openai call inside", exact=False).wait_for()
    page.get_by_text("tokens and cost from the openai call inside", exact=False).wait_for()
    context, prompt = _panel(page, "context"), _panel(page, "prompt")
    assert vs.KB[0]["content"] in context and "in prompt: exact match" in context
    assert "No context" not in context and "Say this is a test" in prompt
    page.locator('[data-testid="stMetric"]').filter(has_text="input tokens").wait_for()
    metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any(m.split("\n")[0] == "LLM calls" and m.split("\n")[-1] == "1" for m in metrics)
    assert any(m.split("\n")[0] == "input tokens" and m.split("\n")[-1] == str(vs.REAL_TOKENS[0]) for m in metrics)
    page.screenshot(path=str(_shots(tmp_path) / "real-2-readme-inside-a-step.png"), full_page=True)
    # The span box open: the decorated function and the client call inside it, each with its model.
    page.get_by_role("combobox", name="Span", exact=True).click()
    options = page.get_by_role("option").all_inner_texts()
    assert any(
        o.startswith("└ answer · gpt-4o-mini · llm") for o in (x.replace("\u00a0", " ").strip() for x in options)
    )
    assert any("chat gpt-4o-mini · gpt-4o-mini-2024-07-18 · llm (inside answer)" in o for o in options)
    page.screenshot(path=str(_shots(tmp_path) / "real-3-decorator-and-openai-client.png"), full_page=True)
    page.keyboard.press("Escape")


def test_browser_blocked_answer(server: tuple[str, dict[str, Any], Path], page: Any, tmp_path: Path) -> None:
    url, ids, _ = server
    page.goto(f"{url}/?trace={ids['rag_blocked']}")
    page.locator(".st-key-received").get_by_text(vs.BLOCKED_TEXT).wait_for()
    badges = _header_badges(page)
    texts = [t for t, _ in badges]
    assert texts[0] == "blocked by policy_filter" and "grounding (before post-processing): grounded" in texts[1]
    green = [t for t, colour in badges if _greenish(colour)]
    assert green == [], badges
    output = _panel(page, "output")
    assert (
        output.index("what the user received")
        < output.index(vs.BLOCKED_TEXT)
        < output.index("before post-processing")
        < output.rindex(vs.REAL_ANSWER)
    )
    page.screenshot(path=str(_shots(tmp_path) / "real-4-blocked-answer.png"), full_page=True)


def _greenish(colour: str) -> bool:
    nums = [float(n) for n in re.findall(r"[\d.]+", colour)[:3]]
    return len(nums) == 3 and nums[1] > nums[0] + 20 and nums[1] > nums[2] + 20


def _cells_once_shown(page: Any, cells: Any, want: str, timeout_s: float = 15.0) -> list[str]:
    """The table's cell texts once ``want`` is among them (or at the timeout). The caption
    ("1 trace ·") is drawn before the data grid refills its cells, so waiting for the caption
    or for a cell to be attached can still read the grid between two renders (CI saw [])."""
    deadline = time.monotonic() + timeout_s
    while True:
        shown = [str(t) for t in cells.all_text_contents()]
        if want in shown or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(100)


def test_browser_outcome_filter_and_names_in_the_list(
    server: tuple[str, dict[str, Any], Path], page: Any, tmp_path: Path
) -> None:
    url, _ids, _ = server
    page.goto(url)
    page.locator('[data-testid="stDataFrame"]').wait_for()
    page.get_by_text("12 traces").wait_for()
    cells = page.locator('[data-testid="stDataFrame"] tbody td')
    cells.first.wait_for(state="attached")
    shown = cells.all_text_contents()
    assert {"answer_joined", "search_kb", "length_guard", "rag", "rag_blocked"} <= set(shown)
    assert "chat gpt-4o-mini" not in shown  # roots are the user's functions
    page.screenshot(path=str(_shots(tmp_path) / "real-0-trace-list.png"), full_page=True)
    _pick(page, "Outcome", "blocked")
    page.get_by_text("1 trace ·").wait_for()
    shown = _cells_once_shown(page, cells, "rag_blocked")
    assert "rag_blocked" in shown and "rag" not in shown
    page.screenshot(path=str(_shots(tmp_path) / "real-5-outcome-filter.png"), full_page=True)
    _pick(page, "Outcome", "(any)")
    page.get_by_text("12 traces").wait_for()
