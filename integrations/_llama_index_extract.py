"""LlamaIndex objects -> Spyglass attributes: pure functions, no span, no settings.

What a LlamaIndex span is (:func:`role_of`) is decided from the instance the dispatcher hands
over and the method name in the span id (``"VectorIndexRetriever.retrieve-<uuid>"``): only
public entry points of retrievers, query engines, synthesizers, LLMs and embedding models
become spans; the helpers they call (``_retrieve``, ``get_response``, ``split_text``...) do
not, and their children hang on the nearest span that was recorded.

Every reader duck-types what it reads (``getattr`` with defaults): LlamaIndex's response and
message classes gained and renamed fields across 0.12-0.14, and an LLM integration's ``raw``
response is whatever its client returns (an openai ``ChatCompletion``, a dict...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tracer import attributes as A
from tracer._decorators import provider_for_model
from tracer._serialize import safe_str
from tracer.conventions._common import chat_message, chat_messages

from ._usage import count, usage_pairs

__all__ = [
    "Role",
    "chat_input",
    "completion_input",
    "llm_request",
    "llm_response",
    "llm_response_content",
    "method_of",
    "query_text",
    "response_text",
    "role_of",
]

Pairs = Iterator[tuple[str, Any]]


@dataclass(frozen=True)
class Role:
    """What one LlamaIndex method becomes: a span type and, for model calls, the operation."""

    span_type: str
    operation: str | None = None


RETRIEVER = Role(A.SPAN_TYPE_RETRIEVER, A.OP_RETRIEVAL)
STEP = Role(A.SPAN_TYPE_STEP)
CHAT = Role(A.SPAN_TYPE_LLM, A.OP_CHAT)
COMPLETION = Role(A.SPAN_TYPE_LLM, A.OP_TEXT_COMPLETION)
EMBEDDING = Role(A.SPAN_TYPE_EMBEDDING, A.OP_EMBEDDINGS)

_LLM_METHODS = {
    "chat": CHAT,
    "achat": CHAT,
    "stream_chat": CHAT,
    "astream_chat": CHAT,
    "complete": COMPLETION,
    "acomplete": COMPLETION,
    "stream_complete": COMPLETION,
    "astream_complete": COMPLETION,
}
_STEP_METHODS = {"query": STEP, "aquery": STEP}
_SYNTH_METHODS = {"synthesize": STEP, "asynthesize": STEP}
_RETRIEVER_METHODS = {"retrieve": RETRIEVER, "aretrieve": RETRIEVER}
_EMBEDDING_METHODS = {"get_query_embedding": EMBEDDING, "aget_query_embedding": EMBEDDING}


def _table() -> list[tuple[type, dict[str, Role]]]:
    # Imported when first needed: this module is imported by integrations.llama_index, which
    # must stay importable (and "auto" cheap) without llama-index-core.
    from llama_index.core.base.base_query_engine import BaseQueryEngine
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.response_synthesizers.base import BaseSynthesizer

    return [
        (BaseLLM, _LLM_METHODS),
        (BaseRetriever, _RETRIEVER_METHODS),
        (BaseQueryEngine, _STEP_METHODS),
        (BaseSynthesizer, _SYNTH_METHODS),
        (BaseEmbedding, _EMBEDDING_METHODS),
    ]


_TABLE: list[tuple[type, dict[str, Role]]] | None = None


def method_of(span_id: str) -> str:
    """``"retrieve"`` from a dispatcher span id, ``"VectorIndexRetriever.retrieve-<uuid4>"``
    (the class is the instance's since llama-index-instrumentation, the defining one before)."""
    return span_id.partition("-")[0].rpartition(".")[2]


def role_of(instance: Any, method: str) -> Role | None:
    """The role of ``instance.method`` (``None``: not one of the entry points we record)."""
    global _TABLE
    if instance is None:
        return None
    if _TABLE is None:
        _TABLE = _table()
    for base, methods in _TABLE:
        role = methods.get(method)
        if role is not None and isinstance(instance, base):
            return role
    return None


# --- queries and responses ---------------------------------------------------------------------
def query_text(value: Any) -> str | None:
    """The text of a ``QueryType`` (a string or a ``QueryBundle``)."""
    if isinstance(value, str):
        return value
    text = getattr(value, "query_str", None)
    return text if isinstance(text, str) else None


def response_text(response: Any) -> Any:
    """What a query engine or synthesizer answered, or ``None`` for a streaming response.

    Never ``str(response)``: on a ``StreamingResponse`` that drains the user's generator."""
    if hasattr(response, "response_gen") or hasattr(response, "async_response_gen"):
        return None  # StreamingResponse / AsyncStreamingResponse: the text is the user's to read
    answer = getattr(response, "response", None)
    if isinstance(answer, str):
        return answer
    dump = getattr(answer, "model_dump", None)  # PydanticResponse: a structured answer
    if callable(dump):
        return dump()
    return None


# --- LLM calls ------------------------------------------------------------------------------
# The llama_index.llms.<package> an LLM class comes from, and the provider it talks to.
_PROVIDER_BY_PACKAGE = {
    "openai": A.PROVIDER_OPENAI,
    "azure_openai": A.PROVIDER_AZURE_OPENAI,
    "anthropic": A.PROVIDER_ANTHROPIC,
    "mistralai": A.PROVIDER_MISTRAL,
    "groq": A.PROVIDER_GROQ,
    "deepseek": A.PROVIDER_DEEPSEEK,
    "cohere": A.PROVIDER_COHERE,
    "perplexity": A.PROVIDER_PERPLEXITY,
    "gemini": A.PROVIDER_GEMINI,
    "google_genai": A.PROVIDER_GEMINI,
}
# LLM and embedding classes live in llama_index.llms.<package> / llama_index.embeddings.<package>.
_PACKAGES = ("llama_index.llms.", "llama_index.embeddings.")
_UNKNOWN_MODEL = "unknown"  # LLMMetadata.model_name's default: no model named


def model_of(instance: Any) -> str | None:
    """The model an LLM or embedding object is set to: its ``model`` field (LlamaIndex's
    client LLMs), else ``model_name`` (embeddings, ``LLMMetadata``), never the placeholder."""
    for value in (getattr(instance, "model", None), getattr(instance, "model_name", None)):
        if isinstance(value, str) and value and value != _UNKNOWN_MODEL:
            return value
    return None


def provider_of(instance: Any, model: str | None) -> tuple[str | None, bool]:
    """``(provider, guessed)``: from the LLM class's package, else guessed from the model's name."""
    module = type(instance).__module__ or ""
    for prefix in _PACKAGES:
        if module.startswith(prefix):
            found = _PROVIDER_BY_PACKAGE.get(module[len(prefix) :].partition(".")[0])
            if found is not None:
                return found, False
    guess = provider_for_model(model)
    return guess, guess is not None


def llm_request(instance: Any, role: Role) -> Pairs:
    """Attributes of an LLM call known when it starts, read from the LLM object."""
    yield A.GEN_AI_OPERATION_NAME, role.operation
    model = model_of(instance)
    if model is not None:
        yield A.GEN_AI_REQUEST_MODEL, model
        yield A.OI_LLM_MODEL_NAME, model
    provider, _ = provider_of(instance, model)
    if provider is not None:
        yield A.GEN_AI_PROVIDER_NAME, provider
    temperature = getattr(instance, "temperature", None)
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        yield A.GEN_AI_REQUEST_TEMPERATURE, float(temperature)
    max_tokens = getattr(instance, "max_tokens", None)
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        yield A.GEN_AI_REQUEST_MAX_TOKENS, max_tokens


def _role(message: Any) -> str:
    role = getattr(message, "role", None)
    value = getattr(role, "value", role)  # MessageRole is a str enum
    return value if isinstance(value, str) else "user"


def _content(message: Any) -> str:
    content = getattr(message, "content", None)  # text blocks joined (a property since 0.12)
    return content if isinstance(content, str) else ""


def _plain_message(message: Any) -> dict[str, Any]:
    plain: dict[str, Any] = {"role": _role(message), "content": _content(message)}
    extra = getattr(message, "additional_kwargs", None)
    if isinstance(extra, Mapping) and isinstance(extra.get("tool_call_id"), str):
        plain["tool_call_id"] = extra["tool_call_id"]
    return plain


def chat_input(messages: Iterable[Any]) -> Pairs:
    """``gen_ai.input.messages`` and the OpenInference ``input.value`` (the same JSON value)."""
    converted = chat_messages([_plain_message(m) for m in messages])
    yield A.GEN_AI_INPUT_MESSAGES, converted
    yield A.OI_INPUT_VALUE, converted


def completion_input(prompt: Any) -> Pairs:
    """A completion's prompt: one user message, and the prompt itself as ``input.value``."""
    text = prompt if isinstance(prompt, str) else safe_str(prompt)
    yield A.GEN_AI_INPUT_MESSAGES, chat_messages([{"role": "user", "content": text}])
    yield A.OI_INPUT_VALUE, text


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def _usage(response: Any) -> Pairs:
    """Token counts where LlamaIndex LLMs leave them: the client's response (``raw.usage``,
    openai's or anthropic's field names), else ``additional_kwargs`` (llama-index-llms-openai
    copies the counts there)."""
    raw = getattr(response, "raw", None)
    for holder in (_get(raw, "usage") if raw is not None else None, getattr(response, "additional_kwargs", None)):
        if holder is None:
            continue
        inp = count(_get(holder, "prompt_tokens"))
        if inp is None:
            inp = count(_get(holder, "input_tokens"))
        out = count(_get(holder, "completion_tokens"))
        if out is None:
            out = count(_get(holder, "output_tokens"))
        if inp is None and out is None:
            continue
        total = count(_get(holder, "total_tokens"))
        if total is None and inp is not None and out is not None:
            total = inp + out
        yield from usage_pairs(input=inp, output=out, total=total)
        return


def _finish_reason(raw: Any) -> str | None:
    choices = _get(raw, "choices")
    if isinstance(choices, (list, tuple)) and choices:
        reason = _get(choices[0], "finish_reason")
        return reason if isinstance(reason, str) else None
    reason = _get(raw, "stop_reason")  # anthropic's Message
    return reason if isinstance(reason, str) else None


def llm_response(response: Any) -> Pairs:
    """What a ``ChatResponse`` / ``CompletionResponse`` says that is not content."""
    raw = getattr(response, "raw", None)
    if raw is not None:
        rid = _get(raw, "id")
        if isinstance(rid, str):
            yield A.GEN_AI_RESPONSE_ID, rid
        model = _get(raw, "model")
        if isinstance(model, str) and model:
            yield A.GEN_AI_RESPONSE_MODEL, model
            yield A.OI_LLM_MODEL_NAME, model
        reason = _finish_reason(raw)
        if reason is not None:
            yield A.GEN_AI_RESPONSE_FINISH_REASONS, [reason]
    yield from _usage(response)


def llm_response_content(response: Any) -> Pairs:
    """The answer's text as a GenAI output message and as ``output.value``. For a stream, the
    last chunk LlamaIndex reports holds the whole text (``message.content`` / ``text`` are
    accumulated; ``delta`` is the chunk)."""
    message = getattr(response, "message", None)
    if message is not None:
        text, role = _content(message), _role(message)
    else:
        completion = getattr(response, "text", None)
        text, role = (completion if isinstance(completion, str) else ""), "assistant"
    raw = getattr(response, "raw", None)
    reason = _finish_reason(raw) if raw is not None else None
    out = chat_message({"role": role, "content": text}, reason or "")
    yield A.GEN_AI_OUTPUT_MESSAGES, [out]
    yield A.OI_OUTPUT_VALUE, text
