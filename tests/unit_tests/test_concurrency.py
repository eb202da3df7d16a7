"""The loader's ordered, bounded maps: results in input order, at most max_concurrency
calls at once, a bounded look-ahead, nothing started while the consumer holds a
result, errors at their turn, and an early stop that returns at once and never
abandons a call already running (it may have paid for work server-side)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_vlmrun.loaders._concurrency import LOOKAHEAD, amap_ordered, map_ordered


class Tally:
    """Counts calls running at once and how far ahead of the consumer they start."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.most = self.started = self.consumed = self.ahead = 0
        self.threads: set[str] = set()

    def enter(self) -> None:
        with self.lock:
            self.running += 1
            self.started += 1
            self.most = max(self.most, self.running)
            self.ahead = max(self.ahead, self.started - self.consumed)
            self.threads.add(threading.current_thread().name)

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(0, 60),
    concurrency=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_threads_keep_input_order_and_the_bounds(count: int, concurrency: int, seed: int) -> None:
    delays = random.Random(seed).choices([0.0, 0.0005, 0.002], k=count)
    tally = Tally()

    def work(i: int) -> int:
        tally.enter()
        time.sleep(delays[i])
        tally.leave()
        return i * 10

    results = []
    for value in map_ordered(work, range(count), concurrency):
        results.append(value)
        with tally.lock:
            tally.consumed += 1
    assert results == [i * 10 for i in range(count)]
    assert tally.started == count and tally.most <= concurrency
    # never more than the window started ahead of what the consumer has taken
    assert tally.ahead <= concurrency * LOOKAHEAD + 1
    assert all(name.startswith("vlmrun") for name in tally.threads)


@settings(max_examples=25, deadline=None)
@given(count=st.integers(0, 60), concurrency=st.integers(1, 6), seed=st.integers(0, 1000))
def test_tasks_keep_input_order_and_the_bounds(count: int, concurrency: int, seed: int) -> None:
    delays = random.Random(seed).choices([0.0, 0.0005, 0.002], k=count)
    tally = Tally()

    async def work(i: int) -> int:
        tally.enter()
        await asyncio.sleep(delays[i])
        tally.leave()
        return i * 10

    async def consume() -> list[int]:
        results = []
        async for value in amap_ordered(work, range(count), concurrency):
            results.append(value)
            tally.consumed += 1
        return results

    assert asyncio.run(consume()) == [i * 10 for i in range(count)]
    assert tally.started == count and tally.most <= concurrency
    assert tally.ahead <= concurrency * LOOKAHEAD + 1


def test_a_slow_first_item_does_not_hold_back_the_ones_behind_it() -> None:
    release = threading.Event()
    done: list[int] = []

    def work(i: int) -> int:
        if i == 0:
            assert release.wait(5)
        done.append(i)
        return i

    results = map_ordered(work, range(20), 2)
    first = threading.Thread(target=lambda: done.append(-next(results) - 1))
    first.start()
    deadline = time.monotonic() + 5
    while len(done) < 2 * LOOKAHEAD - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    # the window behind the slow head ran (8 items, 7 besides it), not all 20
    assert sorted(done) == list(range(1, 2 * LOOKAHEAD))
    release.set()
    first.join(5)
    assert list(results) == list(range(1, 20))


@pytest.mark.parametrize("mapper", ["threads", "tasks"])
def test_an_error_is_raised_at_its_turn(mapper: str) -> None:
    def check(i: int) -> int:
        if i == 3:
            raise KeyError(i)
        return i

    async def acheck(i: int) -> int:
        return check(i)

    seen: list[int] = []
    with pytest.raises(KeyError):
        if mapper == "threads":
            seen.extend(map_ordered(check, range(10), 4))
        else:

            async def consume() -> None:
                async for value in amap_ordered(acheck, range(10), 4):
                    seen.append(value)

            asyncio.run(consume())
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("bad", [0, -1])
def test_max_concurrency_below_one_is_refused(bad: int) -> None:
    with pytest.raises(ValueError) as refused:
        next(map_ordered(str, [1], bad))
    assert str(refused.value) == f"max_concurrency must be at least 1, got {bad}."


def blocking_calls(
    count: int,
) -> tuple[Callable[[int], int], threading.Event, list[int], list[int]]:
    release = threading.Event()
    started: list[int] = []
    finished: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i > 0:
            assert release.wait(5)
        finished.append(i)
        return i

    return work, release, started, finished


def test_stopping_early_returns_at_once_and_lets_the_running_calls_finish() -> None:
    work, release, started, finished = blocking_calls(40)
    stop = threading.Event()
    idle = threading.Event()
    results = map_ordered(work, range(40), 2, on_stop=stop.set, when_idle=idle.set)
    assert next(results) == 0
    assert len(started) <= 3  # 1 and 2 running (0 done): nothing more while it is held
    began = time.monotonic()
    results.close()  # does not wait for the two running calls
    assert time.monotonic() - began < 1
    assert stop.is_set() and not idle.is_set()
    release.set()
    assert idle.wait(5)  # when_idle ran once the running calls were done...
    assert sorted(finished) == sorted(started) and len(started) <= 3
    time.sleep(0.05)
    assert len(started) <= 3  # ...and no call started after the stop


def test_stopping_early_returns_at_once_and_lets_the_running_tasks_finish() -> None:
    finished: list[int] = []
    cancelled: list[int] = []
    idle: list[list[int]] = []
    stop = threading.Event()

    async def work(i: int) -> int:
        try:
            await asyncio.sleep(0 if i == 0 else 0.05)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        if i == 2:
            raise RuntimeError("a running call that fails after the stop")
        finished.append(i)
        return i

    async def when_idle() -> None:
        idle.append(list(finished))

    async def on_stop() -> None:
        stop.set()

    async def stop_after_first() -> None:
        results = amap_ordered(work, range(30), 2, on_stop=on_stop, when_idle=when_idle)
        assert await results.__anext__() == 0
        began = time.monotonic()
        await results.aclose()  # no wait, and no error from the call that fails later
        assert time.monotonic() - began < 0.04 and stop.is_set() and idle == []
        await asyncio.sleep(0.2)  # the loop runs on: the running tasks finish

    asyncio.run(stop_after_first())
    # 1 and 2 ran to the end in the background, then when_idle; none started after
    assert finished == [1] or finished == [0, 1]
    assert cancelled == [] and idle == [finished]


def test_a_finished_map_runs_when_idle_before_it_returns() -> None:
    calls: list[str] = []

    async def twice(i: int) -> int:
        return 2 * i

    async def aidle() -> None:
        calls.append("async")

    async def consume() -> list[int]:
        return [v async for v in amap_ordered(twice, range(5), 2, when_idle=aidle)]

    assert list(map_ordered(str, range(3), 2, when_idle=lambda: calls.append("sync"))) == [
        "0",
        "1",
        "2",
    ]
    assert asyncio.run(consume()) == [0, 2, 4, 6, 8] and calls == ["sync", "async"]


def test_cancelling_the_consumer_cancels_the_running_tasks() -> None:
    cancelled: list[int] = []

    async def work(i: int) -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def consume() -> None:
        async for _ in amap_ordered(work, range(10), 3):
            pass

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    # every call in flight is cancelled (a queued one may get the slot first), none ends
    assert {0, 1, 2} <= set(cancelled) and set(cancelled) <= set(range(3 * LOOKAHEAD))


def test_a_held_result_starts_no_new_task() -> None:
    tally = Tally()

    async def work(i: int) -> int:
        tally.enter()
        tally.leave()
        return i

    async def consume() -> list[int]:
        results = []
        async for value in amap_ordered(work, range(60), 1):
            await asyncio.sleep(0.001)  # the consumer is the slow part
            results.append(value)
            tally.consumed += 1
        return results

    assert asyncio.run(consume()) == list(range(60))
    assert tally.ahead == 2  # the result held, and the one call running meanwhile


def test_a_held_result_starts_no_new_call() -> None:
    """An unconsumed generator costs at most the calls running when it yielded."""
    tally = Tally()

    def work(i: int) -> int:
        tally.enter()
        tally.leave()
        return i

    results = []
    for value in map_ordered(work, range(60), 1):
        time.sleep(0.001)
        results.append(value)
        with tally.lock:
            tally.consumed += 1
    assert results == list(range(60)) and tally.ahead == 2

    started: list[int] = []
    held = map_ordered(lambda i: started.append(i) or i, range(60), 3)
    assert next(held) == 0
    time.sleep(0.1)
    first = len(started)
    assert first <= 3 * LOOKAHEAD + 1
    time.sleep(0.1)
    assert len(started) == first  # nothing started while the consumer is away
    assert list(held) == list(range(1, 60))
