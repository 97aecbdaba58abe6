"""Per-invoke overhead of the LangChain instrumentations (callback path), Spyglass's and
OpenInference's, in one run.

    python bench/bench_langchain.py [--rounds 30] [--calls 40] [--quick] [--profile]

Two shapes, both offline on langchain-core's own fakes:

* ``chat``: one ``FakeListChatModel.invoke`` (system + user message);
* ``rag``: ``{"context": retriever | join, "question": passthrough} | prompt | chat model |
  StrOutputParser()``, the retriever a ``BaseRetriever`` returning 3 documents.

Each variant runs in a fresh process; inside it, bare and instrumented invokes are timed in
interleaved rounds, the instrumentation switched on and off (``bench/_common.py``,
``paired_overhead``), and the tables give medians of the per-round paired differences, in wall-clock and in
process CPU time (the latter is what to read on a loaded machine). Both
instrumentations add a callback handler to every callback manager made while they are on, so
switching between blocks reaches the next invoke. Spyglass captures content; "DuckDB" also
exports to a DuckDB store, the other rows export through the SDK's ``BatchSpanProcessor`` to a
no-op exporter. OpenInference records content by default.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from _common import (
    NullExporter,
    Switch,
    Workload,
    load,
    null_provider,
    overhead_args,
    paired_overhead,
    profile_own,
    ratio,
    report,
    revision,
    run_workers,
    spans_of,
)

VARIANTS = {
    "spyglass": "Spyglass, content + DuckDB",
    "spyglass-nostore": "Spyglass, content, no-op exporter",
    "openinference": "OpenInference",
    "noop-handler": "a no-op callback handler (LangChain's own callback cost)",
}
SHAPES = {"chat": "chat model invoke", "rag": "RAG chain invoke"}


def _workloads(calls: int) -> dict[str, Workload]:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    class Retriever(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
            return [
                Document(
                    page_content=f"Paris is the capital of France ({i}).", metadata={"source": f"doc{i}"}, id=str(i)
                )
                for i in range(3)
            ]

    model = FakeListChatModel(responses=["Paris."])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n{context}"), ("human", "{question}")]
    )

    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    rag = (
        {"context": Retriever() | RunnableLambda(join), "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )
    messages = [SystemMessage("You are terse."), HumanMessage("What is the capital of France?")]

    def chat() -> None:
        model.invoke(messages)

    def chain() -> None:
        rag.invoke("What is the capital of France?")

    return {"chat": (chat, calls), "rag": (chain, max(calls // 2, 5))}


def _noop_handler() -> tuple[Switch, Switch]:
    """A ``BaseCallbackHandler`` that does nothing, added to every callback manager the way both
    instrumentations add theirs: the floor a callback-based instrumentation cannot go under, since
    LangChain builds run ids, serialised inputs and child managers only once a handler is there."""
    from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager

    original = BaseCallbackManager.__init__
    handler = BaseCallbackHandler()

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if handler not in self.inheritable_handlers:
            self.add_handler(handler, True)

    def on() -> None:
        BaseCallbackManager.__init__ = init  # type: ignore[method-assign]

    def off() -> None:
        BaseCallbackManager.__init__ = original  # type: ignore[method-assign]

    return on, off


def _switches(variant: str, tmp: str) -> tuple[Switch, Switch, tuple[Any, NullExporter] | None]:
    """(on, off) for the variant's instrumentation after one-time setup, and the no-op provider
    and exporter if it uses one."""
    from integrations import langchain as spy

    if variant == "spyglass":
        import tracer

        tracer.configure(db=os.path.join(tmp, "bench.duckdb"), capture_content=True)
        return spy.instrument, spy.uninstrument, None
    if variant == "noop-handler":
        return (*_noop_handler(), None)
    null = provider, _ = null_provider()
    if variant == "spyglass-nostore":  # the instrumentation alone (content is on by default)
        return (lambda: spy.instrument(tracer_provider=provider)), spy.uninstrument, null
    from openinference.instrumentation.langchain import LangChainInstrumentor

    oi = LangChainInstrumentor()
    return (lambda: oi.instrument(tracer_provider=provider)), oi.uninstrument, null


def worker(variant: str, rounds: int, calls: int) -> dict[str, Any]:
    on, off, null = _switches(variant, tempfile.mkdtemp())
    work = _workloads(calls)
    spans = {shape: spans_of(fn, on, off, *null) if null else None for shape, (fn, _) in work.items()}
    o = paired_overhead(work, on, off, rounds)
    return {"wall": o.wall, "cpu": o.cpu, "bare": o.bare, "bare_cpu": o.bare_cpu, "spans": spans}


def profile(calls: int) -> None:
    """Where the spyglass variant's invoke spends its time (our own functions only)."""
    on, _, _ = _switches("spyglass", tempfile.mkdtemp())
    on()
    for shape, (fn, _) in _workloads(calls).items():
        fn()  # warm
        print(f"--- {shape}, {calls} invokes, spyglass (content + DuckDB) ---")
        print(profile_own(fn, calls))


def main() -> None:
    args = overhead_args("invokes", VARIANTS, worker, profile)
    if args is None:
        return
    import langchain_core

    print(
        f"langchain-core {langchain_core.__version__}, Python {sys.version.split()[0]}, commit {revision()}, {load()}"
    )
    rows = run_workers(__file__, args.only, ["--rounds", str(args.rounds), "--calls", str(args.calls)])
    print(
        f"{load()} after; {args.rounds} rounds of {args.calls} chat invokes ({max(args.calls // 2, 5)} chain invokes)"
    )
    report(rows, VARIANTS, SHAPES)
    floor, oi = rows.get("noop-handler"), rows.get("openinference")
    if floor and oi:
        print("\nabove LangChain's own callback cost (overhead - the no-op handler's), CPU time:\n")
        for variant in ("spyglass", "spyglass-nostore", "openinference"):
            if r := rows.get(variant):
                cells = [
                    f"{what} {r['cpu'][s] - floor['cpu'][s]:+.0f} µs"
                    f" ({ratio(r['cpu'][s] - floor['cpu'][s], oi['cpu'][s] - floor['cpu'][s])} of OpenInference's)"
                    for s, what in SHAPES.items()
                ]
                print(f"  {VARIANTS[variant]}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
