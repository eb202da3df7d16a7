"""A client-side request budget (requests per minute) shared by threads and tasks.

Why not langchain-core's ``InMemoryRateLimiter``: it reads ``time.monotonic`` directly
(its arithmetic cannot be tested with an injected clock), its async ``aacquire`` polls
in a sleep loop, and it has no way to back off for everybody after a 429. This is a
small GCRA (virtual-scheduling token bucket): ``reserve()`` books the next free slot
under a lock and returns how long the caller must wait, so the sync client sleeps and
the async client awaits the *same* arithmetic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RequestBudget"]


class RequestBudget:
    """At most ``requests_per_minute`` requests, spaced evenly (``burst`` may go ahead).

    ``headroom`` (2 %) keeps the pace just under the limit. After a 429,
    :meth:`penalize` holds every caller until the server's ``Retry-After``
    and slows the rate by ``slowdown`` (recovering as requests succeed), so one refusal
    does not turn into one per request in flight.

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
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive (None means unlimited)")
        self.requests_per_minute = requests_per_minute
        # a little slower than the nominal rate: requests leave a few ms after their
        # slot, and a server counting a sliding window must never see one too many
        self.nominal_interval = 60.0 / requests_per_minute * (1.0 + headroom)
        self.interval = self.nominal_interval
        self.burst = max(1, burst)
        self.slowdown = slowdown
        self.clock = clock
        self._next_free = 0.0  # theoretical arrival time of the next request
        self._lock = threading.Lock()
        self.reserved = 0
        self.penalties = 0

    def reserve(self) -> float:
        """Book a slot for one request; returns the seconds to wait before sending it."""
        with self._lock:
            now = self.clock()
            tolerance = (self.burst - 1) * self.interval
            start = max(now, self._next_free - tolerance)
            self._next_free = max(self._next_free, now) + self.interval
            self.reserved += 1
            return start - now

    def backlog(self) -> float:
        """Seconds of already-booked requests ahead of a new caller."""
        with self._lock:
            return max(0.0, self._next_free - self.clock())

    def penalize(self, retry_after: float | None) -> None:
        """A 429 was received: hold everybody and slow the pace down."""
        with self._lock:
            self.penalties += 1
            self.interval = min(self.interval * self.slowdown, self.nominal_interval * 8)
            hold = retry_after if retry_after is not None else self.interval
            self._next_free = max(self._next_free, self.clock() + hold)

    def succeeded(self) -> None:
        """A request went through: drift back toward the nominal pace."""
        with self._lock:
            if self.interval > self.nominal_interval:
                self.interval = max(self.nominal_interval, self.interval * 0.95)

    def poll_floor(self, polling_jobs: int) -> float:
        """Smallest poll interval that leaves half the budget for uploads and executes."""
        return 2.0 * self.interval * max(1, polling_jobs)
