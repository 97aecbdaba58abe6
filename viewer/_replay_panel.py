"""Replay on the span-detail screen (opt-in: needs ``OPENAI_API_KEY``): re-run the selected
OpenAI chat call with an edited prompt, or with one retrieved document taken out, and show
the new answer and its grounding beside the old. The logic is in ``_replay.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from tracer._content import output_text, question_text

from . import _grounding as G
from . import _replay as R
from ._calls import where
from ._messages import Document
from ._panels import verdict
from ._safe import md
from ._tree import Node

EDIT, REMOVE = "edit the prompt", "remove a document"


def _key(span_id: str, what: str) -> str:
    return f"replay-{what}-{span_id}"


def _replay(span_id: str, request: dict[str, Any], docs: list[dict[str, Any]], question: str | None) -> None:
    ss = st.session_state
    removed = None
    if ss.get(_key(span_id, "mode")) == REMOVE:
        removed = ss.get(_key(span_id, "doc"))
        content = next((d["content"] for d in docs if d["id"] == removed), "")
        request, found = R.without_document(request, content)
        if not found:
            ss[_key(span_id, "result")] = {
                "error": f"Document {removed} is not verbatim in the prompt "
                f"(a normalised match): edit the prompt instead."
            }
            return
    else:
        texts = {i: ss.get(_key(span_id, f"msg{i}"), text) for i, _, text in R.editable(request)}
        request = R.with_texts(request, texts)
    import openai  # optional: only a replay needs it (R.unavailable says when it is missing)

    try:
        client = R.make_client()
    except openai.OpenAIError as exc:  # e.g. the key was unset since the page was drawn
        ss[_key(span_id, "result")] = {"error": f"{type(exc).__name__}: {R.redact(str(exc))}"}
        return
    result = R.run(client, request)
    grounding = (
        None
        if result.error or not result.output
        else G.check(result.output, R.remaining_documents(docs, removed), question)
    )
    ss[_key(span_id, "result")] = {
        "result": result,
        "grounding": grounding,
        "removed": removed,
        "edited": removed is None,
    }


def _grounding(g: G.Grounding | None, has_docs: bool) -> None:
    if g is None:
        st.caption("no grounding result" + ("" if has_docs else " (no documents)"))
        return
    verdict(g)
    for s in g.unsupported:
        st.markdown(
            ":red-badge[unsupported]"
            + (f" · best document {md(s.best_document_id, 80)}" if s.best_document_id else " · no supporting document")
        )
        st.text(s.text)


def render(
    data: Mapping[str, Any], node: Node, documents: list[Document], content: Mapping[str, Any] | None = None
) -> None:
    """``content``: for a logical call without messages of its own, the call inside it whose
    request is replayed (``_calls.borrowed``)."""
    span = node.span
    if span.get("span_type") != "llm":
        return
    attrs: Mapping[str, Any] = (content if content is not None else span).get("attributes") or {}
    sid = node.span_id
    outcome = st.session_state.get(_key(sid, "result"))
    with st.expander("Replay this call", expanded=outcome is not None):
        if content is not None:
            st.caption(f"replays {md(where([content]), 200)}")
        reason = R.unavailable(attrs)
        can_build = reason is None or R.API_KEY_ENV in reason  # the form is useful to see without a key
        if not can_build:
            st.caption(md(reason, 300))
            return
        request = R.request_from_span(attrs)
        docs = [{"id": d.id, "content": d.content} for d in documents if d.id]
        in_prompt = [d.id for d in documents if d.id and d.in_prompt]
        mode = st.radio("Change", (EDIT, REMOVE) if in_prompt else (EDIT,), horizontal=True, key=_key(sid, "mode"))
        if mode == REMOVE:
            st.selectbox("Document to remove", in_prompt, key=_key(sid, "doc"))
        else:
            for i, role, text in R.editable(request):
                st.text_area(f"{md(role)} message {i + 1}", value=text, key=_key(sid, f"msg{i}"), height=120)
        st.button(
            "Replay",
            key=_key(sid, "go"),
            disabled=reason is not None,
            help=reason and md(reason, 300),
            on_click=_replay,
            args=(sid, request, docs, question_text(attrs)),
        )
        if reason is not None:
            st.info(reason)
        if outcome is None:
            return
        if outcome.get("error"):
            st.warning(md(outcome["error"], 300))
            return
        result: R.Result = outcome["result"]
        before, after = st.columns(2)
        with before, st.container(border=True, key="replay-before"):
            st.markdown("**before** (traced)")
            st.text(output_text(attrs) or "(no text output)")
            _grounding(G.for_span(data.get("evaluations") or (), sid), bool(docs))
        with after, st.container(border=True, key="replay-after"):
            what = f"without {md(outcome['removed'], 80)}" if outcome.get("removed") else "edited prompt"
            st.markdown(f"**after** (replay, {what})")
            if result.error:
                st.warning(md(result.error, 300))
                return
            st.text(result.output or "(no text output)")
            for call in result.tool_calls:
                st.caption(f"tool call: {md(call.get('name') or '?')}")
                st.code(str(call.get("arguments") or ""), language="json")
            tokens = (
                f"{result.input_tokens} in / {result.output_tokens} out" if result.input_tokens is not None else "?"
            )
            st.text(
                f"model {result.model} · tokens {tokens} · {result.latency_ms or 0:,.0f} ms · "
                f"finish {result.finish_reason}"
            )
            if not G.available():
                st.caption("grounding check not installed (tracer.grounding)")
            else:
                _grounding(outcome.get("grounding"), bool(docs))
