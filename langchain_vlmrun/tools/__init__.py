"""VLM Run for LLM agents and chains: :class:`VLMRunAgentTool` (one file, one agent),
:class:`VLMRunToolkit` (a tool per agent of the workspace) and
:class:`VLMRunExtractor` (a validated pydantic object, also as a tool)."""

from langchain_vlmrun.tools.agent_tool import VLMRunAgentTool
from langchain_vlmrun.tools.extraction import VLMRunExtractor
from langchain_vlmrun.tools.toolkit import VLMRunToolkit

__all__ = ["VLMRunAgentTool", "VLMRunExtractor", "VLMRunToolkit"]
