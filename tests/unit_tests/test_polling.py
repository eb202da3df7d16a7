"""Poll timing: the schedule's grid, what DurationMemory learns, and whole workloads on
a virtual clock (``tests.support.Workload``: many jobs, mixed durations, lazy or exact
timestamps, lost webhook deliveries) compared with not learning at all."""

from __future__ import annotations

import logging
import math
import random
from typing import Any

import httpx
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
from tests.support import Driver, Workload, waiting

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
    first = memory.probe("k")  # one sample: still the first wave (one job may be slow)
    assert MIN_SAMPLES == 2 and first is not None and first.first_wave
    assert memory.expected("k") is None
    memory.observe("k", lower=0.5, upper=1.25, server=None)
    learned = memory.probe("k")
    assert learned is not None and not learned.first_wave and memory.expected("k") == 1.25


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
    assert memory.probe("k") == Probe(
        2.0, then=(4.0,), exact=True
    )  # 100 s is one slow job, not the rule
    few = DurationMemory()
    for server in [1.0, 1.0]:
        few.observe("k", lower=0.0, upper=2.0, server=server)
    assert few.probe("k") == Probe(1.0, scan_from=0.0, exact=True)  # too few to skip the grid below


def test_timestamps_are_trusted_only_clearly_inside_the_observed_interval() -> None:
    at_margin = DurationMemory()
    for _ in range(2):  # 5 % before we looked is not clearly before
        at_margin.observe("k", lower=0.0, upper=20.0, server=19.0)
    assert at_margin.probe("k") == Probe(10.0, (20.0, 23.0), 0.0, exploring=True, slot=0.5)
    just_inside = DurationMemory()
    for _ in range(2):
        just_inside.observe("k", lower=0.0, upper=20.0, server=18.9)
    assert just_inside.probe("k") == Probe(18.9, scan_from=0.0, exact=True)
    zero = DurationMemory()
    zero.observe("k", lower=0.0, upper=10.0, server=5.0)  # proves exact
    zero.observe("k", lower=0.0, upper=4.0, server=0.0)  # a zero duration is not credible
    still = zero.probe("k")  # one credible sample so far: the first wave
    assert still is not None and still.first_wave


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
    a, b = memory.probe("a"), memory.probe("b")
    assert a is not None and not a.first_wave and b is not None and b.first_wave


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
@pytest.mark.parametrize("concurrency", [8, 32])
def test_a_uniform_batch_finishes_near_the_physical_limit_with_one_poll_a_document(
    stamps: str, concurrency: int
) -> None:
    learned = Workload([1.0] * 200, concurrency=concurrency, stamps=stamps).run()
    limit = math.ceil(200 / concurrency) * 1.0
    assert learned.makespan <= 1.05 * limit
    # upload + execute + at most 0.05 polls a document above one (3.05 requests), even
    # with completion stamped when a poll first sees it (nothing exact to learn from)
    assert learned.mean_polls() <= (1.05 if concurrency == 8 else 1.1)


def test_the_first_wave_shares_out_its_looks_and_gives_them_back() -> None:
    memory = DurationMemory()
    wave = [memory.probe("k", earliest=0.5) for _ in range(8)]
    assert all(p is not None and p.first_wave and p.at == 0.5 for p in wave)
    # every other job looks at its own share of the way between the grid's first two
    # polls (halving the gaps); the others only follow (their look is the second poll)
    assert [p.slot for p in wave if p] == [0.0, 1.0, 0.5, 1.0, 0.25, 1.0, 0.75, 1.0]
    view = memory.wave("k")
    assert view.state().shared and view.state().done_at is None
    for probe in wave[1:]:
        memory.release("k", probe)
    assert not view.state().shared  # alone: it sleeps to its polls, nothing to be woken by
    memory.observe("k", lower=0.875, upper=1.0625, server=None, probe=wave[0])
    assert view.state().done_at == 1.0625
    # one sample: still the first wave, but the next job looks where that one was done
    late = memory.probe("k", earliest=0.5)
    assert late is not None and late.first_wave and late.slot == 0.0


def test_each_first_wave_job_gives_its_place_back_once() -> None:
    memory = DurationMemory()
    wave = [memory.probe("k") for _ in range(3)]
    view = memory.wave("k")
    memory.release("k", wave[0])
    assert view.state().shared  # two left: one may still wake the other
    memory.release("k", wave[1])
    assert not view.state().shared
    memory.release("k", None)  # a wait that had no probe gives nothing back
    assert memory.wave("other").state() == (None, False, False)


def test_a_look_of_the_first_wave_that_saw_a_job_running_is_the_floor() -> None:
    memory = DurationMemory()
    memory.wave("k").ran(0.9)
    memory.wave("k").ran(0.8)  # the latest look counts, not the last one reported
    memory.observe("k", lower=0.0, upper=1.06, server=None)
    assert memory._kinds["k"].floor == 0.0  # no usual end yet (one job)
    memory.observe("k", lower=0.0, upper=1.08, server=None)
    kind = memory._kinds["k"]
    assert (kind.ceiling, kind.floor, kind.floor_age) == (1.06, 0.9, 0)
    # a look above the usual end says nothing of these jobs (it was a slower one)
    other = DurationMemory()
    other.wave("k").ran(2.0)
    for upper in (1.0, 1.1):
        other.observe("k", lower=0.0, upper=upper, server=None)
    assert other._kinds["k"].floor == 0.0


class _Recording(DurationMemory):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, float]] = []

    def observe(self, key: str, **kw: Any) -> None:
        self.seen.append((kw["lower"], kw["upper"]))
        super().observe(key, **kw)


@pytest.mark.parametrize("stamps", STAMPS)
def test_a_first_wave_job_reports_only_what_its_polls_saw(stamps: str) -> None:
    # the wave's jobs pause in short steps to be woken by another's completion: a pause
    # is not a look, so "last seen running" never moves past the job's real end
    memory = _Recording()
    Workload([1.0] * 16, concurrency=8, stamps=stamps, memory=memory).run()
    assert len(memory.seen) == 16
    assert all(lower < 1.0 <= upper for lower, upper in memory.seen)


@pytest.mark.parametrize("stamps", STAMPS)
def test_a_slow_first_job_does_not_hold_back_the_fast_ones_of_its_wave(stamps: str) -> None:
    # the first job (a looker at the grid's first poll) is slow; the others are fast
    durations = [8.0] + [0.55] * 7 + [0.55] * 8
    learned, unlearned = learned_and_unlearned(durations, stamps=stamps, concurrency=8)
    second_poll = 1.25  # where the grid finds a 0.55 s job
    assert unlearned.latency[1] == pytest.approx(second_poll)
    assert all(learned.latency[i] <= second_poll for i in range(1, 8))
    assert learned.mean_polls() <= unlearned.mean_polls()


@pytest.mark.parametrize("stamps", ["lazy", "missing"])
@pytest.mark.parametrize("concurrency", [8, 32])
def test_slow_answers_to_the_execute_do_not_unsettle_what_is_learned(
    stamps: str, concurrency: int
) -> None:
    # a busy client reads each execute's answer 0-100 ms after the job started: timed
    # from the answer, every job would look up to 10 % shorter than it is, and probes
    # would miss; timed from the request, a batch runs as with instant answers (exact
    # server durations are placed from the answer instead: see the next test)
    draw = random.Random(3)
    delays = [draw.uniform(0.0, 0.1) for _ in range(200)]
    slow = Workload(
        [1.0] * 200, concurrency=concurrency, stamps=stamps, answer_delay=delays.__getitem__
    ).run()
    instant = Workload([1.0] * 200, concurrency=concurrency, stamps=stamps).run()
    assert slow.mean_polls() <= instant.mean_polls()
    assert slow.makespan <= instant.makespan + 0.1


def _late_requests(concurrency: int, stamps: str, *, seed: int) -> Workload:
    """200 jobs of 1 s whose execute requests reach the service 0-50 ms after they were
    sent (a busy client), run on the virtual clock."""
    draw = random.Random(seed)
    sends = [draw.uniform(0.0, 0.05) for _ in range(200)]
    return Workload(
        [1.0] * 200, concurrency=concurrency, stamps=stamps, send_delay=sends.__getitem__
    ).run()


@pytest.mark.parametrize("concurrency", [8, 32])
def test_exact_durations_are_placed_from_the_answer_not_the_request(concurrency: int) -> None:
    # the server's exact durations count from the job's true start, which lies between
    # the request and its answer: placed from the request, a probe would go before the
    # end by the request's delay and miss; placed from the answer it is never early
    late = _late_requests(concurrency, "exact", seed=5)
    instant = Workload([1.0] * 200, concurrency=concurrency, stamps="exact").run()
    assert late.mean_polls() <= instant.mean_polls()


@pytest.mark.parametrize("concurrency", [8, 32])
def test_late_requests_do_not_blur_what_lazy_stamps_teach(concurrency: int) -> None:
    # a busy client's execute requests reach the service 0-50 ms after it sent them;
    # timed from the request, the ends it learns are blurred by that much (1.69 polls a
    # job at c=8); placed by the server's created_at, they are not
    late = _late_requests(concurrency, "lazy", seed=7)
    assert late.mean_polls() <= 1.1 if concurrency == 8 else late.mean_polls() <= 1.2


def test_a_wrong_created_stamp_costs_at_most_the_round_trip() -> None:
    memory = DurationMemory()
    for i in range(20):  # a steady clock offset of 1000 s, requests 10 ms on the way
        assert memory.started(float(i), i + 0.02, created=i + 1000.01 - 1000) == i
    # one stamp from the far future or past: kept between the request and the answer,
    # and the offset of the others does not move
    assert memory.started(30.0, 30.02, created=1e9) == 30.02
    assert memory.started(40.0, 40.02, created=-1e9) == 40.0
    assert memory.started(50.0, 50.02, created=50.015) == pytest.approx(50.005)
    assert memory.started(60.0, 59.0, created=60.0) == 60.0  # a clock read backwards


def test_stamps_are_proven_exact_only_beyond_where_the_start_may_have_been_placed() -> None:
    # seen done at 1.2 s, the server says 1.1 s: 8 % shorter, past the 5 % margin; but the
    # execute's answer came 150 ms after the placed start, so the true start may be that
    # much later, and a lazy stamp can read 100 ms short: nothing is proven
    memory = DurationMemory()
    memory.observe("k", lower=0.0, upper=1.2, server=1.1, answered=0.15)
    assert not memory._kinds["k"].exact
    # with the answer 50 ms after it, 100 ms short is more than a lazy stamp can be
    memory.observe("k", lower=0.0, upper=1.2, server=1.1, answered=0.05)
    assert memory._kinds["k"].exact


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    sends=st.floats(min_value=0.0, max_value=0.15),
    answers=st.floats(min_value=0.0, max_value=0.1),
    concurrency=st.sampled_from([1, 8, 32]),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_lazy_stamps_are_never_read_as_exact(
    sends: float, answers: float, concurrency: int, seed: int
) -> None:
    # execute requests that reach the service up to 150 ms late (a busy client, a queue
    # at the server's door) and answers that come back up to 100 ms late: jobs are placed
    # early by up to that much, yet what a lazy stamp says never proves it exact
    draw = random.Random(seed)
    send = [draw.uniform(0.0, sends) for _ in range(64)]
    answer = [draw.uniform(0.0, answers) for _ in range(64)]
    memory = DurationMemory()
    Workload(
        [1.0] * 64,
        concurrency=concurrency,
        stamps="lazy",
        memory=memory,
        send_delay=send.__getitem__,
        answer_delay=answer.__getitem__,
    ).run()
    assert not any(kind.exact for kind in memory._kinds.values())


def test_a_job_is_placed_by_the_fastest_requests_but_one() -> None:
    memory = DurationMemory()
    for i in range(30):  # requests 30 ms on the way (the clocks agree)
        memory.started(float(i), i + 0.1, created=i + 0.03)
    memory.started(40.0, 40.1, created=40.005)  # two fast ones: 5 and 4 ms
    memory.started(41.0, 41.1, created=41.004)
    # the offset is the second highest (one fast or wrong stamp alone does not move it):
    # a job whose request took 30 ms is placed 25 ms after it, 5 ms before its start
    assert memory.started(50.0, 50.1, created=50.03) == pytest.approx(50.025)


def test_an_execute_answered_after_retries_is_timed_from_its_answer() -> None:
    # an answer slower than the grid's first poll (0.5 s; here 0.6 s: the execute was
    # retried) says nothing of when the job started; timed from the request, these 1 s
    # jobs would look as long as they are only by luck, and a 2 s retry twice as long
    memory = _Recording()
    Workload(
        [1.0] * 4, concurrency=2, stamps="lazy", memory=memory, answer_delay=lambda i: 0.6
    ).run()
    assert all(upper < 1.0 for _, upper in memory.seen)  # found at the first poll: 0.5 s


@pytest.mark.parametrize("stamps", STAMPS)
def test_the_first_wave_is_found_together_once_one_of_it_is_done(stamps: str) -> None:
    learned, unlearned = learned_and_unlearned([1.0] * 8, stamps=stamps, concurrency=8)
    # the grid finds all eight at 1.25 s with two polls each; the wave's looks find the
    # end between its polls and wake the others: all known within 10 % of the end
    assert all(unlearned.latency[i] == pytest.approx(1.25) for i in range(8))
    assert max(learned.latency.values()) <= 1.1
    assert sum(learned.polls.values()) < sum(unlearned.polls.values())


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


# --- DurationMemory: each observation's exact effect on what it knows ----------------


def _bracketed(ceiling: float = 10.0, floor: float = 9.9) -> tuple[DurationMemory, object]:
    """A memory of kind ``k`` that has seen two jobs end by ``ceiling`` and closed the
    bracket at ``floor``; returns it and its kind's state."""
    memory = DurationMemory()
    for _ in range(2):
        memory.observe("k", lower=0.0, upper=ceiling, server=None)
    kind = memory._kinds["k"]
    kind.floor, kind.floor_age = floor, 0
    return memory, kind


def _state(kind: object) -> tuple[object, ...]:
    k = kind  # the _Kind dataclass
    return (k.ceiling, k.floor, k.floor_age, k.span, k.slow_streak)  # type: ignore[attr-defined]


def test_the_usual_end_is_the_lowest_of_the_first_two_jobs_and_set_once() -> None:
    memory = DurationMemory()
    memory.observe("k", lower=0.0, upper=3.0, server=None)
    assert memory._kinds["k"].ceiling is None  # one job: nothing yet
    memory.observe("k", lower=0.0, upper=2.0, server=None)
    assert memory._kinds["k"].ceiling == 2.0
    memory.observe("k", lower=0.0, upper=1.0, server=None)  # a grid-only job later: no change
    kind = memory._kinds["k"]
    assert kind.ceiling == 2.0 and kind.floor_age == 3


def test_a_hit_found_by_a_look_below_the_probe_sets_both_ends_from_that_job() -> None:
    memory, kind = _bracketed()
    kind.span, kind.slow_streak = 3.0, 5
    scout = Probe(10.0, (11.5,), 0.0)
    memory.observe("k", lower=2.5, upper=5.0, server=None, probe=scout, hit=True)
    assert _state(kind) == (5.0, 2.5, 0, 0.0, 0)
    # a hit at the probe itself (not below it) is not such a find
    memory2, kind2 = _bracketed()
    memory2.observe("k", lower=0.0, upper=9.8, server=None, probe=scout, hit=True)
    assert kind2.ceiling == 10.0 and kind2.floor == 9.9


def test_an_exploring_hit_comes_down_and_only_a_relaxed_one_widens_the_bracket() -> None:
    memory, kind = _bracketed(floor=6.0)
    explorer = Probe(8.0, (10.0, 11.5), None, True, 6.0, 0.5)
    memory.observe("k", lower=0.0, upper=8.0, server=None, probe=explorer, hit=True)
    assert _state(kind) == (8.0, 6.0, 1, 0.0, 0)  # down at once; the bracket [6, 8] stays
    # a hit within 3 % of the floor closes the bracket there: no looking lower (each
    # look below would cost a poll; doubting the floor is the relaxed probes' job)
    close = Probe(6.1, (8.0, 9.2), None, True, 6.0, 0.5)
    memory.observe("k", lower=0.0, upper=6.1, server=None, probe=close, hit=True)
    assert _state(kind) == (6.1, 6.0, 2, 0.0, 0)
    # a relaxed exploration's hit: the floor was in doubt and is wrong, look 4 x 3 %
    # lower than the hit...
    memory3, kind3 = _bracketed(floor=5.0)
    relaxed = Probe(7.5, (10.0, 11.5), None, True, 5.0, 0.5, relaxed=True)
    memory3.observe("k", lower=0.0, upper=7.5, server=None, probe=relaxed, hit=True)
    assert kind3.span == pytest.approx(4 * 0.03 * 10.0) and kind3.ceiling == 7.5
    assert kind3.floor == pytest.approx(7.5 - 4 * 0.03 * 10.0) and kind3.floor_age == 0
    # ...and twice as far each time it happens again
    again = Probe(kind3.floor + 0.01, (7.5, 8.6), None, True, kind3.floor, 0.5, relaxed=True)
    floor_before = kind3.floor
    memory3.observe("k", lower=0.0, upper=floor_before + 0.01, server=None, probe=again, hit=True)
    assert kind3.span == pytest.approx(2 * 4 * 0.03 * 10.0)
    assert kind3.floor == pytest.approx(floor_before + 0.01 - 2 * 1.2)


def test_an_exploring_miss_done_at_the_usual_end_raises_the_floor_to_the_probe() -> None:
    memory, kind = _bracketed(floor=4.0)
    kind.span = 2.0
    explorer = Probe(7.0, (10.0, 11.5), None, True, 4.0, 0.5)
    memory.observe("k", lower=7.0, upper=10.3, server=None, probe=explorer)  # within 3 %
    assert _state(kind) == (10.0, 7.0, 0, 0.0, 0)
    # found only by the second look (15 % later): a near miss of the end, floor unchanged
    memory2, kind2 = _bracketed(floor=4.0)
    memory2.observe("k", lower=10.0, upper=11.5, server=None, probe=explorer)
    assert kind2.floor == 4.0 and list(kind2.outcomes) == [True]
    # found later by the grid: a slower sort, counted as such
    memory3, kind3 = _bracketed(floor=4.0)
    memory3.observe("k", lower=11.5, upper=15.4, server=None, probe=explorer)
    assert kind3.floor == 4.0 and kind3.slow_streak == 1 and list(kind3.outcomes) == [False]


def test_probes_at_the_usual_end_count_hits_near_and_far_misses() -> None:
    memory, kind = _bracketed()
    at_end = Probe(10.0, (11.5,))
    memory.observe("k", lower=0.0, upper=10.0, server=None, probe=at_end, hit=True)
    memory.observe("k", lower=10.0, upper=11.5, server=None, probe=at_end)  # near: 11.5 s
    memory.observe("k", lower=11.5, upper=11.8, server=None, probe=at_end)  # near (<3 %)
    assert list(kind.outcomes) == [False, True, True] and kind.slow_streak == 0
    memory.observe("k", lower=11.5, upper=11.9, server=None, probe=at_end)  # far (>3 %)
    assert list(kind.outcomes) == [False, True, True, False] and kind.slow_streak == 1
    memory.observe("k", lower=0.0, upper=10.0, server=None, probe=at_end, hit=True)
    assert kind.slow_streak == 0
    # a miss just above the end (within 3 %) is neither near nor far for the rise
    memory.observe("k", lower=10.0, upper=10.2, server=None, probe=at_end)
    assert list(kind.outcomes)[-1] is False and kind.slow_streak == 0


def test_a_probe_with_no_follow_up_that_misses_moves_the_end_up_by_a_step() -> None:
    # a probe with no poll to spare for a follow-up (a 1 s job on a 0.5 s / 1.25 s grid)
    # is followed by the grid's next poll: a job found there ended somewhere between, so
    # three such misses of the last eight move the usual end up by 3 %, not to the grid
    memory, kind = _bracketed(ceiling=1.0, floor=0.99)
    bare = Probe(1.0)
    for count in range(3):
        memory.observe("k", lower=1.0, upper=1.25, server=None, probe=bare)
        assert kind.ceiling == (pytest.approx(1.03) if count == 2 else 1.0)
    assert kind.slow_streak == 0  # near, not far
    # probes handed out before the rise miss too: that is known already, and their
    # misses do not move it again
    for _ in range(6):
        memory.observe("k", lower=1.0, upper=1.25, server=None, probe=bare)
    assert kind.ceiling == pytest.approx(1.03) and list(kind.outcomes) == []
    # a job seen running after the probe (by the grid) is of a slower sort: far
    at_end = Probe(1.03)
    memory.observe("k", lower=1.25, upper=2.0, server=None, probe=at_end)
    assert kind.slow_streak == 1 and list(kind.outcomes) == [False]


def test_a_probes_follow_ups_are_reported_only_if_it_could_send_them() -> None:
    # on the wait grid (1, 3, 7, 15 s) a probe at 2 s stands for one grid poll, its own:
    # none to spare, so its follow-up is never sent and the memory is told so
    seen: list[Any] = []
    for probe, then in ((Probe(2.0, then=(2.3,)), ()), (Probe(7.0, then=(8.0,)), (8.0,))):
        done = httpx.Response(200, json={"id": "ex-1", "status": "completed", "usage": {}})
        driver = Driver(done)
        driver.run(waiting(driver, probe, on_complete=seen.append))
        assert seen[-1].probe.then == then and seen[-1].probe.at == probe.at


def test_twelve_far_misses_in_a_row_move_the_end_to_the_lower_quartile_of_those_jobs() -> None:
    memory, kind = _bracketed()
    at_end = Probe(10.0, (11.5,))
    for upper in [20.0, 24.0, 28.0, 32.0] * 3:
        memory.observe("k", lower=15.0, upper=upper, server=None, probe=at_end)
    # the last 12 samples (not the first two of 10 s): their lower quartile is 20 s
    assert _state(kind) == (20.0, 0.0, 0, 0.0, 0) and list(kind.outcomes) == []


@pytest.mark.parametrize("ceiling", [1.0, 1.004, 1.013, 2.7, 10.0])
def test_a_relaxed_probe_that_misses_closes_the_bracket_at_once(ceiling: float) -> None:
    # it looks 3 % below the usual end: a miss leaves a bracket of exactly 3 %, closed;
    # (rounding once reopened it for most ends: a second probe below the end, which
    # cost a poll when it missed and, when a job that started late made it hit, set the
    # usual end below most jobs)
    memory, kind = _bracketed(ceiling=ceiling, floor=ceiling * 0.99)
    kind.floor_age = kind.relax
    relaxed = memory.probe("k")
    assert relaxed is not None and relaxed.relaxed
    memory.observe("k", lower=relaxed.at, upper=ceiling, server=None, probe=relaxed)
    memory.release("k", relaxed)
    after = memory.probe("k")
    assert after is not None and not after.exploring and after.at == ceiling


def test_each_relaxed_probe_that_confirms_the_end_doubles_the_wait_for_the_next() -> None:
    from langchain_vlmrun.client._polling import RELAX, RELAX_MAX

    memory, kind = _bracketed(floor=9.95)
    waits = []
    for _ in range(4):  # relaxed probes that miss: the end is where it was
        kind.floor_age = kind.relax
        relaxed = memory.probe("k")
        assert relaxed is not None and relaxed.relaxed
        memory.observe("k", lower=relaxed.at, upper=10.0, server=None, probe=relaxed)
        waits.append(kind.relax)
    assert (RELAX, RELAX_MAX) == (16, 64) and waits == [32, 64, 64, 64]
    # one that finds the end lower: jobs got faster, doubt the floor as often as before
    kind.floor_age = kind.relax
    relaxed = memory.probe("k")
    assert relaxed is not None and relaxed.relaxed
    memory.observe("k", lower=0.0, upper=relaxed.at, server=None, probe=relaxed, hit=True)
    assert kind.relax == RELAX and kind.ceiling == relaxed.at


def test_the_floor_relaxes_after_sixteen_completions_and_a_relaxed_probe_goes_alone() -> None:
    from langchain_vlmrun.client._polling import RELAX

    memory, kind = _bracketed(floor=9.95)
    assert memory.probe("k") == Probe(10.0, (11.5,))  # closed bracket: at the end
    kind.floor_age = RELAX - 1
    assert memory.probe("k") == Probe(10.0, (11.5,))
    kind.floor_age = RELAX
    relaxed = memory.probe("k")
    assert relaxed is not None and relaxed.exploring and relaxed.relaxed
    assert relaxed.at == pytest.approx(10.0 * (1 - 0.03))  # halfway down to 94 %
    assert memory.probe("k") == Probe(10.0, (11.5,))  # one relaxed explorer at a time


def test_a_wide_bracket_is_explored_at_four_points_at_once_and_no_lower_than_earliest() -> None:
    memory, _ = _bracketed(floor=0.0)
    probes = [memory.probe("k", earliest=2.0) for _ in range(5)]
    assert [p.at for p in probes if p] == [6.0, 8.0, 9.0, 7.0, 10.0]
    assert all(p.floor == 2.0 and p.scan_from == 0.0 for p in probes[:4] if p)
    # a bracket under 8 x 3 % wide gets one explorer at a time
    memory2, _ = _bracketed(floor=8.0)
    first, second = memory2.probe("k"), memory2.probe("k")
    assert first is not None and first.exploring and first.at == 9.0
    assert second == Probe(10.0, (11.5,))
    # an observation gives the explorer's slot back
    memory2.observe("k", lower=9.0, upper=10.0, server=None, probe=first)
    third = memory2.probe("k")
    assert third is not None and third.exploring


def test_timestamps_at_the_lower_bound_are_exact_enough() -> None:
    memory = DurationMemory()
    for _ in range(4):  # ended the instant the last running poll was answered
        memory.observe("k", lower=2.0, upper=10.0, server=2.0)
    assert memory.probe("k") == Probe(2.0, exact=True)


def test_the_immediate_schedule_is_exactly_no_sleep_and_no_learning() -> None:
    assert PollSchedule.immediate() == PollSchedule(
        initial=0.0, multiplier=1.0, maximum=0.0, learn_durations=False
    )


def test_next_poll_at_the_grids_own_points_and_below_one_second() -> None:
    schedule = PollSchedule(initial=0.5, multiplier=1.0, maximum=0.5)
    assert schedule.next_poll(0.5) == 1.0  # a point is not after itself
    assert schedule.next_poll(0.75) == 1.0
    assert schedule.next_poll(0.4999999999) == 1.0  # within rounding of a point
    assert PollSchedule(initial=2.0, multiplier=2.0, maximum=3.0).next_poll(5.0) == 8.0
    capped = PollSchedule(initial=1.0, multiplier=2.0, maximum=2.0)
    assert [capped.next_poll(a) for a in (0.0, 1.0, 3.0, 4.0, 5.0)] == [1.0, 3.0, 5.0, 5.0, 7.0]


def test_the_warning_for_lost_deliveries_comes_once_per_url_and_again_after_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = DeliveryHealth()
    url = "https://user:pw@hooks.test/in?token=s3cret"
    with caplog.at_level(logging.INFO, logger="langchain_vlmrun"):
        health.missed(url)
        health.missed(url)
        health.missed("https://other.test/hook")
        health.delivered(url)
        health.delivered(url)
        health.missed(url)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    lost = (
        "webhook deliveries to https://hooks.test/in are not arriving (a safety poll "
        "found the execution done first); polling as without webhooks until one "
        "arrives. Check that the URL reaches your WebhookReceiver."
    )
    assert messages == [
        (logging.WARNING, lost),
        (logging.WARNING, lost.replace("https://hooks.test/in", "https://other.test/hook")),
        (logging.INFO, "webhook deliveries to https://hooks.test/in arrive again"),
        (logging.WARNING, lost),
    ]
    assert health.silent(url) and health.silent("https://other.test/hook")


def test_a_reading_within_rounding_of_a_grid_poll_is_that_poll() -> None:
    schedule = PollSchedule()  # polls at 0.5, 1.25, 2.375 ... 15.390625, then every 5 s
    far = 15.390625 + 17 * 5  # a grid poll 100 s in
    # within a float's rounding of the poll (relative to its size): it is that poll
    assert schedule.next_poll(far - 5e-8) == far + 5
    assert schedule.next_poll(0.5 - 5e-10) == 1.25
    # a little more than rounding before it: the poll is still ahead
    assert schedule.next_poll(0.5 - 1.5e-9) == 0.5
    assert schedule.next_poll(far - 5e-6) == far


def test_exact_durations_equal_to_the_look_that_saw_them_are_kept() -> None:
    memory = DurationMemory()
    memory.observe("k", lower=0.0, upper=2.0, server=1.0)  # clearly early: stamps exact
    for _ in range(3):  # done at 3 s by the server's clock, seen done at 3 s
        memory.observe("k", lower=0.0, upper=3.0, server=3.0)
    probe = memory.probe("k")
    assert probe is not None and (probe.at, probe.then, probe.exact) == (1.0, (3.0,), True)


def test_the_clock_offset_follows_the_recent_jobs_only() -> None:
    memory = DurationMemory()
    for i in range(100):  # the server's clock reads 1000 s behind ours
        memory.started(float(i), i + 0.1, created=i - 1000.0)
    for i in range(100, 140):  # then it is set right
        memory.started(float(i), i + 0.1, created=float(i))
    # placed by the last 32 jobs' offset (0), not by the old one (which would put the
    # start at the answer, 200.1): 50 ms after the request
    assert round(memory.started(200.0, 200.1, created=200.05), 3) == 200.05
