"""Fault tolerance against the loopback emulator: nothing lost, nothing paid twice.

- 200 small files through a service that faults 30 % of requests (500/502/503/504,
  429 with ``Retry-After``, dropped connections, slow answers) and loses the answer of
  some POSTs *after* acting on them (the execute was created, the 201 never arrived):
  200/200 sources produce their Documents, once each, with exactly one execution per
  file and no execute re-sent for an id the server already had. Sync and async.
- Executions that end ``failed`` are reported per file under ``on_error="skip"`` and
  are never re-submitted silently.
- Never pay twice: a second run over the same files with a ``ResultCache`` makes no
  upload and no execution and yields equal Documents.
- Resume: a run that dies mid-batch (while waiting, around an execute, before one is
  sent) leaves ``submitted`` records; the next run waits on the recorded executions
  instead of submitting again.

Each test stays well under 15 s (real sleeps are kept short by the policies below).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecutionFailedError,
    FileByteStore,
    LoaderError,
    PollSchedule,
    ResultCache,
    RetryPolicy,
    VLMRunClient,
    VLMRunLoader,
)
from tests.emulator import Emulator, wait_until

N_FILES = 200
PROMPT = "Transcribe the document"

#: 30 % of requests faulted before processing; 10 % of successful POSTs faulted after.
FAULTY: dict[str, Any] = {
    "fault_rate": 0.3,
    "fault_kinds": ("500", "502", "503", "504", "429", "drop", "slow"),
    "fault_paths": r"^/v1/",
    "retry_after": 1,
    "slow_seconds": 0.2,
    "fault_after_processing": 0.1,
    "fault_after_processing_kinds": ("500", "502", "503", "504", "drop"),
    "queue_time": 0.02,
    "processing_time": 0.1,
}

#: Short backoffs; a Retry-After of 1 s is honoured exactly (capped at 1 s).
RETRY = RetryPolicy(max_retries=10, initial_backoff=0.01, max_backoff=0.05, max_retry_after=1.0)
POLL = PollSchedule(initial=0.02, multiplier=1.5, maximum=0.2)
#: Above ``slow_seconds`` with a wide margin: a slow answer must not turn into a timeout.
TIMEOUT = httpx.Timeout(5.0)


def client_options(emu: Emulator) -> dict[str, Any]:
    return {
        "base_url": emu.base_url,
        "max_retries": 10,
        "retry": RETRY,
        "poll": POLL,
        "timeout": TIMEOUT,
    }


def make_files(directory: Path, n: int = N_FILES) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = directory / f"doc-{i:03d}.pdf"
        path.write_bytes(f"%PDF-1.4\n% fault tolerance document {i:03d}\n".encode())
        paths.append(str(path))
    return paths


class Sleeps:
    """Injected sleep that records every pause and really sleeps (sync and async)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await asyncio.sleep(seconds)


def assert_each_source_once(docs: list[Document], paths: list[str]) -> dict[str, str]:
    """200/200 sources, in input order, 2 pages each, no duplicate; returns source → execution."""
    sources = [doc.metadata["source"] for doc in docs]
    assert sources == [p for p in paths for _ in range(2)]
    assert len({doc.id for doc in docs}) == len(docs)
    assert len({doc.page_content for doc in docs}) == len(docs)
    executions: dict[str, set[str]] = {}
    for doc in docs:
        executions.setdefault(doc.metadata["source"], set()).add(doc.metadata["execution_id"])
        # the right file's text came back, not another file's
        assert Path(doc.metadata["source"]).name in doc.page_content
    assert all(len(ids) == 1 for ids in executions.values())
    return {source: ids.pop() for source, ids in executions.items()}


def assert_paid_once(emu: Emulator, execution_by_source: dict[str, str], n: int) -> None:
    counters = emu.counters.snapshot()
    assert counters["executions_created"] == n  # at most (here: exactly) one per file
    assert len(set(execution_by_source.values())) == n  # ... and no two files share one
    # Every execute carried a client request id; a re-send (count > 1) only ever went
    # out after a lookup answered 404, so the server never saw an id it already had.
    assert len(counters["executions_by_request_id"]) == n
    assert set(counters["executions_by_request_id"]) == set(execution_by_source.values())
    assert counters["duplicate_execute_ids"] == 0


def assert_faults_happened(emu: Emulator, sleeps: Sleeps, retry_after: float) -> None:
    faults = emu.counters.snapshot()["faults_injected"]
    for kind in ("500", "502", "503", "504", "429", "drop", "slow"):
        assert faults.get(kind, 0) > 0, faults
    assert sum(v for k, v in faults.items() if k.startswith("after_processing_")) > 0, faults
    assert sum(faults.values()) > 0.25 * emu.counters.snapshot()["requests_total"]
    # each injected 429 was honoured: one pause of exactly its Retry-After (no backoff)
    assert sleeps.seconds.count(retry_after) == faults["429"]


def test_200_files_through_a_faulty_service_sync(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(**FAULTY, seed=11)
    paths = make_files(tmp_path / "docs")
    sleeps = Sleeps()
    started = time.monotonic()
    with VLMRunClient("test-key", sleep=sleeps, **client_options(emu)) as client:
        loader = VLMRunLoader(paths, prompt=PROMPT, client=client, max_concurrency=32)
        docs = loader.load()
    assert time.monotonic() - started < 15
    assert loader.failures == []
    assert len(loader.usage) == N_FILES
    assert_paid_once(emu, assert_each_source_once(docs, paths), N_FILES)
    assert_faults_happened(emu, sleeps, 1.0)


async def test_200_files_through_a_faulty_service_async(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(**{**FAULTY, "retry_after": 0}, seed=12)  # Retry-After: 0
    paths = make_files(tmp_path / "docs")
    sleeps = Sleeps()
    started = time.monotonic()
    async with AsyncVLMRunClient("test-key", sleep=sleeps.asleep, **client_options(emu)) as client:
        loader = VLMRunLoader(paths, prompt=PROMPT, async_client=client, max_concurrency=32)
        docs = [doc async for doc in loader.alazy_load()]
    assert time.monotonic() - started < 15
    assert loader.failures == []
    assert len(loader.usage) == N_FILES
    assert_paid_once(emu, assert_each_source_once(docs, paths), N_FILES)
    assert_faults_happened(emu, sleeps, 0.0)


FAILING = {f"doc-{i:03d}.pdf" for i in (0, 7, 19, 33, 39)}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_failed_executions_are_reported_per_file_and_never_retried(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, use_async: bool
) -> None:
    emu = emulator_factory(
        **{**FAULTY, "retry_after": 0},
        seed=21,
        fail_predicate=lambda body, filename: filename in FAILING,
    )
    paths = make_files(tmp_path / "docs", 40)
    cache = ResultCache(FileByteStore(tmp_path / "cache"))
    options = client_options(emu)
    if use_async:
        async with AsyncVLMRunClient("test-key", **options) as aclient:
            loader = VLMRunLoader(
                paths, prompt=PROMPT, async_client=aclient, on_error="skip", cache=cache
            )
            docs = [doc async for doc in loader.alazy_load()]
    else:
        with VLMRunClient("test-key", **options) as client:
            loader = VLMRunLoader(paths, prompt=PROMPT, client=client, on_error="skip", cache=cache)
            docs = loader.load()

    # one Failure per failed file, in input order, naming the file and the execution
    assert [Path(f.source).name for f in loader.failures] == sorted(FAILING)
    for failure in loader.failures:
        assert isinstance(failure.error, ExecutionFailedError)
        assert failure.error.status == "failed"
        assert failure.error.execution_id in str(failure.error)
        assert Path(failure.source).name in failure.error.server_message
    ok = [p for p in paths if Path(p).name not in FAILING]
    by_source = assert_each_source_once(docs, ok)

    # never retried silently: exactly one execution per file, failed ones included
    counters = emu.counters.snapshot()
    failed_ids = {f.error.execution_id for f in loader.failures}  # type: ignore[attr-defined]
    assert counters["executions_created"] == len(paths)
    assert len(set(by_source.values()) | failed_ids) == len(paths)
    assert counters["duplicate_execute_ids"] == 0
    assert all(emu.execution(i)["status"] == "failed" for i in failed_ids)  # type: ignore[index]
    # a failed execution is not cached as a result (nor left as "submitted")
    records = [cache.get(k) for k in cache.store.yield_keys()]
    assert len(records) == len(ok)
    assert all(r is not None and r.state == "completed" for r in records)


def test_second_run_creates_no_upload_and_no_execution(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(**{**FAULTY, "retry_after": 0}, seed=31)
    paths = make_files(tmp_path / "docs")
    cache = ResultCache(FileByteStore(tmp_path / "cache"))
    with VLMRunClient("test-key", **client_options(emu)) as client:
        first_loader = VLMRunLoader(
            paths, prompt=PROMPT, client=client, cache=cache, max_concurrency=32
        )
        first = first_loader.load()
    before = emu.counters.snapshot()
    assert before["executions_created"] == N_FILES
    assert before["uploads"] >= N_FILES  # an upload whose 201 was lost is sent again (free)

    # a new client and loader, as in a new process: only the cache directory is shared
    with VLMRunClient("test-key", **client_options(emu)) as client:
        loader = VLMRunLoader(
            paths,
            prompt=PROMPT,
            client=client,
            cache=ResultCache(FileByteStore(tmp_path / "cache")),
            max_concurrency=32,
        )
        second = loader.load()
    after = emu.counters.snapshot()
    assert after["uploads"] == before["uploads"]  # 0 uploads
    assert after["executions_created"] == before["executions_created"]  # 0 executions
    assert after["requests_total"] == before["requests_total"]  # not even a hash lookup
    assert second == first  # equal Documents (ids, text, metadata)
    assert [d.id for d in second] == [d.id for d in first]
    assert all(u.from_cache and u.requests == 0 and u.credits_used == 0 for u in loader.usage)
    assert all(u.requests > 0 for u in first_loader.usage)


class Crash(Exception):
    """Stands for the process dying."""


def wait_for_worker_threads() -> None:
    """The sync loader leaves running workers to finish in the background: let them."""
    assert wait_until(
        lambda: not any(t.name.startswith("vlmrun_") for t in threading.enumerate()), timeout=10
    )


def recorded(cache: ResultCache, state: str | None = None) -> dict[str, str]:
    """Cache key → recorded execution id (only records in ``state`` if given)."""
    records = {k: cache.get(k) for k in cache.store.yield_keys()}
    return {
        k: r.execution_id
        for k, r in records.items()
        if r is not None and (state is None or r.state == state)
    }


def test_resume_after_dying_while_waiting_sync(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """The process dies once 12 executions were submitted; the next run waits on them."""
    emu = emulator_factory(
        processing_time=0.3, fault_after_processing=0.2, fault_after_processing_kinds=("500",)
    )
    paths = make_files(tmp_path / "docs", 40)
    cache_dir = tmp_path / "cache"

    def dying_sleep(seconds: float) -> None:
        if emu.counters.snapshot()["executions_created"] >= 12:
            raise Crash("killed mid-batch")
        time.sleep(seconds)

    with VLMRunClient("test-key", sleep=dying_sleep, **client_options(emu)) as dying:
        loader = VLMRunLoader(
            paths,
            prompt=PROMPT,
            client=dying,
            cache=ResultCache(FileByteStore(cache_dir)),
            max_concurrency=8,
        )
        with pytest.raises(LoaderError) as raised:
            loader.load()
        assert isinstance(raised.value.cause, Crash)
        wait_for_worker_threads()
    died = emu.counters.snapshot()
    cache = ResultCache(FileByteStore(cache_dir))
    pending = recorded(cache, "submitted")
    assert died["executions_created"] >= 12
    assert pending  # died with executions in flight
    # every execution the server created is on record (in flight or completed)
    assert set(recorded(cache).values()) == set(emu.execution_ids())

    with VLMRunClient("test-key", **client_options(emu)) as client:
        loader = VLMRunLoader(
            paths,
            prompt=PROMPT,
            client=client,
            cache=ResultCache(FileByteStore(cache_dir)),
            max_concurrency=8,
        )
        docs = loader.load()
    by_source = assert_each_source_once(docs, paths)
    counters = emu.counters.snapshot()
    assert counters["executions_created"] == len(paths)  # the recorded ones were awaited
    assert set(pending.values()) <= set(by_source.values())
    assert counters["duplicate_execute_ids"] == 0
    assert loader.failures == []


class DyingTransport(httpx.AsyncBaseTransport):
    """Lets ``survive`` executes through; the next one reaches the server, then the
    process dies before reading the answer. After that every request dies unsent."""

    def __init__(self, survive: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.survive = survive
        self.executes = 0
        self.dead = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dead:
            raise Crash("the process is gone")
        if request.method == "POST" and request.url.path.endswith("/agent/execute"):
            self.executes += 1
            if self.executes > self.survive:
                self.dead = True
                response = await self.inner.handle_async_request(request)
                await response.aclose()  # sent and acted on; the answer is never read
                raise Crash("died with an execute in flight")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_resume_after_dying_around_an_execute_async(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Dies with one execute delivered but unanswered, others recorded but never sent:
    the delivered one is adopted by its request id, the unsent ones are submitted once."""
    emu = emulator_factory(processing_time=0.2)
    paths = make_files(tmp_path / "docs", 30)
    cache_dir = tmp_path / "cache"
    transport = DyingTransport(survive=9)

    async with AsyncVLMRunClient(
        "test-key", http_client=httpx.AsyncClient(transport=transport), **client_options(emu)
    ) as dying:
        loader = VLMRunLoader(
            paths,
            prompt=PROMPT,
            async_client=dying,
            cache=ResultCache(FileByteStore(cache_dir)),
            max_concurrency=6,
        )
        with pytest.raises(LoaderError) as raised:
            [doc async for doc in loader.alazy_load()]
        assert isinstance(raised.value.cause, Crash)
    await transport.aclose()
    died = emu.counters.snapshot()
    assert died["executions_created"] == 10  # 9 answered + the one whose answer was lost
    cache = ResultCache(FileByteStore(cache_dir))
    pending = recorded(cache, "submitted")
    lost = emu.execution_ids()[-1]  # created, but its answer never read
    assert lost in pending.values()
    assert set(emu.execution_ids()) <= set(recorded(cache).values())  # all 10 are recorded
    unsent = set(pending.values()) - set(emu.execution_ids())
    assert unsent  # recorded just before sending, then the process died: never sent

    async with AsyncVLMRunClient("test-key", **client_options(emu)) as client:
        loader = VLMRunLoader(
            paths,
            prompt=PROMPT,
            async_client=client,
            cache=ResultCache(FileByteStore(cache_dir)),
            max_concurrency=6,
        )
        docs = [doc async for doc in loader.alazy_load()]
    by_source = assert_each_source_once(docs, paths)
    counters = emu.counters.snapshot()
    assert counters["executions_created"] == len(paths)
    assert set(emu.execution_ids()[:10]) <= set(by_source.values())  # waited on, not re-paid
    assert not unsent & set(emu.execution_ids())  # the unsent ones got fresh ids, sent once
    # no request id was ever sent twice: the lost answer was resolved by lookup
    assert Counter(counters["executions_by_request_id"].values()) == {1: len(paths)}
    assert counters["duplicate_execute_ids"] == 0
    assert loader.failures == []


def test_resume_survives_a_second_death(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Two runs die in a row; the third still pays for each file exactly once."""
    emu = emulator_factory(processing_time=0.4)
    paths = make_files(tmp_path / "docs", 24)
    cache_dir = tmp_path / "cache"

    def run(limit: int | None) -> list[Document]:
        def sleep(seconds: float) -> None:
            if limit is not None and emu.counters.snapshot()["executions_created"] >= limit:
                raise Crash("killed")
            time.sleep(seconds)

        with VLMRunClient("test-key", sleep=sleep, **client_options(emu)) as client:
            loader = VLMRunLoader(
                paths,
                prompt=PROMPT,
                client=client,
                cache=ResultCache(FileByteStore(cache_dir)),
                max_concurrency=4,
            )
            try:
                return loader.load()
            finally:
                wait_for_worker_threads()

    for limit in (6, 14):
        with pytest.raises(LoaderError):
            run(limit)
    docs = run(None)
    assert_each_source_once(docs, paths)
    assert emu.counters.snapshot()["executions_created"] == len(paths)
    assert emu.counters.snapshot()["duplicate_execute_ids"] == 0
