"""The store, a DuckDB file or a PostgreSQL server: exporter (write side) and :class:`Store` (read side)."""

from ._connect import StoreBusy, StoreNotFound
from ._exporter import DuckDBSpanExporter
from ._location import display as display_location
from ._location import is_postgres
from ._location import resolve as resolve_location
from ._schema import (
    SCHEMA_VERSION,
    DamagedStoreError,
    ForeignStoreError,
    NewerSchemaError,
    StoreError,
    StoreUnreachable,
)
from .reader import AnnotationNotFound, Store

__all__ = [
    "SCHEMA_VERSION",
    "AnnotationNotFound",
    "DamagedStoreError",
    "DuckDBSpanExporter",
    "ForeignStoreError",
    "NewerSchemaError",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreNotFound",
    "StoreUnreachable",
    "display_location",
    "is_postgres",
    "resolve_location",
]
