"""An agent that reads a receipt with VLMRunAgentTool, confined to examples/data/.

    python examples/agent_tool.py                     # offline: cassettes + scripted model
    VLMRUN_API_KEY=... python examples/agent_tool.py  # live VLM Run call

No chat-model key is needed: a small scripted model plays the LLM. It first asks for
a file outside the folder the tool may read (refused: no request is sent, the agent
sees the error and carries on), then for ``receipt.png``, and answers from the
ToolMessage, so the tool's real output flows into the answer. Swap in any
tool-calling chat model (e.g. ChatOpenAI) for a real agent.

The tool has no agent and no prompt: on a fresh account it sends the built-in default
of the file's medium (for an image: all visible text, then a description).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _offline import live_or_cassette
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_vlmrun import AsyncVLMRunClient, VLMRunAgentTool, VLMRunClient

DATA = Path(__file__).resolve().parent / "data"


class ScriptedModel(BaseChatModel):
    """Asks for a forbidden file, then for the receipt, then answers from the tool."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
        if not tool_messages:
            reply = self._call("../../.env", 1)  # outside root_dir: refused
        elif tool_messages[-1].status == "error":
            reply = self._call("receipt.png", 2)  # relative to root_dir
        else:
            lines = [line for line in str(tool_messages[-1].content).splitlines() if line.strip()]
            reply = AIMessage(content="From the receipt:\n" + "\n".join(lines[:12]))
        return ChatResult(generations=[ChatGeneration(message=reply)])

    @staticmethod
    def _call(file: str, n: int) -> AIMessage:
        call = {"name": "vlmrun_read_file", "args": {"file": file}, "id": f"call-{n}"}
        return AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])


def main() -> list[BaseMessage]:
    print("[model] scripted chat model (no LLM key needed)")
    with live_or_cassette("tool_agent_example") as settings:
        tool = VLMRunAgentTool(
            root_dir=DATA,  # the only folder the model may read local files from
            client=VLMRunClient(**settings),
            async_client=AsyncVLMRunClient(**settings),
        )
        agent = create_agent(ScriptedModel(), tools=[tool])
        result = agent.invoke({"messages": [HumanMessage("What did I buy, and for how much?")]})
    refused, read = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    print(f"1st tool call ({refused.status}, nothing sent): {refused.content}\n")
    artifact = read.artifact
    print(f"2nd tool call ({read.status}), content ({len(read.content)} chars):\n{read.content}\n")
    print(
        f"artifact: execution {artifact.execution_id}, {artifact.status}, "
        f"credits used {artifact.credits_used}"
    )
    print(f"\nagent answer:\n{result['messages'][-1].content}")
    return list(result["messages"])


if __name__ == "__main__":
    main()
