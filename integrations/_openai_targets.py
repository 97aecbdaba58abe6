"""What we patch in the openai client: one table, read by both instrument and uninstrument.

Streaming helpers (``chat.completions.stream``, ``responses.stream``) and ``with_raw_response``
call the patched ``create``/``parse`` underneath, so they need no entry of their own. Targets
a given client version lacks (``responses`` before 1.66, ``chat.completions.parse`` before
it left ``beta``) are skipped.
"""

from __future__ import annotations

from tracer import attributes as A

from . import _openai_extract as X
from ._core import Endpoint, Target
from ._openai_streams import ChatStreamState, CompletionStreamState, ResponsesStreamState

CHAT = Endpoint(
    A.OP_CHAT,
    A.SPAN_TYPE_LLM,
    X.chat_request,
    X.chat_request_content,
    X.chat_response,
    X.chat_response_content,
    ChatStreamState,
)
RESPONSES = Endpoint(
    A.OP_CHAT,
    A.SPAN_TYPE_LLM,
    X.responses_request,
    X.responses_request_content,
    X.responses_response,
    X.responses_response_content,
    ResponsesStreamState,
)
EMBEDDINGS = Endpoint(
    A.OP_EMBEDDINGS,
    A.SPAN_TYPE_EMBEDDING,
    X.embeddings_request,
    X.embeddings_request_content,
    X.embeddings_response,
    X.no_content,
    ChatStreamState,
)
COMPLETIONS = Endpoint(
    A.OP_TEXT_COMPLETION,
    A.SPAN_TYPE_LLM,
    X.completions_request,
    X.completions_request_content,
    X.completions_response,
    X.completions_response_content,
    CompletionStreamState,
)

_CHAT_MODULE = "openai.resources.chat.completions"
_BETA_CHAT_MODULE = "openai.resources.beta.chat.completions"  # parse/stream lived here until ~1.92
_RESPONSES_MODULE = "openai.resources.responses"

TARGETS: tuple[Target, ...] = (
    Target(_CHAT_MODULE, "Completions", "create", CHAT, False),
    Target(_CHAT_MODULE, "AsyncCompletions", "create", CHAT, True),
    Target(_CHAT_MODULE, "Completions", "parse", CHAT, False),
    Target(_CHAT_MODULE, "AsyncCompletions", "parse", CHAT, True),
    Target(_BETA_CHAT_MODULE, "Completions", "parse", CHAT, False),
    Target(_BETA_CHAT_MODULE, "AsyncCompletions", "parse", CHAT, True),
    Target(_RESPONSES_MODULE, "Responses", "create", RESPONSES, False),
    Target(_RESPONSES_MODULE, "AsyncResponses", "create", RESPONSES, True),
    Target(_RESPONSES_MODULE, "Responses", "parse", RESPONSES, False),
    Target(_RESPONSES_MODULE, "AsyncResponses", "parse", RESPONSES, True),
    Target("openai.resources.embeddings", "Embeddings", "create", EMBEDDINGS, False),
    Target("openai.resources.embeddings", "AsyncEmbeddings", "create", EMBEDDINGS, True),
    Target("openai.resources.completions", "Completions", "create", COMPLETIONS, False),
    Target("openai.resources.completions", "AsyncCompletions", "create", COMPLETIONS, True),
)
