"""Retry decisions shared by the sync and async clients (run by tenacity).

Retried: connection errors, timeouts, 408, 409, 429 and 5xx, with exponential backoff
and full jitter, honouring ``Retry-After`` (seconds or HTTP date) up to a cap. Never
retried: other 4xx (400, 401, 403, 404, 422...). Paid calls (agent execute) use the
*unambiguous* policy: only failures the server cannot have acted on are re-sent blindly
(connection never established, 429); the rest go through the idempotency lookup in
:mod:`langchain_vlmrun._operations`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

from langchain_vlmrun._exceptions import (
    APIConnectionError,
    APIStatusError,
    UnreadableResponseError,
)

__all__ = ["RetryPolicy", "is_retryable", "parse_retry_after"]

RetryMode = Literal["safe", "unambiguous", "none"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
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
        return exc.status_code in {408, 409} or exc.status_code >= 500
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry.

    Example:
        >>> RetryPolicy(max_retries=2).backoff(1) <= 1.0
        True
    """

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def backoff(self, attempt: int) -> float:
        """Backoff before retry ``attempt`` (1-based): exponential, jittered to 50-100 %."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self.jitter())

    def wait_before(self, attempt: int, exc: BaseException | None) -> float:
        """The server's Retry-After when given (capped), else the backoff."""
        if isinstance(exc, APIStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        return self.backoff(attempt)

    def _wait(self, state: RetryCallState) -> float:
        exc: BaseException | None = state.outcome.exception() if state.outcome else None
        return self.wait_before(state.attempt_number, exc)

    def tenacity_kwargs(self, mode: RetryMode) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying``/``AsyncRetrying`` (sleep added by caller)."""
        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": self._wait,
            "retry": retry_if_exception(lambda exc: is_retryable(exc, mode)),
            "reraise": True,
        }
