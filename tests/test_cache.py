"""Result cache and resume: a second run pays nothing, a crashed run is resumed."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from langchain_tests.integration_tests.base_store import BaseStoreAsyncTests, BaseStoreSyncTests
from pydantic import BaseModel

from langchain_vlmrun import ExecutionFailedError, PaymentRequiredError, ResponseValidationError
from langchain_vlmrun._structured import validate_response
from langchain_vlmrun.cache import ResultCache
from langchain_vlmrun.storage import FileByteStore
from tests.mock_api import BASE, ScriptedAPI, execution, json_body
from tests.support import Crash

DATA = b"%PDF-1.4 cached document"
MD5 = hashlib.md5(DATA).hexdigest()
CONTENT = f"sha256:{hashlib.sha256(DATA).hexdigest()}"


class TestFileByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"

    @pytest.fixture
    def kv_store(self, tmp_path: Path) -> FileByteStore:
        return FileByteStore(tmp_path / "store")


class TestFileByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"

    @pytest.fixture
    async def kv_store(self, tmp_path: Path) -> FileByteStore:
        return FileByteStore(tmp_path / "store")


def api_for_one_document(final: httpx.Response | None = None) -> ScriptedAPI:
    api = ScriptedAPI()
    api.on("GET", "/files/hash/" + MD5, httpx.Response(200, json={"id": None}))
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "doc.pdf"}))
    api.on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(
            201, json={"id": json_body(r)["id"], "status": "enqueued", "usage": {}}
        ),
    )
    api.on(
        "GET",
        "/agent/executions/req-1",
        execution("req-1", "running"),
        final or execution("req-1", "completed", response={"text": "hello"}),
    )
    return api


def paid(api: ScriptedAPI) -> tuple[int, int]:
    return api.calls("POST", "/files"), api.calls("POST", "/agent/execute")


def test_second_run_is_answered_from_the_cache(tmp_path: Path) -> None:
    cache = ResultCache(FileByteStore(tmp_path))
    api = api_for_one_document()
    client = api.client(request_id_factory=lambda: "req-1")
    first = client.process(DATA, prompt="read", filename="doc.pdf", cache=cache)
    assert paid(api) == (1, 1) and not first.from_cache
    requests_after_first = len(api.requests)
    second = client.process(DATA, prompt="read", filename="doc.pdf", cache=cache)
    assert second.from_cache and second.execution == first.execution
    assert second.file_id == "file-1" and second.content_hash == first.content_hash
    assert len(api.requests) == requests_after_first  # not a single request


def test_cache_key_depends_on_configuration() -> None:
    cache = ResultCache(InMemoryByteStore())
    api = api_for_one_document()
    client = api.client(request_id_factory=lambda: "req-1")
    client.process(DATA, prompt="read", cache=cache)
    client.process(DATA, prompt="read it differently", cache=cache)
    assert paid(api)[1] == 2


def test_crash_after_submit_is_resumed_without_paying_again() -> None:
    store = InMemoryByteStore()
    api = api_for_one_document()

    def dying_sleep(seconds: float) -> None:
        raise Crash

    client = api.client(request_id_factory=lambda: "req-1")
    client._sleep = dying_sleep
    with pytest.raises(Crash):
        client.process(DATA, prompt="read", cache=ResultCache(store))
    assert paid(api) == (1, 1)
    record = ResultCache(store).get(next(iter(store.yield_keys())))
    assert record is not None and record.state == "submitted" and record.execution_id == "req-1"

    restarted = api.client(request_id_factory=lambda: "req-2")
    result = restarted.process(DATA, prompt="read", cache=ResultCache(store))
    assert result.resumed and result.execution.status == "completed"
    assert paid(api) == (1, 1)  # waited on the recorded execution instead


def test_failed_recorded_execution_is_resubmitted_once_visibly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryByteStore()
    cache = ResultCache(store)
    api = api_for_one_document()
    key = cache.scoped(BASE).key(CONTENT, _fields())  # keys are per service
    cache.mark_submitted(key, "old-1", "file-1")
    api.on(
        "GET",
        "/agent/executions/old-1",
        execution("old-1", "failed", usage={"message": "worker lost"}),
    )
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        result = api.client(request_id_factory=lambda: "req-1").process(
            DATA, prompt="read", cache=cache
        )
    assert result.execution.id == "req-1"
    assert paid(api)[1] == 1
    assert "old-1" in caplog.text and "submitting once more" in caplog.text


def _fields() -> dict[str, Any]:
    from langchain_vlmrun._operations import ExecuteRequest

    return ExecuteRequest(prompt="read").cache_fields("file")


def test_failed_execution_leaves_no_record() -> None:
    store = InMemoryByteStore()
    api = api_for_one_document(final=execution("req-1", "failed", usage={"message": "bad scan"}))
    with pytest.raises(ExecutionFailedError):
        api.client(request_id_factory=lambda: "req-1").process(
            DATA, prompt="read", cache=ResultCache(store)
        )
    assert list(store.yield_keys()) == []


class Invoice(BaseModel):
    total: float


def test_invalid_structured_response_is_not_cached() -> None:
    store = InMemoryByteStore()
    api = api_for_one_document()
    with pytest.raises(ResponseValidationError):
        api.client(request_id_factory=lambda: "req-1").process(
            DATA,
            prompt="read",
            cache=ResultCache(store),
            accept=lambda ex: validate_response(ex, Invoice),
        )
    assert list(store.yield_keys()) == []


async def test_async_second_run_is_answered_from_the_cache() -> None:
    cache = ResultCache(InMemoryByteStore())
    api = api_for_one_document()
    async with api.async_client(request_id_factory=lambda: "req-1") as client:
        await client.process(DATA, prompt="read", cache=cache)
        n = len(api.requests)
        again = await client.process(DATA, prompt="read", cache=cache)
    assert again.from_cache and len(api.requests) == n


def test_unreadable_record_is_a_miss() -> None:
    store = InMemoryByteStore()
    store.mset([("vlmrun:x", b"not json")])
    assert ResultCache(store).get("vlmrun:x") is None


def test_death_while_execute_is_in_flight_is_resumed_by_request_id() -> None:
    store = InMemoryByteStore()
    api = api_for_one_document()

    def accepted_then_died(request: httpx.Request) -> httpx.Response:
        raise Crash  # the server got the request; the process died before the answer

    api.routes[("POST", "/agent/execute")].clear()
    api.on("POST", "/agent/execute", accepted_then_died)
    with pytest.raises(Crash):
        api.client(request_id_factory=lambda: "req-1").process(
            DATA, prompt="read", cache=ResultCache(store)
        )
    record = ResultCache(store).get(next(iter(store.yield_keys())))
    assert record is not None and record.execution_id == "req-1"  # recorded before sending

    result = api.client(request_id_factory=lambda: "req-2").process(
        DATA, prompt="read", cache=ResultCache(store)
    )
    assert result.resumed and result.execution.id == "req-1"
    assert paid(api) == (1, 1)  # looked up by its request id, not sent again


def test_refused_execute_leaves_nothing_to_resume() -> None:
    store = InMemoryByteStore()
    api = api_for_one_document()
    api.routes[("POST", "/agent/execute")].clear()
    api.on("POST", "/agent/execute", httpx.Response(402, json={"detail": "Insufficient credits"}))
    with pytest.raises(PaymentRequiredError):
        api.client(request_id_factory=lambda: "req-1").process(
            DATA, prompt="read", cache=ResultCache(store)
        )
    assert list(store.yield_keys()) == []
