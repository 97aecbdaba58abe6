"""Editing and deleting annotations: ``Store.update_annotation`` / ``Store.delete_annotation``
(span rows never touched, a concurrent reader never sees a broken store) and the viewer's
Edit and Delete controls (AppTest), with each annotation's full note shown as plain text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import tracer
from tracer.store.reader import AnnotationNotFound
from viewer import _data

from . import _viewer_store as vs
from ._viewer_store import markdowns

# Every table a user's app writes (everything but the annotations themselves).
OTHER_TABLES = ("spans", "events", "documents", "decisions", "traces", "evaluations")
LONG_NOTE = "first line <b>not bold</b> [link](http://example.invalid)\n" + "word " * 200 + "\nlast line"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("annotations-edit") / "spyglass.duckdb"
    return path, vs.build(path)


@pytest.fixture
def store(built: tuple[Path, dict[str, str]], tmp_path: Path) -> tracer.Store:
    path = tmp_path / "edit.duckdb"
    shutil.copy(built[0], path)
    return tracer.Store(path, timeout=10.0)


@pytest.fixture(autouse=True)
def _fresh_resource_cache() -> Iterator[None]:
    _data.store.clear()  # Store objects are cached by path across AppTests in one process
    yield
    _data.store.clear()


def other_rows(store: tracer.Store) -> dict[str, str]:
    """Every row of every non-annotation table, as one comparable text per table."""
    with store.connect() as con:
        return {t: repr(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()) for t in OTHER_TABLES}


def by_id(store: tracer.Store) -> dict[str, dict[str, Any]]:
    return {str(a["id"]): a for a in store.annotations()}


# --- the store ---------------------------------------------------------------------------
def test_update_changes_label_and_note_only(store: tracer.Store, built: tuple[Path, dict[str, str]]) -> None:
    tid = built[1]["rag_pipeline"]
    span = vs.llm_span(Path(store.path), tid)
    aid = store.annotate(tid, "correct", "looks fine", span_id=span, author="maya")
    other = store.annotate(tid, "other", "unrelated")
    before, rows_before = by_id(store), other_rows(store)
    store.update_annotation(aid, label="hallucination", note=LONG_NOTE)
    after = by_id(store)
    assert after[aid] == {**before[aid], "label": "hallucination", "note": LONG_NOTE}
    assert after[other] == before[other]
    assert other_rows(store) == rows_before
    assert tid in {t["trace_id"] for t in store.list_traces(tracer.TraceFilter(hallucination=True))}
    store.update_annotation(aid, note="only the note")
    assert by_id(store)[aid]["label"] == "hallucination" and by_id(store)[aid]["note"] == "only the note"
    store.update_annotation(aid, label="correct")
    assert by_id(store)[aid]["label"] == "correct" and by_id(store)[aid]["note"] == "only the note"


def test_update_refuses_a_bad_label_or_nothing_to_change(
    store: tracer.Store, built: tuple[Path, dict[str, str]]
) -> None:
    aid = store.annotate(built[1]["rag_pipeline"], "correct", "n")
    with pytest.raises(ValueError, match="label must be one of"):
        store.update_annotation(aid, label="wrong")
    with pytest.raises(ValueError, match="give a label or a note"):
        store.update_annotation(aid)
    assert by_id(store)[aid]["label"] == "correct"


def test_delete_removes_one_and_leaves_the_rest(store: tracer.Store, built: tuple[Path, dict[str, str]]) -> None:
    tid = built[1]["rag_pipeline"]
    gone, kept = store.annotate(tid, "hallucination", "by mistake"), store.annotate(tid, "correct", "keep")
    rows_before = other_rows(store)
    assert store.delete_annotation(gone) is True
    assert list(by_id(store)) == [kept]
    assert other_rows(store) == rows_before
    assert tid not in {t["trace_id"] for t in store.list_traces(tracer.TraceFilter(hallucination=True))}


def test_unknown_id_is_a_clear_error(store: tracer.Store, built: tuple[Path, dict[str, str]]) -> None:
    aid = store.annotate(built[1]["rag_pipeline"], "correct")
    rows_before = other_rows(store)
    with pytest.raises(AnnotationNotFound, match="no annotation 'nope' in .*edit.duckdb") as caught:
        store.update_annotation("nope", note="x")
    assert isinstance(caught.value, tracer.StoreError)  # one error type at the boundary
    assert store.delete_annotation("nope") is False
    assert store.delete_annotation(aid) is True
    with pytest.raises(AnnotationNotFound):  # deleted: gone for an edit too
        store.update_annotation(aid, label="other")
    assert store.delete_annotation(aid) is False
    assert other_rows(store) == rows_before


def test_unknown_id_on_a_missing_store_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.duckdb"
    with pytest.raises(tracer.StoreNotFound):
        tracer.Store(path).update_annotation("nope", note="x")
    with pytest.raises(tracer.StoreNotFound):
        tracer.Store(path).delete_annotation("nope")
    assert not path.exists()


def test_a_store_held_by_another_process_is_busy_and_unchanged(
    store: tracer.Store, built: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    aid = store.annotate(built[1]["rag_pipeline"], "correct", "before")
    ready = tmp_path / "held"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, pathlib, sys; con = duckdb.connect(sys.argv[1]); "
                "pathlib.Path(sys.argv[2]).touch(); sys.stdin.readline()"
            ),
            store.path,
            str(ready),
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the holder never opened the store"
        held = tracer.Store(store.path, timeout=0.5)
        with pytest.raises(tracer.StoreBusy):
            held.update_annotation(aid, note="after")
        with pytest.raises(tracer.StoreBusy):
            held.delete_annotation(aid)
    finally:
        holder.communicate("\n", timeout=10)
    assert by_id(store)[aid]["note"] == "before"


READER = """
import json, sys, time
import tracer
store, aid, stop = tracer.Store(sys.argv[1], timeout=30.0), sys.argv[2], sys.argv[3]
import pathlib
seen, busy, reads = set(), 0, 0
deadline = time.monotonic() + 30
while not pathlib.Path(stop).exists() and time.monotonic() < deadline:
    try:
        rows = [a for a in store.annotations() if a["id"] == aid]
    except tracer.StoreBusy:
        busy += 1
        continue
    reads += 1
    seen.add(rows[0]["note"] if rows else "<deleted>")
    seen.add("spans=%d" % store.counts()["spans"])
print(json.dumps({"seen": sorted(seen), "busy": busy, "reads": reads}))
"""


def test_a_reader_in_another_process_sees_old_or_new_never_a_broken_store(
    store: tracer.Store, built: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    aid = store.annotate(built[1]["rag_pipeline"], "correct", "v0")
    spans = store.counts()["spans"]
    rows_before = other_rows(store)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, store.path, aid, str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.5)  # let the reader start reading
        for i in range(1, 11):
            store.update_annotation(aid, note=f"v{i}")
        store.delete_annotation(aid)
        time.sleep(0.3)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0, out
    result = json.loads(out)
    assert result["reads"] > 0
    allowed = {f"v{i}" for i in range(11)} | {"<deleted>", f"spans={spans}"}
    assert set(result["seen"]) <= allowed, result
    assert other_rows(store) == rows_before


# --- the viewer --------------------------------------------------------------------------
def open_trace(path: Path, tid: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return vs.run(vs.app_on(path, monkeypatch), trace=tid)


def shown_texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_the_full_note_is_shown_as_plain_text(
    store: tracer.Store, built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = built[1]["rag_pipeline"]
    store.annotate(tid, "hallucination", LONG_NOTE, author="maya")
    at = open_trace(Path(store.path), tid, monkeypatch)
    assert LONG_NOTE in shown_texts(at)  # whole, every line, through st.text (never Markdown)
    assert not any("<b>" in m for m in markdowns(at).split("\n") if "not bold" in m)
    [item] = [e for e in at.expander if "hallucination" in e.label]
    assert "maya" in item.label


def test_edit_through_the_viewer(
    store: tracer.Store, built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = built[1]["rag_pipeline"]
    aid = store.annotate(tid, "correct", "looks right", author="maya")
    rows_before = other_rows(store)
    at = open_trace(Path(store.path), tid, monkeypatch)
    at.button(key=f"ann_edit_{aid}").click().run()
    assert not at.exception
    assert at.radio(key=f"ann_edit_label_{aid}").value == "correct"
    assert at.text_area(key=f"ann_edit_note_{aid}").value == "looks right"
    # Cancel changes nothing.
    at.text_area(key=f"ann_edit_note_{aid}").input("never saved")
    at.button(key=f"ann_edit_cancel_{aid}").click().run()
    assert not at.exception and by_id(store)[aid]["note"] == "looks right"
    assert not any(r.key == f"ann_edit_label_{aid}" for r in at.radio)
    # Save writes both, and the list shows the new note at once.
    at.button(key=f"ann_edit_{aid}").click().run()
    at.radio(key=f"ann_edit_label_{aid}").set_value("hallucination")
    at.text_area(key=f"ann_edit_note_{aid}").input("cites d1, which says nothing of this")
    at.button(key=f"ann_edit_save_{aid}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value == "Annotation changed: hallucination."
    saved = by_id(store)[aid]
    assert (saved["label"], saved["note"], saved["author"]) == (
        "hallucination",
        "cites d1, which says nothing of this",
        "maya",
    )
    assert "cites d1, which says nothing of this" in shown_texts(at)
    assert "looks right" not in shown_texts(at)
    assert ":blue-badge[annotations: 1 hallucination]" in markdowns(at)
    assert other_rows(store) == rows_before


def test_delete_through_the_viewer_asks_first(
    store: tracer.Store, built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = built[1]["rag_pipeline"]
    gone, kept = store.annotate(tid, "hallucination", "by mistake"), store.annotate(tid, "correct", "keep me")
    rows_before = other_rows(store)
    at = open_trace(Path(store.path), tid, monkeypatch)
    assert "**Annotations** (2)" in markdowns(at)
    at.button(key=f"ann_delete_{gone}").click().run()
    assert not at.exception and "Delete this annotation?" in at.warning[0].value
    assert set(by_id(store)) == {gone, kept}  # not yet
    at.button(key=f"ann_delete_cancel_{gone}").click().run()
    assert set(by_id(store)) == {gone, kept} and not at.warning
    at.button(key=f"ann_delete_{gone}").click().run()
    at.button(key=f"ann_delete_yes_{gone}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value == "Annotation deleted."
    assert set(by_id(store)) == {kept}
    assert "**Annotations** (1)" in markdowns(at)
    assert "by mistake" not in shown_texts(at) and "keep me" in shown_texts(at)
    assert other_rows(store) == rows_before


def test_an_edit_of_an_annotation_deleted_meanwhile_says_so(
    store: tracer.Store, built: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = built[1]["rag_pipeline"]
    aid = store.annotate(tid, "correct", "n")
    at = open_trace(Path(store.path), tid, monkeypatch)
    at.button(key=f"ann_edit_{aid}").click().run()
    tracer.Store(store.path).delete_annotation(aid)  # another user, another tab
    at.button(key=f"ann_edit_save_{aid}").click().run()
    assert not at.exception
    assert at.error and "no annotation" in at.error[0].value
    assert "**Annotations** (0)" in markdowns(at)
