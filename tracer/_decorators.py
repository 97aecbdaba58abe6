"""Decorators that turn functions into spans, and the ``span()`` context manager.

One shell per calling convention (plain, coroutine, generator, async generator); each is a
few lines around :class:`~tracer._call.Call`, which owns the span. The shell's own kind
matches the wrapped function's, so ``inspect.iscoroutinefunction`` and friends still answer
the same, and ``functools.wraps`` keeps the name, docstring and signature.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

from . import attributes as A
from ._call import (
    Call,
    Spec,
    llm_output,
    plain_output,
    retriever_output,
    tool_call_id_start,
    tool_input,
    tool_output,
    tool_span,
    top_k_start,
)

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


# gen_ai.provider.name from a model name that plainly belongs to one vendor's API (the
# conventions' well-known values only). Not inferred: names with a gateway or host in them
# ("openai/gpt-4o", "claude-3@2024" on Vertex, "mistral:7b" on Ollama; Bedrock's
# "anthropic.claude-3" matches no prefix) and open-weights models any host may serve
# ("gpt-oss-20b"). The "ft:" of OpenAI fine-tunes and the "open-" of Mistral's open models
# are read past.
_PROVIDER_BY_PREFIX = (
    (("gpt-", "chatgpt-", "text-embedding-3-", "text-embedding-ada-"), A.PROVIDER_OPENAI),
    (("claude-",), A.PROVIDER_ANTHROPIC),
    (("gemini-",), A.PROVIDER_GEMINI),
    # Mistral's API names only: "mixtral-8x7b" and "mistral-7b-instruct" are open weights that
    # Groq, Ollama or a local server may serve under the same name.
    (
        (
            "mistral-large-",
            "mistral-medium-",
            "mistral-small-",
            "mistral-tiny-",
            "mistral-embed-",
            "mistral-saba-",
            "mistral-ocr-",
            "codestral-",
            "ministral-",
            "pixtral-",
            "magistral-",
            "devstral-",
        ),
        A.PROVIDER_MISTRAL,
    ),
    (("command-",), A.PROVIDER_COHERE),
)
_O_SERIES = re.compile(r"o\d(?:-|$)")  # OpenAI's o1, o3-mini, o4-mini-2025-04-16
# Open weights any host serves, and Azure's own names ("gpt-35-turbo" exists only there, where
# the client call inside says azure.ai.openai).
_NOT_INFERRED = ("gpt-oss", "gpt-35-")
_MISTRAL_OPEN = ("open-mistral-", "open-mixtral-", "open-codestral-")  # Mistral's API names for them


def provider_for_model(model: Any) -> str | None:
    """The provider a model name plainly belongs to (``gpt-4o``: ``openai``), else ``None``."""
    if not isinstance(model, str):
        return None
    name = model.strip().lower()
    if name.startswith("ft:"):  # ft:gpt-4o-mini:org:suffix:id
        name = name[3:].split(":", 1)[0]
    if any(c in name for c in "/@:"):
        return None
    if (name + "-").startswith(_MISTRAL_OPEN):
        return A.PROVIDER_MISTRAL
    if _O_SERIES.match(name):
        return A.PROVIDER_OPENAI
    if name.startswith(_NOT_INFERRED):
        return None
    for prefixes, provider in _PROVIDER_BY_PREFIX:
        if (name + "-").startswith(prefixes):
            return provider
    return None


def _inference(static: dict[str, Any], operation: str) -> bool:
    """Inference (LLM and embeddings) spans: the operation, and the provider the model's name
    gives when none was given (never in place of one). True when the provider is that guess."""
    static.setdefault(A.GEN_AI_OPERATION_NAME, operation)
    if static.get(A.GEN_AI_PROVIDER_NAME) is None:
        static[A.GEN_AI_PROVIDER_NAME] = provider_for_model(static.get(A.GEN_AI_REQUEST_MODEL))
        return static[A.GEN_AI_PROVIDER_NAME] is not None
    return False


def _llm_spec(
    f: Callable[..., Any],
    name: str,
    static: dict[str, Any],
    capture_input: bool,
    capture_output: bool,
    context: Sequence[str] | None = None,
) -> Spec:
    guessed = _inference(static, A.OP_CHAT)
    spec = Spec(f, name, A.SPAN_TYPE_LLM, static, capture_input, capture_output, llm_output, context)
    spec.guessed_provider = guessed
    return spec


# The arguments a retriever's top_k, and a tool call's id, are read from (the first found).
TOP_K_ARGUMENTS = ("top_k", "k", "n_results", "limit")
CALL_ID_ARGUMENTS = ("tool_call_id", "call_id")


def _retriever_spec(
    f: Callable[..., Any], name: str | None, static: dict[str, Any], capture_input: bool, capture_output: bool
) -> Spec:
    static.setdefault(A.GEN_AI_OPERATION_NAME, A.OP_RETRIEVAL)
    source = static.get(A.GEN_AI_DATA_SOURCE_ID)
    # The conventions name a retrieval span "retrieval {gen_ai.data_source.id}". Without a data
    # source, the function's name says more than "retrieval" alone (and keeps two retrievers of
    # one trace apart); an explicit name= wins.
    span_name = name or (f"{A.OP_RETRIEVAL} {source}" if source else _name(f, None))
    spec = Spec(f, span_name, A.SPAN_TYPE_RETRIEVER, static, capture_input, capture_output, retriever_output)
    top_k = spec.arg(*TOP_K_ARGUMENTS)
    if top_k is not None:
        spec.start_hook = top_k_start(top_k)
    return spec


def _tool_spec(
    f: Callable[..., Any],
    name: str | None,
    static: dict[str, Any],
    capture_input: bool,
    capture_output: bool,
    description: str | None = None,
) -> Spec:
    # The function's own name, not Class.method: the model calls a tool by a name without dots.
    span_name = tool_span(static, str(name or getattr(f, "__name__", None) or _name(f, None)))
    if description:
        static[A.GEN_AI_TOOL_DESCRIPTION] = description
    else:
        static.setdefault(A.GEN_AI_TOOL_DESCRIPTION, _first_line(getattr(f, "__doc__", None)))
    spec = Spec(f, span_name, A.SPAN_TYPE_TOOL, static, capture_input, capture_output, tool_output)
    spec.partial_hook = plain_output  # a tool that failed returned no result
    call_id = spec.arg(*CALL_ID_ARGUMENTS)
    if call_id is not None:
        spec.start_hook = tool_call_id_start(call_id)
    spec.input_hook = tool_input(call_id)
    return spec


def _first_line(doc: str | None) -> str | None:
    if not doc:
        return None
    line = doc.strip().split("\n", 1)[0].strip()
    return line or None


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

    The arguments become the span's input, a returned string becomes the output message; an
    argument holding chat messages (dicts or message objects with a ``role``) becomes
    ``gen_ai.input.messages``. Usage and cost can be added from inside with :func:`record_usage`.

    ``provider`` (``gen_ai.provider.name``) is required by the conventions: when not given, it
    is read from the model's name where that is plain (``gpt-4o``: ``openai``, ``claude-*``:
    ``anthropic``...), else from the instrumented client call made inside, once it ends.

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
        return _llm_spec(f, _name(f, name), static, capture_input, capture_output, names)

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
    """Trace a retrieval step; its result is normalised into documents ``{id, content, score, metadata}``.

    ``data_source`` is ``gen_ai.data_source.id`` and names the span ``retrieval {data_source}``
    (else the span is named after the function). An int argument named ``top_k``, ``k``,
    ``n_results`` or ``limit`` is ``gen_ai.retrieval.top_k``; the argument named ``query``,
    ``question``, ``q`` or ``text`` (else the only string argument) is the query text.
    """

    def spec(f: Callable[..., Any]) -> Spec:
        static = {A.GEN_AI_DATA_SOURCE_ID: data_source, **(attributes or {})}
        return _retriever_spec(f, name, static, capture_input, capture_output)

    return _decorator(fn, spec)


def trace_tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """Trace a tool the application runs for a model (a function tool): an ``execute_tool`` span.

    ``name`` is the tool's name (default: the function's), and the span is named
    ``execute_tool {name}``. ``description`` (default: the docstring's first line) is
    ``gen_ai.tool.description``. An argument named ``tool_call_id`` or ``call_id`` is the id
    of the model's tool call (``gen_ai.tool.call.id``) and is left out of the arguments. With
    content capture on, the arguments and the result are ``gen_ai.tool.call.arguments`` and
    ``gen_ai.tool.call.result``. The result is a tool result the grounding check reads.
    """

    def spec(f: Callable[..., Any]) -> Spec:
        return _tool_spec(f, name, dict(attributes or {}), capture_input, capture_output, description)

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
    ``retriever``, ``postprocess``.

    ``kind="tool"`` is :func:`trace_tool` (``name`` is the tool's name), ``kind="retriever"``
    and ``kind="llm"`` record what :func:`trace_retriever` and :func:`trace_llm` do;
    ``kind="embedding"`` is an ``embeddings`` operation, its provider read from
    ``gen_ai.request.model`` in ``attributes`` when that names it."""
    if kind not in A.OI_KIND_BY_SPAN_TYPE:
        raise ValueError(f"unknown span kind {kind!r}; expected one of {sorted(A.OI_KIND_BY_SPAN_TYPE)}")

    def spec(f: Callable[..., Any]) -> Spec:
        static = dict(attributes or {})
        if kind == A.SPAN_TYPE_TOOL:
            return _tool_spec(f, name, static, capture_input, capture_output)
        if kind == A.SPAN_TYPE_RETRIEVER:
            return _retriever_spec(f, name, static, capture_input, capture_output)
        if kind == A.SPAN_TYPE_LLM:
            return _llm_spec(f, _name(f, name), static, capture_input, capture_output)
        guessed = kind == A.SPAN_TYPE_EMBEDDING and _inference(static, A.OP_EMBEDDINGS)
        spec = Spec(f, _name(f, name), kind, static, capture_input, capture_output, plain_output)
        spec.guessed_provider = guessed
        return spec

    return _decorator(fn, spec)
