"""Property tests: whatever values flow through traced code, tracing never raises into it
and what it records is valid JSON (or visibly truncated).

Internal errors are raised under test (see conftest), so any failure inside Spyglass's
capture code fails these properties instead of being logged.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracer
import tracer.testing
from tracer import _settings
from tracer import attributes as A
from tracer._documents import normalize_documents

PROVIDER = tracer.testing.new_tracer_provider()
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text with the awkward parts of Unicode: lone surrogates (legal in str, not in UTF-8),
# control characters, and secret-looking prefixes.
awkward_text = st.one_of(
    st.text(),
    st.text(st.characters(categories=["Cs", "Cc", "Lo", "So"]), max_size=20),
    st.builds(lambda s: "sk-" + s, st.text(st.characters(categories=["Ll", "Nd"]), min_size=16, max_size=40)),
)
_AWKWARD_NUMBERS = [math.nan, math.inf, -math.inf, -0.0, 2**63]


def _awkward_number(index: int) -> float | int:
    # Built here, not listed: Hypothesis reprs strategies, and an int this big has no repr.
    return 10**5000 if index == len(_AWKWARD_NUMBERS) else _AWKWARD_NUMBERS[index]


awkward_numbers = st.integers(0, len(_AWKWARD_NUMBERS)).map(_awkward_number)
hashables = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), awkward_text, st.binary(max_size=64), awkward_numbers
)
scalars = st.one_of(hashables, st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=8),
        st.tuples(children, children),
        st.dictionaries(awkward_text, children, max_size=6),
        st.dictionaries(hashables, children, max_size=4),
        st.sets(hashables, max_size=6),
        st.frozensets(hashables, max_size=6),
    ),
    max_leaves=16,
)
limits = st.sampled_from([_settings.DEFAULT_MAX_VALUE_CHARS, 200])


def _use_limit(limit: int) -> None:
    _settings.set_settings(_settings.Settings(max_value_chars=limit))


def _check_value(attributes: dict[str, Any], key: str, mime_key: str | None = None) -> None:
    text = attributes[key]
    assert isinstance(text, str)
    text.encode("utf-8")  # the exporter writes UTF-8: no lone surrogate may survive
    cut = key in attributes.get(A.TRUNCATED, ())
    is_json = mime_key is None or attributes[mime_key] == A.MIME_JSON
    if is_json and not cut:
        json.loads(text)


@tracer.trace_step
def identity(value: Any) -> Any:
    return value


@tracer.trace_llm
def two_args(first: Any, second: Any = None) -> Any:
    return [second, first]


@tracer.trace_step
def stream(items: list[Any]):
    yield from items


@FUZZ
@given(value=values, other=values, limit=limits)
def test_any_value_in_and_out_of_a_traced_call(value: Any, other: Any, limit: int) -> None:
    _use_limit(limit)
    with tracer.testing.capture_spans(PROVIDER) as spans:
        assert identity(value) is value
        result = two_args(value, second=other)
        assert result[0] is other and result[1] is value
    assert len(spans) == 2
    for span in spans:
        attributes = dict(span.attributes)
        _check_value(attributes, A.OI_INPUT_VALUE, A.OI_INPUT_MIME_TYPE)
        _check_value(attributes, A.OI_OUTPUT_VALUE, A.OI_OUTPUT_MIME_TYPE)
        assert len(attributes[A.OI_INPUT_VALUE]) <= limit + 64  # limit plus the marker


@FUZZ
@given(items=st.lists(values, max_size=5), limit=limits)
def test_any_items_yielded_by_a_traced_generator(items: list[Any], limit: int) -> None:
    _use_limit(limit)
    with tracer.testing.capture_spans(PROVIDER) as spans:
        assert list(stream(items)) == items or any(isinstance(i, float) and math.isnan(i) for i in items)
    attributes = dict(spans.one("stream").attributes)
    assert attributes[A.STREAM_ITEMS] == len(items)
    _check_value(attributes, A.OI_OUTPUT_VALUE, A.OI_OUTPUT_MIME_TYPE)


@FUZZ
@given(result=values)
def test_retriever_normalisation_never_raises(result: Any) -> None:
    documents = normalize_documents(result)
    for document in documents:
        assert set(document) == {"id", "content", "score", "metadata"}
        assert isinstance(document["id"], str)
        assert isinstance(document["content"], str)
        assert document["score"] is None or math.isfinite(document["score"])
        assert isinstance(document["metadata"], dict)


@FUZZ
@given(result=values, limit=limits)
def test_traced_retriever_with_any_result(result: Any, limit: int) -> None:
    _use_limit(limit)

    @tracer.trace_retriever
    def search(query: str) -> Any:
        return result

    with tracer.testing.capture_spans(PROVIDER) as spans:
        assert search("q") is result
    attributes = dict(spans.one("search").attributes)
    _check_value(attributes, A.GEN_AI_RETRIEVAL_DOCUMENTS)
    assert attributes[A.DOCUMENTS_COUNT] >= 0


@FUZZ
@given(
    name=awkward_text,
    verdict=awkward_text,
    reason=values,
    score=st.one_of(st.none(), st.floats()),
    before=awkward_text,
    metadata=st.dictionaries(awkward_text, values, max_size=3),
)
def test_decisions_and_trace_attributes_with_any_text(
    name: str, verdict: str, reason: Any, score: float | None, before: str, metadata: dict[str, Any]
) -> None:
    with tracer.testing.capture_spans(PROVIDER) as spans:
        with tracer.trace_attributes(session_id=name, tags=[verdict], metadata=metadata):
            with tracer.span("step"):
                tracer.record_decision(name, verdict, reason=reason, score=score, before=before, after=before)
    span = spans.one("step")
    [event] = span.events
    for text in event.attributes.values():
        if isinstance(text, str):
            text.encode("utf-8")
    json.loads(span.attributes.get(A.METADATA, "{}"))
