"""Tests of the VLM Run API emulator (tests/emulator) against the API reference."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulator import (
    Emulator,
    EmulatorConfig,
    ManualClock,
    parse_multipart,
    pytest_plugin,
    running_emulator,
    wait_until,
)

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
        ex = execute(c, name="invoice-extractor:v1").json()
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
    assert resp == {
        "invoice_id": "invoice_id-value from inv-7.pdf",
        "total": 1.5,
        "count": 1,
        "paid": True,
        "items": [],
        "customer": {},
        "note": "note-value from inv-7.pdf",
    }
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
    emu.config.known_agents = {"invoice-extractor"}
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
        assert execute(c, name="invoice-extractor:v2").status_code == 201
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
