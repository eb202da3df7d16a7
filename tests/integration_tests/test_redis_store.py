"""RedisByteStore: LangChain's BaseStore suites and ResultCache sharing, on a real Redis."""

from __future__ import annotations

import pytest
import redis

from langchain_vlmrun import AgentExecution, ResultCache
from langchain_vlmrun.scaleout.redis_store import RedisByteStore
from tests.store_contract import AsyncStoreContract, StoreContract


class TestRedisByteStore(StoreContract):
    @pytest.fixture
    def kv_store(self, redis_url: str) -> RedisByteStore:
        return RedisByteStore(redis_url, prefix="suite:")


class TestRedisByteStoreAsync(AsyncStoreContract):
    @pytest.fixture
    async def kv_store(self, redis_url: str) -> RedisByteStore:
        return RedisByteStore(redis_url, ttl=60)


def test_values_expire_after_ttl(redis_url: str) -> None:
    RedisByteStore(redis_url, ttl=90).mset([("k", b"v")])
    remaining_ms = redis.Redis.from_url(redis_url).pttl("k")
    assert 0 < remaining_ms <= 90_000
    RedisByteStore(redis_url).mset([("forever", b"v")])
    assert redis.Redis.from_url(redis_url).pttl("forever") == -1  # no expiry


def test_two_workers_share_completed_results(redis_url: str) -> None:
    first = ResultCache(RedisByteStore(redis_url, ttl=3600))
    second = ResultCache(RedisByteStore(redis.Redis.from_url(redis_url)))
    key = first.key("md5-of-bytes", {"prompt": "Summarise"})
    done = AgentExecution(id="ex-1", status="completed", response={"summary": "ok"})
    first.mark_completed(key, done, file_id="file-1")
    record = second.get(key)
    assert record is not None and record.state == "completed"
    assert record.execution == done and record.file_id == "file-1"
    second.clear()
    assert first.get(key) is None


def test_bad_ttl_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="ttl must be positive"):
        RedisByteStore(redis_url, ttl=0)
