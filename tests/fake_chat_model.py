"""The one stand-in LLM of the test suite: it plays a tool-calling chat model in an agent
loop (``langchain.agents.create_agent``) and only sees what a real model sees.

First turn: it calls a bound tool on each file it is given (``files``, all in one AI
message, as models issue parallel tool calls), or else on the file name or URL the
user's question mentions. The tool is the one whose description mentions ``keyword``
(when set), else the first tool bound. Second turn: it answers from the tool results, so
the final answer really depends on what the tools returned::

    According to the file: <first line of the result>
    I could not read the file: <the error>

one line per result, each prefixed with ``[<tool call id>]`` when there are several.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

__all__ = ["ToolCallingModel"]

FILE_NAME = re.compile(r"(https?://\S+|[\w./-]+\.(?:pdf|png|jpe?g|mp3|mp4|wav|docx?))", re.I)


class ToolCallingModel(BaseChatModel):
    """Calls a tool on each file, then answers from the tool results (see the module)."""

    files: list[str] = Field(default_factory=list)
    keyword: str | None = None
    offered: list[dict[str, str]] = Field(default_factory=list)
    """The tools the agent bound (name, description), as the model was shown them."""

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingModel:
        self.offered = [
            {"name": _field(tool, "name"), "description": _field(tool, "description")}
            for tool in tools
        ]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        results = _last_results(messages)
        if results:
            reply = AIMessage(content=_answer(results))
        else:
            files = self.files or _named_in(messages)
            tool = self._tool()
            if tool is None or not files:
                reply = AIMessage(content="Which file should I read?")
            else:
                calls = [
                    {"type": "tool_call", "id": f"call-{i}", "name": tool, "args": {"file": f}}
                    for i, f in enumerate(files)
                ]
                reply = AIMessage(content="", tool_calls=calls)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _tool(self) -> str | None:
        chosen = [
            t["name"]
            for t in self.offered
            if self.keyword is None or self.keyword in t["description"].lower()
        ]
        return chosen[0] if chosen else None


def _field(tool: Any, name: str) -> str:
    return str(getattr(tool, name, None) or tool[name])


def _last_results(messages: list[BaseMessage]) -> list[ToolMessage]:
    """The tool results after the last AI message that asked for them."""
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.insert(0, message)
    return results


def _named_in(messages: list[BaseMessage]) -> list[str]:
    question = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    named = FILE_NAME.search(str(question.content)) if question is not None else None
    return [named.group(1)] if named else []


def _answer(results: list[ToolMessage]) -> str:
    def line(result: ToolMessage) -> str:
        if result.status == "error":
            return f"I could not read the file: {result.content}"
        first = str(result.content).strip().splitlines()
        return f"According to the file: {first[0] if first else ''}"

    if len(results) == 1:
        return line(results[0])
    ordered = sorted(results, key=lambda r: r.tool_call_id)
    return "\n".join(f"[{r.tool_call_id}] {line(r)}" for r in ordered)
