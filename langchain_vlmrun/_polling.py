"""When to poll an execution next."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PollSchedule"]


@dataclass(frozen=True)
class PollSchedule:
    """Adaptive polling: start at ``initial`` seconds, grow by ``multiplier``, cap at ``maximum``.

    Intervals grow with the job's age, so a short job is noticed quickly and a long one
    costs few requests. ``PollSchedule.immediate()`` never sleeps (cassette replay, tests).

    Example:
        >>> s = PollSchedule(initial=0.5, multiplier=2.0, maximum=5.0)
        >>> [s.interval(n) for n in range(5)]
        [0.5, 1.0, 2.0, 4.0, 5.0]
    """

    initial: float = 0.5
    multiplier: float = 1.5
    maximum: float = 5.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.multiplier < 1:
            raise ValueError("PollSchedule needs initial >= 0, maximum >= 0, multiplier >= 1")

    @classmethod
    def immediate(cls) -> PollSchedule:
        return cls(initial=0.0, multiplier=1.0, maximum=0.0)

    def interval(self, polls_done: int) -> float:
        """Seconds to sleep after ``polls_done`` polls have seen a non-terminal status."""
        return float(min(self.maximum, self.initial * self.multiplier**polls_done))
