"""The bad-input catalogue: each case gets a typed error that says what to do, and
leaves no partial output and no cached result behind.

Every case runs through the user-facing loader (``on_error="raise"``) with a result
cache, against an ``httpx.MockTransport`` API (no network).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel

from langchain_vlmrun import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    FileSourceError,
    InternalServerError,
    LoaderError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PollSchedule,
    RequestTooLargeError,
    ResponseValidationError,
    ResultCache,
    VLMRunClient,
    VLMRunLoader,
    VLMRunParser,
)
from tests.mock_api import BASE, ScriptedAPI, execution

PDF = b"%PDF-1.4 catalogue document"
MD5 = hashlib.md5(PDF).hexdigest()


class Invoice(BaseModel):
    invoice_id: str
    total: float


@dataclass
class Case:
    """One bad input: how to build it, the error it must raise, and the advice it gives."""

    source: Callable[[Path], Any]
    error: type[Exception]
    advice: str
    api: Callable[[ScriptedAPI], None] = lambda api: None
    client: dict[str, Any] = field(default_factory=dict)
    loader: dict[str, Any] = field(default_factory=dict)
    resumable: bool = False  # leaves a "submitted" record so a later run does not pay again


def good_file(tmp: Path) -> str:
    path = tmp / "doc.pdf"
    path.write_bytes(PDF)
    return str(path)


def uploads_fine(api: ScriptedAPI) -> None:
    api.on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "doc.pdf"}))


def execute_answers(*replies: httpx.Response | Exception) -> Callable[[ScriptedAPI], None]:
    def script(api: ScriptedAPI) -> None:
        uploads_fine(api)
        api.on("POST", "/agent/execute", *replies)

    return script


def execution_ends(*polls: httpx.Response) -> Callable[[ScriptedAPI], None]:
    def script(api: ScriptedAPI) -> None:
        uploads_fine(api)
        api.on(
            "POST",
            "/agent/execute",
            httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}}),
        )
        api.on("GET", "/agent/executions/ex-1", *polls)

    return script


def status(code: int, **body: Any) -> httpx.Response:
    return httpx.Response(code, json=body or {"detail": "refused"})


def write(name: str, data: bytes) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        (tmp / name).write_bytes(data)
        return str(tmp / name)

    return make


CASES: dict[str, Case] = {
    "missing path": Case(
        lambda t: str(t / "nope.pdf"), FileSourceError, r"File not found.*Check the path"
    ),
    "directory where a file was expected": Case(
        lambda t: Blob.from_path(t), FileSourceError, r"is a directory.*use VLMRunLoader"
    ),
    "empty file": Case(
        write("empty.pdf", b""), FileSourceError, r"empty \(0 bytes\); check it was written"
    ),
    "unreadable file": Case(
        write("locked.pdf", PDF), FileSourceError, r"Permission denied.*make it readable"
    ),
    "unsupported extension": Case(
        write("notes.txt", b"hi"), FileSourceError, r"Unsupported file type '.txt'.*reads"
    ),
    "file over the size limit": Case(
        good_file,
        FileSourceError,
        r"over the 10-byte limit.*split or compress",
        client={"max_file_size": 10},
    ),
    "bad URL scheme": Case(
        lambda t: "ftp://example.com/doc.pdf", FileSourceError, r"only http:// and https://"
    ),
    "malformed URL": Case(
        lambda t: "https:///doc.pdf", FileSourceError, r"Malformed URL.*https://example.com"
    ),
    "missing API key": Case(
        good_file, MissingAPIKeyError, r"set the VLMRUN_API_KEY", client={"api_key": None}
    ),
    "401 bad key": Case(
        good_file,
        AuthenticationError,
        r"Invalid API key.*Check VLMRUN_API_KEY",
        api=lambda a: a.on("GET", f"/files/hash/{MD5}", status(401, detail="Invalid API key")),
    ),
    "402 out of credits": Case(
        good_file,
        PaymentRequiredError,
        r"Top up credits",
        api=execute_answers(status(402, detail="Insufficient credits")),
    ),
    "403 forbidden": Case(
        good_file,
        PermissionDeniedError,
        r"check the agent name and the key's workspace",
        api=execute_answers(status(403, detail="Forbidden")),
    ),
    "404 unknown agent": Case(
        good_file,
        NotFoundError,
        r"Agent 'nope:v1' not found.*Check the agent name",
        api=execute_answers(status(404, detail="Agent 'nope:v1' not found")),
    ),
    "422 bad schema": Case(
        good_file,
        BadRequestError,
        r"config.json_schema: Invalid JSON schema.*fix the fields",
        api=execute_answers(
            status(
                422,
                detail=[
                    {
                        "loc": ["body", "config", "json_schema"],
                        "msg": "Invalid JSON schema",
                        "type": "value_error",
                    }
                ],
            )
        ),
    ),
    "413 too large": Case(
        good_file,
        RequestTooLargeError,
        r"too large.*smaller file",
        api=lambda a: (
            a.on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None})),
            a.on("POST", "/files", status(413, detail="Request entity too large")),
        ),
    ),
    "non-JSON 502 body": Case(
        good_file,
        InternalServerError,
        r"502 Bad Gateway.*try again later",
        api=lambda a: a.on(
            "GET",
            f"/files/hash/{MD5}",
            httpx.Response(
                502,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                headers={"content-type": "text/html"},
            ),
        ),
    ),
    "malformed JSON body": Case(
        good_file,
        APIError,
        r"Unreadable response.*try again later",
        api=lambda a: a.on(
            "GET",
            f"/files/hash/{MD5}",
            httpx.Response(200, text="{oops", headers={"content-type": "application/json"}),
        ),
    ),
    "execution failed": Case(
        good_file,
        ExecutionFailedError,
        r"Could not decode page 3.*check the input file",
        api=execution_ends(
            execution("ex-1", "failed", usage={"message": "Could not decode page 3"})
        ),
    ),
    "execution paused beyond the timeout": Case(
        good_file,
        ExecutionTimeoutError,
        r"still 'paused'.*resume with client.wait\('ex-1'\)",
        api=execution_ends(execution("ex-1", "paused")),
        loader={"timeout": 2},
        resumable=True,
    ),
    "wait timeout carries the id": Case(
        good_file,
        ExecutionTimeoutError,
        r"ex-1.*still 'running'.*raise the timeout",
        api=execution_ends(execution("ex-1", "running")),
        loader={"timeout": 2},
        resumable=True,
    ),
    "structured response that does not validate": Case(
        good_file,
        ResponseValidationError,
        r"does not match Invoice.*total.*loosen the model",
        api=execution_ends(execution("ex-1", "completed", response={"invoice_id": "A"})),
        loader={"response_model": Invoice},
    ),
    "network down": Case(
        good_file,
        APIConnectionError,
        r"Could not reach VLM Run.*Check the network",
        api=lambda a: a.on(
            "GET", f"/files/hash/{MD5}", httpx.ConnectError("Network is unreachable")
        ),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    api = ScriptedAPI()
    case.api(api)
    client_options = {"max_retries": 1, "poll": PollSchedule(initial=1, maximum=1), **case.client}
    key = client_options.pop("api_key", "sk-test")
    client = VLMRunClient(
        key,
        base_url=BASE,
        http_client=httpx.Client(transport=httpx.MockTransport(api.handler)),
        sleep=api.sleep,
        clock=api.clock,
        **client_options,
    )
    store = InMemoryByteStore()
    cache = ResultCache(store)
    source = case.source(tmp_path)
    if name == "unreadable file":
        real_open = Path.open

        def locked(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self.name == "locked.pdf":
                raise PermissionError(13, "Permission denied")
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", locked)

    produced: list[Any] = []
    if isinstance(source, Blob):
        parser = VLMRunParser(prompt="Read it", client=client, cache=cache)
        with pytest.raises(case.error) as info:
            produced.extend(parser.lazy_parse(source))
        error: BaseException = info.value
    else:
        loader = VLMRunLoader(source, prompt="Read it", client=client, cache=cache, **case.loader)
        with pytest.raises(LoaderError) as raised:
            produced.extend(loader.lazy_load())
        assert raised.value.source == source  # names the source
        error = raised.value.cause
        assert isinstance(error, case.error), repr(error)
        assert [f.source for f in loader.failures] == [source]

    assert re_search(case.advice, str(error)), str(error)
    assert "sk-test" not in str(error)
    assert produced == []  # no partial output
    records = [cache.get(k) for k in store.yield_keys()]
    assert all(r is not None and r.state != "completed" for r in records)  # no cached result
    if case.resumable:
        assert [r.execution_id for r in records if r] == ["ex-1"]  # resumable, not re-paid
    else:
        assert records == []


def re_search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.DOTALL) is not None
