"""Decorators that turn functions into spans, and the ``span()`` context manager.

One shell per calling convention (plain, coroutine, generator, async generator); each is a
few lines around :class:`~tracer._call.Call`, which owns the span. The shell's own kind
matches the wrapped function's, so ``inspect.iscoroutinefunction`` and friends still answer
the same, and ``functools.wraps`` keeps the name, docstring and signature.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

from . import attributes as A
from ._call import Call, Spec, llm_output, plain_output, retriever_output

_F = TypeVar("_F", bound=Callable[..., Any])


def _plain(fn: Callable[..., Any], spec: Spec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        call = spec.start(args, kwargs)
        token = call.attach()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            call.detach(token)
            call.fail(exc)
            raise
        call.detach(token)
        call.finish(result)
        return result

    return traced


def _coroutine(fn: Callable[..., Any], spec: Spec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        call = spec.start(args, kwargs)
        token = call.attach()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            call.detach(token)
            call.fail(exc)
            raise
        call.detach(token)
        call.finish(result)
        return result

    return traced


def _generator(fn: Callable[..., Any], spec: Spec) -> Callable[..., Any]:
    # Drives the user's generator by hand so that its span is current only while its body
    # runs (never while the consumer runs between two items), and forwards send()/throw().
    # The span starts at the first next(), like the body, and ends once: on exhaustion,
    # error, close(), or close() by garbage collection (GeneratorExit at our yield).
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Iterator[Any]:
        # Before the span: bad arguments raise TypeError here, and must not leave it open.
        gen = fn(*args, **kwargs)
        call = spec.start(args, kwargs)
        call.begin_stream()
        step: Callable[[Any], Any] = gen.send
        arg: Any = None
        while True:
            token = call.attach()
            try:
                item = step(arg)
            except StopIteration as stop:
                call.detach(token)
                call.finish_stream(stop.value)
                return stop.value
            except BaseException as exc:
                call.detach(token)
                call.fail(exc)
                raise
            call.detach(token)
            call.add_item(item)
            try:
                arg = yield item
                step = gen.send
            except GeneratorExit:
                _close(gen, call)
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it to the body
                step, arg = gen.throw, exc

    return traced


def _close(gen: Any, call: Call) -> None:
    token = call.attach()
    try:
        gen.close()
    except BaseException as exc:
        call.detach(token)
        call.fail(exc)
        raise
    call.detach(token)
    call.finish_stream(closed_early=True)


def _async_generator(fn: Callable[..., Any], spec: Spec) -> Callable[..., Any]:
    # Same protocol as _generator, with asend()/athrow()/aclose().
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        agen = fn(*args, **kwargs)
        call = spec.start(args, kwargs)
        call.begin_stream()
        step: Callable[[Any], Any] = agen.asend
        arg: Any = None
        while True:
            token = call.attach()
            try:
                item = await step(arg)
            except StopAsyncIteration:
                call.detach(token)
                call.finish_stream()
                return
            except BaseException as exc:
                call.detach(token)
                call.fail(exc)
                raise
            call.detach(token)
            call.add_item(item)
            try:
                arg = yield item
                step = agen.asend
            except GeneratorExit:
                await _aclose(agen, call)
                raise
            except BaseException as exc:
                step, arg = agen.athrow, exc

    return traced


async def _aclose(agen: Any, call: Call) -> None:
    token = call.attach()
    try:
        await agen.aclose()
    except BaseException as exc:
        call.detach(token)
        call.fail(exc)
        raise
    call.detach(token)
    call.finish_stream(closed_early=True)


def wrap(fn: _F, spec: Spec) -> _F:
    if inspect.isasyncgenfunction(fn):
        shell = _async_generator
    elif inspect.isgeneratorfunction(fn):
        shell = _generator
    elif inspect.iscoroutinefunction(fn):
        shell = _coroutine
    else:
        shell = _plain
    return shell(fn, spec)  # type: ignore[return-value]


def _decorate(fn: Any, make_spec: Callable[[Callable[..., Any]], Spec]) -> Any:
    # Under @classmethod/@staticmethod (``@trace_llm`` written above them) we get the
    # descriptor, not a function: trace the function inside and wrap it back the same way,
    # or the class would see a plain function and pass ``self`` to it.
    if isinstance(fn, (classmethod, staticmethod)):
        return type(fn)(_decorate(fn.__func__, make_spec))
    if not callable(fn):
        raise TypeError(
            f"expected a function to trace, got {type(fn).__name__} {fn!r}; "
            f"options are keyword-only, e.g. @trace_llm(model=...)"
        )
    return wrap(fn, make_spec(fn))


def _decorator(fn: Callable[..., Any] | None, make_spec: Callable[[Callable[..., Any]], Spec]) -> Any:
    """Support both ``@deco`` and ``@deco(...)``."""
    if fn is not None:
        return _decorate(fn, make_spec)
    return lambda f: _decorate(f, make_spec)


def _name(fn: Callable[..., Any], name: str | None) -> str:
    """``Class.method`` or ``function``; the ``outer.<locals>.`` part of nested functions is noise."""
    if name:
        return name
    qualname = str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "call")
    return qualname.rsplit("<locals>.", 1)[-1]


@overload
def trace_llm(fn: _F) -> _F: ...
@overload
def trace_llm(
    fn: None = None,
    *,
    name: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    operation: str = A.OP_CHAT,
    prompt_version: str | None = None,
    prompt_template: str | None = None,
    context: str | Sequence[str] | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Callable[[_F], _F]: ...
def trace_llm(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    operation: str = A.OP_CHAT,
    prompt_version: str | None = None,
    prompt_template: str | None = None,
    context: str | Sequence[str] | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace a function that calls a language model.

    The arguments become the span's input, a returned string becomes the output message.
    Usage and cost can be added from inside with :func:`record_usage`.

    Arguments that hold documents (lists of dicts with a content key, passages, LangChain
    ``Document``s, ``(doc, score)`` pairs) are the answer's context: shown in the Context
    panel and checked against by the grounding check. ``context="docs"`` (or a list of
    argument names) says which arguments they are, instead of guessing.
    """
    names = (context,) if isinstance(context, str) else context

    def spec(f: Callable[..., Any]) -> Spec:
        static = {
            A.GEN_AI_OPERATION_NAME: operation,
            A.GEN_AI_REQUEST_MODEL: model,
            A.OI_LLM_MODEL_NAME: model,
            A.GEN_AI_PROVIDER_NAME: provider,
            A.PROMPT_VERSION: prompt_version,
            A.PROMPT_TEMPLATE: prompt_template,
            **(attributes or {}),
        }
        # Named after the user's function, as every other decorator: the operation and the
        # model are attributes, and the client span inside already reads "chat <model>".
        return Spec(
            f, _name(f, name), A.SPAN_TYPE_LLM, static, capture_input, capture_output, llm_output, context=names
        )

    return _decorator(fn, spec)


def trace_retriever(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    data_source: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace a retrieval step; its result is normalised into documents ``{id, content, score, metadata}``."""

    def spec(f: Callable[..., Any]) -> Spec:
        static = {A.GEN_AI_OPERATION_NAME: A.OP_RETRIEVAL, A.GEN_AI_DATA_SOURCE_ID: data_source, **(attributes or {})}
        return Spec(f, _name(f, name), A.SPAN_TYPE_RETRIEVER, static, capture_input, capture_output, retriever_output)

    return _decorator(fn, spec)


def trace_postprocess(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace a post-processing step (guardrail, filter, rewriter); see :func:`record_decision`."""

    def spec(f: Callable[..., Any]) -> Spec:
        return Spec(
            f,
            _name(f, name),
            A.SPAN_TYPE_POSTPROCESS,
            dict(attributes or {}),
            capture_input,
            capture_output,
            plain_output,
        )

    return _decorator(fn, spec)


def trace_step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    kind: str = A.SPAN_TYPE_STEP,
    capture_input: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace any pipeline step. ``kind`` is one of ``step``, ``tool``, ``embedding``, ``llm``,
    ``retriever``, ``postprocess``."""
    if kind not in A.OI_KIND_BY_SPAN_TYPE:
        raise ValueError(f"unknown span kind {kind!r}; expected one of {sorted(A.OI_KIND_BY_SPAN_TYPE)}")
    hooks = {A.SPAN_TYPE_LLM: llm_output, A.SPAN_TYPE_RETRIEVER: retriever_output}

    def spec(f: Callable[..., Any]) -> Spec:
        static = dict(attributes or {})
        if kind == A.SPAN_TYPE_TOOL:
            static.setdefault(A.GEN_AI_OPERATION_NAME, A.OP_EXECUTE_TOOL)
            static.setdefault(A.GEN_AI_TOOL_NAME, _name(f, name))
        return Spec(f, _name(f, name), kind, static, capture_input, capture_output, hooks.get(kind, plain_output))

    return _decorator(fn, spec)
