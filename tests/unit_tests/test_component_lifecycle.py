"""Components own their clients, travel to workers, and resume what they started.

As a user calls the package: ``close()``/``aclose()`` and ``with``/``async with`` close
the clients a component made (never one passed in); every component and client
survives ``pickle`` and ``copy.deepcopy`` and works afterwards (clients rebuilt on the
other side, the key carried inside the pickle); the tool, the toolkit's tools and the
extractor called again after a wait timeout resume the execution they started (one
execution in all), and the tool tells the model to call it again, not the client.
The emulator-backed checks (real sockets, ``ResourceWarning``, Dask) are in
``tests/integration_tests/test_distributed.py``.
"""

from __future__ import annotations

import asyncio
import copy
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecutionTimeoutError,
    PollSchedule,
    RequestBudget,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunExtractor,
    VLMRunLoader,
    VLMRunParser,
    VLMRunToolkit,
)
from tests.mock_api import ScriptedAPI, execution

KEY = "sk-test-SECRET-0123456789"
URL = "https://example.com/invoice.pdf"


class Invoice(BaseModel):
    total: float


# -- a scripted service behind the clients the components make themselves ---------------


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> ScriptedAPI:
    """Every client made without ``http_client`` (the components' own, the ones rebuilt
    from a pickle) talks to this scripted API: one execution, completed at once."""
    api = ScriptedAPI()
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "a.pdf"}))
    api.on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    api.on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "completed", response={"total": 12.5}, usage={"credits_used": 2}),
    )

    def handle(transport: Any, request: httpx.Request) -> httpx.Response:
        return api.handler(request)

    async def ahandle(transport: Any, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return api.handler(request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", ahandle)
    return api


SETTINGS: dict[str, Any] = {
    "api_key": KEY,
    "base_url": "https://api.test/v1",
    "client_kwargs": {"poll": PollSchedule.immediate()},
}


def extractor() -> VLMRunExtractor[Invoice]:
    return VLMRunExtractor(response_model=Invoice, **SETTINGS)


def tool() -> VLMRunAgentTool:
    return VLMRunAgentTool(prompt="Read it.", **SETTINGS)


def toolkit_tool() -> BaseTool:
    toolkit = VLMRunToolkit(agents=[], **SETTINGS)
    toolkit._listed = []  # no listing request: only the reader
    (reader,) = toolkit.get_tools()
    return reader


def tool_call(file: str = URL) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call-1", "name": "t", "args": {"file": file}}


# -- closing ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [extractor, tool, lambda: VLMRunToolkit(**SETTINGS)])
def test_close_closes_the_clients_the_component_made(make: Callable[[], Any]) -> None:
    component = make()
    own = component._sync_client()
    component.close()
    assert own._http.is_closed
    again = component._sync_client()  # used again: a new client
    assert again is not own and not again._http.is_closed
    with component as entered:
        assert entered is component
    assert again._http.is_closed


@pytest.mark.parametrize("make", [VLMRunExtractor, VLMRunAgentTool])
def test_a_client_passed_in_is_never_closed(make: Any) -> None:
    api = ScriptedAPI()
    given, agiven = api.client(), api.async_client()
    arguments = {"response_model": Invoice} if make is VLMRunExtractor else {}
    with make(client=given, async_client=agiven, **arguments) as component:
        assert component._sync_client() is given

    async def leave() -> None:
        async with component:
            pass

    asyncio.run(leave())
    assert not given._http.is_closed and not agiven._given_http.is_closed


async def test_aclose_and_async_with_close_the_async_connections(service: ScriptedAPI) -> None:
    async with extractor() as extract:
        assert (await extract.ainvoke(URL)).total == 12.5
        pool = extract._async_client()._http
        own = extract._sync_client()
    assert pool.is_closed and own._http.is_closed


def test_the_toolkit_closes_the_clients_its_tools_share() -> None:
    toolkit = VLMRunToolkit(agents=[], **SETTINGS)
    toolkit._listed = []
    (reader,) = toolkit.get_tools()
    shared = reader.client  # type: ignore[attr-defined]
    reader.close()  # type: ignore[attr-defined]
    assert not shared._http.is_closed  # the toolkit's, not the tool's
    toolkit.close()
    assert shared._http.is_closed


def test_parser_and_loader_close_and_enter(tmp_path: Path) -> None:
    with VLMRunParser(**SETTINGS) as parser:
        own = parser.client
    assert own._http.is_closed
    api = ScriptedAPI()
    given = api.client()
    with VLMRunParser(client=given) as parser:
        assert parser.client is given
    assert not given._http.is_closed
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    with VLMRunLoader(str(path), client=given) as loader:
        assert loader.client is given
    assert not given._http.is_closed  # a loader closes only the clients it made

    async def enter() -> None:
        async with VLMRunLoader(str(path), **SETTINGS), VLMRunParser(**SETTINGS):
            pass

    asyncio.run(enter())


def test_an_include_raw_extractors_tool_uses_the_extractors_own_clients(
    service: ScriptedAPI,
) -> None:
    extract = VLMRunExtractor(response_model=Invoice, include_raw=True, **SETTINGS)
    tool = extract.as_tool()  # answers with the fields alone, through the extractor's client
    call = {"type": "tool_call", "id": "c1", "name": tool.name, "args": {"file": URL}}
    assert tool.invoke(call).artifact == {"total": 12.5}
    own = extract._sync_client()
    assert own is extract._own_client and not own._http.is_closed
    extract.close()  # closes the one client the tool used, and the tool goes on
    assert own._http.is_closed
    assert tool.invoke({**call, "args": {"file": f"{URL}?again"}}).artifact == {"total": 12.5}
    assert extract._own_client is not None and extract._own_client is not own
    extract.close()


# -- pickles and copies ----------------------------------------------------------------


def round_trips(component: Any) -> Iterator[Any]:
    yield pickle.loads(pickle.dumps(component))
    yield copy.deepcopy(component)


@pytest.mark.parametrize(
    "make", [extractor, tool, toolkit_tool], ids=["extractor", "tool", "toolkit"]
)
def test_components_work_after_a_pickle_or_a_deep_copy(
    make: Callable[[], Any], service: ScriptedAPI
) -> None:
    component = make()
    component.invoke(URL if isinstance(component, VLMRunExtractor) else tool_call())
    for n, copied in enumerate(round_trips(component)):
        assert copied._own_client is None or copied._own_client is not component._own_client
        other = f"{URL}?copy={n}"  # not in the copied cache: a request from the copy
        result = copied.invoke(other if isinstance(copied, VLMRunExtractor) else tool_call(other))
        if isinstance(copied, VLMRunExtractor):
            assert result == Invoice(total=12.5)
        else:
            assert isinstance(result, ToolMessage) and result.status == "success"
        copied.close()
    assert not component._sync_client()._http.is_closed  # the original is untouched
    component.close()


async def test_async_components_work_after_a_pickle(service: ScriptedAPI) -> None:
    for make in (extractor, tool, toolkit_tool):
        component = make()
        await component.ainvoke(URL if isinstance(component, VLMRunExtractor) else tool_call())
        for n, copied in enumerate(round_trips(component)):
            other = f"{URL}?copy={n}"
            await copied.ainvoke(other if isinstance(copied, VLMRunExtractor) else tool_call(other))
            await copied.aclose()
        await component.aclose()
    assert service.calls("POST", "/agent/execute") == 9  # every copy asked the service


def test_loader_and_parser_work_after_a_pickle(service: ScriptedAPI, tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n% one\n")
    loader = VLMRunLoader(str(path), prompt="Read it.", cache=False, **SETTINGS)
    parser = VLMRunParser(prompt="Read it.", cache=False, **SETTINGS)
    parser.parse(Blob.from_path(path))  # the parser now holds its client
    for copied in round_trips(loader):
        assert [d.metadata["execution_id"] for d in copied.load()] == ["ex-1"]
    for copied_parser in round_trips(parser):
        assert copied_parser._client is None  # rebuilt when it parses
        assert copied_parser.parse(Blob.from_path(path))[0].metadata["execution_id"] == "ex-1"
        copied_parser.close()
    parser.close()


def test_a_given_client_travels_with_the_component_and_belongs_to_the_copy(
    service: ScriptedAPI,
) -> None:
    given = VLMRunClient(KEY, base_url="https://api.test/v1", poll=PollSchedule.immediate())
    component = VLMRunAgentTool(prompt="Read it.", client=given)
    shipped = pickle.loads(pickle.dumps(component))
    assert shipped.client is not given
    assert shipped.invoke(tool_call()).status == "success"
    shipped.close()  # made on arrival for this copy alone: closed with it
    assert shipped.client._http.is_closed and not given._http.is_closed
    shared = copy.deepcopy(component)  # in this process a copy shares the given client
    assert shared.client is given
    shared.close()
    assert not given._http.is_closed
    given.close()


@pytest.mark.parametrize("cls", [VLMRunClient, AsyncVLMRunClient])
def test_clients_pickle_as_their_settings(cls: Any) -> None:
    budget = RequestBudget(30)
    client = cls(KEY, base_url="https://api.test/v1", wait_timeout=42, budget=budget)
    for copied in round_trips(client):
        assert type(copied) is cls and copied is not client
        assert copied.api_key.get_secret_value() == KEY  # carried: workers lack the env var
        assert (copied.base_url, copied.wait_timeout) == ("https://api.test/v1", 42)
        assert isinstance(copied.budget, RequestBudget)
    assert copy.deepcopy(client).budget is budget  # a copy here shares the budget
    pickled = pickle.loads(pickle.dumps(client))
    assert pickled.budget is not budget and pickled.budget.requests_per_minute == 30


def test_a_client_with_its_own_http_client_refuses_to_pickle_and_copies_share_it() -> None:
    api = ScriptedAPI()
    client = api.client()
    with pytest.raises(TypeError, match="http_client"):
        pickle.dumps(client)
    copied = copy.deepcopy(client)
    assert copied._http is client._http
    copied.close()  # not the copy's to close
    assert not client._http.is_closed


def test_the_key_is_in_the_pickle_and_nowhere_else() -> None:
    extract = extractor()
    extract._sync_client()
    assert KEY.encode() in pickle.dumps(extract)  # documented: pickles carry the key
    dumped = extract.model_dump_json()  # does not raise
    assert '"response_model":"tests.unit_tests.test_component_lifecycle.Invoice"' in dumped
    for text in (dumped, repr(extract), str(extract), repr(tool()), tool().model_dump_json()):
        assert KEY not in text
    assert KEY not in repr(extract._sync_client()) and KEY not in repr(
        VLMRunLoader(URL, **SETTINGS)
    )


# -- after a wait timeout: resumed, not paid again -----------------------------------------


def slow_service() -> tuple[ScriptedAPI, Callable[[], None]]:
    """One execution that keeps running until ``finish()``."""
    state = {"done": False}
    api = ScriptedAPI()
    api.on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    api.on(
        "GET",
        "/agent/executions/ex-1",
        lambda r: execution(
            "ex-1", "completed" if state["done"] else "running", response={"total": 7.0}
        ),
    )
    api.on("GET", "/agent", httpx.Response(200, json=[]))

    def finish() -> None:
        state["done"] = True

    return api, finish


def tools_of(kind: str, api: ScriptedAPI) -> BaseTool:
    clients = {"client": api.client(), "async_client": api.async_client()}
    if kind == "tool":
        return VLMRunAgentTool(prompt="Read it.", wait_timeout=30, **clients)
    (reader,) = VLMRunToolkit(agents=[], wait_timeout=30, **clients).get_tools()
    return reader


@pytest.mark.parametrize("kind", ["tool", "toolkit"])
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_tool_called_again_after_a_wait_timeout_makes_one_execution(
    kind: str, use_async: bool
) -> None:
    api, finish = slow_service()
    component = tools_of(kind, api)

    def call() -> ToolMessage:
        if use_async:
            return asyncio.run(component.ainvoke(tool_call()))  # type: ignore[no-any-return]
        return component.invoke(tool_call())  # type: ignore[no-any-return]

    first = call()
    assert first.status == "error"
    assert "call this tool again later with the same file" in first.content
    assert "client" not in str(first.content)  # nothing the model cannot do
    assert api.now >= 1_000_030  # it waited its 30 s (virtual time)
    finish()
    second = call()
    assert second.status == "success" and '"total": 7.0' in second.content
    assert second.artifact.execution_id == "ex-1"
    assert api.calls("POST", "/agent/execute") == 1


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_extractor_resumes_after_a_wait_timeout(use_async: bool) -> None:
    api, finish = slow_service()
    extract = VLMRunExtractor(
        response_model=Invoice,
        wait_timeout=30,
        client=api.client(),
        async_client=api.async_client(),
    )

    def call() -> Invoice:
        if use_async:
            return asyncio.run(extract.ainvoke(URL))
        return extract.invoke(URL)

    with pytest.raises(ExecutionTimeoutError) as timed_out:
        call()
    assert timed_out.value.execution_id == "ex-1"
    finish()
    assert call() == Invoice(total=7.0)
    assert api.calls("POST", "/agent/execute") == 1


def test_a_different_file_or_instruction_is_a_new_execution() -> None:
    api, finish = slow_service()
    finish()
    component = VLMRunAgentTool(prompt="Read it.", client=api.client())
    component.invoke(tool_call())
    component.invoke(tool_call(URL + "?page=2"))
    component.invoke({**tool_call(), "args": {"file": URL, "instructions": "Only totals."}})
    assert api.calls("POST", "/agent/execute") == 3


def test_a_shared_cache_is_used_instead_of_the_own_one() -> None:
    from langchain_core.stores import InMemoryByteStore

    from langchain_vlmrun import ResultCache

    api, finish = slow_service()
    finish()
    cache = ResultCache(InMemoryByteStore())
    VLMRunAgentTool(prompt="Read it.", client=api.client(), cache=cache).invoke(tool_call())
    VLMRunAgentTool(prompt="Read it.", client=api.client(), cache=cache).invoke(tool_call())
    assert api.calls("POST", "/agent/execute") == 1


# -- the Redis pieces travel as their URL ----------------------------------------------


def test_redis_pieces_made_from_a_url_pickle_and_reconnect_there() -> None:
    redis = pytest.importorskip("redis")
    from langchain_vlmrun.scaleout import DedupeLeases, RedisByteStore, RedisRequestBudget

    url = "redis://localhost:1/3"  # nothing is sent: connections open on first use
    pieces = [
        RedisByteStore(url, ttl=60, prefix="p:"),
        RedisRequestBudget(100, redis=url, key="k"),
        DedupeLeases(url, ttl=30, keep_alive=False),
    ]
    for piece in pieces:
        for copied in round_trips(piece):
            assert type(copied) is type(piece) and repr(copied) == repr(piece)
            assert copied._redis is not piece._redis
            assert copied._redis.connection_pool.connection_kwargs["db"] == 3
    # every setting travels, not only those the repr shows
    budget = RedisRequestBudget(
        90, redis=url, key="b", window=30.0, headroom=0.1, slowdown=2.0, max_slowdown=5.0
    )
    store = RedisByteStore(url, ttl=12.5, prefix="q:")
    for copied_budget in round_trips(budget):
        assert isinstance(copied_budget, RedisRequestBudget)
        names = ("requests_per_minute", "limit", "window", "slowdown", "max_slowdown", "key")
        assert [getattr(copied_budget, n) for n in names] == [getattr(budget, n) for n in names]
    for copied_store in round_trips(store):
        assert isinstance(copied_store, RedisByteStore)
        assert (copied_store.ttl, copied_store.prefix) == (12.5, "q:")
    for keep_alive in (True, False):
        leases = DedupeLeases(url, ttl=9.0, prefix="l:", keep_alive=keep_alive, check_every=0.3)
        for copied_leases in round_trips(leases):
            assert isinstance(copied_leases, DedupeLeases)
            got = (copied_leases.ttl, copied_leases.prefix, copied_leases.check_every)
            assert got == (9.0, "l:", 0.3)
            assert (copied_leases._keeper is not None) is keep_alive
    for made_from_a_client in (
        RedisByteStore(redis.Redis.from_url(url)),
        RedisRequestBudget(100, redis=redis.Redis.from_url(url), key="k"),
    ):
        with pytest.raises(TypeError) as info:
            pickle.dumps(made_from_a_client)
        assert str(info.value) == (
            f"{type(made_from_a_client).__name__} was given a redis.Redis client, which "
            "cannot be pickled: give it a redis:// URL to ship it to workers (each copy "
            "then connects to that URL)."
        )
