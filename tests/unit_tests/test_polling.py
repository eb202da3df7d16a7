"""Poll timing: the schedule's grid, what DurationMemory learns, and whole workloads on
a virtual clock (``tests.support.Workload``: many jobs, mixed durations, lazy or exact
timestamps, lost webhook deliveries) compared with not learning at all."""

from __future__ import annotations

import logging
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_vlmrun import PollSchedule
from langchain_vlmrun.client._polling import (
    MIN_SAMPLES,
    SLOWER,
    DeliveryHealth,
    DurationMemory,
    Probe,
)
from tests.support import Workload

# --- the grid -----------------------------------------------------------------------


@given(
    ages=st.lists(st.floats(min_value=0, max_value=1_000), min_size=2, max_size=5),
    initial=st.floats(min_value=0.1, max_value=10),
    multiplier=st.floats(min_value=1, max_value=3),
    maximum=st.floats(min_value=0.01, max_value=60),
)
def test_next_poll_follows_the_grid_by_age(
    ages: list[float], initial: float, multiplier: float, maximum: float
) -> None:
    schedule = PollSchedule(initial=initial, multiplier=multiplier, maximum=maximum)
    # from submission, the grid is the plain schedule's sleeps added up
    at, expected = 0.0, []
    for polls in range(12):
        at += schedule.interval(polls)
        expected.append(at)
    walked = [schedule.next_poll(0.0)]
    for _ in range(11):
        walked.append(schedule.next_poll(walked[-1]))
    assert walked == pytest.approx(expected, rel=1e-6)
    # from any age: strictly later, at most one (capped) interval later, never backwards
    for age in ages:
        after = schedule.next_poll(age)
        assert age < after <= age + max(initial, maximum) * (1 + 1e-9) + 1e-9
    ordered = sorted(ages)
    polls = [schedule.next_poll(age) for age in ordered]
    assert polls == sorted(polls)


def test_the_immediate_schedule_polls_at_once() -> None:
    assert PollSchedule.immediate().next_poll(3.0) == 3.0


# --- DurationMemory -----------------------------------------------------------------


def test_nothing_is_probed_before_two_jobs_and_a_zero_bound_teaches_nothing() -> None:
    memory = DurationMemory()
    memory.observe("k", lower=0.0, upper=0.0, server=None)
    memory.observe("k", lower=0.5, upper=1.25, server=None)
    assert MIN_SAMPLES == 2 and memory.probe("k") is None and memory.expected("k") is None
    memory.observe("k", lower=0.5, upper=1.25, server=None)
    assert memory.probe("k") is not None and memory.expected("k") == 1.25


def test_one_slow_job_cannot_set_where_the_next_one_is_probed() -> None:
    memory = DurationMemory()
    memory.observe("k", lower=6.6, upper=10.4, server=None)  # an 8 s job, seen on the grid
    memory.observe("k", lower=0.5, upper=1.25, server=None)  # a short one
    probe = memory.probe("k")
    assert probe is not None and probe.at <= 1.25 and probe.then[-1] == pytest.approx(1.25 * 1.15)


def test_exact_timestamps_probe_at_the_lower_quartile_and_follow_up_at_the_upper() -> None:
    memory = DurationMemory()
    for server in [1.0, 2.0, 3.0, 4.0, 100.0]:
        memory.observe("k", lower=0.0, upper=200.0, server=server)
    assert memory.probe("k") == Probe(2.0, then=(4.0,))  # 100 s is one slow job, not the rule
    few = DurationMemory()
    for server in [1.0, 1.0]:
        few.observe("k", lower=0.0, upper=2.0, server=server)
    assert few.probe("k") == Probe(1.0, scan_from=0.0)  # too few to skip the grid below


def test_timestamps_are_trusted_only_clearly_inside_the_observed_interval() -> None:
    at_margin = DurationMemory()
    for _ in range(2):  # 5 % before we looked is not clearly before
        at_margin.observe("k", lower=0.0, upper=20.0, server=19.0)
    assert at_margin.probe("k") == Probe(10.0, (20.0, 23.0), 0.0, exploring=True, slot=0.5)
    just_inside = DurationMemory()
    for _ in range(2):
        just_inside.observe("k", lower=0.0, upper=20.0, server=18.9)
    assert just_inside.probe("k") == Probe(18.9, scan_from=0.0)
    zero = DurationMemory()
    zero.observe("k", lower=0.0, upper=10.0, server=5.0)  # proves exact
    zero.observe("k", lower=0.0, upper=4.0, server=0.0)  # a zero duration is not credible
    assert zero.probe("k") is None  # one credible sample so far


def test_jobs_running_at_once_explore_different_points_and_give_them_back() -> None:
    memory = DurationMemory()
    for _ in range(2):
        memory.observe("k", lower=0.0, upper=16.0, server=None)
    probes = [memory.probe("k") for _ in range(5)]
    assert [p.at for p in probes if p] == [8.0, 12.0, 14.0, 10.0, 16.0]  # the 5th exploits
    assert [p.exploring for p in probes if p] == [True] * 4 + [False]
    memory.release("k", probes[0])
    again = memory.probe("k")
    assert again is not None and again.at == 8.0 and again.exploring


def test_a_probe_that_finds_the_job_done_below_the_usual_end_moves_it_down_at_once() -> None:
    memory = DurationMemory()
    for _ in range(2):
        memory.observe("k", lower=6.0, upper=10.0, server=None)
    probe = memory.probe("k")
    assert probe is not None and probe.exploring and probe.at == 5.0
    memory.observe("k", lower=0.0, upper=5.0, server=None, probe=probe, hit=True)
    assert memory._kinds["k"].ceiling == 5.0


def test_the_usual_end_moves_up_only_when_most_jobs_run_past_it() -> None:
    memory = DurationMemory()
    for _ in range(2):
        memory.observe("k", lower=0.95, upper=1.0, server=None)
    kind = memory._kinds["k"]
    kind.floor = 0.99  # a closed bracket: every job is probed at the usual end
    at_end = memory.probe("k")
    assert at_end == Probe(1.0, then=(1.15,))
    # slow jobs of another sort (found later by the grid) do not move it...
    for _ in range(SLOWER - 1):
        memory.observe("k", lower=1.0, upper=10.4, server=None, probe=at_end)
    assert kind.ceiling == 1.0
    # ...until nearly every job is one of them
    memory.observe("k", lower=1.0, upper=10.4, server=None, probe=at_end)
    assert kind.ceiling == 10.4 and kind.floor == 0.0
    # near misses (found by the follow-up) move it up after three of the last eight
    near = DurationMemory()
    for _ in range(2):
        near.observe("k", lower=0.95, upper=1.0, server=None)
    near._kinds["k"].floor = 0.99
    for count in range(3):
        near.observe("k", lower=1.0, upper=1.15, server=None, probe=at_end)
        assert near._kinds["k"].ceiling == (1.15 if count == 2 else 1.0)


def test_durations_are_learned_per_kind() -> None:
    memory = DurationMemory()
    for _ in range(2):
        memory.observe("a", lower=0.0, upper=5.0, server=None)
    assert memory.probe("a") is not None and memory.probe("b") is None


# --- whole workloads on a virtual clock ---------------------------------------------

STAMPS = ["lazy", "exact", "missing"]


def learned_and_unlearned(durations: list[float], **options: object) -> tuple[Workload, Workload]:
    learned = Workload(durations, learn=True, **options).run()  # type: ignore[arg-type]
    unlearned = Workload(durations, learn=False, **options).run()  # type: ignore[arg-type]
    return learned, unlearned


@pytest.mark.parametrize("stamps", STAMPS)
@pytest.mark.parametrize("slow_at", [(3, 11), (0, 1)], ids=["slow-inside", "slow-first"])
def test_a_mixed_sequence_is_never_slower_than_not_learning(
    stamps: str, slow_at: tuple[int, ...]
) -> None:
    # 20 jobs one after another: 18 short, 2 of 8 s (the workload)
    durations = [8.0 if i in slow_at else 0.55 for i in range(20)]
    learned, unlearned = learned_and_unlearned(durations, stamps=stamps)
    assert learned.makespan <= 1.1 * unlearned.makespan
    assert learned.mean_polls() <= unlearned.mean_polls()
    # the short jobs after a slow one are not made to wait for the slow one's time
    after_slow = [i + 1 for i in slow_at if i + 1 not in slow_at]
    assert all(learned.latency[i] <= unlearned.latency[i] for i in after_slow)


@pytest.mark.parametrize("stamps", STAMPS)
def test_a_mixed_batch_is_never_slower_than_not_learning(stamps: str) -> None:
    # 120 files, 8 at a time, 1 in 20 of them 8 s jobs
    durations = [8.0 if i % 20 == 7 else 0.55 for i in range(120)]
    learned, unlearned = learned_and_unlearned(durations, stamps=stamps, concurrency=8)
    assert learned.makespan <= 1.05 * unlearned.makespan
    assert learned.mean_polls() <= unlearned.mean_polls()


@pytest.mark.parametrize("stamps", ["lazy", "exact"])
def test_a_uniform_batch_finishes_near_the_physical_limit_with_one_poll_a_document(
    stamps: str,
) -> None:
    learned = Workload([1.0] * 200, concurrency=8, stamps=stamps).run()
    limit = math.ceil(200 / 8) * 1.0
    assert learned.makespan <= 1.05 * limit
    assert learned.mean_polls() <= 1.15  # the first wave polls on the grid (2 each)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    fast=st.floats(min_value=0.3, max_value=5.0),
    slowdown=st.floats(min_value=1.5, max_value=30.0),
    slow_share=st.floats(min_value=0.0, max_value=0.5),
    jitter=st.floats(min_value=0.0, max_value=0.1),
    concurrency=st.sampled_from([1, 4]),
    stamps=st.sampled_from(STAMPS),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_learning_stays_near_not_learning_on_any_mix_of_two_durations(
    fast: float,
    slowdown: float,
    slow_share: float,
    jitter: float,
    concurrency: int,
    stamps: str,
    seed: int,
) -> None:
    import random

    draw = random.Random(seed)
    durations = [
        (fast * slowdown if draw.random() < slow_share else fast)
        * (1 + draw.uniform(-jitter, jitter))
        for _ in range(60)
    ]
    learned, unlearned = learned_and_unlearned(durations, stamps=stamps, concurrency=concurrency)
    assert learned.mean_latency() <= 1.2 * unlearned.mean_latency()
    assert learned.mean_polls() <= unlearned.mean_polls() + 0.75


# --- webhooks that degrade to polling -------------------------------------------------


def test_lost_deliveries_cost_only_the_first_jobs_safety_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = DeliveryHealth()
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        lost = Workload([0.5] * 6, delivery=lambda index: None, deliveries=health).run()
    assert lost.latency[0] == 15.0  # the first job waited for its callback, then polled
    assert all(lost.latency[i] <= 5.0 for i in range(1, 6))  # the rest: polled as usual
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "https://hooks.test/vlmrun" in warnings[0]
    assert health.silent("https://hooks.test/vlmrun")
    # the safety poll's find taught no duration (it was not a delivery)
    assert all(upper < 15.0 for kind in lost.memory._kinds.values() for _, upper in kind.samples)


def test_deliveries_that_come_back_end_the_polling() -> None:
    health = DeliveryHealth()
    # the first two deliveries are lost, then they arrive 0.2 s after each job ends
    back = Workload(
        [3.0] * 6,
        delivery=lambda index: None if index < 2 else 0.2,
        deliveries=health,
    ).run()
    assert not health.silent("https://hooks.test/vlmrun")
    assert back.polls[5] == 0  # woken by its delivery, no poll
    assert all(back.latency[i] <= 3.3 for i in range(2, 6))


def test_a_delivered_job_is_learned_and_the_next_safety_wait_goes_past_it() -> None:
    health = DeliveryHealth()
    work = Workload([25.0] * 4, delivery=lambda index: 0.0, deliveries=health).run()
    # the first two jobs poll once at 15 s (nothing learned yet); later ones wait past
    # twice the 25 s learned, and their deliveries come first
    assert [work.polls[i] for i in range(4)] == [1, 1, 0, 0]
    (kind,) = work.memory._kinds
    assert work.memory.expected(kind) == 25.0


def test_when_durations_vary_one_probe_in_eight_scouts_below_the_usual_end() -> None:
    from langchain_vlmrun.client._polling import SCOUT_EVERY

    memory = DurationMemory()
    for upper in (10.0, 10.0, 14.0, 20.0):  # varied: an interquartile range of 40 %
        memory.observe("k", lower=0.0, upper=upper, server=None)
    kind = memory._kinds["k"]
    kind.floor = 9.9  # a closed bracket: exploiting at the usual end (10 s)
    probes = [memory.probe("k") for _ in range(2 * SCOUT_EVERY)]
    scouts = [p for p in probes if p is not None and p.scan_from is not None]
    assert len(scouts) == 2 and all(p.at == 10.0 and not p.exploring for p in scouts)
    # a scout that finds a job done at a look below the probe brings the end down
    memory.observe("k", lower=2.5, upper=5.0, server=None, probe=scouts[0], hit=True)
    assert kind.ceiling == 5.0 and kind.floor == 2.5
    # uniform durations never scout
    steady = DurationMemory()
    for _ in range(4):
        steady.observe("k", lower=0.0, upper=10.0, server=None)
    steady._kinds["k"].floor = 9.9
    assert all(p and p.scan_from is None for p in (steady.probe("k") for _ in range(16)))
