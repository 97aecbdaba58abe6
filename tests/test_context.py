"""The current span across ``await``, ``asyncio.gather`` and threads, and trace-level
attributes (session, user, tags, metadata, prompt version)."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import tracer
from tracer import attributes as A

N = 100


@tracer.trace_step
async def child(i: int) -> int:
    await asyncio.sleep(0)  # let the other 99 interleave
    return await grandchild(i)


@tracer.trace_step
async def grandchild(i: int) -> int:
    await asyncio.sleep(0)
    return i


@tracer.trace_step
async def tree(i: int) -> int:
    await asyncio.sleep(0)
    return await child(i)


def _by_input(spans, name: str) -> dict[str, object]:
    return {s.attributes[A.OI_INPUT_VALUE]: s for s in spans.named(name)}


async def test_gather_makes_separate_trees(spans) -> None:
    assert await asyncio.gather(*(tree(i) for i in range(N))) == list(range(N))

    roots, children, grandchildren = (_by_input(spans, n) for n in ("tree", "child", "grandchild"))
    assert len(roots) == len(children) == len(grandchildren) == N
    assert len({s.context.trace_id for s in roots.values()}) == N
    for i, root in roots.items():
        assert root.parent is None
        assert children[i].parent.span_id == root.context.span_id
        assert grandchildren[i].parent.span_id == children[i].context.span_id
        assert children[i].context.trace_id == grandchildren[i].context.trace_id == root.context.trace_id


async def test_gather_under_one_parent(spans) -> None:
    @tracer.trace_step
    async def fan_out() -> list[int]:
        return await asyncio.gather(*(child(i) for i in range(N)))

    assert await fan_out() == list(range(N))
    parent = spans.one("fan_out")
    children, grandchildren = _by_input(spans, "child"), _by_input(spans, "grandchild")
    assert len(children) == N
    for i, c in children.items():
        assert c.parent.span_id == parent.context.span_id
        assert grandchildren[i].parent.span_id == c.context.span_id  # under its own child, not a sibling's


async def test_tasks_created_inside_a_span_are_its_children(spans) -> None:
    @tracer.trace_step
    async def spawn() -> int:
        task = asyncio.create_task(grandchild(7))
        return await task

    assert await spawn() == 7
    assert spans.one("grandchild").parent.span_id == spans.one("spawn").context.span_id


# --- threads ---------------------------------------------------------------------------------


@tracer.trace_step
def work(i: int) -> int:
    return i * 2


def test_with_context_keeps_the_parent_in_a_thread_pool(spans) -> None:
    @tracer.trace_step
    def parent() -> list[int]:
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(tracer.with_context(work), range(8)))

    assert parent() == [i * 2 for i in range(8)]
    p = spans.one("parent")
    workers = spans.named("work")
    assert len(workers) == 8
    assert all(w.parent.span_id == p.context.span_id for w in workers)


def test_context_thread_pool_executor_keeps_the_parent(spans) -> None:
    @tracer.trace_step
    def parent() -> list[int]:
        with tracer.ContextThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(work, i) for i in range(4)]
            mapped = list(pool.map(work, range(4, 8)))  # map() goes through submit()
            return [f.result() for f in futures] + mapped

    assert parent() == [i * 2 for i in range(8)]
    p = spans.one("parent")
    assert [w.parent.span_id for w in spans.named("work")] == [p.context.span_id] * 8


def test_without_the_helper_a_thread_starts_a_new_trace(spans) -> None:
    """Why with_context exists: threads do not inherit contextvars, so the span is lost."""

    @tracer.trace_step
    def parent() -> int:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(work, 1).result()

    parent()
    p, w = spans.one("parent"), spans.one("work")
    assert w.parent is None
    assert w.context.trace_id != p.context.trace_id


def test_with_context_wrapped_function_can_run_concurrently(spans) -> None:
    barrier = threading.Barrier(4)

    def waits(i: int) -> int:
        barrier.wait(timeout=5)  # all four inside the same captured context at once
        return work(i)

    @tracer.trace_step
    def parent() -> list[int]:
        bound = tracer.with_context(waits)
        threads_out: list[int] = []
        threads = [threading.Thread(target=lambda i=i: threads_out.append(bound(i))) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        return sorted(threads_out)

    assert parent() == [0, 2, 4, 6]
    p = spans.one("parent")
    assert all(w.parent.span_id == p.context.span_id for w in spans.named("work"))


# --- trace-level attributes -----------------------------------------------------------------


def test_trace_attributes_reach_every_span_including_threads(spans) -> None:
    @tracer.trace_step
    def pipeline() -> None:
        work(0)
        with tracer.ContextThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(work, 1).result()
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(tracer.with_context(work), 2).result()

    with tracer.trace_attributes(
        session_id="s-1",
        user_id="u-1",
        tags=["beta", "eu"],
        metadata={"tenant": "acme", "n": 3},
        prompt_version="qa-v3",
    ):
        pipeline()

    assert len(spans) == 4
    for span in spans:
        a = dict(span.attributes)
        assert a[A.SESSION_ID] == "s-1"
        assert a[A.GEN_AI_CONVERSATION_ID] == "s-1"
        assert a[A.USER_ID] == "u-1"
        assert a[A.TAGS] == ("beta", "eu")
        assert a[A.OI_TAGS] == ("beta", "eu")
        assert json.loads(a[A.METADATA]) == {"tenant": "acme", "n": 3}
        assert a[A.PROMPT_VERSION] == "qa-v3"


def test_trace_attributes_stop_at_the_end_of_the_block(spans) -> None:
    with tracer.trace_attributes(session_id="s-1"):
        work(1)
    work(2)
    inside, outside = spans.named("work")
    assert inside.attributes[A.SESSION_ID] == "s-1"
    assert A.SESSION_ID not in outside.attributes


def test_nested_trace_attributes_merge(spans) -> None:
    with tracer.trace_attributes(
        session_id="outer", user_id="u", tags=["a", "b"], metadata={"x": 1, "y": 1}, prompt_version="v1"
    ):
        with tracer.trace_attributes(session_id="inner", tags=["b", "c"], metadata={"y": 2}) as merged:
            work(1)
        work(2)

    assert merged.session_id == "inner"
    inner, outer = spans.named("work")
    a = dict(inner.attributes)
    assert a[A.SESSION_ID] == "inner"  # inner wins
    assert a[A.USER_ID] == "u"  # outer kept where inner says nothing
    assert a[A.TAGS] == ("a", "b", "c")  # tags accumulate, once each
    assert json.loads(a[A.METADATA]) == {"x": 1, "y": 2}
    assert a[A.PROMPT_VERSION] == "v1"
    assert outer.attributes[A.SESSION_ID] == "outer"
    assert outer.attributes[A.TAGS] == ("a", "b")


async def test_trace_attributes_follow_await_and_gather(spans) -> None:
    with tracer.trace_attributes(user_id="async-user"):
        await asyncio.gather(*(tree(i) for i in range(3)))
    assert len(spans) == 9
    assert {s.attributes[A.USER_ID] for s in spans} == {"async-user"}


def test_trace_metadata_is_serialised_safely(spans) -> None:
    cyclic: dict[str, object] = {"name": "loop"}
    cyclic["self"] = cyclic
    with tracer.trace_attributes(
        metadata={"api_key": "hunter2", "cfg": cyclic, "token": "Bearer abcdefghij0123456789"}
    ):
        work(1)
    text = spans.one("work").attributes[A.METADATA]
    assert "hunter2" not in text and "abcdefghij0123456789" not in text
    assert json.loads(text)["api_key"] == "[REDACTED]"


def test_trace_attributes_are_computed_once_per_block() -> None:
    with tracer.trace_attributes(metadata={"k": "v"}) as attrs:
        first = attrs.as_span_attributes()
        assert attrs.as_span_attributes() is first


def test_trace_attributes_ignore_empty_values(spans) -> None:
    with tracer.trace_attributes(session_id=None, tags=()):
        work(1)
    assert A.SESSION_ID not in spans.one("work").attributes
