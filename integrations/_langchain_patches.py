"""What the LangChain integration patches, in one table, and how each patch is undone.

Three kinds of patch, all in ``langchain_core``:

* ``BaseCallbackManager.__init__``: every callback manager LangChain makes (one per run and
  per child run) gets our handler, as an inheritable handler, unless it has it already. This
  is how OpenInference and LangSmith see every run without the app passing ``callbacks=``.
* ``runnables.config._set_config_context``: LangChain runs the body of a chain, a lambda, a
  sequence step, a parallel branch or a tool in a *copy* of the caller's ``contextvars``
  context, made by ``set_config_context`` (it sets LangSmith's current run in it the same
  way). We make the run's span current in that copy. The token is never detached, and
  needs not be: the copy is LangChain's, private to that run's body, and dropped after it.
  Whatever runs inside (a ``@trace_llm`` function, an instrumented client) nests under the
  run, in threads (``batch``, ``RunnableParallel``) and asyncio tasks alike, and nothing
  leaks into the caller's context. This is what bounds the supported versions: before
  langchain-core 0.3.46 (no public ``set_config_context`` yet) ``runnables/base.py`` imports
  ``_set_config_context`` by name, so the patch misses lambdas and parallel branches (2 of
  the 23 tests fail on 0.3.45; 0.3.46 and 0.3.50, the claimed bound, pass them all).
* Chat models and LLMs run their body in the caller's context (no copy), so
  ``BaseChatModel._generate_with_cache`` / ``_agenerate_with_cache`` and
  ``BaseLLM._generate_helper`` / ``_agenerate_helper`` (private methods, present from
  langchain-core 0.3.50 to 1.8 at least; every provider's ``invoke``, ``batch`` and
  ``generate`` go through them) get a wrapper that makes the run's span current around the
  provider call and detaches it in the same frame, so in the same context. A client call
  inside (``ChatOpenAI`` -> openai, with our openai integration on) is then a child of the
  LangChain LLM span, and the nesting marks (tracer/_nesting.py) count them as one call.
* ``stream`` / ``astream`` of chat models and LLMs, and ``invoke`` / ``ainvoke`` of
  retrievers, start their run inside the call, so there is no run to look up beforehand: the
  wrapper opens a :class:`~integrations._langchain_handler.Slot`, the run's start callback
  claims it, and the wrapper detaches the span when it leaves (for a stream, around each
  step of the generator, so the span is never current in the consumer's code). An
  embedding call inside a retriever nests under the retriever span.

Each patch is reverted on its own; one somebody else wrapped again after us is left in place,
switched off (the handler's switch turns every wrapper into a pass-through).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context

from tracer import attributes as A
from tracer._guard import guard

from ._core import Switch, Target, TracerSource, WrapperFactory
from ._langchain_handler import Slot, SpyglassCallbackHandler, _Run

__all__ = ["TARGETS"]

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _given_handler(factory: Callable[[SpyglassCallbackHandler], Wrapper]) -> WrapperFactory:
    """The core's wrapper factory for a patch that needs only the handler (Patcher.apply's adapter)."""

    def make(tracers: TracerSource, endpoint: Any, handler: Any, switch: Switch) -> Wrapper:
        return factory(handler)

    return make


def _target(module: str, owner: str | None, name: str, factory: Callable[[SpyglassCallbackHandler], Wrapper]) -> Target:
    return Target(module, owner or "", name, wrap=_given_handler(factory))


# --- wrappers ----------------------------------------------------------------------------------
def _add_handler(handler: SpyglassCallbackHandler) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = wrapped(*args, **kwargs)
        with guard("langchain callback manager"):
            if handler.active and not any(h is handler for h in instance.inheritable_handlers):
                instance.add_handler(handler, True)
        return result

    return wrapper


def _parent_run(handler: SpyglassCallbackHandler, config: Any) -> _Run | None:
    callbacks = config.get("callbacks") if isinstance(config, Mapping) else None
    return handler.run(getattr(callbacks, "parent_run_id", None))


def _config_context(handler: SpyglassCallbackHandler) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = wrapped(*args, **kwargs)
        with guard("langchain run context"):
            run = _parent_run(handler, args[0] if args else kwargs.get("config"))
            if run is not None:
                # In LangChain's private copy of the context (see the module docstring): no detach.
                otel_context.attach(run.ctx)
        return result

    return wrapper


def _run_of(handler: SpyglassCallbackHandler, managers: Any) -> _Run | None:
    """The span of the one run a model call serves (``run_manager``, or a list of one)."""
    if isinstance(managers, Sequence):
        if len(managers) != 1:
            return None  # several prompts in one provider call: no single parent to give it
        managers = managers[0]
    return handler.run(getattr(managers, "run_id", None))


def _find(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _model_call(index: int, name: str, is_async: bool) -> Callable[[SpyglassCallbackHandler], Wrapper]:
    """Make the run's span current around a model's provider call; the run manager(s) are
    the argument ``name`` (position ``index`` when passed positionally)."""

    def factory(handler: SpyglassCallbackHandler) -> Wrapper:
        def current(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Run | None:
            with guard("langchain model context"):
                return _run_of(handler, _find(args, kwargs, index, name))
            return None

        if is_async:

            async def async_wrapper(
                wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> Any:
                run = current(args, kwargs)
                if run is None:
                    return await wrapped(*args, **kwargs)
                token = otel_context.attach(run.ctx)
                try:
                    return await wrapped(*args, **kwargs)
                finally:
                    otel_context.detach(token)

            return async_wrapper

        def sync_wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            run = current(args, kwargs)
            if run is None:
                return wrapped(*args, **kwargs)
            token = otel_context.attach(run.ctx)
            try:
                return wrapped(*args, **kwargs)
            finally:
                otel_context.detach(token)

        return sync_wrapper

    return factory


def _slot_call(span_type: str, is_async: bool) -> Callable[[SpyglassCallbackHandler], Wrapper]:
    """A call that starts its own run (a retriever's ``invoke``): inside a :class:`Slot`."""

    def factory(handler: SpyglassCallbackHandler) -> Wrapper:
        if is_async:

            async def async_wrapper(
                wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> Any:
                with Slot(span_type):
                    return await wrapped(*args, **kwargs)

            return async_wrapper

        def sync_wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            with Slot(span_type):
                return wrapped(*args, **kwargs)

        return sync_wrapper

    return factory


def _steps(gen: Generator[Any, Any, Any], slot: Slot) -> Generator[Any, Any, Any]:
    """``gen`` step by step, each step inside ``slot``; send/throw/close forwarded, as the
    decorators' generator shell does (tracer/_decorators.py)."""
    step: Callable[[Any], Any] = gen.send
    arg: Any = None
    while True:
        with slot:
            try:
                item = step(arg)
            except StopIteration as stop:
                return stop.value
        try:
            arg = yield item
            step = gen.send
        except GeneratorExit:
            with slot:
                gen.close()
            raise
        except BaseException as exc:  # thrown in by the consumer: pass it on
            step, arg = gen.throw, exc


async def _asteps(agen: AsyncGenerator[Any, Any], slot: Slot) -> AsyncGenerator[Any, Any]:
    step: Callable[[Any], Any] = agen.asend
    arg: Any = None
    while True:
        with slot:
            try:
                item = await step(arg)
            except StopAsyncIteration:
                return
        try:
            arg = yield item
            step = agen.asend
        except GeneratorExit:
            with slot:
                await agen.aclose()
            raise
        except BaseException as exc:
            step, arg = agen.athrow, exc


def _stream(is_async: bool) -> Callable[[SpyglassCallbackHandler], Wrapper]:
    """A model's ``stream`` / ``astream``: its run starts at the first step, inside a Slot."""

    def factory(handler: SpyglassCallbackHandler) -> Wrapper:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            result = wrapped(*args, **kwargs)
            if is_async and isinstance(result, AsyncGenerator):
                return _asteps(result, Slot(A.SPAN_TYPE_LLM))
            if not is_async and isinstance(result, Generator):
                return _steps(result, Slot(A.SPAN_TYPE_LLM))
            return result  # not a generator (a subclass's own stream): as it is

        return wrapper

    return factory


_CHAT = "langchain_core.language_models.chat_models"
_LLMS = "langchain_core.language_models.llms"
TARGETS: tuple[Target, ...] = (
    _target("langchain_core.callbacks.base", "BaseCallbackManager", "__init__", _add_handler),
    _target("langchain_core.runnables.config", None, "_set_config_context", _config_context),
    # _generate_with_cache(self, messages, stop=None, run_manager=None, **kwargs)
    _target(_CHAT, "BaseChatModel", "_generate_with_cache", _model_call(2, "run_manager", False)),
    _target(_CHAT, "BaseChatModel", "_agenerate_with_cache", _model_call(2, "run_manager", True)),
    # _generate_helper(self, prompts, stop, run_managers, *, new_arg_supported, **kwargs)
    _target(_LLMS, "BaseLLM", "_generate_helper", _model_call(2, "run_managers", False)),
    _target(_LLMS, "BaseLLM", "_agenerate_helper", _model_call(2, "run_managers", True)),
    _target(_CHAT, "BaseChatModel", "stream", _stream(False)),
    _target(_CHAT, "BaseChatModel", "astream", _stream(True)),
    _target(_LLMS, "BaseLLM", "stream", _stream(False)),
    _target(_LLMS, "BaseLLM", "astream", _stream(True)),
    _target("langchain_core.retrievers", "BaseRetriever", "invoke", _slot_call(A.SPAN_TYPE_RETRIEVER, False)),
    _target("langchain_core.retrievers", "BaseRetriever", "ainvoke", _slot_call(A.SPAN_TYPE_RETRIEVER, True)),
)
