"""The session list and the session view, run in-process with ``streamlit.testing`` (AppTest)
on a store of conversations written by the real tracer (``tests/_session_store.py``), on a
DuckDB file and on a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import tracer
from viewer import _data, _session

from . import _session_store as ss
from . import _viewer_store as vs
from .conftest import ENGINES

run = vs.run


@pytest.fixture(scope="module", params=ENGINES)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    path: Any = tmp_path_factory.mktemp("sessions") / "spyglass.duckdb"
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        path = server.create_database(server.new_name("sessions"))
    return path, ss.build(path)


@pytest.fixture
def app(built: tuple[Any, list[str]], monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return vs.app_on(built[0], monkeypatch)


@pytest.fixture(autouse=True)
def _fresh_resource_cache() -> Iterator[None]:
    _data.store.clear()  # Store objects are cached by path across AppTests
    yield


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def markdowns(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def heads(at: AppTest) -> list[str]:
    """Each turn's first line, in order (the Markdown with the turn's number)."""
    return [m.value for m in at.markdown if "**Turn " in m.value]


# --- the session list --------------------------------------------------------------------
def test_the_switch_opens_the_session_list(app: AppTest) -> None:
    at = run(app)
    at.button_group[0].set_value("Sessions").run()  # the Traces | Sessions | Dashboards switch
    assert not at.exception and at.query_params["view"] == "sessions"
    table = at.dataframe[0].value
    assert list(table["session"]) == [ss.SESSION, ss.SINGLE]
    chat = table.iloc[0]
    assert (chat["user"], chat["turns"], chat["suspected"], chat["blocked"], chat["modified"], chat["errors"]) == (
        ss.USER,
        4,
        1,
        1,
        0,
        1,
    )
    assert chat["tokens"] == 1000 + 80 and chat["cost ($)"] == pytest.approx(0.01)
    assert "2 sessions · page 1 of 1 · most recently active first" in [c.value for c in at.caption]


def test_the_sidebar_filters_pick_the_turns_counted(app: AppTest) -> None:
    at = run(app, view="sessions")
    at.selectbox(key="hallucination").select("suspected").run()
    table = at.dataframe[0].value
    assert list(table["session"]) == [ss.SESSION] and list(table["turns"]) == [1]
    assert any("the numbers count the turns matching the filters" in c.value for c in at.caption)
    at.selectbox(key="user_id").select(ss.SINGLE_USER).run()  # and no suspected turn of u-9's
    assert not at.dataframe and "No session has a trace matching these filters." in at.info[0].value


def test_open_a_session_from_the_list(app: AppTest, built: tuple[Any, list[str]]) -> None:
    at = run(app, view="sessions")
    at.selectbox(key="open_session").select(ss.SESSION).run()
    assert at.query_params["session"] == ss.SESSION and "view" not in at.query_params
    assert len(heads(at)) == 4


def test_a_store_without_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nosessions.duckdb"
    tracer.configure(db=path)
    with tracer.span("ping"):
        pass
    assert tracer.flush()
    at = run(vs.app_on(path, monkeypatch), view="sessions")
    assert "No trace in this store has a session id yet" in at.info[0].value and not at.dataframe


def test_an_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()  # created by a writer that has not migrated it yet
    at = run(vs.app_on(path, monkeypatch), view="sessions")
    assert "No trace in this store has a session id yet" in at.info[0].value
    at = run(vs.app_on(path, monkeypatch), session=ss.SESSION)
    assert f"No trace in this store has session id {ss.SESSION.replace('-', chr(92) + '-')}" in at.warning[0].value


# --- one session ------------------------------------------------------------------------
def test_the_conversation_in_order_with_answers_and_verdicts(app: AppTest) -> None:
    at = run(app, session=ss.SESSION)
    assert at.subheader[0].value == "Session s\\-support\\-42"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["turns"] == "4" and metrics["tokens"] == "1,080" and metrics["cost"] == "$0.01000"
    summary = markdowns(at)
    assert ":red-badge[1 suspected hallucination] :red-badge[1 blocked answer] :red-badge[1 error]" in summary
    # Question, then the answer the user received, turn after turn, oldest first.
    expected = []
    for turn in ss.TURNS:
        expected.append(turn.question)
        expected.append(turn.received if not turn.fails else "(no answer: the turn failed; its trace shows the error)")
    assert texts(at) == expected
    assert "hunter2" not in "\n".join(texts(at))  # the blocked answer is never shown as received
    first, second, third, fourth = heads(at)
    assert first.startswith(":green[:material/check_circle:] **Turn 1**")
    assert second.startswith(":red[:material/warning: **Turn 2** · hallucination suspected]")
    assert third.startswith(":red[:material/warning: **Turn 3** · blocked]")
    assert fourth.startswith(":red[:material/warning: **Turn 4** · error]")
    assert all("ms" in h and "tokens" in h for h in (first, second, third, fourth))
    # The trace detail's badges under each turn: grounded green, suspected red, blocked and gray grounding.
    assert ":green-badge[grounding: grounded" in summary and ":red-badge[grounding: hallucination suspected" in summary
    assert ":red-badge[blocked by secret\\_filter] :gray-badge[grounding \\(before post\\-processing\\)" in summary
    assert [c.value for c in at.caption].count("blocked by secret\\_filter: what the user received") == 1


def test_a_session_of_one_turn(app: AppTest) -> None:
    at = run(app, session=ss.SINGLE)
    assert len(heads(at)) == 1 and ":blue[:material/edit: **Turn 1** · modified]" in heads(at)[0]
    assert texts(at) == [ss.SINGLE_TURN.question, ss.REDACTED_TEXT]
    assert ":blue-badge[1 modified answer]" in markdowns(at)
    assert {m.label: m.value for m in at.metric}["turns"] == "1"
    assert any(c.value.startswith("user u\\-9 · ") for c in at.caption)


def test_an_unknown_session(app: AppTest) -> None:
    at = run(app, session="s-nobody")
    assert "No trace in this store has session id s\\-nobody (yet)" in at.warning[0].value
    at.button(key="back").click().run()
    assert at.query_params["view"] == "sessions" and "session" not in at.query_params


def test_open_a_turns_trace_and_come_back(app: AppTest, built: tuple[Any, list[str]]) -> None:
    _, ids = built
    at = run(app, session=ss.SESSION)
    at.button(key=f"open-turn-{ids[2]}").click().run()
    assert at.query_params["trace"] == ids[2] and "session" not in at.query_params
    # The trace detail links back into its conversation.
    at.button(key="open_session_of_trace").click().run()
    assert at.query_params["session"] == ss.SESSION and "trace" not in at.query_params
    assert len(heads(at)) == 4


def test_the_trace_list_filtered_on_a_session_opens_it(app: AppTest) -> None:
    at = run(app)
    assert not [b for b in at.button if b.key == "open_filtered_session"]
    at.selectbox(key="session_id").select(ss.SINGLE).run()
    at.button(key="open_filtered_session").click().run()
    assert at.query_params["session"] == ss.SINGLE and texts(at)[0] == ss.SINGLE_TURN.question


def test_turns_are_paged(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_session, "TURNS_PER_PAGE", 3)
    at = run(app, session=ss.SESSION)
    assert [h.split("**")[1] for h in heads(at)] == ["Turn 1", "Turn 2", "Turn 3"]
    assert "turns 1–3 of 4, oldest first" in [c.value for c in at.caption]
    at.get("pagination")[0].set_value(2).run()
    assert not at.exception and [h.split("**")[1] for h in heads(at)] == ["Turn 4"]
    assert texts(at)[0] == ss.TURNS[3].question


def test_stored_text_is_never_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "xss.duckdb"
    nasty_session, nasty_question = "s-<b>x</b>-**y**-![i](http://x/i.png)", "<script>alert(1)</script> **bold**?"
    with vs.no_export_grounding():
        tracer.configure(db=path)

    @tracer.trace_step(name="bot")
    def bot(question: str) -> str:
        return "<img src=x onerror=alert(1)> :red[not red]"

    with tracer.trace_attributes(session_id=nasty_session, user_id="u-<i>1</i>"):
        bot(nasty_question)
    assert tracer.flush()
    at = run(vs.app_on(path, monkeypatch), session=nasty_session)
    assert texts(at) == [nasty_question, "<img src=x onerror=alert(1)> :red[not red]"]  # st.text: as is
    shown = markdowns(at) + at.subheader[0].value + "".join(c.value for c in at.caption)
    assert "<b>" not in shown and "**y**" not in shown and "![i]" not in shown and "<i>" not in shown
    at = run(vs.app_on(path, monkeypatch), view="sessions")
    assert list(at.dataframe[0].value["session"]) == [nasty_session]
