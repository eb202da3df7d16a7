"""End to end: VLMRunLoader against the loopback emulator (real HTTP on 127.0.0.1).

Ten local files and one URL, sync and async: Documents in input order even though
executions finish out of order, metadata tied to the emulator's own records, and the
request counters the emulator saw. A second load with the same client reuses every
upload through the md5 lookup.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document

from langchain_vlmrun import AsyncVLMRunClient, PollSchedule, VLMRunClient, VLMRunLoader
from tests.emulator import Emulator

FAST = PollSchedule(initial=0.02, multiplier=1.5, maximum=0.05)
PAGES = 2
N_FILES = 10
URL = "https://example.com/reports/remote-report.pdf"
AGENT = "test-fixture-markdown:v1"  # an agent of the user's own, for the emulator


def first_finishes_after_second(
    emulator: Callable[[], Emulator],
) -> Callable[[dict[str, Any]], float]:
    """Processing times under which the first execution created finishes after the
    second, whatever the thread scheduling: the first one's creation waits (in the
    emulator's request thread) until the emulator has registered another execution,
    then takes 0.5 s; every later one takes 0.01 s. At most 4 run at once, so another
    is created while the first waits; 10 s only guards against a hang."""
    counter = itertools.count()
    lock = threading.Lock()

    def seconds(body: dict[str, Any]) -> float:
        with lock:
            k = next(counter)
        if k > 0:
            return 0.01
        deadline = time.monotonic() + 10
        while not emulator().counters.snapshot()["completion_time"]:
            assert time.monotonic() < deadline, "no second execution was created"
            time.sleep(0.001)
        return 0.5  # created after the second one, finishing 0.49 s later than it

    return seconds


def make_sources(tmp_path: Path) -> list[str]:
    """Ten files and a URL, in input order. Names sort differently from input order."""
    paths = []
    for i in reversed(range(N_FILES)):
        path = tmp_path / f"scan-{i:02d}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + f"emulated scan number {i}".encode())
        paths.append(str(path))
    return [*paths[:5], URL, *paths[5:]]


def check_documents(emu: Emulator, docs: list[Document], sources: list[str]) -> None:
    # input order, PAGES Documents per source, pages 0..PAGES-1 in order
    assert [d.metadata["source"] for d in docs] == [s for s in sources for _ in range(PAGES)]
    assert [d.metadata["page"] for d in docs] == list(range(PAGES)) * len(sources)
    known_files = set(emu.file_ids())
    per_source: dict[str, set[str]] = {}
    for doc in docs:
        meta = doc.metadata
        assert meta["total_pages"] == PAGES
        assert meta["agent"] == AGENT
        execution = emu.execution(meta["execution_id"])
        assert execution is not None and execution["status"] == "completed"
        per_source.setdefault(meta["source"], set()).add(meta["execution_id"])
        if meta["source"] == URL:
            assert "file_id" not in meta  # passed by URL, never uploaded
            assert "remote-report.pdf" in doc.page_content
        else:
            assert meta["file_id"] in known_files
            assert meta["mime_type"] == "image/png"
            assert Path(meta["source"]).name in doc.page_content
    # one execution per source, each a distinct emulator execution
    assert all(len(ids) == 1 for ids in per_source.values())
    assert len({next(iter(ids)) for ids in per_source.values()}) == len(sources)


def check_usage(loader: VLMRunLoader, sources: list[str], minimum: dict[str, int]) -> None:
    """Each source paid for its requests: at least ``minimum`` ("file"/"url"), one poll
    included. The poll that finds an execution done may be another source's (a first-wave
    look asks about the wave's oldest job and hands the end over), so a source may have
    one request less, and the load has at least the sum."""
    usage = {u.source: u for u in loader.usage}
    assert set(usage) == set(sources)
    floors = {source: minimum["url"] if source == URL else minimum["file"] for source in usage}
    for source, u in usage.items():
        assert not u.from_cache
        assert u.requests >= floors[source] - 1, (source, u.requests)
    assert sum(u.requests for u in usage.values()) >= sum(floors.values())


# The clients look every file up by md5 (hash_lookup_min_size=0), as they do by default
# for files of 8 MiB and more, so the second load reuses the uploads. (Without a cache,
# cache=False: with the default one, the second load would make no request at all.)


def test_sync_load_in_order_then_second_load_reuses_uploads(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(
        queue_time=0.0,
        processing_time=first_finishes_after_second(lambda: emu),
        pages_per_file=PAGES,
    )
    sources = make_sources(tmp_path)
    with VLMRunClient("k", base_url=emu.base_url, poll=FAST, hash_lookup_min_size=0) as client:
        loader = VLMRunLoader(
            sources, agent_name=AGENT, client=client, max_concurrency=4, cache=False
        )
        first = loader.load()
        check_documents(emu, first, sources)
        # file: hash lookup + upload + execute + >=1 poll; URL: execute + >=1 poll
        check_usage(loader, sources, {"file": 4, "url": 2})
        counters = emu.counters.snapshot()
        assert counters["executions_created"] == len(sources)
        assert counters["uploads"] == N_FILES
        assert counters["hash_misses"] == N_FILES and counters["hash_hits"] == 0
        assert counters["rate_limited"] == 0 and counters["duplicate_execute_ids"] == 0
        execution_ids = {d.metadata["execution_id"] for d in first}
        assert execution_ids <= set(counters["polls_per_execution"])
        # the executions did finish out of input order: the loader put them back
        in_input_order = list(dict.fromkeys(d.metadata["execution_id"] for d in first))
        finished = sorted(in_input_order, key=counters["completion_time"].__getitem__)
        assert finished != in_input_order

        again = VLMRunLoader(
            sources, agent_name=AGENT, client=client, max_concurrency=4, cache=False
        )
        second = again.load()
    check_documents(emu, second, sources)
    check_usage(again, sources, {"file": 3, "url": 2})  # no upload this time
    counters = emu.counters.snapshot()
    assert counters["uploads"] == N_FILES  # no bytes sent again
    assert counters["hash_hits"] == N_FILES and counters["hash_misses"] == N_FILES
    assert counters["executions_created"] == 2 * len(sources)  # no cache: agents ran again
    assert counters["requests_by_route"]["POST /files"] == N_FILES
    # same file ids, new executions, same stable Document ids
    assert [d.metadata.get("file_id") for d in second] == [d.metadata.get("file_id") for d in first]
    assert not {d.metadata["execution_id"] for d in second} & execution_ids
    assert [d.id for d in second] == [d.id for d in first]


async def test_async_load_in_order_then_second_load_reuses_uploads(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(
        queue_time=0.0,
        processing_time=first_finishes_after_second(lambda: emu),
        pages_per_file=PAGES,
    )
    sources = make_sources(tmp_path)
    async with AsyncVLMRunClient(
        "k", base_url=emu.base_url, poll=FAST, hash_lookup_min_size=0
    ) as client:
        loader = VLMRunLoader(
            sources, agent_name=AGENT, async_client=client, max_concurrency=4, cache=False
        )
        first = [doc async for doc in loader.alazy_load()]
        check_documents(emu, first, sources)
        check_usage(loader, sources, {"file": 4, "url": 2})
        counters = emu.counters.snapshot()
        assert counters["executions_created"] == len(sources)
        assert counters["uploads"] == N_FILES
        assert counters["hash_misses"] == N_FILES and counters["hash_hits"] == 0

        again = VLMRunLoader(
            sources, agent_name=AGENT, async_client=client, max_concurrency=4, cache=False
        )
        second = await again.aload()
    check_documents(emu, second, sources)
    check_usage(again, sources, {"file": 3, "url": 2})
    counters = emu.counters.snapshot()
    assert counters["uploads"] == N_FILES and counters["hash_hits"] == N_FILES
    assert counters["executions_created"] == 2 * len(sources)
    assert [d.id for d in second] == [d.id for d in first]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_next_files_upload_ahead_yet_executions_stay_within_max_concurrency(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, use_async: bool
) -> None:
    """Twice max_concurrency sources run at once (the next ones uploading), never more
    than max_concurrency executions on the service, each file paid once."""
    emu = emulator_factory(queue_time=0.0, processing_time=0.6, pages_per_file=PAGES)
    paths = []
    for i in range(12):
        path = tmp_path / f"ahead{i:02d}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + f"file uploaded ahead {i}".encode())
        paths.append(str(path))

    async def aload() -> list[Document]:
        async with AsyncVLMRunClient("k", base_url=emu.base_url, poll=FAST) as client:
            loader = VLMRunLoader(
                paths, agent_name=AGENT, async_client=client, max_concurrency=3, cache=False
            )
            return await loader.aload()

    if use_async:
        docs = asyncio.run(aload())
    else:
        with VLMRunClient("k", base_url=emu.base_url, poll=FAST) as client:
            loader = VLMRunLoader(
                paths, agent_name=AGENT, client=client, max_concurrency=3, cache=False
            )
            docs = loader.load()
    counters = emu.counters.snapshot()
    assert counters["max_concurrent_executions"] == 3  # reached, never passed
    assert counters["executions_created"] == counters["uploads"] == 12
    assert counters["paid_twice"] == 0
    assert [d.metadata["source"] for d in docs] == [p for p in paths for _ in range(PAGES)]
