"""Connecting to Redis for the scale-out helpers (optional ``redis`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from langchain_vlmrun.core._optional import require

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["connect"]


def connect(redis: str | Redis) -> Redis:
    """A byte-level client: a URL is opened, a client is checked and used as it is.

    Values are bytes (cache records, slot times parsed by us), so a client created with
    ``decode_responses=True`` is refused rather than silently returning ``str``.
    """
    redis_lib = require("redis", "redis")
    if isinstance(redis, str):
        client: Redis = redis_lib.Redis.from_url(redis)
        return client
    if not isinstance(redis, redis_lib.Redis):
        raise TypeError(f"expected a Redis URL or a redis.Redis client, got {type(redis).__name__}")
    if redis.get_connection_kwargs().get("decode_responses"):
        raise ValueError("pass a redis.Redis client created with decode_responses=False")
    return cast("Redis", redis)
