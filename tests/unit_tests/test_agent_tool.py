"""VLMRunAgentTool: content and artifact, truncation, instructions, errors, real async."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage
from pydantic import BaseModel, SecretStr

from langchain_vlmrun import AuthenticationError, MissingAPIKeyError, VLMRunClient
from langchain_vlmrun.tools.agent_tool import VLMRunAgentTool, VLMRunToolArtifact
from tests.mock_api import ScriptedAPI, execution, json_body

URL = "https://example.com/report.pdf"
#: Stands for an agent the user created (a fresh account has none): MockTransport only.
TEST_AGENT = "test-fixture-markdown:v1"
PAGES = {
    "pages": [
        {
            "content": '# Q3 report\n<Table id="tb-0"/>',
            "tables": [{"content": "| a | b |\n|---|---|\n| 1 | 2 |"}],
        },
        {"content": "Revenue grew 12 %."},
    ]
}


def api_returning(response: Any, status: str = "completed", **usage: Any) -> ScriptedAPI:
    api = ScriptedAPI().on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    return api.on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "running"),
        execution("ex-1", status, response=response, usage={"credits_used": 3, **usage}),
    )


def call(tool: VLMRunAgentTool, **args: Any) -> ToolMessage:
    message = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage)
    return message


def test_markdown_pages_become_content_and_execution_the_artifact() -> None:
    api = api_returning(PAGES)
    message = call(VLMRunAgentTool(agent_name=TEST_AGENT, client=api.client()), file=URL)
    assert message.tool_call_id == "call-1" and message.status == "success"
    assert "# Q3 report" in message.content and "| 1 | 2 |" in message.content
    assert "Revenue grew 12 %." in message.content
    artifact = message.artifact
    assert isinstance(artifact, VLMRunToolArtifact)
    assert artifact.execution_id == "ex-1" and artifact.credits_used == 3
    assert artifact.response == PAGES and artifact.structured is None and not artifact.truncated
    body = json_body(api.first("POST", "/agent/execute"))
    assert body["name"] == TEST_AGENT
    assert body["inputs"]["file"] == {"type": "file_url", "file_url": {"url": URL}}


class Invoice(BaseModel):
    invoice_id: str
    total: float


def test_structured_result_is_json_content_and_instance_artifact() -> None:
    api = api_returning(
        {"invoice_id": "INV-1", "total": 12.5, "total_metadata": {"confidence": "hi"}}
    )
    tool = VLMRunAgentTool(
        prompt="Extract the invoice.", response_model=Invoice, client=api.client()
    )
    message = call(tool, file=URL)
    assert Invoice.model_validate_json(message.content) == Invoice(invoice_id="INV-1", total=12.5)
    assert message.artifact.structured == Invoice(invoice_id="INV-1", total=12.5)
    assert json_body(api.requests[0])["config"]["json_schema"] == Invoice.model_json_schema()


def test_schema_mismatch_is_reported_to_the_model() -> None:
    api = api_returning({"invoice_id": "INV-1"})
    tool = VLMRunAgentTool(prompt="Extract.", response_model=Invoice, client=api.client())
    message = call(tool, file=URL)
    assert message.status == "error"
    assert "does not match Invoice" in message.content and "total" in message.content


def test_long_content_is_truncated_with_a_visible_marker() -> None:
    api = api_returning({"pages": [{"content": "x" * 5000}]})
    message = call(
        VLMRunAgentTool(prompt="read", max_content_chars=100, client=api.client()), file=URL
    )
    assert len(message.content) <= 100  # the marker included
    assert message.content.startswith("x" * 12)
    assert message.content.endswith(
        "[... truncated: 12 of 5000 characters shown; the full result is in the tool artifact]"
    )
    assert (
        message.artifact.truncated
        and message.artifact.response["pages"][0]["content"] == "x" * 5000
    )


def test_instructions_refine_the_prompt_or_go_to_the_agent_inputs() -> None:
    api = api_returning({"text": "ok"})
    call(
        VLMRunAgentTool(prompt="Read it.", client=api.client()),
        file=URL,
        instructions="Only totals.",
    )
    assert (
        json_body(api.requests[0])["config"]["prompt"]
        == "Read it.\n\nAdditional instructions: Only totals."
    )
    api = api_returning({"text": "ok"})
    call(
        VLMRunAgentTool(agent_name="a:v1", client=api.client()),
        file=URL,
        instructions="Only totals.",
    )
    assert (
        json_body(api.first("POST", "/agent/execute"))["inputs"]["instructions"] == "Only totals."
    )


def test_failed_execution_is_an_error_the_model_can_act_on() -> None:
    api = api_returning(None, status="failed", message="Could not decode the PDF")
    message = call(VLMRunAgentTool(prompt="read", client=api.client()), file=URL)
    assert message.status == "error"
    assert "Could not decode the PDF" in message.content and "ex-1" in message.content


def test_configuration_errors_surface_as_typed_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    api = ScriptedAPI().on(
        "POST", "/agent/execute", httpx.Response(401, json={"detail": "Invalid API key"})
    )
    with pytest.raises(AuthenticationError):
        call(VLMRunAgentTool(prompt="read", client=api.client()), file=URL)
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError):  # at construction, before any call
        VLMRunAgentTool(prompt="read")


def test_local_file_inside_root_is_uploaded(tmp_path: Path) -> None:
    (tmp_path / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n scan")
    api = api_returning({"caption": "a receipt"})
    api.on(
        "GET",
        "/files/hash/" + hashlib.md5(b"\x89PNG\r\n\x1a\n scan").hexdigest(),
        httpx.Response(200, json={"id": None}),
    )
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-7", "filename": "scan.png"}))
    message = call(
        VLMRunAgentTool(prompt="Caption", root_dir=tmp_path, client=api.client()), file="scan.png"
    )
    assert message.content == "a receipt"
    assert json_body(api.requests[-3])["inputs"]["file"] == {
        "type": "input_file",
        "file_id": "file-7",
    }


async def test_arun_uses_the_async_client_only() -> None:
    api = api_returning(PAGES)

    def no_sync(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the sync client must not be used by ainvoke")

    sync_client = VLMRunClient(
        "k", http_client=httpx.Client(transport=httpx.MockTransport(no_sync))
    )
    tool = VLMRunAgentTool(prompt="read", client=sync_client, async_client=api.async_client())
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "c9", "name": tool.name, "args": {"file": URL}}
    )
    assert "Revenue grew" in message.content and message.artifact.execution_id == "ex-1"


def test_key_is_secret_and_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMRUN_API_KEY", "sk-live-very-secret-123456")
    tool = VLMRunAgentTool(prompt="read")
    assert isinstance(tool.vlmrun_api_key, SecretStr)
    assert "sk-live" not in repr(tool) and "sk-live" not in str(tool.model_dump())


def test_runs_the_built_in_default_of_the_medium_without_agent_or_prompt() -> None:
    api = api_returning({"text": "TOTAL 12.50", "description": "a receipt"})
    message = call(VLMRunAgentTool(client=api.client()), file="https://example.com/scan.png")
    body = json_body(next(r for r in api.requests if r.url.path.endswith("/agent/execute")))
    assert body["name"] is None
    assert body["config"]["json_schema"]["required"] == ["text", "description"]
    assert "visible in this image" in body["config"]["prompt"]
    assert message.content == "TOTAL 12.50\n\na receipt"


def test_timeout_names_the_execution_and_how_to_resume() -> None:
    api = ScriptedAPI().on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    api.on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))
    tool = VLMRunAgentTool(prompt="read", wait_timeout=30, client=api.client())
    message = call(tool, file=URL)
    assert message.status == "error"
    assert "ex-1" in message.content and "call this tool again later" in message.content
    assert "client.wait" not in message.content  # the model cannot call the client


def test_too_large_is_an_error_the_model_can_act_on() -> None:
    api = ScriptedAPI().on(
        "POST", "/agent/execute", httpx.Response(413, json={"detail": "File too large"})
    )
    message = call(VLMRunAgentTool(prompt="read", client=api.client()), file=URL)
    assert message.status == "error" and "too large" in message.content


def test_json_schema_result_is_json_content() -> None:
    api = api_returning({"total": 3, "vendor": "ACME"})
    tool = VLMRunAgentTool(prompt="read", json_schema={"type": "object"}, client=api.client())
    message = call(tool, file=URL)
    assert json.loads(message.content) == {"total": 3, "vendor": "ACME"}
    assert message.artifact.structured is None
    assert message.artifact.response == {"total": 3, "vendor": "ACME"}


async def test_async_errors_match_the_sync_path() -> None:
    api = api_returning(None, status="failed", message="Could not decode the PDF")
    tool = VLMRunAgentTool(prompt="read", async_client=api.async_client())
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "c2", "name": tool.name, "args": {"file": URL}}
    )
    assert message.status == "error"
    assert "Could not decode the PDF" in message.content and "ex-1" in message.content
