"""WebhookReceiver under a real uvicorn server on loopback, with signed deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from starlette.applications import Starlette
from starlette.routing import Mount

from langchain_vlmrun import AgentExecution, ResultCache
from langchain_vlmrun.webhooks.hub import WebhookHub
from langchain_vlmrun.webhooks.receiver import WebhookReceiver
from tests.support import until
from tests.uvicorn_server import serving

SECRET = "whsec_test_secret"


def delivery(
    execution_id: str = "ex-1", status: str = "completed", secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    """A callback body exactly as sent, and its headers (signed with ``secret``)."""
    body = json.dumps(
        {"id": execution_id, "name": "fixture-agent", "status": status, "response": {"n": 1}}
    ).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-VLMRun-Signature": f"sha256={signature}"}


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url + "/", content=body, headers=headers, timeout=30)


@pytest.fixture
def hub() -> WebhookHub:
    return WebhookHub()


@pytest.fixture
def receiver(hub: WebhookHub) -> WebhookReceiver:
    return WebhookReceiver(SECRET, hub)


@pytest.fixture
def server(receiver: WebhookReceiver) -> Iterator[str]:
    with serving(receiver) as url:
        yield url


def test_a_signed_delivery_wakes_a_blocked_thread(
    server: str, hub: WebhookHub, receiver: WebhookReceiver
) -> None:
    results: list[AgentExecution | None] = []
    waiter = threading.Thread(target=lambda: results.append(hub.wait("ex-1", timeout=30)))
    waiter.start()
    until(lambda: hub.waiting("ex-1") == 1)
    answer = post(server, *delivery())
    waiter.join(timeout=30)
    assert answer.status_code == 200 and answer.json() == {"status": "accepted"}
    assert len(results) == 1 and results[0] is not None
    assert results[0].status == "completed" and results[0].response == {"n": 1}
    assert receiver.stats.completed == 1


async def test_a_signed_delivery_wakes_an_async_waiter(server: str, hub: WebhookHub) -> None:
    waiting = asyncio.create_task(hub.await_("ex-2", timeout=30))
    await asyncio.sleep(0)  # the task runs up to its first await: registered
    assert hub.waiting("ex-2") == 1
    async with httpx.AsyncClient(timeout=30) as client:
        body, headers = delivery("ex-2")
        answer = await client.post(server + "/", content=body, headers=headers)
    assert answer.status_code == 200
    execution = await waiting
    assert execution is not None and execution.id == "ex-2"


def test_bad_signatures_are_refused_and_counted(
    server: str, hub: WebhookHub, receiver: WebhookReceiver
) -> None:
    ticket = hub.expect("ex-3")
    body, headers = delivery("ex-3", secret="not-the-secret")
    assert post(server, body, headers).status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert post(server, body, unsigned).status_code == 401
    good_body, good_headers = delivery("ex-3")
    tampered = good_body.replace(b'"n": 1', b'"n": 2')
    assert post(server, tampered, good_headers).status_code == 401
    assert receiver.stats.bad_signature == 3
    assert not ticket.done and hub.delivered("ex-3") is None


class CountingStore(InMemoryByteStore):
    def __init__(self, fail_writes: int = 0) -> None:
        super().__init__()
        self.writes = 0
        self.fail_writes = fail_writes

    def mset(self, key_value_pairs: Sequence[tuple[str, Any]]) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise ConnectionError("store unavailable")
        self.writes += 1
        super().mset(key_value_pairs)


def test_a_repeated_delivery_changes_nothing() -> None:
    store = CountingStore()
    cache = ResultCache(store)
    hub = WebhookHub()
    receiver = WebhookReceiver(SECRET, hub, cache=cache, cache_key_for=lambda e: "key-of-" + e.id)
    with serving(receiver) as server:
        first = post(server, *delivery("ex-4"))
        again = post(server, *delivery("ex-4"))
    assert first.json() == {"status": "accepted"} and again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert receiver.stats.completed == 1 and receiver.stats.duplicates == 1
    assert store.writes == 1


def test_completed_results_land_in_the_cache_with_the_submitted_file() -> None:
    cache = ResultCache(InMemoryByteStore())
    hub = WebhookHub()
    key = cache.key("md5-of-bytes", {"prompt": "Summarise"})
    cache.mark_submitted(key, "ex-5", file_id="file-5")
    ticket = hub.expect("ex-5", cache_key=key)
    with serving(WebhookReceiver(SECRET, hub, cache=cache)) as server:
        assert post(server, *delivery("ex-5")).status_code == 200
    record = cache.get(key)
    assert record is not None and record.state == "completed"
    assert record.file_id == "file-5" and record.execution == ticket.wait(0)


def test_a_result_refused_by_accept_wakes_the_waiter_but_is_not_cached() -> None:
    cache = ResultCache(InMemoryByteStore())
    hub = WebhookHub()
    ticket = hub.expect("ex-6", cache_key="k")

    def reject(execution: AgentExecution) -> None:
        raise ValueError("does not match the schema")

    with serving(WebhookReceiver(SECRET, hub, cache=cache, accept=reject)) as server:
        assert post(server, *delivery("ex-6")).status_code == 200
    assert ticket.done and cache.get("k") is None


def test_a_store_failure_asks_for_the_retry_and_the_retry_is_accepted() -> None:
    store = CountingStore(fail_writes=1)
    hub = WebhookHub()
    receiver = WebhookReceiver(SECRET, hub, cache=ResultCache(store), cache_key_for=lambda e: "k")
    with serving(receiver) as server:
        assert post(server, *delivery("ex-7")).status_code == 503
        assert hub.delivered("ex-7") is None
        assert post(server, *delivery("ex-7")).json() == {"status": "accepted"}
    assert store.writes == 1 and hub.delivered("ex-7") is not None


def test_unusable_deliveries(hub: WebhookHub) -> None:
    receiver = WebhookReceiver(SECRET, hub, max_body=2000)
    ticket = hub.expect("ex-8")
    with serving(receiver) as server:
        body = b"not json"
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert post(server, body, {"X-VLMRun-Signature": signature}).status_code == 400
        running = post(server, *delivery("ex-8", status="running"))
        assert running.json() == {"status": "ignored"}
        huge = b"x" * 5000
        assert post(server, huge, {"X-VLMRun-Signature": "sha256=00"}).status_code == 413
        assert httpx.get(server + "/", timeout=30).status_code == 405
    assert not ticket.done
    stats = receiver.stats
    assert (stats.malformed, stats.not_terminal, stats.too_large) == (1, 1, 1)


def test_mounted_in_another_app(hub: WebhookHub) -> None:
    receiver = WebhookReceiver(SECRET, hub)
    parent = Starlette(routes=[Mount("/hooks/vlmrun", app=receiver)])
    parent.add_route("/exact", receiver.endpoint, methods=["POST"])
    with serving(parent) as server:
        assert post(server + "/hooks/vlmrun", *delivery("ex-9")).status_code == 200
        body, headers = delivery("ex-10")
        assert httpx.post(server + "/exact", content=body, headers=headers).status_code == 200
    assert hub.delivered("ex-9") is not None and hub.delivered("ex-10") is not None


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="webhook secret is required"):
        WebhookReceiver("")


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    with pytest.raises(ImportError, match=r"langchain-vlmrun\[webhooks\]"):
        WebhookReceiver(SECRET)


# --- end to end: the emulator calls back a real receiver; the client never polls -------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_callbacks_from_the_service_end_waits_without_polls(
    emulator_factory: Any, tmp_path: Any, use_async: bool
) -> None:
    from langchain_vlmrun import AsyncVLMRunClient, VLMRunClient, VLMRunLoader

    hub = WebhookHub()
    receiver = WebhookReceiver(SECRET, hub)
    with serving(receiver) as url:
        emu = emulator_factory(queue_time=0.0, processing_time=0.2, webhook_secret=SECRET)
        files = []
        for i in range(6):
            path = tmp_path / f"doc-{i}.pdf"
            path.write_bytes(f"%PDF-1.4 document {i}".encode())
            files.append(str(path))
        options = {"prompt": "Read it", "callback_url": url + "/", "max_concurrency": 3}
        if use_async:
            client = AsyncVLMRunClient("k", base_url=emu.base_url, hub=hub)
            docs = asyncio.run(VLMRunLoader(files, async_client=client, **options).aload())
        else:
            with VLMRunClient("k", base_url=emu.base_url, hub=hub) as sync_client:
                docs = VLMRunLoader(files, client=sync_client, **options).load()
        # a forged delivery is refused and counted, and changes nothing
        forged = post(url, *delivery("x", secret="wrong"))
    assert forged.status_code == 401 and receiver.stats.bad_signature == 1
    assert {d.metadata["source"] for d in docs} == set(files)
    counters = emu.counters.snapshot()
    assert counters["callbacks_delivered"] == 6 and receiver.stats.completed == 6
    assert sum(counters["polls_per_execution"].values()) == 0  # upload + execute only
    assert counters["requests_total"] == 2 * len(files)


# --- hostile senders against a real server -----------------------------------------------


def _open_delivery(url: str, declared: int) -> Any:
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=10)
    head = (
        f"POST / HTTP/1.1\r\nHost: {where.hostname}\r\nContent-Type: application/json\r\n"
        f"X-VLMRun-Signature: sha256=00\r\nContent-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def test_senders_that_trickle_or_hang_up_are_cut_off_quietly(
    hub: WebhookHub, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    caplog.set_level(logging.DEBUG)
    receiver = WebhookReceiver(SECRET, hub, read_timeout=1.0)
    with serving(receiver) as url:
        trickling = [_open_delivery(url, 1000) for _ in range(20)]
        for sock in trickling:
            sock.sendall(b"{")
        hanging = [_open_delivery(url, 1000) for _ in range(20)]
        for sock in hanging:
            sock.sendall(b'{"id": ')
            sock.close()  # hangs up mid-body
        deadline = time.monotonic() + 20
        answers = []
        for sock in trickling:  # one more byte a second: cut off at read_timeout
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n" not in data:
                    time.sleep(0.05)
                    with contextlib.suppress(OSError):
                        sock.sendall(b" ")
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            answers.append(data.split(b"\r\n", 1)[0])
            sock.close()
        until(lambda: receiver.stats.disconnected == 20, timeout=10)
        # an honest delivery still goes through
        assert post(url, *delivery()).json() == {"status": "accepted"}
    assert answers == [b"HTTP/1.1 408 Request Timeout"] * 20
    assert receiver.stats.too_slow == 20
    loud = [r for r in caplog.records if r.levelno > logging.WARNING]
    assert loud == []  # no "Exception in ASGI application" tracebacks
    quiet = [r for r in caplog.records if "disconnected while sending" in r.getMessage()]
    assert len(quiet) == 20 and {r.levelno for r in quiet} == {logging.DEBUG}
