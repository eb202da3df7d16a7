"""Connecting to Redis for the scale-out helpers (optional ``redis`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_vlmrun.core._optional import require

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["Reconnects", "connect"]


def connect(redis: str | Redis) -> Any:
    """A byte-level client: a URL is opened, a client is checked and used as it is.

    Typed ``Any`` on purpose: redis-py's annotations change between releases (a call
    typed in one is untyped in the next), so code checked against one release would need
    ``type: ignore`` comments another release reports as unused; ``make lint`` passes
    whichever ``redis`` is installed.

    Values are bytes (cache records, slot times parsed by us), so a client created with
    ``decode_responses=True`` is refused rather than silently returning ``str``.
    """
    redis_lib = require("redis", "redis")
    if isinstance(redis, str):
        return redis_lib.Redis.from_url(redis)
    if not isinstance(redis, redis_lib.Redis):
        raise TypeError(f"expected a Redis URL or a redis.Redis client, got {type(redis).__name__}")
    if redis.get_connection_kwargs().get("decode_responses"):
        raise ValueError("pass a redis.Redis client created with decode_responses=False")
    return redis


class Reconnects:
    """Pickles (Dask, Ray, multiprocessing) as its arguments when made from a URL: the
    copy on a worker connects to that URL itself (a password in the URL travels with
    it). Made from a ``redis.Redis`` client, it cannot be pickled (a connection cannot
    travel)."""

    _arguments: dict[str, Any] | None = None

    def _remember(self, redis: str | Redis, **arguments: Any) -> None:
        self._arguments = {"redis": redis, **arguments} if isinstance(redis, str) else None

    def __reduce__(self) -> tuple[Any, ...]:
        if self._arguments is None:
            raise TypeError(
                f"{type(self).__name__} was given a redis.Redis client, which cannot be "
                "pickled: give it a redis:// URL to ship it to workers (each copy then "
                "connects to that URL)."
            )
        return (_reconnect, (type(self), self._arguments))


def _reconnect(cls: type[Reconnects], arguments: dict[str, Any]) -> Reconnects:
    return cls(**arguments)
