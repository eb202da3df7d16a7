"""The bad-input catalogue, through the user-facing path.

Every case runs ``VLMRunLoader(source, ..., cache=ResultCache(InMemoryByteStore()),
on_error="raise")``, synchronously and asynchronously, against the loopback emulator
(or, for answers the emulator cannot give, a scripted ``httpx.MockTransport``), and
checks that:

- the loader raises :class:`LoaderError` naming the source, whose ``cause`` is the
  expected typed error;
- the message says what to do (a regex per case) and never shows the API key;
- no Document came out (no partial output);
- the cache holds no completed record; only a wait that gave up (timeout, paused)
  leaves a ``submitted`` record, on purpose, so that a later run resumes the
  execution instead of paying for it again;
- problems with the input itself are found before any request is sent.

Also here: a directory handed to the parser as a Blob, and an unreadable 2xx answer to
an execute (ambiguous: looked up, never paid twice).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel

from langchain_vlmrun import (
    AgentNotFoundError,
    APIConnectionError,
    APIError,
    AsyncVLMRunClient,
    AuthenticationError,
    BadRequestError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    FileSourceError,
    InternalServerError,
    PaymentRequiredError,
    PermissionDeniedError,
    PollSchedule,
    RateLimitError,
    RequestTooLargeError,
    ResponseValidationError,
    ResultCache,
    RetryPolicy,
    VLMRunClient,
    VLMRunParser,
)
from langchain_vlmrun.client._client import ClientHooks
from langchain_vlmrun.loaders.loader import Failure, LoaderError, VLMRunLoader
from tests.emulator import Emulator
from tests.mock_api import ScriptedAPI, execution
from tests.support import Sleeps, emulator_client_settings, file_maker

KEY = "sk-test-SECRET-0123456789"
PDF = b"%PDF-1.4\n% bad input catalogue\n"
MD5 = hashlib.md5(PDF).hexdigest()
MAX_RETRIES = 2


class Invoice(BaseModel):
    invoice_id: str
    total: float


# --------------------------------------------------------------------------- sources


good_file = file_maker("doc.pdf", PDF)


def empty_directory(tmp: Path) -> str:
    """A directory where a file was expected (named like one, holding nothing usable)."""
    (tmp / "report.pdf").mkdir()
    (tmp / "report.pdf" / "notes.txt").write_text("not a document")
    return str(tmp / "report.pdf")


# --------------------------------------------------------------------------- scripts


def uploads_fine(api: ScriptedAPI) -> None:
    api.on("GET", f"/files/hash/{MD5}", hash_miss())
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "doc.pdf"}))


def hash_miss() -> httpx.Response:
    return httpx.Response(200, json={"id": None})


def execute_refused(code: int, detail: Any) -> Callable[[ScriptedAPI], None]:
    """Upload fine, then ``POST /agent/execute`` answers ``code`` (a fresh response per run:
    an httpx.Response read by a sync client cannot be replayed to an async one)."""

    def script(api: ScriptedAPI) -> None:
        uploads_fine(api)
        api.on("POST", "/agent/execute", refused(code, detail))

    return script


def refused(code: int, detail: Any) -> httpx.Response:
    return httpx.Response(code, json={"detail": detail})


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    """One bad input: how to provoke it, the typed error, and the advice it must give.

    The backend is the emulator (``emulator`` holds config overrides) unless ``script``
    is given, in which case a ``ScriptedAPI`` answers.
    """

    error: type[Exception]
    advice: str
    source: Callable[[Path], str] = good_file
    emulator: dict[str, Any] = field(default_factory=dict)
    script: Callable[[ScriptedAPI], object] | None = None
    client: dict[str, Any] = field(default_factory=dict)
    loader: dict[str, Any] = field(default_factory=dict)
    offline: bool = False  # refused before any request is sent
    resumable: bool = False  # leaves a "submitted" record so a later run does not pay again
    network_down: bool = False


CASES: dict[str, Case] = {
    # -- the input itself (found before any request) ---------------------------------
    "missing path": Case(
        FileSourceError,
        r"File not found: .*nope\.pdf\. Check the path",
        source=lambda t: str(t / "nope.pdf"),
        offline=True,
    ),
    "directory where a file was expected": Case(
        FileSourceError,
        r"report\.pdf holds no supported file \(.*\.pdf",
        source=empty_directory,
        offline=True,
    ),
    "empty file": Case(
        FileSourceError,
        r"empty \(0 bytes\); check it was written completely",
        source=file_maker("empty.pdf", b""),
        offline=True,
    ),
    "unreadable file": Case(
        FileSourceError,
        r"Permission denied reading .*locked\.pdf; make it readable",
        source=file_maker("locked.pdf", PDF),
        offline=True,
    ),
    "unsupported extension": Case(
        FileSourceError,
        r"Unsupported file type '\.txt'.*VLM Run reads .*\.pdf",
        source=file_maker("notes.txt", b"plain text"),
        offline=True,
    ),
    "file over the size limit": Case(
        FileSourceError,
        r"over the 16-byte limit \(max_file_size\); split or compress it, or raise",
        client={"max_file_size": 16},
        offline=True,
    ),
    "bad URL scheme": Case(
        FileSourceError,
        r"Unsupported URL scheme 'ftp'.*only http:// and https://.*upload local files by path",
        source=lambda t: "ftp://example.com/doc.pdf",
        offline=True,
    ),
    "malformed URL": Case(
        FileSourceError,
        r"Malformed URL .*Use a full URL such as https://example\.com/file\.pdf",
        source=lambda t: "https://[::1/doc.pdf",
        offline=True,
    ),
    "URL without a host": Case(
        FileSourceError,
        r"Malformed URL .*Use a full URL such as https://example\.com/file\.pdf",
        source=lambda t: "https:///doc.pdf",
        offline=True,
    ),
    # -- the service refuses ----------------------------------------------------------
    "401 invalid key": Case(
        AuthenticationError,
        r"401 .*Invalid API key.*Check VLMRUN_API_KEY",
        emulator={"api_key": "sk-the-right-key"},
    ),
    "402 out of credits": Case(
        PaymentRequiredError,
        r"402 .*Insufficient credits.*Top up credits or upgrade the plan",
        script=execute_refused(402, "Insufficient credits"),
    ),
    "403 forbidden": Case(
        PermissionDeniedError,
        r"403 .*check the agent name and the key's workspace",
        script=execute_refused(403, "Not allowed for this workspace"),
    ),
    "404 unknown agent": Case(  # looked up before the upload: nothing is paid
        AgentNotFoundError,
        r"No VLM Run agent named 'nope:v1'.*client\.list_agents\(\)",
        emulator={"known_agents": ["test-fixture-markdown"]},
        loader={"agent_name": "nope:v1", "prompt": None},
    ),
    "422 bad schema": Case(
        BadRequestError,
        r"422 .*config\.json_schema: Invalid JSON schema.*fix the fields named above",
        script=execute_refused(
            422,
            [
                {
                    "loc": ["body", "config", "json_schema"],
                    "msg": "Invalid JSON schema",
                    "type": "value_error",
                }
            ],
        ),
    ),
    "413 too large": Case(
        RequestTooLargeError,
        r"413 .*too large for a single upload; split it or use a smaller file",
        script=lambda api: (
            api.on("GET", f"/files/hash/{MD5}", hash_miss()),
            api.on("POST", "/files", refused(413, "Request Entity Too Large")),
        ),
    ),
    "429 rate limited, retries exhausted": Case(
        RateLimitError,
        r"429 .*request budget.*requests_per_minute",
        emulator={"rate_limit_per_minute": 0},
    ),
    "non-JSON 502 body": Case(
        InternalServerError,
        r"502 Bad Gateway.*try again later",
        emulator={"fault_rate": 1.0, "fault_kinds": ("502",)},
    ),
    "malformed JSON body": Case(
        APIError,
        r"Unreadable response from POST /v1/files .*service-side problem: try again later",
        # (an unreadable md5 lookup is only a miss, as in the official SDK: the upload's
        # own answer is what cannot be done without)
        script=lambda api: api.on(
            "POST",
            "/files",
            httpx.Response(201, text='{"id": "f', headers={"content-type": "application/json"}),
        ),
    ),
    "network down": Case(
        APIConnectionError,
        r"Could not reach VLM Run at http://127\.0\.0\.1:\d+/v1/.*Check the network and "
        r"VLMRUN_BASE_URL",
        network_down=True,
    ),
    # -- the execution does not deliver -----------------------------------------------
    "execution failed": Case(
        ExecutionFailedError,
        r"execution \S+ failed: Emulated failure while processing 'doc\.pdf' \(check the input "
        r"file and the agent's instructions",
        emulator={"fail_predicate": lambda body, filename: True},
    ),
    "execution paused beyond the timeout": Case(
        ExecutionTimeoutError,
        r"still 'paused' after waiting .*resume with client\.wait\('[0-9a-f-]+'\)",
        emulator={"pause_executions": True},
        loader={"wait_timeout": 0.3},
        resumable=True,
    ),
    "wait timeout (carries the id)": Case(
        ExecutionTimeoutError,
        r"execution [0-9a-f-]+ still '(enqueued|running)'.*or raise the timeout",
        emulator={"processing_time": 60.0},
        loader={"wait_timeout": 0.3},
        resumable=True,
    ),
    "structured response that does not validate": Case(
        ResponseValidationError,
        r"does not match Invoice: total: Field required.*loosen the model",
        emulator={
            "response_mode": "json",
            "response_factory": lambda body, filename: {"invoice_id": "INV-1"},
        },
        loader={"response_model": Invoice},
    ),
}


# --------------------------------------------------------------------------- running


class Backend:
    """Builds the client for a case and reports how many requests reached the API."""

    def __init__(
        self,
        case: Case,
        emulator_factory: Callable[..., Emulator],
        use_async: bool,
    ) -> None:
        self.case = case
        self.use_async = use_async
        self.sleeps = Sleeps()
        self.api: ScriptedAPI | None = None
        self.emu: Emulator | None = None
        if case.script is not None:
            self.api = ScriptedAPI()
            case.script(self.api)
        else:
            self.emu = emulator_factory(**case.emulator)
            if case.network_down:
                self.emu.stop()  # nothing listens on that port any more

    def requests(self) -> int:
        if self.api is not None:
            return len(self.api.requests)
        assert self.emu is not None
        return int(self.emu.counters.snapshot()["requests_total"])

    def executions_created(self) -> int:
        if self.api is not None:
            return self.api.calls("POST", "/agent/execute")
        assert self.emu is not None
        return int(self.emu.counters.snapshot()["executions_created"])

    def client(self) -> VLMRunClient | AsyncVLMRunClient:
        options = dict(self.case.client)
        key = options.pop("api_key", KEY)
        retry = RetryPolicy(
            max_retries=MAX_RETRIES, initial_backoff=0.001, max_backoff=0.002, max_retry_after=0.01
        )
        if self.api is not None:
            options.setdefault("retry", retry)
            make = self.api.async_client if self.use_async else self.api.client
            return make(**options)
        assert self.emu is not None
        options.update(
            emulator_client_settings(
                self.emu,
                retry=retry,
                poll=PollSchedule(initial=0.01, multiplier=1.5, maximum=0.05),
            )
        )
        if self.use_async:
            return AsyncVLMRunClient(key, _hooks=ClientHooks(sleep=self.sleeps.asleep), **options)
        return VLMRunClient(key, _hooks=ClientHooks(sleep=self.sleeps), **options)


def run_loader(
    loader: VLMRunLoader, client: VLMRunClient | AsyncVLMRunClient
) -> tuple[list[Document], LoaderError]:
    """Consume the loader the way a user would; return what came out and the error."""
    produced: list[Document] = []
    if isinstance(client, AsyncVLMRunClient):

        async def consume() -> None:
            async with client:
                async for doc in loader.alazy_load():
                    produced.append(doc)

        with pytest.raises(LoaderError) as raised:
            asyncio.run(consume())
    else:
        with client, pytest.raises(LoaderError) as raised:
            produced.extend(loader.lazy_load())
    return produced, raised.value


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(
    name: str,
    use_async: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    emulator_factory: Callable[..., Emulator],
) -> None:
    case = CASES[name]
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    source = case.source(tmp_path)
    if name == "unreadable file":  # chmod does not stop root: refuse the open itself
        real_open = os.open

        def locked(path: Any, *args: Any, **kwargs: Any) -> Any:
            if os.fspath(path).endswith("locked.pdf"):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", locked)

    backend = Backend(case, emulator_factory, use_async)
    store = InMemoryByteStore()
    cache = ResultCache(store)
    client = backend.client()
    options: dict[str, Any] = {"prompt": "Read it", **case.loader}
    loader = VLMRunLoader(
        source,
        cache=cache,
        on_error="raise",
        **options,
        **({"async_client": client} if use_async else {"client": client}),  # type: ignore[arg-type]
    )

    produced, error = run_loader(loader, client)

    # the typed error, naming the source, saying what to do
    assert error.source == source
    cause = error.cause
    assert isinstance(cause, case.error), repr(cause)
    assert error.__cause__ is cause
    assert loader.failures == [Failure(source, cause)]
    assert re.search(case.advice, str(cause), re.DOTALL), str(cause)
    assert str(cause) in str(error) and source in str(error)
    assert KEY not in str(error) and "sk-the-right-key" not in str(error)

    # no partial output, no cached result
    assert produced == []
    records = {k: cache.get(k) for k in store.yield_keys()}
    assert all(r is not None and r.state != "completed" for r in records.values())
    if case.resumable:
        assert isinstance(cause, ExecutionTimeoutError)
        assert cause.execution_id and cause.execution_id in str(cause)
        # deliberately kept: the next run waits on this execution instead of paying again
        assert [(r.state, r.execution_id) for r in records.values() if r] == [
            ("submitted", cause.execution_id)
        ]
    else:
        assert records == {}

    if case.offline:
        assert backend.requests() == 0  # refused before anything was sent
    assert backend.executions_created() <= 1
    if case.network_down:
        assert len(backend.sleeps.seconds) == MAX_RETRIES  # retried, then gave up
        assert cause.request_sent is False  # type: ignore[attr-defined]


def test_catalogue_is_complete() -> None:
    assert len(CASES) >= 20
    errors = {case.error for case in CASES.values()}
    # a missing key fails when the loader is constructed: tests/unit_tests/test_settings.py
    assert {
        FileSourceError,
        AuthenticationError,
        PaymentRequiredError,
        PermissionDeniedError,
        AgentNotFoundError,
        BadRequestError,
        RequestTooLargeError,
        InternalServerError,
        APIError,
        ExecutionFailedError,
        ExecutionTimeoutError,
        ResponseValidationError,
        APIConnectionError,
    } <= errors


def test_unreadable_answer_to_an_execute_is_not_paid_twice(tmp_path: Path) -> None:
    """The execute reached the server (2xx) but its body is garbage: the execution may
    exist. The next run must look the request id up, not submit again."""
    api = ScriptedAPI()
    uploads_fine(api)
    api.on(
        "POST",
        "/agent/execute",
        httpx.Response(201, text="<html>proxy</html>", headers={"content-type": "text/html"}),
    )
    api.on(
        "GET",
        "/agent/executions/req-1",
        execution("req-1", "completed", response={"pages": [{"content": "# hi"}]}),
    )
    cache = ResultCache(InMemoryByteStore())
    client = api.client(request_id_factory=lambda: "req-1")
    source = good_file(tmp_path)
    # the unreadable 2xx is treated as ambiguous: the request id is looked up and the
    # execution the server created is adopted, not paid for again
    docs = VLMRunLoader(source, prompt="Read it", client=client, cache=cache).load()
    assert docs and docs[0].metadata["execution_id"] == "req-1"
    assert api.calls("POST", "/agent/execute") == 1
    assert api.calls("GET", "/agent/executions/req-1") >= 1
    again = VLMRunLoader(source, prompt="Read it", client=client, cache=cache).load()
    assert again == docs and api.calls("POST", "/agent/execute") == 1


def test_parser_refuses_a_directory_blob(tmp_path: Path) -> None:
    """A Blob naming a directory (the parser reads one file): the typed error points to
    the loader, nothing is sent and nothing is cached."""
    api = ScriptedAPI()
    store = InMemoryByteStore()
    parser = VLMRunParser(prompt="Read it", client=api.client(), cache=ResultCache(store))
    with pytest.raises(FileSourceError) as raised:
        list(parser.lazy_parse(Blob.from_path(tmp_path)))
    assert re.search(r"is a directory.*use VLMRunLoader", str(raised.value), re.DOTALL)
    assert raised.value.source == str(tmp_path)
    assert api.requests == [] and list(store.yield_keys()) == []


@pytest.mark.parametrize("component", ["client.process", "loader", "parser"])
def test_a_model_given_in_config_and_in_options_is_refused_before_any_request(
    component: str, tmp_path: Path
) -> None:
    from langchain_vlmrun import ExecuteOptions, VLMRunClient, VLMRunParser

    sent: list[httpx.Request] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    )
    client = VLMRunClient("k", base_url="https://api.test/v1", http_client=http)
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4 a")
    twice = {
        "config": {"model": "vlmrun-orion-1:pro"},
        "options": ExecuteOptions(model="vlmrun-orion-1:fast"),
    }
    with pytest.raises(ValueError, match="model is given twice"):
        if component == "client.process":
            client.process(str(path), prompt="p", **twice)  # type: ignore[arg-type]
        elif component == "loader":
            VLMRunLoader([str(path)], prompt="p", client=client, **twice)  # type: ignore[arg-type]
        else:
            VLMRunParser(prompt="p", client=client, **twice)  # type: ignore[arg-type]
    assert sent == []
    # given once (in either place), it is sent once, at the top level of the body
    from langchain_vlmrun.client._operations import ExecuteRequest

    body = ExecuteRequest(prompt="p", config={"model": "vlmrun-orion-1:pro"}).body()
    assert body["model"] == "vlmrun-orion-1:pro" and "model" not in body["config"]
