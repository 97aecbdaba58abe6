"""tracer.grounding: sentence offsets, number and name flags, documents, scorers, the LLM judge
(mock transport, no network), determinism, and a regression check on RAGTruth dev records."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tracer import grounding
from tracer.grounding import LexicalScorer, LLMJudgeScorer, Scorer, check, split_sentences

REPO = Path(__file__).resolve().parent.parent
DOCS = [
    "Acme Corp hired 4,000 workers in 2019. The plant in Ohio opened in March 2020. It does not produce batteries.",
    "The CEO, Maria Lopez, said revenue grew 12.5% to $3.2 million last year.",
]


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


# --- sentence splitting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith arrived. He left at 5 p.m. on Monday.", ["Dr. Smith arrived.", "He left at 5 p.m. on Monday."]),
        ("It costs 3.5 dollars. Version 3.11.7 shipped.", ["It costs 3.5 dollars.", "Version 3.11.7 shipped."]),
        (
            "The U.S. Army won. J. R. R. Tolkien wrote it, e.g. The Hobbit.",
            ["The U.S. Army won.", "J. R. R. Tolkien wrote it, e.g. The Hobbit."],
        ),
        (
            "Steps:\n1. Preheat the oven.\n2. Bake it. Serve warm.\n- a bullet without period\n\n* another",
            ["Steps:", "1. Preheat the oven.", "2. Bake it.", "Serve warm.", "- a bullet without period", "* another"],
        ),
        ('He asked "Why?" She said no! Really? Yes.', ['He asked "Why?"', "She said no!", "Really?", "Yes."]),
        ("lowercase after period. does not split", ["lowercase after period. does not split"]),
        ("Ends without punctuation", ["Ends without punctuation"]),
        ("  \n\n  ", []),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected


def test_offsets_are_exact_and_ordered() -> None:
    output = "  First claim (Passage 1).\r\n\n2. Acme hired 4000 workers!  Then  it grew.\u2028Last one  "
    report = check(output, DOCS)
    assert [s.text for s in report.sentences] == [
        "First claim (Passage 1).",
        "2. Acme hired 4000 workers!",
        "Then  it grew.",
        "Last one",
    ]
    previous_end = 0
    for s in report.sentences:
        assert output[s.start : s.end] == s.text
        assert s.start >= previous_end
        previous_end = s.end


# --- verdicts, numbers and names -------------------------------------------------------------


def test_supported_and_unsupported_sentences() -> None:
    output = (
        "Acme Corp hired four thousand workers in 2019. "
        "Revenue grew 12.5% to $3.2 million, said Maria Lopez. "
        "Acme also opened 7 stores in Paris, run by John Carter."
    )
    report = check(output, DOCS)
    first, second, third = report.sentences
    assert first.supported and first.best_document_id == "0" and first.unsupported_numbers == ()
    assert second.supported and second.best_document_id == "1"
    assert not third.supported
    assert third.unsupported_numbers == ("7",)
    assert set(third.unsupported_entities) == {"Paris", "John", "Carter"}
    assert report.label == grounding.HALLUCINATION and not report.supported
    assert report.unsupported == (third,)
    assert report.score == third.score < first.score
    assert report.unsupported_numbers == ("7",)


@pytest.mark.parametrize("written", ["4000", "4,000", "4,000.00", "four thousand"])
def test_numbers_are_normalised(written: str) -> None:
    report = check(f"Acme hired {written} workers.", DOCS)
    assert report.sentences[0].unsupported_numbers == ()


def test_number_and_name_from_the_question_are_not_flagged() -> None:
    docs = ["The bridge is 300 metres long."]
    text = "The Golden Gate bridge built in 1937 is 300 metres long."
    assert check(text, docs).sentences[0].unsupported_numbers == ("1937",)
    assert check(text, docs).sentences[0].unsupported_entities == ("Golden", "Gate")
    asked = check(text, docs, question="How long is the Golden Gate bridge built in 1937?")
    assert asked.sentences[0].unsupported_numbers == ()
    assert asked.sentences[0].unsupported_entities == ()


def test_citations_and_list_markers_are_not_claims() -> None:
    report = check("3. Acme Corp hired 4,000 workers (Passage 2). Step 4: it opened in March 2020 [1].", DOCS)
    assert report.unsupported_numbers == ()


def test_grounded_answer() -> None:
    report = check(
        "The plant in Ohio opened in March 2020. It does not produce batteries.",
        DOCS,
        question="When did the Ohio plant open?",
    )
    assert report.label == grounding.GROUNDED and report.supported
    assert all(s.best_document_id == "0" for s in report.sentences)


# --- documents ----------------------------------------------------------------------------------


def test_documents_as_strings_and_dicts() -> None:
    output = "Revenue grew 12.5% to $3.2 million."
    as_dicts = [{"id": "a", "content": DOCS[0]}, {"document_id": "b", "content": DOCS[1], "score": 0.3}]
    by_str, by_dict = check(output, DOCS), check(output, as_dicts)
    assert by_str.document_ids == ("0", "1") and by_dict.document_ids == ("a", "b")
    assert by_str.sentences[0].best_document_id == "1" and by_dict.sentences[0].best_document_id == "b"
    assert by_str.sentences[0].score == by_dict.sentences[0].score
    assert set(by_dict.sentences[0].document_scores) == {"a", "b"}


def test_empty_output_and_no_documents() -> None:
    empty = check("", DOCS)
    assert empty.sentences == () and empty.label == grounding.GROUNDED and empty.score == 1.0
    assert check("   \n ", DOCS).sentences == ()
    none = check("Acme hired 4000 workers in Paris.", [])
    assert none.label == grounding.NO_DOCUMENTS and not none.supported
    (only,) = none.sentences
    assert not only.supported and only.score == 0.0 and only.best_document_id is None
    assert only.unsupported_numbers == () and only.document_scores == {}
    assert check("Anything.", None).label == grounding.NO_DOCUMENTS
    assert check("", []).label == grounding.NO_DOCUMENTS
    assert check("Acme hired workers.", [""]).sentences[0].supported is False


def test_to_dict_is_json() -> None:
    report = check("Acme hired 4,000 workers. It opened 9 plants in Texas.", DOCS, question="Who?")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["label"] == "hallucination" and data["supported"] is False
    assert data["unsupported_numbers"] == ["9"] and data["unsupported_entities"] == ["Texas"]
    assert data["document_ids"] == ["0", "1"] and data["unsupported_sentences"] == 1
    assert [s["text"] for s in data["sentences"]] == ["Acme hired 4,000 workers.", "It opened 9 plants in Texas."]
    assert data["label"] in grounding.LABELS


def test_deterministic() -> None:
    output = "Acme hired 4,000 workers. It opened 9 plants in Texas. Maria Lopez is the CEO."
    first = json.dumps(check(output, DOCS, "Who runs Acme?").to_dict())
    for _ in range(3):
        check("something else entirely.", ["another document"])  # no state carried over
        assert json.dumps(check(output, DOCS, "Who runs Acme?").to_dict()) == first


def test_public_namespace() -> None:
    # Sorted as ruff's RUF022 sorts (constants, classes, functions); ruff checks the order.
    assert len(set(grounding.__all__)) == len(grounding.__all__)
    for name in grounding.__all__:
        assert hasattr(grounding, name)


# --- scorers ------------------------------------------------------------------------------------


class KeywordScorer:
    """Support is 1 where the document contains the sentence's last word."""

    name = "keyword"
    threshold = 0.5

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], str | None]] = []

    def score(self, sentence: str, documents: Sequence[str], *, question: str | None = None) -> list[float]:
        self.calls.append((sentence, tuple(documents), question))
        word = sentence.rstrip(".").split()[-1].lower()
        return [1.0 if word in d.lower() else 0.0 for d in documents]


def test_custom_scorer() -> None:
    scorer = KeywordScorer()
    assert isinstance(scorer, Scorer)
    report = check("We love batteries. We love cheese.", [{"id": "x", "content": DOCS[0]}], "Q?", scorer=scorer)
    assert [s.supported for s in report.sentences] == [True, False]
    assert report.sentences[0].best_document_id == "x" and report.sentences[1].best_document_id is None
    assert report.scorer == "keyword" and report.threshold == 0.5
    assert scorer.calls[0] == ("We love batteries.", (DOCS[0],), "Q?")
    assert check("We love cheese.", DOCS, scorer=scorer, threshold=0.0).supported


def test_scorer_with_wrong_number_of_scores() -> None:
    class Broken:
        def score(self, sentence: str, documents: Sequence[str], *, question: str | None = None) -> list[float]:
            return [1.0]

    with pytest.raises(ValueError, match="1 scores for 2 documents"):
        check("A sentence.", DOCS, scorer=Broken())


def test_lexical_scorer() -> None:
    scorer = LexicalScorer()
    scores = scorer.score("Acme Corp hired 4,000 workers in 2019.", DOCS)
    assert scores[0] == 1.0 and scores[1] < 0.3
    report = check("Acme Corp hired 4,000 workers in 2019. Bananas are blue.", DOCS, scorer=scorer)
    assert [s.supported for s in report.sentences] == [True, False]


# --- LLM judge, through the openai client on a mock transport ----------------------------------


def _judge(replies: list[str]) -> tuple[LLMJudgeScorer, list[dict[str, Any]]]:
    openai_support = pytest.importorskip("tests.openai_support")
    sent: list[dict[str, Any]] = []

    def handler(request: Any) -> Any:
        sent.append(json.loads(request.content))
        return openai_support.json_response(200, openai_support.chat_completion(replies[len(sent) - 1]))

    client, _ = openai_support.clients(handler)
    return LLMJudgeScorer(client, model="gpt-4o-mini"), sent


def test_llm_judge_scorer() -> None:
    judge, sent = _judge(['{"scores": [0.9, 0.1]}', '{"scores": [0, 0.2]}'])
    report = check("Acme hired 4,000 workers. The moon is cheese.", DOCS, "How many?", scorer=judge)
    assert [s.supported for s in report.sentences] == [True, False]
    assert report.sentences[0].best_document_id == "0" and report.sentences[0].score == 0.9
    assert report.sentences[1].best_document_id == "1"
    assert report.scorer == "llm-judge" and len(sent) == 2
    body = sent[0]
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    user = body["messages"][1]["content"]
    assert "Document 0:\nAcme Corp" in user and "Claim: Acme hired 4,000 workers." in user and "How many?" in user


@pytest.mark.parametrize(
    "reply, error",
    [
        ("not json", "not {"),
        ('{"scores": [1]}', "1 scores for 2 documents"),
        ('{"verdict": "yes"}', "not {"),
    ],
)
def test_llm_judge_malformed_reply(reply: str, error: str) -> None:
    judge, _ = _judge([reply])
    with pytest.raises(ValueError, match=error):
        check("Acme hired workers.", DOCS, scorer=judge)


def test_llm_judge_clips_and_skips_without_documents() -> None:
    judge, sent = _judge(['{"scores": [1.7, -2]}'])
    assert judge.score("x", DOCS) == [1.0, 0.0]
    assert judge.score("x", []) == [] and len(sent) == 1


# --- regression on RAGTruth dev records ---------------------------------------------------------


def _ragtruth() -> Path:
    shared = Path(os.environ.get("SPYGLASS_SHARED") or REPO.parent / "shared")
    path = shared / "ragtruth" / "dev.jsonl"
    if not path.is_file():
        reason = f"RAGTruth dev.jsonl not found at {path} (set SPYGLASS_SHARED to the folder holding ragtruth/)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def test_ragtruth_dev_regression() -> None:
    """The first 60 dev records: offsets exact, and the verdicts stay well ahead of chance.

    Over these 60 records the model flagged 20 of the 25 responses with a labelled
    hallucination and 6 of the 35 without one when this test was written; the bounds leave
    room to retune without editing the test for every small change."""
    with _ragtruth().open(encoding="utf-8") as f:
        records = [json.loads(next(f)) for _ in range(60)]
    tp = fp = pos = 0
    for rec in records:
        report = check(rec["response"], rec["context_documents"], rec["question"])
        for s in report.sentences:
            assert rec["response"][s.start : s.end] == s.text
        gold = bool(rec["hallucinated_spans"])
        pos += gold
        tp += gold and not report.supported
        fp += (not gold) and not report.supported
    assert pos == 25
    assert tp >= 16 and fp <= 12, (tp, fp)


# --- calibrated output (v2) -------------------------------------------------------------------


class _FixedSupport:
    """A user's scorer that gives every document the same support."""

    name = "fixed"

    def __init__(self, support: float, *, threshold: float = 0.5, low: float | None = None) -> None:
        self.support, self.threshold = support, threshold
        if low is not None:
            self.low = low

    def score(self, sentence: str, documents: Sequence[str], *, question: str | None = None) -> list[float]:
        return [self.support] * len(documents)


def test_verdict_has_three_steps_and_a_probability_per_sentence() -> None:
    flagged = check("We love batteries.", DOCS, scorer=_FixedSupport(0.45))
    assert flagged.verdict == "likely_hallucinated" and flagged.label == "hallucination"
    assert flagged.sentences[0].probability == pytest.approx(0.55) and flagged.probability == pytest.approx(0.55)
    uncertain = check("We love batteries.", DOCS, scorer=_FixedSupport(0.6, low=0.3))
    assert uncertain.verdict == "uncertain" and uncertain.label == "grounded" and uncertain.supported
    assert check("We love batteries.", DOCS, scorer=_FixedSupport(0.8, low=0.3)).verdict == "grounded"
    assert check("Anything.", []).verdict == "no_documents"
    d = flagged.to_dict()
    assert d["verdict"] == "likely_hallucinated" and d["cuts"] == {"sentence": 0.5, "response": 0.5, "low": 0.5}
    assert d["sentences"][0]["probability"] == pytest.approx(0.55)


def test_unsupported_sentences_are_ranked_by_probability() -> None:
    report = check("Acme opened 9 plants in Texas. It hired 4,000 workers in 2019. Revenue fell to zero.", DOCS)
    ranked = report.ranked
    assert [s.probability for s in ranked] == sorted((s.probability for s in ranked), reverse=True)
    assert sorted(map(id, ranked)) == sorted(map(id, report.unsupported)) and ranked


def _dev_records() -> list[dict]:
    with _ragtruth().open(encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(80), f)]


def test_flags_follow_the_model_cuts_on_real_responses() -> None:
    from tracer.grounding._model import MODELS

    seen = set()
    for rec in _dev_records():
        report = check(rec["response"], rec["context_documents"], rec["question"])
        model = MODELS["v2"]["qa" if rec["question"] else "summary"]
        probs = [s.probability for s in report.sentences]
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert all(s.score == pytest.approx(1 - s.probability) for s in report.sentences)
        top = max(probs, default=0.0)
        expected = [p > model.sentence or (p == top and top > model.response) for p in probs]
        assert [not s.supported for s in report.sentences] == expected
        assert (report.label == "hallucination") == (top > min(model.sentence, model.response))
        verdict = (
            "likely_hallucinated" if report.label == "hallucination" else "uncertain" if top > model.low else "grounded"
        )
        assert report.verdict == verdict
        seen.add(verdict)
    assert seen == {"grounded", "uncertain", "likely_hallucinated"}  # the sample shows all three


def test_v1_is_kept_for_comparison() -> None:
    rec = _dev_records()[0]
    v1 = check(rec["response"], rec["context_documents"], rec["question"], model="v1")
    assert v1.scorer == "lexical-model-v1" and len(v1.sentences) == len(
        check(rec["response"], rec["context_documents"]).sentences
    )
