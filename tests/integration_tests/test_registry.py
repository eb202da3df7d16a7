"""The agent registry in the client: lookup, listing (paged), get, create, execution
history, and the fail-fast agent-name check before any upload."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_vlmrun import (
    AgentNotFoundError,
    AsyncVLMRunClient,
    InternalServerError,
    LoaderError,
    NotFoundError,
    VLMRunClient,
    VLMRunLoader,
)
from langchain_vlmrun.client._registry import KnownAgents, closest_names
from langchain_vlmrun.client.artifacts import artifact_ids
from langchain_vlmrun.core.models import AgentInfo
from tests.emulator import Emulator
from tests.emulator.registry import PNG_1X1
from tests.mock_api import ScriptedAPI, agent_info, execution, json_body
from tests.support import emulator_client_settings, make_files

# test data: a fresh account has no agents, so every test names (or creates) its own
INVOICES = "test-invoices"
RECEIPTS = "test-receipts"
SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}


def agents_page(*names: str) -> httpx.Response:
    return httpx.Response(200, json=[agent_info(name) for name in names])


def paths(api: ScriptedAPI) -> list[str]:
    return [f"{r.method} {r.url.path.removeprefix('/v1')}" for r in api.requests]


# --- lookup, get, list, create ---------------------------------------------------------


def test_lookup_sends_exactly_one_key_and_remembers_the_agent() -> None:
    api = ScriptedAPI().on("POST", "/agent/lookup", httpx.Response(200, json=agent_info("a:v3")))
    client = api.client()
    assert client.lookup_agent("a").name == "a:v3"
    assert client.lookup_agent(agent_id="agent-a:v3").id == "agent-a:v3"
    assert client.lookup_agent(prompt="Read receipts").name == "a:v3"
    assert [json_body(r) for r in api.requests] == [
        {"name": "a"},
        {"id": "agent-a:v3"},
        {"prompt": "Read receipts"},
    ]
    # the bare name and the full name are now known: no lookup before a run
    assert client.known_agents.get("a") is not None
    assert client.known_agents.get("a:v3") is not None


@pytest.mark.parametrize(
    "arguments",
    [{}, {"name": "a", "prompt": "p"}, {"name": "a", "agent_id": "x"}, {"prompt": "  "}],
)
def test_lookup_refuses_anything_but_one_key_before_sending(arguments: dict[str, Any]) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match=r"exactly one of|non-empty"):
        api.client().lookup_agent(**arguments)
    assert api.requests == []


def test_get_agent_uses_the_plural_path_with_the_id_as_one_segment() -> None:
    api = ScriptedAPI().on("GET", "/agents/a/../b", httpx.Response(200, json=agent_info("a")))
    assert api.client().get_agent("a/../b").name == "a:v1"
    assert api.requests[0].url.raw_path == b"/v1/agents/a%2F..%2Fb"


def test_list_agents_walks_the_pages() -> None:
    api = ScriptedAPI().on(
        "GET", "/agent", agents_page("a", "b"), agents_page("c", "d"), agents_page("e")
    )
    agents = api.client().list_agents(page_size=2)
    assert [a.name for a in agents] == ["a:v1", "b:v1", "c:v1", "d:v1", "e:v1"]
    assert [dict(r.url.params) for r in api.requests] == [
        {"skip": "0", "limit": "2"},
        {"skip": "2", "limit": "2"},
        {"skip": "4", "limit": "2"},
    ]


@pytest.mark.parametrize(
    ("pages", "requests"),
    [
        ([agents_page("a", "b", "c")], 1),  # limit ignored: everything at once
        ([agents_page("a", "b"), agents_page("a", "b")], 2),  # skip ignored: stops
    ],
    ids=["limit-ignored", "skip-ignored"],
)
def test_list_agents_cannot_loop_on_a_server_that_does_not_page(
    pages: list[httpx.Response], requests: int
) -> None:
    api = ScriptedAPI().on("GET", "/agent", *pages)
    agents = api.client().list_agents(page_size=2)
    assert sorted(a.name for a in agents) == sorted({a["name"] for p in pages for a in p.json()})
    assert len(api.requests) == requests


def test_create_agent_body_follows_the_sdk_and_is_not_resent_after_a_500() -> None:
    created = {"id": "ag-1", "name": f"{INVOICES}:v1", "status": "pending"}
    api = ScriptedAPI().on("POST", "/agent/create", httpx.Response(201, json=created))
    answer = api.client().create_agent("Extract the total.", name=INVOICES, json_schema=SCHEMA)
    assert answer.name == f"{INVOICES}:v1" and answer.status == "pending"
    assert json_body(api.requests[0]) == {
        "name": INVOICES,
        "inputs": None,
        "config": {"prompt": "Extract the total.", "json_schema": SCHEMA},
    }
    failing = ScriptedAPI().on("POST", "/agent/create", httpx.Response(500, json={"detail": "x"}))
    with pytest.raises(InternalServerError):
        failing.client().create_agent("Extract the total.", name=INVOICES)
    assert len(failing.requests) == 1  # creating twice would make a second version


def test_registry_against_the_emulator(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(known_agents=())  # only created agents exist
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        first = client.create_agent("Extract the total.", name=INVOICES, json_schema=SCHEMA)
        second = client.create_agent("Extract the total and date.", name=INVOICES)
        assert (first.name, second.name) == (f"{INVOICES}:v1", f"{INVOICES}:v2")
        assert client.lookup_agent(INVOICES).id == second.id  # bare name: latest
        assert client.get_agent(first.id).json_schema == SCHEMA
        assert [a.id for a in client.list_agents(page_size=1)] == [second.id, first.id]
        with pytest.raises(NotFoundError):
            client.lookup_agent(RECEIPTS)


# --- execution history -----------------------------------------------------------------


def test_list_executions_pages_newest_first(emulator: Emulator) -> None:
    settings = emulator_client_settings(emulator)
    with VLMRunClient("k", **settings) as client:
        started = [client.execute(prompt=f"Say {i}").id for i in range(5)]
        newest_first = started[::-1]
        assert [e.id for e in client.list_executions(limit=2)] == newest_first[:2]
        assert [e.id for e in client.list_executions(skip=2, limit=2)] == newest_first[2:4]
        before = emulator.counters.requests_by_route.get("GET /agent/executions", 0)
        assert [e.id for e in client.iter_executions(page_size=2)] == newest_first
        after = emulator.counters.requests_by_route["GET /agent/executions"]
        assert after - before == 3  # 2 + 2 + 1: a short page ends it
        with pytest.raises(ValueError, match="at most 1000"):
            client.list_executions(limit=1001)


def test_async_list_executions_pages(emulator: Emulator) -> None:
    async def main() -> list[str]:
        async with AsyncVLMRunClient("k", **emulator_client_settings(emulator)) as client:
            for i in range(3):
                await client.execute(prompt=f"Say {i}")
            first = await client.list_executions(limit=2)
            every = [e.id async for e in client.iter_executions(page_size=2)]
            assert every[:2] == [e.id for e in first]
            return every

    assert len(asyncio.run(main())) == 3


# --- fail fast on agent names ----------------------------------------------------------


def unknown_agent_api() -> ScriptedAPI:
    return (
        ScriptedAPI()
        .on("POST", "/agent/lookup", httpx.Response(404, json={"detail": "Agent not found"}))
        .on("GET", "/agent", agents_page(f"{INVOICES}:v1", f"{INVOICES}:v2", RECEIPTS))
    )


def test_unknown_agent_name_fails_before_any_upload_with_the_closest_names(
    tmp_path: Path,
) -> None:
    api = unknown_agent_api()
    (path,) = make_files(tmp_path, 1)
    with pytest.raises(AgentNotFoundError) as caught:
        api.client().run(path, agent_name="test-invoice:v1")
    assert caught.value.status_code == 404
    assert caught.value.name == "test-invoice:v1"
    assert caught.value.suggestions == [f"{INVOICES}:v1", f"{INVOICES}:v2"]
    assert f"Closest names: '{INVOICES}:v1', '{INVOICES}:v2'" in caught.value.message
    assert paths(api) == ["POST /agent/lookup", "GET /agent"]  # nothing uploaded or run


def test_unknown_agent_name_in_async_run(tmp_path: Path) -> None:
    api = unknown_agent_api()
    (path,) = make_files(tmp_path, 1)
    with pytest.raises(AgentNotFoundError) as caught:
        asyncio.run(api.async_client().run(path, agent_name=f"{RECEIPTS}:v9"))
    assert caught.value.suggestions == [f"{RECEIPTS}:v1"]  # other versions first
    assert paths(api) == ["POST /agent/lookup", "GET /agent"]


def test_a_name_is_looked_up_once_per_client() -> None:
    api = (
        ScriptedAPI()
        .on("POST", "/agent/execute", execution("ex-1", "enqueued"))
        .on("GET", "/agent/executions/ex-1", execution("ex-1", "completed", response={"a": 1}))
    )
    client = api.client()
    for _ in range(3):
        client.run("https://example.com/a.pdf", agent_name=f"{INVOICES}:v1")
    assert api.calls("POST", "/agent/lookup") == 1
    api.client().run("https://example.com/a.pdf", agent_name=f"{INVOICES}:v1")
    assert api.calls("POST", "/agent/lookup") == 2  # another client looks it up again


def test_check_agent_names_false_sends_no_lookup() -> None:
    api = (
        ScriptedAPI()
        .on("POST", "/agent/execute", execution("ex-1", "enqueued"))
        .on("GET", "/agent/executions/ex-1", execution("ex-1", "completed", response={"a": 1}))
    )
    api.client(check_agent_names=False).run("https://example.com/a.pdf", agent_name="x:v1")
    assert api.calls("POST", "/agent/lookup") == 0


def test_a_prompt_run_sends_no_lookup() -> None:
    api = (
        ScriptedAPI()
        .on("POST", "/agent/execute", execution("ex-1", "enqueued"))
        .on("GET", "/agent/executions/ex-1", execution("ex-1", "completed", response={"a": 1}))
    )
    api.client().run("https://example.com/a.pdf", prompt="Read it")
    assert api.calls("POST", "/agent/lookup") == 0


class CountingKnownAgents(KnownAgents):
    """Counts the callers that missed the cache and asked for a name's lock."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.changed = threading.Condition()

    def lock_for(self, name: str) -> threading.Lock:
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
        return super().lock_for(name)


def test_concurrent_first_uses_of_a_name_send_one_lookup() -> None:
    """Four threads miss the cache at once; the lookup answers only after all four have
    asked for the name's lock: without single-flight, each would send its own."""
    release = threading.Event()

    def slow_lookup(request: httpx.Request) -> httpx.Response:
        assert release.wait(10)
        return httpx.Response(200, json=agent_info(f"{INVOICES}:v1"))

    api = ScriptedAPI().on("POST", "/agent/lookup", slow_lookup)
    client = api.client()
    known = client.known_agents = CountingKnownAgents()
    found: list[AgentInfo] = []
    threads = [
        threading.Thread(target=lambda: found.append(client.require_agent(f"{INVOICES}:v1")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    with known.changed:
        assert known.changed.wait_for(lambda: known.waiting == 4, timeout=10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert [a.name for a in found] == [f"{INVOICES}:v1"] * 4
    assert api.calls("POST", "/agent/lookup") == 1


def test_concurrent_async_first_uses_send_one_lookup() -> None:
    async def main() -> int:
        gate = asyncio.Event()
        arrived = 0
        all_arrived = asyncio.Event()

        async def slow_lookup(request: httpx.Request) -> httpx.Response:
            await gate.wait()
            return httpx.Response(200, json=agent_info(f"{INVOICES}:v1"))

        api = ScriptedAPI().on("POST", "/agent/lookup", slow_lookup)
        client = api.async_client()
        real_lock = client._agent_lock

        def counted(name: str) -> asyncio.Lock:
            nonlocal arrived
            arrived += 1
            if arrived == 4:
                all_arrived.set()
            return real_lock(name)

        client._agent_lock = counted  # type: ignore[method-assign]
        tasks = [asyncio.create_task(client.require_agent(f"{INVOICES}:v1")) for _ in range(4)]
        await all_arrived.wait()
        gate.set()
        await asyncio.gather(*tasks)
        return api.calls("POST", "/agent/lookup")

    assert asyncio.run(main()) == 1


def test_loader_with_an_unknown_agent_uploads_nothing(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(known_agents=())
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        client.create_agent("Read receipts.", name=RECEIPTS)
        loader = VLMRunLoader(
            make_files(tmp_path, 3), agent_name=f"{RECEIPTS[:-1]}:v1", client=client
        )
        with pytest.raises(LoaderError) as caught:
            loader.load()
    cause = caught.value.__cause__
    assert isinstance(cause, AgentNotFoundError)
    assert cause.suggestions == [f"{RECEIPTS}:v1"]
    assert emu.counters.uploads == 0 and emu.counters.executions_created == 0


def test_a_missing_name_is_remembered_briefly_and_forgotten_once_created(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(known_agents=())
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        loader = VLMRunLoader(
            make_files(tmp_path, 6),
            agent_name=f"{RECEIPTS}:v1",
            client=client,
            max_concurrency=3,
            on_error="skip",
            mode="single",
        )
        assert loader.load() == []
        assert {type(f.error) for f in loader.failures} == {AgentNotFoundError}
        assert len(loader.failures) == 6
        # one lookup and one listing for the six files, and nothing paid
        assert emu.counters.requests_by_route["POST /agent/lookup"] == 1
        assert emu.counters.requests_by_route["GET /agent"] == 1
        assert emu.counters.uploads == 0
        client.create_agent("Read receipts.", name=RECEIPTS)
        assert len(loader.load()) == 6 and loader.failures == []


def test_a_missing_name_is_looked_up_again_after_a_while() -> None:
    now = [0.0]
    known = KnownAgents(clock=lambda: now[0])
    api = unknown_agent_api()
    client = api.client()
    client.known_agents = known
    for _ in range(2):
        with pytest.raises(AgentNotFoundError):
            client.require_agent("test-invoice")
    assert api.calls("POST", "/agent/lookup") == 1
    now[0] += 31
    with pytest.raises(AgentNotFoundError):
        client.require_agent("test-invoice")
    assert api.calls("POST", "/agent/lookup") == 2


def test_loader_checks_a_known_name_once_for_many_files(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(known_agents=())
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        created = client.create_agent("Read receipts.", name=RECEIPTS)
        loader = VLMRunLoader(
            make_files(tmp_path, 6), agent_name=created.name, client=client, max_concurrency=3
        )
        assert {d.metadata["agent"] for d in loader.load()} == {created.name}
    assert emu.counters.requests_by_route["POST /agent/lookup"] == 1
    assert emu.counters.executions_created == 6


def test_closest_names_ranks_other_versions_then_similar_names() -> None:
    names = [f"{INVOICES}:v1", f"{INVOICES}:v2", RECEIPTS, "unrelated:v1"]
    assert closest_names(f"{INVOICES}:v7", names) == [f"{INVOICES}:v1", f"{INVOICES}:v2"]
    assert closest_names("Test-Reciepts", names) == [RECEIPTS]
    assert closest_names("zzz", names) == []


def test_registry_and_artifacts_ride_out_emulated_faults(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Every registry route fails often (5xx, 429, dropped connections, bodies cut short
    or truncated JSON): each call still ends with the right answer."""
    emu = emulator_factory(known_agents=(), artifact_kinds=("img", "vid"))
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        client.create_agent("Read receipts.", name=RECEIPTS)
        done = client.run("https://example.com/r.png", agent_name=f"{RECEIPTS}:v1")
        client.known_agents = KnownAgents()  # look it up again, under faults
        emu.config.seed = 11
        emu.config.fault_rate = 0.5
        emu.config.fault_kinds = ("500", "503", "429", "drop", "short_body", "truncated_json")
        emu.config.fault_paths = r"^/v1/(agent$|agent/lookup|agents/|artifacts|agent/executions$)"
        assert client.require_agent(RECEIPTS).name == f"{RECEIPTS}:v1"
        assert [a.name for a in client.list_agents(page_size=1)] == [f"{RECEIPTS}:v1"]
        assert [e.id for e in client.iter_executions(page_size=1)] == [done.id]
        image, video = (
            client.download_artifact(done.id, object_id, tmp_path)
            for object_id in artifact_ids(done.response)
        )
    assert image.path.read_bytes() == PNG_1X1 and image.mime_type == "image/png"
    assert video.path.read_bytes().startswith(b"emulated vid artifact")
    assert sum(emu.counters.faults_injected.values()) > 0
    assert sorted(p.name for p in (tmp_path / done.id).iterdir()) == sorted(
        [image.path.name, video.path.name]
    )  # no partial file left behind
