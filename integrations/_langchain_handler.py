"""The callback handler: one span per LangChain run, parented by LangChain's run tree.

LangChain calls a handler at the start and the end of every run (chain, LLM or chat model,
retriever, tool) with its ``run_id`` and ``parent_run_id``. Each start opens a span whose
parent is the span of the parent run (else whatever span is current: the user's own
``@trace_step`` around ``chain.invoke``); each end or error closes it. A span is a
:class:`tracer._call.Call` on one of four module-level :class:`tracer._call.Spec` s, so
retrievers, steps and tools record exactly what ``@trace_retriever``, ``@trace_step`` and
``@trace_tool`` record, and every span ends through :class:`tracer._span_end.SpanEnd`.

A start callback and its end callback do not run in the same ``contextvars`` context
(LangChain runs async end callbacks in a copy, ``callbacks.manager.shielded``), so a token
attached at the start could not be detached at the end, and the span would stay current in
the caller's context. So the handler makes a span current only inside a :class:`Slot`: a
scope that one of our wrappers (``_langchain_patches.py``) opened around a model's stream or a
retriever's ``invoke``, in the wrapper's own frame, which detaches the token when it leaves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any
from uuid import UUID

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from tracer import _guard
from tracer import attributes as A
from tracer._call import Call, Spec, plain_output, retriever_output, tool_output, tool_span
from tracer._guard import guard
from tracer._settings import Settings, settings

from . import _langchain_extract as X
from . import _pricing
from ._core import Switch, TracerSource, _capture, _collect

try:
    from langchain_core.callbacks import BaseCallbackHandler
except ImportError:  # pragma: no cover - the module is only imported with langchain-core installed
    BaseCallbackHandler = object  # type: ignore[assignment,misc]

__all__ = ["Slot", "SpyglassCallbackHandler"]


class _Run(Call):
    """One run's span; ``first_ns`` is when a chat model streamed its first token."""

    __slots__ = ("first_ns", "start_ns")

    def __init__(self, span: Any, spec: Spec, s: Settings, start_ns: int) -> None:
        super().__init__(span, spec, s)
        self.start_ns = start_ns
        self.first_ns: int | None = None


class Slot:
    """A call one of our wrappers is running (a model's stream, a retriever's ``invoke``).

    While the wrapper is :meth:`active`, the first run of ``span_type`` that starts (the call's
    own run: its start callback runs synchronously inside the call, in the same context) is
    made current, until the wrapper leaves: the token is attached and detached in one context.
    A generator's wrapper is active around each step, so the span is current while the
    generator runs, never while its consumer does."""

    __slots__ = ("run", "span_type", "tokens")

    def __init__(self, span_type: str) -> None:
        self.span_type = span_type
        self.run: _Run | None = None
        self.tokens: list[tuple[Token[Slot | None], object | None]] = []

    def __enter__(self) -> Slot:
        var = _SLOT.set(self)
        self.tokens.append((var, otel_context.attach(self.run.ctx) if self.run is not None else None))
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        var, token = self.tokens.pop()
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        _SLOT.reset(var)

    def claim(self, run: _Run) -> None:
        """``run`` started inside: current from now until the wrapper leaves this step."""
        if self.run is None and self.tokens and run.spec.span_type == self.span_type:
            self.run = run
            var, token = self.tokens[-1]
            if token is None:
                self.tokens[-1] = (var, otel_context.attach(run.ctx))


_SLOT: ContextVar[Slot | None] = ContextVar("spyglass_langchain_slot", default=None)


def _llm_output(call: Call, response: Any, s: Settings) -> None:
    """An LLM run's response: model, usage and cost always; the answer with capture on."""
    attrs: dict[str, Any] = {}
    _collect(attrs, X.llm_response(response))
    if A.GEN_AI_REQUEST_MODEL not in attrs:  # cost falls back on the request model
        request_model = (getattr(call.span, "attributes", None) or {}).get(A.GEN_AI_REQUEST_MODEL)
        if request_model is not None:
            attrs[A.GEN_AI_REQUEST_MODEL] = request_model
    _collect(attrs, _pricing.cost_attributes(attrs))
    if isinstance(call, _Run) and call.first_ns is not None:
        attrs[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (call.first_ns - call.start_ns) / 1e9
    if s.capture_content:
        with guard("langchain output capture"):
            _capture(attrs, X.llm_response_content(response), s)
    call.span.set_attributes(attrs)


def _tool_output(call: Call, output: Any, s: Settings) -> None:
    # langchain-core 0.3 (0.3.60 still) does not pass ``tool_call_id`` to on_tool_start, as
    # 1.x does: there the call id is only in the ToolMessage a tool call answers with. Read it
    # there when the start had none; with 1.x the start's id stands.
    if A.GEN_AI_TOOL_CALL_ID not in (getattr(call.span, "attributes", None) or {}):
        call_id = X.tool_call_id(output)
        if call_id is not None:
            call.span.set_attribute(A.GEN_AI_TOOL_CALL_ID, call_id)
    tool_output(call, X.tool_result(output), s)


# One Spec per span type, shared by every run: it carries the output hook (what the matching
# decorator records); names and attributes are the run's own, set when its span starts.
_STEP = Spec(None, "step", A.SPAN_TYPE_STEP, {}, output_hook=plain_output)
_RETRIEVER = Spec(None, "retriever", A.SPAN_TYPE_RETRIEVER, {}, output_hook=retriever_output)
_TOOL = Spec(None, "tool", A.SPAN_TYPE_TOOL, {}, output_hook=_tool_output)
_TOOL.partial_hook = plain_output
_LLM = Spec(None, "llm", A.SPAN_TYPE_LLM, {}, output_hook=_llm_output)


def _base(span_type: str, run_id: UUID, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        A.SPAN_TYPE: span_type,
        A.OI_SPAN_KIND: A.OI_KIND_BY_SPAN_TYPE[span_type],
        A.LANGCHAIN_RUN_ID: str(run_id),
    }
    run_type = kwargs.get("run_type")
    if isinstance(run_type, str):
        attrs[A.LANGCHAIN_RUN_TYPE] = run_type
    return attrs


class SpyglassCallbackHandler(BaseCallbackHandler):
    """Added to every LangChain callback manager by ``integrations.langchain.instrument()``.

    Inert once its switch is off (after ``uninstrument()``): it starts nothing, and only ends
    the spans of runs that were already running, so none is left open."""

    # Called in the run's own task and thread, never in an executor: the spans' start order
    # is the runs' order, and ``_langchain_patches`` finds a run's span while its body runs.
    run_inline = True

    def __init__(self, tracers: TracerSource, switch: Switch) -> None:
        super().__init__()
        self._tracers = tracers
        self._switch = switch
        self._runs: dict[UUID, _Run] = {}

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        # LangChain logs and swallows a handler's exception unless this is True: our tests run
        # with internal errors raised (tests/conftest.py) and must see them. Otherwise guard()
        # has already swallowed ours.
        return _guard._raise

    @property
    def active(self) -> bool:
        """False once ``uninstrument()`` ran: nothing new is traced."""
        return self._switch.on

    def run(self, run_id: Any) -> _Run | None:
        """The live span of ``run_id``, if it is ours."""
        return self._runs.get(run_id) if run_id is not None else None

    # --- span lifecycle ----------------------------------------------------------------------
    def _start(
        self,
        spec: Spec,
        name: str,
        attrs: dict[str, Any],
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> _Run | None:
        if not self._switch.on:
            return None
        with guard("langchain span start"):
            parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
            ctx = trace.set_span_in_context(parent.span) if parent is not None else None
            start_ns = time.time_ns()
            span = self._tracers().start_span(name, context=ctx, kind=kind, attributes=attrs, start_time=start_ns)
            run = self._runs[run_id] = _Run(span, spec, settings(), start_ns)
            slot = _SLOT.get()
            if slot is not None:
                slot.claim(run)
            return run
        return None

    def _input(self, run: _Run | None, pairs: Mapping[str, Any]) -> None:
        """Captured input (content): only with capture on, through set_content."""
        if run is None or not run.settings.capture_content or not run.span.is_recording():
            return
        with guard("langchain input capture"):
            content: dict[str, Any] = {}
            _capture(content, pairs.items(), run.settings)
            run.span.set_attributes(content)

    def _finish(self, run_id: UUID, result: Any) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            run.finish(result)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            run.fail(error)

    # --- chains and LCEL runnables -> step spans -----------------------------------------------
    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        name = X.run_name(serialized, kwargs, "chain")
        run = self._start(_STEP, name, _base(A.SPAN_TYPE_STEP, run_id, kwargs), run_id, parent_run_id)
        self._input(run, {A.OI_INPUT_VALUE: inputs})

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, outputs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    # --- retrievers -> retriever spans ---------------------------------------------------------
    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        name = X.run_name(serialized, kwargs, "retriever")
        attrs = _base(A.SPAN_TYPE_RETRIEVER, run_id, kwargs)
        attrs[A.GEN_AI_OPERATION_NAME] = A.OP_RETRIEVAL
        run = self._start(_RETRIEVER, name, attrs, run_id, parent_run_id)
        # The same text twice: _capture encodes it once.
        self._input(run, {A.OI_INPUT_VALUE: query, A.GEN_AI_RETRIEVAL_QUERY_TEXT: query})

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, documents)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    # --- tools -> execute_tool spans -----------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        attrs = _base(A.SPAN_TYPE_TOOL, run_id, kwargs)
        name = tool_span(attrs, X.run_name(serialized, kwargs, "tool"))
        description = serialized.get("description") if isinstance(serialized, Mapping) else None
        if isinstance(description, str) and description:
            attrs[A.GEN_AI_TOOL_DESCRIPTION] = description
        call_id = kwargs.get("tool_call_id")
        if isinstance(call_id, str) and call_id:
            attrs[A.GEN_AI_TOOL_CALL_ID] = call_id
        run = self._start(_TOOL, name, attrs, run_id, parent_run_id)
        arguments = inputs if inputs is not None else input_str
        self._input(run, {A.OI_INPUT_VALUE: arguments, A.GEN_AI_TOOL_CALL_ARGUMENTS: arguments})

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, output)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    # --- chat models and LLMs -> LLM spans -----------------------------------------------------
    def _start_llm(
        self,
        operation: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        kwargs: Mapping[str, Any],
    ) -> _Run | None:
        if not self._switch.on:
            return None
        attrs = _base(A.SPAN_TYPE_LLM, run_id, kwargs)
        attrs[A.GEN_AI_OPERATION_NAME] = operation
        with guard("langchain llm request"):
            metadata = kwargs.get("metadata")
            params = kwargs.get("invocation_params")
            _collect(
                attrs,
                X.llm_request(
                    metadata if isinstance(metadata, Mapping) else {}, params if isinstance(params, Mapping) else {}
                ),
            )
        model = attrs.get(A.GEN_AI_REQUEST_MODEL)
        name = f"{operation} {model}" if model else operation
        return self._start(_LLM, name, attrs, run_id, parent_run_id, SpanKind.CLIENT)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._start_llm(A.OP_CHAT, run_id, parent_run_id, kwargs)
        if run is not None and run.settings.capture_content:
            with guard("langchain input capture"):
                chat = X.chat_input_messages(messages[0] if messages else [])
                self._input(run, {A.GEN_AI_INPUT_MESSAGES: chat, A.OI_INPUT_VALUE: chat})

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._start_llm(A.OP_TEXT_COMPLETION, run_id, parent_run_id, kwargs)
        if run is not None and run.settings.capture_content:
            with guard("langchain input capture"):
                prompt = prompts[0] if len(prompts) == 1 else prompts
                self._input(run, {A.GEN_AI_INPUT_MESSAGES: X.prompt_messages(prompts), A.OI_INPUT_VALUE: prompt})

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and run.first_ns is None:
            run.first_ns = time.time_ns()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, response)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)
