"""RedisRequestBudget: one budget shared by processes, against a real Redis server."""

from __future__ import annotations

import math
import multiprocessing
import sys
from typing import Any

import httpx
import pytest
import redis

from langchain_vlmrun.scaleout.redis_budget import RedisRequestBudget
from tests.mock_api import ScriptedAPI, execution

# 5 per minute: the tests book slots minutes ahead without waiting for them, so the
# arithmetic never depends on how fast this machine runs the test
RPM, WINDOW, LIMIT = 5, 60.0, 5


def book_slots(url: str, barrier: Any, count: int, results: Any) -> None:
    """One worker process: book ``count`` slots as fast as it can."""
    budget = RedisRequestBudget(RPM, redis=url, key="shared", window=WINDOW)
    barrier.wait()
    results.put([budget.reserve_slot().start for _ in range(count)])


def slots_from_two_processes(url: str, per_process: int) -> list[float]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=book_slots, args=(url, barrier, per_process, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    slots = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return sorted(slots[0] + slots[1])


@pytest.mark.processes
def test_two_processes_never_exceed_the_limit_in_any_window(redis_url: str) -> None:
    slots = slots_from_two_processes(redis_url, per_process=12)
    assert len(slots) == 24
    # at most LIMIT slots in any WINDOW: any LIMIT + 1 consecutive slots span >= WINDOW
    spans = [slots[i + LIMIT] - slots[i] for i in range(len(slots) - LIMIT)]
    assert min(spans) >= WINDOW
    # and no slot is wasted: each one opens exactly when the one LIMIT back leaves the
    # (headroom-stretched) window
    assert spans == pytest.approx([WINDOW * 1.02] * len(spans), abs=1e-5)


def test_separate_keys_do_not_share(redis_url: str) -> None:
    first = RedisRequestBudget(RPM, redis=redis_url, key="a", window=WINDOW)
    second = RedisRequestBudget(RPM, redis=redis_url, key="b", window=WINDOW)
    assert [first.reserve() for _ in range(LIMIT)] == [0.0] * LIMIT
    assert second.reserve() == 0.0
    assert first.reserve() > WINDOW / 2


def test_backlog_peeks_without_booking(redis_url: str) -> None:
    budget = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    for _ in range(LIMIT):
        budget.reserve()
    waiting = budget.backlog()
    assert waiting > WINDOW / 2
    assert budget.reserved == LIMIT
    assert 0 < budget.reserve() <= waiting  # the slot backlog saw (time only went on)


def test_a_429_in_one_worker_holds_and_slows_the_others(redis_url: str) -> None:
    refused = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    other = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    refused.penalize(retry_after=30.0)
    assert other.reserve() > 29.0  # held until Retry-After, though it saw no 429
    assert other.factor == pytest.approx(1.5)
    assert other.interval == pytest.approx(WINDOW * 1.02 * 1.5 / LIMIT)
    for _ in range(100):
        other.succeeded()
    assert refused.reserve_slot().factor == pytest.approx(1.0)  # recovered, for everyone


@pytest.mark.parametrize(
    ("retry_after", "held"),
    [
        (864000.0, 60.0),  # ten days: capped, as the retry policy caps it
        (math.inf, 60.0),
        (-5.0, 0.0),
        (math.nan, WINDOW * 1.02 * 1.5 / LIMIT),  # unusable: one slowed interval
        (None, WINDOW * 1.02 * 1.5 / LIMIT),
    ],
)
def test_a_hostile_retry_after_holds_every_worker_for_a_bounded_time(
    redis_url: str, retry_after: float | None, held: float
) -> None:
    refused = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    refused.penalize(retry_after)  # no error, whatever the header said
    other = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    assert other.backlog() == pytest.approx(held, abs=0.05)
    ttl_ms = redis.Redis.from_url(redis_url).pttl("{vlmrun:budget}:state")
    assert 0 < ttl_ms <= (held + 10 * WINDOW * 1.02 * 1.5 + 1) * 1000  # kept only so long


def test_succeeded_costs_no_round_trip_at_nominal_pace(redis_url: str) -> None:
    budget = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    budget.reserve()
    redis.Redis.from_url(redis_url).delete("{vlmrun:budget}:slots", "{vlmrun:budget}:state")
    budget.succeeded()  # nothing written back: the state stays absent
    assert not redis.Redis.from_url(redis_url).exists("{vlmrun:budget}:state")


def test_only_a_slowed_budget_asks_redis_after_a_success(redis_url: str) -> None:
    budget = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    runs: list[str] = []
    script = budget._script

    def counted(*, keys: list[str], args: list[object]) -> object:
        runs.append(str(args[0]))
        return script(keys=keys, args=args)

    budget._script = counted
    budget.reserve()
    budget.succeeded()
    assert runs == ["reserve"]  # at factor 1 a success asks Redis nothing
    budget.penalize(None)
    budget.penalize(2.0)
    budget.succeeded()  # slowed down: drifts back, through Redis
    assert runs == ["reserve", "penalize", "penalize", "succeeded"]
    assert budget.penalties == 2


def test_client_with_a_shared_budget_is_held_by_another_clients_429(redis_url: str) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        httpx.Response(429, headers={"Retry-After": "30"}),
        execution(status="completed"),
    )
    first = api.client(budget=RedisRequestBudget(6000, redis=redis_url))
    second = api.client(budget=RedisRequestBudget(6000, redis=redis_url))
    first.get_execution("ex-1")  # 429, then retried after the hold
    api.sleeps.clear()
    second.get_execution("ex-1")
    assert len(api.sleeps) == 1 and api.sleeps[0] > 25.0  # the hold, not its own pace
    assert api.calls("GET", "/agent/executions/ex-1") == 3


async def test_async_client_books_from_the_same_budget(redis_url: str) -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="completed"))
    budget = RedisRequestBudget(RPM, redis=redis_url, window=WINDOW)
    async with api.async_client(budget=budget) as client:
        for _ in range(LIMIT + 1):
            await client.get_execution("ex-1")
    assert budget.reserved == LIMIT + 1
    assert len(api.sleeps) == 1  # the sixth request waited for the window


def test_settings_that_allow_nothing_are_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="use a longer window"):
        RedisRequestBudget(10, redis=redis_url, window=1.0)
    for rate in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError) as refused:
            RedisRequestBudget(rate, redis=redis_url)
        assert str(refused.value) == (
            "requests_per_minute must be positive and finite (None means unlimited)"
        )


def test_a_decoding_client_is_refused(redis_url: str) -> None:
    with pytest.raises(
        ValueError, match=r"^pass a redis\.Redis client created with decode_responses=False$"
    ):
        RedisRequestBudget(10, redis=redis.Redis.from_url(redis_url, decode_responses=True))


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"langchain-vlmrun\[redis\]"):
        RedisRequestBudget(10, redis="redis://localhost:6379/0")


def test_both_budgets_fit_what_the_clients_need(redis_url: str) -> None:
    from langchain_vlmrun import RequestBudget
    from langchain_vlmrun.client._budget_protocol import Budget

    assert isinstance(RedisRequestBudget(RPM, redis=redis_url), Budget)
    assert isinstance(RequestBudget(RPM), Budget)


def test_what_a_budget_shows_before_and_after_it_is_used(redis_url: str) -> None:
    budget = RedisRequestBudget(10, redis=redis_url)
    assert repr(budget) == "RedisRequestBudget(10/min, key='vlmrun:budget', limit=10 per 61.2 s)"
    assert (budget.requests_per_minute, budget.key) == (10, "vlmrun:budget")
    assert budget.penalties == 0 and budget.reserved == 0
    assert budget.interval == pytest.approx(6.12)  # nominal: no round trip needed
    budget.succeeded()  # at the nominal pace: nothing to do
    budget.penalize(None)
    assert budget.penalties == 1 and budget.interval == pytest.approx(6.12 * 1.5)
    budget.reset()
    assert budget.interval == pytest.approx(6.12) and budget.backlog() == 0.0


def test_one_request_per_window_is_a_budget(redis_url: str) -> None:
    budget = RedisRequestBudget(1, redis=redis_url)  # one slot a minute: allowed
    assert budget.limit == 1 and budget.reserve() == 0.0
    assert budget.backlog() == pytest.approx(61.2, abs=0.1)
    with pytest.raises(ValueError) as refused:
        RedisRequestBudget(0.5, redis=redis_url)
    assert str(refused.value) == "0.5/min allows no request in a 60.0 s window; use a longer window"
