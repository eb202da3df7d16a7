"""What the clients need from a request budget (in-process or shared)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Budget"]


@runtime_checkable
class Budget(Protocol):
    """Implemented by :class:`~langchain_vlmrun.RequestBudget` (one process) and
    :class:`~langchain_vlmrun.scaleout.redis_budget.RedisRequestBudget` (shared via Redis).

    ``reserve()`` books a slot and returns the seconds to wait before sending: the
    caller sleeps that long once and sends; it never asks again for the same request.
    """

    def reserve(self) -> float: ...

    def backlog(self) -> float: ...

    def penalize(self, retry_after: float | None) -> None: ...

    def succeeded(self) -> None: ...
