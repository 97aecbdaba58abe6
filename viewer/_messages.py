"""Pure parsing of a span's captured content into what the span-detail panels show.

No Streamlit here, so every rule is unit-testable. Two attribute layouts exist:

- OpenTelemetry GenAI (``gen_ai.input.messages``, ``gen_ai.output.messages``,
  ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``), written by the provider
  integrations: JSON text of ``[{role, parts: [{type, content | name, arguments, id | response}]}]``
  (output messages add ``finish_reason``).
- OpenInference ``input.value`` / ``output.value``, written by the decorators: a plain
  string, or JSON of the function's arguments / return value.

Everything tolerates malformed values (a truncated JSON, a part of an unknown type): the
viewer shows what it can and the raw attributes JSON is always there below.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer import attributes as A


@dataclass(frozen=True)
class Part:
    """One part of a message, reduced to what is displayed: a kind and its text."""

    kind: str  # text | tool_call | tool_call_response | reasoning | refusal | <other type>
    text: str
    name: str | None = None  # the tool's name, for tool calls
    id: str | None = None  # the tool call id, for calls and responses


@dataclass(frozen=True)
class Message:
    role: str
    parts: tuple[Part, ...]
    finish_reason: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Prompt:
    """What the Prompt panel shows for one span."""

    messages: tuple[Message, ...] = ()
    system_instructions: tuple[str, ...] = ()
    tool_definitions: tuple[Mapping[str, Any], ...] = ()
    template: str | None = None
    variables: Any = None
    version: str | None = None
    raw_input: str | None = None  # OpenInference fallback when there are no messages


@dataclass(frozen=True)
class Output:
    """What the Output panel shows for one span."""

    messages: tuple[Message, ...] = ()
    finish_reasons: tuple[str, ...] = ()
    raw_output: str | None = None  # OpenInference fallback when there are no messages

    @property
    def text(self) -> str:
        return "\n".join(p.text for m in self.messages for p in m.parts if p.kind == "text")

    @property
    def tool_calls(self) -> list[Part]:
        return [p for m in self.messages for p in m.parts if p.kind == "tool_call"]

    @property
    def refusals(self) -> list[str]:
        return [p.text for m in self.messages for p in m.parts if p.kind == "refusal"]


@dataclass(frozen=True)
class Document:
    """A retrieved document as the Context panel shows it."""

    rank: int  # 1-based, within its retriever span
    id: str | None
    content: str
    score: float | None
    metadata: Any
    span_id: str | None
    in_prompt: str | None = None  # "exact", "normalised", "truncated" or None (dropped)
    kept_chars: int | None = None  # for "truncated": how many leading characters made it in

    @property
    def dropped(self) -> bool:
        return self.in_prompt is None


@dataclass(frozen=True)
class Decision:
    name: str
    verdict: str
    reason: str | None
    score: float | None
    action: str | None
    before: str | None
    after: str | None
    span_id: str | None
    diff: str = field(default="")


# --- JSON helpers ------------------------------------------------------------------------
def parse_json(value: Any) -> Any:
    """A JSON attribute's value, parsed; anything that is not JSON text comes back as is."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{", '"'):
            try:
                return json.loads(text)
            except ValueError:
                return value  # e.g. cut by the capture limit: show the text as it is
    return value


def to_display(value: Any) -> str:
    """Text for a value of any type: strings as they are, the rest as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def strings(value: Any) -> Iterator[str]:
    """Every string leaf of a parsed JSON value (keys excluded), depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


# --- messages ----------------------------------------------------------------------------
def _part(raw: Any) -> Part:
    if isinstance(raw, str):
        return Part("text", raw)
    if not isinstance(raw, Mapping):
        return Part("unknown", to_display(raw))
    kind = str(raw.get("type") or "text")
    if kind == "tool_call":
        return Part(
            kind,
            to_display(parse_json(raw.get("arguments"))),
            name=_opt_str(raw.get("name")),
            id=_opt_str(raw.get("id")),
        )
    if kind == "tool_call_response":
        return Part(kind, to_display(parse_json(raw.get("response", raw.get("result")))), id=_opt_str(raw.get("id")))
    if "content" in raw:
        return Part(kind, to_display(raw.get("content")))
    # uri / blob / file parts and unknown types: show what they hold, minus the type
    return Part(kind, to_display({k: v for k, v in raw.items() if k != "type"}))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _message(raw: Any) -> Message:
    if not isinstance(raw, Mapping):
        return Message("unknown", (_part(raw),))
    parts: list[Part] = []
    if isinstance(raw.get("parts"), list):
        parts = [_part(p) for p in raw["parts"]]
    elif "content" in raw:  # chat-completions style {role, content} written by older integrations
        content = raw["content"]
        parts = [_part(p) for p in content] if isinstance(content, list) else [Part("text", to_display(content))]
        for call in raw.get("tool_calls") or []:
            fn = call.get("function", {}) if isinstance(call, Mapping) else {}
            parts.append(
                Part(
                    "tool_call",
                    to_display(parse_json(fn.get("arguments"))),
                    name=_opt_str(fn.get("name")),
                    id=_opt_str(call.get("id")),
                )
            )
    if raw.get("refusal"):  # OpenAI puts a refusal beside the content, not in it
        parts.append(Part("refusal", to_display(raw["refusal"])))
    return Message(
        str(raw.get("role") or "unknown"), tuple(parts), _opt_str(raw.get("finish_reason")), _opt_str(raw.get("name"))
    )


def messages(value: Any) -> tuple[Message, ...]:
    """Messages from a ``gen_ai.*.messages`` value (JSON text or already parsed)."""
    parsed = parse_json(value)
    if parsed is None or parsed == "":
        return ()
    if isinstance(parsed, Mapping):
        parsed = [parsed]
    if not isinstance(parsed, list):
        return (Message("unknown", (Part("text", to_display(parsed)),)),)
    return tuple(_message(m) for m in parsed)


def _instructions(value: Any) -> tuple[str, ...]:
    parsed = parse_json(value)
    if parsed is None or parsed == "":
        return ()
    if isinstance(parsed, list):
        return tuple(_part(p).text for p in parsed)
    return (to_display(parsed),)


def _tools(value: Any) -> tuple[Mapping[str, Any], ...]:
    parsed = parse_json(value)
    if isinstance(parsed, list):
        return tuple(t if isinstance(t, Mapping) else {"definition": t} for t in parsed)
    if isinstance(parsed, Mapping):
        return (parsed,)
    return () if parsed in (None, "") else ({"definition": parsed},)


def prompt(attrs: Mapping[str, Any]) -> Prompt:
    msgs = messages(attrs.get(A.GEN_AI_INPUT_MESSAGES))
    raw = attrs.get(A.OI_INPUT_VALUE)
    return Prompt(
        messages=msgs,
        system_instructions=_instructions(attrs.get(A.GEN_AI_SYSTEM_INSTRUCTIONS)),
        tool_definitions=_tools(attrs.get(A.GEN_AI_TOOL_DEFINITIONS)),
        template=_opt_str(attrs.get(A.PROMPT_TEMPLATE)),
        variables=parse_json(attrs.get(A.PROMPT_VARIABLES)),
        version=_opt_str(attrs.get(A.PROMPT_VERSION)),
        raw_input=None if msgs or raw is None else to_display(parse_json(raw)),
    )


def output(attrs: Mapping[str, Any]) -> Output:
    msgs = messages(attrs.get(A.GEN_AI_OUTPUT_MESSAGES))
    reasons = attrs.get(A.GEN_AI_RESPONSE_FINISH_REASONS) or ()
    if isinstance(reasons, str):
        reasons = (reasons,)
    found = tuple(str(r) for r in reasons) or tuple(m.finish_reason for m in msgs if m.finish_reason)
    raw = attrs.get(A.OI_OUTPUT_VALUE)
    return Output(
        messages=msgs, finish_reasons=found, raw_output=None if msgs or raw is None else to_display(parse_json(raw))
    )


# --- which documents made it into the prompt ---------------------------------------------
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case, Unicode form and runs of white space do not count when matching a document."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def prompt_text(attrs: Mapping[str, Any]) -> str:
    """All the text an LLM span was given: messages, instructions, variables and the
    decorated function's arguments (JSON strings decoded, so escaping does not hide a match)."""
    chunks: list[str] = []
    for key in (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_SYSTEM_INSTRUCTIONS, A.PROMPT_VARIABLES, A.OI_INPUT_VALUE):
        value = attrs.get(key)
        if value is None:
            continue
        parsed = parse_json(value)
        chunks.extend(strings(parsed))
        if isinstance(parsed, (Mapping, list)):
            # A tool-call argument or similar may itself be JSON text holding the document.
            chunks.extend(s for c in list(strings(parsed)) for s in strings(parse_json(c)) if s != c)
    return "\n".join(chunks)


# A document cut to fit a budget leaves its first characters in the prompt. A shorter shared
# prefix is usually chance (several articles opening with the product's name), not a cut.
MIN_TRUNCATED_CHARS = 32
MIN_TRUNCATED_SHARE = 0.75  # for documents shorter than that: most of it must be there


def match_in_prompt(content: str, haystack: str, normalised_haystack: str | None = None) -> str | None:
    """``"exact"`` if ``content`` appears verbatim in the prompt, ``"normalised"`` if it appears
    ignoring case and white space, else ``None``."""
    if not content or not content.strip():
        return None
    if content in haystack:
        return "exact"
    hay = normalise(haystack) if normalised_haystack is None else normalised_haystack
    needle = normalise(content)
    return "normalised" if needle and needle in hay else None


def kept_prefix(content: str, normalised_haystack: str) -> int:
    """How many leading characters of ``content`` (normalised) appear in the prompt: a binary
    search, since a prefix that appears means every shorter one does too."""
    needle = normalise(content)
    lo, hi = 0, len(needle)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if needle[:mid] in normalised_haystack:
            lo = mid
        else:
            hi = mid - 1
    return lo


def provenance(content: str, haystack: str, normalised_haystack: str) -> tuple[str | None, int | None]:
    """``(in_prompt, kept_chars)``: ``exact``/``normalised`` (all of it is in the prompt),
    ``truncated`` (a prefix of at least :data:`MIN_TRUNCATED_CHARS` characters, or of three
    quarters of a shorter document, and not the rest), or ``None`` (dropped)."""
    found = match_in_prompt(content, haystack, normalised_haystack)
    if found or not content.strip():
        return found, None
    kept = kept_prefix(content, normalised_haystack)
    total = len(normalise(content))
    if kept and kept >= min(MIN_TRUNCATED_CHARS, MIN_TRUNCATED_SHARE * total):
        return "truncated", kept
    return None, None


def documents(rows: Iterable[Mapping[str, Any]], prompt_attrs: Sequence[Mapping[str, Any]]) -> list[Document]:
    """The trace's documents (rows of ``Store.get_trace()['documents']``, already in rank
    order), each marked with whether it made it into any of the given LLM spans' prompts:
    whole, truncated, or not at all (dropped)."""
    haystack = "\n".join(prompt_text(a) for a in prompt_attrs)
    normalised = normalise(haystack)
    out: list[Document] = []
    for row in rows:
        content = row.get("content") or ""
        out.append(
            Document(
                rank=int(row.get("position") or 0) + 1,
                id=_opt_str(row.get("document_id")),
                content=content,
                score=row.get("score"),
                metadata=parse_json(row.get("metadata")),
                span_id=_opt_str(row.get("span_id")),
                **_where(content, haystack, normalised),
            )
        )
    return out


def _where(content: str, haystack: str, normalised: str) -> dict[str, Any]:
    if not haystack:
        return {}
    found, kept = provenance(content, haystack, normalised)
    return {"in_prompt": found, "kept_chars": kept}


# --- decisions ---------------------------------------------------------------------------
def diff(before: str | None, after: str | None) -> str:
    """A unified diff of a post-processing step's text, line by line; '' when nothing changed."""
    if before is None and after is None or before == after:
        return ""
    lines = difflib.unified_diff(
        (before or "").splitlines(), (after or "").splitlines(), "before", "after", lineterm="", n=2
    )
    return "\n".join(lines)


def decisions(rows: Iterable[Mapping[str, Any]]) -> list[Decision]:
    """Rows of ``Store.get_trace()['decisions']`` with their before→after diff."""
    return [
        Decision(
            name=str(r.get("name") or "?"),
            verdict=str(r.get("verdict") or "?"),
            reason=_opt_str(r.get("reason")),
            score=r.get("score"),
            action=_opt_str(r.get("action")),
            before=_opt_str(r.get("before_text")),
            after=_opt_str(r.get("after_text")),
            span_id=_opt_str(r.get("span_id")),
            diff=diff(r.get("before_text"), r.get("after_text")),
        )
        for r in rows
    ]


# --- the facts below the panels ----------------------------------------------------------
_MODEL_PARAMETERS = (
    A.GEN_AI_REQUEST_MODEL,
    A.GEN_AI_RESPONSE_MODEL,
    A.GEN_AI_PROVIDER_NAME,
    A.GEN_AI_OPERATION_NAME,
    A.GEN_AI_REQUEST_TEMPERATURE,
    A.GEN_AI_REQUEST_TOP_P,
    A.GEN_AI_REQUEST_TOP_K,
    A.GEN_AI_REQUEST_MAX_TOKENS,
    A.GEN_AI_REQUEST_SEED,
    A.GEN_AI_REQUEST_STOP_SEQUENCES,
    A.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    A.GEN_AI_REQUEST_PRESENCE_PENALTY,
    A.GEN_AI_REQUEST_CHOICE_COUNT,
    A.GEN_AI_REQUEST_STREAM,
    A.GEN_AI_OUTPUT_TYPE,
    A.GEN_AI_RESPONSE_ID,
)


def model_parameters(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attrs[k] for k in _MODEL_PARAMETERS if attrs.get(k) is not None}


def usage(span: Mapping[str, Any]) -> dict[str, Any]:
    """Tokens, cost, latency and time to first token of a span row (``None`` when unknown)."""
    attrs = span.get("attributes") or {}
    ttft = attrs.get(A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)  # seconds, per the GenAI conventions
    return {
        "input_tokens": span.get("input_tokens"),
        "output_tokens": span.get("output_tokens"),
        "cache_read_tokens": attrs.get(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        "reasoning_tokens": attrs.get(A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        "cost_usd": span.get("cost_usd"),
        "latency_ms": span.get("duration_ms"),
        "ttft_ms": float(ttft) * 1000 if isinstance(ttft, (int, float)) else None,
    }


def exceptions(events: Iterable[Mapping[str, Any]], span_id: str) -> list[dict[str, str]]:
    """The ``exception`` events of one span: type, message and stack trace."""
    out = []
    for ev in events:
        if ev.get("span_id") != span_id or ev.get("name") != A.EXCEPTION_EVENT:
            continue
        attrs = parse_json(ev.get("attributes")) or {}
        if not isinstance(attrs, Mapping):
            attrs = {}
        out.append(
            {
                "type": str(attrs.get(A.EXCEPTION_TYPE) or ""),
                "message": str(attrs.get(A.EXCEPTION_MESSAGE) or ""),
                "stacktrace": str(attrs.get(A.EXCEPTION_STACKTRACE) or ""),
            }
        )
    return out
