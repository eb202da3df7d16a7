"""WebhookHub pinned down: who is woken by which delivery, what is remembered and for
how long, cache keys, timeouts and cancellation (threads and event loops)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.webhooks.hub import Ticket, WebhookHub


def done(execution_id: str = "ex-1", status: str = "completed") -> AgentExecution:
    return AgentExecution(id=execution_id, status=status, response={"id": execution_id})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- tickets -------------------------------------------------------------------------


def test_a_ticket_reports_its_state_before_and_after_its_delivery() -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    assert isinstance(ticket, Ticket) and ticket.execution_id == "ex-1"
    assert repr(ticket) == "Ticket('ex-1', done=False)"
    assert not ticket.done and ticket.result() is None
    assert ticket.wait(0) is None  # not delivered: None at once
    assert hub.complete(done()) == 1
    assert repr(ticket) == "Ticket('ex-1', done=True)"
    assert ticket.done and ticket.result() == done()
    assert ticket.wait(0) == done()


def test_expecting_an_execution_already_delivered_resolves_the_ticket_at_once() -> None:
    hub = WebhookHub()
    assert hub.complete(done("ex-1", "failed")) == 0  # nobody waited
    ticket = hub.expect("ex-1")
    assert ticket.done and ticket.result() == done("ex-1", "failed")
    assert hub.waiting() == 0  # resolved, so not registered as a waiter
    assert hub.expect("ex-2").result() is None and hub.waiting("ex-2") == 1


def test_only_the_waiters_of_the_delivered_execution_wake() -> None:
    hub = WebhookHub()
    first, second, other = hub.expect("ex-1"), hub.expect("ex-1"), hub.expect("ex-2")
    assert (hub.waiting(), hub.waiting("ex-1"), hub.waiting("ex-2"), hub.waiting("x")) == (
        3,
        2,
        1,
        0,
    )
    assert hub.complete(done("ex-1")) == 2
    assert first.result() == second.result() == done("ex-1")
    assert other.result() is None and not other.done
    assert (hub.waiting(), hub.waiting("ex-1"), hub.waiting("ex-2")) == (1, 0, 1)
    assert hub.complete(done("ex-1")) == 0  # a repeat wakes nobody new


def test_a_cancelled_ticket_is_not_woken_and_leaves_the_others_waiting() -> None:
    hub = WebhookHub()
    cancelled, kept = hub.expect("ex-1"), hub.expect("ex-1")
    cancelled.cancel()
    cancelled.cancel()  # twice: nothing more happens
    assert hub.waiting("ex-1") == 1
    assert hub.complete(done()) == 1
    assert kept.result() == done() and cancelled.result() is None
    kept.cancel()  # after its delivery: nothing to forget
    assert hub.waiting() == 0
    assert repr(hub) == "WebhookHub(waiting=0, remembered=1)"


def test_cancelling_the_last_ticket_of_an_execution_and_expecting_it_again() -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    ticket.cancel()
    assert hub.waiting() == 0
    again = hub.expect("ex-1")
    assert hub.waiting("ex-1") == 1
    assert hub.complete(done()) == 1 and again.done and not ticket.done


def test_repr_of_the_hub_counts_waiters_and_remembered_deliveries() -> None:
    hub = WebhookHub()
    assert repr(hub) == "WebhookHub(waiting=0, remembered=0)"
    hub.expect("ex-1")
    hub.expect("ex-2")
    hub.complete(done("ex-3"))
    assert repr(hub) == "WebhookHub(waiting=2, remembered=1)"


def test_a_thread_waiting_with_a_timeout_is_woken_with_the_execution() -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    results: list[AgentExecution | None] = []
    waiter = threading.Thread(target=lambda: results.append(ticket.wait(30)))
    waiter.start()
    hub.complete(done())
    waiter.join(timeout=30)
    assert results == [done()]


def test_a_blocking_wait_times_out_with_none_and_unregisters() -> None:
    hub = WebhookHub()
    assert hub.wait("ex-1", timeout=0.01) is None
    assert hub.waiting() == 0
    assert hub.complete(done()) == 0


def test_a_blocking_wait_for_a_delivered_execution_returns_it_at_once() -> None:
    hub = WebhookHub()
    hub.complete(done())
    assert hub.wait("ex-1", timeout=0) == done()
    assert hub.wait("ex-1", timeout=None) == done()  # no timeout needed: remembered
    assert hub.waiting() == 0


# --- asyncio -------------------------------------------------------------------------


async def test_a_resolved_ticket_is_awaited_without_waiting() -> None:
    hub = WebhookHub()
    hub.complete(done())
    ticket = hub.expect("ex-1")
    assert await ticket.await_(0) == done()
    assert await hub.await_("ex-1", timeout=0) == done()


async def test_an_awaited_ticket_waits_for_its_delivery() -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    waiting = asyncio.create_task(ticket.await_(30))
    await asyncio.sleep(0)
    assert not waiting.done()  # not resolved: it waits
    assert hub.complete(done()) == 1
    assert await waiting == done()
    assert await ticket.await_(0) == done()  # and stays resolved


async def test_an_awaited_ticket_times_out_with_none_and_can_be_awaited_again() -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    assert await ticket.await_(0.01) is None
    assert not ticket.done and hub.waiting("ex-1") == 1  # still interested
    again = asyncio.create_task(ticket.await_(30))
    await asyncio.sleep(0)
    threading.Thread(target=hub.complete, args=(done(),)).start()
    assert await again == done()


async def test_an_async_wait_times_out_with_none_and_unregisters() -> None:
    hub = WebhookHub()
    assert await hub.await_("ex-1", timeout=0.01) is None
    assert hub.waiting() == 0
    assert hub.complete(done()) == 0


async def test_two_async_waiters_of_one_execution_are_both_woken() -> None:
    hub = WebhookHub()
    first = asyncio.create_task(hub.await_("ex-1", timeout=30))
    second = asyncio.create_task(hub.await_("ex-1", timeout=30))
    await asyncio.sleep(0)
    assert hub.waiting("ex-1") == 2
    assert hub.complete(done()) == 2
    assert await first == done() and await second == done()
    assert hub.waiting() == 0


def test_a_waiter_on_an_abandoned_event_loop_does_not_stop_the_delivery() -> None:
    hub = WebhookHub()
    abandoned = hub.expect("ex-1")
    loop = asyncio.new_event_loop()
    task = loop.create_task(abandoned.await_(30))
    loop.run_until_complete(asyncio.sleep(0))  # the task waits on its future...
    loop.close()  # ...and its loop is gone (closed without finishing it)
    later = hub.expect("ex-1")
    assert hub.complete(done()) == 2  # no RuntimeError from the closed loop
    assert abandoned.result() == done() and later.result() == done()
    assert not task.done()


# --- remembering deliveries ----------------------------------------------------------


def test_deliveries_are_remembered_for_ten_minutes_by_default() -> None:
    clock = Clock()
    hub = WebhookHub(clock=clock)
    assert (hub.remember, hub.remember_for, hub.clock) == (256, 600.0, clock)
    hub.complete(done())
    clock.now = 599.9
    assert hub.delivered("ex-1") == done()
    clock.now = 600.0
    assert hub.delivered("ex-1") is None
    assert not hub.expect("ex-1").done


def test_the_default_clock_is_monotonic_time() -> None:
    hub = WebhookHub()
    hub.complete(done())
    assert hub.delivered("ex-1") == done()
    assert hub.delivered("ex-2") is None


def test_expiry_is_measured_from_the_latest_delivery() -> None:
    clock = Clock()
    hub = WebhookHub(remember_for=10.0, clock=clock)
    hub.complete(done("ex-1"))
    clock.now = 5.0
    hub.complete(done("ex-2"))
    clock.now = 9.0
    hub.complete(done("ex-1", "failed"))  # delivered again: remembered anew
    clock.now = 12.0  # ex-1's first delivery is 12 s old, its second 3 s
    assert hub.delivered("ex-1") == done("ex-1", "failed")
    assert hub.delivered("ex-2") == done("ex-2")
    clock.now = 15.0
    assert hub.delivered("ex-2") is None and hub.delivered("ex-1") is not None
    clock.now = 19.0
    assert hub.delivered("ex-1") is None
    assert repr(hub) == "WebhookHub(waiting=0, remembered=0)"


def test_a_delivery_expired_before_an_expect_does_not_resolve_it() -> None:
    clock = Clock()
    hub = WebhookHub(remember_for=10.0, clock=clock)
    hub.complete(done())
    clock.now = 10.0
    ticket = hub.expect("ex-1")
    assert not ticket.done and hub.waiting("ex-1") == 1


def test_a_full_memory_forgets_the_oldest_delivery_first() -> None:
    hub = WebhookHub(remember=2)
    hub.complete(done("ex-1"))
    hub.complete(done("ex-2"))
    assert hub.delivered("ex-1") is not None and hub.delivered("ex-2") is not None
    hub.complete(done("ex-1", "failed"))  # ex-1 is now the newest
    hub.complete(done("ex-3"))
    assert hub.delivered("ex-2") is None
    assert hub.delivered("ex-1") == done("ex-1", "failed")
    assert hub.delivered("ex-3") == done("ex-3")
    assert repr(hub) == "WebhookHub(waiting=0, remembered=2)"


def test_the_default_memory_holds_256_deliveries() -> None:
    hub = WebhookHub()
    for i in range(256):
        hub.complete(done(f"ex-{i}"))
    assert hub.delivered("ex-0") is not None
    hub.complete(done("ex-256"))
    assert hub.delivered("ex-0") is None and hub.delivered("ex-1") is not None


# --- cache keys ----------------------------------------------------------------------


def test_a_cache_key_is_given_once() -> None:
    hub = WebhookHub()
    hub.expect("ex-1", cache_key="key-1")
    hub.expect("ex-2")
    assert hub.cache_key("ex-2") is None
    assert hub.cache_key("ex-1") == "key-1"
    assert hub.cache_key("ex-1") is None  # then forgotten


def test_cache_keys_never_delivered_are_bounded_to_sixteen_times_remember() -> None:
    hub = WebhookHub(remember=2)
    for i in range(32):
        hub.expect(f"ex-{i}", cache_key=f"key-{i}")
    assert hub.cache_key("ex-0") == "key-0"  # 32 = 16 x 2 are kept
    hub = WebhookHub(remember=2)
    for i in range(33):
        hub.expect(f"ex-{i}", cache_key=f"key-{i}")
    assert hub.cache_key("ex-0") is None  # the 33rd pushed the oldest out
    assert hub.cache_key("ex-1") == "key-1"
    assert hub.cache_key("ex-32") == "key-32"


@pytest.mark.parametrize("cache_key", ["key-1", None])
def test_a_cache_key_does_not_change_how_the_ticket_is_resolved(cache_key: str | None) -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1", cache_key=cache_key)
    assert hub.complete(done()) == 1 and ticket.result() == done()
