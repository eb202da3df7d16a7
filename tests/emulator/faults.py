"""Fault injection and rate limiting for the VLM Run API emulator.

Everything here is deterministic for a given seed: one `random.Random` per
decision stream, each guarded by a lock, so concurrent requests draw numbers
in arrival order.
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections import deque
from collections.abc import Callable, Collection

#: Faults that mangle the (real) answer, so the request *is* processed first:
#: ``truncated_json`` a 200 whose body is cut short (honest Content-Length, invalid JSON);
#: ``short_body`` Content-Length larger than what is sent, then the connection closes;
#: ``slow_body`` the answer trickles out in small chunks over ``slow_body_seconds``;
#: ``huge_body`` the answer's body replaced by ``huge_body_bytes`` bytes (honest
#: Content-Length); ``endless_body`` by bytes that never end (no Content-Length, sent
#: until the client hangs up).
BODY_KINDS: frozenset[str] = frozenset(
    {"truncated_json", "short_body", "slow_body", "huge_body", "endless_body"}
)
#: Error answers with hostile bodies: a 500 whose body is ``huge_body_bytes`` long
#: (``huge_error``) or never ends (``endless_error``).
HOSTILE_ERROR_KINDS: frozenset[str] = frozenset({"huge_error", "endless_error"})
#: Fault kinds that can be injected *before* a request is processed (BODY_KINDS: see above).
FAULT_KINDS: frozenset[str] = frozenset(
    {"500", "502", "503", "504", "429", "drop", "slow"} | BODY_KINDS | HOSTILE_ERROR_KINDS
)
#: Fault kinds that can be injected *after* a request was processed (state changed).
AFTER_PROCESSING_KINDS: frozenset[str] = frozenset(
    {"500", "502", "503", "504", "drop"} | BODY_KINDS
)

BAD_GATEWAY_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
GATEWAY_TIMEOUT_HTML = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"


def validate_kinds(kinds: Collection[str], allowed: frozenset[str], what: str) -> None:
    unknown = set(kinds) - allowed
    if unknown:
        raise ValueError(f"unknown {what}: {sorted(unknown)}; allowed: {sorted(allowed)}")


class FaultInjector:
    """Seeded, thread-safe decisions: which request gets which fault.

    Bursts: after a fault fires, ``burst()`` (or ``next_fault`` with a burst length)
    makes the next N requests fail with the same kind, in arrival order.
    """

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._burst_left = 0
        self._burst_kind = ""

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)
            self._burst_left = 0

    def next_fault(
        self, rate: float, kinds: Collection[str], burst_length: int, burst_rate: float
    ) -> tuple[str, bool] | None:
        """(kind, is_burst_continuation) for this request, or None.

        A running burst wins; else an independent draw with probability `rate`, which
        starts a burst of `burst_length` more requests with probability `burst_rate`.
        No extra random numbers are drawn while bursts are off (same seeds, same faults).
        """
        with self._lock:
            if self._burst_left > 0:
                self._burst_left -= 1
                return self._burst_kind, True
        kind = self.draw(rate, kinds)
        if kind is not None:
            self.maybe_burst(kind, burst_length, burst_rate)
            return kind, False
        return None

    def maybe_burst(self, kind: str, length: int, rate: float) -> None:
        """Start a burst of `length` further `kind` faults with probability `rate`."""
        if length <= 0 or rate <= 0:
            return
        with self._lock:
            if rate >= 1 or self._rng.random() < rate:
                self._burst_left = length
                self._burst_kind = kind

    def draw(self, rate: float, kinds: Collection[str]) -> str | None:
        """Return a fault kind with probability `rate`, else None."""
        if rate <= 0 or not kinds:
            return None
        with self._lock:
            if self._rng.random() >= rate:
                return None
            return self._rng.choice(sorted(kinds))

    def chance(self, rate: float) -> bool:
        """True with probability `rate` (used for failing executions)."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate


class OutageWindows:
    """Intervals of the emulator clock during which every request fails with one kind."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: list[tuple[float, float, str]] = []

    def set_clock(self, clock: Callable[[], float]) -> None:
        with self._lock:
            self._clock = clock

    def add(self, start: float, end: float, kind: str) -> None:
        validate_kinds([kind], FAULT_KINDS, "outage kind")
        with self._lock:
            self._windows.append((start, end, kind))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()

    def active(self) -> tuple[str, float] | None:
        """(kind, seconds left) of an outage covering now, else None."""
        with self._lock:
            now = self._clock()
            for start, end, kind in self._windows:
                if start <= now < end:
                    return kind, end - now
        return None


def path_matches(pattern: str | re.Pattern[str] | None, path: str) -> bool:
    """`fault_paths` filter: None matches everything, else `re.search` on the path."""
    if pattern is None:
        return True
    return re.search(pattern, path) is not None


class SlidingWindowLimiter:
    """At most `limit` accepted requests in any `window` seconds (sliding log)."""

    def __init__(self, clock: Callable[[], float], window: float = 60.0) -> None:
        self._clock = clock
        self._window = window
        self._lock = threading.Lock()
        self._log: deque[float] = deque()

    def set_clock(self, clock: Callable[[], float]) -> None:
        with self._lock:
            self._clock = clock

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def acquire(self, limit: int | None, window: float | None = None) -> int | None:
        """Record a request. Returns None if allowed, else Retry-After seconds (int >= 1).

        ``window`` overrides the window given at construction (for this call)."""
        if limit is None:
            return None
        span = self._window if window is None else window
        with self._lock:
            now = self._clock()
            while self._log and self._log[0] <= now - span:
                self._log.popleft()
            if len(self._log) >= limit:
                if not self._log:  # limit == 0: nothing is ever allowed
                    return math.ceil(span)
                wait = self._log[0] + span - now
                return max(1, math.ceil(wait))
            self._log.append(now)
            return None
