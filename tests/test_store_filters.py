"""The trace list's finer filters on a real store, both engines: any span attribute
(``=``, ``~``, numbers, exists), metadata keys, evaluation scores, annotation labels,
a failed child span under an OK root, and passed or any decisions; and their facets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tracer
from tracer import AttributeFilter, TraceFilter


@pytest.fixture
def db_path(any_store_db: Path | str) -> Path | str:
    return any_store_db


@pytest.fixture
def built(configured: Path, store: tracer.Store) -> dict[str, str]:
    """Five traces, each with something the others lack; returns question -> trace id."""

    @tracer.trace_llm(model="gpt-4o-mini")
    def answer(question: str, temperature: float) -> str:
        tracer.record_usage(input_tokens=len(question) * 10, output_tokens=5)
        return f"About {question}."

    @tracer.trace_step(name="lookup")
    def lookup(question: str) -> str:
        if question == "refund":
            raise KeyError("no such order")
        return question

    @tracer.trace_postprocess
    def guard(text: str, verdict: str | None) -> str:
        if verdict:
            tracer.record_decision("policy", verdict=verdict, reason="test")
        return text

    @tracer.trace_step(name="support")
    def support(question: str, verdict: str | None) -> str:
        try:
            lookup(question)
        except KeyError:
            pass  # the root goes on and ends OK: only a child failed
        return guard(answer(question, 0.2 if question == "battery" else 0.9), verdict)

    cases = {
        "battery": ({"tenant": "acme", "tier": 3, "region": "eu-west"}, "pass"),
        "refund": ({"tenant": "globex", "tier": 1}, "block"),
        "shipping": ({"tenant": "acme corp", "beta": True}, None),
        "warranty": ({}, "flag"),
        "quoted": ({"tenant": 'say "hi"', "note": "a+b (c)"}, None),
    }
    for question, (metadata, verdict) in cases.items():
        with tracer.trace_attributes(metadata=metadata):
            support(question, verdict)
    assert tracer.flush()
    ids = {t["root_name"] and _question(store, t["trace_id"]): t["trace_id"] for t in store.list_traces(limit=10)}
    llm = {q: next(s for s in store.get_trace(t)["spans"] if s["span_type"] == "llm") for q, t in ids.items()}
    store.add_evaluations(
        [
            {"trace_id": ids[q], "span_id": llm[q]["span_id"], "name": "grounding", "score": score, "label": label}
            for q, score, label in [("battery", 0.92, "grounded"), ("refund", 0.31, "hallucination")]
        ]
        + [{"trace_id": ids["shipping"], "span_id": llm["shipping"]["span_id"], "name": "judge", "score": 0.5}]
    )
    store.annotate(ids["warranty"], "correct", "checked by hand")
    store.annotate(ids["quoted"], "other")
    return ids


def _question(store: tracer.Store, trace_id: str) -> str:
    detail = store.get_trace(trace_id)
    assert detail is not None
    step = next(s for s in detail["spans"] if s["name"] == "support")
    return str(json.loads(step["attributes"]["input.value"])["question"])


def _found(store: tracer.Store, ids: dict[str, str], flt: TraceFilter) -> set[str]:
    names = {v: k for k, v in ids.items()}
    listed = {names[t["trace_id"]] for t in store.list_traces(flt, limit=50)}
    assert store.count_traces(flt) == len(listed)
    return listed


@pytest.mark.parametrize(
    "text, expected",
    [
        ("gen_ai.request.model = gpt-4o-mini", {"battery", "refund", "shipping", "warranty", "quoted"}),
        ("gen_ai.request.model = gpt-4o", set()),  # equality, not a prefix
        ("input.value ~ BATTERY", {"battery"}),  # contains, any case
        ("gen_ai.usage.input_tokens > 60", {"battery", "shipping", "warranty"}),
        ("gen_ai.usage.input_tokens <= 60", {"refund", "quoted"}),
        ("error.type = KeyError", {"refund"}),
        ("error.type exists", {"refund"}),
        ("error.type", {"refund"}),
        ("no.such.key exists", set()),
        ("metadata.tenant = acme", {"battery"}),  # a whole value: not "acme corp"
        ("metadata.tenant ~ acme", {"battery", "shipping"}),
        ("metadata.tier = 3", {"battery"}),  # a number
        ("metadata.beta = true", {"shipping"}),  # a boolean
        ("metadata.region exists", {"battery"}),
        ('metadata.tenant = say "hi"', {"quoted"}),  # quotes, as JSON escapes them
        ("metadata.note = a+b (c)", {"quoted"}),  # regular-expression characters, literally
        ("metadata.nothing = acme", set()),
    ],
)
def test_attribute_filters(built: dict[str, str], store: tracer.Store, text: str, expected: set[str]) -> None:
    assert _found(store, built, TraceFilter(attributes=(AttributeFilter.parse(text),))) == expected


def test_attribute_filters_are_anded(built: dict[str, str], store: tracer.Store) -> None:
    both = (AttributeFilter.parse("metadata.tenant ~ acme"), AttributeFilter.parse("metadata.beta exists"))
    assert _found(store, built, TraceFilter(attributes=both)) == {"shipping"}


@pytest.mark.parametrize(
    "flt, expected",
    [
        (TraceFilter(status="ERROR"), {"refund"}),  # the root ended OK: a child failed
        (TraceFilter(status="OK"), {"battery", "shipping", "warranty", "quoted"}),
        (TraceFilter(decision="pass"), {"battery"}),
        (TraceFilter(decision="any"), {"battery", "refund", "warranty"}),
        (TraceFilter(decision="block"), {"refund"}),
        (TraceFilter(annotation="correct"), {"warranty"}),
        (TraceFilter(annotation="hallucination"), set()),
        (TraceFilter(evaluation="grounding"), {"battery", "refund"}),
        (TraceFilter(evaluation="grounding", max_score=0.5), {"refund"}),
        (TraceFilter(evaluation="grounding", min_score=0.5), {"battery"}),
        (TraceFilter(max_score=0.5), {"refund", "shipping"}),  # any evaluation
        (TraceFilter(evaluation="judge", min_score=0.6), set()),
        (TraceFilter(status="OK", decision="any", evaluation="grounding"), {"battery"}),
    ],
)
def test_outcome_and_score_filters(
    built: dict[str, str], store: tracer.Store, flt: TraceFilter, expected: set[str]
) -> None:
    assert _found(store, built, flt) == expected


def test_facets_offer_what_the_filters_take(built: dict[str, str], store: tracer.Store) -> None:
    facets = store.facets()
    assert facets["evaluations"] == ["grounding", "judge"]
    assert facets["annotation_labels"] == ["correct", "other"]
    keys = facets["attribute_keys"]
    assert {"gen_ai.request.model", "input.value", "error.type"} <= set(keys)
    assert {"metadata.tenant", "metadata.tier", "metadata.beta", "metadata.region"} <= set(keys)
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x > ten", "needs a number"),
        (" = 3", "key is empty"),
    ],
)
def test_bad_attribute_filters_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AttributeFilter.parse(text)


def test_bad_decision_filter_says_why() -> None:
    with pytest.raises(ValueError, match="decision must be one of"):
        TraceFilter(decision="maybe").where()


def test_attribute_filter_round_trips_as_text() -> None:
    for text in ("a.b = c d", "x ~ y", "n >= 2", "k exists"):
        assert str(AttributeFilter.parse(text)) == text


def test_a_search_is_matched_once_per_snapshot(
    built: dict[str, str], store: tracer.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The viewer's list page counts, lists and charts one search: inside one snapshot the
    text is matched once (it was four times, 2.9 s of 4 s on 1M spans), outside every time."""
    calls: list[str] = []
    original = type(store)._matching_traces

    def counted(self: tracer.Store, con: object, text: str) -> list[str]:
        calls.append(text)
        return original(self, con, text)  # type: ignore[arg-type]

    monkeypatch.setattr(type(store), "_matching_traces", counted)
    flt = TraceFilter(text="battery")
    with store.snapshot():
        assert store.count_traces(flt) == 1
        assert len(store.list_traces(flt)) == 1
        assert len(store.durations(flt)) == 1
        assert store.count_traces(TraceFilter(text="refund")) == 1
    assert calls == ["battery", "refund"]
    calls.clear()
    assert store.count_traces(flt) == 1 and len(store.list_traces(flt)) == 1
    assert calls == ["battery", "battery"]  # no snapshot: nothing is kept between reads
