"""VLMRunExtractor: a Runnable from a file to a validated pydantic object."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from langchain_vlmrun import (
    AsyncVLMRunClient,
    FileSourceError,
    PollSchedule,
    ResponseValidationError,
    VLMRunClient,
)
from langchain_vlmrun.tools.extraction import VLMRunExtractor
from tests.mock_api import ScriptedAPI, execution, json_body


class Invoice(BaseModel):
    invoice_id: str
    total: float


def api_returning(response: object) -> ScriptedAPI:
    api = ScriptedAPI().on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    return api.on(
        "GET", "/agent/executions/ex-1", execution("ex-1", "completed", response=response)
    )


def test_invoke_returns_a_validated_instance() -> None:
    api = api_returning({"invoice_id": "INV-9", "total": "41.5"})
    extract = VLMRunExtractor(response_model=Invoice, client=api.client())
    assert extract.invoke("https://example.com/inv.pdf") == Invoice(invoice_id="INV-9", total=41.5)
    body = json_body(api.requests[0])
    assert body["config"]["json_schema"] == Invoice.model_json_schema()
    assert body["config"]["prompt"] == "Extract the Invoice fields from this file."


def test_composes_in_a_chain() -> None:
    api = api_returning({"invoice_id": "INV-9", "total": 41.5})
    chain = VLMRunExtractor(response_model=Invoice, client=api.client()) | RunnableLambda(
        lambda i: i.total * 2
    )
    assert chain.invoke("https://example.com/inv.pdf") == 83.0


def test_mismatch_shows_schema_errors_and_keeps_raw_response() -> None:
    api = api_returning({"invoice_id": "INV-9", "total": "n/a"})
    with pytest.raises(ResponseValidationError) as info:
        VLMRunExtractor(response_model=Invoice, client=api.client()).invoke(
            "https://example.com/i.pdf"
        )
    assert "total" in str(info.value) and "does not match Invoice" in str(info.value)
    assert info.value.raw_response == {"invoice_id": "INV-9", "total": "n/a"}
    assert info.value.execution_id == "ex-1"


#: Longest a gated poll waits (only reached when the batch is not concurrent enough).
GATE_TIMEOUT = 10.0


class InFlight:
    """A fake API that records the most executions in flight at once. No execution
    completes before ``parallel`` are in flight together (events, not timing)."""

    def __init__(self, parallel: int) -> None:
        self.parallel = parallel
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.full = threading.Event()
        self.afull = asyncio.Event()

    def answer(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path.endswith("/agent/execute"):
                self.now += 1
                self.most = max(self.most, self.now)
                body = json_body(request)
                return httpx.Response(
                    201, json={"id": body["id"], "status": "enqueued", "usage": {}}
                )
            self.now -= 1
        done = {"invoice_id": "I", "total": 1}
        return execution(request.url.path.rsplit("/", 1)[-1], "completed", response=done)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.full.wait(GATE_TIMEOUT)  # the execution lasts until the batch is full
        response = self.answer(request)
        if self.most >= self.parallel:
            self.full.set()
        return response

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            await asyncio.wait_for(self.afull.wait(), GATE_TIMEOUT)
        response = self.answer(request)
        if self.most >= self.parallel:
            self.afull.set()
        return response


URLS = [f"https://example.com/{i}.pdf" for i in range(8)]


def test_batch_honours_max_concurrency() -> None:
    fake = InFlight(parallel=2)
    client = VLMRunClient(
        "k",
        base_url="https://api.test/v1",
        poll=PollSchedule.immediate(),
        http_client=httpx.Client(transport=httpx.MockTransport(fake.handler)),
    )
    results = VLMRunExtractor(response_model=Invoice, client=client).batch(
        URLS, config={"max_concurrency": 2}
    )
    assert len(results) == 8 and all(isinstance(r, Invoice) for r in results)
    assert fake.most == 2


async def test_abatch_honours_max_concurrency() -> None:
    fake = InFlight(parallel=3)
    client = AsyncVLMRunClient(
        "k",
        base_url="https://api.test/v1",
        poll=PollSchedule.immediate(),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake.ahandler)),
    )
    results = await VLMRunExtractor(response_model=Invoice, async_client=client).abatch(
        URLS, config={"max_concurrency": 3}
    )
    assert len(results) == 8
    assert fake.most == 3


async def test_ainvoke_uses_async_client() -> None:
    api = api_returning({"invoice_id": "A", "total": 1})
    extract = VLMRunExtractor(response_model=Invoice, async_client=api.async_client())
    assert (await extract.ainvoke("https://example.com/a.pdf")).invoice_id == "A"


PNG = b"\x89PNG\r\n\x1a\n receipt"


def uploading_api(response: object) -> ScriptedAPI:
    api = api_returning(response)
    api.on(
        "GET",
        "/files/hash/" + hashlib.md5(PNG).hexdigest(),
        httpx.Response(200, json={"id": None}),
    )
    return api.on("POST", "/files", httpx.Response(201, json={"id": "file-3"}))


@pytest.mark.parametrize("kind", ["path", "str", "blob_path", "blob_data", "bytes"])
def test_local_inputs_are_uploaded(tmp_path: Path, kind: str) -> None:
    file = tmp_path / "receipt.png"
    file.write_bytes(PNG)
    source = {
        "path": file,
        "str": str(file),
        "blob_path": Blob.from_path(file),
        "blob_data": Blob.from_data(PNG, path="receipt.png", mime_type="image/png"),
        "bytes": PNG,
    }[kind]
    api = uploading_api({"invoice_id": "R-1", "total": 9.75})
    result = VLMRunExtractor(response_model=Invoice, client=api.client()).invoke(source)
    assert result == Invoice(invoice_id="R-1", total=9.75)
    execute = next(r for r in api.requests if r.url.path.endswith("/agent/execute"))
    assert json_body(execute)["inputs"]["file"] == {"type": "input_file", "file_id": "file-3"}


def test_agent_name_is_sent_without_a_default_prompt() -> None:
    api = api_returning({"invoice_id": "INV-9", "total": 1})
    VLMRunExtractor(
        response_model=Invoice, agent_name="test-fixture-invoices:v2", client=api.client()
    ).invoke("https://example.com/inv.pdf")
    body = json_body(api.requests[0])
    assert body["name"] == "test-fixture-invoices:v2" and not (body.get("config") or {}).get(
        "prompt"
    )


def test_missing_file_is_a_file_source_error(tmp_path: Path) -> None:
    api = ScriptedAPI()
    with pytest.raises(FileSourceError, match="File not found"):
        VLMRunExtractor(response_model=Invoice, client=api.client()).invoke(tmp_path / "no.png")
    assert api.requests == []


# --- include_raw ---------------------------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_include_raw_returns_raw_parsed_and_no_error(use_async: bool) -> None:
    api = api_returning({"invoice_id": "INV-9", "total": 41.5})
    api.routes[("GET", "/agent/executions/ex-1")].clear()
    api.on(
        "GET",
        "/agent/executions/ex-1",
        execution(
            "ex-1",
            "completed",
            response={"invoice_id": "INV-9", "total": 41.5},
            usage={"credits_used": 4},
        ),
    )
    extract = VLMRunExtractor(
        response_model=Invoice,
        include_raw=True,
        client=api.client(),
        async_client=api.async_client(),
    )
    url = "https://example.com/inv.pdf"
    result: Any = await extract.ainvoke(url) if use_async else extract.invoke(url)
    assert set(result) == {"raw", "parsed", "parsing_error"}
    assert result["parsed"] == Invoice(invoice_id="INV-9", total=41.5)
    assert result["parsing_error"] is None
    raw = result["raw"]
    assert raw.id == "ex-1" and raw.status == "completed" and raw.usage.credits_used == 4


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_include_raw_reports_a_mismatch_instead_of_raising(use_async: bool) -> None:
    api = api_returning({"invoice_id": "INV-9", "total": "n/a"})
    extract = VLMRunExtractor(
        response_model=Invoice,
        include_raw=True,
        client=api.client(),
        async_client=api.async_client(),
    )
    url = "https://example.com/inv.pdf"
    result: Any = await extract.ainvoke(url) if use_async else extract.invoke(url)
    assert result["parsed"] is None
    assert isinstance(result["parsing_error"], ResponseValidationError)
    assert "total" in str(result["parsing_error"])
    assert result["raw"].id == "ex-1"
    assert result["raw"].response == {"invoice_id": "INV-9", "total": "n/a"}


def test_include_raw_does_not_cache_a_mismatch(tmp_path: Path) -> None:
    from langchain_core.stores import InMemoryByteStore

    from langchain_vlmrun import ResultCache

    api = api_returning({"invoice_id": "INV-9", "total": "n/a"})
    cache = ResultCache(InMemoryByteStore())
    extract = VLMRunExtractor(
        response_model=Invoice, include_raw=True, cache=cache, client=api.client()
    )
    for _ in range(2):
        result: Any = extract.invoke("https://example.com/inv.pdf")
        assert result["parsed"] is None
    assert api.calls("POST", "/agent/execute") == 2  # asked again: a mismatch is not kept


def test_include_raw_as_tool_still_returns_the_fields() -> None:
    api = api_returning({"invoice_id": "INV-9", "total": 41.5})
    tool = VLMRunExtractor(response_model=Invoice, include_raw=True, client=api.client()).as_tool()
    call = {"type": "tool_call", "id": "c1", "name": tool.name}
    message = tool.invoke({**call, "args": {"file": "https://example.com/inv.pdf"}})
    # the model reads the fields as JSON; the object itself is the message's artifact
    assert json.loads(message.content) == message.artifact == {"invoice_id": "INV-9", "total": 41.5}


class CountedInvoice(Invoice):
    """Counts its validations (a model's validator runs once per validation)."""

    validations: int = 0

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        CountedInvoice.validations += 1
        return super().model_validate(obj, **kwargs)


def test_a_response_is_validated_once_per_call_fresh_or_from_the_cache() -> None:
    from langchain_core.stores import InMemoryByteStore

    from langchain_vlmrun import ResultCache

    api = api_returning({"invoice_id": "INV-9", "total": "41.5"})
    cache = ResultCache(InMemoryByteStore())
    extract = VLMRunExtractor(response_model=CountedInvoice, client=api.client(), cache=cache)
    CountedInvoice.validations = 0
    assert extract.invoke("https://example.com/inv.pdf").invoice_id == "INV-9"
    assert CountedInvoice.validations == 1  # checked before caching, reused after
    assert extract.invoke("https://example.com/inv.pdf").total == 41.5  # from the cache
    assert CountedInvoice.validations == 2  # a cached record is validated on the way out
    assert api.calls("POST", "/agent/execute") == 1
