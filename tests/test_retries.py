"""Retry rules, with an injected sleep and clock (no real waiting)."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest

from langchain_vlmrun import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
)
from langchain_vlmrun._retry import RetryPolicy, parse_retry_after
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
