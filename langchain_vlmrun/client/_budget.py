"""A client-side request budget (requests per minute) shared by threads and tasks.

Why not langchain-core's ``InMemoryRateLimiter``: it reads ``time.monotonic`` directly
(its arithmetic cannot be tested with an injected clock), its async ``aacquire`` polls
in a sleep loop, and it has no way to back off for everybody after a 429. This is a
small GCRA (virtual-scheduling token bucket): ``reserve()`` books the next free slot
under a lock and returns how long the caller must wait, so the sync client sleeps and
the async client awaits the *same* arithmetic.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from langchain_vlmrun.client._retry import MAX_RETRY_AFTER

__all__ = ["MAX_HOLD", "MAX_SLOWDOWN", "RequestBudget"]

#: Longest hold (seconds) one 429 may put on every caller, however long the server's
#: ``Retry-After``: the same cap as ``RetryPolicy.max_retry_after``, so the budget never
#: holds a retry longer than the retry policy would wait for it.
MAX_HOLD = MAX_RETRY_AFTER
#: The pace is never slowed below 1/8 of the nominal rate, however many 429s arrive.
MAX_SLOWDOWN = 8.0


class RequestBudget:
    """At most ``requests_per_minute`` requests, spaced evenly (``burst`` may go ahead).

    ``headroom`` (2 %) keeps the pace just under the limit. After a 429,
    :meth:`penalize` holds every caller until the server's ``Retry-After`` (at most
    :data:`MAX_HOLD` seconds) and slows the rate by ``slowdown`` (at most
    :data:`MAX_SLOWDOWN` times; recovering as requests succeed), so one refusal does not
    turn into one per request in flight.

    Example:
        >>> now = [0.0]
        >>> budget = RequestBudget(60, headroom=0.0, clock=lambda: now[0])
        >>> [budget.reserve() for _ in range(3)]  # one per second
        [0.0, 1.0, 2.0]
    """

    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst: int = 1,
        slowdown: float = 1.5,
        headroom: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < requests_per_minute < math.inf:
            raise ValueError(
                "requests_per_minute must be positive and finite (None means unlimited)"
            )
        self.requests_per_minute = requests_per_minute
        self.headroom = headroom
        # a little slower than the nominal rate: requests leave a few ms after their
        # slot, and a server counting a sliding window must never see one too many
        self.nominal_interval = 60.0 / requests_per_minute * (1.0 + headroom)
        self.interval = self.nominal_interval
        self.burst = max(1, burst)
        self.slowdown = slowdown
        self.clock = clock
        self._next_free = 0.0  # theoretical arrival time of the next request
        self._hold_until = 0.0  # no request starts before this (set by a 429)
        self._lock = threading.Lock()
        self.reserved = 0
        self.penalties = 0

    def __reduce__(self) -> tuple[Any, ...]:
        """A copy in another process (a pickle) starts fresh with the same settings: this
        budget paces one process (``RedisRequestBudget`` paces several)."""
        settings = {
            "burst": self.burst,
            "slowdown": self.slowdown,
            "headroom": self.headroom,
            "clock": self.clock,
        }
        return (_fresh_budget, (self.requests_per_minute, settings))

    def _start(self, now: float) -> float:
        """When a request booked at ``now`` may start (call with the lock held)."""
        tolerance = (self.burst - 1) * self.interval
        return max(now, self._hold_until, self._next_free - tolerance)

    def reserve(self) -> float:
        """Book a slot for one request; returns the seconds to wait before sending it."""
        with self._lock:
            now = self.clock()
            start = self._start(now)
            self._next_free = max(self._next_free, start) + self.interval
            self.reserved += 1
            return start - now

    def backlog(self) -> float:
        """Seconds a new caller would wait for its slot (nothing is booked)."""
        with self._lock:
            now = self.clock()
            return self._start(now) - now

    def penalize(self, retry_after: float | None) -> None:
        """A 429 was received: hold everybody and slow the pace down.

        ``retry_after`` is the server's ``Retry-After`` in seconds, capped at
        :data:`MAX_HOLD`; a negative one holds nobody. Without one (``None``, or NaN)
        everybody is held for one (slowed) interval.
        """
        with self._lock:
            self.penalties += 1
            self.interval = min(self.interval * self.slowdown, self.nominal_interval * MAX_SLOWDOWN)
            if retry_after is None or math.isnan(retry_after):
                hold = self.interval
            else:
                hold = min(max(retry_after, 0.0), MAX_HOLD)
            self._hold_until = max(self._hold_until, self.clock() + hold)

    def succeeded(self) -> None:
        """A request went through: drift back toward the nominal pace."""
        with self._lock:
            self.interval = max(self.nominal_interval, self.interval * 0.95)


def _fresh_budget(requests_per_minute: float, settings: dict[str, Any]) -> RequestBudget:
    return RequestBudget(requests_per_minute, **settings)
