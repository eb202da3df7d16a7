"""The loader's ordered, bounded maps: results in input order, at most max_concurrency
calls at once, a bounded look-ahead, nothing started while the consumer holds a
result, errors at their turn, and an early stop that returns at once and never
abandons a call already running (it may have paid for work server-side)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_vlmrun.client._operations import SubmissionStopped
from langchain_vlmrun.loaders._concurrency import LOOKAHEAD, Gate, amap_ordered, map_ordered


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
    stopped: list[bool] = []

    async def work(i: int) -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def on_stop() -> None:
        stopped.append(True)

    async def consume() -> None:
        async for _ in amap_ordered(work, range(10), 3, on_stop=on_stop):
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
    # on_stop (stop submitting, wait for the answers in flight) is for a map closed
    # early, not a cancelled one
    assert stopped == []


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


# --- the stop gate of a load ------------------------------------------------------------


def test_a_gate_lets_sources_start_until_it_is_stopped() -> None:
    gate = Gate()
    assert gate.stopped is False
    gate.check()  # open: nothing raised
    gate.stop()  # nothing in flight: returns at once
    assert gate.stopped is True
    with pytest.raises(SubmissionStopped) as info:
        gate.check()
    assert str(info.value) == "the load was stopped: nothing was paid for this source"


def test_stopping_waits_for_an_execute_in_flight_then_refuses_new_ones() -> None:
    gate = Gate(grace=5)
    inside, leave = threading.Event(), threading.Event()

    def sending() -> None:
        with gate.submitting():
            inside.set()
            assert leave.wait(5)

    sender = threading.Thread(target=sending)
    sender.start()
    assert inside.wait(5)
    stopper = threading.Thread(target=gate.stop)
    stopper.start()
    stopper.join(0.05)
    assert stopper.is_alive()  # waiting for the answer of the request in flight
    leave.set()
    stopper.join(5)
    sender.join(5)
    assert not stopper.is_alive()
    with pytest.raises(SubmissionStopped), gate.submitting():
        pass  # nothing sent once stopped


def test_stopping_waits_no_longer_than_its_grace() -> None:
    gate = Gate(grace=0.05)
    leave = threading.Event()
    entered = threading.Event()

    def sending() -> None:
        with gate.submitting():
            entered.set()
            leave.wait(10)

    sender = threading.Thread(target=sending)
    sender.start()
    assert entered.wait(5)
    stopper = threading.Thread(target=gate.stop)
    stopper.start()
    stopper.join(5)
    try:
        assert not stopper.is_alive()  # gave up on the stuck request after its grace
        assert gate.stopped
    finally:
        leave.set()
        sender.join(5)


def test_an_async_stop_waits_for_the_execute_in_flight_up_to_its_grace() -> None:
    async def main(grace: float, answer_after: float) -> tuple[bool, bool]:
        gate = Gate(grace=grace)
        answered = asyncio.Event()

        async def sending() -> None:
            with gate.submitting():
                await asyncio.sleep(answer_after)
                answered.set()

        sender = asyncio.create_task(sending())
        await asyncio.sleep(0)  # the request is in flight
        await gate.astop()
        was_answered = answered.is_set()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        with pytest.raises(SubmissionStopped):
            gate.check()
        return was_answered, gate.stopped

    # answered within the grace: astop returned after the answer
    assert asyncio.run(main(grace=5, answer_after=0.01)) == (True, True)
    # never answered within the grace: astop gave up (no TimeoutError) and is stopped
    assert asyncio.run(main(grace=0.02, answer_after=10)) == (False, True)


# --- what the maps promise besides order and bounds -------------------------------------


def test_more_calls_run_at_once_than_the_default_thread_pool_holds() -> None:
    """max_concurrency=40 means 40 calls at once (a default pool has at most 32)."""
    together = threading.Barrier(40, timeout=10)

    def meet(i: int) -> int:
        together.wait()  # breaks (BrokenBarrierError) unless all 40 run at once
        return i

    assert list(map_ordered(meet, range(40), 40)) == list(range(40))


class Counting:
    """An iterator that counts how often it is asked for its next item."""

    def __init__(self, items: int) -> None:
        self.left, self.asked = items, 0

    def __iter__(self) -> Counting:
        return self

    def __next__(self) -> int:
        self.asked += 1
        if self.left == 0:
            raise StopIteration
        self.left -= 1
        return self.left


@pytest.mark.parametrize("mapper", ["threads", "tasks"])
def test_an_exhausted_source_is_not_asked_again(mapper: str) -> None:
    source = Counting(5)
    if mapper == "threads":
        assert sorted(map_ordered(str, source, 2)) == ["0", "1", "2", "3", "4"]
    else:

        async def as_text(i: int) -> str:
            return str(i)

        async def consume() -> list[str]:
            return [v async for v in amap_ordered(as_text, source, 2)]

        assert sorted(asyncio.run(consume())) == ["0", "1", "2", "3", "4"]
    assert source.asked == 6  # five items, one StopIteration


def test_when_idle_waits_for_the_last_of_the_running_calls() -> None:
    releases = {1: threading.Event(), 2: threading.Event()}
    idle = threading.Event()

    def work(i: int) -> int:
        if i in releases:
            assert releases[i].wait(5)
        return i

    results = map_ordered(work, range(10), 2, when_idle=idle.set)
    assert next(results) == 0
    results.close()  # 1 and 2 still running
    releases[1].set()
    time.sleep(0.05)
    assert not idle.is_set()  # one is still running
    releases[2].set()
    assert idle.wait(5)


def test_tasks_that_fail_after_an_early_stop_are_not_reported_as_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A map closed early leaves no task whose error nobody retrieved: neither one done
    and not taken yet, nor one that fails in the background; its finisher is let go."""
    from langchain_vlmrun.loaders import _concurrency

    idle: list[bool] = []

    async def work(i: int) -> int:
        if i == 1:
            raise RuntimeError("done, failed, and never taken")
        if i == 2:
            await asyncio.sleep(0.02)
            raise RuntimeError("fails in the background")
        await asyncio.sleep(0 if i == 0 else 0.02)
        return i

    async def when_idle() -> None:
        idle.append(True)

    async def main() -> None:
        results = amap_ordered(work, range(10), 3, when_idle=when_idle)
        assert await results.__anext__() == 0
        await asyncio.sleep(0.005)  # 1 has failed by now, and is not taken
        await results.aclose()
        await asyncio.sleep(0.1)  # the background tasks end
        assert not _concurrency._FINISHING  # the finisher let go of once done

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
        gc.collect()
    assert idle == [True]
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


# --- execution slots and upload turns ----------------------------------------------------


def test_a_source_waiting_for_an_execution_slot_gets_it_when_one_ends() -> None:
    gate = Gate(slots=1)
    first, second = gate.source(), gate.source()
    first.start()
    first.admit()  # the one execution running
    second.start()  # its upload goes on meanwhile: taking the slot gave the turn back
    admitted = threading.Event()

    def waits() -> None:
        second.admit()
        admitted.set()

    waiter = threading.Thread(target=waits)
    waiter.start()
    assert not admitted.wait(0.05)  # the slot is taken
    first.release()  # the first execution ended
    assert admitted.wait(5)
    waiter.join(5)


def test_a_third_source_waits_for_its_turn_to_upload() -> None:
    gate = Gate(slots=1)
    first, second = gate.source(), gate.source()
    first.start()
    started = threading.Event()
    starter = threading.Thread(target=lambda: (second.start(), started.set()))
    starter.start()
    assert not started.wait(0.05)  # one source uploads at a time before its slot...
    first.finish()  # ...until it ends (here: served from the cache, no slot taken)
    assert started.wait(5)
    starter.join(5)


def test_sources_waiting_for_a_slot_or_a_turn_give_up_when_the_load_stops() -> None:
    gate = Gate(slots=1)
    running, uploading = gate.source(), gate.source()
    running.start()
    running.admit()
    errors: list[BaseException] = []

    def attempt(step: Callable[[], None]) -> None:
        try:
            step()
        except SubmissionStopped as exc:
            errors.append(exc)

    waiters = [
        threading.Thread(target=attempt, args=(lambda: (uploading.start(), uploading.admit()),)),
        threading.Thread(target=attempt, args=(gate.source().start,)),
    ]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.05)
    gate.stop()
    for waiter in waiters:
        waiter.join(5)
    assert [w.is_alive() for w in waiters] == [False, False]
    # neither uploaded nor submitted anything after the stop, and each says so
    assert [str(e) for e in errors] == [
        "the load was stopped: nothing was paid for this source"
    ] * 2


def test_async_sources_take_slots_in_turn_and_give_up_when_the_load_stops() -> None:
    async def main() -> tuple[list[str], bool]:
        gate = Gate(slots=1)
        order: list[str] = []
        first = gate.source()
        await first.astart()
        await first.aadmit()

        async def wait_for_slot(name: str) -> None:
            source = gate.source()  # as a load runs a source: what it holds is given back
            try:
                await source.astart()
                await source.aadmit()
                order.append(name)
                source.release()
            finally:
                source.finish()

        second = asyncio.create_task(wait_for_slot("second"))
        await asyncio.sleep(0.01)
        assert order == []  # the slot is taken
        first.release()
        await asyncio.wait_for(second, 5)
        # a waiter cancelled after the slot was handed to it passes the slot on
        holder = gate.source()
        await holder.astart()
        await holder.aadmit()
        cancelled = asyncio.create_task(wait_for_slot("cancelled"))
        await asyncio.sleep(0.01)
        holder.release()  # handed to the waiting task...
        cancelled.cancel()  # ...which is cancelled before it runs
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled
        await asyncio.wait_for(wait_for_slot("after"), 5)  # the slot was not lost
        # stopped: a source waiting for the slot gives up
        last = gate.source()
        await last.astart()
        await last.aadmit()
        stuck = asyncio.create_task(wait_for_slot("stuck"))
        await asyncio.sleep(0.01)
        await gate.astop()
        with pytest.raises(SubmissionStopped, match=r"^the load was stopped: nothing was paid"):
            await asyncio.wait_for(stuck, 5)
        return order, gate.stopped

    order, stopped = asyncio.run(main())
    assert order == ["second", "after"] and stopped


def blocks(step: Callable[[], object]) -> Callable[[], None]:
    """Start ``step`` in a thread, check that it is still waiting a moment later, and
    return how to wait for its end: the load's stop, within 5 s."""
    stopped: list[SubmissionStopped] = []

    def run() -> None:
        try:
            step()
        except SubmissionStopped as exc:
            stopped.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(0.05)
    assert thread.is_alive(), "it did not wait"

    def join() -> None:
        thread.join(5)
        assert not thread.is_alive() and len(stopped) == 1

    return join


def test_a_source_gives_back_only_the_turn_it_holds() -> None:
    gate = Gate(slots=1)
    gate.source().finish()  # never started: it holds no turn to give back
    done = gate.source()
    done.start()
    done.admit()  # the turn goes back here...
    done.finish()  # ...and not a second time here
    done.release()
    gate.source().start()  # the one turn
    late = gate.source()
    ended = blocks(late.start)  # no second turn was made up
    gate.stop()
    ended()
    with pytest.raises(SubmissionStopped):
        late.admit()


def test_every_slot_given_back_can_be_taken_again() -> None:
    gate = Gate(slots=2)
    first, second = gate.source(), gate.source()
    first.admit()
    second.admit()
    first.release()
    second.release()
    taken = threading.Event()

    def both() -> None:
        gate.source().admit()
        gate.source().admit()
        taken.set()

    thread = threading.Thread(target=both)
    thread.start()
    assert taken.wait(5)  # two slots free again, not one
    thread.join(5)
    ended = blocks(gate.source().admit)  # and not three
    gate.stop()
    ended()


def test_an_async_waiter_cancelled_while_waiting_takes_no_slot_away() -> None:
    async def main() -> bool:
        gate = Gate(slots=1)
        holder = gate.source()
        await holder.aadmit()
        waiter = asyncio.create_task(gate.source().aadmit())
        await asyncio.sleep(0.01)
        waiter.cancel()  # still waiting: nothing was handed to it
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        late = asyncio.create_task(gate.source().aadmit())
        await asyncio.sleep(0.01)
        waited = not late.done()  # the holder still has the one slot
        holder.release()
        await asyncio.wait_for(late, 5)
        return waited

    assert asyncio.run(main())
