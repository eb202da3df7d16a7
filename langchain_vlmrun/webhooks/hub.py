"""``WebhookHub``: webhook deliveries wake the code waiting for those executions.

With ``callback_url``, VLM Run POSTs each finished execution to your server (see
:mod:`langchain_vlmrun.webhooks.receiver`). The receiver calls :meth:`WebhookHub.complete`;
whoever waits for that execution id wakes at once: threads blocked in
:meth:`~WebhookHub.wait` and asyncio tasks awaiting :meth:`~WebhookHub.await_` on
any event loop. A delivery that lands before anybody waits (a fast execution) is
remembered for a while, so a late waiter still gets it.

For the clients, waiting is an effect: ``wait_for_callback`` (in the client's
operations) yields ``AwaitDelivery`` (wake on the callback, or after a timeout) and
falls back to slow safety polls, since a delivery can be lost; a client performs the
effect with the hub's :meth:`~WebhookHub.wait` or :meth:`~WebhookHub.await_`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from langchain_vlmrun.core.models import AgentExecution

__all__ = ["Ticket", "WebhookHub"]


def _settle(future: asyncio.Future[AgentExecution], execution: AgentExecution) -> None:
    if not future.done():
        future.set_result(execution)


class Ticket:
    """Interest in one execution: resolved by the hub when its delivery arrives."""

    def __init__(self, hub: WebhookHub, execution_id: str) -> None:
        self.execution_id = execution_id
        self._hub = hub
        self._event = threading.Event()
        self._result: AgentExecution | None = None
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[AgentExecution]]] = []

    def __repr__(self) -> str:
        return f"Ticket({self.execution_id!r}, done={self.done})"

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def result(self) -> AgentExecution | None:
        return self._result

    def _resolve(self, execution: AgentExecution) -> None:
        """Called under the hub's lock, from any thread."""
        self._result = execution
        self._event.set()
        for loop, future in self._futures:
            # a closed loop has nobody waiting on it anymore
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, execution)
        self._futures.clear()

    def wait(self, timeout: float | None) -> AgentExecution | None:
        """Block until delivered (the execution) or ``timeout`` seconds (None)."""
        self._event.wait(timeout)
        return self._result

    async def await_(self, timeout: float | None) -> AgentExecution | None:
        """Await delivery on the running loop (the hub may complete it from any thread)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AgentExecution] = loop.create_future()
        with self._hub._lock:
            if self._result is not None:
                return self._result
            self._futures.append((loop, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            with self._hub._lock:
                if (loop, future) in self._futures:
                    self._futures.remove((loop, future))

    def cancel(self) -> None:
        """Stop waiting (the hub forgets this ticket)."""
        self._hub._forget(self)


class WebhookHub:
    """Where webhook deliveries meet waiters; thread-safe and asyncio-safe.

    Example:
        >>> hub = WebhookHub()
        >>> ticket = hub.expect("ex-1")
        >>> hub.complete(AgentExecution(id="ex-1", status="completed"))
        1
        >>> ticket.wait(timeout=0).status
        'completed'

    Args:
        remember: how many delivered executions to keep for late waiters...
        remember_for: ...and for how many seconds.
        clock: for ``remember_for``.
    """

    def __init__(
        self,
        *,
        remember: int = 256,
        remember_for: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remember = remember
        self.remember_for = remember_for
        self.clock = clock
        self._lock = threading.Lock()
        self._tickets: dict[str, list[Ticket]] = {}
        self._recent: OrderedDict[str, tuple[float, AgentExecution]] = OrderedDict()
        self._cache_keys: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return f"WebhookHub(waiting={self.waiting()}, remembered={len(self._recent)})"

    def _prune(self, now: float) -> None:
        while self._recent:
            _, (delivered, _) = next(iter(self._recent.items()))
            if len(self._recent) <= self.remember and now - delivered < self.remember_for:
                break
            self._recent.popitem(last=False)

    def expect(self, execution_id: str, *, cache_key: str | None = None) -> Ticket:
        """Register interest in ``execution_id`` (resolved at once if already delivered).

        ``cache_key`` tells a receiver with a ``ResultCache`` where to store the result.
        """
        ticket = Ticket(self, execution_id)
        with self._lock:
            if cache_key is not None:
                self._cache_keys[execution_id] = cache_key
                while len(self._cache_keys) > 16 * self.remember:  # never delivered
                    self._cache_keys.popitem(last=False)
            self._prune(self.clock())
            delivered = self._recent.get(execution_id)
            if delivered is not None:
                ticket._resolve(delivered[1])
            else:
                self._tickets.setdefault(execution_id, []).append(ticket)
        return ticket

    def complete(self, execution: AgentExecution) -> int:
        """Deliver a finished execution; returns how many waiters it woke."""
        with self._lock:
            now = self.clock()
            self._recent[execution.id] = (now, execution)
            self._recent.move_to_end(execution.id)
            self._prune(now)
            tickets = self._tickets.pop(execution.id, [])
            for ticket in tickets:
                ticket._resolve(execution)
        return len(tickets)

    def _forget(self, ticket: Ticket) -> None:
        with self._lock:
            tickets = self._tickets.get(ticket.execution_id)
            if tickets and ticket in tickets:
                tickets.remove(ticket)
                if not tickets:
                    del self._tickets[ticket.execution_id]

    def cache_key(self, execution_id: str) -> str | None:
        """The cache key registered with :meth:`expect` (then forgotten)."""
        with self._lock:
            return self._cache_keys.pop(execution_id, None)

    def delivered(self, execution_id: str) -> AgentExecution | None:
        """A remembered delivery, without waiting."""
        with self._lock:
            self._prune(self.clock())
            found = self._recent.get(execution_id)
            return found[1] if found else None

    def waiting(self, execution_id: str | None = None) -> int:
        """Waiters registered (for one execution, or in all)."""
        with self._lock:
            if execution_id is not None:
                return len(self._tickets.get(execution_id, []))
            return sum(len(tickets) for tickets in self._tickets.values())

    def wait(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        """Block until ``execution_id`` is delivered, or None after ``timeout`` seconds."""
        ticket = self.expect(execution_id)
        try:
            return ticket.wait(timeout)
        finally:
            ticket.cancel()

    async def await_(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        """:meth:`wait` for asyncio: awaits on the caller's loop, never blocks it."""
        ticket = self.expect(execution_id)
        try:
            return await ticket.await_(timeout)
        finally:
            ticket.cancel()
