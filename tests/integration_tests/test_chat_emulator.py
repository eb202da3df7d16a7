"""ChatVLMRun against the emulator: LangChain's standard chat model suite, and the
chat endpoint's own behaviour (JSON, SSE, structured output, uploads, 422s, faults)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("langchain_openai")

import langchain_tests.integration_tests.chat_models as standard
from langchain_core.messages import HumanMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from pydantic import BaseModel

from langchain_vlmrun.chat import ChatVLMRun
from tests.chat_support import OrionCapabilities, wav_bytes
from tests.emulator import Emulator, EmulatorConfig, pytest_plugin
from tests.emulator.content import schema_errors

emulator_factory = pytest_plugin.emulator_factory

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
KEY = "test-key"


#: What the standard media tests download, served from local files (no network here).
_FIXTURES = {
    ".pdf": (DATA / "report.pdf").read_bytes(),
    ".wav": wav_bytes(),
    ".png": (DATA / "receipt.png").read_bytes(),
}


def _local_get(url: str, *args: Any, **kwargs: Any) -> httpx.Response:
    suffix = Path(url.split("?")[0]).suffix
    return httpx.Response(200, content=_FIXTURES[suffix], request=httpx.Request("GET", url))


@pytest.fixture(scope="module")
def chat_emulator() -> Iterator[Emulator]:
    emu = Emulator(EmulatorConfig(api_key=KEY, max_lifetime=600)).start()
    try:
        yield emu
    finally:
        emu.stop()


class TestChatVLMRunStandard(OrionCapabilities, ChatModelIntegrationTests):
    """The standard suite on the emulator. Tool calling is off: VLM Run documents no
    ``tools`` for its chat API (the emulator accepts them and never calls one)."""

    @pytest.fixture(autouse=True)
    def _point_at_emulator(self, chat_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VLMRUN_API_KEY", KEY)
        monkeypatch.setenv("VLMRUN_BASE_URL", chat_emulator.base_url)
        monkeypatch.setattr(standard.httpx, "get", _local_get)
        monkeypatch.setattr(
            standard,
            "_get_base64_from_url",
            lambda url: base64.b64encode(_local_get(url).content).decode(),
        )

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "vlmrun-orion-1:lite"}

    @property
    def supports_json_mode(self) -> bool:
        # json_mode is sent as a schema of any object: VLM Run documents no json_object
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False  # the standard test fetches a public URL server-side

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "vlmrun-orion-1:fast"


# -- the chat endpoint -------------------------------------------------------------------


class Receipt(BaseModel):
    merchant: str
    total: float


def _chat(emu: Emulator, **kwargs: Any) -> ChatVLMRun:
    return ChatVLMRun(api_key=KEY, base_url=emu.base_url, **kwargs)


def test_local_files_uploaded_then_read_by_id(emulator_factory: Any) -> None:
    emu = emulator_factory(api_key=KEY)
    chat = _chat(emu)
    message = chat.invoke(
        [
            HumanMessage(
                content=[
                    {"type": "text", "text": "What is on the receipt, and what was agreed?"},
                    {"type": "image", "path": str(DATA / "receipt.png")},
                    {"type": "audio", "path": str(DATA / "meeting.mp3")},
                ]
            )
        ]
    )
    assert "receipt.png" in message.text and "meeting.mp3" in message.text
    assert message.response_metadata["credits_used"] == 3
    assert message.response_metadata["session_id"]
    routes = emu.counters.snapshot()["requests_by_route"]
    assert routes["POST /files"] == 2
    assert routes["POST /openai/chat/completions"] == 1


async def test_structured_output_conforms_sync_and_streamed(emulator_factory: Any) -> None:
    emu = emulator_factory(api_key=KEY)
    chat = _chat(emu)
    structured = chat.with_structured_output(Receipt)
    assert isinstance(structured.invoke("Extract the receipt"), Receipt)
    schema = Receipt.model_json_schema()
    as_dict = chat.with_structured_output(schema)
    chunks = [chunk async for chunk in as_dict.astream("Extract the receipt")]
    assert chunks and schema_errors(chunks[-1], schema) == []


def test_session_id_is_kept_and_streams_agree(emulator_factory: Any) -> None:
    emu = emulator_factory(api_key=KEY)
    chat = _chat(emu, session_id="my-session")
    assert chat.invoke("hi").response_metadata["session_id"] == "my-session"
    full = None
    for chunk in chat.stream("hi"):
        full = chunk if full is None else full + chunk
    assert full is not None
    assert full.response_metadata["session_id"] == "my-session"
    assert full.usage_metadata is not None


def test_bad_requests_are_422_with_detail(emulator_factory: Any) -> None:
    emu = emulator_factory(api_key=KEY)
    url = f"{emu.base_url}/openai/chat/completions"
    auth = {"Authorization": f"Bearer {KEY}"}
    openai_shape = {
        "model": "vlmrun-orion-1:auto",
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "X", "schema": {}}},
    }
    response = httpx.post(url, json=openai_shape, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "response_format", "schema"]
    no_messages = {"model": "vlmrun-orion-1:auto", "messages": []}
    assert httpx.post(url, json=no_messages, headers=auth).status_code == 422
    unknown_file = {
        "model": "vlmrun-orion-1:auto",
        "messages": [{"role": "user", "content": [{"type": "input_file", "file_id": "nope"}]}],
    }
    assert httpx.post(url, json=unknown_file, headers=auth).status_code == 404
    assert httpx.post(url, json=no_messages).status_code == 401
    ftp = [{"type": "image", "url": "ftp://example.com/receipt.png"}]
    with pytest.raises(Exception, match=r"422.*messages\.0\.content\.0\.image_url\.url"):
        _chat(emu, max_retries=0).invoke([HumanMessage(content=ftp)])


def test_faults_are_retried(emulator_factory: Any) -> None:
    emu = emulator_factory(
        api_key=KEY,
        fault_rate=0.5,
        fault_kinds=("500", "503"),
        seed=3,
        fault_paths="^/v1/openai/",
    )
    chat = _chat(emu, max_retries=8)
    for _ in range(4):
        assert chat.invoke("hi").content
    snapshot = emu.counters.snapshot()
    assert sum(snapshot["faults_injected"].values()) > 0
    assert json.dumps(snapshot)  # counters stay JSON
