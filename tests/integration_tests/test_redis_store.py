"""RedisByteStore: LangChain's BaseStore suites and ResultCache sharing, on a real Redis."""

from __future__ import annotations

import pytest
import redis
from langchain_tests.integration_tests.base_store import BaseStoreAsyncTests, BaseStoreSyncTests

from langchain_vlmrun import AgentExecution, ResultCache
from langchain_vlmrun.scaleout.redis_store import RedisByteStore


class TestRedisByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"

    @pytest.fixture
    def kv_store(self, redis_url: str) -> RedisByteStore:
        return RedisByteStore(redis_url, prefix="suite:")


class TestRedisByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"

    @pytest.fixture
    async def kv_store(self, redis_url: str) -> RedisByteStore:
        return RedisByteStore(redis_url, ttl=60)


def test_values_expire_after_ttl(redis_url: str) -> None:
    RedisByteStore(redis_url, ttl=90).mset([("k", b"v")])
    remaining_ms = redis.Redis.from_url(redis_url).pttl("k")
    assert 0 < remaining_ms <= 90_000
    RedisByteStore(redis_url).mset([("forever", b"v")])
    assert redis.Redis.from_url(redis_url).pttl("forever") == -1  # no expiry


def test_prefixes_with_glob_characters_are_literal(redis_url: str) -> None:
    store = RedisByteStore(redis_url, prefix="ns[1]*:")
    store.mset([("a?b", b"1"), ("a?c", b"2"), ("ab", b"3")])
    RedisByteStore(redis_url, prefix="ns1x:").mset([("a?b", b"other")])
    assert sorted(store.yield_keys()) == ["a?b", "a?c", "ab"]
    assert sorted(store.yield_keys(prefix="a?")) == ["a?b", "a?c"]


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
