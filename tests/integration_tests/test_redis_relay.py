"""RedisWebhookRelay: a delivery received in one process wakes waiters in another."""

from __future__ import annotations

import gc
import logging
import math
import multiprocessing
import threading
import time
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from langchain_vlmrun import AgentExecution
from langchain_vlmrun.core._signing import seal
from langchain_vlmrun.scaleout.redis_relay import RedisWebhookRelay
from langchain_vlmrun.webhooks.hub import WebhookHub
from langchain_vlmrun.webhooks.receiver import WebhookReceiver
from tests.integration_tests.test_webhook_app import SECRET, delivery, post
from tests.uvicorn_server import serving


def worker_waiting_for(url: str, execution_id: str, subscribed: Any, results: Any) -> None:
    """A worker process: its own hub, fed by the relay, waits for one execution."""
    hub = WebhookHub()
    with RedisWebhookRelay(url).subscribe(hub):
        subscribed.set()
        execution = hub.wait(execution_id, timeout=30)
        results.put(None if execution is None else execution.model_dump(mode="json"))


@pytest.mark.processes
def test_a_delivery_wakes_a_waiter_in_another_process(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    subscribed, results = context.Event(), context.Queue()
    worker = context.Process(
        target=worker_waiting_for, args=(redis_url, "ex-1", subscribed, results)
    )
    worker.start()
    assert subscribed.wait(timeout=60)
    relay = RedisWebhookRelay(redis_url)
    receiver = WebhookReceiver(SECRET, forward=relay.publish)
    with serving(receiver) as server:
        assert post(server, *delivery("ex-1")).status_code == 200
    delivered = results.get(timeout=60)
    worker.join(timeout=30)
    assert delivered is not None and delivered["id"] == "ex-1"
    assert delivered["response"] == {"n": 1}
    assert receiver.hub.delivered("ex-1") is not None  # the receiver's own hub too


def test_publish_counts_subscribed_hubs_and_survives_junk(redis_url: str) -> None:
    relay = RedisWebhookRelay(redis_url, channel="deliveries")
    hub = WebhookHub()
    subscription = relay.subscribe(hub)
    redis.Redis.from_url(redis_url).publish("deliveries", b"not an execution")
    ticket = hub.expect("ex-2")
    assert relay.publish(AgentExecution(id="ex-2", status="completed")) == 1
    execution = ticket.wait(timeout=30)
    assert execution is not None and execution.status == "completed"
    subscription.close()
    assert relay.publish(AgentExecution(id="ex-3", status="completed")) == 0


def test_a_failed_forward_asks_for_the_retry() -> None:
    failures = [ConnectionError("redis down")]
    forwarded: list[str] = []

    def forward(execution: AgentExecution) -> None:
        if failures:
            raise failures.pop()
        forwarded.append(execution.id)

    receiver = WebhookReceiver(SECRET, forward=forward)
    with serving(receiver) as server:
        assert post(server, *delivery("ex-4")).status_code == 503
        assert post(server, *delivery("ex-4")).json() == {"status": "accepted"}
    assert forwarded == ["ex-4"]


def test_with_a_signing_key_a_forged_message_completes_nobody(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = RedisWebhookRelay(redis_url, channel="signed", signing_key="relay secret 123")
    hub = WebhookHub()
    with relay.subscribe(hub):
        ticket = hub.expect("ex-4")
        forged = AgentExecution(id="ex-4", status="completed", response={"forged": True})
        raw = redis.Redis.from_url(redis_url)
        raw.publish("signed", forged.model_dump_json())  # unsigned
        RedisWebhookRelay(redis_url, channel="signed", signing_key="not the key").publish(forged)
        # sealed with the right key for another channel, replayed on this one
        key = SecretStr("relay secret 123")
        raw.publish("signed", seal(key, "other", forged.model_dump_json().encode()))
        assert relay.publish(AgentExecution(id="ex-4", status="completed", response={"n": 1}))
        execution = ticket.wait(timeout=30)
    assert execution is not None and execution.response == {"n": 1}
    assert caplog.text.count("not signed with signing_key") >= 3


# ---------------------------------------------------------------------------
# The subscription as a worker lives with it: confirmation, a dropped read, an idle
# thread, a forgotten close. ``WatchedRedis`` is a real client whose pub/sub reads are
# recorded (which thread, how long each may wait), and which can hold the subscription's
# confirmation back, fail one read of the background thread, or get stuck in one.


class _WatchedPubSub(redis.client.PubSub):
    def __init__(self, watch: WatchedRedis, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watch = watch

    def get_message(self, ignore_subscribe_messages: bool = False, timeout: float = 0.0) -> Any:
        watch = self._watch
        watch.reads.append((threading.current_thread(), timeout))
        if watch.unconfirmed > 0 and not ignore_subscribe_messages:
            watch.unconfirmed -= 1  # the confirmation is not there yet: an empty read
            time.sleep(min(timeout or 0.0, 0.05))
            return None
        if ignore_subscribe_messages:  # the background thread's reads
            if watch.failures:
                raise watch.failures.pop()
            if watch.stuck.is_set():
                watch.released.wait(timeout=30)
        return super().get_message(ignore_subscribe_messages, timeout)


class WatchedRedis(redis.Redis):
    """A real client; see the comment above."""

    def __init__(self, url: str, *, unconfirmed: float = 0) -> None:
        pool = redis.ConnectionPool.from_url(url)
        super().__init__(connection_pool=pool)
        self.reads: list[tuple[threading.Thread, float | None]] = []
        self.unconfirmed = unconfirmed
        self.failures: list[BaseException] = []
        self.stuck, self.released = threading.Event(), threading.Event()

    def pubsub(self, **kwargs: Any) -> redis.client.PubSub:
        return _WatchedPubSub(self, self.connection_pool, **kwargs)


def relay_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("relay")]


def test_the_default_channel_is_the_one_every_version_publishes_on(redis_url: str) -> None:
    hub = WebhookHub()
    with RedisWebhookRelay(redis_url).subscribe(hub):
        ticket = hub.expect("ex-5")
        raw = redis.Redis.from_url(redis_url)
        sealed = AgentExecution(id="ex-5", status="completed").model_dump_json()
        assert raw.publish("vlmrun:completions", sealed) == 1
        assert ticket.wait(timeout=30) is not None


def test_junk_on_the_channel_is_logged_and_skipped(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = RedisWebhookRelay(redis_url, channel="junk")
    hub = WebhookHub()
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"), relay.subscribe(hub):
        ticket = hub.expect("ex-6")
        redis.Redis.from_url(redis_url).publish("junk", b"{not json")
        relay.publish(AgentExecution(id="ex-6", status="completed"))
        assert ticket.wait(timeout=30) is not None
    assert relay_warnings(caplog) == ["relay: ignored a message that is not an execution"]


def test_a_forged_message_is_logged_in_words(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = RedisWebhookRelay(redis_url, channel="sealed", signing_key="relay secret 123")
    hub = WebhookHub()
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"), relay.subscribe(hub):
        ticket = hub.expect("ex-7")
        forged = AgentExecution(id="ex-7", status="completed").model_dump_json()
        redis.Redis.from_url(redis_url).publish("sealed", forged)
        relay.publish(AgentExecution(id="ex-7", status="completed"))
        assert ticket.wait(timeout=30) is not None
    assert relay_warnings(caplog) == ["relay: ignored a message not signed with signing_key"]


def test_subscribe_waits_for_a_late_confirmation(redis_url: str) -> None:
    watched = WatchedRedis(redis_url, unconfirmed=2)
    relay = RedisWebhookRelay(watched, channel="late")
    hub = WebhookHub()
    with relay.subscribe(hub, ready_timeout=30):
        assert watched.unconfirmed == 0  # it read past the empty answers
        ticket = hub.expect("ex-8")
        assert relay.publish(AgentExecution(id="ex-8", status="completed")) == 1
        assert ticket.wait(timeout=30) is not None


def test_a_redis_that_never_confirms_fails_subscribe_within_ready_timeout(
    redis_url: str,
) -> None:
    watched = WatchedRedis(redis_url, unconfirmed=math.inf)
    relay = RedisWebhookRelay(watched, channel="silent")
    threads = set(threading.enumerate())
    with pytest.raises(TimeoutError, match="Redis did not confirm the subscription to silent"):
        relay.subscribe(WebhookHub(), ready_timeout=0.3)
    waits = [timeout for _, timeout in watched.reads]
    assert waits and all(timeout is not None and 0 <= timeout <= 0.3 for timeout in waits)
    assert set(threading.enumerate()) <= threads  # no reader left behind
    assert relay.publish(AgentExecution(id="ex-9", status="completed")) == 0  # unsubscribed


def test_the_reader_is_a_daemon_that_waits_for_messages_without_spinning(
    redis_url: str,
) -> None:
    watched = WatchedRedis(redis_url)
    relay = RedisWebhookRelay(watched, channel="idle")
    hub = WebhookHub()
    before = set(threading.enumerate())
    with relay.subscribe(hub):
        (reader,) = set(threading.enumerate()) - before
        assert reader.daemon  # a worker that never calls close() can still exit
        assert reader.name == "vlmrun-relay"  # (as a thread dump shows it)
        ticket = hub.expect("ex-10")
        relay.publish(AgentExecution(id="ex-10", status="completed"))
        assert ticket.wait(timeout=30) is not None
    waits = [timeout for thread, timeout in watched.reads if thread is reader]
    assert waits and all(timeout is not None and timeout > 0 for timeout in waits)


def test_a_failed_read_is_logged_and_the_subscription_keeps_delivering(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    watched = WatchedRedis(redis_url)
    watched.failures.append(redis.ConnectionError("Connection reset by peer"))
    relay = RedisWebhookRelay(watched, channel="flaky")
    hub = WebhookHub()
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"), relay.subscribe(hub):
        ticket = hub.expect("ex-11")
        for _ in range(100):  # the reader pauses after the failure: publish until it hears
            relay.publish(AgentExecution(id="ex-11", status="completed"))
            if ticket.wait(timeout=0.5) is not None:
                break
        assert hub.delivered("ex-11") is not None
    assert relay_warnings(caplog) == ["relay: Connection reset by peer; reconnecting"]


def test_close_returns_even_when_the_reader_is_stuck_in_a_read(redis_url: str) -> None:
    watched = WatchedRedis(redis_url)
    watched.stuck.set()
    before = set(threading.enumerate())
    subscription = RedisWebhookRelay(watched, channel="stuck").subscribe(WebhookHub())
    (reader,) = set(threading.enumerate()) - before
    try:
        subscription.close()  # waits a bounded time for the reader, then lets it go
        assert reader.is_alive()  # still stuck: close did not wait for it to come back
    finally:
        watched.released.set()
    reader.join(timeout=30)
    assert not reader.is_alive()  # once its read returns, it sees it was stopped


def test_a_subscription_outlives_the_relay_object_that_made_it(redis_url: str) -> None:
    hub = WebhookHub()
    subscription = RedisWebhookRelay(redis_url, channel="kept").subscribe(hub)
    with subscription:
        gc.collect()  # the relay object is gone; its client's pool must stay open
        ticket = hub.expect("ex-12")
        publisher = RedisWebhookRelay(redis_url, channel="kept")
        assert publisher.publish(AgentExecution(id="ex-12", status="completed")) == 1
        assert ticket.wait(timeout=30) is not None
