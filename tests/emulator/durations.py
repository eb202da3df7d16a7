"""Per-job processing times for mixed workloads: values for ``EmulatorConfig.processing_time``.

Each helper returns a thread-safe callable ``(execution_body) -> seconds`` that the
emulator calls once per execution it creates, in creation order (an execute answered
with an existing execution, a validation error or a fault injected before processing
does not count; only two concurrent executes with the same new ``id`` can make one call
that creates nothing). The n-th call is the n-th execution created, so a run that creates
executions in the same order gets the same durations::

    with running_emulator(processing_time=every_kth(10, fast=0.5, slow=8)) as emu:
        ...  # executions 10, 20, 30... take 8 s, every other one 0.5 s

    with running_emulator(processing_time=lognormal(median=1.0, sigma=0.6, seed=7)) as emu:
        ...

``python -m tests.emulator`` exposes them as ``--slow-every K --slow-time S`` and
``--processing-distribution lognormal:MEDIAN:SIGMA`` (seeded by ``--seed``).
``Emulator.reset(state=True)`` calls ``reset()`` on them: counting starts again.
"""

from __future__ import annotations

import math
import random
import threading
from typing import Any

__all__ = ["Durations", "every_kth", "lognormal", "parse_distribution"]


class Durations:
    """A processing-time callable with a creation counter (thread-safe; ``reset()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._created = 0

    @property
    def created(self) -> int:
        """Executions this callable has given a duration to."""
        with self._lock:
            return self._created

    def __call__(self, body: dict[str, Any] | None = None) -> float:
        with self._lock:
            self._created += 1
            return self._duration(self._created)

    def reset(self) -> None:
        with self._lock:
            self._created = 0
            self._restart()

    def _duration(self, n: int) -> float:  # pragma: no cover - abstract
        """Seconds of the ``n``-th execution (from 1), called under the lock."""
        raise NotImplementedError

    def _restart(self) -> None:
        """Forget state other than the counter (called under the lock)."""


class _EveryKth(Durations):
    def __init__(self, k: int, fast: float, slow: float) -> None:
        super().__init__()
        self.k, self.fast, self.slow = k, fast, slow

    def _duration(self, n: int) -> float:
        return self.slow if n % self.k == 0 else self.fast

    def __repr__(self) -> str:
        return f"every_kth({self.k}, fast={self.fast:g}, slow={self.slow:g})"


class _Lognormal(Durations):
    def __init__(self, median: float, sigma: float, seed: int) -> None:
        super().__init__()
        self.median, self.sigma, self.seed = median, sigma, seed
        self._rng = random.Random(seed)

    def _duration(self, n: int) -> float:
        return self._rng.lognormvariate(math.log(self.median), self.sigma)

    def _restart(self) -> None:
        self._rng = random.Random(self.seed)

    def __repr__(self) -> str:
        return f"lognormal({self.median:g}, {self.sigma:g}, seed={self.seed})"


def every_kth(k: int, fast: float, slow: float) -> Durations:
    """Executions number ``k``, ``2k``, ... (counting from 1) take ``slow`` s, the others ``fast``.

    Example:
        >>> durations = every_kth(3, fast=0.5, slow=8)
        >>> [durations({}) for _ in range(7)]
        [0.5, 0.5, 8, 0.5, 0.5, 8, 0.5]
    """
    if k < 1:
        raise ValueError(f"every_kth needs k >= 1: {k!r}")
    if fast < 0 or slow < 0:
        raise ValueError(f"durations must be >= 0: fast={fast!r}, slow={slow!r}")
    return _EveryKth(k, fast, slow)


def lognormal(median: float, sigma: float, seed: int = 0) -> Durations:
    """Durations drawn from a lognormal distribution (``median * exp(sigma * N(0, 1))``).

    Seeded: the n-th execution created gets the n-th draw, whatever the timing.

    Example:
        >>> a, b = lognormal(1.0, 0.6, seed=7), lognormal(1.0, 0.6, seed=7)
        >>> [a({}) for _ in range(3)] == [b({}) for _ in range(3)]
        True
    """
    if median <= 0 or sigma < 0:
        raise ValueError(f"lognormal needs median > 0 and sigma >= 0: {median!r}, {sigma!r}")
    return _Lognormal(median, sigma, seed)


def parse_distribution(spec: str, seed: int = 0) -> Durations:
    """``"lognormal:MEDIAN:SIGMA"`` (the ``--processing-distribution`` value) -> a callable.

    Example:
        >>> parse_distribution("lognormal:1:0.6", seed=3)
        lognormal(1, 0.6, seed=3)
    """
    name, _, rest = spec.partition(":")
    if name == "lognormal":
        parts = rest.split(":")
        if len(parts) == 2:
            try:
                median, sigma = float(parts[0]), float(parts[1])
            except ValueError:
                pass
            else:
                return lognormal(median, sigma, seed)
    raise ValueError(f"unknown processing distribution {spec!r}; expected lognormal:MEDIAN:SIGMA")
