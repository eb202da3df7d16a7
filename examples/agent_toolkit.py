"""An agent choosing between two VLM Run agents, each its own tool (VLMRunToolkit).

    python examples/agent_toolkit.py                     # offline: cassette + scripted model
    VLMRUN_API_KEY=... python examples/agent_toolkit.py  # live VLM Run calls

A fresh account has no agents, so this example first makes sure its two exist
(``langchain-example-invoices`` and ``langchain-example-receipts``): it looks each
name up and creates the missing ones (``POST /agent/create``, as the SDK does). Run
live, that adds them to your workspace; delete them in the dashboard when done.

Then ``VLMRunToolkit`` turns the two agents into two tools, named and described by the
agents themselves. A small scripted model plays the LLM: like a real one, it only sees
the tools' names and descriptions, and calls the one whose description fits the
question (receipts), on ``receipt.png``. The agent's JSON answer comes back to the
model; the image artifact the response references (a cropped photo of the receipt)
stays out of the prompt, as a Blob on the tool's artifact, downloaded when read.
Swap in any tool-calling chat model (e.g. ChatOpenAI) for a real agent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from _offline import live_or_cassette
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from langchain_vlmrun import NotFoundError, VLMRunClient, VLMRunToolkit

DATA = Path(__file__).resolve().parent / "data"

#: The example's own agents: (name, prompt, JSON schema of the answer).
AGENTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "langchain-example-invoices",
        "Extract the invoice number, issue date, due date and total amount from an invoice.",
        {
            "type": "object",
            "properties": {
                "invoice_number": {"type": "string"},
                "issue_date": {"type": "string", "format": "date"},
                "due_date": {"type": "string", "format": "date"},
                "total_amount": {"type": "number"},
            },
            "required": ["invoice_number", "issue_date", "total_amount"],
        },
    ),
    (
        "langchain-example-receipts",
        "Read a shop receipt: the merchant, the date, the total and its currency, and a "
        "cropped photo of the receipt.",
        {
            "type": "object",
            "properties": {
                "merchant": {"type": "string"},
                "date": {"type": "string", "format": "date"},
                "total": {"type": "number"},
                "currency": {"type": "string"},
                "receipt_photo": {
                    "type": "string",
                    "pattern": r"^img_\w{6}$",
                    "description": "Image artifact: the receipt, cropped.",
                },
            },
            "required": ["merchant", "date", "total", "currency"],
        },
    ),
]


def ensure_agent(client: VLMRunClient, name: str, prompt: str, schema: dict[str, Any]) -> str:
    """The agent ``name`` (its latest version), created first if the workspace lacks it."""
    try:
        return client.lookup_agent(name).name
    except NotFoundError:
        created = client.create_agent(prompt, name=name, json_schema=schema)
        print(f"[setup] created agent {created.name} ({created.status})")
    for _ in range(60):  # the service builds it: pending -> completed
        agent = client.get_agent(created.id)
        if agent.status not in ("pending", "enqueued", "running"):
            return agent.name
        time.sleep(2 if os.environ.get("VLMRUN_API_KEY") else 0)
    raise TimeoutError(f"agent {created.name} is still being built; run the example again")


class ScriptedModel(BaseChatModel):
    """Calls the offered tool whose description mentions receipts, then answers from it."""

    offered: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        self.offered = [(tool.name, tool.description) for tool in tools]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        answers = [m for m in messages if isinstance(m, ToolMessage)]
        if answers:
            reply = AIMessage(content=f"From {answers[-1].name}:\n{answers[-1].content}")
        else:
            name = next(name for name, text in self.offered if "receipt" in text.lower())
            call = {"name": name, "args": {"file": "receipt.png"}, "id": "call-1"}
            reply = AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])


def main() -> None:
    print("[model] scripted chat model (no LLM key needed)")
    with live_or_cassette("agent_toolkit_example") as settings, VLMRunClient(**settings) as client:
        names = [ensure_agent(client, *agent) for agent in AGENTS]
        print(f"[setup] agents: {', '.join(names)}")
        toolkit = VLMRunToolkit(
            client=client,
            agents=[name for name, _, _ in AGENTS],  # only the example's own agents
            include_reader=False,
            root_dir=DATA,  # the only folder the model may read local files from
        )
        tools = toolkit.get_tools()
        for tool in tools:
            print(f"tool {tool.name}: {tool.description.split('. ')[0]}.")
        model = ScriptedModel()
        agent = create_agent(model, tools=tools)
        result = agent.invoke({"messages": [HumanMessage("What did I pay at the coffee shop?")]})
        (read,) = [m for m in result["messages"] if isinstance(m, ToolMessage)]
        print(f"\nthe model chose: {read.name}")
        print(f"agent answer:\n{result['messages'][-1].content}\n")
        for blob in read.artifact.artifacts:  # not in the model's context
            data = blob.as_bytes()  # fetched now (GET /artifacts), saved to blob.path
            print(f"artifact {blob.object_id}: {blob.mimetype}, {len(data)} bytes at {blob.path}")


if __name__ == "__main__":
    main()
