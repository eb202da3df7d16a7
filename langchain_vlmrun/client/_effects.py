"""The effects an operation yields, and what a driver answers to each (sans-IO).

An operation (:mod:`._operations`) is a generator: it yields one of these, the driver
(:mod:`._client`, sync or async) carries it out and sends the result back in. Nothing
here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal, Protocol, TypeVar

from langchain_vlmrun.client._retry import RetryMode
from langchain_vlmrun.files._sources import PreparedFile

__all__ = [
    "Admit",
    "AwaitDelivery",
    "Blocking",
    "Call",
    "Effect",
    "EnsureAgent",
    "Operation",
    "Sleep",
    "Slots",
]

T = TypeVar("T")


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
    retry_for: float | None = None
    """Seconds transient failures may be retried (default: the client's RetryPolicy)."""
    download: BinaryIO | None = None
    """Stream a successful body into this open file (rewritten from its start on every
    attempt) instead of reading it into memory; the returned response's body is then
    not readable. The operation owns the file (it created it where it is safe)."""


@dataclass
class Sleep:
    """Pause ``seconds``; result: None. A ``poll`` pause may be stretched by the budget."""

    seconds: float
    poll: bool = False


@dataclass
class Blocking:
    """Run blocking work (disk hashing); the async client runs it in a thread."""

    function: Callable[[], Any]


@dataclass(frozen=True)
class AwaitDelivery:
    """Wait up to ``timeout`` s for ``execution_id``'s webhook delivery.

    Result: the delivered execution, or None when the time ran out. Performed by a
    client that has a :class:`~langchain_vlmrun.webhooks.hub.WebhookHub`.
    """

    execution_id: str
    timeout: float


@dataclass(frozen=True)
class EnsureAgent:
    """Check that the agent ``name`` exists before paying for anything.

    Result: its ``AgentInfo`` (None when the client does not check names). The client
    looks each name up once (``POST /agent/lookup``) and remembers it; an unknown name
    raises :class:`~langchain_vlmrun.AgentNotFoundError` with the closest names.
    """

    name: str


class Slots(Protocol):
    """A caller's execution slots (a loader's ``max_concurrency``): one is taken before
    an execution is submitted and given back when it has ended."""

    def admit(self) -> None:
        """Take a slot, waiting (blocking) until one is free."""

    async def aadmit(self) -> None:
        """:meth:`admit` for asyncio."""

    def release(self) -> None:
        """Give a slot back (never blocks)."""


@dataclass(frozen=True)
class Admit:
    """Take one of ``slots`` before submitting an execution; result: None. The sync
    client waits in its thread, the async one awaits; either raises what ``slots``
    raises (e.g. the caller stopped while this source waited)."""

    slots: Slots


Effect = Call | Sleep | Blocking | AwaitDelivery | EnsureAgent | Admit
Operation = Generator[Effect, Any, T]
