"""VLMRunExtractor, pinned: what is sent (prompt, agent, schema, callback, options,
timeout), what the execution child run shows, dict inputs, and ``as_tool`` (name,
description, confinement, messages the model reads, files closed), sync and async."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents.base import Blob
from pydantic import BaseModel

from langchain_vlmrun import ExecutionTimeoutError, ResponseValidationError, VLMRunClient
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.tools.extraction import ExtractorToolInput, VLMRunExtractor
from tests.mock_api import ScriptedAPI, execution, json_body, one_execution

URL = "https://example.com/inv.pdf"
PNG = b"\x89PNG\r\n\x1a\n receipt"


class PurchaseOrder(BaseModel):
    order_id: str
    total: float


GOOD = {"order_id": "PO-7", "total": 12.5}


def uploading(api: ScriptedAPI) -> ScriptedAPI:
    api.on(
        "GET", "/files/hash/" + hashlib.md5(PNG).hexdigest(), httpx.Response(200, json={"id": None})
    )
    return api.on("POST", "/files", httpx.Response(201, json={"id": "file-3"}))


def executed(api: ScriptedAPI) -> dict[str, Any]:
    return json_body(api.first("POST", "/agent/execute"))  # type: ignore[no-any-return]


def extractor(api: ScriptedAPI, **kwargs: Any) -> VLMRunExtractor[PurchaseOrder]:
    return VLMRunExtractor(
        response_model=PurchaseOrder,
        client=api.client(),
        async_client=api.async_client(),
        **kwargs,
    )


def refusing_client() -> VLMRunClient:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the sync client sent {request.method} {request.url.path}")

    return VLMRunClient(
        "k",
        base_url="https://api.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )


class Runs(BaseCallbackHandler):
    """The ``vlmrun_execution`` child runs: their inputs, and how each ended."""

    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []
        self.ends: list[Any] = []
        self.execution_run_ids: set[Any] = set()

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        if kwargs.get("name") == "vlmrun_execution":
            self.execution_run_ids.add(kwargs["run_id"])
            self.inputs.append(inputs)

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        if kwargs["run_id"] in self.execution_run_ids:
            self.ends.append(outputs)

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        if kwargs["run_id"] in self.execution_run_ids:
            self.ends.append(type(error).__name__)


# --- construction ---------------------------------------------------------------------------


def test_the_output_type_is_the_response_model() -> None:
    assert extractor(ScriptedAPI()).OutputType is PurchaseOrder


def test_a_response_model_must_be_a_pydantic_model() -> None:
    with pytest.raises(TypeError, match="response_model must be a pydantic BaseModel subclass"):
        VLMRunExtractor(response_model=dict, api_key="k")  # type: ignore[type-var]


def test_the_agent_name_is_checked() -> None:
    with pytest.raises(ValueError, match=r"Invalid agent name '\.\./x'"):
        VLMRunExtractor(response_model=PurchaseOrder, agent_name="../x", api_key="k")


# --- what is sent ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent_name", "prompt", "sent_prompt"),
    [
        (None, None, "Extract the PurchaseOrder fields from this file."),
        (None, "", "Extract the PurchaseOrder fields from this file."),
        (None, "Read the order.", "Read the order."),
        ("orders:v2", None, None),
        ("orders:v2", "Read the order.", "Read the order."),
    ],
)
def test_the_prompt_is_the_given_one_or_a_default_without_an_agent(
    agent_name: str | None, prompt: str | None, sent_prompt: str | None
) -> None:
    api = one_execution(GOOD)
    result = extractor(api, agent_name=agent_name, prompt=prompt).invoke(URL)
    assert result == PurchaseOrder(order_id="PO-7", total=12.5)
    body = executed(api)
    assert body["name"] == agent_name
    assert (body.get("config") or {}).get("prompt") == sent_prompt
    assert body["config"]["json_schema"] == PurchaseOrder.model_json_schema()
    assert body["inputs"]["file"] == {"type": "file_url", "file_url": {"url": URL}}


def test_callback_url_and_options_are_sent() -> None:
    api = one_execution(GOOD)
    extractor(
        api,
        callback_url="https://hooks.example.com/vlm",
        options=ExecuteOptions(service_tier="flex"),
    ).invoke(URL)
    body = executed(api)
    assert body["callback_url"] == "https://hooks.example.com/vlm"
    assert body["config"]["service_tier"] == "flex"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_wait_timeout_bounds_the_wait(use_async: bool) -> None:
    api = ScriptedAPI().on(
        "POST",
        "/agent/execute",
        lambda r: httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
    )
    api.on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))
    extract = extractor(api, wait_timeout=7)
    with pytest.raises(ExecutionTimeoutError):
        await extract.ainvoke(URL) if use_async else extract.invoke(URL)
    assert 0 < sum(api.sleeps) <= 7


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_file_dict_is_read_as_its_file(use_async: bool) -> None:
    api = one_execution(GOOD)
    extract = extractor(api)
    source: Any = {"file": URL}
    result = await extract.ainvoke(source) if use_async else extract.invoke(source)
    assert result == PurchaseOrder(order_id="PO-7", total=12.5)
    assert executed(api)["inputs"]["file"]["file_url"]["url"] == URL


def test_a_dict_without_file_says_what_the_extractor_takes() -> None:
    api = ScriptedAPI()
    with pytest.raises(TypeError) as raised:
        extractor(api).invoke({"x": 1, "path": URL})  # type: ignore[arg-type]
    assert str(raised.value) == (
        "The extractor takes a path, URL, bytes, Blob or {'file': ...}; got a dict with "
        "keys ['path', 'x']."
    )
    assert api.requests == []


async def test_ainvoke_uses_only_the_async_client() -> None:
    api = one_execution(GOOD)
    extract = VLMRunExtractor(
        response_model=PurchaseOrder, client=refusing_client(), async_client=api.async_client()
    )
    assert await extract.ainvoke(URL) == PurchaseOrder(order_id="PO-7", total=12.5)


# --- the execution child run --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("https://user:secret@example.com/inv.pdf", "https://example.com/inv.pdf"),
        (PNG, f"<{len(PNG)} bytes>"),
        (Blob.from_data(PNG, path="receipt.png", mime_type="image/png"), "receipt.png"),
        (Blob.from_data(PNG, mime_type="image/png"), "<blob>"),
    ],
    ids=["url", "bytes", "blob-with-path", "blob-without-path"],
)
def test_the_execution_run_shows_the_source_without_secrets_or_content(
    source: Any, shown: str
) -> None:
    api = uploading(one_execution(GOOD, credits_used=4))
    runs = Runs()
    extractor(api, agent_name="orders:v2").invoke(source, config={"callbacks": [runs]})
    assert runs.inputs == [{"source": shown, "agent": "orders:v2", "prompt": None}]
    assert runs.ends == [
        {
            "execution_id": "ex-1",
            "agent": "orders:v2",
            "status": "completed",
            "credits_used": 4,
            "usage": {"credits_used": 4},
            "from_cache": False,
        }
    ]


def test_the_execution_run_shows_a_local_path(tmp_path: Path) -> None:
    file = tmp_path / "receipt.png"
    file.write_bytes(PNG)
    api = uploading(one_execution(GOOD))
    runs = Runs()
    extractor(api).invoke(file, config={"callbacks": [runs]})
    assert runs.inputs == [
        {
            "source": str(file),
            "agent": None,
            "prompt": "Extract the PurchaseOrder fields from this file.",
        }
    ]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("include_raw", [False, True], ids=["raise", "include_raw"])
async def test_a_mismatch_still_shows_the_paid_execution_in_its_run(
    use_async: bool, include_raw: bool
) -> None:
    api = one_execution({"order_id": "PO-7", "total": "n/a"}, credits_used=3)
    runs = Runs()
    extract = extractor(api, include_raw=include_raw)
    config: Any = {"callbacks": [runs]}
    if include_raw:
        result = await extract.ainvoke(URL, config) if use_async else extract.invoke(URL, config)
        assert isinstance(result["parsing_error"], ResponseValidationError)  # type: ignore[index]
    else:
        with pytest.raises(ResponseValidationError, match="does not match PurchaseOrder"):
            await extract.ainvoke(URL, config) if use_async else extract.invoke(URL, config)
    assert runs.ends == [
        {
            "execution_id": "ex-1",
            "agent": "agent:v1",
            "status": "completed",
            "credits_used": 3,
            "usage": {"credits_used": 3},
        }
    ]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_failure_before_any_execution_fails_the_run(use_async: bool) -> None:
    api = ScriptedAPI().on(
        "POST", "/agent/execute", httpx.Response(400, json={"detail": "Bad file"})
    )
    runs = Runs()
    extract = extractor(api)
    config: Any = {"callbacks": [runs]}
    with pytest.raises(Exception, match="Bad file"):
        await extract.ainvoke(URL, config) if use_async else extract.invoke(URL, config)
    assert runs.ends == ["BadRequestError"]


# --- as a tool ----------------------------------------------------------------------------


def test_as_tool_is_named_and_described_after_the_model() -> None:
    tool = extractor(ScriptedAPI()).as_tool()
    assert tool.name == "extract_purchase_order"
    assert tool.description == (
        "Extracts PurchaseOrder fields (order_id, total) from a document, image, audio or "
        "video file. Input: `file`, an http(s) URL."
    )
    assert tool.args_schema is ExtractorToolInput
    assert tool.args == {
        "file": {
            "description": "The file to read: an http(s) URL or an allowed local path.",
            "title": "File",
            "type": "string",
        }
    }


def test_as_tool_description_names_the_allowed_folders(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    tool = extractor(ScriptedAPI()).as_tool(root_dir=[first, str(second)])
    assert tool.description.endswith(
        f"Input: `file`, an http(s) URL or a path inside {first.resolve()}, {second.resolve()}."
    )


def test_as_tool_takes_a_name_description_and_schema() -> None:
    class Orders(BaseModel):
        file: str
        note: str = ""

    tool = extractor(ScriptedAPI()).as_tool(Orders, name="orders", description="Reads orders.")
    assert (tool.name, tool.description, tool.args_schema) == ("orders", "Reads orders.", Orders)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_as_tool_returns_the_fields_as_json(use_async: bool) -> None:
    api = one_execution({"order_id": "PO-7", "total": "12.5"})
    tool = extractor(api, include_raw=True).as_tool()
    args = {"file": URL}
    result = await tool.ainvoke(args) if use_async else tool.invoke(args)
    assert json.loads(result) == {"order_id": "PO-7", "total": 12.5}


async def test_as_tool_async_uses_only_the_async_client() -> None:
    api = one_execution(GOOD)
    tool = VLMRunExtractor(
        response_model=PurchaseOrder, client=refusing_client(), async_client=api.async_client()
    ).as_tool()
    assert json.loads(await tool.ainvoke({"file": URL})) == GOOD


def test_as_tool_leaves_the_extractor_as_it_was() -> None:
    api = one_execution(GOOD)
    extract = extractor(api, include_raw=True)
    extract.as_tool()
    assert extract.include_raw is True
    assert set(extract.invoke(URL)) == {"raw", "parsed", "parsing_error"}  # type: ignore[arg-type]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_as_tool_without_folders_tells_the_model_to_pass_a_url(
    use_async: bool, tmp_path: Path
) -> None:
    (tmp_path / "scan.png").write_bytes(PNG)
    api = ScriptedAPI()
    tool = extractor(api).as_tool()
    args = {"file": str(tmp_path / "scan.png")}
    result = await tool.ainvoke(args) if use_async else tool.invoke(args)
    assert result == (
        "Reading local files is disabled for this tool: pass an http(s) URL instead. "
        "(Developers: allow a folder with root_dir=...)"
    )
    assert api.requests == []


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_as_tool_refuses_a_path_outside_its_folders(use_async: bool, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "secret.png").write_bytes(PNG)
    api = ScriptedAPI()
    tool = extractor(api).as_tool(root_dir=inbox)
    args = {"file": "../secret.png"}
    result = await tool.ainvoke(args) if use_async else tool.invoke(args)
    assert result == (
        f"../secret.png is outside the folders this tool may read ({inbox.resolve()}); "
        "use a file inside them or an http(s) URL."
    )
    assert api.requests == []


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("matches", [True, False], ids=["match", "mismatch"])
async def test_as_tool_uploads_a_file_inside_its_folder_and_closes_it(
    use_async: bool, matches: bool, tmp_path: Path, closed_files: list[str]
) -> None:
    (tmp_path / "receipt.png").write_bytes(PNG)
    api = uploading(one_execution(GOOD if matches else {"order_id": 1}))
    runs = Runs()
    tool = extractor(api).as_tool(root_dir=tmp_path)
    args: Any = {"file": "receipt.png"}
    config: Any = {"callbacks": [runs]}
    result = await tool.ainvoke(args, config) if use_async else tool.invoke(args, config)
    if matches:
        assert json.loads(result) == GOOD
    else:  # the model is told (it may try another file), the agent is not stopped
        assert "PurchaseOrder" in result and "order_id" in result
    assert closed_files[-1:] == ["receipt.png"]
    assert executed(api)["inputs"]["file"] == {"type": "input_file", "file_id": "file-3"}
    assert runs.inputs[0]["source"] == "receipt.png"  # the opened file, by its name


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("matches", [True, False], ids=["match", "mismatch"])
async def test_the_execution_run_names_the_extractors_agent(use_async: bool, matches: bool) -> None:
    api = one_execution(GOOD if matches else {"order_id": 1}, credits_used=2)
    runs = Runs()
    extract = extractor(api, agent_name="orders:v2", include_raw=True)
    config: Any = {"callbacks": [runs]}
    await extract.ainvoke(URL, config) if use_async else extract.invoke(URL, config)
    assert [end["agent"] for end in runs.ends] == ["orders:v2"]  # not the execution's name


class Dated(BaseModel):
    issued: date
    total: Decimal


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_as_tool_returns_json_values(use_async: bool) -> None:
    api = one_execution({"issued": "2026-01-31", "total": "12.50"})
    tool = VLMRunExtractor(
        response_model=Dated, client=api.client(), async_client=api.async_client()
    ).as_tool()
    args = {"file": URL}
    result = await tool.ainvoke(args) if use_async else tool.invoke(args)
    assert json.loads(result) == {"issued": "2026-01-31", "total": "12.50"}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_as_tool_messages_stay_within_max_content_chars(use_async: bool) -> None:
    call: Any = {"type": "tool_call", "id": "c1", "name": "extract_purchase_order"}
    huge = {"order_id": "\x1b[31m" + "P" * 200_000, "total": 1.0}
    tool = extractor(one_execution(huge)).as_tool(max_content_chars=500)
    message = (
        await tool.ainvoke({**call, "args": {"file": URL}})
        if use_async
        else tool.invoke({**call, "args": {"file": URL}})
    )
    assert len(message.content) <= 500 and "\x1b" not in message.content
    assert "truncated" in message.content
    assert message.artifact["order_id"].endswith("P" * 1000)  # the whole object is kept
    # a failed execution with a 5 MB message: an error the model reads, capped
    failed = one_execution(None, status="failed")
    failed.on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "failed", error="boom " * 1_000_000),
    )
    tool = extractor(failed).as_tool()
    message = (
        await tool.ainvoke({**call, "args": {"file": URL}})
        if use_async
        else tool.invoke({**call, "args": {"file": URL}})
    )
    assert message.status == "error" and len(message.content) <= 2000
