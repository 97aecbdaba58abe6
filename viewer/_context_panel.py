"""The Context panel of the span detail: the trace's documents (with whether each made it
into the prompt), its tool results, and, when an answer has no context at all, why and how
to record it. Captured content goes through ``st.text``/``st.code`` only (see ``_safe.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from tracer import attributes as A

from . import _context as C
from . import _elsewhere as E
from . import _hints
from . import _messages as M
from ._calls import Calls
from ._safe import md
from ._tree import Node

# Streamlit's own badge syntax: no emoji font needed, and the text is ours, not the store's.
MATCH_LABELS = {
    "exact": ":green-badge[in prompt: exact match]",
    "normalised": ":green-badge[in prompt: normalised match]",
    "truncated": ":orange-badge[truncated: first {kept} of {total} characters in prompt]",
    None: ":gray-badge[dropped: not in prompt]",
}


def focus_key(trace_id: str) -> str:
    """Session state: the document the Context panel brings forward (a sentence's best match)."""
    return f"focus-{trace_id}"


def _match_label(d: M.Document) -> str:
    label = MATCH_LABELS[d.in_prompt]
    return label.format(kept=d.kept_chars, total=len(M.normalise(d.content))) if d.in_prompt == "truncated" else label


def _llm_attrs(data: Mapping[str, Any], node: Node, calls: Calls) -> list[Mapping[str, Any]]:
    """The prompt(s) documents are matched against: the selected LLM span's and those of the
    calls nested in it (a ``@trace_llm`` function's client call holds the real prompt), or,
    from any other span, every LLM span of the trace."""
    if node.span.get("span_type") == A.SPAN_TYPE_LLM:
        return [s.get("attributes") or {} for s in (node.span, *calls.inner(node.span_id))]
    return [s.get("attributes") or {} for s in data["spans"] if s.get("span_type") == A.SPAN_TYPE_LLM]


def trace_documents(data: Mapping[str, Any], node: Node, calls: Calls | None = None) -> list[M.Document]:
    return M.documents(data["documents"], _llm_attrs(data, node, calls or Calls(data["spans"])))


def _document(d: M.Document) -> None:
    # Many retrievers return no score (LangChain's as_retriever() drops the store's): say so.
    score = "no score" if d.score is None else f"score {d.score:.3f}"
    st.markdown(f"**#{d.rank}** · {md(d.id or '?', 80)} · {score} · {_match_label(d)}")
    st.text(d.content)
    if d.metadata not in (None, {}, ""):
        st.code(M.to_display(d.metadata), language="json", wrap_lines=True)


def _tool_result(t: C.ToolResult) -> None:
    st.markdown(
        f"**{md(t.id, 80)}** · :violet-badge[tool result]" + (f" · call id {md(t.call_id, 60)}" if t.call_id else "")
    )
    st.code(t.text, language=None, wrap_lines=True)


def _tool_results(tools: Sequence[C.ToolResult]) -> None:
    st.markdown(f"**tool results** ({len(tools)})")
    for t in tools:
        _tool_result(t)


def render(path: str, data: Mapping[str, Any], node: Node, calls: Calls) -> None:
    docs = trace_documents(data, node, calls)
    tools = C.tool_results(data["spans"])
    if not docs and not tools:
        if C.needs_hint(data, docs, tools):
            missing_hint(path, data)
        else:
            st.caption("No retrieved documents in this trace.")
        return
    _focused(data, node, docs, tools)
    if docs:
        _documents(data, docs)
    if tools:
        _tool_results(tools)


def _focused(data: Mapping[str, Any], node: Node, docs: Sequence[M.Document], tools: Sequence[C.ToolResult]) -> None:
    """The document (or tool result) a sentence's button brought forward, boxed, first."""
    focus = st.session_state.get(focus_key(str(data["trace"].get("trace_id"))))
    if not focus or focus[2] != node.span_id:  # sentence numbers belong to one span's answer
        return
    doc_id, sentence, _ = focus
    match = next((d for d in docs if d.id == doc_id), None)
    tool = next((t for t in tools if t.id == doc_id), None)
    with st.container(border=True, key="context-focus"):
        st.markdown(f":blue-badge[best {'tool result' if tool else 'document'}] for sentence {int(sentence)}")
        if match is not None:
            _document(match)
        elif tool is not None:
            _tool_result(tool)
        else:
            st.caption(f"document {md(doc_id, 80)} is not among this trace's documents")


def _documents(data: Mapping[str, Any], docs: Sequence[M.Document]) -> None:
    whole = sum(1 for d in docs if d.in_prompt in ("exact", "normalised"))
    cut = sum(1 for d in docs if d.in_prompt == "truncated")
    st.caption(f"{len(docs)} documents: {whole} in the prompt, {cut} truncated, {len(docs) - whole - cut} dropped")
    names = {str(s["span_id"]): str(s.get("name") or "?") for s in data["spans"]}
    last_span = None
    for d in docs:
        if d.span_id != last_span and len({x.span_id for x in docs}) > 1:
            st.caption(f"from {md(names.get(d.span_id or '', '?'))}")
        last_span = d.span_id
        _document(d)


# --- no context at all: say why, and how to fix it ---------------------------------------
def missing_hint(path: str, data: Mapping[str, Any]) -> None:
    trace = data["trace"]
    found = C.missing(data, _hints.nearby(path, trace, A.SPAN_TYPE_RETRIEVER, E.before(trace)))
    with st.container(key="context-missing"):
        if found.reason == "other trace":
            st.warning(
                "**No context for this answer**: no documents and no tool results in this trace. "
                "Retrieval ran in another trace, because nothing encloses both the retriever and the "
                "LLM call: each became a trace of its own."
            )
            _hints.links(found.traces, trace, "retrieval")
            guards = _hints.nearby(path, trace, A.SPAN_TYPE_POSTPROCESS, E.after(trace))
            _hints.fix(
                retriever=found.traces[0].get("root_name"),
                answer=trace.get("root_name"),
                guard=guards[0].get("root_name") if guards else None,
            )
        elif found.reason == "empty retriever":
            st.info(
                f"**No context for this answer**: the retriever {md(', '.join(found.retrievers))} ran in this "
                f"trace but returned no documents, and no tool result was recorded."
            )
        else:
            st.info(
                "**No context was recorded for this answer**, so it cannot be checked against its sources. "
                "Record it in one of these ways:\n"
                "- decorate the function that retrieves with `@tracer.trace_retriever`, and call it inside "
                "the same traced step as the LLM call;\n"
                "- pass the documents to the `@trace_llm` function as an argument (`answer(question, docs)`);\n"
                '- or name the arguments that hold them: `@trace_llm(context="docs")`.'
            )
            st.caption(f"See {md(E.README, 120)}.")
