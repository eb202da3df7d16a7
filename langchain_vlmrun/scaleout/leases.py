"""``DedupeLeases``: the in-flight dedupe across processes and machines, in Redis.

Before submitting, a worker takes a short *lease* on the result-cache key (content
hash + configuration) with ``SET NX PX`` and a random token; whoever gets it runs the
document and writes the result to the shared cache, the others wait for that record
(see ``langchain_vlmrun.client._leases``). A lease is renewed in the background while
held and released only by its own token, so a worker that dies lets another take over
after at most ``ttl`` seconds, and a slow holder whose lease expired cannot delete its
successor's.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_vlmrun.client._effects import Blocking, Sleep
from langchain_vlmrun.client._leases import Lease, PeerOutcome, follow_peer
from langchain_vlmrun.scaleout._redis import Reconnects, connect

if TYPE_CHECKING:
    from redis import Redis

    from langchain_vlmrun.client.cache import ResultCache

__all__ = ["DedupeLeases"]

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


class DedupeLeases(Reconnects):
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
        self._remember(
            redis, ttl=ttl, prefix=prefix, keep_alive=keep_alive, check_every=check_every
        )
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
            self._renew(held)

    def _renew(self, held: list[Lease]) -> None:
        """One round: renew each held lease; one that expired meanwhile is marked lost."""
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
