"""RedisWebhookRelay: a delivery received in one process wakes waiters in another."""

from __future__ import annotations

import multiprocessing
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
