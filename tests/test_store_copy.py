"""``spyglass copy``: a store moved between a DuckDB file and a real PostgreSQL server (and file
to file) reads back the same, a second run adds nothing, an interrupted run resumes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import tracer
from tracer.cli import main
from tracer.store import _copy
from tracer.store._copy import CopyInterrupted, copy_store

# Tables whose rows a copy must reproduce (search_terms is each engine's own index).
_TABLES = ("traces", "spans", "events", "documents", "decisions", "evaluations", "annotations", "dropped_spans")
_JSON_FIELDS = ("attributes", "metadata", "details")


@pytest.fixture(autouse=True)
def _spool_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A server store spools on this host: in a folder of the test's."""
    monkeypatch.setenv("SPYGLASS_SPOOL_DIR", str(tmp_path / "spool"))


@pytest.fixture
def source(configured: Path) -> Path:
    """A DuckDB store written by real traced calls: retrievers (one finding nothing), LLM calls
    (one failing), a post-processing decision, the export-time grounding check's evaluations,
    then an annotation and a `spyglass check`-style evaluation written afterwards."""

    @tracer.trace_retriever
    def search(q: str) -> list[dict]:
        return [
            {"id": f"doc-{q}", "content": f"The zebra-{q} lives in the savanna.", "score": 0.8},
            {"id": f"meta-{q}", "content": "Zebras are striped.", "metadata": {"src": "wiki", "n": [1, 2]}},
        ]

    @tracer.trace_retriever
    def nothing(q: str) -> list[dict]:
        return []

    @tracer.trace_llm(model="gpt-4o-mini")
    def small(q: str, docs: list) -> str:
        tracer.record_usage(input_tokens=100, output_tokens=20, cost_usd=0.0001)
        return f"The zebra-{q} lives in the savanna." if q != "q2" else "Penguins fly to Mars."

    @tracer.trace_llm(model="gpt-4o")
    def big(q: str, docs: list) -> str:
        tracer.record_usage(input_tokens=1000, output_tokens=200, cost_usd=0.05)
        raise RuntimeError("model exploded")

    @tracer.trace_postprocess
    def guard(text: str) -> str:
        tracer.record_decision("toxicity", verdict="flag" if "1" in text else "pass", reason="test", score=0.5)
        return text

    @tracer.trace_step(name="rag")
    def rag(q: str, use_big: bool) -> str:
        docs = search(q) + nothing(q)
        return guard(big(q, docs) if use_big else small(q, docs))

    for i in range(9):
        with tracer.trace_attributes(session_id=f"s{i % 3}", user_id="alice", tags=["even" if i % 2 else "odd"]):
            try:
                rag(f"q{i}", use_big=(i % 4 == 3))
            except RuntimeError:
                pass
    assert tracer.flush()
    store = tracer.Store(configured)
    trace_id = store.list_traces(limit=1)[0]["trace_id"]
    store.annotate(trace_id, "correct", "checked by hand", author="ann")
    llm = store.llm_spans()[0]
    store.add_evaluations(
        [
            {
                "trace_id": llm["trace_id"],
                "span_id": llm["span_id"],
                "name": "grounding",
                "score": 0.25,
                "label": "hallucination",
                "explanation": "later",
                "details": {"claims": ["a", "b"], "supported": 1},
            }
        ]
    )
    return configured


def _normal(value: Any) -> Any:
    """A read made comparable across engines: no seq (each store numbers its own), JSON text
    parsed (jsonb reorders keys), floats to 12 digits (sums in another order)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("seq", "min_seq", "max_seq"):
                continue
            if k in _JSON_FIELDS and isinstance(v, str):
                v = json.loads(v)
            out[k] = _normal(v)
        return out
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value:
        return float(f"{value:.12g}")
    return value


def _snapshot(db: Path | str) -> dict[str, Any]:
    store = tracer.Store(db)
    traces = store.list_traces(limit=1000)
    return {
        "list": _normal(traces),
        "traces": {t["trace_id"]: _normal(store.get_trace(t["trace_id"])) for t in traces},
        "evaluations": sorted(json.dumps(_normal(e), default=str, sort_keys=True) for e in store.evaluations()),
        "annotations": _normal(store.annotations()),
    }


def _counts(db: Path | str) -> dict[str, int]:
    counts = tracer.Store(db).counts()
    return {t: counts[t] for t in _TABLES}


def test_round_trip_duckdb_postgres_duckdb(source: Path, postgres_url: str, tmp_path: Path) -> None:
    back = tmp_path / "back.duckdb"
    # Small chunks: traces cut across chunks are summed by the destination's merge.
    to_pg = copy_store(str(source), postgres_url, chunk=7)
    assert to_pg.ok and to_pg.spans_copied == _counts(source)["spans"] and to_pg.spans_present == 0
    assert to_pg.rows_added == {"evaluations": 1, "annotations": 1, "dropped_spans": 0}
    to_file = copy_store(postgres_url, str(back), chunk=5)
    assert to_file.ok and to_file.spans_copied == to_pg.spans_copied

    expected = _snapshot(source)
    assert expected["traces"] and any(t["documents"] for t in expected["traces"].values())
    assert any(t["decisions"] for t in expected["traces"].values())
    assert any(e for t in expected["traces"].values() for e in t["events"])
    sources = {json.loads(e)["source"] for e in expected["evaluations"]}
    assert sources == {"export", "check"}  # derived from span events, and written later
    for db in (postgres_url, back):
        assert _counts(db) == _counts(source)
        assert _snapshot(db) == expected


def test_file_to_file(source: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    assert copy_store(str(source), str(other), chunk=4).ok
    assert _snapshot(other) == _snapshot(source)
    again = copy_store(str(source), str(other), restart=True)
    assert again.spans_copied == 0 and again.spans_present == _counts(source)["spans"]
    assert _counts(other) == _counts(source)


def test_twice_adds_nothing(source: Path, postgres_url: str) -> None:
    first = copy_store(str(source), postgres_url, chunk=10)
    counts = _counts(postgres_url)
    second = copy_store(str(source), postgres_url)
    # Resumed after the last seq copied: nothing left to read, and no row added twice.
    assert second.resumed_after > 0 and second.spans_read == 0 and second.spans_copied == 0
    assert second.rows_added == {"evaluations": 0, "annotations": 0, "dropped_spans": 0}
    # Every span looked at again: each found there already.
    third = copy_store(str(source), postgres_url, restart=True)
    assert third.spans_read == first.spans_copied == third.spans_present and third.spans_copied == 0
    assert _counts(postgres_url) == counts == _counts(source)


def test_interrupted_copy_resumes(source: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = []

    def stop_after_two(done: int, total: int) -> None:
        chunks.append(done)
        if len(chunks) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_store(str(source), postgres_url, chunk=6, progress=stop_after_two)
    assert 0 < _counts(postgres_url)["spans"] < _counts(source)["spans"]
    # Cut between a chunk's write and the record of it: the rerun finds that chunk there.
    set_meta = type(_copy.side_for(postgres_url)).set_meta
    calls = []

    def fail_once(self: Any, con: Any, key: str, value: str) -> None:
        calls.append(value)
        if len(calls) == 1:
            raise KeyboardInterrupt
        set_meta(self, con, key, value)

    monkeypatch.setattr(type(_copy.side_for(postgres_url)), "set_meta", fail_once)
    with pytest.raises(KeyboardInterrupt):
        copy_store(str(source), postgres_url, chunk=6)
    monkeypatch.setattr(type(_copy.side_for(postgres_url)), "set_meta", set_meta)
    rerun = copy_store(str(source), postgres_url, chunk=6)
    assert rerun.resumed_after == 12 and rerun.spans_present == 6  # the chunk written, not recorded
    assert _counts(postgres_url) == _counts(source)
    assert _snapshot(postgres_url) == _snapshot(source)


def test_server_lost_midway(source: Path, postgres_url: str, postgres_server: Any) -> None:
    def stop_server(done: int, total: int) -> None:
        if postgres_server.is_running:
            postgres_server.stop()

    with pytest.raises(CopyInterrupted, match="stopped after source seq") as raised:
        copy_store(str(source), postgres_url, chunk=6, progress=stop_server)
    assert "Run the same command again" in str(raised.value)
    postgres_server.start()
    rerun = copy_store(str(source), postgres_url, chunk=6)
    assert rerun.ok and rerun.resumed_after == 6
    assert _counts(postgres_url) == _counts(source)


def test_cli(source: Path, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spans = _counts(source)["spans"]
    assert main(["--db", str(source), "copy", "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert f"copied {spans} spans from {source} to {postgres_url} (0 already there)" in out
    assert "added 1 evaluations, 1 annotations, 0 dropped-span records" in out
    assert main(["copy", "--from", str(source), "--to", postgres_url]) == 0
    assert "copied 0 spans" in capsys.readouterr().out
    back = tmp_path / "back.duckdb"
    assert main(["copy", "--from", postgres_url, "--to", str(back), "--chunk", "3"]) == 0
    assert f"copied {spans} spans" in capsys.readouterr().out
    assert main(["--db", postgres_url, "info"]) == 0
    info = capsys.readouterr().out
    assert f"spans:   {spans:>10,}" in info and "waiting on this host to be shipped" in info
    assert main(["copy", "--from", str(back), "--to", str(back)]) == 2
    assert "both the source and the destination" in capsys.readouterr().err
    assert main(["copy", "--from", str(tmp_path / "none.duckdb"), "--to", str(back)]) == 2
    assert "no Spyglass store" in capsys.readouterr().err


def test_unreachable_destination(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["copy", "--from", str(source), "--to", "postgresql://u:secret@127.0.0.1:1/x"]) == 2
    captured = capsys.readouterr()
    assert "secret" not in captured.out + captured.err
    assert "postgresql://u@127.0.0.1:1/x" in captured.err


def test_help_names_both_engines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["copy", "--help"])
    assert "a DuckDB file path or a postgresql:// URL" in capsys.readouterr().out


def test_server_lost_between_dedupe_and_write(
    source: Path, postgres_url: str, postgres_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk goes to this host's spool: the copy stops there, and the rerun ships the
    spool before deduping, so that chunk is stored once."""
    side = type(_copy.side_for(postgres_url))
    existing = side.existing_spans
    seen = []

    def then_stop(self: Any, con: Any, trace_ids: list[str]) -> set[tuple[str, str]]:
        found = existing(self, con, trace_ids)
        seen.append(1)
        if len(seen) == 2:
            postgres_server.stop()
        return found

    monkeypatch.setattr(side, "existing_spans", then_stop)
    with pytest.raises(CopyInterrupted, match="stopped answering; the copy stopped after source seq 6"):
        copy_store(str(source), postgres_url, chunk=6)
    monkeypatch.setattr(side, "existing_spans", existing)
    postgres_server.start()
    rerun = copy_store(str(source), postgres_url, chunk=6)
    assert rerun.resumed_after == 6 and rerun.spans_present == 6  # shipped from the spool first
    assert _counts(postgres_url) == _counts(source)


def test_busy_destination_file(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DuckDB file held by another process: chunks go to its spool (seen by the dedupe as
    stored), and the copy drains the spool at the end."""
    from tracer.store import _writer

    real = _writer.try_open_write
    calls = []

    def busy_twice(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return None if len(calls) in (2, 3) else real(*args, **kwargs)

    monkeypatch.setattr(_writer, "try_open_write", busy_twice)
    other = tmp_path / "other.duckdb"
    result = copy_store(str(source), str(other), chunk=5)
    assert result.spans_spooled == 10 and result.complete and result.ok
    assert _counts(other) == _counts(source)
    assert _snapshot(other) == _snapshot(source)
