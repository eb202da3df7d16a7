"""The client's logic, written once for both the sync and the async client.

Each operation is a generator that *yields effects* (send this request, sleep this
long, run this blocking function) and receives their results. ``VLMRunClient`` and
``AsyncVLMRunClient`` only differ in how they carry out effects (see ``_client.py``);
request building, response parsing, the idempotent execute and the poll loop live
here, once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from langchain_vlmrun._exceptions import (
    APIError,
    ExecutionFailedError,
    ExecutionTimeoutError,
)
from langchain_vlmrun._models import AgentExecution, FileResponse, PresignedUpload
from langchain_vlmrun._polling import PollSchedule
from langchain_vlmrun._retry import RetryMode, RetryPolicy, is_ambiguous
from langchain_vlmrun._sources import FileSource, PreparedFile, is_url, prepare_file

logger = logging.getLogger("langchain_vlmrun")

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Call:
    """Send one HTTP request (with retries by ``retry`` mode); result: ``httpx.Response``.

    ``path`` is relative to the base URL unless ``absolute``. ``upload`` streams a
    prepared file as a multipart ``file`` part (``upload_as="multipart"``) or as the raw
    body (``"raw"``); it is re-opened on every attempt. Statuses in ``accept`` are
    returned instead of raised.
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    upload: PreparedFile | None = None
    upload_as: Literal["multipart", "raw"] = "multipart"
    headers: Mapping[str, str] = field(default_factory=dict)
    absolute: bool = False
    authenticated: bool = True
    retry: RetryMode = "safe"
    accept: frozenset[int] = frozenset()


@dataclass
class Sleep:
    """Pause ``seconds``; result: None. A ``poll`` pause may be stretched by the budget."""

    seconds: float
    poll: bool = False


@dataclass
class Blocking:
    """Run blocking work (disk hashing); the async client runs it in a thread."""

    function: Callable[[], Any]


Effect = Call | Sleep | Blocking
Operation = Generator[Effect, Any, T]

INPUT_FILE_KEY = "file"


def schema_of(
    response_model: type[BaseModel] | None, json_schema: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The JSON schema to send: a pydantic model's, or the one given (not both)."""
    if response_model is not None and json_schema is not None:
        raise ValueError("Pass either response_model or json_schema, not both.")
    if response_model is not None:
        return response_model.model_json_schema()
    return dict(json_schema) if json_schema is not None else None


@dataclass(frozen=True)
class ExecuteRequest:
    """Everything that goes into ``POST /agent/execute``.

    ``id`` is generated client-side and reused for every re-send of the same call, so
    an ambiguous failure can be resolved by looking the id up (see ``execute``).
    """

    name: str | None = None
    prompt: str | None = None
    inputs: Mapping[str, Any] | None = None
    json_schema: Mapping[str, Any] | None = None
    config: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    callback_url: str | None = None
    model: str | None = None
    toolsets: Sequence[str] | None = None
    allow_training: bool = False
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if not self.name and not self.prompt:
            raise ValueError(
                "Name an agent (name='agent-name:version') or give a prompt=... to run."
            )

    def body(self) -> dict[str, Any]:
        config = {
            **(self.config or {}),
            "prompt": self.prompt,
            "json_schema": dict(self.json_schema) if self.json_schema else None,
        }
        metadata = {"allow_training": self.allow_training, **(self.metadata or {})}
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "batch": True,
            "inputs": dict(self.inputs or {}),
            "config": {k: v for k, v in config.items() if v is not None},
            "metadata": metadata,
        }
        if not body["config"]:
            del body["config"]
        if self.callback_url:
            body["callback_url"] = self.callback_url
        if self.model:
            body["model"] = self.model
        if self.toolsets:
            body["toolsets"] = list(self.toolsets)
        return body


def file_input(file_id: str) -> dict[str, Any]:
    return {"type": "input_file", "file_id": file_id}


def url_input(url: str) -> dict[str, Any]:
    return {"type": "file_url", "file_url": {"url": url}}


# --- operations -------------------------------------------------------------------


def _parse(response: httpx.Response, model: type[T]) -> T:
    try:
        return model.model_validate(response.json())  # type: ignore[attr-defined, no-any-return]
    except ValueError as exc:
        raise APIError(
            f"Unreadable response from {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}): {exc}",
            request=response.request,
        ) from None


def get_file(file_id: str) -> Operation[FileResponse]:
    response = yield Call("GET", f"/files/{file_id}")
    return _parse(response, FileResponse)


def find_file_by_hash(md5: str) -> Operation[FileResponse | None]:
    """The already-uploaded file with this md5, or None (200 ``id: null`` or 404)."""
    response = yield Call("GET", f"/files/hash/{md5}", accept=frozenset({404}))
    if response.status_code == 404:
        return None
    found = _parse(response, FileResponse)
    return found if found.id else None


def upload_file(
    source: FileSource | PreparedFile,
    *,
    filename: str | None = None,
    purpose: str = "assistants",
    presigned_threshold: int,
) -> Operation[FileResponse]:
    """md5 → reuse an existing upload, else multipart (or presigned above the threshold)."""
    prepared = (
        source
        if isinstance(source, PreparedFile)
        else (yield Blocking(lambda: prepare_file(source, filename=filename)))
    )
    existing = yield from find_file_by_hash(prepared.md5)
    if existing is not None:
        logger.debug("reusing uploaded file %s for md5 %s", existing.id, prepared.md5)
        return existing
    if prepared.size > presigned_threshold:
        return (yield from _upload_presigned(prepared, purpose))
    response = yield Call("POST", "/files", params={"purpose": purpose}, upload=prepared)
    return _parse(response, FileResponse)


def _upload_presigned(prepared: PreparedFile, purpose: str) -> Operation[FileResponse]:
    response = yield Call(
        "POST",
        "/files/presigned-url",
        json={"filename": prepared.filename, "purpose": purpose, "expiration": 86400},
    )
    target = _parse(response, PresignedUpload)
    yield Call(
        (target.upload_method or "PUT").upper(),
        target.url,
        upload=prepared,
        upload_as="raw",
        headers={
            "Content-Type": target.content_type or prepared.mime_type,
            "Content-Length": str(prepared.size),
        },
        absolute=True,
        authenticated=False,
    )
    verified = yield Call("GET", f"/files/verify-upload/{target.id}")
    return _parse(verified, FileResponse)


def get_execution(execution_id: str) -> Operation[AgentExecution]:
    response = yield Call("GET", f"/agent/executions/{execution_id}")
    return _parse(response, AgentExecution)


def execute(request: ExecuteRequest, retry: RetryPolicy) -> Operation[AgentExecution]:
    """``POST /agent/execute`` without ever paying twice for one call.

    Failures the server cannot have acted on (no connection, 429) are retried inside
    the ``Call``. After an ambiguous failure (timeout after sending, 5xx) the request
    ``id`` is looked up first: if the server knows it, that execution is adopted;
    only on 404 is the request re-sent, with the same ``id``.
    """
    body = request.body()
    attempt = 0
    while True:
        try:
            response = yield Call("POST", "/agent/execute", json=body, retry="unambiguous")
            return _parse(response, AgentExecution)
        except APIError as exc:
            if not is_ambiguous(exc) or attempt >= retry.max_retries:
                raise
            attempt += 1
            logger.warning(
                "execute %s failed ambiguously (%s); checking before re-sending",
                request.id,
                exc.message,
            )
            yield Sleep(retry.wait_before(attempt, exc))
            known = yield Call("GET", f"/agent/executions/{request.id}", accept=frozenset({404}))
            if known.status_code != 404:
                logger.info("execute %s had reached the server; adopting it", request.id)
                return _parse(known, AgentExecution)


def wait(
    execution_id: str,
    *,
    timeout: float,
    schedule: PollSchedule,
    clock: Callable[[], float],
    current: AgentExecution | None = None,
) -> Operation[AgentExecution]:
    """Poll until a terminal status: return on ``completed``, raise at once on ``failed``."""
    started = clock()
    pauses = 0
    execution = current
    while True:
        if execution is None:
            execution = yield from get_execution(execution_id)
        if execution.status == "completed":
            return execution
        if execution.is_failed:
            raise ExecutionFailedError(execution)
        waited = clock() - started
        if waited >= timeout:
            raise ExecutionTimeoutError(
                execution_id=execution_id, status=execution.status, waited=waited
            )
        yield Sleep(min(schedule.interval(pauses), timeout - waited), poll=True)
        pauses += 1
        execution = None


def run(
    source: FileSource,
    request: ExecuteRequest,
    *,
    retry: RetryPolicy,
    presigned_threshold: int,
    timeout: float,
    schedule: PollSchedule,
    clock: Callable[[], float],
    input_key: str = INPUT_FILE_KEY,
    filename: str | None = None,
) -> Operation[AgentExecution]:
    """Upload (or reference a URL), execute and wait."""
    if isinstance(source, str) and is_url(source):
        file_value = url_input(source)
    else:
        uploaded = yield from upload_file(
            source, filename=filename, presigned_threshold=presigned_threshold
        )
        assert uploaded.id is not None
        file_value = file_input(uploaded.id)
    inputs = {**(request.inputs or {}), input_key: file_value}
    started = yield from execute(replace(request, inputs=inputs), retry)
    return (
        yield from wait(
            started.id, timeout=timeout, schedule=schedule, clock=clock, current=started
        )
    )
