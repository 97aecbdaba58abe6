"""``spyglass export``: turn a store into an eval dataset for regression suites.

One JSON line per logical LLM call (a ``@trace_llm`` function around a client call is one
call): the question, the context (the trace's documents and tool results), the output the
user received, and a label with its note: the newest human annotation of the call or its
trace; else ``blocked``/``modified`` when post-processing blocked or changed the answer; else
the grounding check's verdict; else none.

What post-processing took away never leaves the store: a blocked or modified answer's
original text (which a PII filter may have blocked for a reason) is not exported; the
grounding verdict on it is, as ``check_before_postprocessing``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from . import _delivered as D
from . import _evidence
from .store import Store

Progress = Callable[[int, int], None]


def _labels(store: Store) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(by span or trace id -> newest annotation, by span id -> newest grounding result)``."""
    annotated: dict[str, dict[str, Any]] = {}
    for a in store.annotations():  # oldest first: later ones win
        annotated[a["span_id"] or a["trace_id"]] = a
    # The grounding check's results only: another tool's evaluation event named "grounding" is
    # stored with source 'span' and is not ours to export as our label.
    evaluated = {e["span_id"]: e for e in store.evaluations("grounding") if e.get("source") != "span"}
    return annotated, evaluated


def rows(store: Store, *, labelled_only: bool = False, progress: Progress | None = None) -> list[dict[str, Any]]:
    annotated, evaluated = _labels(store)
    spans = store.llm_spans()
    answers: dict[str, dict[str, tuple[str | None, str | None]]] = {}  # trace -> call -> (answer, question)
    for span in spans:  # oldest first: in the order the calls were made
        answers.setdefault(span["trace_id"], {})[span["span_id"]] = _evidence.answer(span["attributes"], span["inner"])
    out = []
    for i, span in enumerate(spans, 1):
        note = annotated.get(span["span_id"]) or annotated.get(span["trace_id"])
        check = evaluated.get(span["span_id"])
        calls = answers[span["trace_id"]]
        answer, question = calls[span["span_id"]]
        # What the user received, by the viewer's rule (tracer/_delivered.py).
        texts = {k: v[0] for k, v in calls.items()}
        delivered = D.of_trace(span["decisions"], span["spans"], texts.values())
        applies = span["span_id"] in D.affected(delivered, span["spans"], texts)
        result, text_out = (delivered.kind, delivered.received) if applies else (D.DELIVERED, answer)
        label, source, text = None, None, None
        if note is not None:
            label, source, text = note["label"], "annotation", note["note"]
        elif result != D.DELIVERED:
            label, source = result, "post_processing"
            text = "; ".join(
                f"{d['name']}: {d['verdict']}" + (f" ({d['reason']})" if d.get("reason") else "")
                for d in span["decisions"]
                if d.get("verdict") in ("block", "modify")
            )
        elif check is not None:
            label, source, text = check["label"], "grounding_check", check["explanation"]
        if label is not None or not labelled_only:
            context = _evidence.evidence(span["attributes"], span["documents"], span["tools"], span["inner"])
            record = {
                "trace_id": span["trace_id"],
                "span_id": span["span_id"],
                "question": question,
                "context": [{"id": d.get("id", d.get("document_id")), "content": d["content"]} for d in context],
                "output": text_out,
                "outcome": result,
                "label": label,
                "label_source": source,
                "note": text,
            }
            if result != D.DELIVERED and check is not None:
                record["check_before_postprocessing"] = check["label"]
            out.append(record)
        if progress is not None:
            progress(i, len(spans))
    return out


def write_jsonl(store: Store, out: TextIO, **kwargs: Any) -> int:
    records = rows(store, **kwargs)
    out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return len(records)
