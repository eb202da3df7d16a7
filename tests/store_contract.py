"""What every byte store under a :class:`ResultCache` must do, written once.

LangChain's own ``BaseStore`` suites (``langchain_tests``), sync and async, plus what
the result cache relies on: records round-trip through the store, clearing one cache
namespace leaves every other key alone, and key prefixes match literally (glob
characters included). A store's test module subclasses :class:`StoreContract` and
:class:`AsyncStoreContract` and gives each a ``kv_store`` fixture (an empty store).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests.base_store import BaseStoreAsyncTests, BaseStoreSyncTests

from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.core.models import AgentExecution

__all__ = ["AsyncStoreContract", "StoreContract"]


class StoreContract(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"

    def test_a_result_cache_reads_back_what_it_wrote(self, kv_store: Any) -> None:
        writer, reader = ResultCache(kv_store), ResultCache(kv_store)
        key = writer.key("sha256:abc", {"prompt": "Summarise"})
        done = AgentExecution(id="ex-1", status="completed", response={"summary": "ok"})
        writer.mark_submitted(key, "ex-1", file_id="file-1")
        submitted = reader.get(key)
        assert submitted is not None and submitted.state == "submitted"
        writer.mark_completed(key, done, file_id="file-1")
        record = reader.get(key)
        assert record is not None and record.state == "completed"
        assert record.execution == done and record.file_id == "file-1"
        reader.forget(key)
        assert writer.get(key) is None

    def test_clearing_a_cache_leaves_other_keys_alone(self, kv_store: Any) -> None:
        kv_store.mset([("other:k", b"x")])
        cache = ResultCache(kv_store, namespace="app")
        for name in ("a", "b"):
            cache.mark_submitted(cache.key(f"sha256:{name}", {}), f"ex-{name}", file_id=None)
        cache.clear()
        assert list(kv_store.yield_keys()) == ["other:k"]

    def test_key_prefixes_match_literally(self, kv_store: Any) -> None:
        kv_store.mset([("a?b", b"1"), ("a?c", b"2"), ("ab", b"3"), ("a*", b"4")])
        assert sorted(kv_store.yield_keys(prefix="a?")) == ["a?b", "a?c"]
        assert list(kv_store.yield_keys(prefix="a*")) == ["a*"]


class AsyncStoreContract(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"
