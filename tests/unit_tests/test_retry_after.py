"""A server's Retry-After, however it is written, is a bounded pause or no pause hint."""

from __future__ import annotations

import httpx
import pytest

from langchain_vlmrun.client._retry import RetryPolicy, parse_retry_after
from tests.mock_api import ScriptedAPI, execution


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2.5", 2.5),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("0", 0.0),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("1e999", None),  # overflows to inf
        ("", None),
        ("soon", None),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 6.0),
    ],
)
def test_retry_after_values(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header, now=4.0) == seconds


@pytest.mark.parametrize("header", ["inf", "nan", "864000", "1e999"])
def test_a_hostile_retry_after_is_paused_at_most_the_cap(header: str) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        httpx.Response(503, headers={"Retry-After": header}),
        execution(status="completed"),
    )
    client = api.client(retry=RetryPolicy(jitter=lambda: 1.0))
    assert client.get_execution("ex-1").status == "completed"
    assert len(api.sleeps) == 1 and 0 < api.sleeps[0] <= 60.0
