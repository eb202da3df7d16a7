"""Request budget arithmetic (injected clock), 429 slow-down, metering, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from langchain_vlmrun import RateLimitError, RequestBudget
from langchain_vlmrun.client import count_requests
from langchain_vlmrun.webhooks import verify_webhook_signature
from tests.mock_api import ScriptedAPI, execution, json_body


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_are_spaced_to_the_budget() -> None:
    clock = FakeClock()
    budget = RequestBudget(100, headroom=0.0, clock=clock)
    delays = [budget.reserve() for _ in range(5)]
    assert delays == pytest.approx([0.0, 0.6, 1.2, 1.8, 2.4])
    clock.now = 10.0  # idle time does not bank unlimited credit
    assert budget.reserve() == 0.0
    assert budget.reserve() == pytest.approx(0.6)


def test_burst_lets_a_few_go_ahead() -> None:
    budget = RequestBudget(60, burst=3, headroom=0.0, clock=FakeClock())
    assert [budget.reserve() for _ in range(5)] == pytest.approx([0.0, 0.0, 0.0, 1.0, 2.0])


def test_budget_is_shared_across_threads() -> None:
    clock = FakeClock()
    budget = RequestBudget(60, headroom=0.0, clock=clock)
    delays: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(25):
            d = budget.reserve()
            with lock:
                delays.append(d)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delays) == pytest.approx([float(i) for i in range(100)])  # no slot given twice


def test_429_holds_everybody_and_slows_down() -> None:
    clock = FakeClock()
    budget = RequestBudget(60, headroom=0.0, clock=clock, slowdown=2.0)
    assert budget.reserve() == 0.0
    budget.penalize(retry_after=10.0)
    assert budget.reserve() == pytest.approx(10.0)
    assert budget.reserve() == pytest.approx(12.0)  # pace halved after the refusal
    for _ in range(100):
        budget.succeeded()
    assert budget.interval == pytest.approx(1.0)  # recovers to nominal


def test_client_waits_for_budget_and_counts_requests() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="completed"))
    client = api.client(budget=RequestBudget(30, headroom=0.0, clock=api.clock))
    with count_requests() as counter:
        for _ in range(3):
            client.get_execution("ex-1")
    assert api.sleeps == pytest.approx([2.0, 2.0])
    assert counter.requests == 3 and client.requests.requests == 3


def test_client_429_penalizes_shared_budget() -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        httpx.Response(429, headers={"Retry-After": "5"}),
        execution(),
    )
    budget = RequestBudget(60, clock=api.clock)
    api.client(budget=budget).get_execution("ex-1")
    assert budget.penalties == 1
    assert api.calls("GET", "/agent/executions/ex-1") == 2


def test_polls_yield_to_a_busy_budget() -> None:
    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", execution(status="running"), execution(status="completed")
    )
    budget = RequestBudget(6, headroom=0.0, clock=api.clock)  # one request per 10 s
    client = api.client(budget=budget)
    client.wait("ex-1")
    # the 0.75 s poll pause is stretched to the 10 s backlog instead of booking a slot
    # ahead of other requests; the poll then goes out without further delay
    assert api.sleeps == pytest.approx([10.0])
    assert budget.reserved == 2


async def test_async_client_shares_budget_arithmetic() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="completed"))
    async with api.async_client(budget=RequestBudget(60, headroom=0.0, clock=api.clock)) as client:
        with count_requests() as counter:
            await client.get_execution("ex-1")
            await client.get_execution("ex-1")
    assert api.sleeps == pytest.approx([1.0]) and counter.requests == 2


def test_rate_limit_error_still_raised_when_exhausted() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", httpx.Response(429))
    with pytest.raises(RateLimitError):
        api.client(
            max_retries=1, retry=None, budget=RequestBudget(600, clock=api.clock)
        ).get_execution("ex-1")


BODY = b'{"id":"ex-1","status":"completed"}'
SECRET = "whsec_test"
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_webhook_signature_good() -> None:
    assert verify_webhook_signature(BODY, GOOD, SECRET)
    assert verify_webhook_signature(
        BODY, GOOD.upper().replace("SHA256", "sha256"), SecretStr(SECRET)
    )


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (BODY + b" ", GOOD),  # tampered body
        (BODY, GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")),  # tampered signature
        (BODY, None),  # missing
        (BODY, ""),
        (BODY, GOOD.replace("sha256=", "sha1=")),  # wrong scheme
        (BODY, GOOD.removeprefix("sha256=")),  # no scheme
    ],
)
def test_webhook_signature_rejected(body: bytes, header: str | None) -> None:
    assert not verify_webhook_signature(body, header, SECRET)


def test_webhook_wrong_secret() -> None:
    assert not verify_webhook_signature(BODY, GOOD, "other")


def test_budget_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        RequestBudget(0)


def test_default_headroom_keeps_just_under_the_limit() -> None:
    budget = RequestBudget(100, clock=FakeClock())
    delays = [budget.reserve() for _ in range(101)]
    assert delays[100] > 60.0  # the 101st request never lands inside the first minute
    assert delays[100] < 62.0  # and the pace stays within 2 % of the limit


def test_callback_url_is_passed_through_by_tool_loader_and_client(tmp_path: Any) -> None:
    from langchain_vlmrun import VLMRunAgentTool, VLMRunLoader

    def api() -> ScriptedAPI:
        scripted = ScriptedAPI().on(
            "POST", "/agent/execute", httpx.Response(201, json={"id": "ex-1", "status": "enqueued"})
        )
        return scripted.on(
            "GET", "/agent/executions/ex-1", execution(status="completed", response={"text": "t"})
        )

    hook = "https://hooks.example.com/vlmrun"
    url = "https://example.com/a.pdf"
    sent = []
    for run in (
        lambda c: c.run(url, prompt="p", callback_url=hook),
        lambda c: VLMRunLoader(url, prompt="p", client=c, callback_url=hook).load(),
        lambda c: VLMRunAgentTool(prompt="p", client=c, callback_url=hook).invoke({"file": url}),
    ):
        scripted = api()
        run(scripted.client())
        sent.append(json_body(scripted.requests[0])["callback_url"])
    assert sent == [hook, hook, hook]
