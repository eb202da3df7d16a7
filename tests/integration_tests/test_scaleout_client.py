"""Clients sharing Redis: the same document given to two workers is submitted once."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from langchain_vlmrun import ResultCache
from langchain_vlmrun.client import ProcessedSource
from langchain_vlmrun.scaleout.leases import DedupeLeases
from langchain_vlmrun.scaleout.redis_store import RedisByteStore
from tests.mock_api import ScriptedAPI, execution

DATA = b"%PDF-1.4 the same document for both workers"


class ObservedLeases(DedupeLeases):
    """Sets ``followed`` when a worker starts waiting on a busy lease."""

    def __init__(self, *args: Any, followed: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.followed = followed

    def holder(self, key: str) -> str | None:
        self.followed.set()
        return super().holder(key)


def test_two_workers_given_the_same_file_pay_for_one_execution(redis_url: str) -> None:
    followed = threading.Event()

    def execute_once_the_other_worker_waits(request: httpx.Request) -> httpx.Response:
        assert followed.wait(timeout=30)  # the second worker is waiting on the lease now
        return execution(status="enqueued")

    api = (
        ScriptedAPI()
        .on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "a.pdf"}))
        .on("POST", "/agent/execute", execute_once_the_other_worker_waits)
        .on("GET", "/agent/executions/ex-1", execution(status="completed", response={"n": 1}))
    )
    results: list[ProcessedSource] = []

    def worker() -> None:
        leases = ObservedLeases(redis_url, check_every=0.01, followed=followed)
        client = api.client(leases=leases)
        cache = ResultCache(RedisByteStore(redis_url))
        results.append(client.process(DATA, filename="a.pdf", prompt="Total?", cache=cache))

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    assert api.calls("POST", "/agent/execute") == 1
    assert api.calls("POST", "/files") == 1
    assert [r.execution.id for r in results] == ["ex-1", "ex-1"]
    assert sorted(r.from_cache for r in results) == [False, True]
    assert sorted(r.file_id or "" for r in results) == ["file-1", "file-1"]
