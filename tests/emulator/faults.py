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

#: Fault kinds that can be injected *before* a request is processed.
FAULT_KINDS: frozenset[str] = frozenset({"500", "502", "503", "504", "429", "drop", "slow"})
#: Fault kinds that can be injected *after* a request was processed (state changed).
AFTER_PROCESSING_KINDS: frozenset[str] = frozenset({"500", "502", "503", "504", "drop"})

BAD_GATEWAY_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
GATEWAY_TIMEOUT_HTML = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"


def validate_kinds(kinds: Collection[str], allowed: frozenset[str], what: str) -> None:
    unknown = set(kinds) - allowed
    if unknown:
        raise ValueError(f"unknown {what}: {sorted(unknown)}; allowed: {sorted(allowed)}")


class FaultInjector:
    """Seeded, thread-safe decisions: which request gets which fault."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

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

    def acquire(self, limit: int | None) -> int | None:
        """Record a request. Returns None if allowed, else Retry-After seconds (int >= 1)."""
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            while self._log and self._log[0] <= now - self._window:
                self._log.popleft()
            if len(self._log) >= limit:
                if not self._log:  # limit == 0: nothing is ever allowed
                    return math.ceil(self._window)
                wait = self._log[0] + self._window - now
                return max(1, math.ceil(wait))
            self._log.append(now)
            return None
