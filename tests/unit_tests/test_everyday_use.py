"""Everyday use, as a user calls the package (issue 26): what is wrong is refused before
any request, with a message naming the fix — negative or non-numeric waits, a Blob
whose bytes are not what its MIME type says, a ``base_url`` without the API prefix —
and stopping ``lazy_load`` early submits nothing new."""

from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob

from langchain_vlmrun import (
    FileSourceError,
    NotFoundError,
    VLMRunClient,
    VLMRunLoader,
    VLMRunParser,
)
from tests.mock_api import ScriptedAPI, one_execution

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.fixture
def api() -> ScriptedAPI:
    return one_execution({"text": "hello"})


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    return path


# --- waits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait", "error", "says"),
    [
        (-1, ValueError, "wait_timeout must be a number > 0, got -1."),
        (0, ValueError, "wait_timeout must be a number > 0, got 0."),
        (float("nan"), ValueError, "wait_timeout must be a number > 0, got nan."),
        ("30", TypeError, "wait_timeout must be a number > 0, got str '30'."),
    ],
)
def test_a_wait_that_cannot_be_is_refused_before_any_request(
    api: ScriptedAPI, pdf: Path, wait: Any, error: type[Exception], says: str
) -> None:
    client = api.client()
    with pytest.raises(error) as run:
        client.run(pdf, prompt="Read it", wait_timeout=wait)
    with pytest.raises(error) as waited:
        client.wait("ex-1", wait_timeout=wait)

    async def in_async() -> None:
        async with api.async_client() as aclient:
            await aclient.run(pdf, prompt="Read it", wait_timeout=wait)

    with pytest.raises(error) as arun:
        asyncio.run(in_async())
    assert str(run.value) == str(waited.value) == str(arun.value) == says
    assert api.requests == []  # nothing uploaded, nothing paid


def test_timeout_is_not_a_run_argument_and_says_which_one_is(api: ScriptedAPI, pdf: Path) -> None:
    with pytest.raises(TypeError, match=r"did you mean 'wait_timeout'\?"):
        api.client().run(pdf, prompt="Read it", timeout=-1)
    assert api.requests == []


def test_a_component_refuses_a_negative_wait_when_built(pdf: Path) -> None:
    with pytest.raises(ValueError, match="wait_timeout"):
        VLMRunLoader(pdf, prompt="Read it", api_key="k", wait_timeout=-1)


# --- blobs ---------------------------------------------------------------------------


def test_a_blob_whose_bytes_are_not_its_mime_type_is_refused_unpaid(api: ScriptedAPI) -> None:
    lying = Blob.from_data(b"hello", mime_type="application/pdf")
    parser = VLMRunParser(prompt="Read it", client=api.client(), cache=False)
    with pytest.raises(FileSourceError) as refused:
        parser.parse(lying)
    assert str(refused.value) == (
        "the data is declared as application/pdf but its first bytes match no format VLM "
        "Run reads (is it text, or damaged?). Check the bytes and the Blob's mime_type; "
        "nothing was uploaded."
    )
    with pytest.raises(FileSourceError, match="declared as application/pdf"):
        api.client().run(lying, prompt="Read it")
    assert api.requests == []
    # the same bytes as a .pdf path were refused already, and still are
    with pytest.raises(FileSourceError, match=r"does not look like a \.pdf file"):
        api.client().run(Blob.from_data(b"hello", path="hello.pdf"), prompt="Read it")
    assert api.requests == []
    # a Blob that is what it says goes through
    api.on("POST", "/files", httpx.Response(200, json={"id": "file-1", "bytes": len(PDF)}))
    (doc,) = parser.parse(Blob.from_data(PDF, mime_type="application/pdf"))
    assert doc.page_content == "hello"


# --- base_url -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["https://api.vlm.run", "https://api.vlm.run/", "http://vlm.run"]
)
def test_vlm_runs_own_host_without_v1_is_refused_when_built(base_url: str) -> None:
    with pytest.raises(ValueError) as refused:
        VLMRunClient("k", base_url=base_url)
    assert str(refused.value) == (
        f"base_url {base_url.rstrip('/')!r} lacks the API prefix: base_url should end in /v1 "
        "(https://api.vlm.run/v1)."
    )
    VLMRunClient("k", base_url="https://api.vlm.run/v1").close()  # the default itself


def test_another_host_without_v1_says_so_on_its_first_404() -> None:
    sent: list[httpx.Request] = []

    def not_here(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404, json={"detail": "Not Found"})

    client = VLMRunClient(
        "k",
        base_url="https://gateway.example",
        http_client=httpx.Client(transport=httpx.MockTransport(not_here)),
    )
    with pytest.raises(NotFoundError) as missing:
        client.get_execution("ex-1")
    assert str(missing.value).endswith(
        "Is base_url 'https://gateway.example' the API's address? base_url should end in "
        "/v1 (VLM Run's is https://api.vlm.run/v1)."
    )
    assert len(sent) == 1  # found out by the call itself: no request added
    # with the prefix, a 404 is about what was asked for, as before
    versioned = VLMRunClient(
        "k",
        base_url="https://gateway.example/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(not_here)),
    )
    with pytest.raises(NotFoundError) as plain:
        versioned.get_execution("ex-1")
    assert "base_url" not in str(plain.value)


# --- stopping lazy_load early -----------------------------------------------------------


def test_breaking_out_of_lazy_load_submits_nothing_new(tmp_path: Path) -> None:
    """Two sources taken, the next ones running (uploading, or waiting for their turn
    to) when the loop breaks: none is submitted, those after them never start, and the
    break returns at once."""
    uploads = threading.Semaphore(0)
    api = ScriptedAPI()

    def upload(request: httpx.Request) -> httpx.Response:
        # which file, by its name (not by the order of the calls: on a busy machine the
        # first file can finish before the second one starts, and the third then
        # uploads beside the second)
        (number,) = (i for i in range(12) if f'filename="doc{i}.pdf"'.encode() in request.content)
        if number >= 2:
            # the files after the first two wait for the break (a bound long enough for a
            # busy machine: timed out, they would go on and submit)
            uploads.acquire(timeout=60)
        return httpx.Response(200, json={"id": f"file-{number}", "bytes": len(PDF)})

    api.defaults[("POST", "/files")] = upload
    executions = itertools.count(1)
    api.defaults[("POST", "/agent/execute")] = lambda r: httpx.Response(
        201, json={"id": f"ex-{next(executions)}", "status": "enqueued", "usage": {}}
    )
    for n in range(1, 13):  # each execution its own id, as the server gives
        api.defaults[("GET", f"/agent/executions/ex-{n}")] = httpx.Response(
            200,
            json={
                "id": f"ex-{n}",
                "status": "completed",
                "name": "a:1",
                "response": {"text": "t"},
                "usage": {},
            },
        )
    paths = []
    for i in range(12):
        path = tmp_path / f"doc{i}.pdf"
        path.write_bytes(PDF + bytes([i]))
        paths.append(path)
    loader = VLMRunLoader(paths, prompt="Read it", client=api.client(), max_concurrency=2)
    taken = []
    for doc in loader.lazy_load():
        taken.append(doc)
        if len(taken) == 2:
            break
    executed_at_break = api.calls("POST", "/agent/execute")
    sent_at_break = [f"{r.method} {r.url.path}" for r in api.requests]
    uploads.release(12)  # the uploads running when the loop broke now end...
    for thread in threading.enumerate():
        if thread.name.startswith("vlmrun_"):
            thread.join(5)
    assert executed_at_break == 2, sent_at_break  # (the order, should this ever fail)
    assert api.calls("POST", "/agent/execute") == 2  # ...and submit nothing
    assert api.calls("POST", "/files") <= 6  # those not started never were
