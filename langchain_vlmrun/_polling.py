"""When to poll an execution next, and what recent executions teach about that."""

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
        >>> PollSchedule(initial=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: PollSchedule needs initial >= 0, maximum >= 0, multiplier >= 1
    """

    initial: float = 0.5
    multiplier: float = 1.5
    maximum: float = 5.0
    learn_durations: bool = True
    """Sleep until similar executions usually finish before the first poll."""

    def __post_init__(self) -> None:
        if not (self.initial >= 0 and self.maximum >= 0 and self.multiplier >= 1):
            raise ValueError("PollSchedule needs initial >= 0, maximum >= 0, multiplier >= 1")

    @classmethod
    def immediate(cls) -> PollSchedule:
        return cls(initial=0.0, multiplier=1.0, maximum=0.0, learn_durations=False)

    def interval(self, polls_done: int) -> float:
        """Seconds to sleep after ``polls_done`` polls have seen a non-terminal status."""
        return float(min(self.maximum, self.initial * self.multiplier**polls_done))


#: After a first poll found the job already done, the next first poll comes this much earlier.
PROBE_EARLIER = 0.9
#: A server duration this much shorter than our observation proves its timestamps are exact.
EXACT_MARGIN = 0.05


class DurationMemory:
    """How long recent executions of each agent configuration took (thread-safe).

    Batches run the same agent on similar files, so the next execution is likely to
    take about as long as the last few: ``wait`` sleeps until then before its first
    poll (the *probe*) instead of polling on the generic schedule, which saves requests
    and notices completion sooner.

    The estimate corrects itself both ways. Each completion is known to lie between the
    last poll that saw the job running (``lower``) and the first that saw it done
    (``upper``), both measured by our clock from submission. The server's
    ``created_at``/``completed_at`` refine that only once they have proved exact (a
    duration clearly inside the interval); a server that stamps ``completed_at`` when a
    poll first sees the job done, or stamps late, early or not at all, never does, and
    then a probe that finds the job already done makes the next probe come earlier (so
    the estimate can go down), while a probe that misses moves it to where the job was
    seen done.

    Example:
        >>> memory = DurationMemory()
        >>> memory.observe("agent", lower=2.0, upper=3.0, server=2.5, probed=False)
        >>> memory.expected("agent")  # exact timestamps: the server's 2.5 s
        2.5
        >>> lazy = DurationMemory()
        >>> lazy.observe("agent", lower=0.0, upper=2.0, server=2.1, probed=True)
        >>> lazy.expected("agent")  # a probe found it done: probe earlier next time
        1.8
    """

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._durations: dict[str, deque[float]] = {}
        self._exact: set[str] = set()

    def expected(self, key: str) -> float | None:
        """When to probe: the median of recent durations for ``key``, or None before any."""
        with self._lock:
            recent = self._durations.get(key)
            return statistics.median(recent) if recent else None

    def observe(
        self, key: str, *, lower: float, upper: float, server: float | None, probed: bool
    ) -> None:
        """Learn from one completion.

        Args:
            lower: seconds from submission to the last poll that saw the job running
                (0 when none did).
            upper: seconds from submission to the poll that saw it done.
            server: the server's own duration (``completed_at - created_at``), if any.
            probed: the poll at ``upper`` was the first, sent at ``expected(key)``.
        """
        if not upper > 0:
            return
        with self._lock:
            if server is not None and lower <= server < upper * (1 - EXACT_MARGIN):
                self._exact.add(key)  # finished clearly before we looked: exact stamps
            credible = server is not None and 0 < server <= upper
            if key in self._exact and credible:
                assert server is not None
                sample = server
            elif probed and lower == 0:
                sample = upper * PROBE_EARLIER  # done before the probe: look earlier
            else:
                sample = upper
            recent = self._durations.setdefault(key, deque(maxlen=self.keep))
            if key not in self._exact:
                recent.clear()  # censored observations: follow the latest bound
            recent.append(sample)
