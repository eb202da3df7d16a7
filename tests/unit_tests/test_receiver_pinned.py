"""WebhookReceiver pinned down, in process (ASGI calls, no server): the answer to each
kind of delivery (status code and body), its counters, its log lines, deduplication,
the body limit, the cache and forwarding."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from pydantic import SecretStr

from langchain_vlmrun import AgentExecution, ResultCache
from langchain_vlmrun.webhooks.hub import WebhookHub
from langchain_vlmrun.webhooks.receiver import MAX_BODY, WebhookReceiver, WebhookStats

SECRET = "whsec_pinned"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(execution_id: str = "ex-1", status: str = "completed", **extra: Any) -> bytes:
    return json.dumps(
        {"id": execution_id, "status": status, "response": {"n": 1}, **extra}
    ).encode()


async def post(
    app: Any,
    body: bytes,
    *,
    signature: str | None = "sign",
    path: str = "/",
    client: tuple[str, int] = ("203.0.113.7", 4000),
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-VLMRun-Signature"] = sign(body) if signature == "sign" else signature
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        return await http.post(path, content=body, headers=headers)


async def deliver(
    app: Any, execution_id: str = "ex-1", status: str = "completed"
) -> httpx.Response:
    return await post(app, payload(execution_id, status))


class Raw:
    """One ASGI request by hand: exact headers, the body in chunks, the reads counted."""

    def __init__(self, chunks: Sequence[bytes], headers: dict[str, str], client: Any) -> None:
        self.chunks = list(chunks)
        self.headers = headers
        self.client = client
        self.reads = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def run(self, app: Any) -> tuple[int, Any]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "root_path": "",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            "client": self.client,
            "server": ("hooks.test", 80),
        }
        await app(scope, self.receive, self.send)
        status = self.sent[0]["status"]
        body = b"".join(m.get("body", b"") for m in self.sent[1:])
        return status, json.loads(body)


async def raw(
    app: Any,
    chunks: Sequence[bytes],
    *,
    length: int | None = None,
    signature: str | None = None,
    client: Any = ("203.0.113.7", 4000),
) -> tuple[int, Any, Raw]:
    headers = {}
    if length is not None:
        headers["content-length"] = str(length)
    if signature is not None:
        headers["x-vlmrun-signature"] = signature
    request = Raw(chunks, headers, client)
    status, answer = await request.run(app)
    return status, answer, request


# --- construction --------------------------------------------------------------------


def test_defaults() -> None:
    receiver = WebhookReceiver(SECRET)
    assert isinstance(receiver.hub, WebhookHub)
    assert receiver.max_body == MAX_BODY == 4 * 1024 * 1024
    assert (receiver.read_timeout, receiver.max_concurrent) == (10.0, 64)
    assert receiver.remember == 100_000
    assert (receiver.cache, receiver.accept, receiver.forward) == (None, None, None)
    assert receiver.stats == WebhookStats()
    assert repr(receiver) == (
        "WebhookReceiver(hub=WebhookHub(waiting=0, remembered=0), stats=WebhookStats("
        "received=0, completed=0, duplicates=0, bad_signature=0, malformed=0, too_large=0, "
        "not_terminal=0, too_slow=0, busy=0, disconnected=0))"
    )


def test_the_given_hub_is_used() -> None:
    hub = WebhookHub()
    assert WebhookReceiver(SECRET, hub).hub is hub


@pytest.mark.parametrize("secret", ["", SecretStr(""), " ", "\t\n", SecretStr("  ")])
def test_an_empty_or_blank_secret_is_refused(secret: str | SecretStr) -> None:
    with pytest.raises(ValueError) as raised:
        WebhookReceiver(secret)
    assert str(raised.value) == (
        "a webhook secret is required (not blank): copy it from the VLM Run dashboard"
    )


async def test_a_secret_str_is_accepted_and_kept_secret() -> None:
    receiver = WebhookReceiver(SecretStr(SECRET))
    assert SECRET not in repr(receiver)
    assert (await deliver(receiver)).json() == {"status": "accepted"}


@pytest.mark.parametrize("module", ["starlette.applications", "starlette.routing"])
def test_without_starlette_the_extra_is_named(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"langchain-vlmrun\[webhooks\]"):
        WebhookReceiver(SECRET)


# --- answers -------------------------------------------------------------------------


async def test_a_signed_terminal_delivery_is_accepted_and_wakes_its_waiter() -> None:
    hub = WebhookHub()
    ticket, other = hub.expect("ex-1"), hub.expect("ex-2")
    receiver = WebhookReceiver(SECRET, hub)
    answer = await deliver(receiver)
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    execution = ticket.result()
    assert execution is not None
    assert (execution.id, execution.status, execution.response) == ("ex-1", "completed", {"n": 1})
    assert not other.done
    assert receiver.stats == WebhookStats(received=1, completed=1)


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
async def test_every_terminal_status_is_delivered(status: str) -> None:
    receiver = WebhookReceiver(SECRET)
    assert (await deliver(receiver, status=status)).json() == {"status": "accepted"}
    delivered = receiver.hub.delivered("ex-1")
    assert delivered is not None and delivered.status == status


async def test_any_path_is_served_but_only_post() -> None:
    receiver = WebhookReceiver(SECRET)
    answer = await post(receiver, payload("ex-1"), path="/hooks/vlmrun/deep")
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        assert (await http.get("/")).status_code == 405
        assert (await http.put("/", content=payload("ex-2"))).status_code == 405
    assert receiver.stats.received == 1


async def test_the_endpoint_works_on_an_exact_route() -> None:
    from starlette.applications import Starlette

    receiver = WebhookReceiver(SECRET)
    parent = Starlette()
    parent.add_route("/exact", receiver.endpoint, methods=["POST"])
    answer = await post(parent, payload("ex-1"), path="/exact")
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    assert receiver.hub.delivered("ex-1") is not None


async def test_bad_signatures_are_refused_with_401_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    receiver = WebhookReceiver(SECRET, hub)
    body = payload("ex-1")
    caplog.set_level(logging.WARNING, logger="langchain_vlmrun")
    for signature in (None, sign(body, "another-secret"), "sha256=00", sign(body + b" ")):
        answer = await post(receiver, body, signature=signature, client=("198.51.100.9", 1))
        assert (answer.status_code, answer.json()) == (401, {"detail": "invalid signature"})
    assert receiver.stats == WebhookStats(received=4, bad_signature=4)
    assert not ticket.done and hub.delivered("ex-1") is None
    messages = [r.getMessage() for r in caplog.records if r.name == "langchain_vlmrun"]
    assert messages == ["webhook: refused a delivery with a bad signature from 198.51.100.9"] * 4
    assert all(r.levelno == logging.WARNING for r in caplog.records)


async def test_a_bad_signature_from_an_unknown_client_is_logged_as_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = WebhookReceiver(SECRET)
    caplog.set_level(logging.WARNING, logger="langchain_vlmrun")
    status, answer, _ = await raw(receiver, [b"{}"], signature="sha256=00", client=None)
    assert (status, answer) == (401, {"detail": "invalid signature"})
    assert [r.getMessage() for r in caplog.records] == [
        "webhook: refused a delivery with a bad signature from unknown"
    ]


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"status": "completed"}', b'["ex-1"]', b""],
    ids=["not-json", "no-id", "not-an-object", "empty"],
)
async def test_a_signed_body_that_is_not_an_execution_gets_400(body: bytes) -> None:
    receiver = WebhookReceiver(SECRET)
    answer = await post(receiver, body)
    assert (answer.status_code, answer.json()) == (400, {"detail": "not an execution"})
    assert receiver.stats == WebhookStats(received=1, malformed=1)


async def test_malformed_deliveries_are_counted_one_by_one() -> None:
    receiver = WebhookReceiver(SECRET)
    for body in (b"x", b"y"):
        assert (await post(receiver, body)).status_code == 400
    assert receiver.stats == WebhookStats(received=2, malformed=2)


@pytest.mark.parametrize("status", ["pending", "enqueued", "running"])
async def test_a_delivery_not_yet_finished_is_ignored(status: str) -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    receiver = WebhookReceiver(SECRET, hub)
    for _ in range(2):
        answer = await deliver(receiver, status=status)
        assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    assert not ticket.done and hub.delivered("ex-1") is None
    assert receiver.stats == WebhookStats(received=2, not_terminal=2)
    # ignored, not remembered: the finished delivery still counts as the first
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    assert ticket.done


async def test_the_finished_delivery_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    receiver = WebhookReceiver(SECRET)
    caplog.set_level(logging.DEBUG, logger="langchain_vlmrun")
    await deliver(receiver, "ex-9", "failed")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "webhook: execution ex-9 failed")
    ]


# --- deduplication -------------------------------------------------------------------


async def test_a_repeated_delivery_is_answered_duplicate_and_changes_nothing() -> None:
    hub = WebhookHub()
    forwarded: list[AgentExecution] = []
    receiver = WebhookReceiver(SECRET, hub, forward=forwarded.append)
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    ticket = hub.expect("ex-2")
    hub.complete(AgentExecution(id="ex-2", status="completed"))  # (woken elsewhere)
    for _ in range(2):
        again = await post(receiver, payload("ex-1", "failed"))
        assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert receiver.stats == WebhookStats(received=3, completed=1, duplicates=2)
    assert len(forwarded) == 1
    delivered = hub.delivered("ex-1")
    assert delivered is not None and delivered.status == "completed"  # not the repeat
    assert ticket.done


async def test_deduplication_remembers_the_latest_ids_up_to_remember() -> None:
    receiver = WebhookReceiver(SECRET, remember=2)
    assert (await deliver(receiver, "a")).json() == {"status": "accepted"}
    assert (await deliver(receiver, "b")).json() == {"status": "accepted"}
    # two ids fit: both are still known
    assert (await deliver(receiver, "a")).json() == {"status": "duplicate"}
    assert (await deliver(receiver, "b")).json() == {"status": "duplicate"}
    assert (await deliver(receiver, "c")).json() == {"status": "accepted"}  # "a" forgotten
    assert (await deliver(receiver, "c")).json() == {"status": "duplicate"}
    assert (await deliver(receiver, "b")).json() == {"status": "duplicate"}
    assert (await deliver(receiver, "a")).json() == {"status": "accepted"}  # "b" forgotten
    assert (await deliver(receiver, "b")).json() == {"status": "accepted"}
    assert receiver.stats.completed == 5 and receiver.stats.duplicates == 4


# --- the body limit ------------------------------------------------------------------


async def test_a_body_over_max_body_gets_413_without_checking_it() -> None:
    hub = WebhookHub()
    receiver = WebhookReceiver(SECRET, hub, max_body=100)
    body = payload("ex-1", name="x" * 100)
    for _ in range(2):
        answer = await post(receiver, body)  # validly signed, yet too large
        assert (answer.status_code, answer.json()) == (413, {"detail": "delivery too large"})
    assert receiver.stats == WebhookStats(received=2, too_large=2)
    assert hub.delivered("ex-1") is None


async def test_a_body_of_exactly_max_body_is_accepted() -> None:
    body = payload("ex-1")
    receiver = WebhookReceiver(SECRET, max_body=len(body))
    assert (await post(receiver, body)).json() == {"status": "accepted"}
    tight = WebhookReceiver(SECRET, max_body=len(body) - 1)
    assert (await post(tight, body)).status_code == 413


async def test_a_declared_length_over_max_body_is_refused_before_reading() -> None:
    receiver = WebhookReceiver(SECRET, max_body=100)
    status, answer, request = await raw(receiver, [b"{}"], length=101, signature=sign(b"{}"))
    assert (status, answer) == (413, {"detail": "delivery too large"})
    assert request.reads == 0  # the body was never read


async def test_a_declared_length_of_exactly_max_body_is_read() -> None:
    receiver = WebhookReceiver(SECRET, max_body=100)
    status, answer, request = await raw(receiver, [b"{}"], length=100, signature=sign(b"{}"))
    assert (status, answer) == (400, {"detail": "not an execution"})  # read and verified
    assert request.reads >= 1


async def test_the_default_limit_is_4_mib_declared() -> None:
    receiver = WebhookReceiver(SECRET)
    status, answer, request = await raw(receiver, [b"{}"], length=4 * 1024 * 1024 + 1)
    assert (status, answer, request.reads) == (413, {"detail": "delivery too large"}, 0)
    status, answer, _ = await raw(receiver, [b"{}"], length=4 * 1024 * 1024)
    assert (status, answer) == (401, {"detail": "invalid signature"})


async def test_a_signed_8_mib_delivery_is_refused_without_being_buffered() -> None:
    body = payload("ex-1", response="x" * (8 * 1024 * 1024))
    receiver = WebhookReceiver(SECRET)
    status, answer, request = await raw(
        receiver,
        [body[i : i + 65536] for i in range(0, len(body), 65536)],
        length=len(body),
        signature=sign(body),
    )
    assert (status, answer, request.reads) == (413, {"detail": "delivery too large"}, 0)
    # undeclared (chunked): reading stops at the limit, not at the end
    status, answer, request = await raw(
        receiver, [body[i : i + 65536] for i in range(0, len(body), 65536)], signature=sign(body)
    )
    assert (status, answer) == (413, {"detail": "delivery too large"})
    assert request.reads == 4 * 1024 * 1024 // 65536 + 1
    assert receiver.hub.delivered("ex-1") is None


async def test_a_body_in_chunks_is_verified_whole() -> None:
    body = payload("ex-1")
    chunks = [body[:10], body[10:20], body[20:]]
    receiver = WebhookReceiver(SECRET, max_body=len(body))
    status, answer, _ = await raw(receiver, chunks, signature=sign(body))  # no length
    assert (status, answer) == (200, {"status": "accepted"})


async def test_chunks_over_max_body_together_are_refused_without_a_declared_length() -> None:
    body = payload("ex-1")
    chunks = [body[:10], body[10:20], body[20:], b"", b"x"]
    receiver = WebhookReceiver(SECRET, max_body=len(body))
    status, answer, request = await raw(receiver, chunks, signature=sign(body + b"x"))
    assert (status, answer) == (413, {"detail": "delivery too large"})
    assert request.reads == 5


async def test_a_streamed_body_is_refused_once_past_the_limit() -> None:
    receiver = WebhookReceiver(SECRET, max_body=64)

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 16

    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        answer = await http.post("/", content=stream(), headers={"X-VLMRun-Signature": "x"})
    assert (answer.status_code, answer.json()) == (413, {"detail": "delivery too large"})


# --- the cache and forwarding --------------------------------------------------------


class FailingStore(InMemoryByteStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def mset(self, key_value_pairs: Sequence[tuple[str, Any]]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store unavailable")
        super().mset(key_value_pairs)


async def test_a_completed_execution_is_cached_under_its_waiters_key_with_its_file() -> None:
    cache = ResultCache(InMemoryByteStore())
    hub = WebhookHub()
    cache.mark_submitted("key-1", "ex-1", file_id="file-1")
    hub.expect("ex-1", cache_key="key-1")
    receiver = WebhookReceiver(SECRET, hub, cache=cache)
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    record = cache.get("key-1")
    assert record is not None and record.state == "completed" and record.file_id == "file-1"
    assert record.execution is not None and record.execution.response == {"n": 1}
    assert hub.cache_key("ex-1") is None  # used up


async def test_a_completed_execution_without_a_submitted_record_is_cached_without_a_file() -> None:
    cache = ResultCache(InMemoryByteStore())
    receiver = WebhookReceiver(SECRET, cache=cache, cache_key_for=lambda e: "key-of-" + e.id)
    assert (await deliver(receiver, "ex-2")).json() == {"status": "accepted"}
    record = cache.get("key-of-ex-2")
    assert record is not None and record.state == "completed" and record.file_id is None


@pytest.mark.parametrize("status", ["failed", "cancelled"])
async def test_an_unsuccessful_execution_is_not_cached_but_wakes_its_waiter(status: str) -> None:
    cache = ResultCache(InMemoryByteStore())
    cache.mark_submitted("key-1", "ex-1", file_id="file-1")
    hub = WebhookHub()
    ticket = hub.expect("ex-1", cache_key="key-1")
    receiver = WebhookReceiver(SECRET, hub, cache=cache)
    assert (await deliver(receiver, status=status)).json() == {"status": "accepted"}
    record = cache.get("key-1")
    assert record is not None and record.state == "submitted"
    assert ticket.done


async def test_an_execution_without_a_cache_key_is_not_cached() -> None:
    store = InMemoryByteStore()
    hub = WebhookHub()
    ticket = hub.expect("ex-1")  # no cache key
    keys_asked: list[str] = []
    receiver = WebhookReceiver(SECRET, hub, cache=ResultCache(store))
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    assert list(store.yield_keys()) == [] and ticket.done
    no_key = WebhookReceiver(
        SECRET, cache=ResultCache(store), cache_key_for=lambda e: keys_asked.append(e.id)
    )
    assert (await deliver(no_key, "ex-2")).json() == {"status": "accepted"}
    assert keys_asked == ["ex-2"] and list(store.yield_keys()) == []


async def test_accept_sees_the_execution_before_it_is_cached() -> None:
    cache = ResultCache(InMemoryByteStore())
    seen: list[AgentExecution] = []
    receiver = WebhookReceiver(SECRET, cache=cache, cache_key_for=lambda e: "k", accept=seen.append)
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    assert [e.id for e in seen] == ["ex-1"]
    record = cache.get("k")
    assert record is not None and record.state == "completed"


async def test_a_result_refused_by_accept_is_not_cached_logged_and_still_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ResultCache(InMemoryByteStore())
    hub = WebhookHub()
    ticket = hub.expect("ex-1", cache_key="k")
    forwarded: list[AgentExecution] = []

    def reject(execution: AgentExecution) -> None:
        raise ValueError("does not match the schema")

    receiver = WebhookReceiver(SECRET, hub, cache=cache, accept=reject, forward=forwarded.append)
    caplog.set_level(logging.WARNING, logger="langchain_vlmrun")
    answer = await deliver(receiver)
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    assert cache.get("k") is None and ticket.done and len(forwarded) == 1
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "webhook: not caching execution ex-1: does not match the schema")
    ]


async def test_accept_is_not_asked_without_a_cache() -> None:
    asked: list[AgentExecution] = []
    receiver = WebhookReceiver(SECRET, accept=asked.append)
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    assert asked == []


async def test_each_accepted_execution_is_forwarded_once() -> None:
    forwarded: list[AgentExecution] = []
    receiver = WebhookReceiver(SECRET, forward=forwarded.append)
    await deliver(receiver, "ex-1")
    await deliver(receiver, "ex-1")  # duplicate
    await deliver(receiver, "ex-2", "running")  # ignored
    await post(receiver, payload("ex-3"), signature=None)  # refused
    await deliver(receiver, "ex-4", "failed")
    assert [(e.id, e.status) for e in forwarded] == [("ex-1", "completed"), ("ex-4", "failed")]


async def test_a_failing_store_asks_for_a_retry_which_is_then_accepted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = WebhookHub()
    ticket = hub.expect("ex-1")
    forwarded: list[AgentExecution] = []
    receiver = WebhookReceiver(
        SECRET,
        hub,
        cache=ResultCache(FailingStore(failures=2)),
        cache_key_for=lambda e: "k",
        forward=forwarded.append,
    )
    caplog.set_level(logging.ERROR, logger="langchain_vlmrun")
    for _ in range(2):
        answer = await deliver(receiver)
        assert (answer.status_code, answer.json()) == (
            503,
            {"detail": "could not store the result"},
        )
    assert not ticket.done and hub.delivered("ex-1") is None and forwarded == []
    assert receiver.stats == WebhookStats(received=2)
    assert [r.getMessage() for r in caplog.records] == [
        "webhook: could not store or forward execution ex-1"
    ] * 2
    assert all(r.exc_info is not None for r in caplog.records)
    assert (await deliver(receiver)).json() == {"status": "accepted"}  # VLM Run's retry
    assert ticket.done and len(forwarded) == 1
    assert receiver.stats == WebhookStats(received=3, completed=1)


async def test_a_failing_forward_asks_for_a_retry() -> None:
    calls: list[str] = []

    def forward(execution: AgentExecution) -> None:
        calls.append(execution.id)
        if len(calls) == 1:
            raise ConnectionError("relay down")

    receiver = WebhookReceiver(SECRET, forward=forward)
    assert (await deliver(receiver)).status_code == 503
    assert receiver.hub.delivered("ex-1") is None
    assert (await deliver(receiver)).json() == {"status": "accepted"}
    assert calls == ["ex-1", "ex-1"] and receiver.hub.delivered("ex-1") is not None


async def test_a_failure_after_the_id_left_the_dedup_memory_still_asks_for_a_retry() -> None:
    import asyncio
    import threading

    second_forwarded = threading.Event()

    def forward(execution: AgentExecution) -> None:
        if execution.id == "ex-2":
            second_forwarded.set()
            return
        assert second_forwarded.wait(30)  # meanwhile "ex-2" pushed "ex-1" out (remember=1)
        raise ConnectionError("relay down")

    receiver = WebhookReceiver(SECRET, remember=1, forward=forward)
    first = asyncio.create_task(deliver(receiver, "ex-1"))
    second = asyncio.create_task(deliver(receiver, "ex-2"))
    answers = await asyncio.gather(first, second)
    assert [a.status_code for a in answers] == [503, 200]
    assert receiver.hub.delivered("ex-1") is None and receiver.hub.delivered("ex-2") is not None


# --- senders that are slow, too many, or gone -------------------------------------------


class Trickle(Raw):
    """A sender that pauses ``pause`` seconds before each chunk (or hangs up midway)."""

    def __init__(self, chunks: Sequence[bytes], pause: float, hang_up_after: int = -1) -> None:
        super().__init__(chunks, {}, ("203.0.113.9", 5000))
        self.pause, self.hang_up_after = pause, hang_up_after

    async def receive(self) -> dict[str, Any]:
        import asyncio

        if self.reads == self.hang_up_after:
            self.reads += 1
            return {"type": "http.disconnect"}
        await asyncio.sleep(self.pause)
        return await super().receive()


async def test_a_sender_slower_than_read_timeout_gets_408() -> None:
    receiver = WebhookReceiver(SECRET, read_timeout=0.05)
    status, answer = await Trickle([b"{", b"}"] * 50, pause=0.02).run(receiver)
    assert (status, answer) == (408, {"detail": "delivery sent too slowly"})
    assert receiver.stats.too_slow == 1


class Held(Raw):
    """A sender whose body waits until ``release`` is set."""

    def __init__(self, release: Any) -> None:
        import asyncio

        super().__init__([b"{}"], {}, ("203.0.113.9", 5000))
        self.release, self.reading = release, asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.reading.set()
        await self.release.wait()
        return await super().receive()


async def test_deliveries_past_max_concurrent_get_503_at_once() -> None:
    import asyncio

    receiver = WebhookReceiver(SECRET, max_concurrent=2, read_timeout=30)
    release = asyncio.Event()
    held = [Held(release) for _ in range(2)]
    tasks = [asyncio.create_task(h.run(receiver)) for h in held]
    await asyncio.gather(*(h.reading.wait() for h in held))  # both are being read
    extra = Raw([payload()], {"x-vlmrun-signature": sign(payload())}, ("203.0.113.8", 1))
    status, answer = await extra.run(receiver)
    assert (status, answer) == (503, {"detail": "too many deliveries at once; retry"})
    assert dict(extra.sent[0]["headers"])[b"retry-after"] == b"1"
    assert extra.reads == 0
    release.set()
    assert [s for s, _ in await asyncio.gather(*tasks)] == [401, 401]  # then read as usual
    assert receiver.stats.busy == 1
    assert (await deliver(receiver)).json() == {"status": "accepted"}  # slots given back


async def test_a_sender_that_hangs_up_is_counted_and_logged_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "langchain_vlmrun")
    receiver = WebhookReceiver(SECRET)
    status, _ = await Trickle([b"{", b"}", b"x"], pause=0, hang_up_after=1).run(receiver)
    assert status == 499
    assert receiver.stats.disconnected == 1 and receiver.stats.completed == 0
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "disconnected while sending a delivery" in caplog.text
