"""Result cache and resume: a second run pays nothing, a crashed run is resumed."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel

from langchain_vlmrun import (
    ExecutionFailedError,
    InternalServerError,
    PaymentRequiredError,
    ResponseValidationError,
)
from langchain_vlmrun.client._operations import ExecuteRequest
from langchain_vlmrun.client.cache import CacheRecord, ResultCache, resolve_cache
from langchain_vlmrun.client.storage import FileByteStore
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.documents._structured import validate_response
from tests.mock_api import BASE, ScriptedAPI, execution, json_body
from tests.store_contract import AsyncStoreContract, StoreContract
from tests.support import Crash, VirtualService

DATA = b"%PDF-1.4 cached document"
MD5 = hashlib.md5(DATA).hexdigest()
CONTENT = f"sha256:{hashlib.sha256(DATA).hexdigest()}"


class TestFileByteStore(StoreContract):
    @pytest.fixture
    def kv_store(self, tmp_path: Path) -> FileByteStore:
        return FileByteStore(tmp_path / "store")


class TestFileByteStoreAsync(AsyncStoreContract):
    @pytest.fixture
    async def kv_store(self, tmp_path: Path) -> FileByteStore:
        return FileByteStore(tmp_path / "store")


class TestInMemoryByteStore(StoreContract):
    """LangChain's in-memory store, which the tests below use, keeps the contract too."""

    @pytest.fixture
    def kv_store(self) -> InMemoryByteStore:
        return InMemoryByteStore()


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


# --- ResultCache on its own: keys, record checks, expiry, pruning ---------------------


def _done(execution_id: str = "ex-1", status: str = "completed") -> AgentExecution:
    body = {"id": execution_id, "name": "agent:v1", "status": status, "usage": {}}
    return AgentExecution.model_validate(body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_key_ignores_field_order_but_not_service_or_namespace() -> None:
    cache = ResultCache(InMemoryByteStore())
    key = cache.key(CONTENT, {"prompt": "p", "model": "m"})
    assert key == cache.key(CONTENT, {"model": "m", "prompt": "p"})
    assert key.startswith("vlmrun:") and key != cache.key(CONTENT, {"prompt": "q", "model": "m"})
    assert key != cache.key("sha256:other", {"prompt": "p", "model": "m"})
    assert key != cache.scoped("https://other.example/v1").key(
        CONTENT, {"prompt": "p", "model": "m"}
    )
    assert ResultCache(InMemoryByteStore(), namespace="app").key(CONTENT, {}).startswith("app:")


def test_cache_keys_keep_their_format_so_records_outlive_an_upgrade() -> None:
    """The key is a stored format: if it changed between versions, every record written
    before would be orphaned and every document paid for again."""
    cache = ResultCache(InMemoryByteStore()).scoped("https://api.vlm.run/v1")
    canonical = '{"request":{"model":null,"prompt":"p"},"service":"https://api.vlm.run/v1"}'
    digest = hashlib.sha256(f"{CONTENT}\n{canonical}".encode()).hexdigest()
    assert cache.key(CONTENT, {"prompt": "p", "model": None}) == f"vlmrun:{digest}"


def test_scoped_cache_shares_the_store_and_settings() -> None:
    store = InMemoryByteStore()
    cache = ResultCache(store, namespace="app", max_age=60.0)
    scoped = cache.scoped("https://api.example/v1")
    assert scoped.store is store and scoped.namespace == "app" and scoped.max_age == 60.0
    assert cache.service == ""  # the original is unchanged


def test_default_cache_store_is_a_private_folder_under_vlmrun_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLMRUN_CACHE_DIR", str(tmp_path / "cache"))
    cache = ResultCache()
    assert isinstance(cache.store, FileByteStore) and cache.store.root == tmp_path / "cache"
    cache.mark_submitted("vlmrun:k", "ex-1", file_id="file-1")
    assert ResultCache().get("vlmrun:k") == CacheRecord("submitted", "ex-1", "file-1", None, ANY)


def test_records_round_trip_with_file_id_and_write_time() -> None:
    clock = Clock()
    cache = ResultCache(InMemoryByteStore(), clock=clock)
    cache.mark_submitted("vlmrun:a", "ex-1", file_id="file-1")
    cache.mark_completed("vlmrun:b", _done("ex-2"), file_id=None)
    assert cache.get("vlmrun:a") == CacheRecord("submitted", "ex-1", "file-1", None, 1000.0)
    done = cache.get("vlmrun:b")
    assert done is not None and done.state == "completed" and done.execution_id == "ex-2"
    assert done.execution is not None and done.execution.id == "ex-2" and done.file_id is None
    cache.forget("vlmrun:a")
    assert cache.get("vlmrun:a") is None and cache.get("vlmrun:b") is not None


@pytest.mark.parametrize(
    "record",
    [
        {"state": "running", "execution_id": "ex-1"},
        {"state": "submitted", "execution_id": "ex/1"},
        {"state": "submitted", "execution_id": 7},
        {"state": "submitted", "execution_id": "x" * 129},
        {"state": "submitted", "execution_id": "ex-1", "file_id": "../f"},
        {"state": "submitted", "execution_id": "ex-1", "written_at": "yesterday"},
        {"state": "submitted"},
        {"state": "completed", "execution_id": "ex-1"},
        {"state": "completed", "execution_id": "ex-1", "execution": _done("ex-2").model_dump()},
        {
            "state": "completed",
            "execution_id": "ex-1",
            "execution": _done("ex-1", "running").model_dump(),
        },
        {"state": "submitted", "execution_id": "ex-1", "execution": {"id": "ex-2"}},
        {"state": "submitted", "execution_id": "ex-1", "execution": "done"},
        ["submitted", "ex-1"],
    ],
)
def test_records_that_are_not_ours_are_misses(record: Any) -> None:
    store = InMemoryByteStore()
    store.mset([("vlmrun:k", json.dumps(record).encode())])
    assert ResultCache(store).get("vlmrun:k") is None


def test_a_record_with_the_longest_id_and_a_submitted_execution_is_read() -> None:
    store = InMemoryByteStore()
    longest = "A-z_9" + "x" * 123
    record = {
        "state": "submitted",
        "execution_id": "ex-1",
        "file_id": longest,
        "execution": _done("ex-1", "running").model_dump(mode="json"),
    }
    store.mset([("vlmrun:k", json.dumps(record).encode())])
    read = ResultCache(store).get("vlmrun:k")
    assert read is not None and read.file_id == longest
    assert read.execution is not None and read.execution.status == "running"


def test_records_expire_after_max_age_and_are_removed_when_read() -> None:
    clock = Clock()
    store = InMemoryByteStore()
    cache = ResultCache(store, max_age=60.0, clock=clock)
    cache.mark_submitted("vlmrun:k", "ex-1", file_id=None)
    clock.now += 60.0
    assert cache.get("vlmrun:k") is not None  # exactly max_age old: still valid
    clock.now += 0.5
    assert cache.get("vlmrun:k") is None
    assert list(store.yield_keys()) == []  # removed, not just skipped
    store.mset([("vlmrun:old", b'{"state": "submitted", "execution_id": "ex-1"}')])
    assert ResultCache(store).get("vlmrun:old") is not None  # without max_age: valid
    assert cache.get("vlmrun:old") is None  # no write time: cannot be proven fresh


def test_prune_removes_expired_unreadable_and_the_oldest_beyond_max_entries() -> None:
    clock = Clock()
    store = InMemoryByteStore()
    cache = ResultCache(store, max_age=100.0, max_entries=2, prune_every=1000, clock=clock)
    cache.mark_submitted("vlmrun:expired", "ex-0", file_id=None)
    clock.now += 50.0
    for name in ("oldest", "middle", "newest"):
        cache.mark_submitted(f"vlmrun:{name}", "ex-1", file_id=None)
        clock.now += 10.0
    store.mset([("vlmrun:garbage", b"{"), ("other:keep", b"{")])
    clock.now += 30.0  # "expired" is now 110 s old, "oldest" 80 s
    assert cache.prune() == 3
    assert sorted(store.yield_keys()) == ["other:keep", "vlmrun:middle", "vlmrun:newest"]
    assert cache.prune() == 0


def test_writes_prune_every_prune_every_writes_only_with_max_entries() -> None:
    clock = Clock()
    store = InMemoryByteStore()
    cache = ResultCache(store, max_entries=1, prune_every=4, clock=clock)
    for n in range(3):
        cache.mark_submitted(f"vlmrun:{n}", "ex-1", file_id=None)
        clock.now += 1.0
    assert len(list(store.yield_keys())) == 3  # not pruned before the fourth write
    cache.mark_submitted("vlmrun:3", "ex-1", file_id=None)
    assert list(store.yield_keys()) == ["vlmrun:3"]
    unbounded = ResultCache(InMemoryByteStore(), prune_every=1, clock=clock)
    for n in range(3):
        unbounded.mark_submitted(f"vlmrun:{n}", "ex-1", file_id=None)
    assert len(list(unbounded.store.yield_keys())) == 3


def test_a_bounded_cache_stays_bounded_over_many_documents() -> None:
    # the client scopes the cache to its service for each document: the writes through
    # all those views count (one count per view never reached prune_every, so the
    # default cache of a load was never pruned)
    store = InMemoryByteStore()
    cache = ResultCache(store, max_entries=3, prune_every=4)
    api = api_for_one_document()
    client = api.client(request_id_factory=lambda: "req-1")
    for n in range(12):
        client.process(DATA + str(n).encode(), prompt="read", filename="doc.pdf", cache=cache)
    assert paid(api) == (12, 12)
    assert len(list(store.yield_keys())) == 3  # two writes a document: pruned at the 24th


def test_a_pickled_cache_keeps_counting_towards_its_next_prune() -> None:
    # a loader shipped to a Dask or Ray worker carries its cache (and its count) along
    cache = ResultCache(InMemoryByteStore(), max_entries=1, prune_every=3)
    cache.mark_submitted("vlmrun:a", "ex-1", file_id=None)
    cache.mark_submitted("vlmrun:b", "ex-1", file_id=None)
    shipped = pickle.loads(pickle.dumps(cache.scoped("https://api.example/v1")))
    shipped.mark_submitted("vlmrun:c", "ex-1", file_id=None)  # the third write: pruned
    assert len(list(shipped.store.yield_keys())) == 1


def test_writes_prune_every_hundred_writes_by_default() -> None:
    clock = Clock()
    store = InMemoryByteStore()
    cache = ResultCache(store, max_entries=10, clock=clock)
    for n in range(99):
        cache.mark_submitted(f"vlmrun:{n:03}", "ex-1", file_id=None)
        clock.now += 1.0
    assert len(list(store.yield_keys())) == 99
    cache.mark_submitted("vlmrun:099", "ex-1", file_id=None)
    assert sorted(store.yield_keys()) == [f"vlmrun:{n:03}" for n in range(90, 100)]


def test_resolve_cache_refuses_a_bare_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLMRUN_CACHE_DIR", str(tmp_path / "results"))
    assert resolve_cache(False) is None
    own = resolve_cache(None)  # the default: persistent, in the user cache folder, bounded
    assert isinstance(own, ResultCache) and isinstance(own.store, FileByteStore)
    assert own.store.root == tmp_path / "results"
    assert (own.max_age, own.max_entries) == (30 * 24 * 3600.0, 20_000)
    assert own.prune_every == 2_000  # a check reads every record: ten reads a write
    cache = ResultCache(InMemoryByteStore())
    assert resolve_cache(cache) is cache
    with pytest.raises(TypeError) as info:
        resolve_cache(InMemoryByteStore())  # type: ignore[arg-type]
    assert str(info.value) == (
        "cache must be a ResultCache, None (the default, persistent) or False (none), got "
        "InMemoryByteStore; wrap a LangChain store as ResultCache(store)."
    )


def test_an_execution_id_the_server_chose_is_recorded_and_resumed_with_its_file() -> None:
    store = InMemoryByteStore()
    api = api_for_one_document()
    api.routes[("POST", "/agent/execute")].clear()
    api.on("POST", "/agent/execute", execution("srv-7", "enqueued"))
    api.on(
        "GET",
        "/agent/executions/srv-7",
        execution("srv-7", "running"),
        execution("srv-7", "completed", response={"text": "hello"}),
    )

    def dying_sleep(seconds: float) -> None:
        raise Crash

    client = api.client(request_id_factory=lambda: "req-1")
    client._sleep = dying_sleep
    with pytest.raises(Crash):
        client.process(DATA, prompt="read", cache=ResultCache(store))
    (key,) = store.yield_keys()
    assert ResultCache(store).get(key) == CacheRecord("submitted", "srv-7", "file-1", None, ANY)

    result = api.client(request_id_factory=lambda: "req-2").process(
        DATA, prompt="read", cache=ResultCache(store)
    )
    assert result.resumed and result.execution.id == "srv-7" and result.file_id == "file-1"
    assert paid(api) == (1, 1)
    again = api.client(request_id_factory=lambda: "req-3").process(
        DATA, prompt="read", cache=ResultCache(store)
    )
    assert again.from_cache and again.file_id == "file-1" and paid(api) == (1, 1)


def test_a_record_that_cannot_be_resumed_is_forgotten_even_if_resubmitting_fails() -> None:
    store = InMemoryByteStore()
    cache = ResultCache(store)
    cache.scoped(BASE).mark_submitted(cache.scoped(BASE).key(CONTENT, _fields()), "old-1", None)
    api = api_for_one_document()
    api.on("GET", "/agent/executions/old-1", httpx.Response(404, json={"detail": "not found"}))
    api.routes[("POST", "/files")].clear()
    api.on("POST", "/files", httpx.Response(402, json={"detail": "Insufficient credits"}))
    with pytest.raises(PaymentRequiredError):
        api.client(request_id_factory=lambda: "req-1").process(DATA, prompt="read", cache=cache)
    assert list(store.yield_keys()) == []  # the dead record is gone, nothing new written


def test_processed_source_carries_the_file_details_or_the_url() -> None:
    api = api_for_one_document()
    client = api.client(request_id_factory=lambda: "req-1")
    local = client.process(DATA, prompt="read", filename="doc.pdf")
    assert (local.filename, local.mime_type, local.size, local.url, local.file_id) == (
        "doc.pdf",
        "application/pdf",
        len(DATA),
        None,
        "file-1",
    )
    assert local.content_hash == CONTENT and not local.from_cache and not local.resumed
    remote = client.process("https://example.com/a.pdf", prompt="read")
    assert (remote.filename, remote.mime_type, remote.size, remote.file_id) == (None,) * 4
    assert remote.url == "https://example.com/a.pdf"
    assert remote.content_hash == "url:https://example.com/a.pdf"


# --- process() with a cache, effect by effect (tests.support.VirtualService) --------


def _key(cache: ResultCache, source: bytes | str, request: ExecuteRequest) -> str:
    content = source if isinstance(source, str) else hashlib.sha256(source).hexdigest()
    prefix = "url:" if isinstance(source, str) else "sha256:"
    return cache.key(prefix + content, request.cache_fields("file"))


def test_an_execute_whose_outcome_is_unknown_stays_recorded_for_the_next_run() -> None:
    service, cache = VirtualService(), ResultCache(InMemoryByteStore())
    request = ExecuteRequest(prompt="read")
    route = service.route

    def execute_never_answers(call: Any) -> Any:
        if call.path == "/agent/execute":
            return httpx.Response(502)  # did it run? the lookups say not yet
        return route(call)

    service.driver.route = execute_never_answers
    with pytest.raises(InternalServerError):
        service.process(DATA, request, cache=cache)
    record = cache.get(_key(cache, DATA, request))
    assert record == CacheRecord("submitted", request.id, "file-1", None, ANY)


def test_a_refused_execute_without_a_cache_raises_its_error() -> None:
    service = VirtualService()
    route = service.route
    service.driver.route = lambda call: (
        httpx.Response(402, json={"detail": "Insufficient credits"})
        if call.path == "/agent/execute"
        else route(call)
    )
    with pytest.raises(PaymentRequiredError, match="Insufficient credits"):
        service.process(DATA, ExecuteRequest(prompt="read"))


def test_a_resumed_execution_is_checked_by_accept_before_it_is_cached() -> None:
    service, cache = VirtualService(), ResultCache(InMemoryByteStore())
    request = ExecuteRequest(prompt="read")
    key = _key(cache, DATA, request)
    service.created["old-1"] = service.driver.now  # submitted by a run that died
    cache.mark_submitted(key, "old-1", "file-0")
    checked: list[AgentExecution] = []
    result = service.process(DATA, request, cache=cache, accept=checked.append)
    assert result.resumed and checked == [result.execution]
    assert result.execution.id == "old-1" and result.file_id == "file-0"
    assert service.requests[("POST", "/agent/execute")] == 0


@pytest.mark.parametrize(
    ("source", "shown"),
    [(DATA, "doc.pdf"), ("https://example.com/a.pdf", "https://example.com/a.pdf")],
)
def test_a_record_that_cannot_be_resumed_is_named_in_a_warning(
    source: bytes | str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    service, cache = VirtualService(), ResultCache(InMemoryByteStore())
    request = ExecuteRequest(prompt="read")
    cache.mark_submitted(_key(cache, source, request), "gone-1", None)  # the server: 404
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        result = service.process(source, request, cache=cache, filename="doc.pdf")
    assert not result.resumed and result.execution.status == "completed"
    (message,) = caplog.messages
    assert message.startswith(
        f"recorded execution gone-1 for {shown} cannot be resumed (404 Not Found: "
        "Execution not found"
    )
    assert message.endswith(
        "The service does not know execution gone-1: if it was just submitted, try "
        "client.wait('gone-1') later; otherwise it has expired or belongs to another "
        "account.); submitting once more"
    )


# --- what a record may be, and what the cache says about one it will not use --------------


def test_a_record_of_exactly_max_value_bytes_is_read_one_more_is_not() -> None:
    from langchain_vlmrun.client.storage import MAX_VALUE

    store = InMemoryByteStore()
    cache = ResultCache(store)
    cache.mark_submitted("vlmrun:k", "ex-1", file_id=None)
    (body,) = store.mget(["vlmrun:k"])
    assert body is not None
    padded = body + b" " * (MAX_VALUE - len(body))  # still the same JSON
    store.mset([("vlmrun:k", padded)])
    assert cache.get("vlmrun:k") == CacheRecord("submitted", "ex-1", None, None, ANY)
    store.mset([("vlmrun:k", padded + b" ")])
    assert cache.get("vlmrun:k") is None


def test_records_it_will_not_use_are_named_in_a_warning_word_for_word(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryByteStore()
    signed = ResultCache(store, signing_key="cache secret 1234")
    plain = ResultCache(store)
    plain.mark_submitted("vlmrun:forged", "ex-1", file_id=None)  # not sealed
    store.mset([("vlmrun:garbage", b"{")])
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        assert signed.get("vlmrun:forged") is None
        assert plain.get("vlmrun:garbage") is None
    assert caplog.messages == [
        "cache: ignoring record vlmrun:forged: not signed with signing_key",
        "cache: ignoring record vlmrun:garbage: not a record this cache wrote",
    ]


def test_prune_keeps_the_signed_records_of_a_signed_cache(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryByteStore()
    cache = ResultCache(store, signing_key="cache secret 1234", max_entries=10)
    for n in range(3):
        cache.mark_submitted(f"vlmrun:k{n}", f"ex-{n}", file_id=None)
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        assert cache.prune() == 0  # each record is checked under its own key
    assert caplog.messages == []
    assert [cache.get(f"vlmrun:k{n}") is not None for n in range(3)] == [True] * 3


def test_prune_passes_over_a_record_removed_by_another_process_meanwhile() -> None:
    class Racing(InMemoryByteStore):
        """Lists a record another process deletes before it is read."""

        def yield_keys(self, *, prefix: str | None = None) -> Any:
            yield "vlmrun:" + "0" * 64
            yield from super().yield_keys(prefix=prefix)

    store = Racing()
    cache = ResultCache(store, max_entries=10)
    cache.mark_submitted("vlmrun:" + "1" * 64, "ex-1", file_id=None)
    assert cache.prune() == 1  # the vanished one (deleting it again is harmless)
    assert cache.get("vlmrun:" + "1" * 64) is not None
