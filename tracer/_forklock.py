"""A lock that ``fork()`` waits for, and that a forked child gets anew.

A child inherits every lock in the state it was in at the fork, and the memory of whatever
another thread was doing (pyarrow and DuckDB in the middle of a call deadlock the child's
first call of its own). Code that must not be forked through holds one of these; the
processor's fork hooks (``_processor.py``) call the three methods.
"""

from __future__ import annotations

import threading
from types import TracebackType

FORK_WAIT = 10.0  # seconds a fork waits for the section to end before going ahead anyway


class ForkLock:
    __slots__ = ("_held_for_fork", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held_for_fork = False

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._lock.release()

    def before_fork(self) -> None:
        self._held_for_fork = self._lock.acquire(timeout=FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # held or not in the parent, free here
        self._held_for_fork = False
