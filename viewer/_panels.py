"""Screen 3: one span, laid out to answer "why did the answer come out like this?".

Four panels side by side (Context, Prompt, Output, Decisions), then usage, model
parameters, the error and the raw attributes. Every piece of captured content is shown
with ``st.text``/``st.code``/``st.dataframe``, never as Markdown or HTML (see ``_safe.py``).
Each panel is a keyed container (``st-key-panel-*`` in the page) so tests can find it.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import streamlit as st

from tracer import attributes as A
from tracer._content import output_text

from . import _grounding as G
from . import _messages as M
from ._safe import md
from ._tree import Node

PANEL_HEIGHT = 560
VERDICT_COLORS = {"pass": "green", "modify": "blue", "flag": "orange", "block": "red"}
# Streamlit's own badge syntax: no emoji font needed, and the text is ours, not the store's.
MATCH_LABELS = {"exact": ":green-badge[in prompt: exact match]",
                "normalised": ":green-badge[in prompt: normalised match]",
                "truncated": ":orange-badge[truncated: first {kept} of {total} characters in prompt]",
                None: ":gray-badge[dropped: not in prompt]"}


def focus_key(trace_id: str) -> str:
    """Session state: the document the Context panel brings forward (a sentence's best match)."""
    return f"focus-{trace_id}"


def _focus(trace_id: str, doc_id: str, sentence: int, span_id: str) -> None:
    st.session_state[focus_key(trace_id)] = (doc_id, sentence, span_id)


def _match_label(d: M.Document) -> str:
    label = MATCH_LABELS[d.in_prompt]
    return label.format(kept=d.kept_chars, total=len(M.normalise(d.content))) if d.in_prompt == "truncated" else label


def _panel(title: str, key: str) -> Any:
    st.markdown(f"**{title}**")
    return st.container(height=PANEL_HEIGHT, border=True, key=f"panel-{key}")


def _llm_attrs(data: Mapping[str, Any], node: Node) -> list[Mapping[str, Any]]:
    """The prompt(s) documents are matched against: the selected LLM span's, or, from any
    other span, every LLM span of the trace."""
    if node.span.get("span_type") == A.SPAN_TYPE_LLM:
        return [node.span.get("attributes") or {}]
    return [s.get("attributes") or {} for s in data["spans"] if s.get("span_type") == A.SPAN_TYPE_LLM]


def _span_names(data: Mapping[str, Any]) -> dict[str, str]:
    return {str(s["span_id"]): str(s.get("name") or "?") for s in data["spans"]}


# --- the four panels ---------------------------------------------------------------------
def _trace_id(data: Mapping[str, Any]) -> str:
    return str(data["trace"].get("trace_id"))


def trace_documents(data: Mapping[str, Any], node: Node) -> list[M.Document]:
    return M.documents(data["documents"], _llm_attrs(data, node))


def _document(d: M.Document) -> None:
    score = "-" if d.score is None else f"{d.score:.3f}"
    st.markdown(f"**#{d.rank}** · {md(d.id or '?', 80)} · score {score} · {_match_label(d)}")
    st.text(d.content)
    if d.metadata not in (None, {}, ""):
        st.code(M.to_display(d.metadata), language="json")


def context_panel(data: Mapping[str, Any], node: Node) -> None:
    docs = trace_documents(data, node)
    if not docs:
        st.caption("No retrieved documents in this trace.")
        return
    whole = sum(1 for d in docs if d.in_prompt in ("exact", "normalised"))
    cut = sum(1 for d in docs if d.in_prompt == "truncated")
    st.caption(f"{len(docs)} documents: {whole} in the prompt, {cut} truncated, {len(docs) - whole - cut} dropped")
    focus = st.session_state.get(focus_key(_trace_id(data)))
    if focus and focus[2] == node.span_id:  # sentence numbers belong to one span's answer
        doc_id, sentence, _ = focus
        match = next((d for d in docs if d.id == doc_id), None)
        with st.container(border=True, key="context-focus"):
            st.markdown(f":blue-badge[best document] for sentence {int(sentence)}")
            if match is None:
                st.caption(f"document {md(doc_id, 80)} is not among this trace's documents")
            else:
                _document(match)
    names = _span_names(data)
    last_span = None
    for d in docs:
        if d.span_id != last_span and len({x.span_id for x in docs}) > 1:
            st.caption(f"from {md(names.get(d.span_id or '', '?'))}")
        last_span = d.span_id
        _document(d)


def _part(part: M.Part) -> None:
    if part.kind == "text":
        st.text(part.text)
    elif part.kind == "tool_call":
        st.caption(f"tool call: {md(part.name or '?')}" + (f" (id {md(part.id)})" if part.id else ""))
        st.code(part.text, language="json")
    elif part.kind == "tool_call_response":
        st.caption("tool result" + (f" (id {md(part.id)})" if part.id else ""))
        st.code(part.text, language=None)
    else:
        st.caption(md(part.kind))
        st.text(part.text)


def _message(msg: M.Message) -> None:
    role = msg.role + (f" ({msg.name})" if msg.name else "")
    st.markdown(f"**{md(role)}**")
    for part in msg.parts:
        _part(part)


def prompt_panel(attrs: Mapping[str, Any]) -> None:
    p = M.prompt(attrs)
    if p.version:
        st.caption(f"prompt version {md(p.version)}")
    if p.system_instructions:
        st.markdown("**system instructions**")
        for text in p.system_instructions:
            st.text(text)
    for msg in p.messages:
        _message(msg)
    if p.raw_input is not None:
        st.caption("input (function arguments)")
        st.code(p.raw_input, language=None, wrap_lines=True)
    if p.template:
        st.markdown("**template**")
        st.code(p.template, language=None, wrap_lines=True)
    if p.variables not in (None, ""):
        st.markdown("**variables**")
        st.code(M.to_display(p.variables), language="json", wrap_lines=True)
    if p.tool_definitions:
        st.markdown(f"**tools** ({len(p.tool_definitions)})")
        for tool in p.tool_definitions:
            st.code(M.to_display(tool), language="json", wrap_lines=True)
    if not (p.messages or p.raw_input or p.system_instructions or p.template or p.tool_definitions):
        st.caption("No prompt captured on this span.")


def verdict(g: G.Grounding, *more: str | None) -> None:
    """The verdict as a short badge (a badge does not wrap), the score and counts below it."""
    st.markdown(f":{'red' if g.suspected else 'green'}-badge[{md(g.verdict)}]")
    st.caption(" · ".join(md(b, 300) for b in (g.facts(), *more) if b))


def grounding_block(g: G.Grounding, output: str, trace_id: str, span_id: str,
                    ranks: Mapping[str, int]) -> None:
    """The answer sentence by sentence, unsupported ones marked, each linked to its best
    document (the button brings it forward in the Context panel) or marked as having none.
    The sentences are shown with ``st.text``; only our own labels are Markdown."""
    verdict(g, None if g.sentences else g.explanation)  # the counts already say what it explains
    for i, s in enumerate(g.sentences, 1):
        text = s.text or (output[s.start:s.end] if s.start is not None and s.end is not None else "")
        with st.container(border=not s.supported, key=f"sentence-{span_id}-{i}"):
            badge = ":green-badge[supported]" if s.supported else ":red-badge[unsupported]"
            score = "" if s.score is None else f" · score {s.score:.2f}"
            st.markdown(f"{badge} · sentence {i}{score}")
            st.text(text)
            if s.best_document_id:
                rank = ranks.get(s.best_document_id)
                where = f" (#{rank})" if rank else ""
                st.button(f"best document: {md(s.best_document_id, 80)}{where} → Context", key=f"best-{span_id}-{i}",
                          type="tertiary", on_click=_focus, args=(trace_id, s.best_document_id, i, span_id))
            else:
                st.caption("no supporting document")
    if g.numbers:
        st.markdown("**numbers in no document**")
        st.text(", ".join(g.numbers))
    if g.entities:
        st.markdown("**names in no document**")
        st.text(", ".join(g.entities))


def output_panel(attrs: Mapping[str, Any], grounding: G.Grounding | None = None, *, trace_id: str = "",
                 span_id: str = "", ranks: Mapping[str, int] | None = None) -> None:
    out = M.output(attrs)
    if out.finish_reasons:
        st.caption(f"finish reason: {md(', '.join(out.finish_reasons))}")
    for refusal in out.refusals:
        st.warning("The model refused:")
        st.text(refusal)
    graded = output_text(attrs) if grounding is not None else None
    if grounding is not None and graded is not None:
        grounding_block(grounding, graded, trace_id, span_id, ranks or {})
    for msg in out.messages:
        if graded is not None:  # the graded text is shown sentence by sentence above
            msg = M.Message(msg.role, tuple(p for p in msg.parts if p.kind != "text" or p.text != graded),
                            msg.finish_reason, msg.name)
            if not msg.parts:
                continue
        _message(msg)
    if out.raw_output is not None and graded is None:
        st.caption("output (return value)")
        st.code(out.raw_output, language=None, wrap_lines=True)
    if not out.messages and out.raw_output is None:
        st.caption("No output captured on this span.")


def decisions_panel(data: Mapping[str, Any], node: Node) -> None:
    decisions = M.decisions(data["decisions"])
    if not decisions:
        st.caption("No post-processing decisions in this trace.")
        return
    names = _span_names(data)
    for d in decisions:
        here = " · this span" if d.span_id == node.span_id else ""
        st.markdown(f"**{md(d.name)}** · step {md(names.get(d.span_id or '', '?'))}{here}")
        st.badge(d.verdict.upper() if d.verdict in VERDICT_COLORS else md(d.verdict),
                 color=VERDICT_COLORS.get(d.verdict, "gray"))  # type: ignore[arg-type]
        facts = [f"action: {d.action}" if d.action else "", f"score: {d.score:.3f}" if d.score is not None else ""]
        if any(facts):
            st.text(" · ".join(f for f in facts if f))
        if d.reason:
            st.text(f"reason: {d.reason}")
        if d.diff:
            st.code(d.diff, language="diff", wrap_lines=True)
        elif d.before is not None:
            st.caption("text unchanged")
        st.divider()


# --- below the panels --------------------------------------------------------------------
def _facts(span: Mapping[str, Any]) -> None:
    u = M.usage(span)
    cols = st.columns(5)
    def fmt(v: Any, pattern: str) -> str:
        return "-" if v is None else pattern.format(v)
    values = [("input tokens", fmt(u["input_tokens"], "{:,}")), ("output tokens", fmt(u["output_tokens"], "{:,}")),
              ("cost", fmt(u["cost_usd"], "${:.6f}")), ("latency", fmt(u["latency_ms"], "{:,.1f} ms")),
              ("time to first token", fmt(u["ttft_ms"], "{:,.1f} ms"))]
    for col, (label, value) in zip(cols, values):
        col.metric(label, value)
    extra = {k: v for k, v in (("cache read tokens", u["cache_read_tokens"]),
                               ("reasoning tokens", u["reasoning_tokens"])) if v is not None}
    if extra:
        st.text("  ·  ".join(f"{k}: {v:,}" for k, v in extra.items()))


def _error(span: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> None:
    if span.get("status_code") != "ERROR" and not span.get("error_type"):
        return
    st.error("This span failed")
    st.text(str(span.get("status_message") or span.get("error_type") or ""))
    for exc in M.exceptions(events, str(span["span_id"])):
        st.code(exc["stacktrace"] or f"{exc['type']}: {exc['message']}", language=None, wrap_lines=True)


def render(data: Mapping[str, Any], node: Node) -> None:
    span = node.span
    attrs: Mapping[str, Any] = span.get("attributes") or {}
    st.subheader(md(span.get("name") or "?"))
    st.text(f"{span.get('span_type') or 'span'} · status {span.get('status_code')} · span id {span.get('span_id')}"
            + (f" · model {span.get('model')}" if span.get("model") else ""))
    c1, c2, c3, c4 = st.columns(4)
    with c1, _panel("Context", "context"):
        context_panel(data, node)
    with c2, _panel("Prompt", "prompt"):
        prompt_panel(attrs)
    grounding = G.for_span(data.get("evaluations") or (), node.span_id)
    ranks = {d.id: d.rank for d in reversed(trace_documents(data, node)) if d.id}
    with c3, _panel("Output", "output"):
        output_panel(attrs, grounding, trace_id=_trace_id(data), span_id=node.span_id, ranks=ranks)
    with c4, _panel("Decisions", "decisions"):
        decisions_panel(data, node)
    _facts(span)
    _error(span, data["events"])
    params = M.model_parameters(attrs)
    if params:
        st.markdown("**model parameters**")
        st.code(json.dumps(params, indent=2, default=str), language="json")
    with st.expander("Raw attributes (JSON)"):
        st.code(json.dumps(dict(attrs), indent=2, ensure_ascii=False, default=str), language="json")
