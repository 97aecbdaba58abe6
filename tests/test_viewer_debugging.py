"""The viewer's hallucination-debugging screens, in-process with AppTest: the highlighted
answer and its best documents, context provenance, the trace list's flag and filter,
compare, annotate and replay (on a mock transport). Two stores: the small one of
``_viewer_store.py`` and the ``spyglass demo`` RAG app's, both written by the real tracer."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import tracer
from viewer import _data, _replay

from . import _viewer_store as vs
from ._viewer_store import captions, markdowns, texts
from .openai_support import http

BATTERY_Q = "What battery does the L2 use and how long does a charge last?"
BRIGHTNESS_Q = "How many brightness levels does the L2 have?"
S1 = "The Lighthouse L2 uses a 4,000 mAh lithium-ion battery."
S2 = "A full charge lasts about 18 hours, and the battery is made in Norway. [kb-battery]"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("viewer-dbg") / "spyglass.duckdb"
    return path, vs.build(path)


def build_demo(path: Path) -> dict[str, str]:
    """The demo store (local stand-in model), with the battery answer's grounding result
    written in the shape ``tracer.grounding`` stores. Returns trace ids by question."""
    from viewer.demo import build_demo_store

    key = os.environ.pop("OPENAI_API_KEY", None)  # the demo must use its offline stand-in
    try:
        with vs.no_export_grounding():
            build_demo_store(str(path), echo=False)
    finally:
        if key is not None:
            os.environ["OPENAI_API_KEY"] = key
    store = tracer.Store(path)
    by_question = {}
    for t in store.list_traces(limit=100):
        data = store.get_trace(t["trace_id"])
        root = next(s for s in data["spans"] if s["parent_span_id"] is None)  # type: ignore[index]
        by_question[json.loads(root["attributes"]["input.value"])["text"]] = str(t["trace_id"])
    battery = by_question[BATTERY_Q]
    answer = f"{S1} {S2}"
    report = vs.grounding_report(
        [
            {
                "text": S1,
                "start": 0,
                "end": len(S1),
                "supported": True,
                "score": 0.99,
                "best_document_id": "kb-battery",
            },
            {
                "text": S2,
                "start": len(S1) + 1,
                "end": len(answer),
                "supported": False,
                "score": 0.35,
                "best_document_id": "kb-battery",
                "unsupported_numbers": ["18"],
                "unsupported_entities": ["Norway"],
            },
        ],
        "hallucination",
        0.35,
    )
    store.add_evaluations(
        [
            {
                "trace_id": battery,
                "span_id": vs.llm_span(path, battery),
                "name": "grounding",
                "label": "hallucination",
                "score": 0.35,
                "explanation": "1 of 2 sentences unsupported",
                "details": report,
            }
        ]
    )
    return by_question


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("viewer-demo") / "demo.duckdb"
    return path, build_demo(path)


app_on, run = vs.app_on, vs.run


def frame(at: AppTest, column: str) -> Any:
    """The shown table that has this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def roots(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["root"]) if at.dataframe else []


@pytest.fixture(autouse=True)
def _fresh_resource_cache() -> Iterator[None]:
    _data.store.clear()
    yield


# --- 1. the answer, sentence by sentence -------------------------------------------------
def test_unsupported_sentence_highlighted_as_text_with_no_document(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(app_on(built[0], monkeypatch), trace=built[1]["xss_pipeline"])
    md = markdowns(at)
    assert ":red-badge[hallucination suspected]" in md and "score 0\\.00 · 1 of 1 sentences unsupported" in captions(at)
    assert ":red-badge[unsupported] · sentence 1 · score 0.00" in md
    assert vs.XSS_OUTPUT in [t.value for t in at.text]  # st.text: the markup stays characters
    assert "no supporting document" in captions(at)
    assert "**names in no document**" in md and "bold" in [t.value for t in at.text]
    assert not any("<script" in m.value or "<b>" in m.value for m in at.markdown)


def test_best_document_button_brings_it_forward_in_context(
    demo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = demo[1][BATTERY_Q]
    at = run(app_on(demo[0], monkeypatch), trace=tid)
    md = markdowns(at)
    assert ":green-badge[supported] · sentence 1 · score 0.99" in md
    assert ":red-badge[unsupported] · sentence 2 · score 0.35" in md
    shown = [t.value for t in at.text]
    assert S1 in shown and S2 in shown and "18" in shown and "Norway" in shown
    span = vs.llm_span(demo[0], tid)
    button = at.button(key=f"best-{span}-2")
    assert button.label == "best document: kb\\-battery (#1) → Context"
    assert "best document for sentence" not in md
    button.click().run()
    # drawn first in the Context panel: the badge, then what kb-battery really says
    md = markdowns(at)
    assert ":blue-badge[best document] for sentence 2\n**#1** · kb\\-battery" in md
    assert "12 hours at medium brightness" in texts(at)


def test_context_provenance_truncated_and_dropped(
    demo: tuple[Path, dict[str, str]], built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(app_on(demo[0], monkeypatch), trace=demo[1][BATTERY_Q])
    assert "3 documents: 2 in the prompt, 1 truncated, 0 dropped" in captions(at)
    md = markdowns(at)
    # build_prompt cuts the third document at its 420-character budget
    assert "**#3** · kb\\-warranty · score" in md, md
    kept, total = map(
        int, re.search(r":orange-badge\[truncated: first (\d+) of (\d+) characters in prompt\]", md).groups()
    )  # type: ignore[union-attr]
    assert 0 < kept < total
    _data.store.clear()
    at = run(app_on(built[0], monkeypatch), trace=built[1]["rag_pipeline"])
    assert "3 documents: 2 in the prompt, 0 truncated, 1 dropped" in captions(at)
    assert ":gray-badge[dropped: not in prompt]" in markdowns(at)


# --- 3. the trace list: flag and filter --------------------------------------------------
def test_hallucination_column_and_filter(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(app_on(built[0], monkeypatch))
    rows = {r["root"]: r["hallucination"] for r in at.dataframe[0].value.to_dict("records")}
    assert rows == {
        "warmup_probe": "",
        "failing_pipeline": "",
        "slow_step": "",
        "xss_pipeline": "suspected",
        "rag_pipeline": "",
    }
    at.selectbox(key="hallucination").set_value("suspected").run()
    assert roots(at) == ["xss_pipeline"]
    at.selectbox(key="hallucination").set_value("not suspected").run()
    assert set(roots(at)) == {"warmup_probe", "failing_pipeline", "slow_step", "rag_pipeline"}


# --- 4. compare --------------------------------------------------------------------------
def test_compare_by_url_diffs_and_deltas(demo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = demo[1][BATTERY_Q], demo[1][BRIGHTNESS_Q]
    at = run(app_on(demo[0], monkeypatch), compare=f"{a},{b}")
    assert at.subheader[0].value == "Compare two traces"
    shown = [t.value for t in at.text]
    assert f"{S1} {S2}" in shown and any(s.startswith("The L2 has five brightness levels") for s in shown)
    deltas = frame(at, "B − A").set_index("metric")
    store = tracer.Store(demo[0])
    ta, tb = (store.get_trace(x)["trace"] for x in (a, b))  # type: ignore[index]
    want = (tb["input_tokens"] + tb["output_tokens"]) - (ta["input_tokens"] + ta["output_tokens"])
    assert deltas.loc["total tokens", "B − A"] == (f"+{want:,}" if want > 0 else f"{want:,}")
    assert deltas.loc["grounding score", "A"] == "0.35" and deltas.loc["grounding score", "B"] == "-"
    assert deltas.loc["unsupported sentences", "A"] == "1"
    diffs = [c.value for c in at.code if c.language == "diff"]
    output_diff, prompt_diff = diffs
    assert (
        "-A full charge lasts about 18 hours, and the battery is made in Norway." in output_diff
        and "+The L2 has five brightness levels" in output_diff
    )
    assert f"-user: {BATTERY_Q}" in prompt_diff and f"+user: {BRIGHTNESS_Q}" in prompt_diff
    context = frame(at, "status")
    status = dict(zip(context["document"], context["status"]))
    assert status == {"kb-battery": "moved", "kb-outdoor": "removed", "kb-warranty": "moved", "kb-brightness": "added"}
    ranks = {r["document"]: (r["rank A"], r["rank B"]) for r in context.to_dict("records")}
    assert ranks["kb-battery"] == ("1", "3")
    assert ranks["kb-outdoor"][1] == "—" and ranks["kb-brightness"][0] == "—"  # on one side only
    at.button(key="open-a").click().run()
    assert at.query_params["trace"] == [a] or at.query_params["trace"] == a


def test_compare_two_traces_picked_in_the_list(
    built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(app_on(built[0], monkeypatch))
    assert at.button(key="compare_go").disabled
    pick = next(m for m in at.multiselect if m.label == "Compare two traces")
    a, b = built[1]["rag_pipeline"], built[1]["xss_pipeline"]
    pick.set_value([a, b]).run()
    assert not at.button(key="compare_go").disabled
    at.button(key="compare_go").click().run()
    assert at.query_params["compare"] in (f"{a},{b}", [f"{a},{b}"])
    assert at.subheader[0].value == "Compare two traces"
    context = frame(at, "status")
    assert list(context["status"]) == ["removed"] * 3  # the xss trace retrieved nothing


def test_compare_with_an_unknown_trace(built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(app_on(built[0], monkeypatch), compare=f"{built[1]['rag_pipeline']},{'0' * 32}")
    assert at.warning and "No trace" in at.warning[0].value


# --- 5. annotate ---------------------------------------------------------------------------
def test_annotate_a_span_and_a_trace(
    built: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "annotate.duckdb"
    shutil.copy(built[0], path)
    tid = built[1]["rag_pipeline"]
    span = vs.llm_span(path, tid)
    before = tracer.Store(path).get_trace(tid)
    at = run(app_on(path, monkeypatch), trace=tid)
    assert "**Annotations** (0)" in markdowns(at)
    at.radio(key="ann_label").set_value("hallucination")
    at.text_area(key="ann_note").input("cites d1 but d1 says nothing about <b>this</b>")
    at.text_input(key="ann_author").input("maya")
    at.button(key="ann_save").click().run()
    assert not at.exception and at.success[0].value == "Saved: hallucination on this span."
    assert "**Annotations** (1)" in markdowns(at)
    table = frame(at, "author")
    assert list(table["on"]) == ["span chat gpt-4o"] and list(table["author"]) == ["maya"]
    at.radio(key="ann_label").set_value("correct")
    at.radio(key="ann_scope").set_value("the whole trace")
    at.button(key="ann_save").click().run()
    store = tracer.Store(path)
    saved = [(a["trace_id"], a["span_id"], a["label"], a["note"], a["author"]) for a in store.annotations()]
    assert saved == [
        (tid, span, "hallucination", "cites d1 but d1 says nothing about <b>this</b>", "maya"),
        (tid, None, "correct", "", "maya"),
    ]
    after = store.get_trace(tid)
    assert after["spans"] == before["spans"]  # type: ignore[index]  # span rows never touched
    assert tid in {t["trace_id"] for t in store.list_traces(tracer.TraceFilter(hallucination=True))}
    assert ":blue-badge[annotations: 1 hallucination\\, 1 correct]" in markdowns(at)


def test_annotate_without_a_label_says_so(
    built: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "annotate.duckdb"
    shutil.copy(built[0], path)
    at = run(app_on(path, monkeypatch), trace=built[1]["rag_pipeline"])
    at.button(key="ann_save").click().run()
    assert at.warning[0].value == "Pick a label first." and tracer.Store(path).annotations() == []


# --- 6. replay -------------------------------------------------------------------------------
def test_replay_is_disabled_without_an_api_key(
    demo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    tid = demo[1][BATTERY_Q]
    at = run(app_on(demo[0], monkeypatch), trace=tid)
    button = at.button(key=f"replay-go-{vs.llm_span(demo[0], tid)}")
    assert button.disabled
    assert any("set OPENAI_API_KEY" in i.value and "never stored" in i.value for i in at.info)


class FakeOpenAI:
    """A mock transport for the real client: records each request, answers with ``reply``."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: Any) -> Any:
        body = json.loads(request.content)
        self.requests.append(body)
        return http.Response(
            200,
            json={
                "id": "chatcmpl-replay",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": self.reply}}
                ],
                "usage": {"prompt_tokens": 90, "completion_tokens": 12, "total_tokens": 102},
            },
        )

    def client(self) -> Any:
        import openai

        return openai.OpenAI(
            api_key="x",
            max_retries=0,
            http_client=openai.DefaultHttpxClient(transport=http.MockTransport(self.handler)),
        )


@pytest.mark.parametrize("mode", ["remove a document", "edit the prompt"])
def test_replay_with_a_mock_transport(
    demo: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    fake = FakeOpenAI("The Lighthouse L2 uses a 4,000 mAh lithium-ion battery. A full charge lasts about 12 hours.")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setattr(_replay, "make_client", fake.client)
    tid = demo[1][BATTERY_Q]
    sid = vs.llm_span(demo[0], tid)
    at = run(app_on(demo[0], monkeypatch), trace=tid)
    at.radio(key=f"replay-mode-{sid}").set_value(mode).run()
    if mode == "remove a document":
        at.selectbox(key=f"replay-doc-{sid}").set_value("kb-outdoor").run()
    else:
        at.text_area(key=f"replay-msg1-{sid}").input("How long does a charge of the L2 last?").run()
    at.button(key=f"replay-go-{sid}").click().run()
    assert not at.exception
    [sent] = fake.requests
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.2 and "stream" not in sent
    assert sent["tools"][0]["function"]["name"] == "lookup_order"
    system, user = sent["messages"][0]["content"], sent["messages"][1]["content"]
    if mode == "remove a document":
        assert "kb-outdoor" not in system and "[kb-battery]" in system and user == BATTERY_Q
        assert "**after** (replay, without kb\\-outdoor)" in markdowns(at)
    else:
        assert user == "How long does a charge of the L2 last?" and "[kb-outdoor]" in system
        assert "**after** (replay, edited prompt)" in markdowns(at)
    shown = [t.value for t in at.text]
    assert fake.reply in shown and f"{S1} {S2}" in shown  # new beside old
    assert any("tokens 90 in / 12 out" in t for t in shown)
    assert "sk-test" not in json.dumps(at.session_state.to_dict(), default=str)  # the key is not kept
