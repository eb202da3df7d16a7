"""A real agent loop (langchain.agents.create_agent) calling VLMRunAgentTool.

The chat model is the suite's one fake (tests/fake_chat_model.py): it asks for the tool,
then answers from what the ToolMessage says, so the answer depends on the tool's output.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from langchain_vlmrun.tools.agent_tool import VLMRunAgentTool, VLMRunToolArtifact
from tests.fake_chat_model import ToolCallingModel
from tests.mock_api import ScriptedAPI, execution

URL = "https://example.com/receipt.jpg"


def receipt_api() -> ScriptedAPI:
    api = ScriptedAPI().on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    return api.on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "running"),
        execution(
            "ex-1",
            "completed",
            # what the image default asks for: all visible text, then a description
            response={
                "text": "Total due: USD 9.75\nLatte 5.25",
                "description": "A printed coffee-shop receipt.",
            },
            usage={"credits_used": 2},
        ),
    )


def check(messages: list[BaseMessage]) -> None:
    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.status == "success"
    assert "Total due: USD 9.75" in tool_message.content
    assert isinstance(tool_message.artifact, VLMRunToolArtifact)
    assert tool_message.artifact.execution_id == "ex-1" and tool_message.artifact.credits_used == 2
    assert messages[-1].content == "According to the file: Total due: USD 9.75"


def test_agent_reads_the_file_and_answers_from_it() -> None:
    tool = VLMRunAgentTool(client=receipt_api().client())  # no agent or prompt: defaults
    agent = create_agent(ToolCallingModel(files=[URL]), tools=[tool])
    result = agent.invoke({"messages": [HumanMessage("What is the total on the receipt?")]})
    check(result["messages"])


async def test_agent_async() -> None:
    tool = VLMRunAgentTool(async_client=receipt_api().async_client())
    agent = create_agent(ToolCallingModel(files=[URL]), tools=[tool])
    result = await agent.ainvoke({"messages": [HumanMessage("What is the total on the receipt?")]})
    check(result["messages"])


def test_agent_recovers_from_a_refused_path(tmp_path: Path) -> None:
    api = ScriptedAPI()
    tool = VLMRunAgentTool(root_dir=tmp_path, client=api.client())
    agent = create_agent(ToolCallingModel(files=["../../etc/passwd"]), tools=[tool])
    result = agent.invoke({"messages": [HumanMessage("Read it")]})
    tool_message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "error" and "outside the folders" in tool_message.content
    assert result["messages"][-1].content.startswith("I could not read the file")
    assert api.requests == []


async def test_agent_recovers_from_a_refused_path_async(tmp_path: Path) -> None:
    api = ScriptedAPI()
    (tmp_path / ".env").write_text("VLMRUN_API_KEY=sk-secret")
    tool = VLMRunAgentTool(root_dir=tmp_path, async_client=api.async_client())
    agent = create_agent(ToolCallingModel(files=[".env"]), tools=[tool])
    result = await agent.ainvoke({"messages": [HumanMessage("Read it")]})
    tool_message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "error" and "hidden file" in tool_message.content
    assert "sk-secret" not in str(result["messages"])
    assert result["messages"][-1].content.startswith("I could not read the file")
    assert api.requests == []
