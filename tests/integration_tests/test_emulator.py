"""Tests of the VLM Run API emulator (tests/emulator) against the API reference."""

from __future__ import annotations

import enum
import hashlib
import hmac
import importlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from tests.emulator import (
    Emulator,
    EmulatorConfig,
    ManualClock,
    parse_multipart,
    pytest_plugin,
    running_emulator,
    wait_until,
)
from tests.emulator.content import Inputs, schema_content, schema_errors
from tests.support import until

# The plugin's fixtures, usable here until the lead registers the plugin in conftest.
emulator = pytest_plugin.emulator
emulator_factory = pytest_plugin.emulator_factory

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PDF = b"%PDF-1.4\r\n\x00\xff\xfe binary\r\n--not-a-boundary\r\n" * 50


def client(emu: Emulator, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=5.0, **kwargs)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    """Deterministic emulator: a manual clock, 1 s queue, 5 s processing, a fixed key."""
    with running_emulator(api_key=KEY, clock=clock, queue_time=1, processing_time=5) as e:
        yield e


def upload(c: httpx.Client, name: str = "invoice.pdf", data: bytes = PDF) -> dict[str, Any]:
    r = c.post("/files", params={"purpose": "assistants"}, files={"file": (name, data)})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def execute(c: httpx.Client, file_id: str | None = None, **body: Any) -> httpx.Response:
    payload: dict[str, Any] = {
        "name": None,
        "batch": True,
        "inputs": {"file": {"type": "input_file", "file_id": file_id}} if file_id else {},
        "config": {"prompt": "Read it."},
    }
    payload.update(body)
    return c.post("/agent/execute", json=payload)


# ----------------------------------------------------------------------------- auth, files


def test_health_and_auth(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url) as anon:
        r = anon.get("/health")
        assert r.status_code == 401
        assert "detail" in r.json()
        r = anon.get("/health", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        assert r.json() == {"detail": "Invalid API key"}
        r = anon.get("/health", headers=AUTH)
        assert r.status_code == 200
        assert r.json() == {"status": "ok"}


def test_any_bearer_accepted_without_api_key(emulator: Emulator) -> None:
    r = httpx.get(f"{emulator.base_url}/health", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 200
    assert httpx.get(f"{emulator.base_url}/health").status_code == 401


def test_upload_then_hash_lookup(emu: Emulator) -> None:
    md5 = hashlib.md5(PDF).hexdigest()
    with client(emu) as c:
        miss = c.get(f"/files/hash/{md5}")
        assert miss.status_code == 200
        assert miss.json()["id"] is None
        f = upload(c)
        assert f["filename"] == "invoice.pdf"
        assert f["bytes"] == len(PDF)  # byte-exact multipart parsing
        assert f["object"] == "file"
        assert f["purpose"] == "assistants"
        assert "+" not in f["created_at"]
        assert f["public_url"].startswith(f"{emu.root_url}/storage/{f['id']}")
        hit = c.get(f"/files/hash/{md5}")
        assert hit.status_code == 200
        assert hit.json()["id"] == f["id"]
        assert c.get(f"/files/{f['id']}").json()["id"] == f["id"]
        r = c.get("/files/00000000-0000-0000-0000-000000000000")
        assert r.status_code == 404
        assert r.json() == {"detail": "File not found"}
        assert [x["id"] for x in c.get("/files").json()] == [f["id"]]
    snap = emu.counters.snapshot()
    assert snap["uploads"] == 1
    assert snap["hash_misses"] == 1
    assert snap["hash_hits"] == 1
    assert snap["bytes_received"] >= len(PDF)
    assert snap["requests_by_route"]["POST /files"] == 1


def test_presigned_upload_flow(emu: Emulator) -> None:
    data = b"\x00video-bytes" * 10_000
    with client(emu) as c:
        p = c.post(
            "/files/presigned-url",
            json={"filename": "big.mp4", "purpose": "assistants", "expiration": 60},
        )
        assert p.status_code == 200
        info = p.json()
        assert info["upload_method"] == "PUT"
        assert info["content_type"] == "video/mp4"
        assert set(info) >= {"id", "url", "filename", "public_url", "created_at"}
        assert c.get(f"/files/verify-upload/{info['id']}").status_code == 404  # not PUT yet
        headers = {"Content-Type": info["content_type"]}
        # The storage URL refuses an Authorization header.
        refused = httpx.put(info["url"], content=data, headers={**headers, **AUTH})
        assert refused.status_code == 400
        before = emu.counters.bytes_received
        ok = httpx.put(info["url"], content=data, headers=headers)
        assert ok.status_code == 200
        assert emu.counters.bytes_received - before == len(data)
        verified = c.get(f"/files/verify-upload/{info['id']}")
        assert verified.status_code == 200
        assert verified.json()["bytes"] == len(data)
        assert verified.json()["filename"] == "big.mp4"
        hit = c.get(f"/files/hash/{hashlib.md5(data).hexdigest()}")
        assert hit.json()["id"] == info["id"]


def test_multipart_parser_is_byte_exact() -> None:
    req = httpx.Request("POST", "http://x/", files={"file": ("a b.bin", PDF, "x/y")})
    body = req.read()
    parts = parse_multipart(body, req.headers["content-type"])
    assert [(p.name, p.filename, p.content_type) for p in parts] == [("file", "a b.bin", "x/y")]
    assert parts[0].data == PDF


# ----------------------------------------------------------------------------- executions


def test_execution_lifecycle_markdown(emu: Emulator, clock: ManualClock) -> None:
    with client(emu) as c:
        f = upload(c, "report.pdf")
        r = execute(c, f["id"])
        assert r.status_code == 201
        ex = r.json()
        assert ex["status"] == "enqueued"
        assert ex["completed_at"] is None
        assert "+" not in ex["created_at"]
        path = f"/agent/executions/{ex['id']}"
        assert c.get(path).json()["status"] == "enqueued"
        clock.advance(2)
        running = c.get(path).json()
        assert running["status"] == "running"
        assert running["response"] is None
        clock.advance(3)
        done = c.get(path).json()
    assert done["status"] == "completed"
    assert done["completed_at"].endswith("+00:00")
    pages = done["response"]["pages"]
    assert len(pages) == 2
    assert all("report.pdf" in p["content"] for p in pages)
    assert '<Table id="tb-0"/>' in pages[0]["content"]
    assert pages[0]["tables"][0]["headers"]
    assert pages[0]["tables"][0]["content"] is None
    assert done["usage"]["elements_processed"] == 2
    assert done["usage"]["element_type"] == "page"
    assert done["usage"]["message"] is None
    snap = emu.counters.snapshot()
    assert snap["executions_created"] == 1
    assert snap["polls_per_execution"] == {ex["id"]: 3}
    assert snap["completion_time"][ex["id"]] == 1005.0
    assert snap["max_concurrent_executions"] == 1


def test_execution_by_wall_clock(emulator: Emulator) -> None:
    with client(emulator) as c:
        ex = execute(c, name="test-fixture-invoices:v1").json()
        seen = {ex["status"]}
        for _ in range(200):
            status = c.get(f"/agent/executions/{ex['id']}").json()["status"]
            seen.add(status)
            if status == "completed":
                break
    assert status == "completed"
    assert seen <= {"enqueued", "running", "completed"}


def test_json_mode_follows_schema(emu: Emulator, clock: ManualClock) -> None:
    emu.config.response_mode = "json"
    schema = {
        "type": "object",
        "properties": {
            "invoice_id": {"type": "string"},
            "total": {"type": "number"},
            "count": {"type": "integer"},
            "paid": {"type": "boolean"},
            "items": {"type": "array", "items": {"type": "object"}},
            "customer": {"type": "object"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }
    with client(emu) as c:
        f = upload(c, "inv-7.pdf")
        ex = execute(c, f["id"], config={"prompt": "Extract", "json_schema": schema}).json()
        plain = execute(c, f["id"]).json()
        clock.advance(10)
        resp = c.get(f"/agent/executions/{ex['id']}").json()["response"]
        text = c.get(f"/agent/executions/{plain['id']}").json()["response"]
    assert_conforms(resp, schema)
    assert set(resp) == set(schema["properties"])  # optional properties filled too
    assert resp["invoice_id"] == "INV-000001"
    assert resp["total"] == 12.5
    assert resp["note"] == "note-value from inv-7.pdf"
    assert len(resp["items"]) == 2
    assert set(text) == {"text"}


def test_response_factory_and_processing_time_callable(emu: Emulator, clock: ManualClock) -> None:
    emu.config.response_factory = lambda body, filename: {"file": filename, "n": len(body)}
    emu.config.processing_time = lambda body: 20.0 if body["config"]["prompt"] == "slow" else 2.0
    with client(emu) as c:
        f = upload(c, "a.png")
        fast = execute(c, f["id"]).json()
        slow = execute(c, f["id"], config={"prompt": "slow"}).json()
        clock.advance(3)
        assert c.get(f"/agent/executions/{fast['id']}").json()["response"]["file"] == "a.png"
        assert c.get(f"/agent/executions/{slow['id']}").json()["status"] == "running"
    assert emu.counters.completion_time[slow["id"]] - emu.counters.creation_time[slow["id"]] == 20


def test_failed_executions(emu: Emulator, clock: ManualClock) -> None:
    emu.config.fail_predicate = lambda body, filename: filename == "bad.pdf"
    with client(emu) as c:
        good = execute(c, upload(c, "good.pdf")["id"]).json()
        bad = execute(c, upload(c, "bad.pdf", b"other bytes")["id"]).json()
        clock.advance(6)
        good = c.get(f"/agent/executions/{good['id']}").json()
        bad = c.get(f"/agent/executions/{bad['id']}").json()
    assert good["status"] == "completed"
    assert bad["status"] == "failed"
    assert bad["response"] is None
    assert "bad.pdf" in bad["usage"]["message"]
    assert bad["completed_at"].endswith("+00:00")


def test_fail_rate_and_pause(emu: Emulator, clock: ManualClock) -> None:
    emu.config.fail_rate = 1.0
    with client(emu) as c:
        failed = execute(c).json()
        emu.config.fail_rate = 0.0
        emu.config.pause_executions = True
        paused = execute(c).json()
        clock.advance(1000)
        assert c.get(f"/agent/executions/{failed['id']}").json()["status"] == "failed"
        assert c.get(f"/agent/executions/{paused['id']}").json()["status"] == "paused"
    assert paused["id"] not in emu.counters.completion_time


def test_unknown_execution_and_listing(emu: Emulator) -> None:
    with client(emu) as c:
        r = c.get("/agent/executions/does-not-exist")
        assert r.status_code == 404
        assert r.json() == {"detail": "Execution not found"}
        ids = [execute(c).json()["id"] for _ in range(3)]
        listed = c.get("/agent/executions", params={"skip": 0, "limit": 2}).json()
        assert isinstance(listed, list)
        assert [x["id"] for x in listed] == ids[::-1][:2]
        assert c.get("/agent/executions", params={"limit": 0}).status_code == 422


def test_execute_validation(emu: Emulator) -> None:
    emu.config.known_agents = {"test-fixture-invoices"}
    with client(emu) as c:
        r = execute(c, inputs=["not", "an", "object"])
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert detail[0]["loc"] == ["body", "inputs"]
        assert detail[0]["type"] == "dict_type"
        assert c.post("/agent/execute", json=[1, 2]).status_code == 422
        assert c.post("/agent/execute", content=b"{not json").status_code == 422
        r = execute(c, config={})
        assert r.status_code == 400
        assert isinstance(r.json()["detail"], str)
        r = execute(c, name="nope:v1")
        assert r.status_code == 404
        assert r.json() == {"detail": "Agent 'nope:v1' not found"}
        assert execute(c, name="test-fixture-invoices:v2").status_code == 201
        r = execute(c, "00000000-0000-0000-0000-000000000000")
        assert r.status_code == 400
    assert emu.counters.executions_created == 1


def test_repeated_request_id_is_idempotent(emu: Emulator) -> None:
    with client(emu) as c:
        first = execute(c, id="req-123").json()
        second = execute(c, id="req-123")
        assert second.status_code == 201
        assert second.json()["id"] == first["id"] == "req-123"
        assert c.get("/agent/executions/req-123").status_code == 200
    snap = emu.counters.snapshot()
    assert snap["executions_created"] == 1
    assert snap["duplicate_execute_ids"] == 1
    assert snap["executions_by_request_id"] == {"req-123": 2}


# ----------------------------------------------------------------------------- faults, limits


def test_fault_429_has_retry_after(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["429"], retry_after=0)
    with client(emu) as c:
        r = c.get("/health")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "0"
    assert r.json() == {"detail": "Rate limit exceeded"}
    assert emu.counters.faults_injected == {"429": 1}


def test_fault_502_is_html(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["502"])
    with client(emu) as c:
        r = c.get("/health")
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in r.text


def test_fault_drop_and_fault_paths(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["drop"], fault_paths=r"/agent/execute$")
    with client(emu) as c:
        assert c.get("/health").status_code == 200  # not in fault_paths
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            execute(c)
        assert c.get("/health").status_code == 200  # client reconnects
    assert emu.counters.executions_created == 0  # dropped before processing
    assert emu.counters.faults_injected == {"drop": 1}


def test_fault_slow_and_seeded(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["slow"], slow_seconds=0.05)
    with client(emu) as c:
        assert c.get("/health").status_code == 200
    assert emu.counters.faults_injected == {"slow": 1}
    outcomes = []
    for _ in range(2):
        e = emulator_factory(fault_rate=0.5, fault_kinds=["500", "503"], seed=7)
        with client(e) as c:
            outcomes.append([c.get("/health").status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert {200, 500, 503} >= set(outcomes[0]) and len(set(outcomes[0])) > 1


def test_fault_after_processing_creates_execution(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_after_processing=1.0, fault_after_processing_kinds=["500"])
    with client(emu) as c:
        r = execute(c, id="ambiguous-1")
        assert r.status_code == 500
        # The execution exists: a client recovers it by looking up its request id.
        assert c.get("/agent/executions/ambiguous-1").status_code == 200
        emu.config.fault_after_processing_kinds = ["drop"]
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            execute(c, id="ambiguous-2")
        assert c.get("/agent/executions/ambiguous-2").status_code == 200
    assert emu.counters.executions_created == 2
    assert emu.counters.faults_injected == {"after_processing_500": 1, "after_processing_drop": 1}


def test_rate_limit_per_minute(emu: Emulator, clock: ManualClock) -> None:
    emu.config.rate_limit_per_minute = 3
    with client(emu) as c:
        assert [c.get("/health").status_code for _ in range(3)] == [200, 200, 200]
        r = c.get("/health")
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        clock.advance(61)
        assert c.get("/health").status_code == 200
    assert emu.counters.rate_limited == 1


def test_rate_limit_window_scales_time(emu: Emulator, clock: ManualClock) -> None:
    emu.config.rate_limit_per_minute = 2
    emu.config.rate_limit_window = 6.0
    with client(emu) as c:
        assert [c.get("/health").status_code for _ in range(3)] == [200, 200, 429]
        clock.advance(6.5)
        assert c.get("/health").status_code == 200


# ----------------------------------------------------------------------------- webhooks


class _Hook:
    """A loopback receiver of webhook deliveries: answers ``statuses`` in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.statuses = list(statuses)
        self.deliveries: list[tuple[bytes, str | None]] = []
        self.delivered = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.deliveries.append((body, self.headers.get("X-VLMRun-Signature")))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if status == 200:
                    hook.delivered.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Callable[[list[int]], _Hook]]:
    hooks: list[_Hook] = []

    def make(statuses: list[int]) -> _Hook:
        hooks.append(_Hook(statuses))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


def test_callback_delivers_signed_execution_when_done(
    emu: Emulator, clock: ManualClock, hook_factory: Callable[[list[int]], _Hook]
) -> None:
    hook = hook_factory([])
    emu.config.webhook_secret = "whsec_test"
    with client(emu) as c:
        started = execute(c, callback_url=hook.url).json()
        plain = execute(c).json()  # no callback_url: never delivered
        clock.advance(4.9)
        assert not hook.delivered.wait(0.2)  # still running: nothing sent
        clock.advance(0.2)
        assert hook.delivered.wait(5)
        polled = c.get(f"/agent/executions/{started['id']}").json()
    ((body, header),) = hook.deliveries
    expected = hmac.new(b"whsec_test", body, hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"
    delivered = json.loads(body)
    assert delivered["id"] == started["id"] != plain["id"]
    assert delivered["status"] == "completed"
    assert delivered["response"] == polled["response"]
    # the counters move when the hook's answer is back, just after it set ``delivered``
    until(lambda: emu.counters.callbacks_delivered == 1)
    assert emu.counters.callbacks_sent == emu.counters.callbacks_delivered == 1


def test_callback_retried_after_non_2xx_then_given_up(
    clock: ManualClock, hook_factory: Callable[[list[int]], _Hook]
) -> None:
    recovering, failing = hook_factory([503, 500]), hook_factory([503, 503, 503])
    with (
        running_emulator(
            clock=clock, queue_time=0, processing_time=1, callback_backoff=0.01
        ) as emu,
        client(emu) as c,
    ):
        execute(c, callback_url=recovering.url)
        execute(c, callback_url=failing.url)
        clock.advance(1)
        assert recovering.delivered.wait(5)
        assert wait_until(lambda: emu.counters.callbacks_failed == 1)
    assert len(recovering.deliveries) == len(failing.deliveries) == 3
    assert recovering.deliveries[0][1] is None  # no webhook_secret: unsigned
    assert emu.counters.callbacks_delivered == 1
    assert emu.counters.callbacks_sent == 6


# ----------------------------------------------------------------------------- counters, lifecycle


def test_admin_counters_and_reset(emu: Emulator) -> None:
    with client(emu) as c:
        ex = execute(c).json()
        for _ in range(4):
            c.get(f"/agent/executions/{ex['id']}")
        snap = httpx.get(f"{emu.root_url}/_admin/counters").json()
        assert snap["polls_per_execution"][ex["id"]] == 4
        assert snap["requests_total"] == 5
        assert snap["bytes_received"] > 0
        assert httpx.post(f"{emu.root_url}/_admin/reset").status_code == 200
    assert emu.counters.requests_total == 0
    assert emu.counters.polls_per_execution == {}


def test_concurrent_connections(emulator: Emulator) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(64)

    def worker() -> None:
        try:
            with client(emulator) as c:
                barrier.wait(timeout=5)
                for _ in range(5):
                    assert c.get("/health").status_code == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not errors
    assert emulator.counters.requests_total == 320
    assert emulator.counters.max_concurrent_requests > 1
    # The server decrements just after writing the response: allow it a moment.
    assert wait_until(lambda: emulator.counters.concurrent_requests == 0, timeout=2)


def test_stop_and_watchdog() -> None:
    emu = Emulator(EmulatorConfig(max_lifetime=0.2)).start()
    url = emu.base_url
    with httpx.Client(headers=AUTH) as c:
        assert c.get(f"{url}/health").status_code == 200
        assert emu.wait_stopped(timeout=5)
        assert not emu.running
        with pytest.raises(httpx.TransportError):
            c.get(f"{url}/health")
    emu.stop()  # idempotent


def test_snapshot_is_json_serialisable(emulator: Emulator) -> None:
    with client(emulator) as c:
        assert c.get("/health").status_code == 200
    snapshot = emulator.counters.snapshot()
    assert snapshot["requests_total"] == 1
    assert json.loads(json.dumps(snapshot)) == snapshot  # survives a JSON round trip


# ----------------------------------------------------------------------------- hard modes: faults


def runs(statuses: list[int], status: int) -> list[int]:
    """Lengths of the runs of `status` that end before the last request."""
    out, current = [], 0
    for s in statuses:
        if s == status:
            current += 1
        elif current:
            out.append(current)
            current = 0
    return out


def test_fault_bursts_fail_the_next_requests_too_including_polls(emulator_factory: Any) -> None:
    sequences = []
    for _ in range(2):
        emu = emulator_factory(fault_rate=0.1, fault_kinds=["503"], fault_burst_length=4, seed=3)
        emu.config.fault_rate = 0.0
        with client(emu) as c:
            ex = execute(c).json()
            emu.config.fault_rate = 0.1
            statuses = [c.get(f"/agent/executions/{ex['id']}").status_code for _ in range(80)]
        sequences.append(statuses)
        faults = emu.counters.faults_injected
        assert faults["503"] >= 2
        assert faults["burst_503"] <= 4 * faults["503"]
    assert sequences[0] == sequences[1]  # seeded: the same outages
    assert set(sequences[0]) == {200, 503}
    assert runs(sequences[0], 503)  # at least one finished burst
    assert all(n >= 5 for n in runs(sequences[0], 503))  # a fault + 4 more, never alone


def test_fault_burst_rate_makes_some_faults_isolated(emulator_factory: Any) -> None:
    emu = emulator_factory(
        fault_rate=0.2, fault_kinds=["500"], fault_burst_length=3, fault_burst_rate=0.5, seed=5
    )
    with client(emu) as c:
        statuses = [c.get("/health").status_code for _ in range(120)]
    lengths = runs(statuses, 500)
    assert 1 in lengths or 2 in lengths  # some faults did not start a burst
    assert any(n >= 4 for n in lengths)  # others did


def test_burst_follows_an_after_processing_fault(emulator_factory: Any) -> None:
    emu = emulator_factory(
        fault_after_processing=1.0, fault_after_processing_kinds=["500"], fault_burst_length=2
    )
    with client(emu) as c:
        assert execute(c, id="lost-answer").status_code == 500
        emu.config.fault_after_processing = 0.0
        assert [c.get("/agent/executions/lost-answer").status_code for _ in range(3)] == [
            500,
            500,
            200,
        ]
    assert emu.counters.faults_injected == {"after_processing_500": 1, "burst_500": 2}
    assert emu.counters.executions_created == 1


def test_outage_window_fails_everything_for_s_seconds(emu: Emulator, clock: ManualClock) -> None:
    with client(emu) as c:
        ex = execute(c).json()
        emu.start_outage(10)
        assert c.get("/health").status_code == 503
        assert c.get(f"/agent/executions/{ex['id']}").status_code == 503
        assert execute(c).status_code == 503
        assert httpx.get(f"{emu.root_url}/storage/x").status_code == 503  # no auth path too
        clock.advance(9.9)
        assert c.get("/health").status_code == 503
        clock.advance(0.1)
        assert c.get("/health").status_code == 200
        # The same through the admin endpoint, as dropped connections.
        r = httpx.post(f"{emu.root_url}/_admin/outage", params={"seconds": 5, "kind": "drop"})
        assert r.status_code == 200
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            c.get("/health")
        assert httpx.delete(f"{emu.root_url}/_admin/outage").status_code == 200
        assert c.get("/health").status_code == 200
        bad = httpx.post(f"{emu.root_url}/_admin/outage", params={"seconds": 1, "kind": "418"})
        assert bad.status_code == 422
    assert emu.counters.executions_created == 1  # nothing processed during the outage
    assert emu.counters.faults_injected == {"outage_503": 5, "outage_drop": 1}


def test_configured_outages_are_relative_to_start(clock: ManualClock) -> None:
    with (
        running_emulator(clock=clock, outages=[(5, 2)], outage_kind="502") as emu,
        client(emu) as c,
    ):
        assert c.get("/health").status_code == 200
        clock.advance(5)
        r = c.get("/health")
        assert r.status_code == 502
        assert r.headers["content-type"].startswith("text/html")
        clock.advance(2)
        assert c.get("/health").status_code == 200
    with pytest.raises(ValueError, match="outage_kind"):
        EmulatorConfig(outage_kind="418")


def test_truncated_json_is_a_200_with_honest_length_and_invalid_json(
    emulator_factory: Any,
) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["truncated_json"])
    with client(emu) as c:
        r = execute(c, id="cut-1")
        assert r.status_code == 201
        assert int(r.headers["content-length"]) == len(r.content) > 0
        with pytest.raises(json.JSONDecodeError):
            r.json()
        emu.config.fault_rate = 0.0
        assert c.get("/agent/executions/cut-1").status_code == 200  # the server acted
    assert emu.counters.executions_created == 1
    assert emu.counters.faults_injected == {"truncated_json": 1}


def test_short_body_closes_mid_body(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["short_body"], fault_paths="/health$")
    with client(emu) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/health")
        assert execute(c).status_code == 201  # the client reconnects
    assert emu.counters.faults_injected == {"short_body": 1}


def test_slow_body_arrives_whole(emulator_factory: Any) -> None:
    emu = emulator_factory(
        fault_rate=1.0, fault_kinds=["slow_body"], slow_body_seconds=0.05, slow_body_chunks=5
    )
    with client(emu) as c:
        r = execute(c, id="slow-1")
        assert r.status_code == 201
        assert r.json()["id"] == "slow-1"
        assert c.get("/health").json() == {"status": "ok"}
    assert emu.counters.faults_injected == {"slow_body": 2}


def test_stop_interrupts_a_trickling_body(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["slow_body"], slow_body_seconds=600)
    with client(emu) as c, c.stream("GET", "/health") as r:
        assert r.status_code == 200  # head sent; the body would take 10 minutes
        emu.stop()
        with pytest.raises(httpx.RemoteProtocolError):
            r.read()
    assert not emu.running


def usable(call: Callable[[], httpx.Response]) -> bool:
    """Did the client get a 2xx answer it can read?"""
    try:
        r = call()
        r.json()
    except (httpx.TransportError, json.JSONDecodeError):
        return False
    return r.is_success


@pytest.mark.parametrize("kind", ["truncated_json", "short_body", "drop", "502"])
def test_after_processing_faults_on_upload_and_execute(emulator_factory: Any, kind: str) -> None:
    emu = emulator_factory(fault_after_processing=1.0, fault_after_processing_kinds=[kind])
    with client(emu) as c:
        assert not usable(lambda: c.post("/files", files={"file": ("a.pdf", PDF)}))
        [file_id] = emu.file_ids()  # the upload happened all the same
        assert not usable(lambda: execute(c, file_id, id="req-a"))
        emu.config.fault_after_processing = 0.0
        assert c.get("/agent/executions/req-a").status_code == 200
    assert emu.counters.uploads == 1
    assert emu.counters.executions_created == 1
    assert emu.counters.faults_injected == {f"after_processing_{kind}": 2}


# ----------------------------------------------------------------------------- hard modes: ids


def test_ignored_request_ids_make_a_resend_pay_twice(emulator_factory: Any) -> None:
    emu = emulator_factory(
        ignore_request_ids=True,
        fault_after_processing=1.0,
        fault_after_processing_kinds=["drop"],
        fault_paths="/agent/execute$",
    )
    with client(emu) as c:
        f = upload(c)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            execute(c, f["id"], id="req-1")
        assert c.get("/agent/executions/req-1").status_code == 404  # lookup cannot find it
        emu.config.fault_after_processing = 0.0
        again = execute(c, f["id"], id="req-1").json()  # the re-send pays again
        assert again["id"] != "req-1"
        execute(c, "", inputs={"u": "https://example.com/a.jpg"})
    snap = emu.counters.snapshot()
    assert snap["executions_created"] == 3
    assert snap["executions_by_input"] == {f["id"]: 2, "https://example.com/a.jpg": 1}
    assert snap["paid_twice"] == emu.counters.paid_twice == 1
    assert snap["duplicate_execute_ids"] == 1
    assert snap["executions_by_request_id"] == {"req-1": 2}
    assert len(set(emu.execution_ids())) == 3


def test_request_ids_honoured_by_default_pay_once(emu: Emulator) -> None:
    with client(emu) as c:
        f = upload(c)
        execute(c, f["id"], id="req-1")
        execute(c, f["id"], id="req-1")
    assert emu.counters.executions_by_input == {f["id"]: 1}
    assert emu.counters.paid_twice == 0


# ----------------------------------------------------------------------------- hard modes: times


def finished(emu: Emulator, clock: ManualClock, advance: float, **config: Any) -> dict[str, Any]:
    for name, value in config.items():
        setattr(emu.config, name, value)
    with client(emu) as c:
        ex = execute(c).json()
        clock.advance(advance)
        done: dict[str, Any] = c.get(f"/agent/executions/{ex['id']}").json()
    assert done["status"] == "completed"
    return done


def times(ex: dict[str, Any]) -> tuple[datetime, datetime]:
    created = datetime.fromisoformat(ex["created_at"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return created, datetime.fromisoformat(ex["completed_at"])


def test_lazy_completed_at_is_stamped_at_first_observation(
    emu: Emulator, clock: ManualClock
) -> None:
    done = finished(emu, clock, 100, lazy_completed_at=True)
    created, completed = times(done)
    assert completed - created == timedelta(seconds=100)  # not the true 5 s
    clock.advance(50)
    with client(emu) as c:
        again = c.get(f"/agent/executions/{done['id']}").json()
        listed = c.get("/agent/executions").json()[0]
    assert again["completed_at"] == listed["completed_at"] == done["completed_at"]
    assert emu.counters.completion_observed_time == {done["id"]: 1100.0}
    assert emu.counters.completion_time == {done["id"]: 1005.0}  # the true finish


@pytest.mark.parametrize(
    ("mode", "offset_on_created", "completed_minus_created"),
    [
        ("naive", False, timedelta(seconds=5)),
        ("accurate", True, timedelta(seconds=5)),
        ("lazy", False, timedelta(seconds=30)),
        ("early", False, timedelta(seconds=-86400)),
        ("late", False, timedelta(seconds=86405)),
    ],
)
def test_timestamp_modes(
    emu: Emulator,
    clock: ManualClock,
    mode: str,
    offset_on_created: bool,
    completed_minus_created: timedelta,
) -> None:
    done = finished(emu, clock, 30, timestamp_mode=mode)
    assert (datetime.fromisoformat(done["created_at"]).tzinfo is not None) is offset_on_created
    assert datetime.fromisoformat(done["completed_at"]).tzinfo is not None
    created, completed = times(done)
    assert completed - created == completed_minus_created


def test_timestamp_mode_missing_and_validation(emu: Emulator, clock: ManualClock) -> None:
    assert finished(emu, clock, 30, timestamp_mode="missing")["completed_at"] is None
    with pytest.raises(ValueError, match="timestamp_mode"):
        EmulatorConfig(timestamp_mode="sometimes")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- schema content


def assert_conforms(value: Any, schema: dict[str, Any]) -> None:
    """Validate with jsonschema when installed, else with the emulator's structural check."""
    assert schema_errors(value, schema) == []
    try:
        validator = importlib.import_module("jsonschema")
    except ImportError:
        return
    validator.validate(value, schema)


class Page(BaseModel):
    page: int
    markdown: str


class PagedDocument(BaseModel):
    pages: list[Page]


class Segment(BaseModel):
    start: float
    end: float
    text: str
    speaker: str
    description: str | None = None


class Transcript(BaseModel):
    segments: list[Segment]
    language: str


class LineItem(BaseModel):
    description: str
    quantity: float = Field(gt=0)
    unit_price: float = Field(ge=0)


class Status(enum.Enum):
    DRAFT = "draft"
    SENT = "sent"


class Invoice(BaseModel):
    invoice_id: str
    issue_date: str
    currency: Literal["USD", "EUR"]
    status: Status
    items: list[LineItem] = Field(min_length=1, max_length=3)
    tax_percentage: float = Field(ge=0, le=100)
    pages: int = Field(ge=1)
    notes: str | None = None
    paid: bool


def run_with_schema(emu: Emulator, clock: ManualClock, schema: dict[str, Any], source: str) -> Any:
    """Execute `source` (a file name to upload, or a URL) with `schema`; the response."""
    with client(emu) as c:
        if source.startswith("https://"):
            inputs = {"media": {"type": "input_file", "file_url": source}}
        else:
            inputs = {"file": {"type": "input_file", "file_id": upload(c, source)["id"]}}
        config = {"prompt": "Extract.", "json_schema": schema}
        ex = execute(c, inputs=inputs, config=config).json()
        clock.advance(10)
        done = c.get(f"/agent/executions/{ex['id']}").json()
    assert done["status"] == "completed"
    return done["response"]


def test_documents_get_one_entry_per_page(emu: Emulator, clock: ManualClock) -> None:
    emu.config.pages_per_file = 3
    schema = PagedDocument.model_json_schema()  # $defs/$ref, markdown response_mode
    response = run_with_schema(emu, clock, schema, "report.pdf")
    assert_conforms(response, schema)
    doc = PagedDocument.model_validate(response)
    assert [p.page for p in doc.pages] == [0, 1, 2]
    assert all(p.markdown.startswith(f"# report.pdf: page {p.page + 1}") for p in doc.pages)


@pytest.mark.parametrize("source", ["talk.mp3", "https://example.com/media/clip.mp4"])
def test_audio_and_video_get_ordered_segments(
    emu: Emulator, clock: ManualClock, source: str
) -> None:
    schema = Transcript.model_json_schema()
    response = run_with_schema(emu, clock, schema, source)
    assert_conforms(response, schema)
    segments = Transcript.model_validate(response).segments
    assert len(segments) == emu.config.segments_per_file
    assert segments[0].start == 0.0
    assert all(s.start < s.end for s in segments)
    assert all(a.end <= b.start for a, b in itertools.pairwise(segments))
    assert [s.speaker for s in segments[:2]] == ["A", "B"]
    assert all(s.description and source.rsplit("/", 1)[-1] in s.description for s in segments)
    scene = "scene" if source.endswith(".mp4") else "audio segment"
    assert scene in (segments[0].description or "")


def test_times_follow_any_field_names(emu: Emulator, clock: ManualClock) -> None:
    schema = {
        "type": "object",
        "required": ["scenes"],
        "properties": {
            "scenes": {
                "type": "array",
                "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {
                        "startTime": {"type": "number"},
                        "endTime": {"type": "number"},
                        "caption": {"type": "string", "maxLength": 30},
                    },
                },
            }
        },
    }
    scenes = run_with_schema(emu, clock, schema, "clip.webm")["scenes"]
    assert_conforms({"scenes": scenes}, schema)
    assert len(scenes) == 3
    bounds = [(s["startTime"], s["endTime"]) for s in scenes]
    assert bounds == sorted(bounds)
    assert all(e <= s2 for (_, e), (s2, _) in itertools.pairwise(bounds))


def test_images_get_text_and_description(emu: Emulator, clock: ManualClock) -> None:
    schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}, "description": {"type": "string"}},
        "required": ["text", "description"],
        "additionalProperties": False,
    }
    response = run_with_schema(emu, clock, schema, "receipt.jpg")
    assert_conforms(response, schema)
    assert "receipt.jpg" in response["text"]
    assert "receipt.jpg" in response["description"]
    assert response["text"] != response["description"]


def test_pydantic_schema_with_enums_bounds_and_optionals(emu: Emulator, clock: ManualClock) -> None:
    schema = Invoice.model_json_schema()
    response = run_with_schema(emu, clock, schema, "invoice.pdf")
    assert_conforms(response, schema)
    invoice = Invoice.model_validate(response)
    assert invoice.issue_date == "2024-08-01"
    assert invoice.notes is not None
    assert 1 <= len(invoice.items) <= 3


def test_schema_content_is_deterministic_and_recursion_stops() -> None:
    class Node(BaseModel):
        name: str
        children: list[Node] = []
        parent: Node | None = None

    schema = Node.model_json_schema()
    first = schema_content(schema, Inputs(["a.pdf"]))
    assert first == schema_content(schema, Inputs(["a.pdf"]))
    Node.model_validate(first)
    assert_conforms(first, schema)
    assert schema_content({"type": "array", "items": {"type": "integer"}, "minItems": 5}) == [
        1,
        2,
        3,
        4,
        5,
    ]


REF = "#/$defs/I"


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ({"a": 1}, {"type": "object", "required": ["b"]}),
        ({"a": "x"}, {"properties": {"a": {"type": "integer"}}}),
        ([1, 2, 3], {"type": "array", "maxItems": 2}),
        (5, {"type": "number", "exclusiveMaximum": 5}),
        ("c", {"enum": ["a", "b"]}),
        (True, {"type": "integer"}),
        ({"x": 1}, {"type": "object", "additionalProperties": False}),
        (None, {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
        (
            {"v": "s"},
            {"$defs": {"I": {"type": "integer"}}, "properties": {"v": {"$ref": "#/$defs/I"}}},
        ),
    ],
)
def test_structural_validator_rejects(value: Any, schema: dict[str, Any]) -> None:
    assert schema_errors(value, schema) != []


def test_follow_json_schema_off_keeps_markdown(emu: Emulator, clock: ManualClock) -> None:
    emu.config.follow_json_schema = False
    response = run_with_schema(emu, clock, PagedDocument.model_json_schema(), "a.pdf")
    assert "tables" in response["pages"][0]  # the markdown-mode page shape


# ----------------------------------------------------------------------------- agents, artifacts

TEST_AGENT = "test-agent-receipts"  # test data: a fresh account has no agents


class Receipt(BaseModel):
    merchant_name: str
    total: float = Field(ge=0)


def create_agent(c: httpx.Client, name: str | None = TEST_AGENT, prompt: str = "Read it") -> Any:
    config = {"prompt": prompt, "json_schema": Receipt.model_json_schema()}
    r = c.post("/agent/create", json={"name": name, "inputs": None, "config": config})
    assert r.status_code == 201, r.text
    return r.json()


def test_agent_registry_create_lookup_list_get(emu: Emulator, clock: ManualClock) -> None:
    emu.config.agent_creation_time = 30
    emu.config.known_agents = set()  # only created agents exist
    with client(emu) as c:
        first = create_agent(c)
        assert set(first) == {"id", "name", "created_at", "updated_at", "status"}
        assert first["name"] == f"{TEST_AGENT}:v1"
        assert first["status"] == "pending"
        second = create_agent(c, prompt="Read it again")
        assert second["name"] == f"{TEST_AGENT}:v2"
        unnamed = create_agent(c, name=None, prompt="Describe")
        assert unnamed["name"].startswith("agent-")

        latest = c.post("/agent/lookup", json={"name": TEST_AGENT}).json()
        assert latest["id"] == second["id"]  # a bare name is the latest version
        assert latest["status"] == "pending"
        assert_conforms(latest["json_sample"], Receipt.model_json_schema())
        assert latest["json_schema"] == Receipt.model_json_schema()
        assert (
            c.post("/agent/lookup", json={"name": f"{TEST_AGENT}:v1"}).json()["id"] == (first["id"])
        )
        assert c.post("/agent/lookup", json={"prompt": "Describe"}).json()["id"] == unnamed["id"]
        by_id = c.post("/agent/lookup", json={"id": first["id"]}).json()
        assert by_id == c.get(f"/agents/{first['id']}").json()
        clock.advance(30)
        assert c.get(f"/agents/{first['id']}").json()["status"] == "completed"

        listed = c.get("/agent").json()
        assert [a["id"] for a in listed] == [unnamed["id"], second["id"], first["id"]]
        assert [a["id"] for a in c.get("/agent", params={"skip": 1, "limit": 1}).json()] == [
            second["id"]
        ]
        assert c.post("/agent/lookup", json={"name": "missing"}).status_code == 404
        assert c.get("/agents/nope").status_code == 404
        assert c.post("/agent/lookup", json={}).status_code == 400
        assert c.post("/agent/lookup", json={"id": "a", "name": "b"}).status_code == 400
        assert c.post("/agent/lookup", json={"name": "bad name!"}).status_code == 400
        bad = c.post("/agent/create", json={"name": "x", "config": {}})
        assert bad.status_code == 400
        again = c.post(
            "/agent/create", json={"name": f"{TEST_AGENT}:v1", "config": {"prompt": "p"}}
        )
        assert again.status_code == 400


def test_lookup_agrees_with_execute_on_names_known_agents_makes_exist(emu: Emulator) -> None:
    emu.config.known_agents = {"invoice-extractor", "receipts:v2"}
    with client(emu) as c:
        bare = c.post("/agent/lookup", json={"name": "invoice-extractor"})
        assert bare.status_code == 200
        assert bare.json()["name"] == "invoice-extractor:v1"
        assert c.post("/agent/lookup", json={"name": "receipts:v2"}).json()["name"] == (
            "receipts:v2"
        )
        assert execute(c, name="receipts:v2").status_code == 201
        assert c.post("/agent/lookup", json={"name": "receipts:v3"}).status_code == 404
        assert execute(c, name="receipts:v3").status_code == 404
        assert c.get("/agent").json() == []  # implied agents are not listed
        emu.config.known_agents = None  # any name exists
        assert c.post("/agent/lookup", json={"name": "whatever:v7"}).status_code == 200
        assert c.post("/agent/lookup", json={"prompt": "whatever"}).status_code == 404


def test_executing_a_created_agent_follows_its_schema(emu: Emulator, clock: ManualClock) -> None:
    emu.config.known_agents = set()  # only created agents exist
    with client(emu) as c:
        agent = create_agent(c)
        assert execute(c, name="someone-else:v1").status_code == 404
        ex = execute(c, upload(c, "receipt.pdf")["id"], name=agent["name"], config=None)
        assert ex.status_code == 201, ex.text
        clock.advance(10)
        done = c.get(f"/agent/executions/{ex.json()['id']}").json()
    receipt = Receipt.model_validate(done["response"])
    assert receipt.merchant_name == "Emulated merchant name 1"


class ImageRef(BaseModel):  # as the SDK's vlmrun.types.ImageRef
    id: str = Field(pattern=r"^img_\w{6}$")


class Frame(BaseModel):
    image: ImageRef
    caption: str


def test_artifacts_by_id_filename_and_list(emu: Emulator, clock: ManualClock) -> None:
    emu.config.artifact_kinds = ("img", "doc")
    with client(emu) as c:
        ex = execute(c, upload(c, "scan.pdf")["id"]).json()
        params = {"execution_id": ex["id"]}
        assert c.get("/artifacts/list", params=params).status_code == 404  # not finished
        clock.advance(10)
        done = c.get(f"/agent/executions/{ex['id']}").json()
        img_id, doc_id = done["response"]["artifacts"]
        assert img_id.startswith("img_") and doc_id.startswith("doc_")
        assert len(done["response"]["pages"]) == 2  # the markdown answer is still there
        img = c.get("/artifacts", params={**params, "object_id": img_id})
        assert img.status_code == 200
        assert img.headers["content-type"] == "image/png"
        assert img.content.startswith(b"\x89PNG\r\n\x1a\n")
        doc = c.get("/artifacts", params={**params, "filename": f"{doc_id}.pdf"})
        assert doc.headers["content-type"] == "application/pdf"
        assert doc.content.startswith(b"%PDF")
        listing = c.get("/artifacts/list", params=params).json()
        assert listing == {
            "namespace_id": ex["id"],
            "items": [
                {"object_id": img_id, "filename": f"{img_id}.png", "source": "store"},
                {"object_id": doc_id, "filename": f"{doc_id}.pdf", "source": "store"},
            ],
        }
        assert c.get("/artifacts", params={"object_id": img_id}).status_code == 400
        assert c.get("/artifacts", params=params).status_code == 400
        missing = c.get("/artifacts", params={**params, "object_id": "img_000000"})
        assert missing.status_code == 404
        other = c.get("/artifacts", params={"execution_id": "nope", "object_id": img_id})
        assert other.status_code == 404
    with pytest.raises(ValueError, match="artifact_kinds"):
        EmulatorConfig(artifact_kinds=["gif"])


def test_schema_refs_point_to_real_artifacts(emu: Emulator, clock: ManualClock) -> None:
    schema = Frame.model_json_schema()
    with client(emu) as c:
        config = {"prompt": "Caption", "json_schema": schema}
        ex = execute(c, inputs={"frame": "https://example.com/frame.jpg"}, config=config).json()
        clock.advance(10)
        frame = Frame.model_validate(c.get(f"/agent/executions/{ex['id']}").json()["response"])
        r = c.get("/artifacts", params={"execution_id": ex["id"], "object_id": frame.image.id})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert "frame.jpg" in frame.caption


def test_registry_routes_get_faults_too(emulator_factory: Any) -> None:
    emu = emulator_factory(fault_rate=1.0, fault_kinds=["503"], fault_paths=r"/agent(/lookup)?$")
    with client(emu) as c:
        assert c.post("/agent/lookup", json={"name": TEST_AGENT}).status_code == 503
        assert c.get("/agent").status_code == 503
        assert create_agent(c)["name"] == f"{TEST_AGENT}:v1"  # not in fault_paths
    assert emu.counters.faults_injected == {"503": 2}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's dict inputs
def test_official_sdk_reads_the_registry_and_artifacts(
    emu: Emulator, clock: ManualClock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wire format matches the official SDK (installed with the bench extra)."""
    sdk_client = pytest.importorskip("vlmrun.client")
    pytest.importorskip("PIL")
    sdk_types = importlib.import_module("vlmrun.client.types")
    monkeypatch.setattr("vlmrun.client.artifacts.VLMRUN_ARTIFACTS_CACHE_DIR", tmp_path)
    emu.config.api_key = None
    sdk = sdk_client.VLMRun(api_key="k", base_url=emu.base_url)
    config = sdk_types.AgentCreationConfig(prompt="Caption", json_schema=Frame.model_json_schema())
    created = sdk.agent.create(config=config, name=TEST_AGENT)
    assert sdk.agent.get(name=TEST_AGENT).id == created.id
    assert sdk.agent.get_by_id(created.id).name == f"{TEST_AGENT}:v1"
    assert [a.id for a in sdk.agent.list()] == [created.id]
    ex = sdk.agent.execute(name=created.name, inputs={"image": "https://example.com/a.jpg"})
    clock.advance(10)
    done = sdk.executions.get(ex.id)
    assert done.status == "completed"
    assert [e.id for e in sdk.executions.list()] == [ex.id]
    image = sdk.artifacts.get(object_id=done.response["image"]["id"], execution_id=ex.id)
    assert image.size == (1, 1)
