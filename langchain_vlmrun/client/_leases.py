"""In-flight dedupe: one worker runs a document, the others wait for its result.

The protocol and the in-process :class:`LocalLeases` live here, with the client; the
Redis-backed ``DedupeLeases`` (across processes and machines) is in
``langchain_vlmrun.scaleout``.

Several workers given the same file with the same agent configuration would each
upload it and pay for an execution. Before submitting, a worker takes a short
*lease* on the :class:`~langchain_vlmrun.client.cache.ResultCache` key (content hash +
configuration) in Redis (``SET NX PX`` with a random token). Whoever gets it runs
the document and writes the result to the shared cache; the others
:meth:`~DedupeLeases.wait_for` that record instead of submitting. A lease is
renewed in the background while held and released only by its own token, so a
worker that dies lets another take over after at most ``ttl`` seconds, and a slow
holder whose lease expired cannot delete its successor's.

The waiting loop is an operation (:func:`follow_peer`) that yields the same
``Blocking``/``Sleep`` effects as the client's operations, so ``process`` can run it
inside either client; :func:`peer_step` is its pure decision.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from langchain_vlmrun.client._effects import Blocking, Operation, Sleep
from langchain_vlmrun.core.errors import ExecutionTimeoutError

if TYPE_CHECKING:
    from langchain_vlmrun.client.cache import CacheRecord, ResultCache

__all__ = [
    "Claim",
    "Leases",
    "LocalLeases",
    "Lease",
    "PeerOutcome",
    "claim",
    "follow_peer",
    "holding",
    "peer_step",
]

T = TypeVar("T")

logger = logging.getLogger("langchain_vlmrun")


class Leases(Protocol):
    """What the dedupe needs of a lease store: :class:`LocalLeases` in one process,
    ``langchain_vlmrun.scaleout.DedupeLeases`` (Redis) across processes and machines."""

    check_every: float
    """Seconds between two looks at a peer's progress."""

    def acquire(self, key: str) -> Lease | None: ...

    def holder(self, key: str) -> str | None: ...

    def _renew(self, lease: Lease) -> bool: ...

    def _release(self, lease: Lease) -> bool: ...


PeerState = Literal["completed", "released", "waiting", "timeout"]


@dataclass(eq=False)
class Lease:
    """The right to run one document; release it when the result is in the cache.

    ``lost`` turns True when a renewal finds the lease gone (it expired and maybe
    another worker took it): the result may still be written to the cache, harmlessly.
    """

    key: str
    token: str
    owner: Leases = field(repr=False)
    lost: bool = False

    def renew(self) -> bool:
        """Extend the lease to a full ``ttl``; False if it is no longer ours."""
        ok = self.owner._renew(self)
        self.lost = self.lost or not ok
        return ok

    def release(self) -> bool:
        """Give the lease up; False if it had already expired or been taken over."""
        return self.owner._release(self)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@dataclass(frozen=True)
class PeerOutcome:
    """How waiting for another worker ended.

    ``completed``: ``record`` holds the result. ``released``: the holder let go (or
    died) without a result: acquire the lease and run (or resume a ``submitted``
    record). ``timeout``: still running when the wait ran out.
    """

    state: PeerState
    record: CacheRecord | None = None


def peer_step(record: CacheRecord | None, holder: str | None) -> PeerState:
    """What to do after reading the lease holder, then the cache record."""
    if record is not None and record.state == "completed" and record.execution is not None:
        return "completed"
    if holder is None:
        return "released"
    return "waiting"


def follow_peer(
    key: str,
    *,
    cache: ResultCache,
    leases: Leases,
    timeout: float,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> Operation[PeerOutcome]:
    """Wait for the worker holding ``key``'s lease to finish; costs no API request.

    The holder is read before the record: a holder that completes and then
    releases is never mistaken for one that gave up.
    """
    started = clock()
    while True:
        holder = yield Blocking(lambda: leases.holder(key))
        record = yield Blocking(lambda: cache.get(key))
        state = peer_step(record, holder)
        if state != "waiting":
            return PeerOutcome(state, record)
        waited = clock() - started
        if waited >= timeout:
            return PeerOutcome("timeout", record)
        yield Sleep(min(interval, timeout - waited))


@dataclass(frozen=True)
class Claim:
    """Result of :func:`claim`: our ``lease`` to run the document, or (``lease`` None)
    the ``record`` another worker completed."""

    lease: Lease | None
    record: CacheRecord | None = None


def claim(
    key: str,
    *,
    cache: ResultCache,
    leases: Leases,
    timeout: float,
    clock: Callable[[], float],
) -> Operation[Claim]:
    """Take ``key``'s lease, or wait for the worker holding it to finish.

    A holder that gives up (or dies) without a result is replaced: the lease is tried
    again. Raises ``ExecutionTimeoutError`` when the holder is still at it after
    ``timeout`` seconds.
    """
    started = clock()
    while True:
        lease = yield Blocking(lambda: leases.acquire(key))
        if lease is not None:
            return Claim(lease)
        left = timeout - (clock() - started)
        outcome = yield from follow_peer(
            key,
            cache=cache,
            leases=leases,
            timeout=max(0.0, left),
            interval=leases.check_every,
            clock=clock,
        )
        if outcome.state == "completed":
            return Claim(None, outcome.record)
        if outcome.state == "timeout":
            record = outcome.record
            raise ExecutionTimeoutError(
                execution_id=record.execution_id if record else "(not submitted yet)",
                status="running in another worker",
                waited=clock() - started,
            )


def holding(lease: Lease, operation: Operation[T]) -> Operation[T]:
    """Run ``operation``, then release ``lease`` however it ends."""
    try:
        result = yield from operation
    except GeneratorExit:  # abandoned (e.g. a cancelled task): no effect can run now
        lease.release()
        raise
    except BaseException:
        yield Blocking(lease.release)
        raise
    yield Blocking(lease.release)
    return result


class LocalLeases:
    """In-process leases: the workers (threads, tasks) of one process never run the same
    document twice at once, e.g. byte-identical files at two paths in one load.

    Every client has one by default; :class:`DedupeLeases` does the same across
    processes and machines on Redis. A lease is held until released (the operations
    release it however they end), so no expiry is needed.

    Example:
        >>> leases = LocalLeases()
        >>> first = leases.acquire("doc")
        >>> leases.acquire("doc") is None  # a second worker waits for the first
        True
        >>> first.release(), leases.acquire("doc") is not None
        (True, True)
    """

    def __init__(self, *, check_every: float = 0.02) -> None:
        self.check_every = check_every
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"LocalLeases(held={len(self._held)})"

    def __getstate__(self) -> dict[str, Any]:
        """Leases belong to one process: a pickled copy holds none."""
        return {"check_every": self.check_every}

    def __setstate__(self, state: dict[str, Any]) -> None:
        LocalLeases.__init__(self, **state)

    def acquire(self, key: str) -> Lease | None:
        token = secrets.token_hex(8)
        with self._lock:
            if key in self._held:
                return None
            self._held[key] = token
        return Lease(key, token, self)

    def holder(self, key: str) -> str | None:
        with self._lock:
            return self._held.get(key)

    def _renew(self, lease: Lease) -> bool:
        return self.holder(lease.key) == lease.token

    def _release(self, lease: Lease) -> bool:
        with self._lock:
            if self._held.get(lease.key) != lease.token:
                return False
            del self._held[lease.key]
            return True
