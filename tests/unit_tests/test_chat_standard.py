"""LangChain's standard unit suite for ChatVLMRun (no network)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_openai")

from langchain_tests.unit_tests import ChatModelUnitTests

from tests.chat_support import OrionCapabilities


class TestChatVLMRunUnit(OrionCapabilities, ChatModelUnitTests):
    """``test_serdes`` skips: ChatVLMRun is not LangChain-serializable (LangChain's loader
    only revives classes it lists itself)."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "vlmrun-orion-1:lite", "api_key": "test-key"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"VLMRUN_API_KEY": "env-key", "VLMRUN_BASE_URL": "https://env.test/v1"},
            {},
            {"vlmrun_api_key": "env-key", "vlmrun_base_url": "https://env.test/v1"},
        )
