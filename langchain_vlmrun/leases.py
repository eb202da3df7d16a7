"""In-flight dedupe: one worker runs a document, the others wait for its result.

Several workers given the same file with the same agent configuration would each
upload it and pay for an execution. Before submitting, a worker takes a short
*lease* on the :class:`~langchain_vlmrun.cache.ResultCache` key (content hash +
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

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from langchain_vlmrun._exceptions import ExecutionTimeoutError
from langchain_vlmrun._operations import Blocking, Operation, Sleep
from langchain_vlmrun._redis import connect

if TYPE_CHECKING:
    from redis import Redis

    from langchain_vlmrun.cache import CacheRecord, ResultCache

__all__ = [
    "Claim",
    "DedupeLeases",
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

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

PeerState = Literal["completed", "released", "waiting", "timeout"]


@dataclass(eq=False)
class Lease:
    """The right to run one document; release it when the result is in the cache.

    ``lost`` turns True when a renewal finds the lease gone (it expired and maybe
    another worker took it): the result may still be written to the cache, harmlessly.
    """

    key: str
    token: str
    owner: DedupeLeases | LocalLeases = field(repr=False)
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
    leases: DedupeLeases | LocalLeases,
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
    leases: DedupeLeases | LocalLeases,
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


class DedupeLeases:
    """Short Redis leases on cache keys, so one worker submits each document.

    Example:
        >>> leases = DedupeLeases("redis://localhost:6379/0")  # doctest: +SKIP
        >>> key = cache.key(content_hash, request.cache_fields("file"))  # doctest: +SKIP
        >>> lease = leases.acquire(key)  # doctest: +SKIP
        >>> if lease is None:  # another worker runs it  # doctest: +SKIP
        ...     outcome = leases.wait_for(key, cache, timeout=600)

    Args:
        redis: a URL or a ``redis.Redis`` client (``decode_responses=False``).
        ttl: seconds a lease outlives its holder's last renewal.
        prefix: Redis key prefix of the leases.
        keep_alive: renew held leases every ``ttl / 3`` from one background thread,
            until released (turn off to call :meth:`Lease.renew` yourself).
        check_every: seconds between looks at a busy lease and its cache record while
            waiting for another worker (Redis reads only, no API request).
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        ttl: float = 60.0,
        prefix: str = "vlmrun:lease:",
        keep_alive: bool = True,
        check_every: float = 1.0,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.ttl = ttl
        self.check_every = check_every
        self.prefix = prefix
        self._redis = connect(redis)
        self._renew_script = self._redis.register_script(_RENEW)
        self._release_script = self._redis.register_script(_RELEASE)
        self._keeper = _KeepAlive(ttl / 3.0) if keep_alive else None

    def __repr__(self) -> str:
        return f"DedupeLeases(prefix={self.prefix!r}, ttl={self.ttl!r})"

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))

    def acquire(self, key: str) -> Lease | None:
        """The lease on ``key``, or None while another worker holds it."""
        token = secrets.token_hex(16)
        if not self._redis.set(self.prefix + key, token, nx=True, px=self._ttl_ms):
            return None
        lease = Lease(key=key, token=token, owner=self)
        if self._keeper is not None:
            self._keeper.add(lease)
        return lease

    def holder(self, key: str) -> str | None:
        """The token of the worker holding ``key`` (None when free)."""
        value: Any = self._redis.get(self.prefix + key)
        return None if value is None else bytes(value).decode()

    def _renew(self, lease: Lease) -> bool:
        args: list[str | int] = [lease.token, self._ttl_ms]
        return bool(self._renew_script(keys=[self.prefix + lease.key], args=args))

    def _release(self, lease: Lease) -> bool:
        if self._keeper is not None:
            self._keeper.discard(lease)
        return bool(self._release_script(keys=[self.prefix + lease.key], args=[lease.token]))

    def wait_for(
        self,
        key: str,
        cache: ResultCache,
        *,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> PeerOutcome:
        """Block until the holder of ``key`` finishes (see :func:`follow_peer`)."""
        operation = follow_peer(
            key, cache=cache, leases=self, timeout=timeout, interval=self.check_every
        )
        value: Any = None
        while True:
            try:
                effect = operation.send(value)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(effect, Sleep):
                sleep(effect.seconds)
                value = None
            elif isinstance(effect, Blocking):
                value = effect.function()

    async def await_for(self, key: str, cache: ResultCache, *, timeout: float) -> PeerOutcome:
        """:meth:`wait_for` for asyncio (Redis and cache reads run in a thread)."""
        operation = follow_peer(
            key, cache=cache, leases=self, timeout=timeout, interval=self.check_every
        )
        value: Any = None
        while True:
            try:
                effect = operation.send(value)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(effect, Sleep):
                await asyncio.sleep(effect.seconds)
                value = None
            elif isinstance(effect, Blocking):
                value = await asyncio.to_thread(effect.function)

    def close(self) -> None:
        """Stop renewing (held leases then expire after ``ttl``)."""
        if self._keeper is not None:
            self._keeper.close()


class _KeepAlive:
    """One daemon thread renewing every held lease each ``period`` seconds."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._held: set[Lease] = set()
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, lease: Lease) -> None:
        with self._changed:
            self._held.add(lease)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="vlmrun-lease-keepalive", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def discard(self, lease: Lease) -> None:
        with self._changed:
            self._held.discard(lease)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._held and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                self._changed.wait(self.period)
                if self._closed:
                    return
                held = list(self._held)
            for lease in held:
                try:
                    renewed = lease.owner._renew(lease)
                except Exception:  # a Redis hiccup: try again next period
                    logger.warning("could not renew dedupe lease on %s", lease.key, exc_info=True)
                    continue
                if not renewed:
                    with self._changed:
                        if lease not in self._held:
                            continue  # released meanwhile
                        self._held.discard(lease)
                    lease.lost = True
                    logger.warning("dedupe lease on %s expired before release", lease.key)


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
