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


@pytest.mark.parametrize("ttl", [0, -1, 0.0])
def test_bad_ttl_is_refused(redis_url: str, ttl: float) -> None:
    with pytest.raises(ValueError) as refused:
        RedisByteStore(redis_url, ttl=ttl)
    assert str(refused.value) == "ttl must be positive (None: keep values until deleted)"


def test_a_ttl_under_a_second_is_kept_in_milliseconds(redis_url: str) -> None:
    RedisByteStore(redis_url, ttl=0.5).mset([("k", b"v")])
    assert 0 < redis.Redis.from_url(redis_url).pttl("k") <= 500


def test_a_client_that_decodes_responses_is_refused(redis_url: str) -> None:
    with pytest.raises(
        ValueError, match=r"^pass a redis\.Redis client created with decode_responses=False$"
    ):
        RedisByteStore(redis.Redis.from_url(redis_url, decode_responses=True))
    with pytest.raises(TypeError, match=r"expected a Redis URL or a redis\.Redis client, got int"):
        RedisByteStore(6379)  # type: ignore[arg-type]


def test_keys_come_back_without_the_prefix_and_each_once(redis_url: str) -> None:
    store = RedisByteStore(redis_url, prefix="app:")
    store.mset([(f"k{i}", b"v") for i in range(2500)])  # more than one SCAN page
    RedisByteStore(redis_url, prefix="other:").mset([("k1", b"x")])
    keys = list(store.yield_keys())
    assert len(keys) == 2500 and set(keys) == {f"k{i}" for i in range(2500)}
    assert sorted(store.yield_keys(prefix="k249")) == [
        "k249",
        "k2490",
        "k2491",
        "k2492",
        "k2493",
        "k2494",
        "k2495",
        "k2496",
        "k2497",
        "k2498",
        "k2499",
    ]
    assert store.mget(["k1", "nope"]) == [b"v", None] and store.mget([]) == []
    store.mdelete([])  # nothing to delete is fine
    assert repr(store) == "RedisByteStore(prefix='app:', ttl=None)"
