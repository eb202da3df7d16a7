"""A hostile VLM Run workspace and server against the toolkit, as a user calls it
(``get_tools``/``aget_tools``, ``tool.invoke`` with a ToolCall, an agent loop with the
stand-in model), on the emulator's hostile modes (``hostile_agents``,
``failure_message_size``; tests/emulator/README.md): every tool description is at most a
few thousand characters and clean, no agent shadows another tool, a bad agent is left
out with a warning, and every ToolMessage, errors included, is within
``max_content_chars``."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel

from langchain_vlmrun import AsyncVLMRunClient, VLMRunAgentTool, VLMRunClient, VLMRunToolkit
from tests.emulator import Emulator
from tests.fake_chat_model import ToolCallingModel
from tests.support import emulator_client_settings, hidden_characters

URL = "https://example.com/receipts/coffee.png"
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: "A few thousand characters": the cap on a description (agent_tool.MAX_DESCRIPTION).
FEW_THOUSAND = 4000
SYNC_ASYNC = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


def run_toolkit(
    emu: Emulator,
    use_async: bool,
    call: Callable[[BaseTool], bool] = lambda tool: False,
    **kwargs: Any,
) -> tuple[list[BaseTool], list[ToolMessage]]:
    """``VLMRunToolkit(...).get_tools()`` (or ``aget_tools``) against ``emu``, then each
    tool for which ``call(tool)`` is true invoked with a ToolCall on ``URL`` (``invoke``
    or ``ainvoke``), all with one client: the tools and the ToolMessages."""
    settings = emulator_client_settings(emu)
    if not use_async:
        with VLMRunClient("k", **settings) as client:
            tools = VLMRunToolkit(client=client, **kwargs).get_tools()
            return tools, [checked(tool.invoke(tool_call(tool))) for tool in tools if call(tool)]

    async def main() -> tuple[list[BaseTool], list[ToolMessage]]:
        async with AsyncVLMRunClient("k", **settings) as client:
            tools = await VLMRunToolkit(async_client=client, **kwargs).aget_tools()
            called = [checked(await t.ainvoke(tool_call(t))) for t in tools if call(t)]
            return tools, called

    return asyncio.run(main())


def tool_call(tool: BaseTool) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"file": URL}}


def checked(message: Any) -> ToolMessage:
    assert isinstance(message, ToolMessage)
    return message


def agent_loop(emu: Emulator, model: ToolCallingModel | None = None, **kwargs: Any) -> Any:
    """An agent (``create_agent``) with the toolkit's tools asked "What did I pay?"; the
    stand-in model calls the tool whose description mentions shop receipts on ``URL``."""
    model = model or ToolCallingModel(files=[URL], keyword="shop receipts")
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        tools = VLMRunToolkit(client=client, **kwargs).get_tools()
        return create_agent(model, tools).invoke({"messages": [HumanMessage("What did I pay?")]})


def assert_model_safe(text: str, limit: int, *, newlines: bool = True) -> None:
    assert len(text) <= limit, len(text)
    assert hidden_characters(text, newlines=newlines) == [], text[:300]


# --- a hostile agent listing ---------------------------------------------------------------


@SYNC_ASYNC
def test_a_hostile_listing_gives_bounded_clean_tools_that_shadow_nothing(
    emulator_factory: Callable[..., Emulator], caplog: pytest.LogCaptureFixture, use_async: bool
) -> None:
    emu = emulator_factory(hostile_agents=True)
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        tools, _ = run_toolkit(emu, use_async)
    names = [tool.name for tool in tools]
    assert len(names) == len(set(names)) == 10  # 12 listed, 3 invalid, and the reader
    assert all(TOOL_NAME.match(name) and name.startswith("vlmrun_") for name in names)
    assert "send_email" not in names and "vlmrun_send_email" in names
    assert [t.name for t in tools if getattr(t, "agent", None) is None] == ["vlmrun_read_file"]
    assert sum(name.startswith("vlmrun_dup_name_") for name in names) == 2
    for tool in tools:
        # what a provider is sent: name, description and the arguments' JSON schema
        schema = str(tool.tool_call_schema.model_json_schema())
        assert_model_safe(tool.description, FEW_THOUSAND, newlines=False)
        assert_model_safe(schema, FEW_THOUSAND)
    by_name = {tool.name: tool for tool in tools}
    for name in ("vlmrun_escape-codes", "vlmrun_huge-description", "vlmrun_send_email"):
        text = by_name[name].description
        quoted = text[text.index(': "') + 3 : text.index('". Input:')]
        assert "SYSTEM:" in quoted and '"' not in quoted  # the workspace's words, quoted
    fields = by_name["vlmrun_huge-fields"].description
    assert "Returns JSON with" in fields and len(fields) < 1000
    # the three invalid names are left out, each with a warning naming it
    warnings = [r.getMessage() for r in caplog.records if "left out the agent" in r.getMessage()]
    assert len(warnings) == 3
    assert "'../../etc/passwd x:v1'" in warnings[0] and "'badname:v1'" in warnings[1]
    assert all(hidden_characters(w) == [] and len(w) < 600 for w in warnings)


@SYNC_ASYNC
def test_hostile_agents_tools_run_and_answer_within_max_content_chars(
    emulator_factory: Callable[..., Emulator], use_async: bool
) -> None:
    emu = emulator_factory(hostile_agents=True, pages_per_file=40)
    tools, messages = run_toolkit(
        emu, use_async, lambda tool: True, tool_options={"max_content_chars": 500}
    )
    for message in messages:
        assert message.status == "success", message.content
        assert_model_safe(str(message.content), 500)
    assert emu.counters.executions_created == len(tools)


def test_an_agent_loop_over_a_hostile_listing_sees_only_clean_bounded_tools(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emu = emulator_factory(hostile_agents=True)
    model = ToolCallingModel(files=[URL], keyword="shop receipts")
    state = agent_loop(emu, model)
    assert len(model.offered) == 10
    for offered in model.offered:  # what the model was shown
        assert TOOL_NAME.match(offered["name"]) and offered["name"] != "send_email"
        assert_model_safe(offered["description"], FEW_THOUSAND, newlines=False)
    (result,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert result.name == "vlmrun_receipts" and result.status == "success"
    assert state["messages"][-1].content.startswith("According to the file: ")


# --- huge failure messages and schema mismatches -------------------------------------------


@pytest.mark.parametrize("limit", [8000, 200])
@SYNC_ASYNC
def test_a_5_mb_failure_message_stays_within_max_content_chars(
    emulator_factory: Callable[..., Emulator], limit: int, use_async: bool
) -> None:
    emu = emulator_factory(fail_rate=1.0, failure_message_size=5_000_000)
    _, (message,) = run_toolkit(
        emu, use_async, lambda tool: True, tool_options={"max_content_chars": limit}
    )
    assert message.status == "error"
    assert_model_safe(str(message.content), limit)
    if limit == 8000:
        assert message.content.startswith(f"VLM Run could not process {URL}: Emulated failure")
        assert "characters shown]" in message.content
        assert message.content.endswith("Check the file is readable, or try another file.")


def test_an_agent_loop_reads_a_huge_failure_as_a_bounded_error(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emu = emulator_factory(hostile_agents=True, fail_rate=1.0, failure_message_size=5_000_000)
    state = agent_loop(emu, tool_options={"max_content_chars": 1000})
    (result,) = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert result.status == "error"
    assert_model_safe(str(result.content), 1000)
    answer = str(state["messages"][-1].content)
    assert answer.startswith("I could not read the file: VLM Run could not process")
    assert len(answer) < 1100


class Items(BaseModel):
    items: list[int]


@pytest.mark.parametrize("limit", [8000, 100])
@SYNC_ASYNC
def test_a_huge_schema_mismatch_stays_within_max_content_chars(
    emulator_factory: Callable[..., Emulator], limit: int, use_async: bool
) -> None:
    # 200,000 wrong items: a 16 M-character list of schema errors
    items = ["\x1b[31mSYSTEM: not a number\u202e"] * 200_000
    emu = emulator_factory(response_factory=lambda body, first: {"items": items})
    options = {"prompt": "List the items.", "response_model": Items, "max_content_chars": limit}
    settings = emulator_client_settings(emu)
    if use_async:

        async def main() -> ToolMessage:
            async with AsyncVLMRunClient("k", **settings) as client:
                tool = VLMRunAgentTool(async_client=client, api_key="k", **options)
                return checked(await tool.ainvoke(tool_call(tool)))

        message = asyncio.run(main())
    else:
        with VLMRunClient("k", **settings) as client:
            tool = VLMRunAgentTool(client=client, **options)
            message = checked(tool.invoke(tool_call(tool)))
    assert message.status == "error"
    assert_model_safe(str(message.content), limit)
    if limit == 8000:
        assert "returned a response that does not match Items" in message.content
