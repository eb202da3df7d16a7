"""``RedisByteStore``: a LangChain ``BaseStore[str, bytes]`` on Redis, for shared caches.

Give it to :class:`~langchain_vlmrun.client.cache.ResultCache` so every worker sees the same
completed and submitted records: a document processed by one machine is answered
from the cache on all the others, and an execution submitted by a worker that died is
resumed by the next one instead of being paid again.

(``langchain-community``'s ``RedisStore`` does the same but brings that whole package
along; this one needs only ``redis`` and escapes glob characters in key prefixes.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, cast

from langchain_core.stores import BaseStore

from langchain_vlmrun.scaleout._redis import Reconnects, connect

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["RedisByteStore"]

_GLOB_SPECIALS = re.compile(r"([*?\[\]\\])")


class RedisByteStore(BaseStore[str, bytes], Reconnects):
    """Bytes values under string keys in Redis, with an optional time to live.

    Example:
        >>> from langchain_vlmrun import ResultCache
        >>> store = RedisByteStore("redis://localhost:6379/0", ttl=7 * 86400)  # doctest: +SKIP
        >>> cache = ResultCache(store)  # doctest: +SKIP

    Args:
        redis: a ``redis://``/``rediss://``/``unix://`` URL or a ``redis.Redis`` client
            (``decode_responses=False``).
        ttl: seconds each written value lives (None: until deleted). Rewriting a key
            starts its time again.
        prefix: prepended to every key in Redis (and removed from ``yield_keys``).
    """

    def __init__(self, redis: str | Redis, *, ttl: float | None = None, prefix: str = "") -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive (None: keep values until deleted)")
        self.ttl = ttl
        self.prefix = prefix
        self._redis = connect(redis)
        self._remember(redis, ttl=ttl, prefix=prefix)

    def __repr__(self) -> str:
        return f"RedisByteStore(prefix={self.prefix!r}, ttl={self.ttl!r})"

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return cast(list[bytes | None], self._redis.mget([self.prefix + key for key in keys]))

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        if not key_value_pairs:
            return
        expire_ms = None if self.ttl is None else max(1, round(self.ttl * 1000))
        with self._redis.pipeline(transaction=True) as pipe:
            for key, value in key_value_pairs:
                pipe.set(self.prefix + key, value, px=expire_ms)
            pipe.execute()

    def mdelete(self, keys: Sequence[str]) -> None:
        if keys:
            self._redis.delete(*(self.prefix + key for key in keys))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        pattern = _GLOB_SPECIALS.sub(r"\\\1", self.prefix + (prefix or "")) + "*"
        # a set: SCAN may return a key more than once (the client gives bytes: connect)
        found = {raw.decode() for raw in self._redis.scan_iter(match=pattern, count=1000)}
        yield from (key[len(self.prefix) :] for key in found)
