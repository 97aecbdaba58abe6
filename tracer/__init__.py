"""Spyglass tracer: turn an LLM application's steps into OpenTelemetry spans stored in a
local DuckDB file.

    import tracer
    tracer.configure()                 # ./spyglass.duckdb, or SPYGLASS_DB / configure(db=...)

    @tracer.trace_retriever
    def search(query: str) -> list[dict]: ...

    @tracer.trace_llm(model="gpt-4o-mini", prompt_version="qa-v3")
    def answer(question: str, docs: list[dict]) -> str: ...
"""

from . import grounding
from ._config import Stats, configure, default_db_path, flush, shutdown, stats
from ._context import ContextThreadPoolExecutor, TraceAttributes, trace_attributes, with_context
from ._decorators import trace_llm, trace_postprocess, trace_retriever, trace_step, trace_tool
from ._documents import Document, normalize_documents
from ._guard import set_raise_internal_errors
from ._manual import SpanHandle, record_decision, record_usage, span
from ._settings import Settings
from .store import (
    AnnotationNotFound,
    DamagedStoreError,
    ForeignStoreError,
    NewerSchemaError,
    Store,
    StoreBusy,
    StoreError,
    StoreNotFound,
    StoreUnreachable,
)
from .store.reader import AttributeFilter, TraceFilter
from .version import __version__

__all__ = [
    "AnnotationNotFound",
    "AttributeFilter",
    "ContextThreadPoolExecutor",
    "DamagedStoreError",
    "Document",
    "ForeignStoreError",
    "NewerSchemaError",
    "Settings",
    "SpanHandle",
    "Stats",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreNotFound",
    "StoreUnreachable",
    "TraceAttributes",
    "TraceFilter",
    "__version__",
    "configure",
    "default_db_path",
    "flush",
    "grounding",
    "normalize_documents",
    "record_decision",
    "record_usage",
    "set_raise_internal_errors",
    "shutdown",
    "span",
    "stats",
    "trace_attributes",
    "trace_llm",
    "trace_postprocess",
    "trace_retriever",
    "trace_step",
    "trace_tool",
    "with_context",
]
