"""RequestBudget pinned down: backlog, holds after a 429 (capped), slow-down and recovery.

Every budget here runs on an injected clock, so nothing sleeps for real.
"""

from __future__ import annotations

import math
import time

import httpx
import pytest

from langchain_vlmrun import RequestBudget
from langchain_vlmrun.client._budget import MAX_HOLD, MAX_SLOWDOWN
from langchain_vlmrun.client._retry import RetryPolicy
from tests.mock_api import ScriptedAPI, execution

PATH = "/agent/executions/ex-1"


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def budget_at(
    now: float = 0.0, rpm: float = 60, *, burst: int = 1, slowdown: float = 1.5
) -> tuple[RequestBudget, FakeClock]:
    """A budget without headroom (round numbers) on a fake clock reading ``now``."""
    clock = FakeClock(now)
    budget = RequestBudget(rpm, burst=burst, slowdown=slowdown, headroom=0.0, clock=clock)
    return budget, clock


# -- construction --------------------------------------------------------------------


@pytest.mark.parametrize("rpm", [0, -1, -0.5, math.nan, math.inf])
def test_a_rate_that_is_not_positive_and_finite_is_refused(rpm: float) -> None:
    with pytest.raises(ValueError) as info:
        RequestBudget(rpm)
    assert str(info.value) == (
        "requests_per_minute must be positive and finite (None means unlimited)"
    )


def test_a_rate_under_one_per_minute_is_a_budget() -> None:
    budget, _ = budget_at(rpm=0.5)
    assert budget.requests_per_minute == 0.5
    assert [budget.reserve() for _ in range(3)] == [0.0, 120.0, 240.0]


def test_defaults_headroom_slowdown_burst_and_the_monotonic_clock() -> None:
    budget = RequestBudget(30)
    assert budget.requests_per_minute == 30
    assert budget.clock is time.monotonic
    assert budget.nominal_interval == pytest.approx(2.0 * 1.02)
    assert budget.interval == budget.nominal_interval
    assert budget.burst == 1 and budget.slowdown == 1.5
    assert budget.reserved == 0 and budget.penalties == 0
    assert budget.reserve() == 0.0  # first request on the real clock: no wait


@pytest.mark.parametrize("burst", [0, -3, 1])
def test_a_burst_under_one_is_one(burst: int) -> None:
    budget, _ = budget_at(rpm=30, burst=burst)
    assert budget.burst == 1
    assert [budget.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("rpm", "expected"), [(30, [0.0, 0.0, 0.0, 2.0, 4.0]), (120, [0.0] * 3 + [0.5, 1.0])]
)
def test_burst_tolerance_is_burst_minus_one_intervals(rpm: float, expected: list[float]) -> None:
    budget, _ = budget_at(rpm=rpm, burst=3)
    assert [budget.reserve() for _ in range(5)] == pytest.approx(expected)
    assert budget.reserved == 5


# -- backlog -------------------------------------------------------------------------


@pytest.mark.parametrize("now", [0.0, 1_000_000.0])
@pytest.mark.parametrize("burst", [1, 3])
def test_backlog_of_a_fresh_budget_is_zero(now: float, burst: int) -> None:
    budget, _ = budget_at(now, burst=burst)
    assert budget.backlog() == 0.0
    assert budget.reserve() == 0.0


def test_backlog_after_a_long_idle_period_is_zero() -> None:
    budget, clock = budget_at(1_000.0)
    budget.reserve()
    budget.reserve()
    clock.now += 3_600.0
    assert budget.backlog() == 0.0


def test_backlog_with_burst_room_left_is_zero() -> None:
    """An idle budget with burst room lets a request go at once: backlog must say so.

    It used to return the distance to the theoretical next slot (one interval, 1 s at
    60/min), so a poll paused 1 s for a slot it did not need.
    """
    budget, _ = budget_at(1_000.0, burst=3)
    assert budget.reserve() == 0.0
    assert budget.backlog() == 0.0  # was 1.0
    assert budget.reserve() == 0.0
    assert budget.backlog() == 0.0  # was 2.0
    assert budget.reserve() == 0.0
    assert budget.backlog() == 1.0  # the burst is used up: the next slot is 1 s away
    assert budget.reserve() == 1.0


def test_backlog_is_what_the_next_reserve_waits_and_books_nothing() -> None:
    budget, clock = budget_at(rpm=30, burst=2)
    for step in range(8):
        clock.now = step * 0.75
        waiting = budget.backlog()
        assert budget.backlog() == waiting  # a peek books nothing
        assert budget.reserve() == waiting
    assert budget.reserved == 8


def test_backlog_counts_down_with_the_clock() -> None:
    budget, clock = budget_at()
    budget.reserve()
    assert budget.backlog() == 1.0
    clock.now = 0.25
    assert budget.backlog() == 0.75
    clock.now = 0.999
    assert budget.backlog() == pytest.approx(0.001)
    clock.now = 5.0
    assert budget.backlog() == 0.0


def _poll_twice(budget: RequestBudget | None) -> list[float]:
    api = ScriptedAPI().on("GET", PATH, execution(status="running"), execution(status="completed"))
    if budget is not None:
        budget.clock = api.clock
    api.client(budget=budget).wait("ex-1")
    return api.sleeps


def test_a_poll_on_a_budget_with_burst_room_is_not_stretched() -> None:
    unbudgeted = _poll_twice(None)
    budget = RequestBudget(6, burst=2, headroom=0.0)  # one per 10 s, two at once
    sleeps = _poll_twice(budget)
    assert sleeps == unbudgeted and len(sleeps) == 1  # the poll's own pause; was 10 s
    assert sleeps[0] < 10.0
    assert budget.reserved == 2


# -- penalties and slow-down ---------------------------------------------------------


def test_one_penalty_counts_once_and_slows_by_slowdown() -> None:
    budget, _ = budget_at()
    budget.penalize(0.0)
    assert budget.penalties == 1
    assert budget.interval == 1.5  # the default slowdown
    assert budget.nominal_interval == 1.0  # the nominal pace is kept to come back to


def test_penalties_count_every_429_and_the_slow_down_stops_at_eight_times() -> None:
    budget, _ = budget_at(rpm=30, slowdown=2.0)  # nominal 2 s
    intervals = []
    for _ in range(6):
        budget.penalize(0.0)
        intervals.append(budget.interval)
    assert budget.penalties == 6
    assert intervals == [4.0, 8.0, 16.0, 16.0, 16.0, 16.0]  # capped at 8 x 2 s
    assert MAX_SLOWDOWN == 8.0


def test_the_slow_down_cap_is_exact_when_a_step_overshoots_it() -> None:
    budget, _ = budget_at()
    for _ in range(4):
        budget.penalize(0.0)  # 1.5, 2.25, 3.375, 5.0625
    assert budget.interval == 1.5**4
    budget.penalize(0.0)  # 7.59375
    budget.penalize(0.0)  # 11.39... -> 8
    assert budget.interval == 8.0
    for _ in range(50):
        budget.penalize(None)
        assert budget.interval == 8.0
    assert budget.penalties == 56


def test_the_slowed_pace_spaces_the_requests_after_the_hold() -> None:
    budget, _ = budget_at()
    budget.penalize(3.0)
    assert [budget.reserve() for _ in range(3)] == [3.0, 4.5, 6.0]


def test_successes_recover_five_percent_each_down_to_nominal() -> None:
    budget, _ = budget_at(slowdown=2.0)
    budget.succeeded()
    assert budget.interval == 1.0  # nothing to recover from
    budget.penalize(0.0)
    budget.succeeded()
    assert budget.interval == 2.0 * 0.95
    budget.succeeded()
    assert budget.interval == 2.0 * 0.95 * 0.95
    for _ in range(100):
        budget.succeeded()
    assert budget.interval == 1.0  # exactly nominal, never faster
    assert budget.penalties == 1


def test_penalize_none_holds_everybody_for_one_slowed_interval() -> None:
    budget, clock = budget_at(100.0)
    budget.penalize(None)
    assert budget.penalties == 1 and budget.interval == 1.5
    assert budget.backlog() == 1.5
    clock.now = 101.0
    assert budget.backlog() == 0.5
    assert [budget.reserve() for _ in range(2)] == [0.5, 2.0]


def test_penalize_none_with_a_custom_slowdown_holds_the_slowed_interval() -> None:
    budget, _ = budget_at(rpm=30, slowdown=3.0)
    budget.penalize(None)
    assert budget.backlog() == 6.0


# -- the hold of a 429 ---------------------------------------------------------------


def test_the_hold_starts_at_the_clock_of_the_429() -> None:
    budget, clock = budget_at(100.0)
    budget.penalize(10.0)
    assert budget.backlog() == 10.0
    clock.now = 105.0
    assert budget.backlog() == 5.0
    clock.now = 111.0
    assert budget.backlog() == 0.0
    assert budget.reserve() == 0.0


def test_a_shorter_retry_after_does_not_shorten_an_earlier_hold() -> None:
    budget, _ = budget_at()
    budget.penalize(30.0)
    budget.penalize(5.0)
    assert budget.backlog() == 30.0
    assert budget.penalties == 2


def test_the_hold_holds_a_burst_too() -> None:
    """With burst room a request used to leave (burst - 1) intervals before Retry-After."""
    budget, _ = budget_at(burst=3)
    budget.penalize(10.0)
    delays = [budget.reserve() for _ in range(4)]
    assert min(delays) == 10.0  # was 7.0: three seconds before the server's Retry-After
    assert delays == [10.0, 10.0, 10.0, 11.5]


@pytest.mark.parametrize(
    ("retry_after", "hold"),
    [
        (0.0, 0.0),
        (2.5, 2.5),
        (59.5, 59.5),
        (60.0, 60.0),
        (60.5, 60.0),
        (864_000.0, 60.0),  # "Retry-After: 864000": ten days
        (math.inf, 60.0),
        (-5.0, 0.0),
        (-math.inf, 0.0),
        (math.nan, 1.5),  # no usable value: one (slowed) interval, as for None
    ],
)
def test_a_hostile_retry_after_gives_a_bounded_hold(retry_after: float, hold: float) -> None:
    budget, clock = budget_at(1_000.0)
    budget.penalize(retry_after)
    assert budget.penalties == 1
    assert budget.backlog() == hold
    assert budget.reserve() == hold
    assert budget.reserve() == hold + 1.5  # then the slowed pace, nothing stuck
    clock.now += 3_600.0
    assert budget.backlog() == 0.0 and budget.reserve() == 0.0  # the budget recovers


def test_the_hold_cap_is_the_retry_policys_cap() -> None:
    assert MAX_HOLD == 60.0 == RetryPolicy().max_retry_after


@pytest.mark.parametrize("header", ["864000", "1e300"])
def test_a_client_is_not_held_past_the_cap_by_a_huge_retry_after(header: str) -> None:
    api = ScriptedAPI().on("GET", PATH, httpx.Response(429, headers={"Retry-After": header}))
    api.on("GET", PATH, execution())
    budget = RequestBudget(60, clock=api.clock)
    api.client(budget=budget).get_execution("ex-1")
    # the retry policy waits its capped 60 s; the budget then lets the retry go (it
    # used to add 863940 s, or an infinite sleep)
    assert api.sleeps == [60.0]
    assert budget.penalties == 1 and api.calls("GET", PATH) == 2


async def test_an_async_client_is_not_held_forever_by_retry_after_inf() -> None:
    api = ScriptedAPI().on("GET", PATH, httpx.Response(429, headers={"Retry-After": "inf"}))
    api.on("GET", PATH, execution())
    budget = RequestBudget(60, clock=api.clock)
    async with api.async_client(budget=budget) as client:
        await client.get_execution("ex-1")
    # "inf" is no usable hint: the retry backs off as without one, the budget holds
    # for one slowed interval (it used to be an infinite sleep)
    assert len(api.sleeps) == 2 and sum(api.sleeps) < 2.0


def test_a_pickled_budget_keeps_its_settings_and_starts_fresh() -> None:
    """A copy in another process (Dask, Ray) paces that process: same settings, none of
    the original's bookings or penalties."""
    import pickle

    budget = RequestBudget(120, burst=3, slowdown=2.5, headroom=0.2, clock=time.monotonic)
    budget.reserve()
    budget.penalize(1.0)
    copy = pickle.loads(pickle.dumps(budget))
    settings = ("requests_per_minute", "burst", "slowdown", "headroom", "nominal_interval")
    assert [getattr(copy, name) for name in settings] == [
        getattr(budget, name) for name in settings
    ]
    assert copy.clock is time.monotonic
    assert (copy.reserved, copy.penalties, copy.interval) == (0, 0, copy.nominal_interval)
    assert (budget.reserved, budget.penalties) == (1, 1)
