"""Nothing lost, nothing paid twice: 200 files through a faulty loopback emulator.

30 % of requests are faulted (500/502/503/504, 429 with Retry-After, dropped
connections, slow answers), and some POSTs fail *after* the server acted on them (the
execute was created, the answer lost). Every source must still produce its Documents,
once, with at most one execution per file and no blind re-send of an execute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
from tests.emulator import Emulator

N_FILES = 200

FAULTS: dict[str, Any] = {
    "fault_rate": 0.3,
    "fault_kinds": ("500", "502", "503", "504", "429", "drop", "slow"),
    "fault_paths": r"^/v1/",
    "retry_after": 0,
    "slow_seconds": 0.05,
    "fault_after_processing": 0.1,
    "fault_after_processing_kinds": ("500", "drop"),
    "queue_time": 0.0,
    "processing_time": 0.05,
    "seed": 7,
}


def settings(emu: Emulator) -> dict[str, Any]:
    return {
        "api_key": "test-key",
        "base_url": emu.base_url,
        "retry": RetryPolicy(max_retries=12, initial_backoff=0.005, max_backoff=0.02),
        "poll": PollSchedule(initial=0.02, multiplier=1.5, maximum=0.1),
    }


def make_files(tmp_path: Path, n: int = N_FILES) -> list[str]:
    paths = []
    for i in range(n):
        path = tmp_path / f"doc-{i:03d}.pdf"
        path.write_bytes(f"%PDF-1.4 document number {i}".encode())
        paths.append(str(path))
    return paths


def check_nothing_lost_nothing_paid_twice(
    emu: Emulator, loader: VLMRunLoader, docs: list[Any], paths: list[str]
) -> None:
    assert loader.failures == []
    sources = [doc.metadata["source"] for doc in docs]
    assert sorted(set(sources)) == sorted(paths)  # 200/200 sources produced Documents
    assert sources == [p for p in paths for _ in range(2)]  # 2 pages each, input order
    assert len({doc.id for doc in docs}) == len(docs)  # no duplicates
    counters = emu.counters.snapshot()
    assert sum(counters["faults_injected"].values()) > 100  # the faults really happened
    assert counters["executions_created"] == N_FILES
    # every file has its own execution and there are only N of them: one per file
    executions_per_file = {doc.metadata["source"]: set() for doc in docs}
    for doc in docs:
        executions_per_file[doc.metadata["source"]].add(doc.metadata["execution_id"])
    assert all(len(ids) == 1 for ids in executions_per_file.values())
    assert len(set.union(*executions_per_file.values())) == N_FILES
    assert counters["duplicate_execute_ids"] == 0  # an execute was never re-sent blindly


def test_faulty_service_sync(emulator_factory: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator_factory(**FAULTS)
    paths = make_files(tmp_path)
    with VLMRunClient(**settings(emu)) as client:
        loader = VLMRunLoader(
            paths, prompt="Read it", client=client, max_concurrency=32, timeout=30
        )
        docs = loader.load()
    check_nothing_lost_nothing_paid_twice(emu, loader, docs, paths)


async def test_faulty_service_async(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(**FAULTS)
    paths = make_files(tmp_path)
    async with AsyncVLMRunClient(**settings(emu)) as client:
        loader = VLMRunLoader(
            paths, prompt="Read it", async_client=client, max_concurrency=32, timeout=30
        )
        docs = [doc async for doc in loader.alazy_load()]
    check_nothing_lost_nothing_paid_twice(emu, loader, docs, paths)


@pytest.mark.parametrize("use_async", [False, True])
async def test_failed_executions_are_reported_per_file_and_not_retried(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, use_async: bool
) -> None:
    emu = emulator_factory(
        fail_predicate=lambda body, filename: filename in {"doc-003.pdf", "doc-007.pdf"}
    )
    paths = make_files(tmp_path, 10)
    options = settings(emu)
    if use_async:
        async with AsyncVLMRunClient(**options) as aclient:
            loader = VLMRunLoader(paths, prompt="Read it", async_client=aclient, on_error="skip")
            docs = [doc async for doc in loader.alazy_load()]
    else:
        with VLMRunClient(**options) as client:
            loader = VLMRunLoader(paths, prompt="Read it", client=client, on_error="skip")
            docs = loader.load()
    failed = {Path(f.source).name: f.error for f in loader.failures}
    assert set(failed) == {"doc-003.pdf", "doc-007.pdf"}
    assert all(
        isinstance(e, ExecutionFailedError) and "Emulated failure" in str(e)
        for e in failed.values()
    )
    assert len({d.metadata["source"] for d in docs}) == 8
    assert emu.counters.snapshot()["executions_created"] == 10  # the failures were not re-run


def test_second_run_pays_nothing_and_yields_equal_documents(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory()
    (tmp_path / "docs").mkdir()
    paths = make_files(tmp_path / "docs", 20)
    cache = ResultCache(FileByteStore(tmp_path / "cache"))
    with VLMRunClient(**settings(emu)) as client:
        first = VLMRunLoader(paths, prompt="Read it", client=client, cache=cache).load()
        before = emu.counters.snapshot()
        loader = VLMRunLoader(paths, prompt="Read it", client=client, cache=cache)
        second = loader.load()
    after = emu.counters.snapshot()
    assert before["executions_created"] == 20 and before["uploads"] == 20
    assert after["executions_created"] == 20 and after["uploads"] == 20  # 0 new
    assert after["requests_total"] == before["requests_total"]  # not even a hash lookup
    assert second == first
    assert all(u.from_cache and u.requests == 0 for u in loader.usage)


class Crash(Exception):
    """Stands for the process dying mid-batch."""


async def test_crash_mid_batch_resumes_without_submitting_again(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(processing_time=0.3)
    (tmp_path / "docs").mkdir()
    paths = make_files(tmp_path / "docs", 12)
    cache = ResultCache(FileByteStore(tmp_path / "cache"))

    async def die_while_waiting(seconds: float) -> None:
        if emu.counters.snapshot()["executions_created"] >= 6:
            raise Crash
        await asyncio.sleep(seconds)

    async with AsyncVLMRunClient(**settings(emu), sleep=die_while_waiting) as dying:
        loader = VLMRunLoader(
            paths, prompt="Read it", async_client=dying, cache=cache, max_concurrency=4
        )
        with pytest.raises(LoaderError):
            [doc async for doc in loader.alazy_load()]
    assert emu.counters.snapshot()["executions_created"] >= 6  # died with work in flight

    async with AsyncVLMRunClient(**settings(emu)) as client:
        loader = VLMRunLoader(
            paths, prompt="Read it", async_client=client, cache=cache, max_concurrency=4
        )
        docs = [doc async for doc in loader.alazy_load()]
    assert len({d.metadata["source"] for d in docs}) == 12
    assert emu.counters.snapshot()["executions_created"] == 12  # the recorded ones were awaited
    assert len(loader.usage) == 12 and loader.failures == []
