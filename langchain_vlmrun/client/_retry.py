"""Retry decisions shared by the sync and async clients (run by tenacity).

Transient failures are retried **until a time budget runs out**, not for a fixed count:
with a fixed count, a long enough run always meets a request that draws every one of its
attempts from a burst of faults. Retried: connection errors, timeouts, 408, 409, 429 and
5xx, with exponential backoff and full jitter, honouring ``Retry-After`` (seconds or HTTP
date) up to a cap. Never retried: other 4xx (400, 401, 403, 404, 422...). Paid calls
(agent execute) use the *unambiguous* mode: only failures the server cannot have acted on
are re-sent blindly (connection never established, 429); the rest go through the
idempotency lookup in :mod:`langchain_vlmrun.client._operations`.

How long one call may keep trying: ``RetryPolicy.retry_timeout`` seconds (default 90) of
backoff and attempts; polls inside ``wait`` keep trying until the wait's own timeout.
``max_retries`` optionally caps the number of retries as well.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, Literal

from tenacity import RetryCallState, retry_if_exception

from langchain_vlmrun.core.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    UnreadableResponseError,
)

__all__ = ["DEFAULT_RETRY_TIMEOUT", "RetryPolicy", "is_retryable", "parse_retry_after"]

logger = logging.getLogger("langchain_vlmrun")

RetryMode = Literal["safe", "unambiguous", "none"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Ambiguous statuses of a paid call: the server may have acted before answering.
AMBIGUOUS_STATUSES = frozenset({408, 409})

#: Seconds one call may spend retrying transient failures (attempts and pauses).
DEFAULT_RETRY_TIMEOUT = 90.0
#: Longest pause a server's ``Retry-After`` may ask for (the retry policy's default cap,
#: and the request budgets' cap on a 429's hold).
MAX_RETRY_AFTER = 60.0


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    Example:
        >>> parse_retry_after("2.5", now=0.0)
        2.5
        >>> parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0)
        6.0
        >>> parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=99.0)  # in the past
        0.0
        >>> parse_retry_after("soon", now=0.0) is None
        True
        >>> parse_retry_after("inf", now=0.0) is None  # no usable delay
        True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" or "nan" is no usable delay (a broken or hostile server)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def is_retryable(exc: BaseException, mode: RetryMode = "safe") -> bool:
    """Whether ``exc`` may be retried blindly under ``mode``."""
    if mode == "none":
        return False
    if isinstance(exc, APIConnectionError):
        return mode == "safe" or not exc.request_sent
    if isinstance(exc, APIStatusError):
        if mode == "unambiguous":
            return exc.status_code == 429
        return exc.status_code in RETRYABLE_STATUSES or exc.status_code >= 500
    return False


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have been acted on server-side (so re-sending could duplicate it)."""
    if isinstance(exc, UnreadableResponseError):
        return True  # a 2xx arrived: the server acted, but we could not read what it did
    if isinstance(exc, APIConnectionError):
        return exc.request_sent
    if isinstance(exc, APIStatusError):
        return exc.status_code in AMBIGUOUS_STATUSES or exc.status_code >= 500
    return False


def is_transient(exc: BaseException) -> bool:
    """A failure that may go away by itself (what ``"safe"`` retries)."""
    return is_retryable(exc, "safe") or isinstance(exc, UnreadableResponseError)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.info(
        "attempt %d failed (%s); next try in %.1fs",
        state.attempt_number,
        getattr(exc, "message", None) or exc,
        state.upcoming_sleep,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying transient failures, and how to pace the attempts.

    Example:
        >>> policy = RetryPolicy(initial_backoff=1.0, max_backoff=4.0, jitter=lambda: 1.0)
        >>> [policy.backoff(n) for n in (1, 2, 3, 4)]
        [1.0, 2.0, 4.0, 4.0]
        >>> policy.retry_timeout  # seconds one call may keep trying
        90.0

    Args:
        retry_timeout: seconds one call may spend on attempts and pauses before the last
            error is raised (polls inside ``wait`` use the wait's timeout instead).
        max_retries: optional cap on the number of retries of one call (None: the
            time budget alone decides).
        initial_backoff, max_backoff: exponential backoff bounds, jittered to 50-100 %.
        max_retry_after: cap on a server's ``Retry-After``.
    """

    retry_timeout: float = DEFAULT_RETRY_TIMEOUT
    max_retries: int | None = None
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = MAX_RETRY_AFTER
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if not self.retry_timeout >= 0:
            raise ValueError(
                f"RetryPolicy retry_timeout must be >= 0 seconds, got {self.retry_timeout!r}."
            )
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0 or None, got {self.max_retries!r}.")
        if not 0 <= self.initial_backoff <= self.max_backoff:
            raise ValueError("RetryPolicy needs 0 <= initial_backoff <= max_backoff.")

    def backoff(self, attempt: int) -> float:
        """Backoff before retry ``attempt`` (1-based): exponential, jittered to 50-100 %."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self.jitter())

    def wait_before(self, attempt: int, exc: BaseException | None) -> float:
        """The server's Retry-After when given (capped), else the backoff."""
        if isinstance(exc, APIStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        return self.backoff(attempt)

    def allows(self, attempt: int, spent: float, budget: float | None = None) -> bool:
        """Whether retry ``attempt`` (1-based) may start once ``spent`` seconds are used.

        ``budget`` overrides the time budget (a wait's own deadline), and then the
        ``max_retries`` cap does not apply.
        """
        if budget is None:
            if self.max_retries is not None and attempt > self.max_retries:
                return False
            budget = self.retry_timeout
        return spent <= budget

    def pause(self, attempt: int, exc: BaseException | None, left: float) -> float:
        """The pause before retry ``attempt`` with ``left`` seconds of budget: the backoff
        shortened so the last try lands on the deadline (a server's Retry-After is kept
        as it is, even when it runs past the budget)."""
        natural = self.wait_before(attempt, exc)
        told = isinstance(exc, APIStatusError) and exc.retry_after is not None
        return natural if told else max(0.0, min(natural, left))

    def tenacity_kwargs(
        self,
        retry_on: RetryMode | Callable[[BaseException], bool],
        budget: float | None = None,
        *,
        log: Callable[[RetryCallState], None] = _log_retry,
    ) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying``/``AsyncRetrying`` (sleep added by caller).

        What is retried: what a mode retries blindly, or what a predicate accepts;
        ``log`` writes the line logged before each pause. The time spent is the larger
        of the real elapsed time and the pauses asked for, so an injected no-op ``sleep``
        (tests, or a sans-IO operation that yields its pauses) still ends by the budget.
        """
        limit = self.retry_timeout if budget is None else budget

        def spent(state: RetryCallState) -> float:
            return max(state.idle_for, state.seconds_since_start or 0.0)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.pause(state.attempt_number, exc, limit - spent(state))

        def stop(state: RetryCallState) -> bool:
            used = spent(state)
            if used >= limit:
                return True
            return not self.allows(state.attempt_number, used + state.upcoming_sleep, budget)

        return {
            "stop": stop,
            "wait": wait,
            "retry": retry_if_exception(
                retry_on if callable(retry_on) else partial(is_retryable, mode=retry_on)
            ),
            "before_sleep": log,
            "retry_error_callback": _gave_up,
        }


def _gave_up(state: RetryCallState) -> Any:
    """Re-raise the last error, saying how long it was retried."""
    exc = state.outcome.exception() if state.outcome else None
    assert exc is not None
    if isinstance(exc, APIError):
        exc.note_retries(state.attempt_number, max(state.idle_for, state.seconds_since_start or 0))
    raise exc
