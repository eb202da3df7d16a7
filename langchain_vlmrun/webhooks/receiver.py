"""``WebhookReceiver``: an ASGI app receiving VLM Run's ``callback_url`` deliveries.

Each delivery is checked (``X-VLMRun-Signature``, an HMAC of the raw body), parsed as
an execution and handed to a :class:`~langchain_vlmrun.webhooks.hub.WebhookHub`,
which wakes whoever waits for it. VLM Run retries a delivery that did not get a 2xx
(30 s timeout, up to 2 retries), and the signature has no timestamp, so deliveries
are deduplicated by execution id: a repeat is answered 200 and changes nothing.

Run it alone (``uvicorn module:receiver``) or inside an existing app: mount it
(``app.mount("/hooks/vlmrun", receiver)``, callback URL ending in ``/``), or add its
endpoint on an exact path (``app.add_route("/hooks/vlmrun", receiver.endpoint,
methods=["POST"])``). Needs the ``webhooks`` extra (Starlette).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from langchain_vlmrun.core._optional import require
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.webhooks.hub import WebhookHub
from langchain_vlmrun.webhooks.signature import SIGNATURE_HEADER, verify_webhook_signature

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

    from langchain_vlmrun.client.cache import ResultCache

__all__ = ["WebhookReceiver", "WebhookStats"]

logger = logging.getLogger("langchain_vlmrun")

#: Deliveries are one execution as JSON; anything larger is refused (413) before it is
#: buffered. A result this large is still fetched by the waiter's safety poll.
MAX_BODY = 4 * 1024 * 1024
#: Seconds a sender has to send the whole body (VLM Run gives a delivery 30 s in all).
READ_TIMEOUT = 10.0
#: Deliveries read at once; more are answered 503 at once (VLM Run retries them).
MAX_CONCURRENT = 64


class _Refused(Exception):
    """A delivery refused while its body was read (the answer's status and detail)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class WebhookStats:
    """Counters of what the receiver saw (one process)."""

    received: int = 0
    completed: int = 0
    duplicates: int = 0
    bad_signature: int = 0
    malformed: int = 0
    too_large: int = 0
    not_terminal: int = 0
    too_slow: int = 0
    busy: int = 0
    disconnected: int = 0


class WebhookReceiver:
    """Verifies, deduplicates and routes execution callbacks (an ASGI app).

    Example:
        >>> hub = WebhookHub()
        >>> receiver = WebhookReceiver(secret="whsec_...", hub=hub)
        >>> # uvicorn.run(receiver, host="0.0.0.0", port=8080)
        >>> # elsewhere: client.execute(..., callback_url="https://you.example/")

    Args:
        secret: the webhook secret from the VLM Run dashboard. Unsigned or badly
            signed deliveries get 401 and are counted in ``stats.bad_signature``.
        hub: wakes the waiters of each delivered execution.
        cache: also store each ``completed`` execution in this ``ResultCache`` under
            the key its waiter registered (``hub.expect(id, cache_key=...)``) or that
            ``cache_key_for`` returns; the submitted record's ``file_id`` is kept.
        cache_key_for: finds the cache key of an execution (default: the hub's).
        accept: checks an execution before it is cached (e.g. against the schema the
            caller expects); if it raises, the execution is not cached.
        forward: also hand each accepted execution to this (e.g.
            ``RedisWebhookRelay(...).publish``, for hubs in other processes).
        max_body: larger deliveries are refused with 413, from the declared length
            before reading, else as soon as the body passes it.
        read_timeout: seconds a sender has to send the whole body (408 after).
        max_concurrent: deliveries read at once; more get 503 at once.
        remember: how many execution ids to remember for deduplication.

    A sender that hangs up is counted in ``stats.disconnected`` and logged at DEBUG.
    """

    def __init__(
        self,
        secret: str | SecretStr,
        hub: WebhookHub | None = None,
        *,
        cache: ResultCache | None = None,
        cache_key_for: Callable[[AgentExecution], str | None] | None = None,
        accept: Callable[[AgentExecution], Any] | None = None,
        forward: Callable[[AgentExecution], object] | None = None,
        max_body: int = MAX_BODY,
        read_timeout: float = READ_TIMEOUT,
        max_concurrent: int = MAX_CONCURRENT,
        remember: int = 100_000,
    ) -> None:
        secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        if not secret.get_secret_value().strip():
            raise ValueError(
                "a webhook secret is required (not blank): copy it from the VLM Run dashboard"
            )
        self._secret = secret
        self.hub = hub if hub is not None else WebhookHub()
        self.cache = cache
        self.cache_key_for = cache_key_for or (lambda execution: self.hub.cache_key(execution.id))
        self.accept = accept
        self.forward = forward
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.max_concurrent = max_concurrent
        self._reading = 0
        self.remember = remember
        self.stats = WebhookStats()
        self._seen: OrderedDict[str, None] = OrderedDict()
        starlette_apps = require("starlette.applications", "webhooks")
        routing = require("starlette.routing", "webhooks")
        self.app = starlette_apps.Starlette(
            routes=[routing.Route("/{path:path}", self.endpoint, methods=["POST"])]
        )

    def __repr__(self) -> str:
        return f"WebhookReceiver(hub={self.hub!r}, stats={self.stats!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def _read(self, request: Request) -> bytes:
        """The raw body, read within ``read_timeout`` and never past ``max_body``.

        Raises:
            _Refused: too many deliveries at once (503), too large (413), too slow (408),
                or the sender hung up.
        """
        from starlette.requests import ClientDisconnect

        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise _Refused(413, "delivery too large")
        if self._reading >= self.max_concurrent:
            raise _Refused(503, "too many deliveries at once; retry")
        self._reading += 1
        try:
            return await asyncio.wait_for(self._body(request), self.read_timeout)
        except asyncio.TimeoutError:
            raise _Refused(408, "delivery sent too slowly") from None
        except ClientDisconnect:
            raise _Refused(499, "sender disconnected") from None
        finally:
            self._reading -= 1

    async def _body(self, request: Request) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise _Refused(413, "delivery too large")
            chunks.append(chunk)
        return b"".join(chunks)

    def _refused(self, refusal: _Refused, request: Request) -> Response:
        from starlette.responses import JSONResponse

        client = request.client.host if request.client else "unknown"
        if refusal.status == 413:
            self.stats.too_large += 1
            logger.warning(
                "webhook: refused a delivery from %s over max_body (%d bytes); its waiter "
                "will poll for it (raise max_body if your results are this large)",
                client,
                self.max_body,
            )
        elif refusal.status == 408:
            self.stats.too_slow += 1
            logger.warning(
                "webhook: %s took over %.0f s to send a delivery", client, self.read_timeout
            )
        elif refusal.status == 503:
            self.stats.busy += 1
            return JSONResponse(
                {"detail": refusal.detail}, status_code=503, headers={"Retry-After": "1"}
            )
        else:
            self.stats.disconnected += 1
            logger.debug("webhook: %s disconnected while sending a delivery", client)
        return JSONResponse({"detail": refusal.detail}, status_code=refusal.status)

    def _first_delivery(self, execution_id: str) -> bool:
        if execution_id in self._seen:
            return False
        self._seen[execution_id] = None
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        return True

    def _hand_on(self, execution: AgentExecution) -> None:
        """Blocking side effects of a delivery: the cache, then other processes."""
        self._store(execution)
        if self.forward is not None:
            self.forward(execution)

    def _store(self, execution: AgentExecution) -> None:
        if self.cache is None or execution.status != "completed":
            return
        key = self.cache_key_for(execution)
        if key is None:
            return
        if self.accept is not None:
            try:
                self.accept(execution)
            except Exception as exc:
                logger.warning("webhook: not caching execution %s: %s", execution.id, exc)
                return
        submitted = self.cache.get(key)
        self.cache.mark_completed(key, execution, submitted.file_id if submitted else None)

    async def endpoint(self, request: Request) -> Response:
        """The request handler (for ``add_route`` on an exact path)."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        self.stats.received += 1
        try:
            body = await self._read(request)
        except _Refused as refusal:
            return self._refused(refusal, request)
        if not verify_webhook_signature(body, request.headers.get(SIGNATURE_HEADER), self._secret):
            self.stats.bad_signature += 1
            client = request.client.host if request.client else "unknown"
            logger.warning("webhook: refused a delivery with a bad signature from %s", client)
            return JSONResponse({"detail": "invalid signature"}, status_code=401)
        try:
            execution = AgentExecution.model_validate_json(body)
        except ValueError:
            self.stats.malformed += 1
            return JSONResponse({"detail": "not an execution"}, status_code=400)
        if not execution.is_terminal:
            self.stats.not_terminal += 1
            return JSONResponse({"status": "ignored"})
        if not self._first_delivery(execution.id):
            self.stats.duplicates += 1
            return JSONResponse({"status": "duplicate"})
        try:
            await run_in_threadpool(self._hand_on, execution)
        except Exception:
            self._seen.pop(execution.id, None)  # let VLM Run's retry try again
            logger.exception("webhook: could not store or forward execution %s", execution.id)
            return JSONResponse({"detail": "could not store the result"}, status_code=503)
        self.hub.complete(execution)
        self.stats.completed += 1
        logger.debug("webhook: execution %s %s", execution.id, execution.status)
        return JSONResponse({"status": "accepted"})
