"""instrument()/uninstrument() symmetry, nesting under our decorators, the DuckDB store end
to end, content capture settings, and the error guard. HTTP here is SYNTHETIC (built on the
client's own MockTransport)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import pytest
import wrapt

import tracer
from integrations import _openai_extract, _openai_streams, _openai_targets
from integrations import openai as spy_openai
from tracer import _settings
from tracer import attributes as A
from tracer._guard import reset_reported, set_raise_internal_errors

from .openai_support import USER_ONLY_PROMPT, Spans, attrs, chat_chunks, chat_completion, clients, json_response, sse


def _originals() -> dict[tuple[type, str], Any]:
    found = {}
    for t in _openai_targets.TARGETS:
        try:
            owner = getattr(importlib.import_module(t.module), t.cls)
        except (ImportError, AttributeError):
            continue
        if t.method in owner.__dict__:
            found[(owner, t.method)] = owner.__dict__[t.method]
    return found


def test_instrument_is_idempotent_and_uninstrument_restores_exactly() -> None:
    before = _originals()
    assert before and not any(isinstance(v, wrapt.FunctionWrapper) for v in before.values())
    spy_openai.instrument()
    spy_openai.instrument()  # twice: patched once
    try:
        for (owner, name), original in before.items():
            current = owner.__dict__[name]
            assert isinstance(current, wrapt.FunctionWrapper) and current.__wrapped__ is original
    finally:
        spy_openai.uninstrument()
    spy_openai.uninstrument()  # twice: harmless
    assert _originals() == before and all(_originals()[k] is v for k, v in before.items())


def test_bound_methods_kept_from_before_uninstrument_stop_tracing() -> None:
    spans = Spans()
    spy_openai.instrument(tracer_provider=spans.provider)
    sync, _ = clients(lambda request: json_response(200, chat_completion()))
    raw_create = sync.chat.completions.with_raw_response.create  # binds the patched create
    spy_openai.uninstrument()
    raw_create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT).parse()
    assert spans.finished() == []


def test_opentelemetry_instrumentor_interface() -> None:
    spans = Spans()
    instrumentor = spy_openai.OpenAIInstrumentor()
    assert instrumentor.instrumentation_dependencies() == ("openai >= 1.40",)
    instrumentor.instrument(tracer_provider=spans.provider)
    try:
        assert spy_openai.is_instrumented()
        sync, _ = clients(lambda request: json_response(200, chat_completion()))
        sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        assert spans.one().name == "chat gpt-4o-mini"
    finally:
        instrumentor.uninstrument()
    assert not spy_openai.is_instrumented()


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "spyglass_openai"]
    if not found:
        pytest.skip("package metadata predates the entry point: reinstall with pip install -e .")
    assert found[0].load() is spy_openai.OpenAIInstrumentor


def test_store_end_to_end_nested_under_a_traced_step(db_path: Any) -> None:
    """configure(instrument=["openai"]) -> spans nest under @trace_step and land in DuckDB."""
    tracer.configure(db=db_path, instrument=["openai"])
    try:
        sync, _ = clients(lambda request: json_response(200, chat_completion(cached=800)))

        @tracer.trace_step
        def answer(question: str) -> str:
            return (
                sync.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
                .choices[0]
                .message.content
            )

        assert answer("hi?") == "Hello there."
        assert tracer.flush()
        store = tracer.Store(db_path)
        [summary] = store.list_traces()
        assert summary["root_name"] == "answer" and summary["span_count"] == 2
        trace = store.get_trace(summary["trace_id"])
        root, llm = trace["spans"]
        assert llm["parent_span_id"] == root["span_id"]
        assert (llm["model"], llm["input_tokens"], llm["output_tokens"]) == ("gpt-4o-mini-2024-07-18", 1000, 20)
        assert llm["span_type"] == "llm" and llm["cost_usd"] == pytest.approx(
            (200 * 0.15 + 800 * 0.075 + 20 * 0.60) / 1e6
        )
        assert llm["attributes"][A.GEN_AI_PROVIDER_NAME] == "openai"
        assert "gpt-4o-mini-2024-07-18" in str(summary)
    finally:
        spy_openai.uninstrument()
        tracer.flush()


def test_content_capture_off_keeps_usage_but_no_text(monkeypatch: pytest.MonkeyPatch) -> None:
    _settings.set_settings(_settings.Settings(capture_content=False))
    spans = Spans()
    spy_openai.instrument(tracer_provider=spans.provider)
    try:
        sync, _ = clients(lambda request: json_response(200, chat_completion()))
        sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
    finally:
        spy_openai.uninstrument()
    a = attrs(spans.one())
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    for key in (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES, A.OI_INPUT_VALUE, A.OI_OUTPUT_VALUE):
        assert key not in a


def test_redaction_and_truncation_apply() -> None:
    _settings.set_settings(
        _settings.Settings(max_value_chars=200, redact=lambda key, text: text.replace("test", "****"))
    )
    spans = Spans()
    spy_openai.instrument(tracer_provider=spans.provider)
    try:
        sync, _ = clients(lambda request: json_response(200, chat_completion("x" * 300)))
        sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
    finally:
        spy_openai.uninstrument()
    a = dict(spans.one().attributes)
    assert "****" in a[A.GEN_AI_INPUT_MESSAGES] and "test" not in a[A.GEN_AI_INPUT_MESSAGES]
    assert "truncated" in a[A.OI_OUTPUT_VALUE]


def test_an_internal_error_in_a_stream_chunk_never_breaks_the_stream(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The per-chunk fold is caught with a plain ``try`` (tracer._guard.swallow), not ``with
    guard``: the same rules hold. Under test it raises; in production every chunk still reaches
    the user, the warning is logged once, and the span ends with what was counted."""

    def broken(self: Any, chunk: Any) -> None:
        raise RuntimeError("bug in a stream fold")

    monkeypatch.setattr(_openai_streams.ChatStreamState, "add", broken)
    spans = Spans()
    spy_openai.instrument(tracer_provider=spans.provider)
    sync, _ = clients(lambda request: sse(chat_chunks(4)))
    try:
        with pytest.raises(RuntimeError, match="bug in a stream fold"):
            for _ in sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True):
                pass
        set_raise_internal_errors(False)
        reset_reported()
        with caplog.at_level(logging.WARNING, logger="spyglass"):
            stream = sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT, stream=True)
            texts = [c.choices[0].delta.content for c in stream]
        assert texts == ["w0 ", "w1 ", "w2 ", "w3 "]
        assert caplog.text.count("internal error in integration stream chunk") == 1
        last = spans.finished()[-1]
        assert last.end_time is not None
        assert dict(last.attributes)[A.STREAM_END] == A.STREAM_END_COMPLETED
        assert dict(last.attributes)[A.STREAM_ITEMS] == 4
    finally:
        set_raise_internal_errors(True)
        spy_openai.uninstrument()


def test_an_internal_error_never_breaks_the_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(r: Any) -> Any:
        raise RuntimeError("bug in an extractor")

    monkeypatch.setattr(_openai_extract, "_response_ids", broken)
    spans = Spans()
    spy_openai.instrument(tracer_provider=spans.provider)
    sync, _ = clients(lambda request: json_response(200, chat_completion()))
    try:
        with pytest.raises(RuntimeError, match="bug in an extractor"):  # under test: raised
            sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        set_raise_internal_errors(False)
        reset_reported()
        with caplog.at_level(logging.WARNING, logger="spyglass"):
            result = sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
        assert result.choices[0].message.content == "Hello there."  # production: the call goes on
        assert "internal error" in caplog.text
        assert all(s.end_time is not None for s in spans.finished()) and len(spans.finished()) == 2
    finally:
        set_raise_internal_errors(True)
        spy_openai.uninstrument()
