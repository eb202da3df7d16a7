"""The client's logic, written once for both the sync and the async client.

Each operation is a generator that *yields effects* (send this request, sleep this
long, run this blocking function) and receives their results. ``VLMRunClient`` and
``AsyncVLMRunClient`` only differ in how they carry out effects (see ``_client.py``);
request building, response parsing, the idempotent execute and the poll loop live
here, once.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying

# the effects are the operations' vocabulary: importable from here too
from langchain_vlmrun.client._effects import (
    Admit,
    AwaitDelivery,
    Blocking,
    Call,
    Effect,
    EnsureAgent,
    Operation,
    Sleep,
    Slots,
)
from langchain_vlmrun.client._leases import Leases, claim, holding
from langchain_vlmrun.client._options import DEFAULT_MODEL, ExecuteOptions
from langchain_vlmrun.client._polling import (
    WAVE_SLICE,
    DeliveryHealth,
    DurationMemory,
    PollSchedule,
    Probe,
    Wave,
)
from langchain_vlmrun.client._retry import RetryPolicy, is_ambiguous, is_transient
from langchain_vlmrun.core.errors import (
    APIError,
    APIStatusError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    NotFoundError,
    ResponseValidationError,
    UnreadableResponseError,
)
from langchain_vlmrun.core.models import AgentExecution, FileResponse, PresignedUpload

if TYPE_CHECKING:
    from langchain_vlmrun.client.cache import ResultCache

from langchain_vlmrun.core._validation import (
    check_agent_name,
    check_json_schema,
    check_mapping,
    check_response_model,
    merge_config,
)
from langchain_vlmrun.files._sources import (
    FileSource,
    PreparedFile,
    check_url,
    is_url,
    prepare_file,
)

__all__ = [
    "Admit",
    "AwaitDelivery",
    "Blocking",
    "Call",
    "Effect",
    "EnsureAgent",
    "Operation",
    "Sleep",
]

logger = logging.getLogger("langchain_vlmrun")


class SubmissionStopped(Exception):
    """The caller stopped (a loader closed early) before this source was uploaded or
    submitted: nothing was paid for it."""


class SubmissionGate(Slots, Protocol):
    """What a caller that may stop while work runs (a loader) puts in
    :data:`submission_gate` for the sources it runs. Its slots bound the executions
    running at once: a source takes one (:class:`Admit`) once its file is uploaded, and
    gives it back as soon as its execution has ended, so the next sources upload while
    the slots are busy and are submitted the moment one frees."""

    def check(self) -> None:
        """Raise :class:`SubmissionStopped` if the caller stopped (before an upload)."""

    def submitting(self) -> AbstractContextManager[object]:
        """Held from right before an execution is submitted until the request is
        answered; entering raises :class:`SubmissionStopped` if the caller stopped."""


#: The gate of the work running in this context (None: nothing can stop it). Looked at
#: before a source is uploaded and held around the execute request; an execution
#: already submitted, or recorded in the cache as submitted, is waited for as usual.
submission_gate: ContextVar[SubmissionGate | None] = ContextVar(
    "vlmrun_submission_gate", default=None
)


T = TypeVar("T")
R = TypeVar("R")


INPUT_FILE_KEY = "file"


def schema_of(
    response_model: type[BaseModel] | None, json_schema: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The JSON schema to send: a pydantic model's, or the one given (not both)."""
    if response_model is not None and json_schema is not None:
        raise ValueError("Pass either response_model or json_schema, not both.")
    model = check_response_model(response_model)
    if model is not None:
        return model.model_json_schema()
    return check_json_schema(json_schema)


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
    options: ExecuteOptions | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        check_agent_name(self.name)
        check_mapping("inputs", self.inputs)
        check_mapping("metadata", self.metadata)
        options = self.options or ExecuteOptions()
        if not isinstance(options, ExecuteOptions):
            raise TypeError(f"options must be an ExecuteOptions, got {type(options).__name__}.")
        # one merge rule: keyword values, options and config keys combine; conflicts raise
        config = merge_config(
            self.config,
            prompt=self.prompt,
            json_schema=self.json_schema,
            **options.config_fields(),
        )
        prompt = config.pop("prompt", None)
        schema = check_json_schema(config.pop("json_schema", None))
        # model and toolsets go at the top level of the body, however they were given
        # (keyword, options, or a config key): once, or a ValueError naming both
        toolsets = list(self.toolsets) if self.toolsets else None
        top = merge_config(
            {"model": config.pop("model", None), "toolsets": config.pop("toolsets", None)},
            model=self.model,
            toolsets=toolsets,
        )
        top = merge_config(top, model=options.model, toolsets=options.toolsets)
        metadata = merge_config(self.metadata, **options.metadata_fields())
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "json_schema", schema)
        object.__setattr__(self, "config", config or None)
        object.__setattr__(self, "metadata", metadata or None)
        object.__setattr__(self, "model", top.get("model"))
        object.__setattr__(self, "toolsets", top.get("toolsets"))
        if not self.name and not self.prompt:
            raise ValueError("Give a prompt='...' to run, or name an agent (name='name:version').")

    def cache_fields(self, input_key: str) -> dict[str, Any]:
        """What determines the result or its handling (cache keys): not the request id,
        the callback or the metadata that only labels the run."""
        return {
            "name": self.name,
            "prompt": self.prompt,
            "json_schema": self.json_schema,
            # the tier changes price and routing, not the result
            "config": {k: v for k, v in (self.config or {}).items() if k != "service_tier"},
            "model": self.model,
            "toolsets": list(self.toolsets or []),
            "inputs": {k: v for k, v in (self.inputs or {}).items() if k != input_key},
            "input_key": input_key,
            "allow_training": self.allow_training,
        }

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
        # always a model, as the official SDK sends: the same request runs on the same
        # model whichever client sends it
        body["model"] = self.model or DEFAULT_MODEL
        if self.toolsets:
            body["toolsets"] = list(self.toolsets)
        return body


def file_input(file_id: str) -> dict[str, Any]:
    return {"type": "input_file", "file_id": file_id}


def url_input(url: str) -> dict[str, Any]:
    return {"type": "file_url", "file_url": {"url": url}}


# --- operations -------------------------------------------------------------------


def path_segment(identifier: str) -> str:
    """An id as one URL path segment: ``/``, ``..`` or ``?`` in an id from a server or
    a cache record can never reach another endpoint.

    Example:
        >>> path_segment("../../files/hash/0")
        '..%2F..%2Ffiles%2Fhash%2F0'
        >>> path_segment("..")  # a dot segment would be resolved away by the URL
        '%2E%2E'
    """
    segment = quote(str(identifier), safe="")
    return segment.replace(".", "%2E") if segment in {".", ".."} else segment


def _parse(response: httpx.Response, model: type[T]) -> T:
    try:
        return model.model_validate(response.json())  # type: ignore[attr-defined, no-any-return]
    except ValueError as exc:
        raise UnreadableResponseError(
            f"Unreadable response from {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}): {exc}. This is a service-side problem: try again "
            "later, and report it if it persists.",
            request=response.request,
        ) from None


def get_file(file_id: str) -> Operation[FileResponse]:
    response = yield Call("GET", f"/files/{path_segment(file_id)}")
    return _parse(response, FileResponse)


def find_file_by_hash(md5: str, size: int) -> Operation[FileResponse | None]:
    """The already-uploaded file with this md5 and size, or None (200 ``id: null``, 404).

    The size must match too: md5 collisions are public, and a file of another size is
    certainly another file.
    """
    response = yield Call("GET", f"/files/hash/{md5}", accept=frozenset({404}))
    if response.status_code == 404:
        return None
    found = _parse(response, FileResponse)
    if not found.id:
        return None
    if found.bytes is not None and found.bytes != size:
        logger.warning(
            "the server's file %s has md5 %s but %s bytes, not %s: uploading ours",
            found.id,
            md5,
            found.bytes,
            size,
        )
        return None
    return found


#: Files at least this large are looked up by md5 before uploading (default 8 MiB).
#: Below it, a lookup cannot pay for itself: uploading is one request either way.
HASH_LOOKUP_MIN_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class UploadSettings:
    """How files are uploaded.

    ``hash_lookup_min_size``: files at least this large are first looked up by md5
    (a hit sends no bytes; a miss costs one more request). ``presigned_threshold``:
    files larger than this go through a presigned URL. ``max_file_size``: refuse
    larger files before any request.
    """

    presigned_threshold: int = 32 * 1024 * 1024
    hash_lookup_min_size: int = HASH_LOOKUP_MIN_SIZE
    max_file_size: int | None = None


def upload_file(
    source: FileSource | PreparedFile,
    *,
    settings: UploadSettings,
    retry: RetryPolicy,
    filename: str | None = None,
    purpose: str = "assistants",
) -> Operation[FileResponse]:
    """Upload a path, bytes or Blob (opened once, closed afterwards)."""
    if isinstance(source, PreparedFile):
        return (yield from upload_prepared(source, settings, retry, purpose))
    prepared = yield Blocking(
        lambda: prepare_file(source, filename=filename, max_size=settings.max_file_size)
    )
    try:
        return (yield from upload_prepared(prepared, settings, retry, purpose))
    finally:
        prepared.close()


def upload_prepared(
    prepared: PreparedFile,
    settings: UploadSettings,
    retry: RetryPolicy,
    purpose: str = "assistants",
) -> Operation[FileResponse]:
    """Reuse an earlier upload of a large file (md5 lookup), else multipart (or presigned
    above the threshold).

    A multipart upload whose answer is lost is not sent twice: the md5 is looked up
    first (see :func:`create_once`).
    """
    if prepared.size >= settings.hash_lookup_min_size:
        existing = yield from _lookup_before_upload(prepared)
        if existing is not None:
            logger.debug("reusing uploaded file %s for md5 %s", existing.id, prepared.md5)
            return existing
    if prepared.size > settings.presigned_threshold:
        return (yield from _upload_presigned(prepared, purpose))
    return (
        yield from create_once(
            Call("POST", "/files", params={"purpose": purpose}, upload=prepared),
            FileResponse,
            lambda: find_file_by_hash(prepared.md5, prepared.size),
            retry,
            f"upload of {prepared.filename}",
        )
    )


def _lookup_before_upload(prepared: PreparedFile) -> Operation[FileResponse | None]:
    """The md5 lookup before an upload is only a saving: when it fails on the server's
    side (5xx after the retries, an unreadable answer) the file is uploaded, as the
    official SDK does. A refused key or a malformed request still stops here."""
    try:
        return (yield from find_file_by_hash(prepared.md5, prepared.size))
    except (APIStatusError, UnreadableResponseError) as exc:
        if isinstance(exc, APIStatusError) and exc.status_code < 500:
            raise
        logger.warning(
            "the md5 lookup for %s failed (%s); uploading it", prepared.filename, exc.message
        )
        return None


def _upload_presigned(prepared: PreparedFile, purpose: str) -> Operation[FileResponse]:
    response = yield Call(
        "POST",
        "/files/presigned-url",
        json={"filename": prepared.filename, "purpose": purpose, "expiration": 86400},
    )
    target = _parse(response, PresignedUpload)
    # always PUT, as both official SDKs do, whatever method the answer names: a server
    # answer never chooses the verb sent to another host
    yield Call(
        "PUT",
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
    verified = yield Call("GET", f"/files/verify-upload/{path_segment(target.id)}")
    return _parse(verified, FileResponse)


def get_execution(
    execution_id: str, *, retry_for: float | None = None
) -> Operation[AgentExecution]:
    response = yield Call(
        "GET", f"/agent/executions/{path_segment(execution_id)}", retry_for=retry_for
    )
    return _parse(response, AgentExecution)


def create_once(
    call: Call,
    model: type[T],
    lookup: Callable[[], Operation[T | None]],
    retry: RetryPolicy,
    what: str,
) -> Operation[T]:
    """Send a request that creates something (an execution, a file) without creating it
    twice.

    Failures the server cannot have acted on (no connection, 429) are retried inside
    the ``Call`` (``retry="unambiguous"``). After an ambiguous failure (timeout after
    sending, 5xx, an unreadable 2xx) ``lookup`` asks the server whether the first
    request took effect: if so, that object is adopted; otherwise the same request is
    sent again. The pauses and when to give up are the retry policy's, run by tenacity
    as every other retry is; the pause is yielded as a ``Sleep`` effect.
    """
    pauses: list[float] = []  # tenacity's sleep only notes the pause; it is yielded
    policy = retry.tenacity_kwargs(is_ambiguous, log=partial(_log_ambiguous, what))
    for attempt in Retrying(sleep=pauses.append, **policy):
        if pauses:
            yield Sleep(pauses.pop())
            known = yield from lookup()
            if known is not None:
                logger.info("%s had reached the server; adopting it", what)
                return known
        with attempt:
            response = yield replace(call, retry="unambiguous")
            created = _parse(response, model)
    return created  # the loop ends on success: tenacity raises what it gives up on


def _log_ambiguous(what: str, state: RetryCallState) -> None:
    # INFO: the check that follows resolves it without paying twice; what is given up
    # is raised, not logged
    assert state.outcome is not None  # tenacity logs a failed attempt's outcome
    logger.info(
        "%s failed ambiguously (%s); checking in %.1fs before re-sending",
        what,
        state.outcome.exception(),  # an APIError reads as its message
        state.upcoming_sleep,
    )


def find_execution(execution_id: str) -> Operation[AgentExecution | None]:
    """The execution with this id, or None when the server does not know it (404)."""
    response = yield Call(
        "GET", f"/agent/executions/{path_segment(execution_id)}", accept=frozenset({404})
    )
    return None if response.status_code == 404 else _parse(response, AgentExecution)


def execute(request: ExecuteRequest, retry: RetryPolicy) -> Operation[AgentExecution]:
    """``POST /agent/execute`` without ever paying twice for one call.

    The client request ``id`` is what makes it safe: after an ambiguous failure it is
    looked up (``GET /agent/executions/{id}``) before the request is re-sent with the
    same ``id`` (see :func:`create_once`).
    """
    return (
        yield from create_once(
            Call("POST", "/agent/execute", json=request.body()),
            AgentExecution,
            lambda: find_execution(request.id),
            retry,
            f"execute {request.id}",
        )
    )


@dataclass(frozen=True)
class Completion:
    """How a wait saw an execution finish (what ``DurationMemory.observe`` learns from).

    ``lower``/``upper``: seconds from the wait's start to the last poll that saw it
    running (0: none did) and to the look that saw it done; ``probe``: the learned
    first poll the wait used, if any; ``delivered``: a webhook delivery brought it;
    ``hit``: the probe's poll (or a poll before it) saw it done.
    """

    execution: AgentExecution
    lower: float
    upper: float
    probe: Probe | None = None
    delivered: bool = False
    hit: bool = False
    answer: float | None = None
    """Seconds from the wait's start (the job's placed start) to the execute's answer."""
    stamped_by_another: bool = False
    """Another job's look asked about it after this job's last look and before the one
    that saw it done: a ``completed_at`` written when a poll first saw it done may be
    that look's, earlier than ``upper``, so it proves nothing about the stamps."""


def poll(
    execution_id: str,
    left: float,
    status: str | None,
    started: float,
    clock: Callable[[], float],
) -> Operation[AgentExecution]:
    """One look at an execution, its transient failures retried for the ``left`` seconds
    of the wait (begun at ``started``): an outage shorter than the wait never ends it.
    Errors carry the execution id; running out of time is ``ExecutionTimeoutError``."""
    try:
        return (yield from get_execution(execution_id, retry_for=max(0.0, left)))
    except APIError as exc:
        exc.attach_execution(execution_id)
        # an answer that cannot be read is reported as such (with the execution id, so
        # that ``client.wait`` can resume), not as a wait that ran out of time
        if is_transient(exc) and not isinstance(exc, UnreadableResponseError):
            raise ExecutionTimeoutError(
                execution_id=execution_id, status=status, waited=clock() - started
            ) from exc
        raise


def wait(
    execution_id: str,
    *,
    timeout: float,
    schedule: PollSchedule,
    clock: Callable[[], float],
    current: AgentExecution | None = None,
    probe: Probe | None = None,
    on_complete: Callable[[Completion], None] | None = None,
    deliveries: bool = False,
    wave: Wave | None = None,
    since: float | None = None,
) -> Operation[AgentExecution]:
    """Poll until a terminal status: return on ``completed``, raise at once on ``failed``.

    Polls go on the schedule's grid of job ages (:meth:`PollSchedule.next_poll`). A
    ``probe`` (from :class:`DurationMemory`, for a fresh submission) moves the first
    poll to where similar jobs finished; if it misses, its follow-up and then the grid
    take over. With ``deliveries``, each pause also ends when a webhook delivery for
    the execution arrives (:class:`AwaitDelivery`). A first-wave probe
    (``probe.first_wave``) asks ``wave`` about the other jobs of its kind. Ages (and
    ``timeout``) count from ``since`` (the clock's reading when the job was submitted;
    default: now). Transient poll failures (5xx, 429, lost connections) are retried
    until ``timeout``, so an outage shorter than the wait never ends it; any error
    raised carries ``execution_id`` for ``client.wait``.
    """
    now = clock()
    started = now if since is None else since
    # the job started between ``since`` and now: the server's exact durations count from
    # its start, so what they place goes after now (late by the answer's delay at most,
    # never early); our own looks count from ``since``
    answer = now - started
    if probe is not None and probe.exact:
        probe = replace(probe, at=probe.at + answer, then=tuple(t + answer for t in probe.then))
    polls = 0
    execution = current
    lower = target = 0.0
    delivered = False
    status = current.status if current is not None else None
    follow_ups = 0
    running: AgentExecution | None = None  # the last look's answer (a pause has no look)
    # the grid polls a probe stands in for, less itself: what its follow-ups may spend
    spare = 0
    looks: list[float] = []  # the polls up to and including the probe
    if probe is None or not probe.first_wave:
        wave = None  # only a first-wave job shares the looks of its kind
    # its look between the grid's first two polls (not one of the grid's own polls)
    looker = wave is not None and probe is not None and 0 < probe.slot < 1
    first = schedule.next_poll(0.0)  # the grid's first two polls, which a wave shares
    second = schedule.next_poll(first)
    if probe is not None and wave is None:
        spare = sum(1 for _ in _grid_until(schedule, probe.at)) - 1
        looks = _looks_up_to(probe, schedule.interval(0))
    heading_for: float | None = None  # the poll a first-wave job's short pauses lead to
    if wave is not None:
        wave.join(execution_id, started)
    try:
        while True:
            found = wave.take(execution_id) if wave is not None else None
            if found is not None:  # another job's look found this one ended
                execution, found_at = found
                asked = found_at - started
                polls += 1
            elif execution is None:
                asked = clock() - started
                # that look goes to the oldest job of the wave, until one is seen done
                other = None
                if wave is not None and looker and polls == 0:
                    other = wave.next_look(clock(), execution_id)
                if wave is not None and other is not None and other[0] != execution_id:
                    yield from _look_at(wave, *other, clock)
                    assert current is not None  # (a first wave is of fresh submissions)
                    execution = running if running is not None else current
                    target = 0.0  # nothing of this job was seen: no age of it was looked at
                else:
                    left = timeout - asked
                    execution = yield from poll(execution_id, left, status, started, clock)
                polls += 1
            else:
                asked = clock() - started
            if execution.status == "completed":
                if on_complete is not None:
                    used = probe if probe is not None and polls > 0 else None
                    if used is not None and not used.exploring and spare <= 0:
                        used = replace(used, then=())  # it had no poll to spare for them
                    hit = used is not None and target <= max(used.at, schedule.interval(0))
                    looked = wave.asked_at(execution_id) if wave is not None else None
                    # (the job's own look is not another's: it sets ``lower``)
                    raced = found is None and looked is not None and lower < looked < asked
                    report = Completion(
                        execution, lower, asked, used, delivered, hit, answer, raced
                    )
                    on_complete(report)
                return execution
            if execution.is_failed:
                raise ExecutionFailedError(execution)
            status = execution.status
            if execution is not current and execution is not running:
                lower, running = asked, execution  # a new look saw it running
                if wave is not None and looker and polls == 1:
                    wave.ran(lower)  # its own look in the first wave: the end lies above
            waited = clock() - started
            if waited >= timeout:
                raise ExecutionTimeoutError(
                    execution_id=execution_id, status=execution.status, waited=waited
                )
            # past the last poll's target too: a clock that reads a hair early polls once
            at = schedule.next_poll(max(waited, target))
            if heading_for is not None and at > heading_for:
                # short pauses ran up to (or past) the grid's poll they led to: send it
                at = max(waited, heading_for)
            due_looks = [look for look in looks if look > max(waited, target)]
            following = False
            if wave is not None and probe is not None:
                if polls == 0:  # this job's look between the grid's first two polls
                    at = first + probe.slot * (second - first)
                others = wave.state()
                seen = others.done_at
                if seen is not None and others.exact:
                    seen += answer  # a server duration: from the job's start
                if polls >= 2 and target < second:
                    # two looks before the grid's second poll stand for the grid's two
                    at = max(at, schedule.next_poll(second))
                elif seen is not None and target < seen <= second:
                    # another job of this kind was seen done at an age we have not looked at
                    at = max(waited, seen, first)
                following = waited < second and polls < 2 and others.shared
            elif due_looks:  # (looks are a probe's, sorted: one is due only below the last)
                at = due_looks[0]  # the probe, or a look below it
            elif probe is not None and (probe.exploring or follow_ups < spare):
                # the probe missed: look where such jobs were done (an exploring probe goes
                # there straight, skipping the grid in between), then keep to the grid; a
                # plain probe looks again only with polls it saved (the grid's polls it
                # skipped, less its own), so that it never polls more than the grid would
                due = [look for look in probe.then if look > max(waited, target)]
                if due:
                    at = due[0] if probe.exploring else min(at, due[0])
                    follow_ups += at == due[0]
            pause = min(max(0.0, at - waited), timeout - waited)
            # a short pause sends no request: it looks again in a moment whether another
            # job was seen done, heading for ``at``
            short = following and pause > WAVE_SLICE
            heading_for = at if short else None
            if short:
                pause = WAVE_SLICE
            else:
                target, execution = at, None
            if deliveries:
                pushed = yield AwaitDelivery(execution_id, pause)
                if pushed is not None:
                    execution, delivered = pushed, True
            else:
                yield Sleep(pause, poll=not short)

    finally:
        if wave is not None:
            wave.leave(execution_id)


def _look_at(
    wave: Wave, execution_id: str, since: float, clock: Callable[[], float]
) -> Operation[None]:
    """One look of the first wave at another of its jobs, the one submitted first (the
    most likely done): whoever's turn it is to look, the oldest job is the one asked
    about, so the first end of the wave is seen when it comes, not when the job whose
    look happens to follow it ends. An end found is handed to that job's wait; a job
    still running tells the wave the end lies above its age. A failed look is not
    retried (that job's own wait asks again)."""
    age = clock() - since
    try:
        execution = yield from get_execution(execution_id, retry_for=0.0)
    except APIError:
        return
    if execution.status == "completed" or execution.is_failed:
        wave.post(execution_id, execution, since + age)
    else:
        wave.ran(age)


def _looks_up_to(probe: Probe, earliest: float) -> list[float]:
    """The polls a wait sends up to and including ``probe`` (never before ``earliest``,
    the schedule's first poll). A probe with ``scan_from`` first looks at an eighth, a
    quarter and a half of its time (those above ``scan_from``): a job much faster than
    the few seen so far is found after at most twice its time, for three polls.

    Example:
        >>> _looks_up_to(Probe(16.0, scan_from=0.0), earliest=0.5)
        [2.0, 4.0, 8.0, 16.0]
        >>> _looks_up_to(Probe(16.0, scan_from=5.0), earliest=0.5)
        [8.0, 16.0]
        >>> _looks_up_to(Probe(0.2), earliest=0.5)
        [0.5]
    """
    first = max(probe.at, earliest)
    below: set[float] = set()
    if probe.scan_from is not None:
        below = {
            share * probe.at
            for share in (0.125, 0.25, 0.5)
            if probe.scan_from < share * probe.at and earliest <= share * probe.at < first
        }
    return [*sorted(below), first]


def _grid_until(schedule: PollSchedule, age: float) -> Iterator[float]:
    """The grid's poll times up to ``age`` (none for a schedule that never sleeps)."""
    at = schedule.next_poll(0.0)
    while 0 < at <= age:
        yield at
        at = schedule.next_poll(at)


SAFETY_POLLS = PollSchedule(initial=15.0, multiplier=2.0, maximum=120.0, learn_durations=False)
"""With webhooks: how long to wait for a callback before polling once anyway."""


def wait_for_callback(
    execution_id: str,
    *,
    timeout: float,
    clock: Callable[[], float],
    current: AgentExecution | None = None,
    safety: PollSchedule = SAFETY_POLLS,
    expected: float | None = None,
    on_complete: Callable[[Completion], None] | None = None,
) -> Operation[AgentExecution]:
    """:func:`wait` driven by webhooks: return on ``completed``, raise on ``failed``.

    Each round waits for the callback (:class:`AwaitDelivery`) up to the next
    ``safety`` interval, then polls once, since a delivery can be lost or the receiver
    down: about one request per safety interval instead of one per poll. With
    ``expected`` (seconds, learned from earlier deliveries), the first safety poll waits
    until twice that, so a job longer than the first interval costs no poll when its
    callback arrives. ``on_complete`` learns how completion was known: by a delivery
    (``delivered``) or by a safety poll (a delivery that did not come).
    """
    started = clock()
    rounds = 0
    execution = current
    delivered = False
    status = current.status if current is not None else None
    while True:
        if execution is not None:
            if execution.status == "completed":
                if on_complete is not None:
                    on_complete(Completion(execution, 0.0, clock() - started, None, delivered))
                return execution
            if execution.is_failed:
                raise ExecutionFailedError(execution)
            status = execution.status
        waited = clock() - started
        if waited >= timeout:
            raise ExecutionTimeoutError(execution_id=execution_id, status=status, waited=waited)
        interval = safety.interval(rounds)
        if rounds == 0 and expected is not None:
            interval = max(interval, 2 * expected)
        pushed = yield AwaitDelivery(execution_id, min(interval, timeout - waited))
        rounds += 1
        if pushed is not None:
            execution, delivered = pushed, True
            continue
        execution = yield from poll(
            execution_id, timeout - (clock() - started), status, started, clock
        )


def duration_kind(request: ExecuteRequest, size: int | None) -> str:
    """What :class:`DurationMemory` learns durations by: the agent configuration and the
    file's size class (powers of 4 bytes; URLs have none), so that a 1-page scan and a
    200-page report under one agent are learned apart.

    Example:
        >>> request = ExecuteRequest(prompt="p")
        >>> duration_kind(request, 1000) == duration_kind(request, 1023)
        True
        >>> duration_kind(request, 1000) == duration_kind(request, 100_000)
        False
    """
    size_class = None if not size else int(math.log(size, 4))
    return json.dumps(
        [request.name, request.prompt, request.json_schema, request.model, size_class],
        sort_keys=True,
        default=str,
    )


def server_duration(execution: AgentExecution) -> float | None:
    """Seconds the server spent, from its own timestamps (None when unknown)."""
    if execution.created_at is None or execution.completed_at is None:
        return None
    return (execution.completed_at - execution.created_at).total_seconds()


@dataclass(frozen=True)
class ProcessedSource:
    """A completed execution for one source, with where it came from.

    ``content_hash`` is ``sha256:<hex>`` of the bytes (``url:<url>`` for URLs); ``from_cache`` is
    True when no request was paid for (see :class:`~langchain_vlmrun.client.cache.ResultCache`).
    """

    execution: AgentExecution
    content_hash: str
    file_id: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    size: int | None = None
    url: str | None = None
    from_cache: bool = False
    resumed: bool = False


class _Slot:
    """The execution slot a source holds (see :class:`SubmissionGate`), given back
    once: when its execution has ended, or when the source gives up."""

    def __init__(self, gate: SubmissionGate | None) -> None:
        self._gate = gate  # None: no slot held

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release()


def process(
    source: FileSource | PreparedFile,
    request: ExecuteRequest,
    *,
    uploads: UploadSettings,
    retry: RetryPolicy,
    timeout: float,
    schedule: PollSchedule,
    clock: Callable[[], float],
    input_key: str = INPUT_FILE_KEY,
    filename: str | None = None,
    cache: ResultCache | None = None,
    accept: Callable[[AgentExecution], Any] | None = None,
    durations: DurationMemory | None = None,
    leases: Leases | None = None,
    deliveries: DeliveryHealth | None = None,
) -> Operation[ProcessedSource]:
    """Upload (or reference a URL), execute, wait: with the result cache and resume.

    ``accept`` checks a completed execution (e.g. validates it against a schema) before
    it is cached; if it raises, nothing is cached and the error propagates. A local
    file is opened once (and closed at the end unless a ``PreparedFile`` was given).
    With ``leases`` (and a shared ``cache``), a document another worker is running is
    waited for instead of submitted again. With ``deliveries`` and a ``callback_url`` in the
    request, waiting is done by :func:`wait_for_callback` while deliveries to that URL
    arrive, and by polling (woken by any delivery) while they do not.
    """
    options: dict[str, Any] = {
        "uploads": uploads,
        "retry": retry,
        "timeout": timeout,
        "schedule": schedule,
        "clock": clock,
        "input_key": input_key,
        "cache": cache,
        "accept": accept,
        "durations": durations,
        "leases": leases,
        "deliveries": deliveries,
    }
    if isinstance(source, PreparedFile) or (isinstance(source, str) and is_url(source)):
        return (yield from _process(source, request, **options))
    prepared = yield Blocking(
        lambda: prepare_file(source, filename=filename, max_size=uploads.max_file_size)
    )
    try:
        return (yield from _process(prepared, request, **options))
    finally:
        prepared.close()


def _process(
    source: PreparedFile | str,
    request: ExecuteRequest,
    *,
    uploads: UploadSettings,
    retry: RetryPolicy,
    timeout: float,
    schedule: PollSchedule,
    clock: Callable[[], float],
    input_key: str,
    cache: ResultCache | None,
    accept: Callable[[AgentExecution], Any] | None,
    durations: DurationMemory | None,
    leases: Leases | None,
    deliveries: DeliveryHealth | None,
) -> Operation[ProcessedSource]:
    prepared: PreparedFile | None = None
    url: str | None = None
    if isinstance(source, str):
        url = check_url(source)
        content_hash = f"url:{url}"
    else:
        prepared = source
        content_hash = f"sha256:{prepared.sha256}"

    def done(execution: AgentExecution, file_id: str | None, **flags: bool) -> ProcessedSource:
        return ProcessedSource(
            execution=execution,
            content_hash=content_hash,
            file_id=file_id,
            filename=prepared.filename if prepared else None,
            mime_type=prepared.mime_type if prepared else None,
            size=prepared.size if prepared else None,
            url=url,
            **flags,
        )

    kind = duration_kind(request, prepared.size if prepared else None)

    def waiting(
        execution_id: str, current: AgentExecution | None = None, since: float | None = None
    ) -> Operation[AgentExecution]:
        # only a fresh submission (``current``) starts the clock the memory measures from
        memory = durations if schedule.learn_durations and current is not None else None
        url = request.callback_url
        if deliveries is not None and url and not deliveries.silent(url):

            def heard(done: Completion) -> None:
                if not done.delivered:  # a safety poll found it: the delivery never came
                    deliveries.missed(url)
                    return
                deliveries.delivered(url)
                if memory is not None:  # an upper bound: the delivery's arrival
                    memory.observe(kind, lower=0.0, upper=done.upper, server=None)

            return (
                yield from wait_for_callback(
                    execution_id,
                    timeout=timeout,
                    clock=clock,
                    current=current,
                    expected=memory.expected(kind) if memory else None,
                    on_complete=heard,
                )
            )
        probe = memory.probe(kind, earliest=schedule.interval(0)) if memory else None

        def learn(done: Completion) -> None:
            if deliveries is not None and url and done.delivered:
                deliveries.delivered(url)
            if memory is not None:
                memory.observe(
                    kind,
                    lower=done.lower,
                    upper=done.upper,
                    server=None if done.stamped_by_another else server_duration(done.execution),
                    probe=done.probe,
                    hit=done.hit,
                    answered=done.answer,
                )

        try:
            return (
                yield from wait(
                    execution_id,
                    timeout=timeout,
                    schedule=schedule,
                    clock=clock,
                    current=current,
                    probe=probe,
                    on_complete=learn,
                    deliveries=deliveries is not None and bool(url),
                    wave=memory.wave(kind) if memory is not None else None,
                    since=since,
                )
            )
        finally:
            if memory is not None:
                memory.release(kind, probe)  # a wait that ended without a completion

    key = cache.key(content_hash, request.cache_fields(input_key)) if cache else None
    if cache is not None and key is not None:
        record = yield Blocking(lambda: cache.get(key))
        if record is not None and record.state == "completed" and record.execution:
            return done(record.execution, record.file_id, from_cache=True)
        if leases is not None:
            claimed = yield from claim(
                key, cache=cache, leases=leases, timeout=timeout, clock=clock
            )
            if claimed.lease is None:
                assert claimed.record is not None and claimed.record.execution is not None
                return done(claimed.record.execution, claimed.record.file_id, from_cache=True)
            # ours now: run it as without leases (re-reading the record under the lease)
            again = _process(
                source,
                request,
                uploads=uploads,
                retry=retry,
                timeout=timeout,
                schedule=schedule,
                clock=clock,
                input_key=input_key,
                cache=cache,
                accept=accept,
                durations=durations,
                leases=None,
                deliveries=deliveries,
            )
            return (yield from holding(claimed.lease, again))
        if record is not None:
            try:
                execution = yield from waiting(record.execution_id)
                if accept is not None:
                    accept(execution)
                yield Blocking(lambda: cache.mark_completed(key, execution, record.file_id))
                return done(execution, record.file_id, resumed=True)
            except (ExecutionFailedError, NotFoundError) as exc:
                logger.warning(
                    "recorded execution %s for %s cannot be resumed (%s); submitting once more",
                    record.execution_id,
                    prepared.filename if prepared else url,
                    exc.message,
                )
                yield Blocking(lambda: cache.forget(key))

    gate = submission_gate.get()
    if gate is not None:
        gate.check()
    if request.name:
        yield EnsureAgent(request.name)  # an unknown name fails here, before any upload
    file_id: str | None = None
    if prepared is not None:
        uploaded = yield from upload_prepared(prepared, uploads, retry)
        file_id = uploaded.id
        assert file_id is not None
        file_value = file_input(file_id)
    else:
        assert url is not None
        file_value = url_input(url)
    inputs = {**(request.inputs or {}), input_key: file_value}
    slot = _Slot(None)
    if gate is not None:
        yield Admit(gate)  # waits while max_concurrency executions of the load run
        slot = _Slot(gate)
    try:
        with gate.submitting() if gate is not None else nullcontext():
            if cache is not None and key is not None:
                # recorded *before* sending, under the client request id: a process that
                # dies while the request is in flight resumes by looking that id up (404:
                # re-send)
                yield Blocking(lambda: cache.mark_submitted(key, request.id, file_id))
            try:
                sent = clock()
                started = yield from execute(replace(request, inputs=inputs), retry)
            except APIError as exc:
                if cache is not None and key is not None and not is_ambiguous(exc):
                    yield Blocking(lambda: cache.forget(key))  # refused: nothing to resume
                raise
        if cache is not None and key is not None and started.id != request.id:
            # the server chose its own id: record that one
            yield Blocking(lambda: cache.mark_submitted(key, started.id, file_id))
        # the job started between its request and the answer: timed from there (placed by
        # the server's own stamp, see DurationMemory.started), what the memory learns is
        # not blurred by a busy client's late requests and answers; an answer slower than
        # the grid's first poll had retries, and the job is timed from the answer
        answered = clock()
        since = answered
        if answered - sent < schedule.interval(0):
            created = started.created_at.timestamp() if started.created_at else None
            since = durations.started(sent, answered, created) if durations else sent
        try:
            execution = yield from waiting(started.id, started, since)
            slot.release()  # it has ended: the next source is submitted now
            if accept is not None:
                accept(execution)
        except (ExecutionFailedError, ResponseValidationError):
            if cache is not None and key is not None:
                yield Blocking(lambda: cache.forget(key))
            raise
        if cache is not None and key is not None:
            yield Blocking(lambda: cache.mark_completed(key, execution, file_id))
        return done(execution, file_id)
    finally:
        slot.release()
