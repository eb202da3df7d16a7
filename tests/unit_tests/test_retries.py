"""Retry rules, with an injected sleep and clock (no real waiting)."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest
from tenacity import RetryCallState, Retrying

from langchain_vlmrun import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from langchain_vlmrun.client._retry import (
    RetryPolicy,
    is_ambiguous,
    is_retryable,
    is_transient,
    parse_retry_after,
)
from langchain_vlmrun.core.errors import UnreadableResponseError, status_error_from_response
from tests.mock_api import ScriptedAPI, execution

PATH = "/agent/executions/ex-1"


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(status: int) -> None:
    api = ScriptedAPI().on("GET", PATH, httpx.Response(status, json={"detail": "x"}), execution())
    assert api.client().get_execution("ex-1").status == "running"
    assert api.calls("GET", PATH) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, BadRequestError),
    ],
)
def test_client_errors_are_never_retried(status: int, error: type[Exception]) -> None:
    api = ScriptedAPI().on("GET", PATH, httpx.Response(status, json={"detail": "no"}), execution())
    with pytest.raises(error):
        api.client().get_execution("ex-1")
    assert api.calls("GET", PATH) == 1
    assert api.sleeps == []


def test_retry_after_seconds_is_honoured() -> None:
    api = ScriptedAPI().on(
        "GET",
        PATH,
        httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow down"}),
        execution(),
    )
    api.client().get_execution("ex-1")
    assert api.sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    api = ScriptedAPI()
    when = datetime.fromtimestamp(api.now + 12, tz=timezone.utc)
    api.on(
        "GET",
        PATH,
        httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        execution(),
    )
    api.client().get_execution("ex-1")
    assert api.sleeps == [pytest.approx(12.0, abs=1.0)]


def test_retry_after_is_capped() -> None:
    api = ScriptedAPI().on(
        "GET", PATH, httpx.Response(429, headers={"Retry-After": "3600"}), execution()
    )
    api.client(retry=RetryPolicy(max_retry_after=30.0, jitter=lambda: 1.0)).get_execution("ex-1")
    assert api.sleeps == [30.0]


def test_backoff_grows_exponentially_with_jitter() -> None:
    api = ScriptedAPI().on("GET", PATH, *[httpx.Response(500)] * 3, execution())
    api.client(
        retry=RetryPolicy(max_retries=3, initial_backoff=0.5, jitter=lambda: 1.0)
    ).get_execution("ex-1")
    assert api.sleeps == [0.5, 1.0, 2.0]
    half = RetryPolicy(initial_backoff=0.5, jitter=lambda: 0.0)
    assert half.backoff(3) == 1.0  # jitter keeps 50-100 % of the step


def test_budget_exhausted_raises_the_last_error() -> None:
    api = ScriptedAPI().on(
        "GET",
        PATH,
        httpx.Response(500, json={"detail": "first"}),
        httpx.Response(502, json={"detail": "last"}),
    )
    with pytest.raises(InternalServerError, match="last") as info:
        api.client(max_retries=2, retry=None).get_execution("ex-1")
    assert info.value.status_code == 502
    assert api.calls("GET", PATH) == 3


def test_connection_errors_are_retried() -> None:
    api = ScriptedAPI().on(
        "GET", PATH, httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), execution()
    )
    assert api.client().get_execution("ex-1").id == "ex-1"
    assert api.calls("GET", PATH) == 3


def test_connection_errors_exhausted() -> None:
    api = ScriptedAPI().on("GET", PATH, httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        api.client(max_retries=1, retry=None).get_execution("ex-1")
    assert api.calls("GET", PATH) == 2


def test_parse_retry_after_rejects_garbage() -> None:
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None
    assert parse_retry_after("-3", now=0) == 0.0


async def test_async_retry_after_is_honoured() -> None:
    api = ScriptedAPI().on(
        "GET", PATH, httpx.Response(429, headers={"Retry-After": "2"}), execution()
    )
    async with api.async_client() as client:
        assert (await client.get_execution("ex-1")).status == "running"
    assert api.sleeps == [2.0]


async def test_async_non_retryable_not_retried() -> None:
    api = ScriptedAPI().on("GET", PATH, httpx.Response(401, json={"detail": "bad key"}))
    async with api.async_client() as client:
        with pytest.raises(AuthenticationError):
            await client.get_execution("ex-1")
    assert api.calls("GET", PATH) == 1


def test_retries_are_logged_as_they_happen(caplog: pytest.LogCaptureFixture) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        httpx.Response(503, text="busy"),
        httpx.Response(503, text="busy"),
        execution("ex-1", "completed"),
    )
    with caplog.at_level(logging.INFO, logger="langchain_vlmrun"):
        api.client(retry=RetryPolicy(jitter=lambda: 1.0)).get_execution("ex-1")
    lines = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert lines[0].startswith("attempt 1 failed (503") and lines[0].endswith("next try in 0.5s")
    assert lines[1].startswith("attempt 2 failed (503") and lines[1].endswith("next try in 1.0s")
    assert not any("try again later" in r.getMessage() for r in caplog.records)


# --- what is retried, under which mode ------------------------------------------------


def _status_error(status: int, retry_after: float | None = None) -> APIStatusError:
    return status_error_from_response(httpx.Response(status), retry_after=retry_after)


def test_retry_modes_classify_failures() -> None:
    sent = APIConnectionError("reset", request_sent=True)
    unsent = APIConnectionError("refused", request_sent=False)
    busy, limited = _status_error(503), _status_error(429)
    assert [is_retryable(e) for e in (sent, unsent, busy, limited)] == [True] * 4  # "safe"
    assert [is_retryable(e, "unambiguous") for e in (sent, unsent, busy, limited)] == [
        False,  # the server may have acted: the idempotency lookup decides
        True,
        False,
        True,
    ]
    assert not any(is_retryable(e, "none") for e in (sent, unsent, busy, limited))
    assert not is_retryable(ValueError("a bug, not a fault"))
    assert not is_retryable(_status_error(404))


def test_transient_and_ambiguous_failures() -> None:
    sent = APIConnectionError("reset", request_sent=True)
    unreadable = UnreadableResponseError("200 with a body that is not JSON")
    assert is_transient(sent) and is_transient(unreadable) and is_transient(_status_error(502))
    assert not is_transient(_status_error(400)) and not is_transient(ValueError("bug"))
    assert is_ambiguous(sent) and is_ambiguous(unreadable) and is_ambiguous(_status_error(502))
    assert not is_ambiguous(APIConnectionError("refused", request_sent=False))
    assert not is_ambiguous(_status_error(429)) and not is_ambiguous(ValueError("bug"))


# --- RetryPolicy: validation, budget and pauses ----------------------------------------


def test_retry_policy_accepts_its_boundaries() -> None:
    RetryPolicy(retry_timeout=0.0, max_retries=0, initial_backoff=0.0, max_backoff=0.0)
    RetryPolicy(retry_timeout=0.5, initial_backoff=2.0, max_backoff=2.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry_timeout": -1.0}, "RetryPolicy retry_timeout must be >= 0 seconds, got -1.0."),
        ({"max_retries": -1}, "max_retries must be >= 0 or None, got -1."),
        ({"initial_backoff": -0.1}, "RetryPolicy needs 0 <= initial_backoff <= max_backoff."),
        (
            {"initial_backoff": 3.0, "max_backoff": 2.0},
            "RetryPolicy needs 0 <= initial_backoff <= max_backoff.",
        ),
    ],
)
def test_retry_policy_refuses_impossible_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_retry_policy_allows_retries_within_the_budget_and_the_cap() -> None:
    policy = RetryPolicy(retry_timeout=10.0, max_retries=2)
    assert policy.allows(2, spent=10.0) and not policy.allows(2, spent=10.1)
    assert not policy.allows(3, spent=0.0)  # over the retry cap
    assert policy.allows(5, spent=20.0, budget=20.0)  # a wait's deadline: no cap


def test_pause_shortens_the_backoff_to_the_deadline_but_keeps_retry_after() -> None:
    policy = RetryPolicy(initial_backoff=4.0, jitter=lambda: 1.0)
    assert policy.pause(1, _status_error(503), left=1.5) == 1.5
    assert policy.pause(1, _status_error(503), left=-2.0) == 0.0
    assert policy.pause(1, _status_error(429, retry_after=30.0), left=1.5) == 30.0


def test_a_retry_after_past_the_budget_gives_up_at_once() -> None:
    api = ScriptedAPI().on(
        "GET", PATH, httpx.Response(429, headers={"Retry-After": "30"}), execution()
    )
    with pytest.raises(RateLimitError):
        api.client(retry=RetryPolicy(retry_timeout=10.0)).get_execution("ex-1")
    assert api.sleeps == [] and api.calls("GET", PATH) == 1  # no sleep past the budget


def _state_after(seconds: float, idle: float, exc: BaseException) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = 3
    state.idle_for = idle
    try:
        raise exc
    except type(exc):
        state.set_exception(sys.exc_info())  # type: ignore[arg-type]
    state.outcome_timestamp = state.start_time + seconds
    return state


def test_time_spent_in_slow_attempts_counts_against_the_budget() -> None:
    stop = RetryPolicy(retry_timeout=90.0).tenacity_kwargs("safe")["stop"]
    assert stop(_state_after(95.0, idle=2.0, exc=_status_error(503)))  # slow attempts
    assert not stop(_state_after(5.0, idle=2.0, exc=_status_error(503)))


def test_giving_up_says_how_long_the_call_was_retried() -> None:
    gave_up = RetryPolicy().tenacity_kwargs("safe")["retry_error_callback"]
    with pytest.raises(InternalServerError) as info:
        gave_up(_state_after(30.0, idle=2.0, exc=_status_error(503)))
    assert "[gave up after 3 attempts in 30.0s]" in str(info.value)
