"""Offline, on the composed registry cassettes: the toolkit lists a tool per agent,
an unknown name fails with suggestions before any upload, an image artifact becomes a
Blob with the right bytes and type, and the execution history pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage

from langchain_vlmrun import AgentNotFoundError, VLMRunAgentTool, VLMRunClient, VLMRunToolkit
from tests.compose_registry_cassettes import (
    HISTORY,
    INVOICE_DESCRIPTION,
    INVOICES,
    PHOTO_ID,
    RECEIPT_DESCRIPTION,
    RECEIPT_PNG,
    RECEIPT_RESPONSE,
    RECEIPT_SCHEMA,
    RECEIPT_URL,
    RECEIPTS,
    URL_EXECUTION,
)


def sent(vcr: Any) -> list[str]:
    return [f"{r.method} {r.path.removeprefix('/v1')}" for r in vcr.requests]


@pytest.mark.vcr
@pytest.mark.default_cassette("registry_toolkit_listing.yaml")
def test_toolkit_lists_a_tool_per_agent(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    with VLMRunClient(**cassette_client_kwargs) as client:
        tools = VLMRunToolkit(client=client, root_dir=RECEIPT_PNG.parent).get_tools()
    names = [f"vlmrun_{INVOICES}", f"vlmrun_{RECEIPTS}", "vlmrun_read_file"]
    assert [t.name for t in tools] == names
    # the listing's descriptions, quoted as the workspace's text
    assert f': "{INVOICE_DESCRIPTION.rstrip(".")}".' in tools[0].description
    assert f': "{RECEIPT_DESCRIPTION.rstrip(".")}".' in tools[1].description
    assert f"inside {RECEIPT_PNG.parent}" in tools[1].description
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("registry_unknown_agent.yaml")
def test_from_agent_with_an_unknown_name(
    cassette_client_kwargs: dict[str, Any], vcr: Any, tmp_path: Path
) -> None:
    with (
        VLMRunClient(**cassette_client_kwargs) as client,
        pytest.raises(AgentNotFoundError) as caught,
    ):
        VLMRunAgentTool.from_agent("langchain-example-invoice", client=client, root_dir=tmp_path)
    assert caught.value.suggestions == [f"{INVOICES}:v1"]
    assert sent(vcr) == ["POST /agent/lookup", "GET /agent"]  # no upload, no execute


@pytest.mark.vcr
@pytest.mark.default_cassette("registry_image_artifact.yaml")
def test_an_image_artifact_becomes_a_blob(
    cassette_client_kwargs: dict[str, Any], vcr: Any, tmp_path: Path
) -> None:
    with VLMRunClient(**cassette_client_kwargs) as client:
        tool = VLMRunAgentTool.from_agent(RECEIPTS, client=client, artifacts_dir=tmp_path)
        message = tool.invoke(
            {"type": "tool_call", "id": "1", "name": tool.name, "args": {"file": RECEIPT_URL}}
        )
        assert isinstance(message, ToolMessage)
        artifact = message.artifact
        assert artifact.response == RECEIPT_RESPONSE
        assert artifact.output_schema == RECEIPT_SCHEMA
        (photo,) = artifact.artifacts
        assert (photo.object_id, photo.execution_id) == (PHOTO_ID, URL_EXECUTION)
        assert photo.as_bytes() == RECEIPT_PNG.read_bytes()
        assert photo.mimetype == "image/png"
        assert photo.path == tmp_path / URL_EXECUTION / f"{PHOTO_ID}.png"
    assert vcr.all_played


@pytest.mark.vcr
@pytest.mark.default_cassette("registry_execution_pages.yaml")
def test_execution_history_pages(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    with VLMRunClient(**cassette_client_kwargs) as client:
        history = list(client.iter_executions(page_size=2))
    assert [e.id for e in history] == HISTORY
    assert [e.status for e in history] == ["completed", "failed", "completed"]
    assert vcr.all_played


def test_an_unreadable_agent_in_the_listing_is_skipped_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.mock_api import ScriptedAPI, agent_info

    good = [agent_info(f"a{i}") for i in range(3)]
    page = [good[0], {**agent_info("bad"), "name": None}, good[1], "junk"]
    api = ScriptedAPI()
    api.on("GET", "/agent", httpx.Response(200, json=page), httpx.Response(200, json=[good[2]]))
    with api.client() as client:
        agents = client.list_agents(page_size=4)
    assert [a.name for a in agents] == ["a0:v1", "a1:v1", "a2:v1"]
    # the bad items still count as served: the next page starts after them
    assert [r.url.params["skip"] for r in api.requests] == ["0", "4"]
    assert caplog.text.count("skipping an unreadable item of GET /v1/agent") == 2
