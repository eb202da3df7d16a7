"""Happy paths of the client, replayed from cassettes (see cassettes/README.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob
from pydantic import BaseModel

from langchain_vlmrun import AsyncVLMRunClient, VLMRunClient
from tests.compose_core_cassettes import (
    INVOICE,
    INVOICE_EXECUTION,
    KNOWN_FILE,
    NEW_FILE,
    NEW_FILE_ID,
    PROMPT_EXECUTION,
    SCHEMA_RESPONSE,
)

pytestmark = pytest.mark.vcr


def recording_http() -> tuple[httpx.Client, list[dict[str, Any]]]:
    """An httpx client that keeps the JSON body of every request it sends."""
    sent: list[dict[str, Any]] = []

    def keep(request: httpx.Request) -> None:
        if request.headers.get("content-type") == "application/json":
            sent.append(json.loads(request.read()))

    return httpx.Client(event_hooks={"request": [keep]}), sent


class Invoice(BaseModel):
    invoice_id: str
    total_amount: float


def test_upload_new_file(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    with VLMRunClient(**cassette_client_kwargs) as client:
        uploaded = client.upload_file(NEW_FILE, filename="new.pdf")
    assert uploaded.id == NEW_FILE_ID
    assert uploaded.bytes == len(NEW_FILE)
    # a small file is uploaded directly: a hash lookup could not save a request
    assert [r.method for r in vcr.requests] == ["POST"]
    assert vcr.all_played


def test_upload_hash_hit_reuses_file(
    cassette_client_kwargs: dict[str, Any], vcr: Any, tmp_path: Any
) -> None:
    path = tmp_path / "known.pdf"
    path.write_bytes(KNOWN_FILE)
    # files at least hash_lookup_min_size large are looked up first
    with VLMRunClient(**cassette_client_kwargs, hash_lookup_min_size=0) as client:
        uploaded = client.upload_file(Blob.from_path(path))
    assert uploaded.filename == "known.pdf"
    assert [r.method for r in vcr.requests] == ["GET"]  # no bytes re-sent


def test_execute_by_prompt(cassette_client_kwargs: dict[str, Any]) -> None:
    http, sent = recording_http()
    with VLMRunClient(**cassette_client_kwargs, http_client=http) as client:
        execution = client.execute(
            prompt="Extract the invoice id and total.",
            inputs={"file": {"type": "input_file", "file_id": NEW_FILE_ID}},
        )
    assert execution.id == INVOICE_EXECUTION
    assert execution.status == "enqueued"
    assert not execution.is_terminal
    (body,) = sent
    assert body["name"] is None  # no agent needed: the prompt says what to do
    assert body["config"] == {"prompt": "Extract the invoice id and total."}
    assert body["inputs"] == {"file": {"type": "input_file", "file_id": NEW_FILE_ID}}
    assert body["batch"] is True
    assert body["metadata"]["allow_training"] is False
    assert body["id"] == "00000000-0000-4000-8000-000000000001"  # client request id


def test_execute_by_prompt_with_schema_and_wait(
    cassette_client_kwargs: dict[str, Any], vcr: Any
) -> None:
    http, sent = recording_http()
    with VLMRunClient(**cassette_client_kwargs, http_client=http) as client:
        started = client.execute(
            prompt="Extract the invoice id and total.",
            response_model=Invoice,
            inputs={"file": {"type": "file_url", "file_url": {"url": "https://example.com/i.pdf"}}},
        )
        done = client.wait(started.id)
    assert done.status == "completed"
    assert Invoice.model_validate(done.response) == Invoice(**SCHEMA_RESPONSE)
    assert done.completed_at is not None and done.completed_at.tzinfo is not None
    assert done.id == PROMPT_EXECUTION
    assert sent[0]["name"] is None
    assert sent[0]["config"]["prompt"] == "Extract the invoice id and total."
    assert sent[0]["config"]["json_schema"] == Invoice.model_json_schema()
    assert vcr.all_played


def test_wait_pending_running_completed(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    with VLMRunClient(**cassette_client_kwargs) as client:
        done = client.wait(INVOICE_EXECUTION)
    assert done.response == INVOICE
    assert done.usage.credits_used == 6
    assert done.created_at is not None and done.created_at.tzinfo is not None  # naive -> UTC
    assert len(vcr.requests) == 3


@pytest.mark.vcr("test_wait_pending_running_completed.yaml")
async def test_async_wait_pending_running_completed(
    cassette_client_kwargs: dict[str, Any], vcr: Any
) -> None:
    async with AsyncVLMRunClient(**cassette_client_kwargs) as client:
        done = await client.wait(INVOICE_EXECUTION)
    assert done.response == INVOICE
    assert len(vcr.requests) == 3


@pytest.mark.vcr("test_upload_new_file.yaml")
async def test_async_upload_new_file(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    async with AsyncVLMRunClient(**cassette_client_kwargs) as client:
        uploaded = await client.upload_file(NEW_FILE, filename="new.pdf")
    assert uploaded.id == NEW_FILE_ID
