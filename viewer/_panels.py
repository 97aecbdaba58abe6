"""Screen 3: one span, laid out to answer "why did the answer come out like this?".

Four panels side by side (Context, Prompt, Output, Decisions), then usage, model
parameters, the error and the raw attributes. Every piece of captured content is shown
with ``st.text``/``st.code``/``st.dataframe``, never as Markdown or HTML (see ``_safe.py``).
Each panel is a keyed container (``st-key-panel-*`` in the page) so tests can find it.

A logical LLM call (a ``@trace_llm`` function around an instrumented client) that has no
messages or no usage of its own shows those of the call inside, saying so (``_calls.py``).
An answer that post-processing blocked or changed shows what the user received first, and
the original with its grounding under "before post-processing" (``_outcome.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from tracer import attributes as A
from tracer._content import output_text
from tracer._evidence import answer

from . import _calls, _context_panel, _hints, _labels
from . import _context as C
from . import _elsewhere as E
from . import _grounding as G
from . import _messages as M
from . import _outcome as O
from ._calls import Borrowed, Calls
from ._context_panel import focus_key, trace_documents
from ._safe import md
from ._tree import Node

__all__ = ["focus_key", "render", "trace_documents"]

PANEL_HEIGHT = 560
VERDICT_COLORS = {"pass": "green", "modify": "blue", "flag": "orange", "block": "red"}
OUTCOME_COLORS = {O.BLOCKED: "red", O.MODIFIED: "blue"}


def _focus(trace_id: str, doc_id: str, sentence: int, span_id: str) -> None:
    st.session_state[focus_key(trace_id)] = (doc_id, sentence, span_id)


SIDE_BY_SIDE, STACKED = "side by side", "one below another, full height"
LAYOUT_KEY = "panels"  # also the URL parameter (?panels=...): a link keeps the layout


def _panel(title: str, key: str, *, grow: bool = False) -> Any:
    """A panel: a fixed-height scroll box side by side, or as tall as its content."""
    st.markdown(f"**{title}**")
    return st.container(height="content" if grow else PANEL_HEIGHT, border=True, key=f"panel-{key}")


def _layout() -> bool:
    """The layout switch; ``True`` for panels stacked at full width and height."""
    picked = st.segmented_control(
        "Panels",
        [SIDE_BY_SIDE, STACKED],
        default=SIDE_BY_SIDE,
        key=LAYOUT_KEY,
        bind="query-params",
        label_visibility="collapsed",
        help="side by side: the four panels in fixed-height boxes that scroll; one below "
        "another: each panel full width and as tall as its content",
    )
    return picked == STACKED


def _span_names(data: Mapping[str, Any]) -> dict[str, str]:
    return {str(s["span_id"]): str(s.get("name") or "?") for s in data["spans"]}


def _trace_id(data: Mapping[str, Any]) -> str:
    return str(data["trace"].get("trace_id"))


# --- the four panels ---------------------------------------------------------------------
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


def prompt_panel(attrs: Mapping[str, Any], *, borrowed: Mapping[str, Any] | None = None, source: str = "") -> None:
    """The span's prompt; for a logical call without messages of its own, the messages of the
    call inside (``borrowed``, captioned with ``source``), then the function's arguments."""
    if borrowed is not None:
        st.caption(f"messages from {md(source, 200)}")
        _prompt(borrowed, empty=False)
        own = M.prompt(attrs)
        if own.raw_input is not None:
            st.caption("input of the decorated function (arguments)")
            st.code(own.raw_input, language=None, wrap_lines=True)
        return
    _prompt(attrs)


def _prompt(attrs: Mapping[str, Any], *, empty: bool = True) -> None:
    p = M.prompt(attrs)
    if p.version:
        st.caption(f"prompt version {md(p.version)}")
    if p.system_instructions:
        st.markdown("**system instructions**")
        for text in p.system_instructions:
            st.text(text)
    for msg in p.messages:
        _message(msg)
    if p.raw_input is not None and empty:
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
    if empty and not (p.messages or p.raw_input or p.system_instructions or p.template or p.tool_definitions):
        st.caption("No prompt captured on this span.")


def verdict(g: G.Grounding, *more: str | None, before: bool = False) -> None:
    """The verdict as a short badge (a badge does not wrap), the score and counts below it.
    ``before``: the answer was blocked or changed after it; a grounded verdict is then gray,
    never green, and says that it is about the text before post-processing."""
    color = "red" if g.suspected else "gray" if before else "green"
    st.markdown(f":{color}-badge[{md(g.verdict)}{' · ' + O.BEFORE if before else ''}]")
    st.caption(" · ".join(md(b, 300) for b in (g.facts(), *more) if b))


def _best(s: G.Sentence, i: int, trace_id: str, span_id: str, ranks: Mapping[str, int]) -> None:
    if s.best_source_kind == G.SOURCE_TOOL and s.best_document_id:
        st.button(
            f"best source: the tool result {md(s.best_source or s.best_document_id, 80)} → Context",
            key=f"best-{span_id}-{i}",
            type="tertiary",
            on_click=_focus,
            args=(trace_id, s.best_document_id, i, span_id),
        )
    elif s.best_source_kind == G.SOURCE_TOOL:
        st.caption(f"best source: the tool result {md(s.best_source or '?', 80)}")
    elif s.best_document_id:
        rank = ranks.get(s.best_document_id)
        where = f" (#{rank})" if rank else ""
        st.button(
            f"best document: {md(s.best_document_id, 80)}{where} → Context",
            key=f"best-{span_id}-{i}",
            type="tertiary",
            on_click=_focus,
            args=(trace_id, s.best_document_id, i, span_id),
        )
    else:
        st.caption("no supporting document")


def grounding_block(
    g: G.Grounding, output: str, trace_id: str, span_id: str, ranks: Mapping[str, int], *, before: bool = False
) -> None:
    """The answer sentence by sentence, unsupported ones marked, each linked to its best
    document (the button brings it forward in the Context panel) or marked as having none.
    The sentences are shown with ``st.text``; only our own labels are Markdown."""
    verdict(g, None if g.sentences else g.explanation, before=before)  # the counts already say what it explains
    for i, s in enumerate(g.sentences, 1):
        text = s.text or (output[s.start : s.end] if s.start is not None and s.end is not None else "")
        with st.container(border=not s.supported, key=f"sentence-{span_id}-{i}"):
            # Before post-processing nothing is green: the user did not read this text as it is.
            badge = f":{'gray' if before else 'green'}-badge[supported]" if s.supported else ":red-badge[unsupported]"
            score = "" if s.score is None else f" · score {s.score:.2f}"
            st.markdown(f"{badge} · sentence {i}{score}")
            st.text(text)
            _best(s, i, trace_id, span_id, ranks)
    if g.numbers:
        st.markdown("**numbers in no document**")
        st.text(", ".join(g.numbers))
    if g.entities:
        st.markdown("**names in no document**")
        st.text(", ".join(g.entities))


def received_block(outcome: O.Outcome) -> None:
    """What the user got, when post-processing blocked or changed the answer."""
    with st.container(border=True, key="received"):
        st.markdown(f":{OUTCOME_COLORS.get(outcome.kind, 'gray')}-badge[{md(outcome.headline())}]")
        if outcome.decision is not None and outcome.decision.reason:
            st.caption(f"reason: {md(outcome.decision.reason, 300)}")
        st.markdown("**what the user received**")
        if outcome.received not in (None, ""):
            st.text(outcome.received)
        else:
            st.caption("nothing: the answer was withheld" if outcome.kind == O.BLOCKED else "(not recorded)")
    st.markdown(f"**{O.BEFORE}**")


def output_panel(
    attrs: Mapping[str, Any],
    grounding: G.Grounding | None = None,
    *,
    trace_id: str = "",
    span_id: str = "",
    ranks: Mapping[str, int] | None = None,
    outcome: O.Outcome | None = None,
    borrowed: Mapping[str, Any] | None = None,
    source: str = "",
) -> None:
    changed = outcome is not None and outcome.changed
    if changed:
        received_block(outcome)  # type: ignore[arg-type]
    out = M.output(attrs)
    if out.finish_reasons:
        st.caption(f"finish reason: {md(', '.join(out.finish_reasons))}")
    for refusal in out.refusals:
        st.warning("The model refused:")
        st.text(refusal)
    graded = output_text(attrs) if grounding is not None else None
    if grounding is not None and graded is not None:
        grounding_block(grounding, graded, trace_id, span_id, ranks or {}, before=changed)
    for msg in out.messages:
        if graded is not None:  # the graded text is shown sentence by sentence above
            msg = M.Message(
                msg.role,
                tuple(p for p in msg.parts if p.kind != "text" or p.text != graded),
                msg.finish_reason,
                msg.name,
            )
            if not msg.parts:
                continue
        _message(msg)
    if out.raw_output is not None and graded is None:
        st.caption("output (return value)")
        st.code(out.raw_output, language=None, wrap_lines=True)
    inner = M.output(borrowed) if borrowed is not None and not out.messages else None
    if inner is not None and inner.messages:
        st.caption(f"output of {md(source, 200)}")
        for msg in inner.messages:
            _message(msg)
    if not out.messages and out.raw_output is None and not (inner and inner.messages):
        st.caption("No output captured on this span.")


def _decisions_elsewhere(path: str, data: Mapping[str, Any]) -> None:
    """An answer without post-processing in its trace, when a post-processing step ran in a
    trace of its own right after: say so, link it, and say how to enclose both."""
    spans = data["spans"]
    if not any(s.get("span_type") == A.SPAN_TYPE_LLM for s in spans) or any(
        s.get("span_type") == A.SPAN_TYPE_POSTPROCESS for s in spans
    ):
        return
    trace = data["trace"]
    guards = _hints.nearby(path, trace, A.SPAN_TYPE_POSTPROCESS, E.after(trace))
    if not guards:
        return
    with st.container(key="decisions-elsewhere"):
        st.warning(
            "**Post-processing ran in another trace**, because nothing encloses both the LLM call and "
            "the post-processing step: what it decided about this answer is shown there, not here."
        )
        _hints.links(guards, trace, "post-processing")
        if C.needs_hint(data, data["documents"], C.tool_results(spans)):
            st.caption("The fix is in the Context panel.")  # it names the retrieval trace too
            return
        retrievers = (
            []
            if any(s.get("span_type") == A.SPAN_TYPE_RETRIEVER for s in spans)
            else _hints.nearby(path, trace, A.SPAN_TYPE_RETRIEVER, E.before(trace))
        )
        _hints.fix(
            retriever=retrievers[0].get("root_name") if retrievers else None,
            answer=trace.get("root_name"),
            guard=guards[0].get("root_name"),
        )


def decisions_panel(data: Mapping[str, Any], node: Node, path: str | None = None) -> None:
    decisions = M.decisions(data["decisions"])
    if not decisions:
        st.caption("No post-processing decisions in this trace.")
        if path is not None:
            _decisions_elsewhere(path, data)
        return
    names = _span_names(data)
    for d in decisions:
        here = " · this span" if d.span_id == node.span_id else ""
        st.markdown(f"**{md(d.name)}** · step {md(names.get(d.span_id or '', '?'))}{here}")
        st.badge(
            d.verdict.upper() if d.verdict in VERDICT_COLORS else md(d.verdict),
            color=VERDICT_COLORS.get(d.verdict, "gray"),  # type: ignore[arg-type]
        )
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
def _facts(span: Mapping[str, Any], calls: Calls, borrowed: Borrowed | None) -> None:
    u = dict(M.usage(span))
    if borrowed is not None and borrowed.usage:
        u.update(borrowed.totals)
    cols = st.columns(5)

    def fmt(v: Any, pattern: str) -> str:
        return "-" if v is None else pattern.format(v)

    values = [
        ("input tokens", fmt(u["input_tokens"], "{:,}")),
        ("output tokens", fmt(u["output_tokens"], "{:,}")),
        ("cost", fmt(u["cost_usd"], "${:.6f}")),
        ("latency", fmt(u["latency_ms"], "{:,.1f} ms")),
        ("time to first token", fmt(u["ttft_ms"], "{:,.1f} ms")),
    ]
    for col, (label, value) in zip(cols, values):
        col.metric(label, value)
    extra = {
        k: v
        for k, v in (("cache read tokens", u["cache_read_tokens"]), ("reasoning tokens", u["reasoning_tokens"]))
        if v is not None
    }
    if extra:
        st.text("  ·  ".join(f"{k}: {v:,}" for k, v in extra.items()))
    notes = []
    if borrowed is not None and borrowed.usage:
        notes.append(f"tokens and cost from {_calls.where(borrowed.usage)}")
    elif _calls.is_llm(span) and _calls.has_usage(span) and not calls.usage_counted(span):
        notes.append("not added to the trace's totals: the calls nested in this one carry the usage")
    parent = calls.parent(str(span["span_id"]))
    if parent is not None:
        notes.append(f"nested in {parent.get('name') or '?'}: counted as part of that LLM call")
    for note in notes:
        st.caption(md(note, 300))


def _error(span: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> None:
    if span.get("status_code") != "ERROR" and not span.get("error_type"):
        return
    st.error("This span failed")
    st.text(str(span.get("status_message") or span.get("error_type") or ""))
    for exc in M.exceptions(events, str(span["span_id"])):
        st.code(exc["stacktrace"] or f"{exc['type']}: {exc['message']}", language=None, wrap_lines=True)


def outcome_for(data: Mapping[str, Any], calls: Calls) -> tuple[O.Outcome, set[str]]:
    """The trace's post-processing outcome and the LLM spans (logical calls) it applies to."""
    answers = {
        str(s["span_id"]): answer(
            s.get("attributes") or {}, [i.get("attributes") or {} for i in calls.inner(str(s["span_id"]))]
        )[0]
        for s in calls.logical()
    }
    outcome = O.of_trace(data["decisions"], data["spans"], answers.values())
    return outcome, O.affected(outcome, data["spans"], answers)


def _heading(span: Mapping[str, Any], calls: Calls) -> str:
    attrs = span.get("attributes") or {}
    bits = [str(span.get("span_type") or "span")]
    if _calls.is_llm(span) and attrs.get(A.GEN_AI_OPERATION_NAME):
        bits.append(str(attrs[A.GEN_AI_OPERATION_NAME]))
    bits += [f"status {_labels.status(span.get('status_code'))}", f"span id {span.get('span_id')}"]
    model = _calls.model(span) if _calls.is_llm(span) else span.get("model")
    if model:
        bits.append(f"model {model}")
    return " · ".join(bits)


def render(path: str, data: Mapping[str, Any], node: Node, calls: Calls | None = None) -> None:
    calls = calls or Calls(data["spans"])
    span = node.span
    attrs: Mapping[str, Any] = span.get("attributes") or {}
    st.subheader(md(span.get("name") or "?"))
    st.text(_heading(span, calls))
    borrowed = _calls.borrowed(calls, span)
    content = borrowed.content if borrowed is not None else None
    source = _calls.where([content]) if content is not None else ""
    content_attrs = (content.get("attributes") or {}) if content is not None else None
    outcome, affected = outcome_for(data, calls)
    grow = _layout()
    c1, c2, c3, c4 = (st.container() for _ in range(4)) if grow else st.columns(4)
    with c1, _panel("Context", "context", grow=grow):
        _context_panel.render(path, data, node, calls)
    with c2, _panel("Prompt", "prompt", grow=grow):
        prompt_panel(attrs, borrowed=content_attrs, source=source)
    grounding = G.for_span(data.get("evaluations") or (), node.span_id)
    ranks = {d.id: d.rank for d in reversed(trace_documents(data, node, calls)) if d.id}
    with c3, _panel("Output", "output", grow=grow):
        output_panel(
            attrs,
            grounding,
            trace_id=_trace_id(data),
            span_id=node.span_id,
            ranks=ranks,
            outcome=outcome if node.span_id in affected else None,
            borrowed=content_attrs,
            source=source,
        )
    with c4, _panel("Decisions", "decisions", grow=grow):
        decisions_panel(data, node, path)
    _facts(span, calls, borrowed)
    _error(span, data["events"])
    params = M.model_parameters(attrs) or (M.model_parameters(content_attrs) if content_attrs else {})
    if params:
        st.markdown("**model parameters**" + (f" (from {md(source, 200)})" if not M.model_parameters(attrs) else ""))
        st.code(json.dumps(params, indent=2, default=str), language="json")
    with st.expander("Raw attributes (JSON)"):  # as stored, before any convention was mapped
        raw = span.get("raw_attributes", attrs)
        st.code(json.dumps(dict(raw), indent=2, ensure_ascii=False, default=str), language="json")
