"""Pydantic Logfire (``logfire.instrument_openai``).

Semconv version 2 (the default of Logfire 5) writes the GenAI names, already canonical.
Version 1 (``instrument_openai(version=1)``, and older releases) keeps the request and the
response as JSON: ``request_data`` (the request body: ``messages``...), ``response_data``
(``{"message", "usage"}``, or ``{"combined_chunk_content"}`` for a streamed completion) and,
for the Responses API, ``events`` (a JSON list of GenAI message events, one per message).

A streamed call gives two spans: the request span, which ends when the stream is handed
back and holds no answer, and a log record (``logfire.span_type`` = ``log``) written when
the stream ends, with the request, the answer and the usage. The log record is the LLM call;
the request span is typed ``step`` once it is finished without an answer, usage or error, so
that the call is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import attributes as A
from . import _common as c

_ASSISTANT_EVENT = A.LF_ASSISTANT_EVENT


def _finish(attributes: Mapping[str, Any]) -> Any:
    reasons = c.loads(attributes.get(A.GEN_AI_RESPONSE_FINISH_REASONS))
    return reasons[0] if isinstance(reasons, list) and reasons else None


def _from_events(events: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Responses-API events: the trailing assistant messages are the answer."""
    items = [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
    cut = len(items)
    while cut and items[cut - 1].get("event.name") == _ASSISTANT_EVENT:
        cut -= 1
    inputs = c.chat_messages(items[:cut])
    outputs = [c.chat_message({**e, "role": "assistant"}) for e in items[cut:]]
    parts = [p for m in outputs if m for p in m["parts"]]  # one answer, in one message
    return inputs, ([{"role": "assistant", "parts": parts}] if parts else [])


class Logfire:
    name = "logfire"

    def detect(self, attributes: Mapping[str, Any], events: c.Events) -> bool:
        return A.LF_SPAN_TYPE in attributes and (
            A.GEN_AI_OPERATION_NAME in attributes or A.LF_REQUEST_DATA in attributes
        )

    def kind(self, attributes: Mapping[str, Any]) -> str | None:
        if attributes.get(A.LF_SPAN_TYPE) == A.LF_SPAN_TYPE_LOG and A.GEN_AI_OPERATION_NAME in attributes:
            return A.SPAN_TYPE_LLM  # the record of a streamed call
        return None  # gen_ai.operation.name says it

    def normalize(self, attributes: Mapping[str, Any], events: c.Events) -> dict[str, Any]:
        out: dict[str, Any] = {
            A.SPAN_TYPE: self.kind(attributes),
            A.GEN_AI_PROVIDER_NAME: c.text(attributes.get(A.GEN_AI_SYSTEM)),
        }
        request = c.loads(attributes.get(A.LF_REQUEST_DATA))
        response = c.loads(attributes.get(A.LF_RESPONSE_DATA))
        if isinstance(request, dict):
            out[A.GEN_AI_REQUEST_MODEL] = c.text(request.get("model"))
            out[A.GEN_AI_INPUT_MESSAGES] = c.dumps(c.chat_messages(request.get("messages")))
        if A.LF_EVENTS in attributes:
            inputs, outputs = _from_events(c.loads(attributes.get(A.LF_EVENTS)))
            out[A.GEN_AI_INPUT_MESSAGES] = out.get(A.GEN_AI_INPUT_MESSAGES) or c.dumps(inputs)
            out[A.GEN_AI_OUTPUT_MESSAGES] = c.dumps(outputs)
        if isinstance(response, dict):
            message = c.chat_message(response.get("message"), _finish(attributes))
            if message is None and isinstance(response.get("combined_chunk_content"), str):
                message = {"role": "assistant", "parts": [c.text_part(response["combined_chunk_content"])]}
            if message is not None:
                message["role"] = "assistant"
                out[A.GEN_AI_OUTPUT_MESSAGES] = c.dumps([message])
            usage = response.get("usage")
            if isinstance(usage, dict):
                out[A.GEN_AI_USAGE_INPUT_TOKENS] = c.as_int(c.first(usage, "prompt_tokens", "input_tokens"))
                out[A.GEN_AI_USAGE_OUTPUT_TOKENS] = c.as_int(c.first(usage, "completion_tokens", "output_tokens"))
        if out[A.SPAN_TYPE] is None and self._stream_request(attributes, out):
            out[A.SPAN_TYPE] = A.SPAN_TYPE_STEP
        return out

    @staticmethod
    def _stream_request(attributes: Mapping[str, Any], found: Mapping[str, Any]) -> bool:
        """A finished request span with no answer, usage or error: a stream, recorded in its log."""
        if attributes.get(A.LF_SPAN_TYPE) != A.LF_SPAN_TYPE_SPAN or A.GEN_AI_OPERATION_NAME not in attributes:
            return False
        if attributes.get(A.GEN_AI_OPERATION_NAME) == A.OP_EMBEDDINGS:
            return False
        level = c.as_int(attributes.get(A.LF_LEVEL_NUM))
        if level is not None and level >= A.LF_LEVEL_ERROR:
            return False
        return not any(
            attributes.get(k) is not None or found.get(k) is not None
            for k in (
                A.GEN_AI_RESPONSE_ID,
                A.GEN_AI_OUTPUT_MESSAGES,
                A.GEN_AI_USAGE_INPUT_TOKENS,
                A.GEN_AI_USAGE_OUTPUT_TOKENS,
            )
        )
