"""End to end: the loader against the loopback emulator (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from langchain_vlmrun import AsyncVLMRunClient, PollSchedule, VLMRunClient, VLMRunLoader
from tests.emulator import Emulator

FAST = PollSchedule(initial=0.02, multiplier=1.5, maximum=0.1)


def files(tmp_path: Path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        path = tmp_path / f"scan-{i}.png"
        path.write_bytes(f"\x89PNG emulated scan {i}".encode())
        paths.append(str(path))
    return paths


def check(emu: Emulator, docs: list, paths: list[str]) -> None:
    assert [d.metadata["source"] for d in docs] == [p for p in paths for _ in range(2)]
    for doc in docs:
        meta = doc.metadata
        assert Path(meta["source"]).name in doc.page_content  # the emulator writes the filename
        assert meta["total_pages"] == 2 and meta["page"] in (0, 1)
        assert meta["mime_type"] == "image/png"
        assert emu.execution(meta["execution_id"])["status"] == "completed"
        assert meta["file_id"] in emu.file_ids()
    counters = emu.counters.snapshot()
    assert counters["executions_created"] == len(paths)
    assert counters["uploads"] == len(paths)


def test_loader_end_to_end_sync_then_uploads_are_reused(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(pages_per_file=2)
    paths = files(tmp_path, 10)
    with VLMRunClient("k", base_url=emu.base_url, poll=FAST) as client:
        docs = VLMRunLoader(paths, agent_name="document-markdown:v1", client=client).load()
        check(emu, docs, paths)
        VLMRunLoader(paths, agent_name="document-markdown:v1", client=client).load()
    counters = emu.counters.snapshot()
    assert counters["uploads"] == 10 and counters["hash_hits"] == 10  # second run: no bytes sent
    assert counters["executions_created"] == 20  # no cache given: the agent ran again


async def test_loader_end_to_end_async(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(pages_per_file=2)
    paths = files(tmp_path, 10)
    async with AsyncVLMRunClient("k", base_url=emu.base_url, poll=FAST) as client:
        loader = VLMRunLoader(paths, agent_name="document-markdown:v1", async_client=client)
        docs = [doc async for doc in loader.alazy_load()]
    check(emu, docs, paths)
    assert all(u.requests >= 4 for u in loader.usage)  # hash, upload, execute, poll(s)
