"""``VLMRunClient`` and ``AsyncVLMRunClient``: small httpx clients for the VLM Run API.

Both carry out the same operations from :mod:`langchain_vlmrun._operations`; they only
differ in how an effect is performed (blocking vs awaited I/O and sleep).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr
from tenacity import AsyncRetrying, Retrying

from langchain_vlmrun import _operations as ops
from langchain_vlmrun._budget import RequestBudget
from langchain_vlmrun._budget_protocol import Budget
from langchain_vlmrun._exceptions import (
    APIConnectionError,
    APITimeoutError,
    MissingAPIKeyError,
    status_error_from_response,
)
from langchain_vlmrun._metering import RequestCounter, record_request
from langchain_vlmrun._models import AgentExecution, FileResponse
from langchain_vlmrun._operations import (
    AwaitCompletion,
    Blocking,
    Call,
    Effect,
    ExecuteRequest,
    Operation,
    ProcessedSource,
    Sleep,
)
from langchain_vlmrun._polling import DurationMemory, PollSchedule
from langchain_vlmrun._redaction import install_log_filter, redact_request, safe_url
from langchain_vlmrun._retry import DEFAULT_RETRY_TIMEOUT, RetryPolicy, parse_retry_after
from langchain_vlmrun._sources import FileSource, PreparedFile
from langchain_vlmrun._validation import check_number
from langchain_vlmrun._version import __version__
from langchain_vlmrun.cache import ResultCache
from langchain_vlmrun.completion import CompletionHub, await_completion, await_completion_async
from langchain_vlmrun.leases import DedupeLeases

__all__ = ["DEFAULT_BASE_URL", "AsyncVLMRunClient", "VLMRunClient"]

logger = logging.getLogger("langchain_vlmrun")

DEFAULT_BASE_URL = "https://api.vlm.run/v1"
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


class _BaseClient:
    """Settings, request building and response handling shared by both clients."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        poll: PollSchedule | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        presigned_threshold: int = PRESIGNED_THRESHOLD,
        hash_lookup_min_size: int = ops.HASH_LOOKUP_MIN_SIZE,
        max_file_size: int | None = None,
        allow_training: bool = False,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
        request_id_factory: Callable[[], str] = lambda: str(uuid.uuid4()),
        requests_per_minute: float | None = None,
        budget: Budget | None = None,
        hub: CompletionHub | None = None,
        leases: DedupeLeases | None = None,
    ) -> None:
        check_number("wait_timeout", wait_timeout, optional=False)
        check_number("retry_timeout", retry_timeout, inclusive=True, optional=False)
        check_number("max_retries", max_retries, inclusive=True, integer=True)
        check_number("requests_per_minute", requests_per_minute)
        if isinstance(timeout, (int, float)):
            check_number("timeout", timeout, optional=False)
            if timeout > MAX_HTTP_TIMEOUT:
                raise ValueError(
                    f"timeout={timeout!r} s is beyond what sockets accept; use at most "
                    f"{MAX_HTTP_TIMEOUT:.0e} s (it is per request; wait_timeout bounds waits)."
                )
        self.api_key = _resolve_key(api_key)
        self.base_url = (base_url or os.environ.get("VLMRUN_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.retry = retry or RetryPolicy(timeout=retry_timeout, max_retries=max_retries)
        self.poll = poll or PollSchedule()
        self.wait_timeout = wait_timeout
        self.uploads = ops.UploadSettings(
            presigned_threshold=presigned_threshold,
            hash_lookup_min_size=hash_lookup_min_size,
            max_file_size=max_file_size,
        )
        self.allow_training = allow_training
        self.clock = clock
        self.request_id_factory = request_id_factory
        self.hub = hub
        self.leases = leases
        self.budget: Budget | None = budget or (
            RequestBudget(requests_per_minute, clock=clock) if requests_per_minute else None
        )
        self.requests = RequestCounter()
        self.durations = DurationMemory()
        install_log_filter()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- request building -----------------------------------------------------------

    def _headers(self, call: Call) -> dict[str, str]:
        headers = {
            "User-Agent": f"langchain-vlmrun/{__version__} httpx/{httpx.__version__}",
            "X-Client-Id": f"langchain-vlmrun-{__version__}",
            "Accept": "application/json",
            **call.headers,
        }
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
            timeout=self.timeout,
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

    def _handle(self, call: Call, response: httpx.Response) -> httpx.Response:
        # what is handed back (and may end up in an error) carries no API key
        response.request = redact_request(response.request)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s", call.method, safe_url(response.request.url), response.status_code
            )
        if response.is_success or response.status_code in call.accept:
            if self.budget is not None and call.authenticated:
                self.budget.succeeded()
            return response
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=self.clock())
        if response.status_code == 429 and self.budget is not None:
            self.budget.penalize(retry_after)
        raise status_error_from_response(response, retry_after=retry_after)

    def _count(self, call: Call) -> None:
        if call.authenticated:
            self.requests.add()
            record_request()

    @staticmethod
    def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
        where = safe_url(request.url)
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"Request to {where} timed out ({type(exc).__name__}); raise timeout=... "
                "if the network is slow.",
                request=redact_request(request),
                request_sent=not not_sent,
            )
        return APIConnectionError(
            f"Could not reach VLM Run at {where}: {type(exc).__name__}: "
            f"{str(exc).rstrip('.') or 'no detail'}. "
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
            allow_training=self.allow_training,
            id=request_id or self.request_id_factory(),
        )

    def _wait_op(
        self,
        execution_id: str,
        timeout: float | None,
        poll: PollSchedule | None,
        current: AgentExecution | None = None,
    ) -> Operation[AgentExecution]:
        if self.hub is not None and poll is None:
            return ops.wait_for_callback(
                execution_id,
                timeout=self.wait_timeout if timeout is None else timeout,
                clock=self.clock,
                current=current,
            )
        return ops.wait(
            execution_id,
            timeout=self.wait_timeout if timeout is None else timeout,
            schedule=poll or self.poll,
            clock=self.clock,
            current=current,
        )

    def _process_op(
        self,
        source: FileSource,
        request: ExecuteRequest,
        *,
        timeout: float | None,
        input_key: str,
        filename: str | None,
        cache: ResultCache | None,
        accept: Callable[[AgentExecution], Any] | None = None,
    ) -> Operation[ProcessedSource]:
        return ops.process(
            source,
            request,
            uploads=self.uploads,
            retry=self.retry,
            timeout=self.wait_timeout if timeout is None else timeout,
            schedule=self.poll,
            clock=self.clock,
            input_key=input_key,
            filename=filename,
            cache=cache.scoped(self.base_url) if cache is not None else None,
            accept=accept,
            durations=self.durations,
            leases=self.leases,
            callbacks=self.hub is not None and bool(request.callback_url),
        )

    def _upload_op(
        self, source: FileSource, filename: str | None, purpose: str
    ) -> Operation[FileResponse]:
        return ops.upload_file(
            source,
            settings=self.uploads,
            retry=self.retry,
            clock=self.clock,
            filename=filename,
            purpose=purpose,
        )


class VLMRunClient(_BaseClient):
    """Synchronous VLM Run client: upload → execute → wait.

    Example:
        >>> from langchain_vlmrun import VLMRunClient
        >>> client = VLMRunClient()  # reads VLMRUN_API_KEY
        >>> execution = client.run("invoice.pdf", name="invoice-extractor:v2")  # doctest: +SKIP
        >>> execution.response["total_amount"]  # doctest: +SKIP
        2338.35

    Args:
        api_key: the key (default: ``VLMRUN_API_KEY``). Stored as a ``SecretStr``.
        base_url: default ``VLMRUN_BASE_URL`` or ``https://api.vlm.run/v1``.
        timeout: per-request httpx timeout.
        retry_timeout: seconds one call may keep retrying transient failures (5xx, 429,
            lost connections) before raising (default 90; polls inside :meth:`wait`
            keep trying until the wait's own timeout). See :mod:`langchain_vlmrun._retry`.
        max_retries: optional cap on the retries of one call (default: none, the time
            budget decides).
        http_client: your own ``httpx.Client`` (proxies, transports, tests).
        poll: polling schedule for :meth:`wait`; ``PollSchedule.immediate()`` never sleeps.
        wait_timeout: default seconds :meth:`wait` waits before ``ExecutionTimeoutError``.
        hash_lookup_min_size: files at least this large (default 8 MiB) are looked up
            by md5 first, so an earlier upload is reused without sending the bytes;
            smaller ones are uploaded directly (one request either way).
        max_file_size: refuse uploads larger than this many bytes (default: no limit;
            VLM Run documents none).
        allow_training: let VLM Run train on your data (default False).
        requests_per_minute: client-side request budget (None: unlimited); every
            request of this client waits for a slot. Pass one ``budget=RequestBudget(...)``
            to several clients (e.g. a sync and an async one) to share it, or a
            ``RedisRequestBudget`` to share it between processes and machines.
        hub: a :class:`~langchain_vlmrun.completion.CompletionHub` fed by a
            :class:`~langchain_vlmrun.webhook_app.WebhookReceiver`: :meth:`wait`, and
            :meth:`process` with a ``callback_url``, wake on the callback and only poll
            now and then as a safety net.
        leases: :class:`~langchain_vlmrun.leases.DedupeLeases`: with a shared ``cache``
            in :meth:`process`, a document another worker is running is waited for
            instead of submitted again.
        request_id_factory: makes the client request ``id`` of each execute call.
        sleep, clock: injectable for tests.
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **settings: Any,
    ) -> None:
        super().__init__(api_key, **settings)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(follow_redirects=True)
        self._sleep = sleep

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
        if isinstance(effect, AwaitCompletion):
            if self.hub is None:
                self._sleep(effect.timeout)
                return None
            return await_completion(self.hub, effect)
        retrying = Retrying(
            sleep=self._sleep, **self.retry.tenacity_kwargs(effect.retry, effect.retry_for)
        )
        return retrying(self._send, effect)

    def _send(self, call: Call) -> httpx.Response:
        if (delay := self._admission_delay(call)) > 0:
            self._sleep(delay)
        content = _iter_upload(call.upload) if call.upload_as == "raw" else None
        request, stream = self._build(self._http, call, content)
        self._count(call)
        error: APIConnectionError | None = None
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            error = self._transport_error(exc, request)
        finally:
            if stream is not None:
                stream.close()
        if error is not None:
            raise error  # outside the except block: no httpx error (with the key) as context
        return self._handle(call, response)

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
        name: str | None = None,
        prompt: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> AgentExecution:
        """Start an agent execution (returns at once; see :meth:`wait`)."""
        request = self._execute_request(
            name=name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            request_id=request_id,
        )
        return self._drive(ops.execute(request, self.retry, self.clock))

    def get_execution(self, execution_id: str) -> AgentExecution:
        return self._drive(ops.get_execution(execution_id))

    def wait(
        self, execution_id: str, *, timeout: float | None = None, poll: PollSchedule | None = None
    ) -> AgentExecution:
        """Poll until done. Raises ExecutionFailedError / ExecutionTimeoutError."""
        return self._drive(self._wait_op(execution_id, timeout, poll))

    def process(
        self,
        source: FileSource,
        *,
        name: str | None = None,
        prompt: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        inputs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        timeout: float | None = None,
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
            name=name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            request_id=None,
        )
        return self._drive(
            self._process_op(
                source,
                request,
                timeout=timeout,
                input_key=input_key,
                filename=filename,
                cache=cache,
                accept=accept,
            )
        )

    def run(self, source: FileSource, **options: Any) -> AgentExecution:
        """Upload ``source`` (or pass an http(s) URL through), execute, wait.

        Takes the keyword arguments of :meth:`process` (``name`` or ``prompt``,
        ``json_schema``/``response_model``, ``inputs``, ``callback_url``, ``timeout``,
        ``cache``...). Raises ExecutionFailedError / ExecutionTimeoutError.
        """
        return self.process(source, **options).execution

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> VLMRunClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **settings: Any,
    ) -> None:
        super().__init__(api_key, **settings)
        self._given_http = http_client
        # httpx's connection pool belongs to the event loop that opened it: one pool per
        # running loop, so the client works across asyncio.run() calls
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._sleep = sleep

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._given_http is not None:
            return self._given_http
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = httpx.AsyncClient(follow_redirects=True)
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
        if isinstance(effect, AwaitCompletion):
            if self.hub is None:
                await self._sleep(effect.timeout)
                return None
            return await await_completion_async(self.hub, effect)
        retrying = AsyncRetrying(
            sleep=self._sleep, **self.retry.tenacity_kwargs(effect.retry, effect.retry_for)
        )
        return await retrying(self._send, effect)

    async def _send(self, call: Call) -> httpx.Response:
        if (delay := self._admission_delay(call)) > 0:
            await self._sleep(delay)
        content = _aiter_upload(call.upload) if call.upload_as == "raw" else None
        request, stream = self._build(self._http, call, content)
        self._count(call)
        error: APIConnectionError | None = None
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            error = self._transport_error(exc, request)
        finally:
            if stream is not None:
                stream.close()
        if error is not None:
            raise error  # outside the except block: no httpx error (with the key) as context
        return self._handle(call, response)

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
        name: str | None = None,
        prompt: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> AgentExecution:
        request = self._execute_request(
            name=name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            request_id=request_id,
        )
        return await self._drive(ops.execute(request, self.retry, self.clock))

    async def get_execution(self, execution_id: str) -> AgentExecution:
        return await self._drive(ops.get_execution(execution_id))

    async def wait(
        self, execution_id: str, *, timeout: float | None = None, poll: PollSchedule | None = None
    ) -> AgentExecution:
        return await self._drive(self._wait_op(execution_id, timeout, poll))

    async def process(
        self,
        source: FileSource,
        *,
        name: str | None = None,
        prompt: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        response_model: type[BaseModel] | None = None,
        inputs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        model: str | None = None,
        toolsets: Sequence[str] | None = None,
        timeout: float | None = None,
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
            name=name,
            prompt=prompt,
            inputs=inputs,
            json_schema=json_schema,
            response_model=response_model,
            config=config,
            metadata=metadata,
            callback_url=callback_url,
            model=model,
            toolsets=toolsets,
            request_id=None,
        )
        return await self._drive(
            self._process_op(
                source,
                request,
                timeout=timeout,
                input_key=input_key,
                filename=filename,
                cache=cache,
                accept=accept,
            )
        )

    async def run(self, source: FileSource, **options: Any) -> AgentExecution:
        """Upload ``source`` (or pass an http(s) URL through), execute, wait.

        Takes the keyword arguments of :meth:`process` (``name`` or ``prompt``,
        ``json_schema``/``response_model``, ``inputs``, ``callback_url``, ``timeout``,
        ``cache``...). Raises ExecutionFailedError / ExecutionTimeoutError.
        """
        return (await self.process(source, **options)).execution

    async def aclose(self) -> None:
        """Close the connections this client opened on the running event loop."""
        if self._given_http is None:
            pool = self._pools.pop(asyncio.get_running_loop(), None)
            if pool is not None:
                await pool.aclose()

    async def __aenter__(self) -> AsyncVLMRunClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _health() -> Operation[None]:
    yield Call("GET", "/health")


def _iter_upload(upload: PreparedFile | None) -> Any:
    return upload.iter_chunks() if upload is not None else None


def _aiter_upload(upload: PreparedFile | None) -> AsyncIterator[bytes] | None:
    if upload is None:
        return None

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in upload.iter_chunks():
            yield chunk

    return chunks()
