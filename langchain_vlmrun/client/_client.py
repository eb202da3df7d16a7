"""``VLMRunClient`` and ``AsyncVLMRunClient``: small httpx clients for the VLM Run API.

Both carry out the same operations from :mod:`langchain_vlmrun.client._operations`; they only
differ in how an effect is performed (blocking vs awaited I/O and sleep).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, BinaryIO, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, SecretStr
from tenacity import AsyncRetrying, Retrying

from langchain_vlmrun._version import __version__
from langchain_vlmrun.client import _boundary as boundary
from langchain_vlmrun.client import _operations as ops
from langchain_vlmrun.client import _registry as registry
from langchain_vlmrun.client._boundary import BodyMeter, Hops
from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._budget_protocol import Budget
from langchain_vlmrun.client._leases import Leases, LocalLeases
from langchain_vlmrun.client._metering import RequestCounter, record_request
from langchain_vlmrun.client._operations import (
    Admit,
    AwaitDelivery,
    Blocking,
    Call,
    Effect,
    EnsureAgent,
    ExecuteRequest,
    Operation,
    ProcessedSource,
    Sleep,
)
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.client._polling import DeliveryHealth, DurationMemory, PollSchedule
from langchain_vlmrun.client._registry import KnownAgents, Pager, SavedArtifact
from langchain_vlmrun.client._retry import DEFAULT_RETRY_TIMEOUT, RetryPolicy, parse_retry_after
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.core._redaction import (
    REDACTED,
    install_log_filter,
    redact_request,
    redact_response,
    redact_url,
    safe_url,
)
from langchain_vlmrun.core._validation import check_keywords, check_number, hint_misspelled_keywords
from langchain_vlmrun.core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    MissingAPIKeyError,
    ResponseRefusedError,
    UnreadableResponseError,
    status_error_from_response,
)
from langchain_vlmrun.core.models import (
    AgentCreated,
    AgentExecution,
    AgentInfo,
    ArtifactList,
    FileResponse,
)
from langchain_vlmrun.files._sources import FileSource, PreparedFile

__all__ = ["DEFAULT_BASE_URL", "AsyncVLMRunClient", "VLMRunClient"]

logger = logging.getLogger("langchain_vlmrun")

DEFAULT_BASE_URL = "https://api.vlm.run/v1"

_UNVERSIONED = (
    "Is base_url {url!r} the API's address? base_url should end in /v1 "
    "(VLM Run's is " + DEFAULT_BASE_URL + ")."
)


def _versioned(base_url: str) -> bool:
    """Whether the base URL's path ends in an API version (``/v1``)."""
    return re.search(r"/v\d+$", urlsplit(base_url).path) is not None


def _check_base_url(base_url: str) -> None:
    """Refuse, before any request, VLM Run's own service without its API prefix (every
    call would be a 404); another host's layout is its own (a 404 then says it)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if (host == "vlm.run" or host.endswith(".vlm.run")) and not _versioned(base_url):
        raise ValueError(
            f"base_url {redact_url(base_url)!r} lacks the API prefix: base_url should end in "
            f"/v1 ({DEFAULT_BASE_URL})."
        )


DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
PRESIGNED_THRESHOLD = 32 * 1024 * 1024
DEFAULT_WAIT_TIMEOUT = 600.0
#: The largest per-request HTTP timeout accepted (socket timers overflow above ~1e10 s).
MAX_HTTP_TIMEOUT = 1e9

T = TypeVar("T")


def _resolve_key(api_key: str | SecretStr | None) -> SecretStr | None:
    if isinstance(api_key, SecretStr):
        return api_key if api_key.get_secret_value() else None
    value = api_key or os.environ.get("VLMRUN_API_KEY")
    return SecretStr(value) if value else None


class DeliveryHub(Protocol):
    """Where webhook deliveries meet waiting clients (``webhooks.WebhookHub``)."""

    def wait(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        """Block until ``execution_id`` is delivered, or None after ``timeout`` s."""
        ...

    async def await_(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        """:meth:`wait` for asyncio."""
        ...


def _new_request_id() -> str:
    """A fresh client id for an execute request (a module function: clients pickle)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ClientHooks:
    """What tests and cassette replays swap out, kept off the public settings: the
    clock, the sleep (default ``time.sleep``, or ``asyncio.sleep`` for the async client)
    and the client ids of execute requests. ``VLMRunClient(..., _hooks=ClientHooks(...))``.
    """

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Any] | None = None
    request_id_factory: Callable[[], str] = _new_request_id


@hint_misspelled_keywords
class _BaseClient:
    """Settings, request building and response handling shared by both clients."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        request_timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        poll: PollSchedule | None = None,
        wait_timeout: float | None = None,
        presigned_threshold: int = PRESIGNED_THRESHOLD,
        hash_lookup_min_size: int = ops.HASH_LOOKUP_MIN_SIZE,
        max_file_size: int | None = None,
        max_download_bytes: int = boundary.DEFAULT_MAX_DOWNLOAD_BYTES,
        allow_training: bool = False,
        retry: RetryPolicy | None = None,
        requests_per_minute: float | None = None,
        budget: Budget | None = None,
        hub: DeliveryHub | None = None,
        leases: Leases | None = None,
        check_agent_names: bool = True,
        _hooks: ClientHooks | None = None,
    ) -> None:
        hooks = _hooks or ClientHooks()
        clock = hooks.clock
        check_number("wait_timeout", wait_timeout)
        check_number("retry_timeout", retry_timeout, inclusive=True, optional=False)
        check_number("max_retries", max_retries, inclusive=True, integer=True)
        check_number("requests_per_minute", requests_per_minute)
        check_number("max_download_bytes", max_download_bytes, integer=True, optional=False)
        if isinstance(request_timeout, (int, float)):
            check_number("request_timeout", request_timeout, optional=False)
            if request_timeout > MAX_HTTP_TIMEOUT:
                raise ValueError(
                    f"request_timeout={request_timeout!r} s is beyond what sockets accept; use "
                    f"at most {MAX_HTTP_TIMEOUT:.0e} s (it is per request; wait_timeout bounds "
                    "waits)."
                )
        self.api_key = _resolve_key(api_key)
        if self.api_key is None:
            raise MissingAPIKeyError(type(self).__name__)
        self.base_url = (base_url or os.environ.get("VLMRUN_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        _check_base_url(self.base_url)
        self.request_timeout = DEFAULT_TIMEOUT if request_timeout is None else request_timeout
        self.retry = retry or RetryPolicy(retry_timeout=retry_timeout, max_retries=max_retries)
        self.poll = poll or PollSchedule()
        self.wait_timeout = DEFAULT_WAIT_TIMEOUT if wait_timeout is None else wait_timeout
        #: Whether wait_timeout was chosen (else built-in defaults may wait per medium).
        self.wait_timeout_given = wait_timeout is not None
        self.uploads = ops.UploadSettings(
            presigned_threshold=presigned_threshold,
            hash_lookup_min_size=hash_lookup_min_size,
            max_file_size=max_file_size,
        )
        self.allow_training = allow_training
        #: The largest artifact saved (bytes): refused above it, by Content-Length or
        #: while streaming.
        self.max_download_bytes = max_download_bytes
        self.clock = clock
        self.request_id_factory = hooks.request_id_factory
        self.hooks = hooks
        self.hub = hub
        # in-process dedupe by default: one execution per document at a time
        self.leases: Leases = leases if leases is not None else LocalLeases()
        self.budget: Budget | None = budget or (
            RequestBudget(requests_per_minute, clock=clock) if requests_per_minute else None
        )
        self.requests = RequestCounter()
        self.durations = DurationMemory()
        self.deliveries = DeliveryHealth()
        # what a client of the other kind needs to behave the same (see sibling_settings)
        self._settings: dict[str, Any] = {
            "base_url": self.base_url,
            "request_timeout": self.request_timeout,
            "retry": self.retry,
            "poll": self.poll,
            "wait_timeout": wait_timeout,
            "presigned_threshold": presigned_threshold,
            "hash_lookup_min_size": hash_lookup_min_size,
            "max_file_size": max_file_size,
            "max_download_bytes": max_download_bytes,
            "allow_training": allow_training,
            # the other kind sleeps its own way
            "_hooks": replace(hooks, sleep=None),
            "budget": self.budget,
            "hub": hub,
            "leases": self.leases,  # one dedupe between the sync and async twins
            "check_agent_names": check_agent_names,
        }
        self.check_agent_names = check_agent_names
        self.known_agents = KnownAgents()
        install_log_filter()

    def sibling_settings(self) -> dict[str, Any]:
        """Keyword arguments (with the key) for a client of the other kind that behaves
        like this one and shares its request budget:
        ``AsyncVLMRunClient(**client.sibling_settings())``."""
        return {"api_key": self.api_key, **self._settings}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={redact_url(self.base_url)!r})"

    # -- copies and pickles ------------------------------------------------------------

    def _arguments(self) -> dict[str, Any]:
        """The arguments this client was made with (the key included)."""
        return {"api_key": self.api_key, **self._settings, "_hooks": self.hooks}

    def _given_transport(self) -> Any:
        """The ``http_client`` passed in (None: this client makes its own)."""
        raise NotImplementedError

    def __reduce__(self) -> tuple[Any, ...]:
        """A pickle holds the arguments, not the connections: the client on the other
        side (a Dask or Ray worker) opens its own when first used. **The pickle holds the
        API key** (as LangChain's own serialization does with secrets): treat it as
        a secret. A ``RequestBudget`` or ``LocalLeases`` arrives fresh (they pace and
        dedupe one process; use the Redis ones to share them), a webhook ``hub`` not at
        all (it lives in this process: the copy polls). A client given its own
        ``http_client`` cannot be pickled."""
        if self._given_transport() is not None:
            raise TypeError(
                f"A {type(self).__name__} given http_client= cannot be pickled (connections "
                "cannot travel to another process): make it without http_client, or make "
                "the client on the worker."
            )
        return (_rebuild_client, (type(self), {**self._arguments(), "hub": None}))

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """A new client with the same arguments and its own connections; the request
        budget, leases, webhook hub and a given ``http_client`` are shared."""
        transport = self._given_transport()
        return _rebuild_client(type(self), {**self._arguments(), "http_client": transport})

    def __copy__(self) -> Any:
        return self.__deepcopy__({})

    # -- request building -----------------------------------------------------------

    def _headers(self, call: Call) -> dict[str, str]:
        headers = {
            "User-Agent": f"langchain-vlmrun/{__version__} httpx/{httpx.__version__}",
            "X-Client-Id": f"langchain-vlmrun-{__version__}",
            **call.headers,
        }
        if call.download is None and not call.absolute:  # answers we parse as JSON
            headers.setdefault("Accept", "application/json")
        if call.authenticated:
            if self.api_key is None:
                raise MissingAPIKeyError()
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _build(
        self, client: httpx.Client | httpx.AsyncClient, call: Call, content: Any = None
    ) -> tuple[httpx.Request, Any]:
        """The request for one attempt, plus a stream to close afterwards (multipart)."""
        url = call.path if call.absolute else f"{self.base_url}{call.path}"
        files = None
        stream = None
        if call.upload is not None and call.upload_as == "multipart":
            stream = call.upload.open()
            files = {"file": (call.upload.filename, stream, call.upload.mime_type)}
        request = client.build_request(
            call.method,
            url,
            params=call.params,
            json=call.json,
            files=files,
            content=content,
            headers=self._headers(call),
            timeout=self.request_timeout,
        )
        return request, stream

    def _admission_delay(self, call: Call) -> float:
        """Seconds to wait before sending, so the request fits the budget."""
        if self.budget is None or not call.authenticated:
            return 0.0
        return self.budget.reserve()

    def _sleep_seconds(self, effect: Sleep) -> float:
        """A poll does not book a budget slot that others are queueing for."""
        if effect.poll and self.budget is not None:
            return max(effect.seconds, self.budget.backlog())
        return effect.seconds

    def _hops(self, call: Call, http: httpx.Client | httpx.AsyncClient) -> Hops:
        """The redirect policy of one call (a server-named URL is checked at each hop)."""
        return Hops(
            server_named=call.absolute,
            follow=http.follow_redirects,
            max_redirects=http.max_redirects,
            trusted=httpx.URL(self.base_url),
        )

    def _meter(self, call: Call, response: httpx.Response) -> BodyMeter:
        """The bounds of ``response``'s body (see :mod:`._boundary`)."""
        seconds = boundary.body_seconds(self.request_timeout)
        if not response.is_success:  # only the start of an error answer is read
            limit = boundary.MAX_ERROR_BODY_BYTES
            return BodyMeter(response, limit, seconds, self.clock, truncate=True)
        if call.download is not None:
            return BodyMeter(
                response,
                self.max_download_bytes,
                seconds,
                self.clock,
                what="download",
                fix="Pass max_download_bytes=... (to the client or the component) to accept "
                "larger files.",
            )
        return BodyMeter(
            response,
            boundary.MAX_ANSWER_BYTES,
            seconds,
            self.clock,
            fix="That is more than an answer of the API can be: a service-side problem.",
        )

    def _handle(self, call: Call, response: httpx.Response) -> httpx.Response:
        # what is handed back (and may end up in an error) carries no API key: not in
        # its request, nor in the redirects before it (or the one it points to)
        redact_response(response)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s", call.method, safe_url(response.request.url), response.status_code
            )
        if response.is_success or response.status_code in call.accept:
            if self.budget is not None and call.authenticated:
                self.budget.succeeded()
            return response
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=self.clock())
        # only the API's own 429 holds everybody: a storage host or artifact URL has no
        # say over the account's request budget
        if response.status_code == 429 and self.budget is not None and call.authenticated:
            self.budget.penalize(retry_after)
        error = status_error_from_response(response, retry_after=retry_after)
        if response.status_code == 404 and not call.absolute and not _versioned(self.base_url):
            # every path is unknown to a host answered without the API prefix
            error.message = f"{error.message} {_UNVERSIONED.format(url=redact_url(self.base_url))}"
            error.args = (error.message,)
        raise error

    def _count(self, call: Call) -> None:
        if call.authenticated:
            self.requests.add()
            record_request()

    def _http_error(self, exc: httpx.HTTPError, request: httpx.Request) -> APIError:
        """The typed error for any httpx error: its request redacted, its text free of
        the key, and (raised outside the ``except`` block) no httpx error as context."""
        where = safe_url(request.url)
        detail = str(exc).rstrip(".") or "no detail"
        if self.api_key is not None and (secret := self.api_key.get_secret_value()):
            detail = detail.replace(secret, REDACTED)
        if isinstance(exc, httpx.DecodingError):
            return UnreadableResponseError(
                f"The answer from {where} could not be decoded ({type(exc).__name__}: "
                f"{detail}). This is a service-side problem: try again later.",
                request=redact_request(request),
            )
        if isinstance(exc, httpx.TooManyRedirects):
            return ResponseRefusedError(
                f"Too many redirects from {where}: {detail}. Check VLMRUN_BASE_URL (base_url=...).",
                request=redact_request(request),
            )
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"Request to {where} timed out ({type(exc).__name__}); raise request_timeout=... "
                "if the network is slow.",
                request=redact_request(request),
                request_sent=not not_sent,
            )
        return APIConnectionError(
            f"Could not reach VLM Run at {where}: {type(exc).__name__}: {detail}. "
            "Check the network and VLMRUN_BASE_URL.",
            request=redact_request(request),
            request_sent=not not_sent,
        )

    # -- operations (shared by both clients) -----------------------------------------

    def _execute_request(
        self,
        *,
        name: str | None,
        prompt: str | None,
        inputs: Mapping[str, Any] | None,
        json_schema: Mapping[str, Any] | None,
        response_model: type[BaseModel] | None,
        config: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        callback_url: str | None,
        model: str | None,
        toolsets: Sequence[str] | None,
        options: ExecuteOptions | None,
        request_id: str | None,
    ) -> ExecuteRequest:
        return ExecuteRequest(
            name=name,
            prompt=prompt,
            inputs=inputs,
            json_schema=ops.schema_of(response_model, json_schema),
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            options=options,
            allow_training=self.allow_training,
            id=request_id or self.request_id_factory(),
        )

    def _wait_op(
        self,
        execution_id: str,
        wait_timeout: float | None,
        poll: PollSchedule | None,
    ) -> Operation[AgentExecution]:
        check_number("wait_timeout", wait_timeout)  # refused before any request
        if self.hub is not None and poll is None:
            return ops.wait_for_callback(
                execution_id,
                timeout=self.wait_timeout if wait_timeout is None else wait_timeout,
                clock=self.clock,
            )
        return ops.wait(
            execution_id,
            timeout=self.wait_timeout if wait_timeout is None else wait_timeout,
            schedule=poll or self.poll,
            clock=self.clock,
        )

    def _process_op(
        self,
        source: FileSource,
        request: ExecuteRequest,
        *,
        wait_timeout: float | None,
        input_key: str,
        filename: str | None,
        cache: ResultCache | None,
        accept: Callable[[AgentExecution], Any] | None = None,
    ) -> Operation[ProcessedSource]:
        check_number("wait_timeout", wait_timeout)  # refused before any request
        return ops.process(
            source,
            request,
            uploads=self.uploads,
            retry=self.retry,
            timeout=self.wait_timeout if wait_timeout is None else wait_timeout,
            schedule=self.poll,
            clock=self.clock,
            input_key=input_key,
            filename=filename,
            cache=cache.scoped(self.base_url) if cache is not None else None,
            accept=accept,
            durations=self.durations,
            leases=self.leases,
            deliveries=self.deliveries if self.hub is not None else None,
        )

    def _upload_op(
        self, source: FileSource, filename: str | None, purpose: str
    ) -> Operation[FileResponse]:
        return ops.upload_file(
            source,
            settings=self.uploads,
            retry=self.retry,
            filename=filename,
            purpose=purpose,
        )


@hint_misspelled_keywords
class VLMRunClient(_BaseClient):
    """Synchronous VLM Run client: upload → execute → wait.

    Example:
        >>> from langchain_vlmrun import VLMRunClient
        >>> client = VLMRunClient()  # reads VLMRUN_API_KEY
        >>> execution = client.run(  # doctest: +SKIP
        ...     "invoice.pdf",
        ...     prompt="Extract the invoice id and total.",
        ...     json_schema={"type": "object", "properties": {"total_amount": {"type": "number"}}},
        ... )
        >>> execution.response["total_amount"]  # doctest: +SKIP
        2338.35

    Args:
        api_key: the key (default: ``VLMRUN_API_KEY``). Stored as a ``SecretStr``; without
            one the constructor raises :class:`~langchain_vlmrun.MissingAPIKeyError`.
        base_url: default ``VLMRUN_BASE_URL`` or ``https://api.vlm.run/v1``.
        request_timeout: per-request httpx timeout (seconds, or an ``httpx.Timeout``).
        retry_timeout: seconds one call may keep retrying transient failures (5xx, 429,
            lost connections) before raising (default 90; polls inside :meth:`wait`
            keep trying until the wait's own timeout). See :mod:`langchain_vlmrun.client._retry`.
        max_retries: optional cap on the retries of one call (default: none, the time
            budget decides).
        http_client: your own ``httpx.Client`` (proxies, transports, tests).
        poll: polling schedule for :meth:`wait`; ``PollSchedule.immediate()`` never sleeps.
        wait_timeout: default seconds :meth:`wait` waits before ``ExecutionTimeoutError``
            (600; loaders and tools running the built-in defaults wait by medium
            instead, up to an hour for video, unless this is set).
        hash_lookup_min_size: files at least this large (default 8 MiB) are looked up
            by md5 first, so an earlier upload is reused without sending the bytes;
            smaller ones are uploaded directly (one request either way).
        max_file_size: refuse uploads larger than this many bytes (default: no limit;
            VLM Run documents none).
        max_download_bytes: the largest artifact saved (default 1 GiB); a larger one is
            refused (:class:`~langchain_vlmrun.ResponseRefusedError`) by its
            Content-Length or while it streams. What else a server sends is bounded
            too, and which URLs it names are fetched: see :mod:`._boundary`.
        allow_training: let VLM Run train on your data (default False).
        requests_per_minute: client-side request budget (None: unlimited); every
            request of this client waits for a slot. Pass one ``budget=RequestBudget(...)``
            to several clients (e.g. a sync and an async one) to share it, or a
            ``RedisRequestBudget`` to share it between processes and machines.
        hub: a :class:`~langchain_vlmrun.webhooks.WebhookHub` fed by a
            :class:`~langchain_vlmrun.webhooks.receiver.WebhookReceiver`: :meth:`wait`, and
            :meth:`process` with a ``callback_url``, wake on the callback and only poll
            now and then as a safety net.
        leases: :class:`~langchain_vlmrun.scaleout.DedupeLeases`: with a shared ``cache``
            in :meth:`process`, a document another worker is running is waited for
            instead of submitted again.
        check_agent_names: before :meth:`process`/:meth:`run` upload anything for a
            named agent, look the name up once (``POST /agent/lookup``, remembered by
            this client); an unknown name raises :class:`AgentNotFoundError` with the
            closest existing names. ``False`` skips the check.
        _hooks: a :class:`ClientHooks` (the clock, the sleep, the execute request ids)
            for tests and cassette replays; not a setting.

    Agents, history and artifacts: :meth:`lookup_agent`, :meth:`list_agents`,
    :meth:`get_agent`, :meth:`create_agent`, :meth:`require_agent`,
    :meth:`list_executions`/:meth:`iter_executions`, :meth:`list_artifacts` and
    :meth:`download_artifact` (streamed to disk).
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        http_client: httpx.Client | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(api_key, **settings)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(follow_redirects=True)
        # a client dropped without close() still closes its connections (no
        # ResourceWarning when it is collected); close() runs this once
        self._closer = weakref.finalize(self, self._http.close) if self._owns_http else None
        self._sleep: Callable[[float], Any] = self.hooks.sleep or time.sleep

    def _given_transport(self) -> httpx.Client | None:
        return None if self._owns_http else self._http

    # -- effects ---------------------------------------------------------------------

    def _drive(self, operation: Operation[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = operation.throw(error) if error else operation.send(value)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            try:
                value, error = self._perform(effect), None
            except Exception as exc:
                value, error = None, exc

    def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Sleep):
            if (seconds := self._sleep_seconds(effect)) > 0:
                self._sleep(seconds)
            return None
        if isinstance(effect, Blocking):
            return effect.function()
        if isinstance(effect, AwaitDelivery):  # only with a hub (see _wait_op, _process_op)
            assert self.hub is not None
            return self.hub.wait(effect.execution_id, effect.timeout)
        if isinstance(effect, EnsureAgent):
            return self.require_agent(effect.name) if self.check_agent_names else None
        if isinstance(effect, Admit):
            return effect.slots.admit()
        retrying = Retrying(
            sleep=self._sleep, **self.retry.tenacity_kwargs(effect.retry, effect.retry_for)
        )
        return retrying(self._send, effect)

    def _send(self, call: Call) -> httpx.Response:
        if (delay := self._admission_delay(call)) > 0:
            self._sleep(delay)
        raw = call.upload if call.upload_as == "raw" else None  # a presigned PUT's body
        content = raw.iter_chunks() if raw is not None else None
        request, stream = self._build(self._http, call, content)
        self._count(call)
        error: APIError | None = None
        try:
            response = self._exchange(call, request)
        except httpx.HTTPError as exc:
            error = self._http_error(exc, request)
        finally:
            if stream is not None:
                stream.close()
        if error is not None:
            raise error  # outside the except block: no httpx error (with the key) as context
        return self._handle(call, response)

    def _exchange(self, call: Call, request: httpx.Request) -> httpx.Response:
        """Send ``request``, following redirects hop by hop (:class:`Hops`), and read
        the final body within its bounds (:class:`BodyMeter`)."""
        hops = self._hops(call, self._http)
        hops.start(request)
        response = self._http.send(request, stream=True, follow_redirects=False)
        try:
            while (following := hops.next(response)) is not None:
                response.close()
                response = self._http.send(following, stream=True, follow_redirects=False)
            hops.finish(response)
            _receive(response, call.download, self._meter(call, response))
        finally:
            response.close()
        return response

    # -- public API ------------------------------------------------------------------

    def health(self) -> bool:
        """True when the service answers ``GET /health`` with this key."""
        self._drive(_health())
        return True

    def upload_file(
        self, source: FileSource, *, filename: str | None = None, purpose: str = "assistants"
    ) -> FileResponse:
        """Upload a path, bytes or Blob; reuses an earlier upload of the same bytes."""
        return self._drive(self._upload_op(source, filename, purpose))

    def get_file(self, file_id: str) -> FileResponse:
        return self._drive(ops.get_file(file_id))

    def execute(
        self,
        *,
        agent_name: str | None = None,
        prompt: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        options: ExecuteOptions | None = None,
        request_id: str | None = None,
    ) -> AgentExecution:
        """Start an agent execution (returns at once; see :meth:`wait`)."""
        request = self._execute_request(
            name=agent_name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            options=options,
            request_id=request_id,
        )
        return self._drive(ops.execute(request, self.retry))

    def get_execution(self, execution_id: str) -> AgentExecution:
        return self._drive(ops.get_execution(execution_id))

    def wait(
        self,
        execution_id: str,
        *,
        wait_timeout: float | None = None,
        poll: PollSchedule | None = None,
    ) -> AgentExecution:
        """Poll until done. Raises ExecutionFailedError / ExecutionTimeoutError."""
        return self._drive(self._wait_op(execution_id, wait_timeout, poll))

    def process(
        self,
        source: FileSource,
        *,
        agent_name: str | None = None,
        prompt: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        inputs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        options: ExecuteOptions | None = None,
        wait_timeout: float | None = None,
        input_key: str = ops.INPUT_FILE_KEY,
        filename: str | None = None,
        cache: ResultCache | None = None,
        accept: Callable[[AgentExecution], Any] | None = None,
    ) -> ProcessedSource:
        """:meth:`run`, returning the execution with its provenance (hash, file id...).

        With a ``cache``, a result computed before is returned without any request, and
        an execution submitted by a run that died is waited on instead of paid again.
        """
        request = self._execute_request(
            name=agent_name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            options=options,
            request_id=None,
        )
        return self._drive(
            self._process_op(
                source,
                request,
                wait_timeout=wait_timeout,
                input_key=input_key,
                filename=filename,
                cache=cache,
                accept=accept,
            )
        )

    def run(self, source: FileSource, **options: Any) -> AgentExecution:
        """Upload ``source`` (or pass an http(s) URL through), execute, wait.

        Takes the keyword arguments of :meth:`process` (``name`` or ``prompt``,
        ``json_schema``/``response_model``, ``inputs``, ``callback_url``, ``wait_timeout``,
        ``cache``...). Raises ExecutionFailedError / ExecutionTimeoutError.
        """
        check_keywords(f"{type(self).__name__}.run", self.process, options)
        return self.process(source, **options).execution

    # -- agents, execution history, artifacts --------------------------------------------

    def lookup_agent(
        self, name: str | None = None, *, agent_id: str | None = None, prompt: str | None = None
    ) -> AgentInfo:
        """The agent with this name (bare: its latest version), id or prompt
        (``POST /agent/lookup``). Raises NotFoundError (404) when there is none."""
        info = self._drive(registry.lookup_agent(name=name, agent_id=agent_id, prompt=prompt))
        self.known_agents.remember(info, asked=name)
        return info

    def require_agent(self, name: str) -> AgentInfo:
        """The agent ``name``, looked up once per client; an unknown name raises
        :class:`AgentNotFoundError` listing the closest existing names."""
        known = self.known_agents.get(name)
        if known is not None:
            return known
        with self.known_agents.lock_for(name):
            return self._drive(registry.require_agent(name, self.known_agents))

    def get_agent(self, agent_id: str) -> AgentInfo:
        """``GET /agents/{id}``."""
        return self._drive(registry.get_agent(agent_id))

    def list_agents(self, *, page_size: int = registry.DEFAULT_PAGE_SIZE) -> list[AgentInfo]:
        """Every agent of the workspace (``GET /agent``, paged), as the server orders them."""
        agents = self._drive(registry.list_agents(page_size))
        for agent in agents:
            self.known_agents.remember(agent)
        return agents

    def create_agent(
        self,
        prompt: str,
        *,
        name: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        config: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
    ) -> AgentCreated:
        """Create an agent (``POST /agent/create``); ``name`` gets a ``:vN`` version when
        it has none. It is ``pending`` until built: :meth:`get_agent` shows its status."""
        created = self._drive(
            registry.create_agent(
                prompt,
                name=name,
                json_schema=ops.schema_of(response_model, json_schema),
                config=config,
                inputs=inputs,
                callback_url=callback_url,
            )
        )
        self.known_agents.forget_missing()  # a name found missing may exist now
        return created

    def list_executions(self, *, skip: int = 0, limit: int = 10) -> list[AgentExecution]:
        """One page of past executions, newest first (``GET /agent/executions``)."""
        return self._drive(registry.list_executions(skip, limit))

    def iter_executions(
        self, *, page_size: int = registry.DEFAULT_PAGE_SIZE
    ) -> Iterator[AgentExecution]:
        """Every past execution, newest first, one page (one request) at a time."""
        pager = Pager(page_size)
        more = True
        while more:
            page = self.list_executions(skip=pager.skip, limit=page_size)
            fresh, more = pager.take(page, lambda execution: execution.id)
            yield from fresh

    def list_artifacts(self, execution_id: str) -> ArtifactList:
        """What an execution produced (``GET /artifacts/list``)."""
        return self._drive(registry.list_artifacts(execution_id))

    def download_artifact(
        self,
        execution_id: str | None,
        object_id: str,
        directory: str | os.PathLike[str],
        *,
        session_id: str | None = None,
    ) -> SavedArtifact:
        """Stream artifact ``object_id`` (e.g. ``img_1a2b3c``) of an execution (or, with
        ``execution_id=None, session_id=...``, of a chat) to
        ``directory/<execution or session id>/<object id>.<ext>`` (reused if there)."""
        return self._drive(
            registry.download_artifact(execution_id, object_id, directory, session_id=session_id)
        )

    def close(self) -> None:
        """Close the connections this client opened (a given ``http_client`` is left open)."""
        if self._closer is not None:
            self._closer()

    def __enter__(self) -> VLMRunClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@hint_misspelled_keywords
class AsyncVLMRunClient(_BaseClient):
    """Asynchronous twin of :class:`VLMRunClient` (same arguments, awaitable methods).

    Example:
        >>> from langchain_vlmrun import AsyncVLMRunClient
        >>> async def main() -> None:
        ...     async with AsyncVLMRunClient() as client:
        ...         execution = await client.run("scan.png", prompt="Describe the image")
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(api_key, **settings)
        self._given_http = http_client
        # httpx's connection pool belongs to the event loop that opened it: one pool per
        # running loop, so the client works across asyncio.run() calls
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        # one started async generator per pool: the loop's shutdown_asyncgens() (run by
        # asyncio.run and pytest-asyncio as a loop ends) closes it, and so the pool, inside
        # that loop: a pool never outlives its loop unclosed (no ResourceWarning)
        self._closers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncGenerator[None, None]
        ] = weakref.WeakKeyDictionary()
        self._agent_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._sleep: Callable[[float], Awaitable[Any]] = self.hooks.sleep or asyncio.sleep

    def _given_transport(self) -> httpx.AsyncClient | None:
        return self._given_http

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._given_http is not None:
            return self._given_http
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = httpx.AsyncClient(follow_redirects=True)
        return pool

    async def _pool(self) -> httpx.AsyncClient:
        """:attr:`_http`, closed when its event loop shuts down (see ``_closers``)."""
        pool = self._http
        if pool is not self._given_http:
            loop = asyncio.get_running_loop()
            if loop not in self._closers:
                closer = _close_at_shutdown(pool)
                self._closers[loop] = closer
                await closer.__anext__()  # started: the loop now finalizes it
        return pool

    async def _drive(self, operation: Operation[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = operation.throw(error) if error else operation.send(value)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            try:
                value, error = await self._perform(effect), None
            except Exception as exc:
                value, error = None, exc

    async def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Sleep):
            if (seconds := self._sleep_seconds(effect)) > 0:
                await self._sleep(seconds)
            return None
        if isinstance(effect, Blocking):
            return await asyncio.to_thread(effect.function)
        if isinstance(effect, AwaitDelivery):  # only with a hub (see _wait_op, _process_op)
            assert self.hub is not None
            return await self.hub.await_(effect.execution_id, effect.timeout)
        if isinstance(effect, EnsureAgent):
            return await self.require_agent(effect.name) if self.check_agent_names else None
        if isinstance(effect, Admit):
            return await effect.slots.aadmit()
        retrying = AsyncRetrying(
            sleep=self._sleep, **self.retry.tenacity_kwargs(effect.retry, effect.retry_for)
        )
        return await retrying(self._send, effect)

    async def _send(self, call: Call) -> httpx.Response:
        if (delay := self._admission_delay(call)) > 0:
            await self._sleep(delay)
        raw = call.upload if call.upload_as == "raw" else None  # a presigned PUT's body
        content = _aiter_chunks(raw) if raw is not None else None
        request, stream = self._build(await self._pool(), call, content)
        self._count(call)
        error: APIError | None = None
        try:
            response = await self._exchange(call, request)
        except httpx.HTTPError as exc:
            error = self._http_error(exc, request)
        finally:
            if stream is not None:
                stream.close()
        if error is not None:
            raise error  # outside the except block: no httpx error (with the key) as context
        return self._handle(call, response)

    async def _exchange(self, call: Call, request: httpx.Request) -> httpx.Response:
        """:meth:`VLMRunClient._exchange`, awaited."""
        http = self._http
        hops = self._hops(call, http)
        hops.start(request)
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            while (following := hops.next(response)) is not None:
                await response.aclose()
                response = await http.send(following, stream=True, follow_redirects=False)
            hops.finish(response)
            await _areceive(response, call.download, self._meter(call, response))
        finally:
            await response.aclose()
        return response

    async def health(self) -> bool:
        await self._drive(_health())
        return True

    async def upload_file(
        self, source: FileSource, *, filename: str | None = None, purpose: str = "assistants"
    ) -> FileResponse:
        return await self._drive(self._upload_op(source, filename, purpose))

    async def get_file(self, file_id: str) -> FileResponse:
        return await self._drive(ops.get_file(file_id))

    async def execute(
        self,
        *,
        agent_name: str | None = None,
        prompt: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        options: ExecuteOptions | None = None,
        request_id: str | None = None,
    ) -> AgentExecution:
        request = self._execute_request(
            name=agent_name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            options=options,
            request_id=request_id,
        )
        return await self._drive(ops.execute(request, self.retry))

    async def get_execution(self, execution_id: str) -> AgentExecution:
        return await self._drive(ops.get_execution(execution_id))

    async def wait(
        self,
        execution_id: str,
        *,
        wait_timeout: float | None = None,
        poll: PollSchedule | None = None,
    ) -> AgentExecution:
        return await self._drive(self._wait_op(execution_id, wait_timeout, poll))

    async def process(
        self,
        source: FileSource,
        *,
        agent_name: str | None = None,
        prompt: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        inputs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        options: ExecuteOptions | None = None,
        wait_timeout: float | None = None,
        input_key: str = ops.INPUT_FILE_KEY,
        filename: str | None = None,
        cache: ResultCache | None = None,
        accept: Callable[[AgentExecution], Any] | None = None,
    ) -> ProcessedSource:
        """:meth:`run`, returning the execution with its provenance (hash, file id...).

        With a ``cache``, a result computed before is returned without any request, and
        an execution submitted by a run that died is waited on instead of paid again.
        """
        request = self._execute_request(
            name=agent_name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            options=options,
            request_id=None,
        )
        return await self._drive(
            self._process_op(
                source,
                request,
                wait_timeout=wait_timeout,
                input_key=input_key,
                filename=filename,
                cache=cache,
                accept=accept,
            )
        )

    async def run(self, source: FileSource, **options: Any) -> AgentExecution:
        """Upload ``source`` (or pass an http(s) URL through), execute, wait.

        Takes the keyword arguments of :meth:`process` (``name`` or ``prompt``,
        ``json_schema``/``response_model``, ``inputs``, ``callback_url``, ``wait_timeout``,
        ``cache``...). Raises ExecutionFailedError / ExecutionTimeoutError.
        """
        check_keywords(f"{type(self).__name__}.run", self.process, options)
        return (await self.process(source, **options)).execution

    # -- agents, execution history, artifacts --------------------------------------------

    async def lookup_agent(
        self, name: str | None = None, *, agent_id: str | None = None, prompt: str | None = None
    ) -> AgentInfo:
        info = await self._drive(registry.lookup_agent(name=name, agent_id=agent_id, prompt=prompt))
        self.known_agents.remember(info, asked=name)
        return info

    async def require_agent(self, name: str) -> AgentInfo:
        known = self.known_agents.get(name)
        if known is not None:
            return known
        async with self._agent_lock(name):
            return await self._drive(registry.require_agent(name, self.known_agents))

    def _agent_lock(self, name: str) -> asyncio.Lock:
        """One lock per name and event loop: concurrent first uses send one lookup."""
        locks = self._agent_locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(name, asyncio.Lock())

    async def get_agent(self, agent_id: str) -> AgentInfo:
        return await self._drive(registry.get_agent(agent_id))

    async def list_agents(self, *, page_size: int = registry.DEFAULT_PAGE_SIZE) -> list[AgentInfo]:
        agents = await self._drive(registry.list_agents(page_size))
        for agent in agents:
            self.known_agents.remember(agent)
        return agents

    async def create_agent(
        self,
        prompt: str,
        *,
        name: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        config: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
    ) -> AgentCreated:
        created = await self._drive(
            registry.create_agent(
                prompt,
                name=name,
                json_schema=ops.schema_of(response_model, json_schema),
                config=config,
                inputs=inputs,
                callback_url=callback_url,
            )
        )
        self.known_agents.forget_missing()  # a name found missing may exist now
        return created

    async def list_executions(self, *, skip: int = 0, limit: int = 10) -> list[AgentExecution]:
        return await self._drive(registry.list_executions(skip, limit))

    async def iter_executions(
        self, *, page_size: int = registry.DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[AgentExecution]:
        pager = Pager(page_size)
        more = True
        while more:
            page = await self.list_executions(skip=pager.skip, limit=page_size)
            fresh, more = pager.take(page, lambda execution: execution.id)
            for execution in fresh:
                yield execution

    async def list_artifacts(self, execution_id: str) -> ArtifactList:
        return await self._drive(registry.list_artifacts(execution_id))

    async def download_artifact(
        self,
        execution_id: str | None,
        object_id: str,
        directory: str | os.PathLike[str],
        *,
        session_id: str | None = None,
    ) -> SavedArtifact:
        return await self._drive(
            registry.download_artifact(execution_id, object_id, directory, session_id=session_id)
        )

    async def aclose(self) -> None:
        """Close the connections this client opened on the running event loop."""
        if self._given_http is None:
            loop = asyncio.get_running_loop()
            pool = self._pools.pop(loop, None)
            closer = self._closers.pop(loop, None)
            if pool is not None:
                await pool.aclose()
            if closer is not None:
                await closer.aclose()

    async def __aenter__(self) -> AsyncVLMRunClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _rebuild_client(cls: type[_BaseClient], arguments: dict[str, Any]) -> Any:
    """A client of ``cls`` made with ``arguments`` (unpickling, copying)."""
    return cls(**arguments)


async def _close_at_shutdown(pool: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Started once per pool; closed by the loop's ``shutdown_asyncgens()`` (or by
    :meth:`AsyncVLMRunClient.aclose`): closes ``pool`` inside its own loop."""
    try:
        yield
    finally:
        if not pool.is_closed:
            await pool.aclose()


def _health() -> Operation[None]:
    yield Call("GET", "/health")


async def _aiter_chunks(upload: PreparedFile) -> AsyncIterator[bytes]:
    """``upload``'s bytes, for the async client's request body."""
    for chunk in upload.iter_chunks():
        yield chunk


#: Bytes gathered before one write when streaming a download to disk (async: one
#: thread hop per write, not per network chunk).
_WRITE_BUFFER = 1024 * 1024


def _receive(response: httpx.Response, download: BinaryIO | None, meter: BodyMeter) -> None:
    """Read ``response``'s body within ``meter``'s bounds: a successful download streams
    into ``download`` (truncated first), anything else into ``response.content`` (an
    error answer: its first bytes only)."""
    if meter.truncate:
        kept: list[bytes] = []
        try:
            for chunk in response.iter_bytes():
                if (part := meter.prefix(chunk)) is None:
                    break
                kept.append(part)
                if meter.full:
                    break
        except httpx.DecodingError:
            pass  # an error answer's text is a courtesy: its status is the answer
        response._content = b"".join(kept)
        return
    if download is None:
        body = bytearray()
        for chunk in response.iter_bytes():
            meter.feed(chunk)
            body += chunk
        meter.finish()
        response._content = bytes(body)
        return
    download.seek(0)
    download.truncate()
    for chunk in response.iter_bytes():
        meter.feed(chunk)
        download.write(chunk)
    meter.finish()


async def _areceive(response: httpx.Response, download: BinaryIO | None, meter: BodyMeter) -> None:
    """Async twin of :func:`_receive`; file writes happen in a thread."""
    if meter.truncate:
        kept: list[bytes] = []
        try:
            async for chunk in response.aiter_bytes():
                if (part := meter.prefix(chunk)) is None:
                    break
                kept.append(part)
                if meter.full:
                    break
        except httpx.DecodingError:
            pass  # an error answer's text is a courtesy: its status is the answer
        response._content = b"".join(kept)
        return
    if download is None:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            meter.feed(chunk)
            body += chunk
        meter.finish()
        response._content = bytes(body)
        return
    await asyncio.to_thread(download.seek, 0)
    await asyncio.to_thread(download.truncate)
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        meter.feed(chunk)
        buffer += chunk
        if len(buffer) >= _WRITE_BUFFER:
            await asyncio.to_thread(download.write, bytes(buffer))
            buffer.clear()
    if buffer:
        await asyncio.to_thread(download.write, bytes(buffer))
    meter.finish()
