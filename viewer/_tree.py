"""Pure layout of a trace's spans: the tree (depth-first, children by start time) and the
rows of the waterfall chart. No Streamlit here."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._labels import status


@dataclass(frozen=True)
class Node:
    span: Mapping[str, Any]
    depth: int
    index: int  # position in depth-first order

    @property
    def span_id(self) -> str:
        return str(self.span["span_id"])

    @property
    def label(self) -> str:
        # Non-breaking spaces: chart axes and select boxes collapse ordinary leading spaces.
        prefix = "\u00a0\u00a0\u00a0" * (self.depth - 1) + "└\u00a0" if self.depth else ""
        return f"{prefix}{self.span.get('name') or '?'}"


def tree(spans: Sequence[Mapping[str, Any]]) -> list[Node]:
    """Depth-first order of the spans. A span whose parent is not stored (the parent has not
    ended yet, or came from another service) is shown as a root rather than dropped."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for s in spans:
        parent = s.get("parent_span_id")
        children.setdefault(parent if parent in ids else None, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: (s.get("start_time") or _dt.datetime.min, s.get("seq") or 0))
    out: list[Node] = []
    seen: set[str] = set()
    stack: list[tuple[Mapping[str, Any], int]] = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:  # iterative: a deep agent loop must not hit the recursion limit
        span, depth = stack.pop()
        if span["span_id"] in seen:  # a cycle in corrupt data: show each span once
            continue
        seen.add(span["span_id"])
        out.append(Node(span, depth, len(out)))
        stack.extend((c, depth + 1) for c in reversed(children.get(span["span_id"], [])))
    for s in spans:  # anything a cycle hid
        if s["span_id"] not in seen:
            out.append(Node(s, 0, len(out)))
    return out


def waterfall(nodes: Sequence[Node]) -> list[dict[str, Any]]:
    """One bar per span, times in ms from the trace's first start."""
    starts = [n.span["start_time"] for n in nodes if n.span.get("start_time") is not None]
    t0 = min(starts) if starts else None
    rows = []
    for n in nodes:
        s = n.span
        start = s.get("start_time")
        offset = (start - t0).total_seconds() * 1000 if start is not None and t0 is not None else 0.0
        duration = float(s.get("duration_ms") or 0.0)
        rows.append(
            {
                "key": f"{n.index:04d}",  # unique and ordered: two spans may share a name
                "label": n.label,
                "span_id": n.span_id,
                "name": s.get("name"),
                "type": s.get("span_type") or "other",
                "status": status(s.get("status_code")),
                "start_ms": round(offset, 3),
                "end_ms": round(offset + max(duration, 0.001), 3),
                "duration_ms": round(duration, 3),
            }
        )
    return rows
