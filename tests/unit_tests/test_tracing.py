"""What callback handlers and astream_events see: the execution behind each tool and
extractor run, and one progress event per source from the loader and the parser."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecutionFailedError,
    PollSchedule,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunExtractor,
    VLMRunLoader,
    VLMRunParser,
)

BASE = "https://api.test/v1"
AGENT = "reader:v1"  # test data: the fake service below knows any agent name


class Receipt(BaseModel):
    total: float


def service(request: httpx.Request) -> httpx.Response:
    """Uploads get id ``file-<name>``; executions complete at once with id
    ``ex-<name>`` (``broken.pdf`` fails)."""
    request.read()
    path = request.url.path.removeprefix("/v1")
    if request.method == "POST" and path == "/agent/lookup":  # the name check: it exists
        return httpx.Response(200, json={"id": "agent-1", "name": AGENT, "status": "active"})
    if request.method == "POST" and path == "/files":
        match = re.search(rb'filename="([^"]+)"', request.content)
        assert match is not None
        name = match.group(1).decode()
        return httpx.Response(201, json={"id": f"file-{name}", "filename": name})
    if request.method == "POST" and path == "/agent/execute":
        file = json.loads(request.content)["inputs"]["file"]
        if "file_id" in file:
            name = file["file_id"].removeprefix("file-")
        else:
            name = file["file_url"]["url"].rsplit("/")[-1]
        if name == "broken.pdf":
            body = {"id": "ex-broken.pdf", "status": "failed", "usage": {"message": "unreadable"}}
            return httpx.Response(201, json=body)
        return httpx.Response(
            201,
            json={
                "id": f"ex-{name}",
                "name": AGENT,
                "status": "completed",
                "response": {"total": 9.75, "pages": [{"content": f"text of {name}"}]},
                "usage": {"credits_used": 3, "elements_processed": 1},
            },
        )
    return httpx.Response(404, json={"detail": f"no route {request.method} {path}"})


async def aservice(request: httpx.Request) -> httpx.Response:
    return service(request)


def sync_client() -> VLMRunClient:
    return VLMRunClient(
        "test-key",
        base_url=BASE,
        http_client=httpx.Client(transport=httpx.MockTransport(service)),
        poll=PollSchedule.immediate(),
    )


def async_client() -> AsyncVLMRunClient:
    return AsyncVLMRunClient(
        "test-key",
        base_url=BASE,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(aservice)),
        poll=PollSchedule.immediate(),
    )


class Recorder(BaseCallbackHandler):
    """Keeps run starts, ends and custom events, in the order they arrive."""

    run_inline = True  # called in the caller's thread/loop, in order

    def __init__(self) -> None:
        self.starts: dict[UUID, dict[str, Any]] = {}
        self.ends: dict[UUID, Any] = {}
        self.errors: dict[UUID, BaseException] = {}
        self.events: list[tuple[str, Any, UUID]] = []

    def _start(self, kind: str, run_id: UUID, parent: UUID | None, **kwargs: Any) -> None:
        self.starts[run_id] = {"kind": kind, "parent": parent, "name": kwargs.get("name")}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self._start("chain", run_id, kw.get("parent_run_id"), name=kw.get("name"))
        self.starts[run_id]["inputs"] = inputs

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, **kw: Any) -> None:
        self._start("tool", run_id, kw.get("parent_run_id"), name=serialized.get("name"))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.ends[run_id] = outputs

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.ends[run_id] = output

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.errors[run_id] = error

    def on_custom_event(
        self, name: str, data: Any, *, run_id: UUID, tags: Any = None, metadata: Any = None
    ) -> None:
        self.events.append((name, data, run_id))

    def runs(self, name: str) -> list[UUID]:
        return [run_id for run_id, start in self.starts.items() if start["name"] == name]


def execution_output(recorder: Recorder, parent_kind: str) -> dict[str, Any]:
    """The outputs of the one ``vlmrun_execution`` run, checked to hang under the
    component's own run."""
    (run_id,) = recorder.runs("vlmrun_execution")
    parent = recorder.starts[run_id]["parent"]
    assert recorder.starts[parent]["kind"] == parent_kind
    output: dict[str, Any] = recorder.ends[run_id]
    return output


# --- tool and extractor --------------------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_tool_run_shows_the_execution_to_callbacks(use_async: bool) -> None:
    recorder = Recorder()
    tool = VLMRunAgentTool(agent_name=AGENT, client=sync_client(), async_client=async_client())
    args = {"file": "https://example.com/receipt.png"}
    config: Any = {"callbacks": [recorder]}
    if use_async:
        content = await tool.ainvoke(args, config)
    else:
        content = tool.invoke(args, config)
    assert "text of receipt.png" in content  # plain args: only the text comes back ...
    output = execution_output(recorder, "tool")  # ... yet callbacks see the execution
    assert output["execution_id"] == "ex-receipt.png"
    assert output["agent"] == AGENT and output["status"] == "completed"
    assert output["credits_used"] == 3 and output["usage"]["elements_processed"] == 1
    (run_id,) = recorder.runs("vlmrun_execution")
    assert recorder.starts[run_id]["inputs"]["source"] == "https://example.com/receipt.png"


def test_failed_tool_execution_is_an_error_on_the_execution_run() -> None:
    recorder = Recorder()
    tool = VLMRunAgentTool(prompt="Read it.", client=sync_client())
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "c1",
            "name": tool.name,
            "args": {"file": "https://x.test/broken.pdf"},
        },
        {"callbacks": [recorder]},
    )
    assert message.status == "error"  # the model is told, the run is not aborted
    (run_id,) = recorder.runs("vlmrun_execution")
    assert "ex-broken.pdf" in str(recorder.errors[run_id])


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_extractor_run_shows_the_execution_to_callbacks(use_async: bool) -> None:
    recorder = Recorder()
    extract = VLMRunExtractor(
        response_model=Receipt, client=sync_client(), async_client=async_client()
    )
    config: Any = {"callbacks": [recorder]}
    source = "https://example.com/receipt.png"
    receipt = await extract.ainvoke(source, config) if use_async else extract.invoke(source, config)
    assert receipt == Receipt(total=9.75)
    output = execution_output(recorder, "chain")
    assert output["execution_id"] == "ex-receipt.png" and output["credits_used"] == 3
    assert output["status"] == "completed" and output["from_cache"] is False


# --- loader and parser ---------------------------------------------------------------------

URLS = [f"https://example.com/doc{i}.pdf" for i in range(3)]


def loader(sources: list[str], **kwargs: Any) -> VLMRunLoader:
    return VLMRunLoader(
        sources, agent_name=AGENT, client=sync_client(), async_client=async_client(), **kwargs
    )


def source_events(recorder: Recorder) -> list[dict[str, Any]]:
    return [data for name, data, _ in recorder.events if name == "vlmrun_source"]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_loader_emits_one_event_per_source(use_async: bool) -> None:
    recorder = Recorder()
    load = loader(URLS, callbacks=[recorder], max_concurrency=2)
    docs = [d async for d in load.alazy_load()] if use_async else load.load()
    assert len(docs) == 3
    events = source_events(recorder)
    assert [e["source"] for e in events] == URLS
    assert [e["execution_id"] for e in events] == [f"ex-doc{i}.pdf" for i in range(3)]
    assert [e["done"] for e in events] == [1, 2, 3] and {e["total"] for e in events} == {3}
    assert all(e["status"] == "loaded" and e["credits_used"] == 3 for e in events)
    assert all(e["agent"] == AGENT and e["documents"] == 1 for e in events)
    # the events belong to one VLMRunLoader run, which ends with a summary
    (run_id,) = recorder.runs("VLMRunLoader")
    assert {run for _, _, run in recorder.events} == {run_id}
    assert recorder.starts[run_id]["inputs"] == {"sources": URLS}
    assert recorder.ends[run_id] == {
        "sources": 3,
        "failed": 0,
        "documents": 3,
        "credits_used": 9.0,
    }


def test_loader_reports_failures_as_events() -> None:
    recorder = Recorder()
    sources = [URLS[0], "https://example.com/broken.pdf"]
    load = loader(sources, callbacks=[recorder], on_error="skip")
    assert len(load.load()) == 1
    failed = source_events(recorder)[1]
    assert failed["status"] == "failed" and failed["error_type"] == "ExecutionFailedError"
    assert failed["execution_id"] == "ex-broken.pdf" and "unreadable" in failed["error"]


def test_loader_stopped_early_ends_its_run() -> None:
    recorder = Recorder()
    docs = loader(URLS, callbacks=[recorder], max_concurrency=1).lazy_load()
    next(docs)
    docs.close()
    (run_id,) = recorder.runs("VLMRunLoader")
    assert recorder.ends[run_id]["stopped"] is True


async def test_loader_events_show_in_astream_events() -> None:
    load = loader(URLS)

    async def read(_: object) -> list[Document]:
        return [doc async for doc in load.alazy_load()]

    chain = RunnableLambda(read, name="ingest")
    events = [e async for e in chain.astream_events(None, version="v2")]
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [e["data"]["execution_id"] for e in custom] == [f"ex-doc{i}.pdf" for i in range(3)]
    assert all(e["name"] == "vlmrun_source" for e in custom)
    loader_start = next(
        e for e in events if e["event"] == "on_chain_start" and e["name"] == "VLMRunLoader"
    )
    assert loader_start["parent_ids"]  # nested under the chain it was called from


def test_parser_emits_one_event_per_blob() -> None:
    recorder = Recorder()
    parser = VLMRunParser(agent_name=AGENT, client=sync_client(), callbacks=[recorder])
    for name in ("a.pdf", "b.pdf"):
        docs = parser.parse(Blob.from_data(b"%PDF-1.4\n% " + name.encode(), path=name))
        assert [d.page_content for d in docs] == [f"text of {name}"]
    events = source_events(recorder)
    assert [(e["source"], e["execution_id"]) for e in events] == [
        ("a.pdf", "ex-a.pdf"),
        ("b.pdf", "ex-b.pdf"),
    ]
    assert len(recorder.runs("VLMRunParser")) == 2  # one run per Blob


def test_parser_failure_is_an_event_and_an_error() -> None:
    recorder = Recorder()
    parser = VLMRunParser(agent_name=AGENT, client=sync_client(), callbacks=[recorder])
    with pytest.raises(ExecutionFailedError):
        parser.parse(Blob.from_data(b"%PDF-1.4\n", path="broken.pdf"))
    (event,) = source_events(recorder)
    assert event["status"] == "failed" and event["execution_id"] == "ex-broken.pdf"
    (run_id,) = recorder.runs("VLMRunParser")
    assert isinstance(recorder.errors[run_id], ExecutionFailedError)
