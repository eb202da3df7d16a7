"""Workspace agents as LangChain tools: ``VLMRunAgentTool.from_agent`` and
``VLMRunToolkit``, against the emulator, with a scripted model choosing between them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from langchain_vlmrun import (
    AgentNotFoundError,
    AsyncVLMRunClient,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunToolkit,
)
from langchain_vlmrun.core.models import AgentInfo
from langchain_vlmrun.tools.toolkit import agent_description, tool_name
from tests.emulator import Emulator
from tests.emulator.registry import PNG_1X1
from tests.fake_chat_model import ToolCallingModel
from tests.support import emulator_client_settings

# test data: the agents each test creates (a fresh account has none)
INVOICES = "test-invoices"
RECEIPTS = "test-receipts"
TRANSCRIPTS = "test-transcripts"
# their tools: the agent's name with the toolkit's prefix (it cannot shadow another tool)
INVOICES_TOOL, RECEIPTS_TOOL = f"vlmrun_{INVOICES}", f"vlmrun_{RECEIPTS}"
TRANSCRIPTS_TOOL = f"vlmrun_{TRANSCRIPTS}"
INVOICE_PROMPT = "Extract the invoice id, dates and totals from invoices."
RECEIPT_PROMPT = "Read shop receipts: merchant, total, and a photo of the receipt."
INVOICE_SCHEMA = {
    "type": "object",
    "properties": {
        "invoice_id": {"type": "string"},
        "issue_date": {"type": "string", "format": "date"},
        "total": {"type": "number"},
    },
    "required": ["invoice_id", "issue_date", "total"],
}
RECEIPT_SCHEMA = {
    "type": "object",
    "properties": {
        "merchant": {"type": "string"},
        "total": {"type": "number"},
        "photo": {"type": "string", "pattern": r"^img_\w{6}$"},  # an SDK ImageRef id
    },
    "required": ["merchant", "total", "photo"],
}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
URL = "https://example.com/receipts/coffee.png"


@pytest.fixture
def workspace(emulator_factory: Callable[..., Emulator]) -> Iterator[tuple[Emulator, VLMRunClient]]:
    """An emulator where only created agents exist, with three of them (receipts twice)."""
    emu = emulator_factory(known_agents=())
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        client.create_agent(INVOICE_PROMPT, name=INVOICES, json_schema=INVOICE_SCHEMA)
        client.create_agent("Old receipts prompt.", name=RECEIPTS)
        client.create_agent(RECEIPT_PROMPT, name=RECEIPTS, json_schema=RECEIPT_SCHEMA)
        client.create_agent("Transcribe meeting recordings.", name=TRANSCRIPTS)
        yield emu, client


def by_name(tools: list[BaseTool]) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in tools}


def route(emu: Emulator, name: str) -> int:
    return emu.counters.requests_by_route.get(name, 0)


# --- the toolkit -----------------------------------------------------------------------


def test_get_tools_gives_one_tool_per_agent_described_by_it(
    workspace: tuple[Emulator, VLMRunClient],
) -> None:
    _, client = workspace
    listed = {a.name: a for a in client.list_agents()}
    tools = VLMRunToolkit(client=client).get_tools()
    names = [INVOICES_TOOL, RECEIPTS_TOOL, TRANSCRIPTS_TOOL, "vlmrun_read_file"]
    assert [t.name for t in tools] == names
    tools_by_name = by_name(tools)
    for name, version in ((INVOICES, "v1"), (RECEIPTS, "v2"), (TRANSCRIPTS, "v1")):
        tool = tools_by_name[f"vlmrun_{name}"]
        assert isinstance(tool, VLMRunAgentTool)
        agent = listed[f"{name}:{version}"]  # the latest version, pinned
        assert tool.agent_name == agent.name and tool.agent == agent
        assert agent.description and tool.description.startswith(
            f'Runs the VLM Run agent {agent.name}, described in its workspace as: "'
            f'{agent.description.rstrip(". ")}".'
        )
    invoices = tools_by_name[INVOICES_TOOL].description
    assert 'Returns JSON with "invoice_id", "issue_date", "total".' in invoices
    assert "Local files are not available" in invoices


def test_toolkit_tools_run_their_pinned_agent_without_another_lookup(
    workspace: tuple[Emulator, VLMRunClient],
) -> None:
    emu, client = workspace
    tool = by_name(VLMRunToolkit(client=client).get_tools())[RECEIPTS_TOOL]
    lookups = route(emu, "POST /agent/lookup")
    message = tool.invoke(
        {"type": "tool_call", "id": "1", "name": tool.name, "args": {"file": URL}}
    )
    assert message.status == "success"
    assert route(emu, "POST /agent/lookup") == lookups  # the listing vouched for the name
    assert client.list_executions(limit=1)[0].name == f"{RECEIPTS}:v2"
    artifact = message.artifact
    assert artifact.output_schema == RECEIPT_SCHEMA
    assert set(artifact.response) == {"merchant", "total", "photo"}
    (photo,) = artifact.artifacts  # the ImageRef in the response, as a Blob
    assert photo.object_id == artifact.response["photo"]
    assert photo.as_bytes() == PNG_1X1 and photo.mimetype == "image/png"


def test_versions_filters_and_predicates(workspace: tuple[Emulator, VLMRunClient]) -> None:
    _, client = workspace
    every = VLMRunToolkit(client=client, all_versions=True, include_reader=False).get_tools()
    assert [t.name for t in every] == [
        f"{INVOICES_TOOL}_v1",
        f"{RECEIPTS_TOOL}_v1",
        f"{RECEIPTS_TOOL}_v2",
        f"{TRANSCRIPTS_TOOL}_v1",
    ]
    chosen = VLMRunToolkit(client=client, agents=[RECEIPTS, f"{INVOICES}:v1"]).get_tools()
    assert [(t.name, getattr(t, "agent_name", None)) for t in chosen] == [
        (INVOICES_TOOL, f"{INVOICES}:v1"),
        (RECEIPTS_TOOL, f"{RECEIPTS}:v2"),
        ("vlmrun_read_file", None),
    ]
    old = VLMRunToolkit(client=client, agents=[f"{RECEIPTS}:v1"], include_reader=False)
    assert [t.agent_name for t in old.get_tools()] == [f"{RECEIPTS}:v1"]  # type: ignore[attr-defined]
    with_schema = VLMRunToolkit(
        client=client, predicate=lambda agent: agent.json_schema is not None, include_reader=False
    )
    assert [t.name for t in with_schema.get_tools()] == [INVOICES_TOOL, RECEIPTS_TOOL]


def test_an_unknown_name_in_the_filter_says_what_exists(
    workspace: tuple[Emulator, VLMRunClient],
) -> None:
    _, client = workspace
    with pytest.raises(AgentNotFoundError) as caught:
        VLMRunToolkit(client=client, agents=["test-reciepts"]).get_tools()
    assert caught.value.suggestions[0].startswith(RECEIPTS)


def test_the_listing_is_reused_until_refreshed(workspace: tuple[Emulator, VLMRunClient]) -> None:
    emu, client = workspace
    toolkit = VLMRunToolkit(client=client)
    first = [t.name for t in toolkit.get_tools()]
    listings = route(emu, "GET /agent")
    client.create_agent("Read contracts.", name="test-contracts")
    assert [t.name for t in toolkit.get_tools()] == first
    assert route(emu, "GET /agent") == listings
    toolkit.refresh()
    assert "vlmrun_test-contracts" in [t.name for t in toolkit.get_tools()]


def test_async_get_tools(workspace: tuple[Emulator, VLMRunClient]) -> None:
    emu, _ = workspace

    async def main() -> list[str]:
        async with AsyncVLMRunClient("k", **emulator_client_settings(emu)) as client:
            toolkit = VLMRunToolkit(async_client=client, agents=[INVOICES])
            tools = await toolkit.aget_tools()
            message = await tools[0].ainvoke(
                {"type": "tool_call", "id": "1", "name": INVOICES_TOOL, "args": {"file": URL}}
            )
            assert message.artifact.output_schema == INVOICE_SCHEMA
            return [t.name for t in tools]

    assert asyncio.run(main()) == [INVOICES_TOOL, "vlmrun_read_file"]


def test_tool_names_are_valid_unique_and_stable() -> None:
    def agent(name: str, agent_id: str) -> AgentInfo:
        return AgentInfo(id=agent_id, name=name, description=f"Agent {name}.")

    agents = [
        agent("a.b:v1", "id-1"),
        agent("a_b:v1", "id-2"),
        agent("read_file:v1", "id-3"),
        agent("x" * 100 + ":v1", "id-4"),
        agent("Factures (FR):v2", "id-5"),
    ]
    toolkit = VLMRunToolkit(api_key="k", base_url="https://api.test/v1")
    names = toolkit._names(agents)
    assert all(TOOL_NAME.match(n) for n in names)
    assert len(set(names)) == len(names)
    assert names[4] == "vlmrun_Factures_FR"
    assert names[2].startswith("vlmrun_read_file_")  # the reader's name stays the reader's
    assert all(n.startswith("vlmrun_a_b_") for n in names[:2])
    assert names == toolkit._names(list(agents))  # same agents, same names
    assert names[:2] == toolkit._names(agents[:2])  # a clash is settled by ids, not order


def test_tool_name_and_description_helpers() -> None:
    assert tool_name("invoice-extractor:v2") == "vlmrun_invoice-extractor_v2"
    assert tool_name("???") == "vlmrun_agent"
    long = "é" * 200
    assert TOOL_NAME.match(tool_name(long))
    info = AgentInfo(id="1", name="r:v1", description="", prompt="Read receipts.")
    assert agent_description(info).startswith(
        'Runs the VLM Run agent r:v1, whose instructions are: "Read receipts".'
    )
    assert len(agent_description(AgentInfo(id="1", name="r", description="x" * 5000))) < 1024


def test_tool_options_may_not_override_what_the_toolkit_sets() -> None:
    with pytest.raises(ValueError, match="tool_options may not set"):
        VLMRunToolkit(api_key="k", tool_options={"agent_name": "x"})
    with pytest.raises(ValueError, match="tool_options may not set"):
        VLMRunToolkit(api_key="k", tool_options={"api_key": "other"})


# --- from_agent ------------------------------------------------------------------------


def test_from_agent_names_and_describes_the_tool_after_the_agent(
    workspace: tuple[Emulator, VLMRunClient],
) -> None:
    emu, client = workspace
    tool = VLMRunAgentTool.from_agent(INVOICES, client=client, wait_timeout=30)
    assert (tool.name, tool.agent_name, tool.wait_timeout) == (
        INVOICES_TOOL,
        f"{INVOICES}:v1",
        30,
    )
    assert f'as: "Emulated agent: {INVOICE_PROMPT.rstrip(".")}".' in tool.description
    lookups = route(emu, "POST /agent/lookup")
    message = tool.invoke(
        {"type": "tool_call", "id": "1", "name": tool.name, "args": {"file": URL}}
    )
    assert route(emu, "POST /agent/lookup") == lookups  # looked up once, by from_agent
    assert message.artifact.output_schema == INVOICE_SCHEMA
    assert set(message.artifact.response) == {"invoice_id", "issue_date", "total"}
    named = VLMRunAgentTool.from_agent(
        f"{RECEIPTS}:v1", client=client, name="old_receipts", description="Old receipts."
    )
    assert (named.name, named.description, named.agent_name) == (
        "old_receipts",
        "Old receipts.",
        f"{RECEIPTS}:v1",
    )


def test_from_agent_with_an_unknown_name_suggests_and_uploads_nothing(
    workspace: tuple[Emulator, VLMRunClient],
) -> None:
    emu, client = workspace
    with pytest.raises(AgentNotFoundError) as caught:
        VLMRunAgentTool.from_agent("test-invoice", client=client, root_dir=".")
    assert caught.value.suggestions == [f"{INVOICES}:v1"]
    assert f"Closest names: '{INVOICES}:v1'" in str(caught.value)
    assert emu.counters.uploads == 0 and emu.counters.executions_created == 0

    async def main() -> None:
        async with AsyncVLMRunClient("k", **emulator_client_settings(emu)) as aclient:
            await VLMRunAgentTool.afrom_agent(f"{TRANSCRIPTS}:v3", async_client=aclient)

    with pytest.raises(AgentNotFoundError) as caught:
        asyncio.run(main())
    assert caught.value.suggestions == [f"{TRANSCRIPTS}:v1"]


def test_from_agent_info_sends_nothing() -> None:
    info = AgentInfo(id="1", name=f"{INVOICES}:v4", description="Reads invoices.")
    tool = VLMRunAgentTool.from_agent(info, api_key="k", base_url="https://api.test/v1")
    assert (tool.name, tool.agent_name, tool.agent) == (INVOICES_TOOL, info.name, info)


# --- an agent choosing between them ----------------------------------------------------


def test_an_agent_picks_the_right_vlmrun_agent_out_of_several(
    workspace: tuple[Emulator, VLMRunClient],
) -> None:
    emu, client = workspace
    tools = VLMRunToolkit(client=client).get_tools()
    model = ToolCallingModel(files=[URL], keyword="receipts")
    graph = create_agent(model, tools)
    state = graph.invoke({"messages": [HumanMessage("What did I pay at the coffee shop?")]})
    assert len(model.offered) == 4  # three agents and the reader
    (result,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert result.name == RECEIPTS_TOOL and '"merchant"' in str(result.content)
    assert state["messages"][-1].content.startswith("According to the file: ")
    (executed,) = client.list_executions(limit=1)
    assert executed.name == f"{RECEIPTS}:v2"
    assert emu.counters.executions_created == 1
