"""langchain-tests standard suites for VLMRunAgentTool (integration: cassette replay)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from langchain_vlmrun import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.tools.agent_tool import VLMRunAgentTool
from tests.cassette_config import client_settings
from tests.compose_tool_cassettes import RECEIPT_URL


class TestVLMRunAgentToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[VLMRunAgentTool]:
        return VLMRunAgentTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"api_key": "test-key"}  # no agent, no prompt: the medium's default

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"file": RECEIPT_URL, "instructions": "List the items and prices."}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"VLMRUN_API_KEY": "env-key"}, {"prompt": "Read it."}, {"vlmrun_api_key": "env-key"}


@pytest.mark.vcr
class TestVLMRunAgentToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[VLMRunAgentTool]:
        return VLMRunAgentTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {  # no agent, no prompt (a fresh account): the image default
            "client": VLMRunClient(**client_settings()),
            "async_client": AsyncVLMRunClient(**client_settings()),
        }

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"file": RECEIPT_URL}
