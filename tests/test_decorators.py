"""The decorators and ``tracer.span()``: every calling convention, what they preserve of the
function they wrap, how errors are recorded, and parent/child links."""

from __future__ import annotations

import inspect
import json
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

import tracer
from tracer import attributes as A

DECORATORS = {
    "llm": tracer.trace_llm,
    "retriever": tracer.trace_retriever,
    "postprocess": tracer.trace_postprocess,
    "step": tracer.trace_step,
}
# Each decorator bare (``@trace_llm``) and called (``@trace_llm(...)``).
FORMS = {
    "bare": lambda deco: deco,
    "called": lambda deco: deco(attributes={"app.custom": "yes"}),
}


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def make(kind: str) -> Callable[..., Any]:
    """An undecorated function of each calling convention, returning/yielding its argument."""
    if kind == "sync":

        def work(x: str) -> str:
            """Doc of work."""
            return x
    elif kind == "async":

        async def work(x: str) -> str:
            """Doc of work."""
            return x
    elif kind == "gen":

        def work(x: str):  # type: ignore[misc]
            """Doc of work."""
            yield x
    else:

        async def work(x: str):  # type: ignore[misc]
            """Doc of work."""
            yield x

    return work


async def call(fn: Callable[..., Any], kind: str, *args: Any) -> Any:
    if kind == "sync":
        return fn(*args)
    if kind == "async":
        return await fn(*args)
    if kind == "gen":
        return list(fn(*args))
    return [item async for item in fn(*args)]


PREDICATES = (inspect.iscoroutinefunction, inspect.isgeneratorfunction, inspect.isasyncgenfunction)


# --- every decorator, every form, every calling convention --------------------------------


@pytest.mark.parametrize("kind", ["sync", "async", "gen", "asyncgen"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("deco_name", DECORATORS)
async def test_decorator_matrix(spans, deco_name: str, form: str, kind: str) -> None:
    original = make(kind)
    traced = FORMS[form](DECORATORS[deco_name])(original)

    # What the wrapper preserves.
    assert traced.__name__ == "work"
    assert traced.__doc__ == "Doc of work."
    assert inspect.signature(traced) == inspect.signature(original)
    assert [p(traced) for p in PREDICATES] == [p(original) for p in PREDICATES]

    result = await call(traced, kind, "hello")
    assert result == (["hello"] if kind in ("gen", "asyncgen") else "hello")

    span = spans.one("work")
    a = attrs(span)
    assert a[A.SPAN_TYPE] == deco_name
    assert a[A.OI_SPAN_KIND] == A.OI_KIND_BY_SPAN_TYPE[deco_name]
    assert a[A.OI_INPUT_VALUE] == "hello"
    assert A.OI_OUTPUT_VALUE in a
    assert span.status.status_code is StatusCode.UNSET
    if form == "called":
        assert a["app.custom"] == "yes"
    if kind in ("gen", "asyncgen"):
        assert a[A.STREAM_ITEMS] == 1


def test_trace_llm_names_the_span_after_the_function_and_keeps_the_model_in_attributes(spans) -> None:
    @tracer.trace_llm(model="gpt-4o-mini", provider="openai", prompt_version="qa-v3")
    def answer(question: str) -> str:
        return "Paris."

    assert answer("capital?") == "Paris."
    a = attrs(spans.one("answer"))
    assert a[A.GEN_AI_OPERATION_NAME] == A.OP_CHAT
    assert a[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[A.PROMPT_VERSION] == "qa-v3"
    assert a[A.OI_LLM_MODEL_NAME] == "gpt-4o-mini"


@pytest.mark.parametrize("deco", [tracer.trace_llm, tracer.trace_step])
def test_name_option_overrides_the_span_name(spans, deco) -> None:
    @deco(name="custom name")
    def work() -> int:
        return 1

    work()
    assert spans.one("custom name")


def test_positional_option_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="keyword-only"):
        tracer.trace_llm("gpt-4o")  # type: ignore[arg-type]


def test_trace_step_kind_tool_records_the_tool_name(spans) -> None:
    @tracer.trace_step(kind="tool")
    def lookup_weather(city: str) -> str:
        return "sunny"

    lookup_weather("Paris")
    a = attrs(spans.one("execute_tool lookup_weather"))
    assert a[A.SPAN_TYPE] == "tool"
    assert a[A.GEN_AI_OPERATION_NAME] == A.OP_EXECUTE_TOOL
    assert a[A.GEN_AI_TOOL_NAME] == "lookup_weather"
    with pytest.raises(ValueError, match="unknown span kind"):
        tracer.trace_step(kind="nope")


def test_nested_function_span_name_drops_locals(spans) -> None:
    def outer() -> Callable[[], int]:
        @tracer.trace_step
        def inner() -> int:
            return 1

        return inner

    outer()()
    assert [s.name for s in spans] == ["inner"]


# --- methods --------------------------------------------------------------------------


class Service:
    def __init__(self) -> None:
        self.calls = 0

    @tracer.trace_step
    def method(self, x: int) -> int:
        self.calls += 1
        return x * 2

    @tracer.trace_step
    async def amethod(self, x: int) -> int:
        return x * 3

    @tracer.trace_step  # traced above the descriptor
    @classmethod
    def cls_outer(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @classmethod  # descriptor above the traced function
    @tracer.trace_step
    def cls_inner(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @tracer.trace_llm(model="m")
    @classmethod
    async def cls_async(cls, x: int) -> str:
        return f"{cls.__name__}:{x}"

    @tracer.trace_step
    @staticmethod
    def static_outer(x: int) -> int:
        return x + 1

    @staticmethod
    @tracer.trace_step
    def static_inner(x: int) -> int:
        return x + 1

    @tracer.trace_step
    def method_gen(self, n: int):
        yield from range(n)


class SubService(Service):
    pass


async def test_instance_methods_skip_self_in_the_input(spans) -> None:
    service = Service()
    assert service.method(21) == 42
    assert service.calls == 1
    assert await service.amethod(2) == 6
    assert list(service.method_gen(3)) == [0, 1, 2]
    for name in ("Service.method", "Service.amethod", "Service.method_gen"):
        assert attrs(spans.one(name))[A.OI_INPUT_VALUE] in ("21", "2", "3")
    assert inspect.iscoroutinefunction(Service.amethod)
    assert inspect.isgeneratorfunction(Service.method_gen)


@pytest.mark.parametrize("name", ["cls_outer", "cls_inner"])
def test_classmethod_in_either_order(spans, name: str) -> None:
    assert getattr(Service, name)(1) == "Service:1"
    assert getattr(Service(), name)(2) == "Service:2"
    assert getattr(SubService, name)(3) == "SubService:3"  # cls is still the class it was called on
    found = spans.named(f"Service.{name}")
    assert len(found) == 3
    assert [attrs(s)[A.OI_INPUT_VALUE] for s in found] == ["1", "2", "3"]  # cls is not captured
    assert str(inspect.signature(getattr(Service, name))) == "(x: 'int') -> 'str'"


async def test_async_classmethod_traced_above_the_descriptor(spans) -> None:
    assert await Service.cls_async(4) == "Service:4"
    assert inspect.iscoroutinefunction(Service.cls_async)
    assert attrs(spans.one("Service.cls_async"))[A.OI_INPUT_VALUE] == "4"


@pytest.mark.parametrize("name", ["static_outer", "static_inner"])
def test_staticmethod_in_either_order(spans, name: str) -> None:
    assert getattr(Service, name)(1) == 2
    assert getattr(Service(), name)(2) == 3  # no self slipped in
    found = spans.named(f"Service.{name}")
    assert [attrs(s)[A.OI_INPUT_VALUE] for s in found] == ["1", "2"]
    assert str(inspect.signature(getattr(Service, name))) == "(x: 'int') -> 'int'"


# --- what a traced call gives back ------------------------------------------------------


async def test_return_values_are_the_same_objects(spans) -> None:
    marker = object()

    @tracer.trace_step
    def plain() -> object:
        return marker

    @tracer.trace_step
    async def coro() -> object:
        return marker

    @tracer.trace_step
    def gen():
        yield marker
        return marker

    @tracer.trace_step
    async def agen():
        yield marker

    assert plain() is marker
    assert await coro() is marker
    it = gen()
    assert next(it) is marker
    with pytest.raises(StopIteration) as stop:
        next(it)
    assert stop.value.value is marker  # a generator's return value survives too
    (item,) = [x async for x in agen()]
    assert item is marker


def test_keyword_only_and_varargs_are_captured_by_name(spans) -> None:
    @tracer.trace_step
    def work(a: int, *rest: int, flag: bool = False, **extra: Any) -> int:
        return a

    work(1, 2, 3, flag=True, other="x")
    assert json.loads(attrs(spans.one("work"))[A.OI_INPUT_VALUE]) == {
        "a": 1,
        "arg1": 2,
        "arg2": 3,
        "flag": True,
        "other": "x",
    }


# --- errors -------------------------------------------------------------------------------


class Boom(Exception):
    pass


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def _raising(kind: str, exc: BaseException) -> Callable[..., Any]:
    if kind == "sync":

        def user_fn() -> None:
            raise exc
    elif kind == "async":

        async def user_fn() -> None:
            raise exc
    elif kind == "gen":

        def user_fn():  # type: ignore[misc]
            yield "partial"
            raise exc
    else:

        async def user_fn():  # type: ignore[misc]
            yield "partial"
            raise exc

    return user_fn


@pytest.mark.parametrize("kind", ["sync", "async", "gen", "asyncgen"])
@pytest.mark.parametrize("deco_name", DECORATORS)
async def test_exceptions_pass_through_unchanged_and_are_recorded(spans, deco_name: str, kind: str) -> None:
    error = Boom("it broke")
    traced = DECORATORS[deco_name](_raising(kind, error))

    with pytest.raises(Boom) as info:
        await call(traced, kind)

    assert info.value is error
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "user_fn" in frames  # the user's own frame is still in the traceback
    span = spans.one("user_fn")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Boom: it broke"
    a = attrs(span)
    assert a[A.ERROR_TYPE] == "Boom"
    [event] = [e for e in span.events if e.name == A.EXCEPTION_EVENT]
    assert event.attributes[A.EXCEPTION_TYPE].endswith("Boom")
    assert event.attributes[A.EXCEPTION_MESSAGE] == "it broke"
    assert "user_fn" in event.attributes[A.EXCEPTION_STACKTRACE]
    if kind in ("gen", "asyncgen"):  # what it yielded before failing is kept
        assert a[A.STREAM_ITEMS] == 1
        assert "partial" in a[A.OI_OUTPUT_VALUE]


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_pass_through(spans, exc_type: type[BaseException]) -> None:
    @tracer.trace_step
    def work() -> None:
        raise exc_type()

    with pytest.raises(exc_type):
        work()
    assert spans.one("work").status.status_code is StatusCode.ERROR


def test_exception_whose_str_raises_is_still_recorded(spans) -> None:
    @tracer.trace_step
    def work() -> None:
        raise UnprintableError()

    with pytest.raises(UnprintableError):
        work()
    span = spans.one("work")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[A.ERROR_TYPE] == "UnprintableError"
    assert [e.name for e in span.events] == [A.EXCEPTION_EVENT]


def test_exception_text_is_scrubbed_of_secrets(spans) -> None:
    key = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2

    @tracer.trace_llm
    def work() -> None:
        raise PermissionError(f"Incorrect API key provided: {key}")

    with pytest.raises(PermissionError, match="Incorrect API key"):
        work()
    span = spans.one("work")
    [event] = span.events
    for text in (span.status.description, *event.attributes.values()):
        assert key not in str(text)


# --- parents and children ------------------------------------------------------------------


def test_nested_spans_link_to_their_parent(spans) -> None:
    @tracer.trace_retriever
    def search(q: str) -> list[str]:
        return ["doc"]

    @tracer.trace_llm
    def answer(q: str, docs: list[str]) -> str:
        with tracer.span("format prompt"):
            pass
        return "answer"

    @tracer.trace_step
    def pipeline(q: str) -> str:
        return answer(q, search(q))

    pipeline("q")
    root = spans.one("pipeline")
    search_span, answer_span, fmt = spans.one("search"), spans.one("answer"), spans.one("format prompt")
    assert root.parent is None
    assert spans.roots() == [root]
    assert search_span.parent.span_id == root.context.span_id
    assert answer_span.parent.span_id == root.context.span_id  # siblings share their parent
    assert fmt.parent.span_id == answer_span.context.span_id
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert spans.children(root) == [search_span, answer_span]


def test_consecutive_top_level_calls_are_separate_traces(spans) -> None:
    @tracer.trace_step
    def work() -> None:
        return None

    work()
    work()
    first, second = spans.named("work")
    assert first.parent is None and second.parent is None
    assert first.context.trace_id != second.context.trace_id


def test_context_is_restored_after_a_call_and_after_an_error(spans) -> None:
    from opentelemetry import trace

    before = trace.get_current_span()

    @tracer.trace_step
    def fails() -> None:
        raise Boom()

    @tracer.trace_step
    def works() -> None:
        return None

    with pytest.raises(Boom):
        fails()
    works()
    assert trace.get_current_span() is before
    assert spans.one("works").parent is None  # not a child of the failed call


# --- tracer.span() -------------------------------------------------------------------------


def test_span_context_manager_without_arguments(spans) -> None:
    with tracer.span("plain") as s:
        assert s.otel_span.is_recording()
    a = attrs(spans.one("plain"))
    assert a[A.SPAN_TYPE] == "step"
    assert A.OI_INPUT_VALUE not in a  # no input given: none recorded
    assert A.OI_OUTPUT_VALUE not in a


def test_span_context_manager_with_arguments(spans) -> None:
    with tracer.span("fetch", kind="retriever", input="capital of France", attributes={"app.k": 1}) as s:
        s.set_attribute("app.extra", "x")
        s.set_output([{"id": "d1", "content": "Paris", "score": 0.5}])
    a = attrs(spans.one("fetch"))
    assert a[A.SPAN_TYPE] == "retriever"
    assert a[A.OI_INPUT_VALUE] == "capital of France"
    assert a[A.GEN_AI_RETRIEVAL_QUERY_TEXT] == "capital of France"
    assert a["app.k"] == 1 and a["app.extra"] == "x"
    assert json.loads(a[A.GEN_AI_RETRIEVAL_DOCUMENTS])[0]["id"] == "d1"


def test_span_set_input_later(spans) -> None:
    with tracer.span("step") as s:
        s.set_input({"q": 1})
    assert json.loads(attrs(spans.one("step"))[A.OI_INPUT_VALUE]) == {"q": 1}


async def test_span_as_async_context_manager(spans) -> None:
    async with tracer.span("outer") as s:
        with tracer.span("inner"):
            pass
        s.set_output("done")
    outer, inner = spans.one("outer"), spans.one("inner")
    assert inner.parent.span_id == outer.context.span_id
    assert attrs(outer)[A.OI_OUTPUT_VALUE] == "done"


def test_span_records_the_error_and_reraises(spans) -> None:
    error = Boom("x")
    with pytest.raises(Boom) as info, tracer.span("failing"):
        raise error
    assert info.value is error
    assert spans.one("failing").status.status_code is StatusCode.ERROR


def test_span_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown span kind"):
        tracer.span("x", kind="banana")


# --- names of attributes -------------------------------------------------------------------


def test_semconv_and_openinference_names(spans) -> None:
    @tracer.trace_llm(model="gpt-4o")
    def answer(question: str) -> str:
        tracer.record_usage(input_tokens=12, output_tokens=3, model="gpt-4o-2024-08-06", cost_usd=0.001)
        return "Paris."

    answer("capital?")
    a = attrs(spans.one("answer"))
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-4o"
    assert a["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert a["gen_ai.usage.input_tokens"] == 12
    assert a["gen_ai.usage.output_tokens"] == 3
    assert a["llm.token_count.total"] == 15
    assert a["spyglass.cost.usd"] == 0.001
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Paris."}]}
    ]
    assert a["openinference.span.kind"] == "LLM"
    assert a["input.value"] == "capital?"
    assert a["input.mime_type"] == "text/plain"
    assert a["output.value"] == "Paris."
    assert a["output.mime_type"] == "text/plain"


def test_record_usage_outside_a_span_is_a_no_op(spans) -> None:
    tracer.record_usage(input_tokens=1, output_tokens=1)
    assert len(spans) == 0


# --- generators ------------------------------------------------------------------------------


def test_generator_output_is_what_it_yielded(spans) -> None:
    @tracer.trace_llm
    def stream():
        yield "Par"
        yield "is."

    @tracer.trace_step
    def numbers():
        yield 1
        yield {"two": 2}
        return "ignored: the items are the output"

    assert "".join(stream()) == "Paris."
    assert list(numbers()) == [1, {"two": 2}]
    a = attrs(spans.one("stream"))
    assert a[A.OI_OUTPUT_VALUE] == "Paris."  # text chunks are joined
    assert a[A.STREAM_ITEMS] == 2
    assert json.loads(a[A.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "Paris."
    n = attrs(spans.one("numbers"))
    assert json.loads(n[A.OI_OUTPUT_VALUE]) == [1, {"two": 2}]


def test_generator_that_yields_nothing_records_its_return_value(spans) -> None:
    @tracer.trace_step
    def empty():
        return "only this"
        yield  # pragma: no cover

    assert list(empty()) == []
    a = attrs(spans.one("empty"))
    assert a[A.STREAM_ITEMS] == 0
    assert a[A.OI_OUTPUT_VALUE] == "only this"


def test_long_text_stream_is_recorded_whole(spans) -> None:
    @tracer.trace_llm
    def stream():
        for i in range(3000):  # an LLM answer streams one token at a time
            yield f"{i} "

    text = "".join(stream())
    a = attrs(spans.one("stream"))
    assert a[A.STREAM_ITEMS] == 3000
    assert a[A.OI_OUTPUT_VALUE] == text


def test_text_stream_past_the_limit_is_cut_with_an_exact_count(spans, use_settings) -> None:
    use_settings(max_value_chars=100)

    @tracer.trace_llm
    def stream():
        for _ in range(1000):
            yield "abcd"

    assert len("".join(stream())) == 4000
    a = attrs(spans.one("stream"))
    assert a[A.OI_OUTPUT_VALUE] == "abcd" * 25 + "…[spyglass: truncated 3900 chars]"
    assert A.OI_OUTPUT_VALUE in a[A.TRUNCATED]


def test_generator_send_reaches_the_body(spans) -> None:
    @tracer.trace_step
    def echo():
        received = []
        value = yield "ready"
        while value is not None:
            received.append(value)
            value = yield f"got {value}"
        return received

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("a") == "got a"
    assert gen.send("b") == "got b"
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    assert stop.value.value == ["a", "b"]
    assert attrs(spans.one("echo"))[A.STREAM_ITEMS] == 3


def _counting_gen(log: list[str]):
    @tracer.trace_step
    def gen():
        try:
            for i in range(10):
                yield str(i)
        finally:
            log.append("finally ran")

    return gen


def test_generator_close_ends_the_span_once(spans) -> None:
    log: list[str] = []
    gen = _counting_gen(log)()
    assert next(gen) == "0"
    assert next(gen) == "1"
    assert len(spans) == 0  # still running
    gen.close()
    gen.close()  # a second close is a no-op
    assert log == ["finally ran"]
    span = spans.one("gen")
    a = attrs(span)
    assert a[A.STREAM_ITEMS] == 2
    assert a[A.OI_OUTPUT_VALUE] == "01"
    assert [e.name for e in span.events] == ["spyglass.stream.closed_early"]
    assert span.status.status_code is StatusCode.UNSET


def test_generator_break_then_garbage_collection_ends_the_span(spans) -> None:
    import gc

    log: list[str] = []
    gen = _counting_gen(log)()
    for item in gen:
        if item == "2":
            break
    assert len(spans) == 0
    del gen
    gc.collect()
    assert log == ["finally ran"]
    assert attrs(spans.one("gen"))[A.STREAM_ITEMS] == 3


def test_generator_throw_uncaught_fails_the_span(spans) -> None:
    log: list[str] = []
    gen = _counting_gen(log)()
    next(gen)
    error = Boom("thrown in")
    with pytest.raises(Boom) as info:
        gen.throw(error)
    assert info.value is error
    assert log == ["finally ran"]
    span = spans.one("gen")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[A.ERROR_TYPE] == "Boom"


def test_generator_throw_handled_by_the_body_keeps_going(spans) -> None:
    @tracer.trace_step
    def resilient():
        for i in range(3):
            try:
                yield i
            except Boom:
                yield "recovered"

    gen = resilient()
    assert next(gen) == 0
    assert gen.throw(Boom()) == "recovered"
    assert list(gen) == [1, 2]
    span = spans.one("resilient")
    assert span.status.status_code is StatusCode.UNSET
    assert attrs(span)[A.STREAM_ITEMS] == 4


def test_generator_ignoring_generator_exit_fails_the_span(spans) -> None:
    @tracer.trace_step
    def stubborn():
        try:
            yield 1
        except GeneratorExit:
            yield "not closing"

    gen = stubborn()
    next(gen)
    with pytest.raises(RuntimeError, match="ignored GeneratorExit"):
        gen.close()
    assert spans.one("stubborn").status.status_code is StatusCode.ERROR


def test_generator_is_current_only_while_its_body_runs(spans) -> None:
    @tracer.trace_step
    def producer():
        for i in range(2):
            with tracer.span(f"inside {i}"):
                pass
            yield i

    @tracer.trace_step
    def consumer() -> None:
        for i in producer():
            with tracer.span(f"between {i}"):  # the consumer's own work, between two items
                pass

    consumer()
    consumer_span, producer_span = spans.one("consumer"), spans.one("producer")
    assert producer_span.parent.span_id == consumer_span.context.span_id
    for i in range(2):
        assert spans.one(f"inside {i}").parent.span_id == producer_span.context.span_id
        assert spans.one(f"between {i}").parent.span_id == consumer_span.context.span_id


def test_generator_with_bad_arguments_leaves_no_span_open(spans) -> None:
    @tracer.trace_step
    def gen(x: int):
        yield x

    it = gen(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        next(it)
    # the `spans` fixture fails the test if a span was started and never ended
    assert len(spans) == 0


def test_unstarted_generator_makes_no_span(spans) -> None:
    @tracer.trace_step
    def gen():
        yield 1

    it = gen()
    it.close()
    assert len(spans) == 0


# --- async generators ------------------------------------------------------------------------


def _counting_agen(log: list[str]):
    @tracer.trace_step
    async def agen():
        try:
            for i in range(10):
                yield str(i)
        finally:
            log.append("finally ran")

    return agen


async def test_async_generator_asend(spans) -> None:
    @tracer.trace_step
    async def echo():
        value = yield "ready"
        while value is not None:
            value = yield f"got {value}"

    gen = echo()
    assert await gen.asend(None) == "ready"
    assert await gen.asend("a") == "got a"
    with pytest.raises(StopAsyncIteration):
        await gen.asend(None)
    a = attrs(spans.one("echo"))
    assert a[A.STREAM_ITEMS] == 2
    assert a[A.OI_OUTPUT_VALUE] == "readygot a"


async def test_async_generator_aclose_ends_the_span_once(spans) -> None:
    log: list[str] = []
    gen = _counting_agen(log)()
    assert await gen.__anext__() == "0"
    await gen.aclose()
    await gen.aclose()
    assert log == ["finally ran"]
    span = spans.one("agen")
    assert attrs(span)[A.STREAM_ITEMS] == 1
    assert [e.name for e in span.events] == ["spyglass.stream.closed_early"]


async def test_async_generator_athrow(spans) -> None:
    log: list[str] = []
    gen = _counting_agen(log)()
    await gen.__anext__()
    error = Boom("async thrown")
    with pytest.raises(Boom) as info:
        await gen.athrow(error)
    assert info.value is error
    assert log == ["finally ran"]
    assert spans.one("agen").status.status_code is StatusCode.ERROR


async def test_async_generator_break_then_garbage_collection(spans) -> None:
    import asyncio
    import gc

    log: list[str] = []
    gen = _counting_agen(log)()
    async for item in gen:
        if item == "1":
            break
    del gen
    gc.collect()  # asyncio's finalizer hook schedules aclose() on the loop
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == ["finally ran"]
    assert attrs(spans.one("agen"))[A.STREAM_ITEMS] == 2


async def test_async_generator_is_current_only_while_its_body_runs(spans) -> None:
    @tracer.trace_step
    async def producer():
        for i in range(2):
            with tracer.span(f"inside {i}"):
                pass
            yield i

    @tracer.trace_step
    async def consumer() -> None:
        async for i in producer():
            with tracer.span(f"between {i}"):
                pass

    await consumer()
    consumer_span, producer_span = spans.one("consumer"), spans.one("producer")
    for i in range(2):
        assert spans.one(f"inside {i}").parent.span_id == producer_span.context.span_id
        assert spans.one(f"between {i}").parent.span_id == consumer_span.context.span_id
