"""What we patch in the anthropic client: one table, read by both instrument and uninstrument.

In anthropic 2.15 (and back to 0.40) ``messages.create``, ``parse`` and ``stream`` each post
the request themselves (none calls another), so each has its own entry; ``with_raw_response``
and ``with_streaming_response`` wrap the patched methods. ``stream()`` returns a manager that
makes the request only on ``__enter__``: its entry has its own wrapper (``_anthropic_managers``).
The last entries switch off the SDK's own call span inside a call we trace (anthropic 2.x,
see ``_anthropic_compat``). Targets a given client version lacks are skipped: ``parse`` before
it left ``beta``, ``completions`` (removed in 1.x), ``beta.prompt_caching`` (0.x only).
"""

from __future__ import annotations

from tracer import attributes as A

from . import _anthropic_extract as X
from ._anthropic_compat import SDK_SPAN_FUNCTION, SDK_SPAN_MODULE
from ._anthropic_managers import async_manager_wrapper, sdk_span_switch, sync_manager_wrapper
from ._anthropic_streams import CompletionStreamState, MessageStreamState
from ._core import Endpoint, Target

MESSAGES = Endpoint(
    A.OP_CHAT,
    A.SPAN_TYPE_LLM,
    X.messages_request,
    X.messages_request_content,
    X.messages_response,
    X.messages_response_content,
    MessageStreamState,
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

_MESSAGE_MODULES = (
    "anthropic.resources.messages",
    "anthropic.resources.beta.messages",
    "anthropic.resources.beta.prompt_caching.messages",  # 0.x: prompt caching while in beta
)


def _messages_targets(module: str) -> tuple[Target, ...]:
    return (
        Target(module, "Messages", "create", MESSAGES, False),
        Target(module, "AsyncMessages", "create", MESSAGES, True),
        Target(module, "Messages", "parse", MESSAGES, False),
        Target(module, "AsyncMessages", "parse", MESSAGES, True),
        Target(module, "Messages", "stream", MESSAGES, False, sync_manager_wrapper),
        Target(module, "AsyncMessages", "stream", MESSAGES, False, async_manager_wrapper),  # stream() is sync
    )


TARGETS: tuple[Target, ...] = (
    *(t for module in _MESSAGE_MODULES for t in _messages_targets(module)),
    Target("anthropic.resources.completions", "Completions", "create", COMPLETIONS, False),
    Target("anthropic.resources.completions", "AsyncCompletions", "create", COMPLETIONS, True),
    Target(SDK_SPAN_MODULE, "", SDK_SPAN_FUNCTION, MESSAGES, False, sdk_span_switch),
)
