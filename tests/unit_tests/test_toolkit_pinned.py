"""VLMRunToolkit, pinned: which agents become tools (latest versions, filters, lookups),
their names, what every tool shares (clients, folders, options), and the listing cache.
Against a scripted API (tests/mock_api.py): no server, no network."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import AgentNotFoundError, ResultCache, VLMRunAgentTool, VLMRunClient
from langchain_vlmrun.core.models import AgentInfo
from langchain_vlmrun.tools import agent_tool
from langchain_vlmrun.tools.toolkit import VLMRunToolkit
from tests.mock_api import ScriptedAPI, agent_info

DAY1 = "2026-01-01T00:00:00Z"
DAY2 = "2026-01-02T00:00:00Z"


def workspace(*agents: dict[str, Any]) -> ScriptedAPI:
    """A scripted API whose ``GET /agent`` lists ``agents``."""
    return ScriptedAPI().on("GET", "/agent", httpx.Response(200, json=list(agents)))


def toolkit(api: ScriptedAPI, **kwargs: Any) -> VLMRunToolkit:
    return VLMRunToolkit(client=api.client(), async_client=api.async_client(), **kwargs)


def agents_of(tools: list[Any]) -> list[tuple[str, str | None]]:
    return [(tool.name, tool.agent_name) for tool in tools]


def digest(agent_id: str, size: int = 6) -> str:
    return hashlib.sha256(agent_id.encode()).hexdigest()[:size]


# --- the latest version of each agent ----------------------------------------------------


LATEST = [
    pytest.param(  # created later wins over a higher number
        [agent_info("x:v9", created_at=DAY2), agent_info("x:v10", created_at=DAY1)],
        "x:v9",
        id="newest-creation",
    ),
    pytest.param(  # same time: the number, as a number (10 > 9)
        [agent_info("x:v9", created_at=DAY1), agent_info("x:v10", created_at=DAY1)],
        "x:v10",
        id="highest-number",
    ),
    pytest.param(
        [agent_info("x:v10", created_at=DAY1), agent_info("x:v9", created_at=DAY1)],
        "x:v10",
        id="highest-number-listed-first",
    ),
    pytest.param(  # a version without a creation time is older than any dated one
        [agent_info("x:v2", created_at=None), agent_info("x:v1", created_at=DAY1)],
        "x:v1",
        id="undated-is-oldest",
    ),
    pytest.param(
        [agent_info("x:v1", created_at=DAY1), agent_info("x:v2", created_at=None)],
        "x:v1",
        id="undated-is-oldest-listed-last",
    ),
    pytest.param(
        [agent_info("x:v1", created_at=None), agent_info("x:v2", created_at=None)],
        "x:v2",
        id="all-undated",
    ),
    pytest.param(  # a version without digits is older than v0
        [agent_info("x:beta", created_at=DAY1), agent_info("x:v0", created_at=DAY1)],
        "x:v0",
        id="no-digits-below-v0",
    ),
    pytest.param(
        [agent_info("x:v0", created_at=DAY1), agent_info("x:beta", created_at=DAY1)],
        "x:v0",
        id="no-digits-below-v0-listed-last",
    ),
    pytest.param(  # a full tie: the first listed
        [agent_info("x:alpha", created_at=DAY1), agent_info("x:beta", created_at=DAY1)],
        "x:alpha",
        id="tie-first-listed",
    ),
    pytest.param(
        [agent_info("x:beta", created_at=DAY1), agent_info("x:alpha", created_at=DAY1)],
        "x:beta",
        id="tie-first-listed-reversed",
    ),
]


@pytest.mark.parametrize(("listed", "latest"), LATEST)
def test_each_agent_is_offered_once_at_its_latest_version_under_its_bare_name(
    listed: list[dict[str, Any]], latest: str
) -> None:
    api = workspace(*listed, agent_info("other:v3"))
    tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_other", "other:v3"), ("vlmrun_x", latest)]
    assert api.calls("POST", "/agent/lookup") == 0  # the listing vouches for them


def test_an_agent_without_version_is_its_own_latest() -> None:
    api = workspace({**agent_info("plain"), "name": "plain"})
    tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_plain", "plain")]


def test_all_versions_offers_every_version_under_its_full_name() -> None:
    api = workspace(agent_info("x:v1"), agent_info("x:v2"), agent_info("y:v1"))
    tools = toolkit(api, all_versions=True, include_reader=False).get_tools()
    assert agents_of(tools) == [
        ("vlmrun_x_v1", "x:v1"),
        ("vlmrun_x_v2", "x:v2"),
        ("vlmrun_y_v1", "y:v1"),
    ]


# --- choosing agents by name or predicate -------------------------------------------------


def test_named_agents_are_the_latest_or_the_exact_version_asked_for() -> None:
    api = workspace(
        agent_info("x:v1", created_at=DAY1), agent_info("x:v2", created_at=DAY2), agent_info("y:v1")
    )
    tools = toolkit(api, agents=["y:v1", "x"], include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_x", "x:v2"), ("vlmrun_y", "y:v1")]
    old = toolkit(api, agents=["x:v1"], include_reader=False).get_tools()
    assert agents_of(old) == [("vlmrun_x", "x:v1")]
    assert api.calls("POST", "/agent/lookup") == 0


def test_a_name_the_listing_lacks_is_looked_up() -> None:
    api = workspace(agent_info("x:v1"))
    tools = toolkit(api, agents=["x", "hidden"], include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_hidden", "hidden:v1"), ("vlmrun_x", "x:v1")]
    assert api.calls("POST", "/agent/lookup") == 1
    assert api.calls("GET", "/agent") == 1


def test_a_version_the_listing_lacks_is_looked_up_not_replaced_by_another() -> None:
    api = workspace(agent_info("x:v1"))
    tools = toolkit(api, agents=["x:v7"], include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_x", "x:v7")]
    assert api.calls("POST", "/agent/lookup") == 1


def test_an_unknown_name_raises_with_the_closest_names() -> None:
    api = workspace(agent_info("receipts:v1"), agent_info("invoices:v1"))
    api.on("POST", "/agent/lookup", httpx.Response(404, json={"detail": "Agent not found"}))
    with pytest.raises(AgentNotFoundError) as caught:
        toolkit(api, agents=["reciepts"]).get_tools()
    assert caught.value.suggestions == ["receipts:v1"]


def test_the_same_agent_named_twice_is_one_tool() -> None:
    api = workspace(agent_info("x:v1", created_at=DAY1), agent_info("x:v2", created_at=DAY2))
    tools = toolkit(api, agents=["x", "x:v2"], include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_x", "x:v2")]


def test_two_versions_chosen_together_keep_their_versions_in_their_names() -> None:
    api = workspace(agent_info("x:v1"), agent_info("x:v2"), agent_info("y:v1"))
    tools = toolkit(api, agents=["x:v2", "x:v1", "y"], include_reader=False).get_tools()
    assert agents_of(tools) == [
        ("vlmrun_x_v1", "x:v1"),
        ("vlmrun_x_v2", "x:v2"),
        ("vlmrun_y", "y:v1"),
    ]


def test_a_predicate_keeps_only_the_agents_it_accepts() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    api = workspace(agent_info("x:v1", json_schema=schema), agent_info("y:v1"))
    seen: list[str] = []

    def with_schema(agent: Any) -> bool:
        seen.append(agent.name)
        return agent.json_schema is not None

    tools = toolkit(api, predicate=with_schema, include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_x", "x:v1")]
    assert sorted(seen) == ["x:v1", "y:v1"]
    named = toolkit(api, agents=["y"], predicate=with_schema).get_tools()
    assert agents_of(named) == [("vlmrun_read_file", None)]  # the reader is not filtered


# --- tool names -----------------------------------------------------------------------------


def test_names_that_clean_up_alike_get_a_suffix_from_the_agent_id() -> None:
    api = workspace(agent_info("a.b:v1"), agent_info("a_b:v1"), agent_info("c:v1"))
    tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == sorted(
        [
            (f"vlmrun_a_b_{digest('agent-a.b:v1')}", "a.b:v1"),
            (f"vlmrun_a_b_{digest('agent-a_b:v1')}", "a_b:v1"),
            ("vlmrun_c", "c:v1"),
        ]
    )


def test_a_suffixed_name_still_fits_in_64_characters() -> None:
    first, second = "a" * 30 + "." + "b" * 26, "a" * 30 + "_" + "b" * 26
    api = workspace(agent_info(f"{first}:v1"), agent_info(f"{second}:v1"))
    names = [tool.name for tool in toolkit(api, include_reader=False).get_tools()]
    cleaned = "vlmrun_" + "a" * 30 + "_" + "b" * 26  # 64 characters: no digest of its own
    assert sorted(names) == sorted(
        f"{cleaned[:57]}_{digest(f'agent-{name}:v1')}" for name in (first, second)
    )
    assert all(len(name) == 64 for name in names)


def test_an_agent_named_like_the_reader_gives_way_to_it() -> None:
    api = workspace(agent_info("read_file:v1"))
    tools = toolkit(api).get_tools()
    suffixed = f"vlmrun_read_file_{digest('agent-read_file:v1')}"
    assert agents_of(tools) == [(suffixed, "read_file:v1"), ("vlmrun_read_file", None)]
    alone = toolkit(api, include_reader=False).get_tools()
    assert agents_of(alone) == [("vlmrun_read_file", "read_file:v1")]


def test_tools_are_sorted_by_name_and_the_reader_comes_last() -> None:
    api = workspace(agent_info("zeta:v1"), agent_info("beta:v1"), agent_info("alpha:v1"))
    tools = toolkit(api).get_tools()
    assert [tool.name for tool in tools] == [
        "vlmrun_alpha",
        "vlmrun_beta",
        "vlmrun_zeta",
        "vlmrun_read_file",
    ]
    assert all(isinstance(tool, VLMRunAgentTool) for tool in tools)
    assert [tool.agent.name for tool in tools[:3]] == ["alpha:v1", "beta:v1", "zeta:v1"]  # type: ignore[attr-defined]


def test_a_suffix_another_agent_has_is_passed_over_for_a_longer_one_then_a_count() -> None:
    wanted = "invoice_reader_for_the_accounts_payable_team"  # a 51-character tool name
    d = digest("agent-1", 24)
    taken = [f"{wanted}_{d[:6]}", f"{wanted}_{d[:12]}", f"{wanted[:32]}_{d}"]  # 58, 64, 64
    api = workspace(
        {**agent_info("invoice.reader.for.the.accounts.payable.team:v1"), "id": "agent-1"},
        {**agent_info(f"{wanted}:v1"), "id": "agent-2"},
        *(agent_info(f"{name}:v1") for name in taken),
    )
    tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == sorted(
        [
            (f"vlmrun_{wanted[:43]}_{d[:6]}_2", "invoice.reader.for.the.accounts.payable.team:v1"),
            (f"vlmrun_{wanted}_{digest('agent-2')}", f"{wanted}:v1"),
            *((f"vlmrun_{name}", f"{name}:v1") for name in taken),
        ]
    )


def test_an_agent_named_like_the_reader_is_offered_even_when_its_suffixes_are_taken() -> None:
    d = digest("agent-read_file:v1", 24)
    taken = [f"read_file_{d[:6]}", f"read_file_{d[:12]}", f"read_file_{d}", f"read_file_{d[:6]}_2"]
    api = workspace(agent_info("read_file:v1"), *(agent_info(f"{name}:v1") for name in taken))
    tools = toolkit(api).get_tools()
    assert agents_of(tools) == [
        *sorted(
            [
                (f"vlmrun_read_file_{d[:6]}_3", "read_file:v1"),
                *((f"vlmrun_{name}", f"{name}:v1") for name in taken),
            ]
        ),
        ("vlmrun_read_file", None),
    ]


@pytest.mark.parametrize("reverse", [False, True], ids=["listed", "reversed"])
def test_ids_with_the_same_short_digest_still_give_distinct_names_whatever_the_order(
    reverse: bool,
) -> None:
    # sha256 of both ids starts with 2a2259: the first by id takes the short suffix
    assert digest("agent-234") == digest("agent-4227") == "2a2259"
    listed = [
        {**agent_info("a.b:v1"), "id": "agent-4227"},
        {**agent_info("a_b:v1"), "id": "agent-234"},
    ]
    api = workspace(*(reversed(listed) if reverse else listed))
    tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == [
        ("vlmrun_a_b_2a2259", "a_b:v1"),
        (f"vlmrun_a_b_{digest('agent-4227', 12)}", "a.b:v1"),
    ]
    assert digest("agent-4227", 12) != digest("agent-234", 12)


def test_an_id_with_a_lone_surrogate_still_gives_a_suffix() -> None:
    listed = [{**agent_info("a.b:v1"), "id": "agent-\ud800"}, agent_info("a_b:v1")]
    body = json.dumps(listed).encode()  # the surrogate escaped, as a server may send it
    api = ScriptedAPI().on("GET", "/agent", httpx.Response(200, content=body))
    tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == [
        (f"vlmrun_a_b_{digest('agent-a_b:v1')}", "a_b:v1"),
        ("vlmrun_a_b_750d6f", "a.b:v1"),  # sha256 of its UTF-8 bytes, the surrogate's kept
    ]


# --- agents left out, with a warning that names them -----------------------------------------


def test_an_agent_whose_name_is_invalid_is_left_out_with_one_warning_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {**agent_info("x"), "name": "bad\nname " + "n" * 100, "id": "bad-id\n" + "i" * 100}
    api = workspace(bad, agent_info("fine:v1"))
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        tools = toolkit(api, include_reader=False).get_tools()
    assert agents_of(tools) == [("vlmrun_fine", "fine:v1")]
    name, agent_id = "bad name " + "n" * 68 + "...", "bad-id " + "i" * 70 + "..."  # 80 each
    assert caplog.messages == [
        f"VLMRunToolkit: left out the agent {name!r} (id {agent_id!r}): "
        "its name is not a valid agent name."
    ]


def test_an_agent_that_cannot_be_made_a_tool_is_left_out_with_the_reason_on_one_line(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    describe = agent_tool.agent_description

    def failing(agent: AgentInfo, roots: Any = ()) -> str:
        if agent.name == "broken:v1":
            raise ValueError("line one\nline two " + "r" * 400)
        return describe(agent, roots)

    monkeypatch.setattr(agent_tool, "agent_description", failing)
    api = workspace(agent_info("broken:v1"), agent_info("fine:v1"))
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        tools = toolkit(api).get_tools()
    assert agents_of(tools) == [("vlmrun_fine", "fine:v1"), ("vlmrun_read_file", None)]
    reason = "it cannot be made a tool (line one line two " + "r" * 253 + "..."  # 300
    assert caplog.messages == [
        f"VLMRunToolkit: left out the agent 'broken:v1' (id 'agent-broken:v1'): {reason}."
    ]


# --- what every tool shares -----------------------------------------------------------------


def test_every_tool_shares_the_clients_folders_and_options(tmp_path: Path) -> None:
    api = workspace(agent_info("x:v1"))
    client, async_client = api.client(), api.async_client()
    kit = VLMRunToolkit(
        client=client,
        async_client=async_client,
        root_dir=str(tmp_path),
        reader_prompt="Read it all.",
        tool_options={"max_content_chars": 123, "allow_hard_links": True},
    )
    agent_tool, reader = kit.get_tools()
    assert kit.root_dir == [tmp_path.resolve()]
    for tool in (agent_tool, reader):
        assert isinstance(tool, VLMRunAgentTool)
        assert tool.client is client and tool.async_client is async_client
        assert tool.root_dir == [tmp_path.resolve()]
        assert (tool.max_content_chars, tool.allow_hard_links) == (123, True)
    assert f"Local paths must be inside {tmp_path.resolve()}" in agent_tool.description
    assert (reader.name, reader.agent_name, reader.prompt) == (
        "vlmrun_read_file",
        None,
        "Read it all.",
    )
    assert reader.agent is None and agent_tool.prompt is None  # type: ignore[attr-defined]


def test_without_reader_prompt_the_reader_reads_each_medium_its_default_way() -> None:
    (reader,) = toolkit(workspace()).get_tools()
    assert isinstance(reader, VLMRunAgentTool)
    assert (reader.name, reader.prompt, reader.root_dir) == ("vlmrun_read_file", None, [])
    assert reader.description.endswith("Local files are not available: pass an http(s) URL.")


def test_the_toolkits_wait_timeout_and_cache_are_every_tools() -> None:
    cache = ResultCache(InMemoryByteStore())
    api = workspace(agent_info("x:v1"))
    tools = toolkit(api, wait_timeout=20, cache=cache).get_tools()
    assert [(t.wait_timeout, t.cache) for t in tools] == [(20, cache), (20, cache)]  # type: ignore[attr-defined]
    chosen = toolkit(api, wait_timeout=20, tool_options={"wait_timeout": 45}).get_tools()
    assert [(t.wait_timeout, t.cache) for t in chosen] == [(45, None), (45, None)]  # type: ignore[attr-defined]
    plain = toolkit(api).get_tools()
    assert [(t.wait_timeout, t.cache) for t in plain] == [(None, None), (None, None)]  # type: ignore[attr-defined]
    assert all("wait_timeout" not in t.model_fields_set for t in plain)


def test_the_toolkit_makes_clients_from_its_own_settings() -> None:
    kit = VLMRunToolkit(api_key="sk-test", base_url="https://api.test/v1", agents=["x"])
    kit._listed = [AgentInfo.model_validate(agent_info("x:v1"))]  # no request
    tool, reader = kit.get_tools()
    assert isinstance(tool, VLMRunAgentTool) and isinstance(reader, VLMRunAgentTool)
    assert tool.client is kit._sync_client() and reader.client is kit._sync_client()
    assert tool.async_client is kit._async_client()


async def test_both_clients_know_the_chosen_agents_so_tools_run_them_without_a_lookup() -> None:
    api = workspace(agent_info("x:v1"))
    api.on("POST", "/agent/lookup", httpx.Response(500, json={"detail": "must not be asked"}))
    client, async_client = api.client(), api.async_client()
    VLMRunToolkit(client=client, async_client=async_client, agents=["x"]).get_tools()
    assert async_client.known_agents.get("x:v1") is not None
    assert client.known_agents.get("x:v1") is not None

    api = workspace(agent_info("x:v1"))
    client, async_client = api.client(), api.async_client()
    kit = VLMRunToolkit(client=client, async_client=async_client, agents=["x", "y"])
    await kit.aget_tools()
    assert client.known_agents.get("x:v1") is not None  # listed by the async client
    assert client.known_agents.get("y:v1") is not None  # looked up by the async client


# --- the listing: once, until refreshed; sync and async ------------------------------------


def test_the_listing_is_reused_until_refreshed() -> None:
    api = workspace(agent_info("x:v1"))
    kit = toolkit(api, include_reader=False)
    assert agents_of(kit.get_tools()) == [("vlmrun_x", "x:v1")]
    api.routes[("GET", "/agent")].clear()
    api.on("GET", "/agent", httpx.Response(200, json=[agent_info("x:v1"), agent_info("y:v1")]))
    assert agents_of(kit.get_tools()) == [("vlmrun_x", "x:v1")]
    assert api.calls("GET", "/agent") == 1
    kit.refresh()
    assert agents_of(kit.get_tools()) == [("vlmrun_x", "x:v1"), ("vlmrun_y", "y:v1")]
    assert api.calls("GET", "/agent") == 2


async def test_the_listing_is_reused_until_refreshed_async() -> None:
    api = workspace(agent_info("x:v1"))
    kit = toolkit(api, include_reader=False)
    assert agents_of(await kit.aget_tools()) == [("vlmrun_x", "x:v1")]
    api.routes[("GET", "/agent")].clear()
    api.on("GET", "/agent", httpx.Response(200, json=[agent_info("x:v1"), agent_info("y:v1")]))
    assert agents_of(await kit.aget_tools()) == [("vlmrun_x", "x:v1")]
    assert agents_of(kit.get_tools()) == [("vlmrun_x", "x:v1")]  # one listing for both
    assert api.calls("GET", "/agent") == 1
    kit.refresh()
    assert agents_of(await kit.aget_tools()) == [("vlmrun_x", "x:v1"), ("vlmrun_y", "y:v1")]
    assert api.calls("GET", "/agent") == 2


def refusing_client() -> VLMRunClient:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the sync client sent {request.method} {request.url.path}")

    return VLMRunClient(
        "k",
        base_url="https://api.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )


async def test_aget_tools_lists_and_looks_up_with_the_async_client_only() -> None:
    api = workspace(
        agent_info("x:v1", created_at=DAY1), agent_info("x:v2", created_at=DAY2), agent_info("y:v1")
    )
    kit = VLMRunToolkit(
        client=refusing_client(), async_client=api.async_client(), agents=["x", "y:v1", "z"]
    )
    tools = await kit.aget_tools()
    assert agents_of(tools) == [
        ("vlmrun_x", "x:v2"),
        ("vlmrun_y", "y:v1"),
        ("vlmrun_z", "z:v1"),
        ("vlmrun_read_file", None),
    ]
    assert api.calls("GET", "/agent") == 1
    assert api.calls("POST", "/agent/lookup") == 1  # only the name the listing lacks


async def test_aget_tools_without_names_offers_the_latest_versions() -> None:
    api = workspace(agent_info("x:v1", created_at=DAY1), agent_info("x:v2", created_at=DAY2))
    kit = VLMRunToolkit(client=refusing_client(), async_client=api.async_client())
    assert agents_of(await kit.aget_tools()) == [("vlmrun_x", "x:v2"), ("vlmrun_read_file", None)]
    assert api.calls("POST", "/agent/lookup") == 0


async def test_aget_tools_with_an_unknown_name_raises_with_the_closest_names() -> None:
    api = workspace(agent_info("receipts:v1"))
    api.on("POST", "/agent/lookup", httpx.Response(404, json={"detail": "Agent not found"}))
    kit = VLMRunToolkit(
        client=refusing_client(), async_client=api.async_client(), agents=["receipts:v4"]
    )
    with pytest.raises(AgentNotFoundError) as caught:
        await kit.aget_tools()
    assert caught.value.suggestions == ["receipts:v1"]


# --- arguments checked at construction -------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "agent_name",
        "agent",
        "prompt",
        "name",
        "description",
        "root_dir",
        "vlmrun_api_key",
        "api_key",
        "vlmrun_base_url",
        "base_url",
        "request_timeout",
        "max_retries",
        "requests_per_minute",
        "client_kwargs",
        "client",
        "async_client",
    ],
)
def test_tool_options_may_not_set_what_the_toolkit_sets(key: str) -> None:
    with pytest.raises(ValueError) as raised:
        VLMRunToolkit(api_key="k", tool_options={key: None})
    assert (
        f"tool_options may not set ['{key}']: the toolkit sets them (pass root_dir and the "
        "client settings to the toolkit itself)."
    ) in str(raised.value)


def test_every_clashing_option_is_named_in_order() -> None:
    with pytest.raises(ValueError) as raised:
        VLMRunToolkit(
            api_key="k",
            tool_options={
                "root_dir": ".",
                "base_url": "x",
                "agent_name": "a",
                "max_content_chars": 5,
            },
        )
    assert "tool_options may not set ['agent_name', 'base_url', 'root_dir']: " in str(raised.value)


def test_per_tool_options_are_allowed() -> None:
    kit = VLMRunToolkit(
        api_key="k", tool_options={"wait_timeout": 5, "cache": None, "max_content_chars": 9}
    )
    assert kit.tool_options == {"wait_timeout": 5, "cache": None, "max_content_chars": 9}


def test_agent_names_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match=r"Invalid agent name '\.\./x y'"):
        VLMRunToolkit(api_key="k", agents=["fine:v1", "../x y"])
    assert VLMRunToolkit(api_key="k", agents=["fine:v1"]).agents == ["fine:v1"]


def test_root_dir_must_be_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an existing directory"):
        VLMRunToolkit(api_key="k", root_dir=tmp_path / "nope")
    assert VLMRunToolkit(api_key="k", root_dir=None).root_dir == []


async def test_a_listing_made_by_aget_tools_serves_get_tools_without_any_request() -> None:
    api = workspace(agent_info("x:v1", created_at=DAY1), agent_info("x:v2", created_at=DAY2))
    kit = VLMRunToolkit(
        client=refusing_client(),
        async_client=api.async_client(),
        agents=["x:v1"],
        predicate=lambda agent: False,  # nothing chosen: no client learns x:v1 from the tools
        include_reader=False,
    )
    assert await kit.aget_tools() == []
    assert kit.get_tools() == []  # x:v1 found in the listing, not looked up
    assert api.calls("POST", "/agent/lookup") == 0


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"max_content_chars": "lots"}, r"tool_options\['max_content_chars'\]: Input should be"),
        ({"max_content_chars": 0}, r"tool_options\['max_content_chars'\]: .*greater than 0"),
        ({"wait_timeout": -1}, r"tool_options\['wait_timeout'\]: .*greater than 0"),
        ({"allow_hard_links": "sometimes"}, r"tool_options\['allow_hard_links'\]"),
    ],
)
def test_a_wrong_tool_option_fails_the_toolkit_before_any_request(
    options: dict[str, Any], problem: str
) -> None:
    """Not one warning per agent at get_tools()."""
    api = workspace(agent_info("invoice:v1"))
    with pytest.raises(ValueError, match=problem):
        toolkit(api, tool_options=options, include_reader=False)
    assert api.requests == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"max_content_char": 100},
            "VLMRunAgentTool (tool_options) got an unexpected keyword argument "
            "'max_content_char' (did you mean 'max_content_chars'?).",
        ),
        (
            {"colour": "red"},
            "VLMRunAgentTool (tool_options) got an unexpected keyword argument 'colour'.",
        ),
        (
            {"max_content_char": 1, "allow_hard_link": True},
            "VLMRunAgentTool (tool_options) got unexpected keyword arguments "
            "'max_content_char' (did you mean 'max_content_chars'?), "
            "'allow_hard_link' (did you mean 'allow_hard_links'?).",
        ),
    ],
)
def test_a_misspelt_tool_option_fails_the_toolkit_as_the_tool_would(
    options: dict[str, Any], message: str
) -> None:
    """The tool's own did-you-mean error, when the toolkit is made, before any request."""
    api = workspace(agent_info("invoice:v1"))
    with pytest.raises(TypeError) as raised:
        toolkit(api, tool_options=options, include_reader=False)
    assert str(raised.value) == message
    assert api.requests == []


def test_right_tool_options_reach_every_tool() -> None:
    api = workspace(agent_info("invoice:v1"), agent_info("receipt:v1"))
    kit = toolkit(api, tool_options={"max_content_chars": 9, "allow_hard_links": True})
    tools = kit.get_tools()
    assert len(tools) == 3  # the two agents, then the reader
    assert all(t.max_content_chars == 9 and t.allow_hard_links for t in tools)
