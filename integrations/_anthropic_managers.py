"""Wrapper factories for the two anthropic entries the core's default wrappers cannot serve.

* ``messages.stream()`` returns a ``MessageStreamManager`` and sends nothing: the request is
  made on ``__enter__``, and ``MessageStream`` (``text_stream``, ``get_final_message()``,
  ``until_done()``...) reads the client's raw ``Stream`` underneath. So the span starts when
  the manager makes its request, and the raw stream it gets is our stream proxy: every helper
  reads through it, and exhaustion, ``close()`` (also by leaving the ``with``), an error or
  garbage collection end the span once, with that reason.
* The SDK's own call span (anthropic 2.x): switched off inside a call we trace, where it
  would be a second span for the same call (see ``_anthropic_compat``).

Both are still patched, reverted and switched off by the core's ``Patcher``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tracer._guard import guard

from ._anthropic_compat import LazyAwaitable, replace_manager_request
from ._core import Adapter, Endpoint, Switch, TracerSource, bypass, inside_call, run_async, run_sync

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _stream_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {**kwargs, "stream": True}  # the manager always streams; the request attributes say so


def sync_manager_wrapper(tracers: TracerSource, endpoint: Endpoint, adapter: Adapter, switch: Switch) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if bypass(switch):
            return manager
        call_kwargs = _stream_kwargs(kwargs)

        def wrap(request: Callable[[], Any]) -> Callable[[], Any]:
            def traced_request() -> Any:
                if bypass(switch):  # uninstrumented, or entered inside another traced call
                    return request()
                return run_sync(tracers, endpoint, adapter, instance, call_kwargs, request)

            return traced_request

        with guard("anthropic stream manager"):
            replace_manager_request(manager, wrap)
        return manager

    return wrapper


def async_manager_wrapper(tracers: TracerSource, endpoint: Endpoint, adapter: Adapter, switch: Switch) -> Wrapper:
    # AsyncMessages.stream() is a plain method: its manager holds the request as an awaitable.
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if bypass(switch):
            return manager
        call_kwargs = _stream_kwargs(kwargs)

        def wrap(request: Any) -> Any:
            async def traced_request() -> Any:
                if bypass(switch):
                    return await request
                return await run_async(tracers, endpoint, adapter, instance, call_kwargs, lambda: request)

            return LazyAwaitable(traced_request)

        with guard("anthropic stream manager"):
            replace_manager_request(manager, wrap)
        return manager

    return wrapper


def sdk_span_switch(tracers: TracerSource, endpoint: Endpoint, adapter: Adapter, switch: Switch) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if switch.on and inside_call():
            return None  # the SDK's "no span" value: the call goes on untraced by the SDK, traced by us
        return wrapped(*args, **kwargs)

    return wrapper
