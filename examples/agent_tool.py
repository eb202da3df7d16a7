"""An agent that reads a receipt with VLMRunAgentTool.

    python examples/agent_tool.py                     # offline: cassettes + scripted model
    VLMRUN_API_KEY=... python examples/agent_tool.py  # live VLM Run call

No chat-model key is needed: a small scripted model asks for the tool and answers from
the ToolMessage, so the example shows the tool's real output flowing into the answer.
Swap in any tool-calling chat model (e.g. ChatOpenAI) for a real agent.
"""

from __future__ import annotations

from typing import Any

from _offline import live_or_cassette
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_vlmrun import AsyncVLMRunClient, VLMRunAgentTool, VLMRunClient

RECEIPT = "https://example.com/receipts/coffee-2026-07-20.jpg"


class ScriptedModel(BaseChatModel):
    """Calls the VLM Run tool once, then answers from its output."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            lines = [line for line in str(last.content).splitlines() if line.startswith("| ")]
            reply = AIMessage(content="From the receipt:\n" + "\n".join(lines))
        else:
            call = {
                "name": "vlmrun_read_file",
                "args": {"file": RECEIPT},
                "id": "call-1",
                "type": "tool_call",
            }
            reply = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=reply)])


def main() -> None:
    print("[model] scripted chat model (no LLM key needed)")
    with live_or_cassette("tool_agent_example") as settings:
        tool = VLMRunAgentTool(
            agent_name="receipt-reader:v1",
            client=VLMRunClient(**settings),
            async_client=AsyncVLMRunClient(**settings),
        )
        agent = create_agent(ScriptedModel(), tools=[tool])
        result = agent.invoke({"messages": [HumanMessage("What did I buy, and for how much?")]})
    tool_message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    artifact = tool_message.artifact
    print(f"tool content ({len(tool_message.content)} chars):\n{tool_message.content}\n")
    print(
        f"artifact: execution {artifact.execution_id}, {artifact.status}, "
        f"credits used {artifact.credits_used}"
    )
    print(f"\nagent answer:\n{result['messages'][-1].content}")


if __name__ == "__main__":
    main()
