"""Leases: one worker submits a document, the others wait (DedupeLeases on a real
Redis; process() with in-process LocalLeases, effect by effect)."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import threading
from typing import Any, cast

import pytest
import redis
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import AgentExecution, ResultCache
from langchain_vlmrun.client._leases import LocalLeases, follow_peer, holding, peer_step
from langchain_vlmrun.client._operations import (
    INPUT_FILE_KEY,
    Blocking,
    ExecuteRequest,
    Sleep,
)
from langchain_vlmrun.client._polling import DeliveryHealth, DurationMemory
from langchain_vlmrun.client.cache import CacheRecord
from langchain_vlmrun.scaleout.leases import DedupeLeases
from langchain_vlmrun.scaleout.redis_store import RedisByteStore
from tests.support import VirtualService, deliver_after

CONFIG = {"prompt": "Summarise the document"}


def cache_key(cache: ResultCache) -> str:
    return cache.key("md5-of-the-same-bytes", CONFIG)


def run_document(url: str, barrier: Any, peer_waiting: Any, results: Any) -> None:
    """One worker process given the document: submit it, or wait for whoever does."""
    cache = ResultCache(RedisByteStore(url))
    leases = DedupeLeases(url, ttl=10, check_every=0.02)
    key = cache_key(cache)
    barrier.wait()
    lease = leases.acquire(key)
    if lease is None:
        peer_waiting.set()
        outcome = leases.wait_for(key, cache, timeout=30)
        assert outcome.record is not None and outcome.record.execution is not None
        results.put(("waited", outcome.state, outcome.record.execution.id))
        return
    with lease:
        peer_waiting.wait(timeout=30)  # the other worker is waiting on this lease now
        submitted = redis.Redis.from_url(url).incr("submissions")  # the paid execute
        done = AgentExecution(id=f"ex-{submitted}", status="completed", response={"ok": 1})
        cache.mark_completed(key, done, file_id="file-1")
    results.put(("ran", "completed", done.id))


@pytest.mark.processes
def test_two_workers_submit_a_document_once(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, peer_waiting, results = context.Barrier(2), context.Event(), context.Queue()
    workers = [
        context.Process(target=run_document, args=(redis_url, barrier, peer_waiting, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert outcomes == [("ran", "completed", "ex-1"), ("waited", "completed", "ex-1")]
    assert redis.Redis.from_url(redis_url).get("submissions") == b"1"


def test_a_holder_that_gives_up_lets_the_waiter_take_over(redis_url: str) -> None:
    cache = ResultCache(RedisByteStore(redis_url))
    leases = DedupeLeases(redis_url)
    key = cache_key(cache)
    holder = leases.acquire(key)
    assert holder is not None and leases.acquire(key) is None
    outcome = leases.wait_for(key, cache, timeout=30, sleep=lambda _: holder.release())
    assert outcome.state == "released"
    assert leases.acquire(key) is not None


def test_waiting_times_out_while_the_holder_runs(redis_url: str) -> None:
    cache = ResultCache(RedisByteStore(redis_url))
    leases = DedupeLeases(redis_url)
    key = cache_key(cache)
    assert leases.acquire(key) is not None
    cache.mark_submitted(key, "ex-7", file_id="file-1")
    outcome = leases.wait_for(key, cache, timeout=0)
    assert outcome.state == "timeout"
    assert outcome.record is not None and outcome.record.execution_id == "ex-7"


def test_only_the_token_holder_can_release_or_renew(redis_url: str) -> None:
    leases = DedupeLeases(redis_url, keep_alive=False)
    stale = leases.acquire("doc")
    assert stale is not None
    redis.Redis.from_url(redis_url).delete("vlmrun:lease:doc")  # as if it had expired
    successor = leases.acquire("doc")
    assert successor is not None
    assert stale.release() is False
    assert stale.renew() is False and stale.lost
    assert leases.holder("doc") == successor.token
    assert successor.release() is True and leases.holder("doc") is None


def test_held_leases_are_renewed_in_the_background(redis_url: str) -> None:
    leases = DedupeLeases(redis_url, ttl=3.0)
    renewed = threading.Event()
    original = leases._renew

    def observed(lease: Any) -> bool:
        ok = original(lease)
        renewed.set()
        return ok

    leases._renew = observed  # type: ignore[method-assign]
    lease = leases.acquire("doc")
    assert lease is not None
    assert renewed.wait(timeout=15)
    assert not lease.lost and leases.holder("doc") == lease.token
    lease.release()
    leases.close()


async def test_async_waiter_gets_the_result(redis_url: str) -> None:
    cache = ResultCache(RedisByteStore(redis_url))
    leases = DedupeLeases(redis_url, check_every=0.01)
    key = cache_key(cache)
    lease = leases.acquire(key)
    assert lease is not None
    waiting = asyncio.create_task(leases.await_for(key, cache, timeout=30))
    done = AgentExecution(id="ex-9", status="completed")
    await asyncio.to_thread(cache.mark_completed, key, done, None)
    await asyncio.to_thread(lease.release)
    outcome = await waiting
    assert outcome.state == "completed"
    assert outcome.record is not None and outcome.record.execution == done


def test_follow_peer_yields_client_effects() -> None:
    """The wait is an operation: the clients' drivers can run it (no I/O of its own)."""
    records = iter([None, CacheRecord("completed", "ex-1", execution=AgentExecution(id="ex-1"))])
    now = [0.0]

    class Leases:
        def holder(self, key: str) -> str | None:
            return "token"

    class Cache:
        def get(self, key: str) -> CacheRecord | None:
            return next(records)

    operation = follow_peer(
        "k",
        cache=cast(ResultCache, Cache()),
        leases=cast(DedupeLeases, Leases()),
        timeout=10,
        interval=2.0,
        clock=lambda: now[0],
    )
    effects: list[Any] = []
    value: Any = None
    with pytest.raises(StopIteration) as finished:
        while True:
            effect = operation.send(value)
            effects.append(type(effect))
            value = effect.function() if isinstance(effect, Blocking) else None
            if isinstance(effect, Sleep):
                assert effect.seconds == 2.0 and not effect.poll
                now[0] += effect.seconds
    assert effects == [Blocking, Blocking, Sleep, Blocking, Blocking]
    assert finished.value.value.state == "completed"


@pytest.mark.parametrize(
    ("record", "holder", "state"),
    [
        (None, "t", "waiting"),
        (CacheRecord("submitted", "ex-1"), "t", "waiting"),
        (CacheRecord("submitted", "ex-1"), None, "released"),
        (None, None, "released"),
        (CacheRecord("completed", "ex-1", execution=AgentExecution(id="ex-1")), None, "completed"),
        (CacheRecord("completed", "ex-1", execution=AgentExecution(id="ex-1")), "t", "completed"),
    ],
)
def test_peer_step(record: CacheRecord | None, holder: str | None, state: str) -> None:
    assert peer_step(record, holder) == state


def drive_effects(operation: Any) -> tuple[Any, list[Any]]:
    """Run an operation whose effects are Blocking/Sleep; returns (result, effects)."""
    seen: list[Any] = []
    value: Any = None
    while True:
        try:
            effect = operation.send(value)
        except StopIteration as finished:
            return finished.value, seen
        seen.append(effect)
        value = effect.function() if isinstance(effect, Blocking) else None


def test_holding_releases_after_success_failure_or_abandon(redis_url: str) -> None:
    leases = DedupeLeases(redis_url, keep_alive=False)

    def succeeds() -> Any:
        yield Sleep(0)
        return "done"

    def fails() -> Any:
        yield Sleep(0)
        raise ValueError("refused")

    lease = leases.acquire("doc")
    assert lease is not None
    assert drive_effects(holding(lease, succeeds()))[0] == "done"
    assert leases.holder("doc") is None

    lease = leases.acquire("doc")
    assert lease is not None
    with pytest.raises(ValueError, match="refused"):
        drive_effects(holding(lease, fails()))
    assert leases.holder("doc") is None

    lease = leases.acquire("doc")
    assert lease is not None
    abandoned = holding(lease, succeeds())
    next(abandoned)
    abandoned.close()  # e.g. the task running it was cancelled
    assert leases.holder("doc") is None


# --- process() with leases: a document another worker runs is waited for ----------

DOCUMENT = b"%PDF-1.4\n% one document, two workers\n"


def document_key(cache: ResultCache, request: ExecuteRequest) -> str:
    content = f"sha256:{hashlib.sha256(DOCUMENT).hexdigest()}"
    return cache.key(content, request.cache_fields(INPUT_FILE_KEY))


def test_process_waits_for_the_worker_running_the_document_and_pays_nothing() -> None:
    service, cache, leases = VirtualService(), ResultCache(InMemoryByteStore()), LocalLeases()
    request = ExecuteRequest(prompt="Summarise")
    key = document_key(cache, request)
    peer = leases.acquire(key)
    assert peer is not None
    theirs = AgentExecution(id="peer-run", status="completed", response={"ok": True})

    def peer_finishes(effect: Sleep) -> None:
        cache.mark_completed(key, theirs, "peer-file")
        peer.release()

    service.driver.on_sleep = peer_finishes
    result = service.process(DOCUMENT, request, cache=cache, leases=leases)
    assert (result.execution, result.file_id, result.from_cache) == (theirs, "peer-file", True)
    assert service.requests == {}  # nothing uploaded, nothing executed
    assert service.driver.sleeps() == [(leases.check_every, False)]


def test_process_runs_the_document_itself_when_the_peer_gives_up() -> None:
    service, cache, leases = VirtualService(), ResultCache(InMemoryByteStore()), LocalLeases()
    request = ExecuteRequest(prompt="Summarise", callback_url="https://hooks.test/vlmrun")
    key = document_key(cache, request)
    peer = leases.acquire(key)
    assert peer is not None
    service.driver.on_sleep = lambda effect: peer.release()  # released without a result

    service.driver.push = deliver_after(service.driver, 25.0)
    memory, health = DurationMemory(), DeliveryHealth()
    result = service.process(
        DOCUMENT, request, cache=cache, leases=leases, durations=memory, deliveries=health
    )
    assert not result.from_cache and result.file_id == "file-1"
    assert service.requests[("POST", "/agent/execute")] == 1
    assert service.driver.awaits() == [15.0]  # the callback waited for, not polled
    assert leases.holder(key) is None  # our lease is released
    record = cache.get(key)
    assert record is not None and record.state == "completed"
    # the run under the lease taught the memory (a delivery after 25 s): with one more
    # document learned, the next one's first safety poll waits past twice that
    for name in (b"another", b"third"):
        another = ExecuteRequest(prompt="Summarise", callback_url="https://hooks.test/vlmrun")
        service.process(
            b"%PDF-1.4\n% " + name + b"\n",
            another,
            leases=leases,
            durations=memory,
            deliveries=health,
        )
    assert service.driver.awaits() == [15.0, 15.0, 50.0]


def test_lease_settings_are_checked_and_shown(redis_url: str) -> None:
    for ttl in (0, -1.0):
        with pytest.raises(ValueError) as refused:
            DedupeLeases(redis_url, ttl=ttl)
        assert str(refused.value) == "ttl must be positive"
    short = DedupeLeases(redis_url, ttl=0.5)  # under a second is a lease too
    assert short.acquire("k") is not None
    short.close()  # stops renewing it
    leases = DedupeLeases(redis_url)
    assert (leases.ttl, leases.check_every) == (60.0, 1.0)
    assert repr(leases) == "DedupeLeases(prefix='vlmrun:lease:', ttl=60.0)"
    # held leases are renewed every third of the ttl (two renewals may fail in a row)
    assert leases._keeper is not None and leases._keeper.period == 20.0
    assert DedupeLeases(redis_url, keep_alive=False)._keeper is None


def test_a_lease_outlives_its_ttl_only_while_kept_alive(redis_url: str) -> None:
    import time

    kept = DedupeLeases(redis_url, ttl=0.3)
    unkept = DedupeLeases(redis_url, ttl=0.3, keep_alive=False)
    closed = DedupeLeases(redis_url, ttl=0.3)
    held, lapsing, stopped = kept.acquire("a"), unkept.acquire("b"), closed.acquire("c")
    assert held is not None and lapsing is not None and stopped is not None
    closed.close()  # stops renewing: its lease then expires like an unkept one
    time.sleep(0.8)
    assert kept.holder("a") == held.token
    assert unkept.holder("b") is None and closed.holder("c") is None
    held.release()
    kept.close()


def test_a_renewal_that_fails_is_logged_and_tried_again(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import time

    leases = DedupeLeases(redis_url, ttl=0.3)
    failures: list[str] = []

    def broken(lease: Any) -> bool:
        failures.append(lease.key)
        raise redis.ConnectionError("Redis went away")

    leases._renew = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        lease = leases.acquire("doc")
        time.sleep(0.5)
    leases.close()
    assert lease is not None and len(failures) >= 2 and not lease.lost  # tried again
    logged = [r for r in caplog.records if r.getMessage() == "could not renew dedupe lease on doc"]
    assert logged and logged[0].exc_info  # with the cause
    assert logged[0].exc_info[0] is redis.ConnectionError


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_waiting_for_a_peer_looks_every_check_every_until_the_timeout(
    redis_url: str, mode: str
) -> None:
    import time

    cache = ResultCache(RedisByteStore(redis_url))
    leases = DedupeLeases(redis_url, check_every=0.05)
    key = cache_key(cache)
    assert leases.acquire(key) is not None
    looks: list[float] = []
    holder = leases.holder

    def look(name: str) -> str | None:
        looks.append(time.monotonic())
        return holder(name)

    leases.holder = look  # type: ignore[method-assign]
    started = time.monotonic()
    if mode == "sync":
        outcome = leases.wait_for(key, cache, timeout=0.3)
    else:
        outcome = asyncio.run(leases.await_for(key, cache, timeout=0.3))
    waited = time.monotonic() - started
    assert outcome.state == "timeout" and 0.3 <= waited < 1.0
    assert len(looks) >= 5  # every 0.05 s, not once a second
    leases.close()


# --- the keeper (one daemon thread renewing every held lease each ttl/3) ----------------


class Renewals:
    """Counts each lease's renewals (by key) as the keeper makes them."""

    def __init__(self, leases: DedupeLeases) -> None:
        self.counts: dict[str, int] = {}
        self.changed = threading.Condition()
        original = leases._renew

        def counted(lease: Any) -> bool:
            renewed = original(lease)
            with self.changed:
                self.counts[lease.key] = self.counts.get(lease.key, 0) + 1
                self.changed.notify_all()
            return renewed

        leases._renew = counted  # type: ignore[method-assign]

    def wait(self, lease: Any, more: int) -> None:
        """Until ``lease`` is renewed ``more`` more times, or found lost (at most 30 s;
        on a machine so busy that the keeper stalls for a whole ttl, it is lost)."""
        with self.changed:
            target = self.counts.get(lease.key, 0) + more
            assert self.changed.wait_for(
                lambda: self.counts.get(lease.key, 0) >= target or lease.lost, 30
            )


def lease_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "dedupe lease" in r.getMessage()]


def test_the_keeper_is_one_named_daemon_thread(redis_url: str) -> None:
    leases = DedupeLeases(redis_url, ttl=30.0)
    before = set(threading.enumerate())
    first, second = leases.acquire("a"), leases.acquire("b")
    assert first is not None and second is not None
    (keeper,) = set(threading.enumerate()) - before  # one for every lease held
    assert keeper.name == "vlmrun-lease-keepalive" and keeper.daemon
    first.release()
    second.release()
    leases.close()


def test_a_lease_taken_over_meanwhile_is_marked_lost_once_and_left_alone(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    leases = DedupeLeases(redis_url, ttl=1.5)
    renewals = Renewals(leases)
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        taken, kept = leases.acquire("taken"), leases.acquire("kept")
        assert taken is not None and kept is not None
        # it expired (a stalled worker) and another worker holds it now
        redis.Redis.from_url(redis_url).set(leases.prefix + "taken", "another worker")
        renewals.wait(taken, 3)  # found lost at its next renewal
        assert taken.lost is True
        tries = renewals.counts["taken"]
        renewals.wait(kept, 2)  # rounds after the loss
    assert renewals.counts["taken"] == tries  # not tried again once lost
    taken_warnings = [m for m in lease_warnings(caplog) if " taken " in m]
    assert taken_warnings == ["dedupe lease on taken expired before release"]
    assert leases.holder("taken") == "another worker"  # theirs, untouched
    kept.release()
    leases.close()


def test_a_released_lease_is_no_longer_renewed(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    leases = DedupeLeases(redis_url, ttl=1.5)
    renewals = Renewals(leases)
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        done, kept = leases.acquire("done"), leases.acquire("kept")
        assert done is not None and kept is not None
        done.release()
        renewals.wait(kept, 2)
    assert "done" not in renewals.counts and not done.lost
    assert [m for m in lease_warnings(caplog) if " done " in m] == []
    kept.release()
    leases.close()


def test_a_failed_renewal_does_not_keep_the_others_from_theirs(redis_url: str) -> None:
    leases = DedupeLeases(redis_url, ttl=0.6)  # (b lost on a stalled machine: checked below)
    renewals = Renewals(leases)
    counted = leases._renew

    def broken_for_a(lease: Any) -> bool:
        if lease.key == "a":
            raise redis.ConnectionError("Redis went away")
        return counted(lease)

    leases._renew = broken_for_a  # type: ignore[method-assign]
    a, b = leases.acquire("a"), leases.acquire("b")
    assert a is not None and b is not None
    renewals.wait(b, 3)  # beyond its ttl: renewed each round despite a's failures
    assert b.lost or leases.holder("b") == b.token
    assert renewals.counts["b"] >= 3 or b.lost
    a.release()
    b.release()
    leases.close()
