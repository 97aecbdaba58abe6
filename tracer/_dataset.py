"""``spyglass export``: turn a store into an eval dataset for regression suites.

One JSON line per LLM span: the question, the context (the trace's retrieved documents),
the output, and a label with its note: the newest human annotation of the span or its
trace, else the grounding check's verdict, else none.
"""

from __future__ import annotations

import json
from typing import Any, Callable, TextIO

from ._content import output_text, question_text
from .store import Store

Progress = Callable[[int, int], None]


def _labels(store: Store) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(by span or trace id -> newest annotation, by span id -> newest grounding result)``."""
    annotated: dict[str, dict[str, Any]] = {}
    for a in store.annotations():  # oldest first: later ones win
        annotated[a["span_id"] or a["trace_id"]] = a
    evaluated = {e["span_id"]: e for e in store.evaluations("grounding")}
    return annotated, evaluated


def rows(store: Store, *, labelled_only: bool = False, progress: Progress | None = None) -> list[dict[str, Any]]:
    annotated, evaluated = _labels(store)
    spans = store.llm_spans()
    out = []
    for i, span in enumerate(spans, 1):
        note = annotated.get(span["span_id"]) or annotated.get(span["trace_id"])
        check = evaluated.get(span["span_id"])
        label, source, text = None, None, None
        if note is not None:
            label, source, text = note["label"], "annotation", note["note"]
        elif check is not None:
            label, source, text = check["label"], "grounding_check", check["explanation"]
        if label is not None or not labelled_only:
            out.append({
                "trace_id": span["trace_id"], "span_id": span["span_id"],
                "question": question_text(span["attributes"]),
                "context": [{"id": d["document_id"], "content": d["content"]} for d in span["documents"]],
                "output": output_text(span["attributes"]),
                "label": label, "label_source": source, "note": text,
            })
        if progress is not None:
            progress(i, len(spans))
    return out


def write_jsonl(store: Store, out: TextIO, **kwargs: Any) -> int:
    records = rows(store, **kwargs)
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)
