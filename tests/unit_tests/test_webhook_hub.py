"""WebhookHub (threads and event loops) and the callback-driven wait operation."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import (
    AgentExecution,
    ExecutionFailedError,
    ExecutionTimeoutError,
    InternalServerError,
    ResultCache,
)
from langchain_vlmrun.client._operations import (
    AwaitDelivery,
    Call,
    Completion,
    ExecuteRequest,
    wait_for_callback,
)
from langchain_vlmrun.client._polling import DeliveryHealth, DurationMemory
from langchain_vlmrun.webhooks.hub import WebhookHub
from tests.mock_api import ScriptedAPI, execution, json_body
from tests.support import Driver, VirtualService, deliver_after, until

DATA = b"%PDF-1.4 a document"


def done(execution_id: str = "ex-1", status: str = "completed") -> AgentExecution:
    return AgentExecution(id=execution_id, status=status, response={"total": 12})


def test_a_delivery_wakes_every_waiter_of_that_execution() -> None:
    hub = WebhookHub()
    first, second, other = hub.expect("ex-1"), hub.expect("ex-1"), hub.expect("ex-2")
    assert hub.complete(done("ex-1")) == 2
    assert first.wait(0) == done("ex-1") and second.wait(0) == done("ex-1")
    assert not other.done and hub.waiting() == 1


def test_a_blocked_thread_is_woken() -> None:
    hub = WebhookHub()
    results: list[AgentExecution | None] = []
    waiter = threading.Thread(target=lambda: results.append(hub.wait("ex-1", timeout=30)))
    waiter.start()
    until(lambda: hub.waiting("ex-1") == 1)
    hub.complete(done())
    waiter.join(timeout=30)
    assert results == [done()] and hub.waiting() == 0


def test_a_delivery_before_anyone_waits_is_remembered() -> None:
    now = [0.0]
    hub = WebhookHub(remember=2, remember_for=60.0, clock=lambda: now[0])
    hub.complete(done("ex-1"))
    assert hub.wait("ex-1", timeout=0) == done("ex-1")
    hub.complete(done("ex-2"))
    hub.complete(done("ex-3"))  # only two are remembered
    assert hub.delivered("ex-1") is None and hub.delivered("ex-2") is not None
    now[0] = 61.0  # and only for a minute
    assert hub.wait("ex-3", timeout=0) is None


def test_a_wait_that_times_out_leaves_nothing_behind() -> None:
    hub = WebhookHub()
    assert hub.wait("ex-1", timeout=0.01) is None
    assert hub.waiting() == 0


async def test_an_async_waiter_is_woken_from_another_thread() -> None:
    hub = WebhookHub()
    waiting = asyncio.create_task(hub.await_("ex-1", timeout=30))
    await asyncio.sleep(0)  # the task runs up to its first await: registered
    assert hub.waiting("ex-1") == 1
    completer = threading.Thread(target=hub.complete, args=(done(),))
    completer.start()
    assert await waiting == done()
    completer.join()
    assert hub.waiting() == 0


def test_waiters_on_two_event_loops_are_woken_on_their_own_loops() -> None:
    hub = WebhookHub()
    results: dict[str, Any] = {}

    def waiter(name: str) -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            execution = await hub.await_("ex-1", timeout=30)
            results[name] = (execution, asyncio.get_running_loop() is loop)

        asyncio.run(main())

    threads = [threading.Thread(target=waiter, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    until(lambda: hub.waiting("ex-1") == 2)
    assert hub.complete(done()) == 2
    for thread in threads:
        thread.join(timeout=30)
    assert results == {"a": (done(), True), "b": (done(), True)}


async def test_a_cancelled_async_waiter_unregisters() -> None:
    hub = WebhookHub()
    waiting = asyncio.create_task(hub.await_("ex-1", timeout=30))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert hub.waiting() == 0
    assert hub.complete(done()) == 0


async def test_an_async_wait_times_out_with_none() -> None:
    hub = WebhookHub()
    assert await hub.await_("ex-1", timeout=0.01) is None
    assert hub.waiting() == 0


# -- the wait operation --------------------------------------------------------------


def drive(operation: Any, on_await: Any, on_call: Any, clock: list[float]) -> Any:
    """Run an operation with scripted effects; returns (result, effects seen)."""
    seen: list[Any] = []
    value: Any = None
    while True:
        try:
            effect = operation.send(value)
        except StopIteration as finished:
            return finished.value, seen
        seen.append(effect)
        if isinstance(effect, AwaitDelivery):
            value = on_await(effect)
            if value is None:
                clock[0] += effect.timeout
        else:
            assert isinstance(effect, Call)
            value = on_call(effect)


def status_response(status: str) -> httpx.Response:
    request = httpx.Request("GET", "https://api.test/v1/agent/executions/ex-1")
    return httpx.Response(200, json={"id": "ex-1", "status": status}, request=request)


def test_the_callback_ends_the_wait_without_any_poll() -> None:
    now = [0.0]
    operation = wait_for_callback("ex-1", timeout=600, clock=lambda: now[0])
    result, seen = drive(operation, lambda effect: done(), None, now)
    assert result == done()
    assert seen == [AwaitDelivery("ex-1", 15.0)]


def test_without_a_callback_it_polls_at_the_safety_pace() -> None:
    now = [0.0]
    polls = iter([status_response("running"), status_response("completed")])
    operation = wait_for_callback("ex-1", timeout=600, clock=lambda: now[0])
    result, seen = drive(operation, lambda effect: None, lambda call: next(polls), now)
    assert result.status == "completed"
    assert [type(e).__name__ for e in seen] == ["AwaitDelivery", "Call"] * 2
    assert [e.timeout for e in seen if isinstance(e, AwaitDelivery)] == [15.0, 30.0]


def test_a_learned_duration_moves_the_first_safety_poll_past_the_expected_end() -> None:
    now = [0.0]
    learned: list[Completion] = []
    operation = wait_for_callback(
        "ex-1", timeout=600, clock=lambda: now[0], expected=20.0, on_complete=learned.append
    )

    def callback_at_25s(effect: AwaitDelivery) -> AgentExecution:
        now[0] += 25.0
        return done()

    result, seen = drive(operation, callback_at_25s, None, now)
    assert result == done()
    assert seen == [AwaitDelivery("ex-1", 40.0)]  # no safety poll before the callback
    assert [(c.upper, c.delivered) for c in learned] == [(25.0, True)]
    (completion,) = learned
    assert completion.execution == done() and completion.lower == 0.0 and completion.probe is None


def test_a_completion_found_by_the_safety_poll_is_not_reported_as_delivered() -> None:
    driver = Driver(route=lambda call: status_response("completed"))
    learned: list[Completion] = []
    operation = wait_for_callback(
        "ex-1", timeout=600, clock=driver.clock, on_complete=learned.append
    )
    driver.run(operation)
    assert driver.awaits() == [15.0]
    assert [(c.upper, c.delivered) for c in learned] == [(15.0, False)]
    assert learned[0].execution.status == "completed" and learned[0].lower == 0.0


def test_a_failed_delivery_raises() -> None:
    now = [0.0]
    operation = wait_for_callback("ex-1", timeout=600, clock=lambda: now[0])
    with pytest.raises(ExecutionFailedError) as raised:
        drive(operation, lambda effect: done(status="failed"), None, now)
    assert raised.value.execution.id == "ex-1"


def test_the_last_wait_is_capped_by_the_timeout() -> None:
    now = [0.0]
    operation = wait_for_callback(
        "ex-1", timeout=20, clock=lambda: now[0], current=AgentExecution(id="ex-1")
    )
    with pytest.raises(ExecutionTimeoutError) as raised:
        drive(operation, lambda effect: None, lambda call: status_response("running"), now)
    assert raised.value.status == "running"


def test_a_client_with_a_hub_waits_for_the_callback_instead_of_polling() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="running"))
    hub = WebhookHub()
    client = api.client(hub=hub)
    results: list[AgentExecution] = []
    waiter = threading.Thread(target=lambda: results.append(client.wait("ex-1")))
    waiter.start()
    until(lambda: hub.waiting("ex-1") == 1)
    hub.complete(done())
    waiter.join(timeout=30)
    assert results == [done()]
    assert api.calls("GET", "/agent/executions/ex-1") == 0


async def test_an_async_client_with_a_hub_waits_for_the_callback() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="running"))
    hub = WebhookHub()
    async with api.async_client(hub=hub) as client:
        waiting = asyncio.create_task(client.wait("ex-1"))
        await asyncio.sleep(0)  # the task runs up to its first await: registered
        assert hub.waiting("ex-1") == 1
        completer = threading.Thread(target=hub.complete, args=(done(),))
        completer.start()
        assert await waiting == done()
        completer.join()
    assert api.calls("GET", "/agent/executions/ex-1") == 0


def test_process_with_a_callback_url_takes_the_delivered_result() -> None:
    api = (
        ScriptedAPI()
        .on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "doc.pdf"}))
        .on("POST", "/agent/execute", execution(status="enqueued"))
        .on("GET", "/agent/executions/ex-1", execution(status="running"))
    )
    hub = WebhookHub()
    hub.complete(done())  # delivered while the execute response was on its way
    client = api.client(hub=hub)
    result = client.process(DATA, filename="doc.pdf", prompt="Total?", callback_url="https://me/")
    assert result.execution == done() and result.file_id == "file-1"
    assert api.calls("GET", "/agent/executions/ex-1") == 0
    assert json_body(api.requests[-1])["callback_url"] == "https://me/"


# --- wait_for_callback and process(callbacks=True), effect by effect ---------------


def test_an_execution_already_completed_ends_the_wait_at_once() -> None:
    driver = Driver()
    took: list[Completion] = []
    operation = wait_for_callback(
        "ex-1", timeout=600, clock=driver.clock, current=done(), on_complete=took.append
    )
    assert driver.run(operation) == done()
    assert driver.effects == [] and [(c.upper, c.delivered) for c in took] == [(0.0, False)]


def test_safety_rounds_double_each_time_and_end_at_the_timeout() -> None:
    driver = Driver(route=lambda call: status_response("running"))
    operation = wait_for_callback("ex-1", timeout=100, clock=driver.clock)
    with pytest.raises(ExecutionTimeoutError) as raised:
        driver.run(operation)
    assert driver.awaits() == [15.0, 30.0, 55.0]  # the last one cut to the time left
    polls = driver.calls()
    assert [c.path for c in polls] == ["/agent/executions/ex-1"] * 3
    assert [c.retry_for for c in polls] == [85.0, 55.0, 0.0]  # each within the wait
    error = raised.value
    assert (error.execution_id, error.status, error.waited) == ("ex-1", "running", 100.0)


def test_a_safety_poll_failing_at_the_end_reports_the_last_status_and_the_time() -> None:
    outage = InternalServerError("503 Service Unavailable", response=httpx.Response(503))
    driver = Driver(outage)
    running = AgentExecution(id="ex-1", status="running")
    operation = wait_for_callback("ex-1", timeout=20, clock=driver.clock, current=running)
    with pytest.raises(ExecutionTimeoutError) as raised:
        driver.run(operation)
    error = raised.value
    assert (error.execution_id, error.status, error.waited) == ("ex-1", "running", 15.0)
    assert error.__cause__ is outage


def callback_request() -> ExecuteRequest:
    return ExecuteRequest(prompt="Total?", callback_url="https://hooks.test/vlmrun")


def test_fresh_submissions_learn_the_delivery_time_and_wait_past_it_next_time() -> None:
    service = VirtualService()
    service.driver.push = deliver_after(service.driver, 25.0)
    memory, health = DurationMemory(), DeliveryHealth()

    def run(data: bytes, **options: Any) -> None:
        settings = {"durations": memory, "deliveries": health, **options}
        service.process(data, callback_request(), **settings)

    run(b"%PDF-1.4 first")
    run(b"%PDF-1.4 second")
    assert service.driver.awaits() == [15.0, 15.0]  # one job teaches nothing yet
    run(b"%PDF-1.4 third")
    assert service.driver.awaits()[-1] == 50.0  # twice the 25 s learned

    # a resumed execution's wait did not start at its submission: nothing learned from
    # it, nothing expected of it
    cache = ResultCache(InMemoryByteStore())
    request = callback_request()
    fourth = b"%PDF-1.4 fourth"
    key = cache.key(f"sha256:{hashlib.sha256(fourth).hexdigest()}", request.cache_fields("file"))
    cache.mark_submitted(key, "ex-resumed", "file-9")
    service.driver.push = deliver_after(service.driver, 100.0)
    resumed = service.process(fourth, request, durations=memory, deliveries=health, cache=cache)
    assert resumed.resumed and service.driver.awaits()[-1] == 15.0
    run(b"%PDF-1.4 fifth")
    assert service.driver.awaits()[-1] == 50.0  # still 25 s, not the resumed 100 s

    # without a memory (or a learning schedule) nothing is expected or learned
    run(b"%PDF-1.4 sixth", durations=None)
    assert service.driver.awaits()[-1] == 15.0


def test_a_submission_answered_completed_waits_for_no_callback() -> None:
    service = VirtualService(duration=0.0)
    result = service.process(b"%PDF-1.4 quick", callback_request(), deliveries=DeliveryHealth())
    assert result.execution.status == "completed"
    assert service.driver.awaits() == [] and service.driver.calls()[-1].path == "/agent/execute"
