"""Counting the HTTP requests spent on one piece of work (e.g. one document)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["RequestCounter", "count_requests"]


class RequestCounter:
    """A thread-safe count of HTTP requests (every attempt counts, as the API bills it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.requests += n


_current: ContextVar[RequestCounter | None] = ContextVar("vlmrun_request_counter", default=None)


@contextmanager
def count_requests() -> Iterator[RequestCounter]:
    """Count the requests made inside this block (this thread or asyncio task).

    Example:
        >>> with count_requests() as counter:  # doctest: +SKIP
        ...     client.run("scan.png", prompt="Describe it")
        >>> counter.requests  # doctest: +SKIP
        5
    """
    counter = RequestCounter()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def record_request() -> None:
    counter = _current.get()
    if counter is not None:
        counter.add()
