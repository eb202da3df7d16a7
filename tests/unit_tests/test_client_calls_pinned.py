"""VLMRunClient and AsyncVLMRunClient pinned down from the mutation run of
``client/_client.py`` (issue 23), as a user calls them, in both clients alike.

Each argument of each call reaching its request (a ``json_schema`` as well as a
``response_model``, an async ``wait_timeout``, the default page of
``list_executions``); an agent found by its bare name not looked up again; transport
failures a user's own transport raises, word for word, with the request redacted; a
body arriving in many chunks read whole (a JSON answer, an artifact past the async
client's write buffer); copies; and an async pool closed when its event loop ends even
if the client never was.
"""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
import uuid
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecutionTimeoutError,
    InternalServerError,
    PollSchedule,
    RateLimitError,
    RequestBudget,
    ResponseRefusedError,
    ResultCache,
    UnreadableResponseError,
    VLMRunClient,
)
from langchain_vlmrun.client._client import ClientHooks
from langchain_vlmrun.client._leases import LocalLeases
from langchain_vlmrun.core.models import AgentExecution
from tests.mock_api import BASE, ScriptedAPI, execution, json_body
from tests.unit_tests.test_client_pinned import TOTAL_SCHEMA, Hub, Total, upload_api
from tests.unit_tests.test_server_boundary import (
    KEY,
    MODES,
    Stream,
    client_of,
    files_in,
    gzip_garbage,
    held_request,
    raises,
    url_artifact,
)

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}
PDF = b"%PDF-1.4 client calls\n"


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_BASE_URL", raising=False)


def call(client: VLMRunClient | AsyncVLMRunClient, method: str, *args: Any, **kwargs: Any) -> Any:
    """``client.method(*args, **kwargs)``, awaited for the async client."""
    result = getattr(client, method)(*args, **kwargs)
    return asyncio.run(result) if isinstance(client, AsyncVLMRunClient) else result


def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    return path


# --- every argument reaches its request, in both clients -----------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_json_schema_or_a_response_model_reaches_every_call_that_takes_one(
    tmp_path: Path, mode: str
) -> None:
    created = {"id": "agent-9", "name": "totals:v1", "status": "pending"}
    api = upload_api().on("POST", "/agent/create", httpx.Response(200, json=created))
    client = client_of(api, mode, check_agent_names=False)
    call(client, "execute", prompt="p", json_schema=SCHEMA)
    call(client, "process", pdf(tmp_path), prompt="p", response_model=Total)
    call(client, "process", pdf(tmp_path), prompt="p", json_schema=SCHEMA)
    call(client, "create_agent", "Count", json_schema=SCHEMA)
    call(client, "create_agent", "Total", response_model=Total)
    executed = [json_body(r) for r in api.requests if r.url.path.endswith("/agent/execute")]
    assert [body["config"]["json_schema"] for body in executed] == [
        SCHEMA,
        TOTAL_SCHEMA,
        SCHEMA,
    ]
    made = [json_body(r) for r in api.requests if r.url.path.endswith("/agent/create")]
    assert [body["config"] for body in made] == [
        {"prompt": "Count", "json_schema": SCHEMA},
        {"prompt": "Total", "json_schema": TOTAL_SCHEMA},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_the_wait_timeout_of_a_call_wins_over_the_clients(mode: str) -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))
    client = client_of(api, mode, wait_timeout=600.0)
    steady = PollSchedule(initial=5.0, multiplier=1.0, maximum=5.0)
    with pytest.raises(ExecutionTimeoutError) as caught:
        call(client, "wait", "ex-1", wait_timeout=12.0, poll=steady)
    assert caught.value.waited == pytest.approx(12.0, abs=5.0)
    assert sum(api.sleeps) <= 12.0


class SilentHub(Hub):
    """A delivery hub that never delivers: each wait lasts its timeout on ``api``'s clock."""

    def __init__(self, api: ScriptedAPI) -> None:
        super().__init__(None)
        self.api = api

    def wait(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        self.api.now += timeout or 0.0
        return super().wait(execution_id, timeout)


@pytest.mark.parametrize("mode", MODES)
def test_the_wait_timeout_of_a_call_wins_over_the_clients_with_a_hub_too(mode: str) -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))
    hub = SilentHub(api)
    client = client_of(api, mode, wait_timeout=600.0, hub=hub)
    with pytest.raises(ExecutionTimeoutError) as caught:
        call(client, "wait", "ex-1", wait_timeout=12.0)
    assert caught.value.waited == pytest.approx(12.0, abs=1.0)
    assert sum(timeout or 0.0 for _, timeout in hub.waits) <= 12.0


@pytest.mark.parametrize("mode", MODES)
def test_with_a_callback_url_but_no_hub_process_polls(tmp_path: Path, mode: str) -> None:
    api = upload_api().on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "running"),
        execution("ex-1", "completed"),
    )
    api.routes[("GET", "/agent/executions/ex-1")].popleft()  # upload_api's own answer
    client = client_of(api, mode)
    done = call(client, "process", pdf(tmp_path), prompt="p", callback_url="https://hooks.test/x")
    assert done.execution.status == "completed"
    assert api.calls("GET", "/agent/executions/ex-1") == 2  # polled, not awaited


@pytest.mark.parametrize("mode", MODES)
def test_list_executions_asks_for_the_first_ten_by_default(mode: str) -> None:
    api = ScriptedAPI().on("GET", "/agent/executions", httpx.Response(200, json=[]))
    assert call(client_of(api, mode), "list_executions") == []
    assert dict(api.requests[0].url.params) == {"skip": "0", "limit": "10"}


@pytest.mark.parametrize("mode", MODES)
def test_iter_executions_asks_for_pages_of_the_size_given(mode: str) -> None:
    page: list[dict[str, Any]] = [{"id": i, "status": "completed", "usage": {}} for i in "cba"]
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions",
        httpx.Response(200, json=page),
        httpx.Response(200, json=[]),
    )
    client = client_of(api, mode)
    if isinstance(client, VLMRunClient):
        assert [e.id for e in client.iter_executions(page_size=3)] == ["c", "b", "a"]
    else:
        aclient = client

        async def collect() -> list[str]:
            return [e.id async for e in aclient.iter_executions(page_size=3)]

        assert asyncio.run(collect()) == ["c", "b", "a"]
    assert [dict(r.url.params) for r in api.requests] == [
        {"skip": "0", "limit": "3"},
        {"skip": "3", "limit": "3"},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_an_agent_looked_up_by_its_bare_name_is_not_looked_up_again(
    tmp_path: Path, mode: str
) -> None:
    api = upload_api()
    client = client_of(api, mode)
    assert call(client, "lookup_agent", "receipts").name == "receipts:v1"
    assert call(client, "require_agent", "receipts").name == "receipts:v1"
    call(client, "process", pdf(tmp_path), agent_name="receipts")
    assert api.calls("POST", "/agent/lookup") == 1
    executed = json_body(api.first("POST", "/agent/execute"))
    assert executed["name"] == "receipts"


@pytest.mark.parametrize("mode", MODES)
def test_each_execution_gets_a_fresh_random_request_id_by_default(mode: str) -> None:
    api = upload_api()
    transport = httpx.MockTransport(api.handler)
    client: VLMRunClient | AsyncVLMRunClient
    if mode == "sync":
        client = VLMRunClient(KEY, base_url=BASE, http_client=httpx.Client(transport=transport))
    else:
        client = AsyncVLMRunClient(
            KEY, base_url=BASE, http_client=httpx.AsyncClient(transport=transport)
        )
    call(client, "execute", prompt="p")
    call(client, "execute", prompt="p")
    ids = [json_body(r)["id"] for r in api.requests if r.url.path.endswith("/agent/execute")]
    assert len(set(ids)) == 2
    assert all(uuid.UUID(sent).version == 4 for sent in ids)


@pytest.mark.parametrize("mode", MODES)
def test_a_document_is_leased_while_it_runs_and_released_after(tmp_path: Path, mode: str) -> None:
    during: list[str] = []

    def execute(request: httpx.Request) -> httpx.Response:
        during.append(repr(client.leases))
        return httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}})

    api = (
        ScriptedAPI()
        .on("POST", "/files", httpx.Response(201, json={"id": "file-1"}))
        .on("POST", "/agent/execute", execute)
        .on("GET", "/agent/executions/ex-1", execution("ex-1", "completed"))
    )
    client = client_of(api, mode)  # in-process leases by default
    assert isinstance(client.leases, LocalLeases)
    cache = ResultCache(InMemoryByteStore())
    assert call(client, "process", pdf(tmp_path), prompt="p", cache=cache).execution.id == "ex-1"
    assert during == ["LocalLeases(held=1)"]  # another worker would wait for it
    assert repr(client.leases) == "LocalLeases(held=0)"
    given = LocalLeases()
    assert client_of(api, mode, leases=given).leases is given


@pytest.mark.parametrize("mode", MODES)
def test_a_budget_spaces_requests_by_less_than_a_second_too(mode: str) -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))
    client = client_of(api, mode, requests_per_minute=120)
    for _ in range(3):
        call(client, "health")
    assert api.sleeps == pytest.approx([0.5, 0.5], rel=0.05)


@pytest.mark.parametrize("mode", MODES)
def test_a_storage_host_takes_no_slot_of_the_request_budget(tmp_path: Path, mode: str) -> None:
    api = url_artifact("https://cdn.example.com/out/a.png")
    api.on("GET", "/out/a.png", httpx.Response(200, content=b"PNG"))
    client = client_of(api, mode, requests_per_minute=1)
    call(client, "download_artifact", "ex-1", "url_abcdef", tmp_path)
    assert [r.url.host for r in api.requests] == ["api.test", "cdn.example.com"]
    assert api.sleeps == []  # the storage request did not wait a minute for a slot


@pytest.mark.parametrize("mode", MODES)
def test_only_answers_parsed_as_json_ask_for_json(tmp_path: Path, mode: str) -> None:
    api = url_artifact("https://cdn.example.com/out/a.png")
    api.on("GET", "/out/a.png", httpx.Response(200, content=b"PNG"))
    client = client_of(api, mode)
    call(client, "download_artifact", "ex-1", "url_abcdef", tmp_path)  # the URL, then it
    png = httpx.Response(200, headers={"Content-Type": "image/png"}, content=b"PNG")
    api.on("GET", "/artifacts", png)
    call(client, "download_artifact", "ex-1", "img_abcdef", tmp_path)  # streamed to disk
    accepts = [(r.url.host, r.headers["accept"]) for r in api.requests]
    assert accepts == [
        ("api.test", "application/json"),
        ("cdn.example.com", "*/*"),  # httpx's default: a file, not an answer
        ("api.test", "*/*"),
    ]
    assert "authorization" not in api.requests[1].headers  # no key to a storage host


@pytest.mark.parametrize("mode", MODES)
def test_a_retry_after_date_is_read_on_the_clients_clock(mode: str) -> None:
    api = ScriptedAPI()
    later = formatdate(api.now + 30, usegmt=True)
    api.on("GET", "/health", httpx.Response(429, headers={"Retry-After": later}))
    with pytest.raises(RateLimitError) as raised:
        call(client_of(api, mode), "health")
    assert raised.value.retry_after == 30.0


@pytest.mark.parametrize("mode", MODES)
def test_a_trickled_error_answer_is_read_no_longer_than_request_timeout(mode: str) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 1.0  # a byte a second

    body = Stream(chunk=b"x", count=1000, on_chunk=tick)
    api.on("GET", "/health", lambda r: httpx.Response(500, stream=body))
    with pytest.raises(InternalServerError):
        call(client_of(api, mode, request_timeout=2.0), "health")
    assert body.sent == 3  # about request_timeout's worth, not the 1000 s of it


# --- failures a transport raises ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_that_cannot_be_decoded_says_so_and_holds_the_request(mode: str) -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", gzip_garbage)
    with pytest.raises(UnreadableResponseError) as raised:
        call(client_of(api, mode), "get_execution", "ex-1")
    assert str(raised.value) == (
        f"The answer from {BASE}/agent/executions/ex-1 could not be decoded (DecodingError: "
        "Error -3 while decompressing data: incorrect header check). This is a "
        "service-side problem: try again later."
    )
    assert str(held_request(raised.value).url) == f"{BASE}/agent/executions/ex-1"


@pytest.mark.parametrize("mode", MODES)
def test_a_transport_that_gives_up_on_redirects_points_at_the_base_url(mode: str) -> None:
    gives_up = raises(httpx.TooManyRedirects, f"Exceeded redirects for Bearer {KEY}.")
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", gives_up)
    with pytest.raises(ResponseRefusedError) as raised:
        call(client_of(api, mode), "get_execution", "ex-1")
    assert str(raised.value) == (
        f"Too many redirects from {BASE}/agent/executions/ex-1: Exceeded redirects for "
        "Bearer [redacted]. Check VLMRUN_BASE_URL (base_url=...)."
    )
    assert str(held_request(raised.value).url) == f"{BASE}/agent/executions/ex-1"


# --- bodies in many chunks ------------------------------------------------------------------


def chunked(parts: list[bytes], mode: str) -> httpx.Response:
    """An answer whose body arrives as ``parts``, one network chunk each."""

    def sync_parts() -> Iterator[bytes]:
        yield from parts

    async def async_parts() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return httpx.Response(200, content=sync_parts() if mode == "sync" else async_parts())


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_in_many_chunks_is_read_whole(mode: str) -> None:
    body = json.dumps({"id": "ex-1", "status": "completed", "usage": {}}).encode()
    parts = [body[i : i + 7] for i in range(0, len(body), 7)]
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", lambda r: chunked(parts, mode))
    done = call(client_of(api, mode), "get_execution", "ex-1")
    assert (done.id, done.status) == ("ex-1", "completed")


@pytest.mark.parametrize("mode", MODES)
def test_a_large_artifact_is_saved_whole_and_in_order(tmp_path: Path, mode: str) -> None:
    # 3.5 MiB in 64 KiB chunks, each different: past the async client's 1 MiB write buffer
    parts = [bytes([n]) * 65536 for n in range(56)]
    api = ScriptedAPI().on(
        "GET",
        "/artifacts",
        lambda r: chunked(parts, mode),
    )
    saved = call(client_of(api, mode), "download_artifact", "ex-1", "img_abcdef", tmp_path)
    assert saved.path.read_bytes() == b"".join(parts)


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_artifact_behind_a_redirect_is_cut_at_max_download_bytes(
    tmp_path: Path, mode: str
) -> None:
    body = Stream(count=1000)  # 4 MB
    api = url_artifact("https://cdn.example.com/out/a.png")
    api.on(
        "GET", "/out/a.png", httpx.Response(302, headers={"Location": "https://s3.example.net/b"})
    )
    api.on("GET", "/b", lambda r: httpx.Response(200, stream=body))
    client = client_of(api, mode, max_download_bytes=100_000)
    with pytest.raises(ResponseRefusedError, match="more than 100,000 bytes arrived"):
        call(client, "download_artifact", "ex-1", "url_abcdef", tmp_path)
    assert body.sent == 100_000 // 4096 + 1  # streamed and cut, not read whole first
    assert files_in(tmp_path) == []


# --- copies and connections ------------------------------------------------------------------


@pytest.mark.parametrize("kind", [VLMRunClient, AsyncVLMRunClient])
def test_max_download_bytes_cannot_be_none(kind: Any) -> None:
    with pytest.raises(TypeError) as refused:
        kind(KEY, max_download_bytes=None)
    assert str(refused.value) == "max_download_bytes must be an integer > 0, got NoneType None."


@pytest.mark.parametrize("kind", [VLMRunClient, AsyncVLMRunClient])
def test_a_shallow_copy_is_a_new_client_with_the_same_settings(kind: Any) -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))
    budget = RequestBudget(600, clock=api.clock)
    client = client_of(api, "sync" if kind is VLMRunClient else "async", budget=budget)
    copied = copy.copy(client)
    assert type(copied) is kind and copied is not client
    assert (copied.api_key, copied.base_url) == (client.api_key, BASE)
    assert copied.budget is budget and copied.retry is client.retry
    assert copied._given_transport() is client._given_transport() is not None
    assert call(copied, "health") is True
    assert api.calls("GET", "/health") == 1


@pytest.mark.parametrize("kind", [VLMRunClient, AsyncVLMRunClient])
def test_a_client_given_its_own_http_client_refuses_to_pickle_and_says_why(kind: Any) -> None:
    client = client_of(ScriptedAPI(), "sync" if kind is VLMRunClient else "async")
    with pytest.raises(TypeError) as refused:
        pickle.dumps(client)
    assert str(refused.value) == (
        f"A {kind.__name__} given http_client= cannot be pickled (connections cannot travel "
        "to another process): make it without http_client, or make the client on the worker."
    )


def test_an_async_client_never_closed_has_its_pool_closed_as_its_loop_ends() -> None:
    client = AsyncVLMRunClient(KEY, _hooks=ClientHooks())
    pools: list[httpx.AsyncClient] = []

    async def use() -> None:
        pools.append(await client._pool())
        assert not pools[-1].is_closed

    asyncio.run(use())  # no aclose(): asyncio.run's shutdown closes it
    assert pools[0].is_closed


def test_an_async_client_used_again_after_aclose_still_closes_its_new_pool() -> None:
    client = AsyncVLMRunClient(KEY, _hooks=ClientHooks())
    pools: list[httpx.AsyncClient] = []

    async def use() -> None:
        pools.append(await client._pool())
        await client.aclose()
        pools.append(await client._pool())  # a new pool on the same loop

    asyncio.run(use())  # no second aclose(): the loop's shutdown closes the new pool
    assert pools[0] is not pools[1]
    assert pools[0].is_closed and pools[1].is_closed


@pytest.mark.parametrize("cls", [VLMRunClient, AsyncVLMRunClient])
def test_max_download_bytes_of_none_is_refused_not_unbounded(cls: Any) -> None:
    with pytest.raises(TypeError) as refused:
        cls("k", base_url=BASE, max_download_bytes=None)
    assert str(refused.value) == "max_download_bytes must be an integer > 0, got NoneType None."


def test_a_pool_opened_after_aclose_is_closed_with_its_event_loop() -> None:
    client = AsyncVLMRunClient("k", base_url=BASE)

    async def two_pools() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        first = await client._pool()
        await client.aclose()
        return first, await client._pool()  # used again on the same loop

    first, second = asyncio.run(two_pools())
    assert first is not second and first.is_closed and second.is_closed


def test_only_the_slashes_at_the_end_of_a_base_url_are_dropped() -> None:
    for cls in (VLMRunClient, AsyncVLMRunClient):
        assert cls("k", base_url="https://h.test/v1/X//").base_url == "https://h.test/v1/X"
