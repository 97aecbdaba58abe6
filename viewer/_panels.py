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

from . import _messages as M
from ._safe import md
from ._tree import Node

PANEL_HEIGHT = 560
VERDICT_COLORS = {"pass": "green", "modify": "blue", "flag": "orange", "block": "red"}
# Streamlit's own badge syntax: no emoji font needed, and the text is ours, not the store's.
MATCH_LABELS = {"exact": ":green-badge[in prompt: exact match]",
                "normalised": ":green-badge[in prompt: normalised match]",
                None: ":gray-badge[not in prompt]"}


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
def context_panel(data: Mapping[str, Any], node: Node) -> None:
    docs = M.documents(data["documents"], _llm_attrs(data, node))
    if not docs:
        st.caption("No retrieved documents in this trace.")
        return
    used = sum(1 for d in docs if d.in_prompt)
    st.caption(f"{len(docs)} documents, {used} in the prompt")
    names = _span_names(data)
    last_span = None
    for d in docs:
        if d.span_id != last_span and len({x.span_id for x in docs}) > 1:
            st.caption(f"from {md(names.get(d.span_id or '', '?'))}")
        last_span = d.span_id
        score = "-" if d.score is None else f"{d.score:.3f}"
        st.markdown(f"**#{d.rank}** · `{md(d.id or '?', 80)}` · score {score} · {MATCH_LABELS[d.in_prompt]}")
        st.text(d.content)
        if d.metadata not in (None, {}, ""):
            st.code(M.to_display(d.metadata), language="json")


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


def output_panel(attrs: Mapping[str, Any]) -> None:
    out = M.output(attrs)
    if out.finish_reasons:
        st.caption(f"finish reason: {md(', '.join(out.finish_reasons))}")
    for refusal in out.refusals:
        st.warning("The model refused:")
        st.text(refusal)
    for msg in out.messages:
        _message(msg)
    if out.raw_output is not None:
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
    with c3, _panel("Output", "output"):
        output_panel(attrs)
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
