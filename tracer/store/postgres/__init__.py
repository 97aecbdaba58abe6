"""The PostgreSQL store (``postgresql://...``): a team store many hosts write to and everyone
views, with the DuckDB file's schema, read API and guarantees (docs/deploy.md, "A team store").

One module per concern, each owning its SQL: ``_schema`` (tables and migrations),
``_writer`` (batches in, outage spool), ``_reader`` (:class:`tracer.Store`'s queries).
Needs the ``postgres`` extra (psycopg 3).
"""

from ._reader import PostgresStore
from ._writer import PostgresWriter, StoreUnreachable

__all__ = ["PostgresStore", "PostgresWriter", "StoreUnreachable"]
