"""The learned-detector path on a tiny token classifier the tests build and save themselves.

The model is real (an ONNX graph run by ONNX Runtime, a real ``tokenizers`` tokenizer); only
its head is forced, so what it says about each word is known (see tests/_tiny_detector.py).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")

import tracer
from tracer import grounding

from . import _tiny_detector
from .conftest import REPO

DOCS = ["Acme hired 4000 workers in 2019 .", "The plant is in Ohio and opened in March ."]
QUESTION = "What did Acme do ?"
ANSWER = "Acme hired 4000 workers in 2019. It opened nine plants in Texas.\nThe plant is in Ohio."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-detector")
    return _tiny_detector.build(folder, [*DOCS, QUESTION, ANSWER, "Summarize the following text"], ["Texas"])


def test_token_labels_land_on_the_right_characters_and_sentence(model_dir: Path) -> None:
    detector = grounding.TokenDetector(model_dir)
    assert detector.backend == "onnxruntime"
    spans = detector.detect(ANSWER, DOCS, question=QUESTION)
    # Every answer token, and only answer tokens (not the prompt's), with its exact characters.
    words = [ANSWER[s:e] for s, e, _ in spans]
    assert words[:4] == ["Acme", "hired", "4000", "workers"] and words[-1] == "."
    flagged = [ANSWER[s:e] for s, e, p in spans if p > 0.5]
    assert flagged == ["Texas"]
    assert all(0.2 < p < 0.35 for s, e, p in spans if ANSWER[s:e] != "Texas")  # the head's bias: 0.27

    report = grounding.check(ANSWER, DOCS, QUESTION, scorer=detector)
    assert [s.supported for s in report.sentences] == [True, False, True]
    bad = report.sentences[1]
    assert bad.text == "It opened nine plants in Texas." and bad.probability > 0.99
    assert report.verdict == grounding.LIKELY_HALLUCINATED and report.label == grounding.HALLUCINATION
    assert report.scorer == f"detector:{model_dir.name}" and report.ranked[0] is bad
    # The best document still comes from the documents' words: the third sentence is Ohio's.
    assert report.sentences[2].best_document_id == "1"


def test_summary_prompt_and_long_documents_are_cut_never_the_answer(model_dir: Path) -> None:
    detector = grounding.TokenDetector(model_dir, max_length=64)
    long_docs = [" ".join(["Acme hired 4000 workers in 2019 ."] * 200)]
    spans = detector.detect(ANSWER, long_docs)  # no question: the summary prompt
    assert [ANSWER[s:e] for s, e, p in spans if p > 0.5] == ["Texas"]
    assert len(spans) == len(ANSWER.replace(".", " .").split())  # each answer token is labelled


def test_a_missing_model_falls_back_with_the_reason_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="spyglass.grounding"):
        assert grounding.load_detector(str(tmp_path / "nowhere")) is None
    assert "offline model" in caplog.text and "nowhere" in caplog.text
    with pytest.raises(grounding.DetectorUnavailable, match="tokenizer.json"):
        grounding.TokenDetector(tmp_path)


def test_a_model_id_is_found_in_the_local_hugging_face_cache_only(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    with pytest.raises(grounding.DetectorUnavailable, match="not in the local Hugging Face cache"):
        grounding.TokenDetector("acme/tiny-detector")
    # The cache's own layout: refs/main names the snapshot folder that holds the files.
    revision = "0" * 40
    snapshot = cache / "models--acme--tiny-detector" / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for f in model_dir.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (cache / "models--acme--tiny-detector" / "refs").mkdir()
    (cache / "models--acme--tiny-detector" / "refs" / "main").write_text(revision)
    detector = grounding.TokenDetector("acme/tiny-detector")
    assert detector.folder == snapshot and detector.name == "detector:tiny-detector"


def _pipeline():
    @tracer.trace_retriever
    def retrieve(question: str) -> list[str]:
        return DOCS

    @tracer.trace_llm(model="m")
    def answer(question: str, docs: list) -> str:
        return ANSWER

    @tracer.trace_step
    def rag(question: str) -> str:
        return answer(question, retrieve(question))

    return rag


def test_configure_grounding_with_a_detector_checks_at_export(model_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    tracer.configure(db=db, grounding=str(model_dir))
    try:
        _pipeline()(QUESTION)
        assert tracer.flush()
    finally:
        tracer.configure(db=tmp_path / "other.duckdb")
    [row] = tracer.Store(db).evaluations("grounding")
    details = json.loads(row["details"])
    assert details["scorer"] == f"detector:{model_dir.name}" and details["verdict"] == "likely_hallucinated"
    assert [s["text"] for s in details["sentences"] if not s["supported"]] == ["It opened nine plants in Texas."]


def test_spyglass_check_scorer_stores_each_scorer_next_to_the_default(model_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    tracer.configure(db=db, grounding=False)
    try:
        _pipeline()(QUESTION)
        assert tracer.flush()
    finally:
        tracer.configure(db=tmp_path / "other.duckdb")

    def spyglass(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "tracer.cli", "--db", str(db), "check", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)

    for args in ((), ("--scorer", str(model_dir)), ("--scorer", "offline-v1")):
        done = spyglass(*args)
        assert done.returncode == 0, done.stderr
        assert "checked 1 of 1" in done.stdout
    assert "checked 0 of 0" in spyglass("--scorer", str(model_dir)).stdout  # nothing twice
    assert "checked 1 of 1" in spyglass("--scorer", str(model_dir), "--all").stdout
    names = sorted(e["name"] for e in tracer.Store(db).evaluations())
    detector = f"grounding/detector:{model_dir.name}"
    assert names == sorted(["grounding", detector, detector, "grounding/offline-v1"])
    missing = spyglass("--scorer", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no model folder" in missing.stderr and "Traceback" not in missing.stderr
    bad = spyglass("--threshold", "1.5")
    assert bad.returncode == 2 and "probability" in bad.stderr


def test_the_example_uses_a_local_detector_and_says_why_when_there_is_none(model_dir: Path, tmp_path: Path) -> None:
    script = str(REPO / "examples" / "grounding_detector.py")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-cache"), "HF_HUB_OFFLINE": "1"}
    found = subprocess.run(
        [sys.executable, script, str(model_dir)], capture_output=True, text=True, timeout=120, env=env
    )
    assert found.returncode == 0, found.stderr
    assert f"detector: grounded (P = 0.27, scorer detector:{model_dir.name})" in found.stdout
    assert "offline: likely_hallucinated" in found.stdout and "Norway" in found.stdout
    missing = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 0, missing.stderr
    assert (
        "no detector: KRLabsOrg/lettucedect-base-modernbert-en-v1 is not in the local Hugging Face cache"
        in missing.stdout
    )
