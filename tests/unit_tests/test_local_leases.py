"""In-process dedupe leases and the sans-IO ``follow_peer``/``claim``/``holding``
operations, effect by effect on a virtual clock (``Driver``): which key is read, how
long each pause is, when the wait ends, what the timeout says, and that a lease is
released however the work under it ends."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Generator
from typing import Any, cast

import pytest

from langchain_vlmrun.client._effects import Blocking, Sleep
from langchain_vlmrun.client._leases import (
    Claim,
    Lease,
    Leases,
    LocalLeases,
    PeerOutcome,
    claim,
    follow_peer,
    holding,
    peer_step,
)
from langchain_vlmrun.client.cache import CacheRecord, ResultCache
from langchain_vlmrun.core.errors import ExecutionTimeoutError
from langchain_vlmrun.core.models import AgentExecution
from tests.support import Driver

DONE = CacheRecord("completed", "ex-done", execution=AgentExecution(id="ex-done"))
SUBMITTED = CacheRecord("submitted", "ex-peer")


class Script:
    """A lease store and a cache in one: each read of the holder or the record returns
    the next scripted value (the last repeats), and every key read is recorded."""

    def __init__(
        self,
        holders: list[str | None],
        records: list[CacheRecord | None],
        *,
        acquired: list[Lease | None] | None = None,
        check_every: float = 0.5,
    ) -> None:
        self.holders, self.records = holders, records
        self.acquired = acquired or [None]
        self.check_every = check_every
        self.reads: list[tuple[str, str]] = []

    @staticmethod
    def _next(values: list[Any]) -> Any:
        return values.pop(0) if len(values) > 1 else values[0]

    def holder(self, key: str) -> str | None:
        self.reads.append(("holder", key))
        return cast("str | None", self._next(self.holders))

    def get(self, key: str) -> CacheRecord | None:
        self.reads.append(("record", key))
        return cast("CacheRecord | None", self._next(self.records))

    def acquire(self, key: str) -> Lease | None:
        self.reads.append(("acquire", key))
        return cast("Lease | None", self._next(self.acquired))

    def _renew(self, lease: Lease) -> bool:
        return True

    def _release(self, lease: Lease) -> bool:
        return True

    @property
    def cache(self) -> ResultCache:
        return cast(ResultCache, self)

    @property
    def leases(self) -> Leases:
        return cast(Leases, self)


def follow(script: Script, driver: Driver, **kwargs: Any) -> PeerOutcome:
    kwargs.setdefault("timeout", 10.0)
    operation = follow_peer(
        "doc-key", cache=script.cache, leases=script.leases, clock=driver.clock, **kwargs
    )
    return cast(PeerOutcome, driver.run(operation))


# --- LocalLeases -------------------------------------------------------------------------


def test_one_lease_per_key_until_released() -> None:
    leases = LocalLeases()
    first = leases.acquire("doc")
    assert first is not None and first.key == "doc" and first.owner is leases
    assert re.fullmatch(r"[0-9a-f]{16}", first.token)
    assert leases.holder("doc") == first.token
    assert leases.acquire("doc") is None  # a second worker waits
    other = leases.acquire("other")  # another document is not held up
    assert other is not None and other.token != first.token
    assert first.release() is True
    assert leases.holder("doc") is None
    again = leases.acquire("doc")
    assert again is not None and again.token != first.token


def test_holder_of_an_unknown_key_is_none() -> None:
    assert LocalLeases().holder("never") is None


def test_check_every_default_and_given() -> None:
    assert LocalLeases().check_every == 0.02
    assert LocalLeases(check_every=0.25).check_every == 0.25


def test_a_pickled_copy_keeps_its_settings_and_holds_no_lease() -> None:
    import pickle

    leases = LocalLeases(check_every=0.25)
    assert leases.acquire("doc") is not None
    copied = pickle.loads(pickle.dumps(leases))
    assert copied.check_every == 0.25 and copied.holder("doc") is None


def test_repr_counts_the_held_leases_and_shows_no_token() -> None:
    leases = LocalLeases()
    assert repr(leases) == "LocalLeases(held=0)"
    lease = leases.acquire("a")
    leases.acquire("b")
    assert lease is not None
    assert repr(leases) == "LocalLeases(held=2)"
    assert lease.token not in repr(leases)
    lease.release()
    assert repr(leases) == "LocalLeases(held=1)"


def test_a_stale_lease_cannot_release_or_renew_its_successor() -> None:
    leases = LocalLeases()
    stale = leases.acquire("doc")
    assert stale is not None
    assert stale.renew() is True and stale.lost is False
    assert stale.release() is True
    assert stale.release() is False  # released twice: the second finds nothing
    successor = leases.acquire("doc")
    assert successor is not None
    assert stale.release() is False  # not ours any more: the successor keeps it
    assert leases.holder("doc") == successor.token
    assert stale.renew() is False and stale.lost is True
    assert successor.renew() is True and successor.lost is False
    assert successor.release() is True and leases.holder("doc") is None


def test_lease_as_context_manager_releases_on_exit() -> None:
    leases = LocalLeases()
    lease = leases.acquire("doc")
    assert lease is not None
    with lease as entered:
        assert entered is lease
        assert leases.holder("doc") == lease.token
    assert leases.holder("doc") is None
    lease = leases.acquire("doc")
    assert lease is not None
    with pytest.raises(RuntimeError), lease:
        raise RuntimeError("boom")
    assert leases.holder("doc") is None


def test_lost_stays_true_once_a_renewal_failed() -> None:
    answers = iter([True, False, True])

    class Owner:
        check_every = 1.0

        def _renew(self, lease: Lease) -> bool:
            return next(answers)

    lease = Lease("doc", "t0", cast(Leases, Owner()))
    assert lease.renew() is True and lease.lost is False
    assert lease.renew() is False and lease.lost is True
    assert lease.renew() is True and lease.lost is True  # may have been taken meanwhile


def test_lease_repr_hides_the_store_and_leases_compare_by_identity() -> None:
    leases = LocalLeases()
    lease = Lease("doc", "abc", leases)
    assert repr(lease) == "Lease(key='doc', token='abc', lost=False)"
    assert lease != Lease("doc", "abc", leases)
    assert lease == lease


def test_threads_racing_for_one_key_get_one_lease() -> None:
    leases = LocalLeases()
    start = threading.Barrier(8)
    won: list[Lease] = []

    def worker() -> None:
        start.wait()
        lease = leases.acquire("doc")
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and leases.holder("doc") == won[0].token


# --- peer_step ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "holder", "state"),
    [
        (None, "t", "waiting"),
        (None, None, "released"),
        (SUBMITTED, "t", "waiting"),
        (SUBMITTED, None, "released"),
        (CacheRecord("completed", "ex-1"), "t", "waiting"),  # no execution: not usable
        (CacheRecord("completed", "ex-1"), None, "released"),
        (CacheRecord("submitted", "ex-1", execution=AgentExecution(id="ex-1")), "t", "waiting"),
        (DONE, "t", "completed"),
        (DONE, None, "completed"),
    ],
)
def test_peer_step(record: CacheRecord | None, holder: str | None, state: str) -> None:
    assert peer_step(record, holder) == state


# --- follow_peer -------------------------------------------------------------------------


def test_follow_reads_the_holder_then_the_record_of_its_key() -> None:
    script = Script(["t", "t", None], [None])
    driver = Driver()
    outcome = follow(script, driver, interval=2.0)
    assert outcome == PeerOutcome("released", None)
    assert script.reads == [("holder", "doc-key"), ("record", "doc-key")] * 3
    assert driver.sleeps() == [(2.0, False), (2.0, False)]
    assert [type(effect) for effect in driver.effects] == [Blocking, Blocking, Sleep] * 2 + [
        Blocking,
        Blocking,
    ]


def test_follow_ends_with_the_completed_record() -> None:
    script = Script(["t"], [None, SUBMITTED, DONE])
    driver = Driver()
    outcome = follow(script, driver)
    assert outcome.state == "completed" and outcome.record is DONE
    assert driver.sleeps() == [(1.0, False), (1.0, False)]  # the default interval: 1 s
    assert driver.now == 1002.0


def test_follow_released_returns_the_record_left_behind() -> None:
    outcome = follow(Script(["t", None], [SUBMITTED]), Driver(), interval=0.5)
    assert outcome == PeerOutcome("released", SUBMITTED)


def test_follow_times_out_at_exactly_the_timeout_with_the_last_record() -> None:
    script = Script(["t"], [None, SUBMITTED])
    driver = Driver()
    outcome = follow(script, driver, timeout=3.0, interval=1.0)
    assert outcome == PeerOutcome("timeout", SUBMITTED)
    assert driver.sleeps() == [(1.0, False)] * 3  # then waited == timeout: no fourth pause
    assert driver.now == 1003.0
    assert len(script.reads) == 8  # a last look after the last pause


def test_follow_cuts_the_last_pause_to_the_time_left() -> None:
    driver = Driver()
    outcome = follow(Script(["t"], [None]), driver, timeout=2.5, interval=1.0)
    assert outcome == PeerOutcome("timeout", None)
    assert driver.sleeps() == [(1.0, False), (1.0, False), (0.5, False)]


def test_follow_with_no_time_left_looks_once_and_does_not_pause() -> None:
    driver = Driver()
    outcome = follow(Script(["t"], [SUBMITTED]), driver, timeout=0.0)
    assert outcome == PeerOutcome("timeout", SUBMITTED)
    assert driver.sleeps() == []


def test_follow_counts_time_from_its_start_not_from_the_clock_zero() -> None:
    driver = Driver()
    driver.now = 50_000.0
    outcome = follow(Script(["t"], [None]), driver, timeout=1.5, interval=1.0)
    assert outcome.state == "timeout"
    assert driver.sleeps() == [(1.0, False), (0.5, False)]


def test_follow_uses_the_monotonic_clock_by_default() -> None:
    operation = follow_peer(
        "k", cache=Script(["t"], [None]).cache, leases=Script(["t"], [None]).leases, timeout=0.0
    )
    outcome = Driver().run(operation)
    assert outcome == PeerOutcome("timeout", None)


def test_peer_outcome_record_defaults_to_none() -> None:
    assert PeerOutcome("released").record is None
    assert Claim(None).record is None


# --- claim -------------------------------------------------------------------------------


def claim_with(script: Script, driver: Driver, timeout: float = 10.0) -> Claim:
    operation = claim(
        "doc-key", cache=script.cache, leases=script.leases, timeout=timeout, clock=driver.clock
    )
    return cast(Claim, driver.run(operation))


def test_claim_takes_a_free_lease_at_once() -> None:
    leases = LocalLeases()
    driver = Driver()
    cache = Script(["unused"], [None]).cache
    result = driver.run(claim("doc", cache=cache, leases=leases, timeout=5, clock=driver.clock))
    assert isinstance(result, Claim) and result.record is None
    assert result.lease is not None and leases.holder("doc") == result.lease.token
    assert [type(effect) for effect in driver.effects] == [Blocking]


def test_claim_returns_the_record_a_peer_completed() -> None:
    script = Script(["t"], [None, DONE], check_every=0.25)
    driver = Driver()
    result = claim_with(script, driver)
    assert result == Claim(None, DONE)
    assert script.reads == [
        ("acquire", "doc-key"),
        *[("holder", "doc-key"), ("record", "doc-key")] * 2,
    ]
    assert driver.sleeps() == [(0.25, False)]  # the store's check_every


def test_claim_takes_over_from_a_peer_that_gave_up() -> None:
    mine = Lease("doc-key", "mine", cast(Leases, None))
    script = Script(["t", None], [None], acquired=[None, mine], check_every=1.0)
    driver = Driver()
    result = claim_with(script, driver)
    assert result.lease is mine and result.record is None
    assert [name for name, _ in script.reads] == [
        "acquire",
        "holder",
        "record",
        "holder",
        "record",
        "acquire",
    ]


def test_claim_times_out_naming_the_peers_execution() -> None:
    script = Script(["t"], [SUBMITTED], check_every=1.0)
    driver = Driver()
    with pytest.raises(ExecutionTimeoutError) as raised:
        claim_with(script, driver, timeout=3.0)
    error = raised.value
    assert error.execution_id == "ex-peer"
    assert error.status == "running in another worker"
    assert error.waited == 3.0
    assert str(error) == (
        "VLM Run execution ex-peer still 'running in another worker' after waiting 3.0s; "
        "resume with client.wait('ex-peer') or raise the timeout."
    )
    assert driver.sleeps() == [(1.0, False)] * 3


def test_claim_times_out_before_the_peer_submitted() -> None:
    driver = Driver()
    with pytest.raises(ExecutionTimeoutError) as raised:
        claim_with(Script(["t"], [None], check_every=2.0), driver, timeout=3.0)
    assert raised.value.execution_id == "(not submitted yet)"
    assert raised.value.waited == 3.0
    assert driver.sleeps() == [(2.0, False), (1.0, False)]


def test_claim_after_a_takeover_waits_only_the_time_left() -> None:
    # the first peer gives up after 2 s, the lease is taken by a third worker meanwhile:
    # the second wait gets the 3 s left of 5, not 5 again
    script = Script(["t", "t", "t", None, "t"], [None], check_every=1.0)
    driver = Driver()
    with pytest.raises(ExecutionTimeoutError) as raised:
        claim_with(script, driver, timeout=5.0)
    assert raised.value.waited == 5.0
    assert driver.sleeps() == [(1.0, False)] * 5
    assert [name for name, _ in script.reads].count("acquire") == 2


def test_claim_past_its_timeout_does_not_wait_a_negative_time() -> None:
    # the time is already used up when the wait starts (taking the lease was slow)
    script = Script(["t"], [None], check_every=1.0)
    driver = Driver()
    acquires = iter([None])

    def slow_acquire(key: str) -> Lease | None:
        driver.now += 4.0
        return next(acquires)

    script.acquire = slow_acquire  # type: ignore[method-assign]
    with pytest.raises(ExecutionTimeoutError) as raised:
        claim_with(script, driver, timeout=3.0)
    assert raised.value.waited == 4.0
    assert driver.sleeps() == []  # one look, no pause


# --- holding -----------------------------------------------------------------------------


class Recorded:
    """A lease whose releases are counted."""

    def __init__(self) -> None:
        self.releases = 0

    def release(self) -> bool:
        self.releases += 1
        return True


def work(
    result: Any = "done", error: BaseException | None = None
) -> Callable[[], Generator[Any, Any, Any]]:
    def operation() -> Generator[Any, Any, Any]:
        yield Sleep(1.0)
        if error is not None:
            raise error
        return result

    return operation


def test_holding_returns_the_result_then_releases_as_an_effect() -> None:
    lease = Recorded()
    driver = Driver()
    assert driver.run(holding(cast(Lease, lease), work("done")())) == "done"
    assert lease.releases == 1
    assert [type(effect) for effect in driver.effects] == [Sleep, Blocking]


def test_holding_releases_then_reraises_a_failure() -> None:
    lease = Recorded()
    driver = Driver()
    with pytest.raises(ValueError, match="refused"):
        driver.run(holding(cast(Lease, lease), work(error=ValueError("refused"))()))
    assert lease.releases == 1
    assert [type(effect) for effect in driver.effects] == [Sleep, Blocking]


def test_holding_releases_on_a_base_exception_too() -> None:
    lease = Recorded()
    operation = holding(cast(Lease, lease), work(error=KeyboardInterrupt())())
    assert isinstance(next(operation), Sleep)
    effect = operation.send(None)
    assert isinstance(effect, Blocking) and lease.releases == 0
    effect.function()
    assert lease.releases == 1
    with pytest.raises(KeyboardInterrupt):
        operation.send(None)
    assert lease.releases == 1


def test_holding_abandoned_releases_at_once_without_an_effect() -> None:
    lease = Recorded()
    operation = holding(cast(Lease, lease), work()())
    assert isinstance(next(operation), Sleep)
    operation.close()  # e.g. the task running it was cancelled
    assert lease.releases == 1


def test_holding_a_local_lease_frees_the_key() -> None:
    leases = LocalLeases()
    lease = leases.acquire("doc")
    assert lease is not None
    assert Driver().run(holding(lease, work(42)())) == 42
    assert leases.holder("doc") is None
