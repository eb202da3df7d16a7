"""Fault tolerance against the loopback emulator: nothing lost, nothing paid twice.

- 200 small files through a service that faults 30 % of requests on every route, polls
  included (500/502/503/504, 429 with ``Retry-After``, dropped connections, slow
  answers), with retries bounded by time rather than count, and loses the answer of
  some POSTs *after* acting on them (the execute was created, the 201 never arrived):
  200/200 sources produce their Documents, once each, with exactly one execution per
  file and no execute re-sent for an id the server already had; the extra requests are
  the ones the faults force, no more. Sync and async.
- Executions that end ``failed`` are reported per file under ``on_error="skip"`` and
  are never re-submitted silently.
- Never pay twice: a second run over the same files with a ``ResultCache`` makes no
  upload and no execution and yields equal Documents.
- Resume: a run that dies mid-batch (while waiting, around an execute, before one is
  sent) leaves ``submitted`` records; the next run waits on the recorded executions
  instead of submitting again.
"""

from __future__ import annotations

import asyncio
import json
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
    ResultCache,
    RetryPolicy,
    VLMRunClient,
    VLMRunLoader,
)
from langchain_vlmrun.client._client import ClientHooks
from tests.emulator import Emulator
from tests.support import EMULATOR_POLL, Crash, Sleeps, emulator_client_settings, make_files

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

#: The default policy's shape, with no count cap (retries end by the 90 s time budget,
#: as by default), its backoffs scaled down so 200 files take seconds; a Retry-After of
#: 1 s is honoured exactly (capped at 1 s). ``make bench`` runs the real constants.
RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, max_retry_after=1.0)


def client_options(emu: Emulator) -> dict[str, Any]:
    return emulator_client_settings(emu, retry=RETRY)


def polls_to_cover(seconds: float) -> int:
    """Polls the schedule makes before its pauses add up to ``seconds`` (one more, in
    case the first poll goes out at once)."""
    waited, delay, polls = 0.0, EMULATOR_POLL.initial, 1
    while waited < seconds:
        waited += delay
        delay = min(EMULATOR_POLL.maximum, delay * EMULATOR_POLL.multiplier)
        polls += 1
    return polls


def assert_each_source_once(docs: list[Document], paths: list[str]) -> dict[str, str]:
    """Every source, in input order, 2 pages each, no duplicate; returns source → execution."""
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


def assert_faults_happened(
    emu: Emulator, sleeps: Sleeps, retry_after: float, first_wave: int = 32
) -> None:
    faults = emu.counters.snapshot()["faults_injected"]
    for kind in ("500", "502", "503", "504", "429", "drop", "slow"):
        assert faults.get(kind, 0) > 0, faults
    assert sum(v for k, v in faults.items() if k.startswith("after_processing_")) > 0, faults
    assert sum(faults.values()) > 0.25 * emu.counters.snapshot()["requests_total"]
    # each injected 429 was honoured: one pause of exactly its Retry-After (no backoff),
    # but for one answered to a first-wave look at another job, which is not sent again
    # (one look at most for each job of the first wave, which is max_concurrency jobs)
    unpaused = faults["429"] - sleeps.seconds.count(retry_after)
    assert 0 <= unpaused <= first_wave


def assert_no_runaway_work(emu: Emulator, sleeps: Sleeps, n: int) -> None:
    """The extra requests and pauses are the ones the faults force, no more.

    A file costs a hash lookup, an upload and an execute; an execution needs at most
    ``polls_to_cover(queue + processing)`` polls (the client's pauses before a poll add
    up to more than that). A fault that needs a retry (all but "slow") costs at most a
    re-send and a lookup, and one pause.
    """
    counters = emu.counters.snapshot()
    forced = sum(v for k, v in counters["faults_injected"].items() if k != "slow")
    polls = polls_to_cover(FAULTY["queue_time"] + FAULTY["processing_time"])
    assert sum(counters["polls_per_execution"].values()) <= polls * n + forced
    assert counters["requests_total"] <= (3 + polls) * n + 2 * forced
    assert len(sleeps.seconds) <= polls * n + forced


async def load(loader: VLMRunLoader, use_async: bool) -> list[Document]:
    """Consume the loader the way a user would (blocking the loop for the sync case)."""
    if use_async:
        return [doc async for doc in loader.alazy_load()]
    return loader.load()


@pytest.mark.parametrize(
    ("use_async", "retry_after", "seed"),
    [(False, 1, 11), (True, 0, 12)],
    ids=["sync-retry-after-1", "async-retry-after-0"],
)
async def test_200_files_through_a_faulty_service(
    emulator_factory: Callable[..., Emulator],
    tmp_path: Path,
    use_async: bool,
    retry_after: int,
    seed: int,
) -> None:
    emu = emulator_factory(**{**FAULTY, "retry_after": retry_after}, seed=seed)
    paths = make_files(tmp_path / "docs", N_FILES)
    sleeps = Sleeps()
    if use_async:
        async with AsyncVLMRunClient(
            "test-key", _hooks=ClientHooks(sleep=sleeps.asleep), **client_options(emu)
        ) as aclient:
            loader = VLMRunLoader(paths, prompt=PROMPT, async_client=aclient, max_concurrency=32)
            docs = await load(loader, use_async)
    else:
        with VLMRunClient(
            "test-key", _hooks=ClientHooks(sleep=sleeps), **client_options(emu)
        ) as client:
            loader = VLMRunLoader(paths, prompt=PROMPT, client=client, max_concurrency=32)
            docs = await load(loader, use_async)
    assert loader.failures == []
    assert len(loader.usage) == N_FILES
    assert_paid_once(emu, assert_each_source_once(docs, paths), N_FILES)
    assert_faults_happened(emu, sleeps, float(retry_after))
    assert_no_runaway_work(emu, sleeps, N_FILES)


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
            docs = await load(loader, use_async)
    else:
        with VLMRunClient("test-key", **options) as client:
            loader = VLMRunLoader(paths, prompt=PROMPT, client=client, on_error="skip", cache=cache)
            docs = await load(loader, use_async)

    # one Failure per failed file, in input order, naming the file and the execution
    assert [Path(f.source).name for f in loader.failures] == sorted(FAILING)
    for failure in loader.failures:
        assert type(failure.error) is ExecutionFailedError
        assert failure.error.status == "failed"
        assert failure.error.execution_id in str(failure.error)
        assert Path(failure.source).name in failure.error.server_message
        assert failure.error.server_message in str(failure.error)  # the service's reason
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
    paths = make_files(tmp_path / "docs", N_FILES)
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


# --- resume after a crash ---------------------------------------------------------------


def join_worker_threads() -> None:
    """The sync loader leaves running workers to finish in the background: join them."""
    for thread in threading.enumerate():
        if thread.name.startswith("vlmrun_"):  # the loader's pool, not the emulator
            thread.join(timeout=30)
            assert not thread.is_alive(), thread.name


def recorded(cache: ResultCache, state: str | None = None) -> dict[str, str]:
    """Cache key → recorded execution id (only records in ``state`` if given)."""
    records = {k: cache.get(k) for k in cache.store.yield_keys()}
    return {
        k: r.execution_id
        for k, r in records.items()
        if r is not None and (state is None or r.state == state)
    }


def assert_died_of(raised: pytest.ExceptionInfo[LoaderError]) -> None:
    """The loader reports the crash itself, not some other error on the way."""
    assert type(raised.value.cause) is Crash
    assert raised.value.__cause__ is raised.value.cause


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_resume_after_dying_while_waiting(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, use_async: bool
) -> None:
    """The process dies once 12 executions were submitted; the next run waits on them."""
    emu = emulator_factory(
        processing_time=0.3, fault_after_processing=0.2, fault_after_processing_kinds=("500",)
    )
    paths = make_files(tmp_path / "docs", 40)
    cache_dir = tmp_path / "cache"

    def dying() -> None:
        if emu.counters.snapshot()["executions_created"] >= 12:
            raise Crash("killed mid-batch")

    def dying_sleep(seconds: float) -> None:
        dying()
        time.sleep(seconds)

    async def adying_sleep(seconds: float) -> None:
        dying()
        await asyncio.sleep(seconds)

    def new_loader(**client: Any) -> VLMRunLoader:
        return VLMRunLoader(
            paths,
            prompt=PROMPT,
            cache=ResultCache(FileByteStore(cache_dir)),
            max_concurrency=8,
            **client,
        )

    if use_async:
        async with AsyncVLMRunClient(
            "test-key", _hooks=ClientHooks(sleep=adying_sleep), **client_options(emu)
        ) as adead:
            with pytest.raises(LoaderError) as raised:
                await load(new_loader(async_client=adead), use_async)
    else:
        with VLMRunClient(
            "test-key", _hooks=ClientHooks(sleep=dying_sleep), **client_options(emu)
        ) as dead:
            with pytest.raises(LoaderError) as raised:
                await load(new_loader(client=dead), use_async)
            join_worker_threads()
    assert_died_of(raised)
    died = emu.counters.snapshot()
    created = set(emu.execution_ids())
    cache = ResultCache(FileByteStore(cache_dir))
    pending = recorded(cache, "submitted")
    assert died["executions_created"] >= 12
    assert set(pending.values()) & created  # died with executions in flight (the 12th)
    # every execution the server created is on record (in flight or completed); a
    # cancelled task may also have recorded one whose execute never arrived
    assert created <= set(recorded(cache).values())
    if not use_async:  # threads are not cancelled: each recorded execute went out
        assert set(recorded(cache).values()) == created

    if use_async:
        async with AsyncVLMRunClient("test-key", **client_options(emu)) as aclient:
            loader = new_loader(async_client=aclient)
            docs = await load(loader, use_async)
    else:
        with VLMRunClient("test-key", **client_options(emu)) as client:
            loader = new_loader(client=client)
            docs = await load(loader, use_async)
    by_source = assert_each_source_once(docs, paths)
    counters = emu.counters.snapshot()
    assert counters["executions_created"] == len(paths)  # the recorded ones were awaited
    assert set(pending.values()) & created <= set(by_source.values())
    assert counters["duplicate_execute_ids"] == 0
    assert loader.failures == []
    assert len(loader.usage) == len(paths)


def execute_id(request: httpx.Request) -> str:
    """The client request id an execute carries (the execution id it asks for)."""
    return str(json.loads(request.content)["id"])


class DyingTransport(httpx.AsyncBaseTransport):
    """Lets ``survive`` executes through. The next one reaches the server, then the
    process dies before reading its answer, but only once another execute has been
    recorded and is on its way (so one record is certainly left unsent). After that
    every request dies unsent."""

    def __init__(self, survive: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.survive = survive
        self.executes = 0
        self.lost: str | None = None  # the execute delivered but never answered
        self.held: list[str] = []  # executes recorded, held back, never delivered
        self.another_execute = asyncio.Event()
        self.dead = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dead.is_set():
            raise Crash("the process is gone")
        if request.method == "POST" and request.url.path.endswith("/agent/execute"):
            self.executes += 1
            if self.executes == self.survive + 1:
                self.lost = execute_id(request)
                response = await self.inner.handle_async_request(request)
                await response.aclose()  # sent and acted on; the answer is never read
                await asyncio.wait_for(self.another_execute.wait(), timeout=30)
                self.dead.set()
                raise Crash("died with an execute in flight")
            if self.executes > self.survive + 1:
                self.held.append(execute_id(request))
                self.another_execute.set()
                await self.dead.wait()
                raise Crash("died before sending")
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
            await load(loader, use_async=True)
    assert_died_of(raised)
    await transport.aclose()
    died = emu.counters.snapshot()
    assert died["executions_created"] == 10  # 9 answered + the one whose answer was lost
    cache = ResultCache(FileByteStore(cache_dir))
    pending = recorded(cache, "submitted")
    assert transport.lost in pending.values()  # created, its answer never read
    assert set(emu.execution_ids()) <= set(recorded(cache).values())  # all 10 are recorded
    unsent = set(pending.values()) - set(emu.execution_ids())
    assert transport.held  # recorded just before sending, then the process died
    assert set(transport.held) <= unsent

    async with AsyncVLMRunClient("test-key", **client_options(emu)) as client:
        loader = VLMRunLoader(
            paths,
            prompt=PROMPT,
            async_client=client,
            cache=ResultCache(FileByteStore(cache_dir)),
            max_concurrency=6,
        )
        docs = await load(loader, use_async=True)
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

        with VLMRunClient(
            "test-key", _hooks=ClientHooks(sleep=sleep), **client_options(emu)
        ) as client:
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
                join_worker_threads()

    for limit in (6, 14):
        with pytest.raises(LoaderError) as raised:
            run(limit)
        assert_died_of(raised)
        assert emu.counters.snapshot()["executions_created"] >= limit
    docs = run(None)
    assert_each_source_once(docs, paths)
    assert emu.counters.snapshot()["executions_created"] == len(paths)
    assert emu.counters.snapshot()["duplicate_execute_ids"] == 0


# --- on_error="raise" abandons no paid execution ------------------------------------


def _first_fails(body: dict[str, Any], filename: str | None) -> bool:
    return filename == "doc-000.pdf"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_raise_finishes_the_executions_in_flight_and_keeps_them(
    emulator_factory: Any, tmp_path: Path, mode: str
) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.05, fail_predicate=_first_fails)
    paths = make_files(tmp_path / "docs", 8)
    loader = VLMRunLoader(
        paths,
        prompt="Read it",
        api_key="k",
        base_url=emu.base_url,
        max_concurrency=8,
        client_kwargs={"retry": RETRY},
    )
    with pytest.raises(LoaderError) as raised:
        loader.load() if mode == "sync" else asyncio.run(loader.aload())
    assert raised.value.source == paths[0]
    assert type(raised.value.cause) is ExecutionFailedError
    assert raised.value.cause.execution_id in str(raised.value)
    assert emu.counters.executions_created == 8  # all eight were paid for...

    loader.on_error = "skip"
    docs = loader.load() if mode == "sync" else asyncio.run(loader.aload())
    # ...and the seven that were running when the error surfaced were kept: finished in
    # the background into the cache, or (async: ``asyncio.run`` cancels the tasks still
    # finishing them when it returns) recorded as submitted and resumed by this run.
    # Only the failed file is paid again
    assert emu.counters.executions_created == 9
    assert {doc.metadata["source"] for doc in docs} == set(paths[1:])


# --- a server that ignores the client's request ids ----------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_every_document_even_when_the_server_ignores_request_ids(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, use_async: bool
) -> None:
    """Without ids the lookup after a lost answer always 404s, so that execute is sent
    again: paid twice, but never lost. Only answers lost *after* the server created the
    execution can cause it, and each at most once."""
    emu = emulator_factory(
        ignore_request_ids=True,
        fault_after_processing=0.2,
        fault_after_processing_kinds=("500", "drop"),
        fault_paths=r"^/v1/agent/execute$",
        queue_time=0.0,
        processing_time=0.02,
        seed=5,
    )
    paths = make_files(tmp_path / "docs", 60)
    settings = client_options(emu)
    if use_async:
        async with AsyncVLMRunClient("test-key", **settings) as aclient:
            loader = VLMRunLoader(paths, prompt=PROMPT, async_client=aclient, max_concurrency=8)
            docs = await load(loader, use_async)
    else:
        with VLMRunClient("test-key", **settings) as client:
            loader = VLMRunLoader(paths, prompt=PROMPT, client=client, max_concurrency=8)
            docs = await load(loader, use_async)
    assert loader.failures == []
    assert_each_source_once(docs, paths)  # every document, each from one execution
    counters = emu.counters.snapshot()
    lost = sum(v for k, v in counters["faults_injected"].items() if k.startswith("after_"))
    assert lost > 0
    assert counters["paid_twice"] <= lost  # only lost answers cost a second execution
    assert counters["executions_created"] == len(paths) + counters["paid_twice"]
