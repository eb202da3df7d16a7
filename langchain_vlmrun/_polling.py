"""When to poll an execution next."""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["DurationMemory", "PollSchedule"]


@dataclass(frozen=True)
class PollSchedule:
    """Adaptive polling: start at ``initial`` seconds, grow by ``multiplier``, cap at ``maximum``.

    Intervals grow with the job's age, so a short job is noticed quickly and a long one
    costs few requests. With ``learn_durations`` the first poll waits until executions
    of the same agent configuration have recently finished (see ``DurationMemory``).
    ``PollSchedule.immediate()`` never sleeps (cassette replay, tests).

    Example:
        >>> s = PollSchedule(initial=0.5, multiplier=2.0, maximum=5.0)
        >>> [s.interval(n) for n in range(5)]
        [0.5, 1.0, 2.0, 4.0, 5.0]
    """

    initial: float = 0.5
    multiplier: float = 1.5
    maximum: float = 5.0
    learn_durations: bool = True
    """Sleep until similar executions usually finish before the first poll."""

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.multiplier < 1:
            raise ValueError("PollSchedule needs initial >= 0, maximum >= 0, multiplier >= 1")

    @classmethod
    def immediate(cls) -> PollSchedule:
        return cls(initial=0.0, multiplier=1.0, maximum=0.0, learn_durations=False)

    def interval(self, polls_done: int) -> float:
        """Seconds to sleep after ``polls_done`` polls have seen a non-terminal status."""
        return float(min(self.maximum, self.initial * self.multiplier**polls_done))


class DurationMemory:
    """How long recent executions of each agent configuration took (thread-safe).

    Batches run the same agent on similar files, so the next execution is likely to
    take about as long as the last few: ``wait`` sleeps until then before its first
    poll instead of polling on the generic schedule, which saves requests and notices
    completion sooner. Durations come from the server's ``created_at``/``completed_at``.

    Example:
        >>> memory = DurationMemory()
        >>> memory.record("agent:v1", 9.0); memory.record("agent:v1", 11.0)
        >>> memory.expected("agent:v1")
        10.0
    """

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._durations: dict[str, deque[float]] = {}

    def record(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._durations.setdefault(key, deque(maxlen=self.keep)).append(seconds)

    def expected(self, key: str) -> float | None:
        """The median of the recent durations for ``key``, or None before any."""
        with self._lock:
            recent = self._durations.get(key)
            return statistics.median(recent) if recent else None
