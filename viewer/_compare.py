"""Two traces side by side: what differs in the prompt, the context and the output, and the
deltas in tokens, cost, latency and grounding. Pure: no Streamlit (``_trace_compare.py``
draws it).

Each trace is reduced to its *answer*: the last logical LLM call that produced text (a
tool-calling loop ends on the call that answered; a ``@trace_llm`` function counts, not the
client call inside it), its prompt (the inner call's when it has none of its own), and the
trace's retrieved documents.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracer._content import output_text

from . import _calls
from . import _grounding as G
from . import _messages as M
from ._calls import Calls
from ._tree import tree

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass(frozen=True)
class Side:
    trace: Mapping[str, Any]
    span: Mapping[str, Any] | None  # the answering LLM span
    prompt: str
    output: str
    documents: tuple[M.Document, ...]
    grounding: G.Grounding | None


def answer_span(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    calls = Calls(data["spans"])
    llm = [n.span for n in tree(data["spans"]) if calls.is_logical(n.span)]
    with_text = [s for s in llm if output_text(s.get("attributes") or {})]
    return (with_text or llm)[-1] if llm else None


def prompt_text(attrs: Mapping[str, Any]) -> str:
    """The prompt as lines of text: system instructions, then ``role: text`` per message part."""
    p = M.prompt(attrs)
    lines = [f"system instructions: {t}" for t in p.system_instructions]
    for msg in p.messages:
        for part in msg.parts:
            kind = "" if part.kind == "text" else f" [{part.kind}{' ' + part.name if part.name else ''}]"
            lines.append(f"{msg.role}{kind}: {part.text}")
    if not lines and p.raw_input is not None:
        lines.append(p.raw_input)
    return "\n".join(lines)


def side(data: Mapping[str, Any]) -> Side:
    span = answer_span(data)
    attrs = (span or {}).get("attributes") or {}
    borrowed = _calls.borrowed(Calls(data["spans"]), span) if span is not None else None
    inner = borrowed.content if borrowed is not None else None
    prompt_attrs = (inner.get("attributes") or {}) if inner is not None else attrs
    llm_attrs = [attrs, prompt_attrs] if span is not None else []
    grounding = G.for_span(data.get("evaluations") or (), str(span["span_id"])) if span is not None else None
    return Side(
        trace=data["trace"],
        span=span,
        prompt=prompt_text(prompt_attrs),
        output=output_text(attrs) or "",
        documents=tuple(M.documents(data["documents"], llm_attrs)),
        grounding=grounding,
    )


def _lines(text: str) -> list[str]:
    """Lines, each cut after its sentences, so that one changed sentence shows as one change."""
    return [s for line in text.splitlines() for s in _SENTENCE_END.split(line)]


def text_diff(a: str, b: str, *, names: tuple[str, str] = ("A", "B")) -> str:
    """A unified diff sentence by sentence; '' when the texts are the same."""
    if a == b:
        return ""
    return "\n".join(difflib.unified_diff(_lines(a), _lines(b), names[0], names[1], lineterm="", n=2))


def _key(d: M.Document) -> str:
    return d.id or "sha1:" + hashlib.sha1(M.normalise(d.content).encode()).hexdigest()[:12]


def context_diff(a: Sequence[M.Document], b: Sequence[M.Document]) -> list[dict[str, Any]]:
    """One row per document of either trace: ``same``, ``moved`` (another rank), ``changed``
    (same id, other text), ``added`` (only in B) or ``removed`` (only in A), with where each
    stood in the prompt."""
    in_a = {_key(d): d for d in reversed(a)}
    in_b = {_key(d): d for d in reversed(b)}
    rows = []
    for key in list(dict.fromkeys([*map(_key, a), *map(_key, b)])):
        da, db = in_a.get(key), in_b.get(key)
        if da is None:
            status = "added"
        elif db is None:
            status = "removed"
        elif M.normalise(da.content) != M.normalise(db.content):
            status = "changed"
        else:
            status = "same" if da.rank == db.rank else "moved"
        rows.append(
            {
                "document": (da.id if da else db.id if db else None) or key,
                "status": status,
                "rank A": da.rank if da else None,
                "rank B": db.rank if db else None,
                "prompt A": _where(da),
                "prompt B": _where(db),
            }
        )
    return rows


def _where(d: M.Document | None) -> str:
    if d is None:
        return ""
    return {"exact": "in prompt", "normalised": "in prompt", "truncated": "truncated"}.get(d.in_prompt or "", "dropped")


def _total_tokens(t: Mapping[str, Any]) -> int | None:
    if t.get("input_tokens") is None and t.get("output_tokens") is None:
        return None
    return int(t.get("input_tokens") or 0) + int(t.get("output_tokens") or 0)


def deltas(a: Side, b: Side) -> list[dict[str, Any]]:
    """Rows ``{metric, A, B, delta}`` for the trace's tokens, cost and latency and the answer's grounding."""

    def row(metric: str, va: Any, vb: Any) -> dict[str, Any]:
        delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
        return {"metric": metric, "A": va, "B": vb, "delta": delta}

    ta, tb = a.trace, b.trace
    return [
        row("input tokens", ta.get("input_tokens"), tb.get("input_tokens")),
        row("output tokens", ta.get("output_tokens"), tb.get("output_tokens")),
        row("total tokens", _total_tokens(ta), _total_tokens(tb)),
        row("cost ($)", ta.get("cost_usd"), tb.get("cost_usd")),
        row("latency (ms)", ta.get("duration_ms"), tb.get("duration_ms")),
        row("LLM latency (ms)", (a.span or {}).get("duration_ms"), (b.span or {}).get("duration_ms")),
        row("grounding score", a.grounding.score if a.grounding else None, b.grounding.score if b.grounding else None),
        row(
            "unsupported sentences",
            len(a.grounding.unsupported) if a.grounding else None,
            len(b.grounding.unsupported) if b.grounding else None,
        ),
    ]
