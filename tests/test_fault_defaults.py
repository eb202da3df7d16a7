"""Nothing lost under faults with the DEFAULT settings (no tuned retries or polling).

30 % of requests on every route (hash lookups, uploads, executes and polls) fail:
5xx, HTML 502 pages, 429 with Retry-After, dropped connections; 10 % of POSTs are
processed and then answered with a fault. A user who changes nothing must still get
every file's Documents, each paid once.

The client runs its default policy (retries bounded by time, not by count; learned poll
timing; the loader's own result cache) with its time constants scaled down 50x so that
200 files take seconds; ``make bench`` runs the same scenario with the real constants.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from langchain_vlmrun import (
    ExecutionFailedError,
    LoaderError,
    PollSchedule,
    RetryPolicy,
    VLMRunLoader,
)
from tests.emulator import Emulator
from tests.support import make_files

N_FILES = 200

EVERY_ROUTE_FAULTS: dict[str, Any] = {
    "fault_rate": 0.3,
    "fault_kinds": ("500", "502", "503", "504", "429", "drop"),
    "fault_paths": None,
    "retry_after": 0,
    "fault_after_processing": 0.1,
    "fault_after_processing_kinds": ("500", "drop"),
    "queue_time": 0.0,
    "processing_time": 0.05,
    "seed": 11,
}


#: The default RetryPolicy and PollSchedule, 50x faster (same shape, same budgets' logic).
SCALED_DEFAULTS: dict[str, Any] = {
    "retry": RetryPolicy(initial_backoff=0.01, max_backoff=0.16, timeout=90.0),
    "poll": PollSchedule(initial=0.01, multiplier=1.5, maximum=0.1),
}


def check(emu: Emulator, loader: VLMRunLoader, docs: list[Any], paths: list[str]) -> None:
    assert loader.failures == []
    sources = [doc.metadata["source"] for doc in docs]
    assert sources == [p for p in paths for _ in range(2)]  # every file, 2 pages, in order
    counters = emu.counters.snapshot()
    faults = sum(counters["faults_injected"].values())
    polls_faulted = counters["faults_injected"]  # faults were spread over every route
    assert faults > 200, polls_faulted
    assert counters["executions_created"] == N_FILES  # <= 1 execution per file
    executions = {doc.metadata["execution_id"] for doc in docs}
    assert len(executions) == N_FILES  # and every paid one produced Documents


def test_defaults_survive_faults_on_every_route_sync(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(**EVERY_ROUTE_FAULTS)
    paths = make_files(tmp_path / "docs", N_FILES)
    loader = VLMRunLoader(
        paths, prompt="Read it", api_key="k", base_url=emu.base_url, client_kwargs=SCALED_DEFAULTS
    )
    docs = loader.load()
    check(emu, loader, docs, paths)


def test_defaults_survive_faults_on_every_route_async(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(**EVERY_ROUTE_FAULTS)
    paths = make_files(tmp_path / "docs", N_FILES)
    loader = VLMRunLoader(
        paths, prompt="Read it", api_key="k", base_url=emu.base_url, client_kwargs=SCALED_DEFAULTS
    )
    docs = asyncio.run(loader.aload())
    check(emu, loader, docs, paths)


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
        client_kwargs=SCALED_DEFAULTS,
    )
    with pytest.raises(LoaderError) as raised:
        loader.load() if mode == "sync" else asyncio.run(loader.aload())
    assert raised.value.source == paths[0]
    assert type(raised.value.cause) is ExecutionFailedError
    assert raised.value.cause.execution_id in str(raised.value)
    assert emu.counters.executions_created == 8  # all eight were paid for...

    loader.on_error = "skip"
    docs = loader.load() if mode == "sync" else asyncio.run(loader.aload())
    # ...and the seven that were running when the error surfaced were finished and kept:
    # only the failed file is paid again
    assert emu.counters.executions_created == 9
    assert {doc.metadata["source"] for doc in docs} == set(paths[1:])
    assert [u.from_cache for u in loader.usage].count(True) == 7
