"""Where a store lives: a DuckDB file path, or a PostgreSQL URL (docs/deploy.md, "A team store").

Everything that takes a store (``configure(db=...)``, ``SPYGLASS_DB``, ``--db``) goes through
:func:`resolve`, so that a path is made absolute and a URL is kept as given. A URL may hold a
password: only :func:`display` (password removed) ever goes into a message or a log line.
"""

from __future__ import annotations

import hashlib
import os
import re
from urllib.parse import urlsplit, urlunsplit

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(db: str | os.PathLike[str]) -> bool:
    return isinstance(db, str) and db.lower().startswith(_POSTGRES_SCHEMES)


def resolve(db: str | os.PathLike[str]) -> str:
    """A PostgreSQL URL as given; a file path made absolute."""
    if is_postgres(db):
        return str(db)
    return os.path.abspath(os.fspath(db))


def display(db: str) -> str:
    """``db`` fit for a message: a URL loses its password (user, host, port and database stay,
    so an operator can tell stores apart), and a ``password=`` query parameter too."""
    if not is_postgres(db):
        return db
    parts = urlsplit(db)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = re.sub(r"(?i)(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def spool_base(db: str) -> str:
    """The path that a store's spool folder is named after (``<base>.spool``).

    A file's spool sits beside it. A server's sits on this host, under
    ``SPYGLASS_SPOOL_DIR`` (default ``~/.cache/spyglass``), named after the URL without its
    password: every process of this host writing to that server shares it, so batches one
    process spooled during an outage are shipped by whichever writes next.
    """
    if not is_postgres(db):
        return os.path.abspath(db)
    root = os.environ.get("SPYGLASS_SPOOL_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "spyglass"
    )
    safe = display(db)
    parts = urlsplit(safe)
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{parts.hostname or 'local'}-{parts.port or 5432}{parts.path}")[:80]
    digest = hashlib.sha256(safe.encode("utf-8")).hexdigest()[:12]
    return os.path.join(root, f"postgres-{label}-{digest}")
