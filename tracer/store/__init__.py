"""The DuckDB store: exporter (write side) and :class:`Store` (read side)."""

from ._connect import StoreBusy, StoreNotFound
from ._exporter import DuckDBSpanExporter
from ._schema import SCHEMA_VERSION, DamagedStoreError, ForeignStoreError, NewerSchemaError, StoreError
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
]
