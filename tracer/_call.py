"""The life of one traced call: start a span, make it current, capture, end it exactly once.

The decorators (``_decorators.py``) and the ``span()`` context manager are thin shells
around :class:`Spec` and :class:`Call`; everything that touches telemetry goes through the
guard here, so a failure in our code never changes what the user's function does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring as encode_json_str
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

from . import _nesting
from . import attributes as A
from ._documents import context_arguments, is_one_shot, normalize_documents
from ._guard import guard
from ._serialize import encodable, scrub, scrub_attribute, to_text
from ._settings import Settings, settings
from ._span_end import SpanEnd
from .conventions._common import chat_messages
from .version import __version__

_SCOPE = "spyglass"

# ``trace.get_tracer`` gives a proxy that follows the *global* provider. An application that
# hands ``configure()`` a provider of its own without making it global needs our spans on
# that provider: ``set_tracer_provider`` swaps this tracer.
_tracer: trace.Tracer = trace.get_tracer(_SCOPE, __version__)
_provider: trace.TracerProvider | None = None
# Tracers of other scopes (our client integrations) on the same provider, with the provider
# they were made for: swapped whole, in one assignment, so a reader never pairs a new
# provider with the old cache.
_scoped: tuple[trace.TracerProvider | None, dict[tuple[str, str], trace.Tracer]] = (None, {})

# OpenInference flattens documents into ``retrieval.documents.{i}.document.*`` keys, three per
# document. The SDK keeps 128 attributes per span by default and evicts the *oldest* ones
# beyond that (span type, input...), so only the first documents are flattened; all of them
# are in ``gen_ai.retrieval.documents``.
MAX_FLAT_DOCUMENTS = 25

# How a span type records its output: LLM text becomes a GenAI output message, retriever
# results become documents; everything else is a plain output value. Hooks decide what is
# content (skipped when content capture is off) and what is not.
OutputHook = Callable[["Call", Any, Settings], None]
# What a span type records of its input besides ``input.value`` (content, so only with capture
# on): the GenAI keys its arguments map to. Given the arguments by name, the captured value and
# its encoding (``to_text``'s result), which a hook reuses when it records the same value again.
InputHook = Callable[["Spec", Span, dict[str, Any], Any, "Encoded", Settings], None]
# Attributes of one call known before it runs and not content (a tool call's id, a retriever's
# top_k): set when the span starts, capture on or off. ``None`` from it: nothing to add.
StartHook = Callable[[tuple[Any, ...], Mapping[str, Any]], "dict[str, Any] | None"]
Encoded = tuple[str, bool, bool]  # to_text(): (text, is_json, truncated)


def set_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Start Spyglass's spans on ``provider`` from now on; ``None``: follow the global provider."""
    global _tracer, _provider, _scoped
    _provider = provider
    _scoped = (provider, {})
    _tracer = (
        provider.get_tracer(_SCOPE, __version__) if provider is not None else trace.get_tracer(_SCOPE, __version__)
    )


def tracer_for(scope: str, version: str) -> trace.Tracer:
    """A tracer for ``scope`` on the provider Spyglass's spans start on *now*. Client
    integrations start their spans on it, so that whatever reroutes the decorators'
    spans (``configure()``, ``tracer.testing.capture_spans()``) reroutes theirs too."""
    provider, tracers = _scoped
    found = tracers.get((scope, version))
    if found is None:  # cached: the SDK's get_tracer takes a lock and edits warning filters
        found = tracers[(scope, version)] = (
            provider.get_tracer(scope, version) if provider is not None else trace.get_tracer(scope, version)
        )
    return found


def tracer_provider() -> trace.TracerProvider:
    """The provider Spyglass's spans start on."""
    return _provider if _provider is not None else trace.get_tracer_provider()


def explicit_tracer_provider() -> trace.TracerProvider | None:
    """The provider given to :func:`set_tracer_provider`, ``None`` when following the global one."""
    return _provider


def set_content(
    span: Span, key: str, value: Any, s: Settings, mime_key: str | None = None, omitted: int = 0
) -> Encoded:
    """Set a captured value on a span: serialised, bounded, scrubbed, user-redacted.

    Returns the encoding, for :func:`set_encoded` to set the same value under another key
    without serialising it again."""
    encoded = to_text(value, s, omitted)
    set_encoded(span, key, encoded, s, mime_key)
    return encoded


def set_encoded(span: Span, key: str, encoded: Encoded, s: Settings, mime_key: str | None = None) -> None:
    """Set a value :func:`set_content` (or ``to_text``) encoded already; redacted for ``key``."""
    text, is_json, cut = encoded
    if not _set_text(span, key, text, s):
        return
    if mime_key is not None:
        span.set_attribute(mime_key, A.MIME_JSON if is_json else A.MIME_TEXT)
    if cut:
        _mark_truncated(span, key)


def _set_text(span: Span, key: str, text: str, s: Settings) -> bool:
    """Set text already bounded and scrubbed, through the redact hook; False if it dropped it."""
    if s.redact is not None:
        redacted = s.redact(key, text)
        if redacted is None:
            return False
        text = redacted
    span.set_attribute(key, text)
    return True


def _mark_truncated(span: Span, key: str) -> None:
    """Add ``key`` to the span's list of cut attributes (input and output may both be cut)."""
    so_far = getattr(span, "attributes", None) or {}  # SDK spans expose what was set so far
    names = tuple(so_far.get(A.TRUNCATED, ()))
    if key not in names:
        span.set_attribute(A.TRUNCATED, names + (key,))


class AttributeBatch:
    """Stands in for a span while capture code runs: what it sets reaches the span in one
    ``set_attributes`` call, at :meth:`flush` (each SDK call takes the span's lock and cleans
    what it is given, so one call for all beats one per attribute). Everything else is the
    span's. With no span, it only collects (``pending``), for a caller that sets them itself."""

    __slots__ = ("pending", "span")

    def __init__(self, span: Span | None = None) -> None:
        self.span = span
        self.pending: dict[str, Any] = {}

    @property
    def attributes(self) -> Mapping[str, Any]:  # what was set so far, pending included
        if self.span is None:
            return self.pending
        return {**(getattr(self.span, "attributes", None) or {}), **self.pending}

    def set_attribute(self, key: str, value: Any) -> None:
        self.pending[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.pending.update(attributes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.span, name)

    def flush(self) -> None:
        if self.pending and self.span is not None:
            self.span.set_attributes(self.pending)
            self.pending = {}


_MISSING: Any = object()  # an argument neither given nor defaulted


class Arg:
    """One argument of a call, found by name at decoration time: read by position, by
    keyword, else its default (``_MISSING`` when it has none)."""

    __slots__ = ("default", "index", "name")

    def __init__(self, name: str, index: int | None, default: Any) -> None:
        self.name = name
        self.index = index
        self.default = default

    def get(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        index = self.index
        if index is not None and index < len(args):
            return args[index]
        return kwargs.get(self.name, self.default)


class Spec:
    """Everything about a decorated function that can be computed once, at decoration time.

    The hooks that read a span type's arguments (``start_hook``, ``input_hook``) are set by the
    decorator once the Spec knows the signature (:meth:`arg`); ``input_hook`` defaults to the
    span type's (:data:`_INPUT_HOOKS`).
    """

    __slots__ = (
        "capture_input",
        "capture_output",
        "context",
        "guessed_provider",
        "input_hook",
        "name",
        "output_hook",
        "parameters",
        "params",
        "partial_hook",
        "span_type",
        "start_hook",
        "static",
    )

    def __init__(
        self,
        fn: Callable[..., Any] | None,
        name: str,
        span_type: str,
        static: Mapping[str, Any],
        capture_input: bool = True,
        capture_output: bool = True,
        output_hook: OutputHook | None = None,
        context: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        # LLM spans: the arguments that hold the answer's context (None: any that are documents).
        self.context = tuple(context) if context is not None else None
        self.span_type = span_type
        # Scrubbed once here, not per call: the user's own attributes may quote a key or a URL.
        self.static = {
            A.SPAN_TYPE: span_type,
            A.OI_SPAN_KIND: A.OI_KIND_BY_SPAN_TYPE[span_type],
            **{k: scrub_attribute(k, v) for k, v in static.items() if v is not None},
        }
        if fn is not None:
            self.static.setdefault(A.CODE_FUNCTION, getattr(fn, "__qualname__", name))
        self.params: tuple[str, ...] = ()
        self.parameters: Mapping[str, inspect.Parameter] = {}
        if fn is not None:
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):  # builtins and some C callables have none
                sig = None
            if sig is not None:
                self.parameters = sig.parameters
                self.params = tuple(
                    p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                )
                takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
                unknown = [c for c in self.context or () if c not in sig.parameters and not takes_any]
                if unknown:  # a typo here would silently lose the context: say so at decoration
                    raise ValueError(
                        f"context={unknown[0]!r} names no argument of {name}(); "
                        f"its arguments are {list(sig.parameters)}"
                    )
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.output_hook = output_hook or plain_output
        # What a failed stream records of what it yielded: the output hook by default.
        self.partial_hook: OutputHook = self.output_hook
        self.start_hook: StartHook | None = None
        # gen_ai.provider.name was read from the model's name: a client call inside may correct it.
        self.guessed_provider = False
        # By span type, so that tracer.span(kind=...) records what the decorators do.
        self.input_hook: InputHook | None = _INPUT_HOOKS.get(span_type)

    def arg(self, *names: str) -> Arg | None:
        """The first of ``names`` that is a named parameter of the function (not ``*args``/``**kwargs``)."""
        for name in names:
            p = self.parameters.get(name)
            if p is not None and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                index = self.params.index(name) if name in self.params else None
                return Arg(name, index, _MISSING if p.default is p.empty else p.default)
        return None

    def named(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments by name, without ``self``/``cls``.

        Mapping positions onto the names computed at decoration time costs far less than
        ``Signature.bind`` on every call.
        """
        names = self.params
        values: dict[str, Any] = {}
        for i, value in enumerate(args):
            name = names[i] if i < len(names) else f"arg{i}"
            if i == 0 and name in ("self", "cls"):
                continue
            values[name] = value
        values.update(kwargs)
        return values

    def inputs(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """Arguments by name; a lone argument is captured as itself."""
        values = self.named(args, kwargs)
        return next(iter(values.values())) if len(values) == 1 else values

    def start(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Call:
        """Start the span (not yet current). If that fails, a :data:`NULL_CALL` that traces nothing."""
        with guard("span start"):
            s = settings()
            attributes = self.static
            if self.start_hook is not None:
                with guard("argument attributes"):
                    extra = self.start_hook(args, kwargs)
                    if extra:
                        attributes = {**attributes, **extra}
            span = _tracer.start_span(self.name, attributes=attributes)
            if self.guessed_provider:
                _nesting.provider_guessed(span)
            call = Call(span, self, s)
            if s.capture_content and self.capture_input and span.is_recording():
                with guard("input capture"):
                    named = self.named(args, kwargs)
                    value = next(iter(named.values())) if len(named) == 1 else named  # as inputs()
                    batch = AttributeBatch(span)
                    try:
                        encoded = set_content(batch, A.OI_INPUT_VALUE, value, s, A.OI_INPUT_MIME_TYPE)  # type: ignore[arg-type]
                        if self.input_hook is not None:
                            self.input_hook(self, batch, named, value, encoded, s)  # type: ignore[arg-type]
                    finally:
                        batch.flush()
            return call
        return NULL_CALL


class Call(SpanEnd):
    """One running span. ``finish``/``finish_stream``/``fail``/``close`` end it; only the first counts."""

    __slots__ = ("all_text", "count", "ctx", "items", "omitted", "settings", "spec", "text_chars")

    def __init__(self, span: Span, spec: Spec, s: Settings) -> None:
        self.span = span
        self.ended = False
        self.spec = spec
        self.settings = s
        self.ctx = trace.set_span_in_context(span)
        # Streams only (see begin_stream): what was yielded, bounded.
        self.items: list[Any] | None = None
        self.count = 0
        self.all_text = True
        self.text_chars = 0
        self.omitted = 0  # characters of text items past the capture limit, counted, not kept

    # --- making the span current ------------------------------------------------------
    def attach(self) -> object:
        return otel_context.attach(self.ctx)

    @staticmethod
    def detach(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    # --- streams ------------------------------------------------------------------------
    def begin_stream(self) -> None:
        """This call is a generator: its output is what it yields."""
        self.items = []

    def add_item(self, item: Any) -> None:
        """Remember what a traced generator yielded, to record it as the output.

        Text is kept up to the capture limit (a streamed LLM answer has thousands of chunks,
        all of which belong in the output); other items up to ``max_items``.
        """
        self.count += 1
        items = self.items
        s = self.settings
        if items is None or not (s.capture_content and self.spec.capture_output):
            return
        if self.all_text and isinstance(item, str):
            if self.text_chars <= s.max_value_chars:
                items.append(item)
                self.text_chars += len(item)
            else:
                self.omitted += len(item)
            return
        self.all_text = False
        if len(items) < s.max_items:
            items.append(item)

    def _stream_output(self, return_value: Any) -> Any:
        items = self.items or []
        if not self.count:
            return return_value  # yielded nothing: what it returned is all there is
        if self.all_text:
            return "".join(items)
        if self.count > len(items):
            return [*items, f"[spyglass: {self.count - len(items)} more items]"]
        return items

    def _stream_attributes(self, closed_early: bool) -> None:
        self.span.set_attribute(A.STREAM_ITEMS, self.count)
        if closed_early:
            self.span.add_event("spyglass.stream.closed_early")

    # --- ending -------------------------------------------------------------------------
    def finish(self, result: Any = None) -> None:
        if not self._claim():
            return
        try:
            with guard("output capture"):
                self._output(result)
        finally:  # also when the guard re-raises (tests): the span still ends
            self._end()

    def finish_stream(self, return_value: Any = None, *, closed_early: bool = False) -> None:
        """End the span of a generator: its output is what it yielded."""
        if self.ended:
            return
        with guard("stream capture"):
            self._stream_attributes(closed_early)
        self.finish(self._stream_output(return_value))

    def fail(self, exc: BaseException) -> None:
        if not self._claim():
            return
        try:
            if self.items is not None:  # a stream: keep what it yielded before it failed
                with guard("stream capture"):
                    self._stream_attributes(False)
                    if self.count:
                        self._output(self._stream_output(None), self.spec.partial_hook)
        finally:
            self._end(exc)

    def close(self) -> None:
        """End the span without recording an output."""
        if self._claim():
            self._end()

    def _output(self, result: Any, hook: OutputHook | None = None) -> None:
        span = self.span
        if self.spec.capture_output and span.is_recording():
            # The hooks set attributes on call.span: a batch for as long as they run.
            batch = AttributeBatch(span)
            self.span = batch  # type: ignore[assignment]
            try:
                (hook or self.spec.output_hook)(self, result, self.settings)
            finally:
                self.span = span
                batch.flush()


class _NullCall(Call):
    """What :meth:`Spec.start` returns when starting a span failed: the shells run the user's
    code exactly as they would traced, and nothing is recorded or made current."""

    __slots__ = ()

    def __init__(self) -> None:  # no span, no spec: every method below is a no-op
        self.span = trace.INVALID_SPAN
        self.ended = True
        self.items = None
        self.count = 0

    def attach(self) -> object:
        return None

    @staticmethod
    def detach(token: object) -> None:
        return None

    def begin_stream(self) -> None:
        return None

    def add_item(self, item: Any) -> None:
        return None


NULL_CALL: Call = _NullCall()


def plain_output(call: Call, result: Any, s: Settings) -> None:
    if s.capture_content:
        set_content(call.span, A.OI_OUTPUT_VALUE, result, s, A.OI_OUTPUT_MIME_TYPE, call.omitted)


# The output message of an LLM answer, around the answer's JSON string.
_MESSAGE_HEAD = '[{"role":"assistant","parts":[{"type":"text","content":'
_MESSAGE_TAIL = "}]}]"
# Its containers nest 4 deep and hold at most 2 items each, and none of its keys is secret:
# under these limits and the size limit, to_text gives exactly this text, not cut.
_MESSAGE_DEPTH = 4
_MESSAGE_ITEMS = 2


def llm_output(call: Call, result: Any, s: Settings) -> None:
    plain_output(call, result, s)
    if s.capture_content and isinstance(result, str):
        if s.max_depth >= _MESSAGE_DEPTH and s.max_items >= _MESSAGE_ITEMS:
            text = _MESSAGE_HEAD + encode_json_str(result) + _MESSAGE_TAIL
            if len(text) <= s.max_value_chars:
                _set_text(call.span, A.GEN_AI_OUTPUT_MESSAGES, encodable(scrub(text)), s)
                return
        message = [{"role": "assistant", "parts": [{"type": "text", "content": result}]}]
        set_content(call.span, A.GEN_AI_OUTPUT_MESSAGES, message, s)


def retriever_output(call: Call, result: Any, s: Settings) -> None:
    if is_one_shot(result):  # an iterator is the caller's to read: record what it is, not its items
        plain_output(call, result, s)
        return
    span = call.span
    docs = normalize_documents(result, limit=s.max_items)
    span.set_attribute(A.DOCUMENTS_COUNT, len(docs))  # not content: recorded even with capture off
    if not s.capture_content:
        return
    encoded = set_content(span, A.GEN_AI_RETRIEVAL_DOCUMENTS, docs, s)
    set_encoded(span, A.OI_OUTPUT_VALUE, encoded, s, A.OI_OUTPUT_MIME_TYPE)
    for i, doc in enumerate(docs[:MAX_FLAT_DOCUMENTS]):
        span.set_attribute(A.oi_document(i, "id"), doc["id"] or str(i))
        set_content(span, A.oi_document(i, "content"), doc["content"], s)
        if doc["score"] is not None:
            span.set_attribute(A.oi_document(i, "score"), doc["score"])


def tool_span(static: dict[str, Any], tool: str) -> str:
    """An ``execute_tool`` span's attributes (into ``static``, never over ones given) and its
    name, ``execute_tool {gen_ai.tool.name}``: for decorated tools and ``span(kind="tool")``."""
    static.setdefault(A.GEN_AI_OPERATION_NAME, A.OP_EXECUTE_TOOL)
    static.setdefault(A.GEN_AI_TOOL_NAME, tool)
    static.setdefault(A.GEN_AI_TOOL_TYPE, A.TOOL_TYPE_FUNCTION)
    return f"{A.OP_EXECUTE_TOOL} {static[A.GEN_AI_TOOL_NAME]}"


def tool_output(call: Call, result: Any, s: Settings) -> None:
    """``output.value``, and the same text as ``gen_ai.tool.call.result`` (a result only when
    the tool returned one: a failed stream's partial output goes through :func:`plain_output`)."""
    if s.capture_content:
        encoded = set_content(call.span, A.OI_OUTPUT_VALUE, result, s, A.OI_OUTPUT_MIME_TYPE, call.omitted)
        if result is not None:
            set_encoded(call.span, A.GEN_AI_TOOL_CALL_RESULT, encoded, s)


# --- what the arguments of a call map to (input hooks, start hooks) --------------------------
def llm_input(spec: Spec, span: Span, named: dict[str, Any], value: Any, encoded: Encoded, s: Settings) -> None:
    """The arguments holding the answer's context, and chat messages as ``gen_ai.input.messages``.

    System messages stay in the messages: the conventions keep ``gen_ai.system_instructions``
    for instructions given apart from the chat history."""
    context = context_arguments(named, spec.context)
    if context:
        # One string, not a tuple: the SDK checks a sequence item by item (2 µs).
        span.set_attribute(A.CONTEXT_ARGUMENTS, A.CONTEXT_WHOLE_INPUT if value is not named else ",".join(context))
    for candidate in named.values():
        if _is_chat(candidate):
            set_content(span, A.GEN_AI_INPUT_MESSAGES, chat_messages([_message(m) for m in candidate]), s)
            return


def _is_chat(value: Any) -> bool:
    """A list of chat messages: dicts or objects (pydantic, the openai client's) with a ``role``."""
    if type(value) is not list or not value:
        return False
    return all(isinstance(m.get("role") if isinstance(m, Mapping) else getattr(m, "role", None), str) for m in value)


def _message(message: Any) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return message
    dump = getattr(message, "model_dump", None)  # pydantic models, the openai client's messages
    if callable(dump):
        dumped = dump(exclude_none=True)
        if isinstance(dumped, Mapping):
            return dumped
    return {
        k: getattr(message, k) for k in ("role", "content", "name", "tool_calls", "tool_call_id") if hasattr(message, k)
    }


# Arguments a retriever's query is taken from, in this order; else its only string argument.
QUERY_ARGUMENTS = ("query", "question", "q", "text")


def retriever_input(spec: Spec, span: Span, named: dict[str, Any], value: Any, encoded: Encoded, s: Settings) -> None:
    """``gen_ai.retrieval.query.text``: the query argument (the same text as ``input.value``
    when it is the only argument, encoded once)."""
    query = next((v for v in map(named.get, QUERY_ARGUMENTS) if isinstance(v, str)), None)
    if query is None:
        strings = [v for v in named.values() if isinstance(v, str)]
        if len(strings) != 1:
            return
        query = strings[0]
    if query is value:
        set_encoded(span, A.GEN_AI_RETRIEVAL_QUERY_TEXT, encoded, s)
    else:
        set_content(span, A.GEN_AI_RETRIEVAL_QUERY_TEXT, query, s)


def top_k_start(top_k: Arg) -> StartHook:
    """``gen_ai.retrieval.top_k`` from the argument ``top_k`` (given or defaulted), when an int."""

    def start(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        value = top_k.get(args, kwargs)
        return {A.GEN_AI_RETRIEVAL_TOP_K: value} if type(value) is int else None

    return start


def tool_call_id_start(call_id: Arg) -> StartHook:
    """``gen_ai.tool.call.id`` from the argument ``call_id`` (a string or an int)."""

    def start(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        value = call_id.get(args, kwargs)
        if (type(value) is str and value) or type(value) is int:
            return {A.GEN_AI_TOOL_CALL_ID: str(value)}
        return None

    return start


def tool_input(call_id: Arg | None) -> InputHook:
    """``gen_ai.tool.call.arguments``: the arguments by name, an object as the conventions
    expect, without the one holding the call id (the model did not write it)."""
    skip = call_id.name if call_id is not None else None

    def hook(spec: Spec, span: Span, named: dict[str, Any], value: Any, encoded: Encoded, s: Settings) -> None:
        if skip is not None and skip in named:
            arguments = {k: v for k, v in named.items() if k != skip}
        elif value is named:  # two arguments or more: the same text as input.value
            set_encoded(span, A.GEN_AI_TOOL_CALL_ARGUMENTS, encoded, s)
            return
        else:
            arguments = named
        set_content(span, A.GEN_AI_TOOL_CALL_ARGUMENTS, arguments, s)

    return hook


_INPUT_HOOKS: dict[str, InputHook] = {A.SPAN_TYPE_LLM: llm_input, A.SPAN_TYPE_RETRIEVER: retriever_input}
