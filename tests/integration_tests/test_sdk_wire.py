"""The wire, end to end: loads through a gateway that refuses chunked bodies (the
emulator's ``refuse_chunked``), and the committed capture of the official SDK's requests
(tests/sdk_wire.json) checked against the SDK itself when it is installed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from langchain_vlmrun import AsyncVLMRunClient, PollSchedule, VLMRunClient, VLMRunLoader
from tests.emulator import Emulator
from tests.sdk_wire import CAPTURE, capture_sdk

FAST = PollSchedule(initial=0.02, multiplier=1.5, maximum=0.05)
AGENT = "test-fixture-markdown:v1"


def pdfs(folder: Path, count: int = 10) -> list[str]:
    paths = []
    for i in range(count):
        path = folder / f"report-{i:02d}.pdf"
        path.write_bytes(b"%PDF-1.4\n" + f"report {i} ".encode() * (20_000 + i))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("presigned_threshold", [0, 2**30], ids=["presigned", "multipart"])
def test_every_file_loads_through_a_gateway_that_refuses_chunked_bodies(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, presigned_threshold: int
) -> None:
    emu = emulator_factory(refuse_chunked=True, pages_per_file=1)
    sources = pdfs(tmp_path)
    with VLMRunClient(
        "k", base_url=emu.base_url, poll=FAST, presigned_threshold=presigned_threshold
    ) as client:
        docs = VLMRunLoader(sources, agent_name=AGENT, client=client, max_concurrency=4).load()
    assert [d.metadata["source"] for d in docs] == sources
    counters = emu.counters.snapshot()
    assert counters["refused_chunked"] == 0
    assert counters["executions_created"] == len(sources)


def test_async_loads_pass_the_same_gateway(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(refuse_chunked=True, pages_per_file=1)
    sources = pdfs(tmp_path, 4)

    async def main() -> list[str]:
        async with AsyncVLMRunClient("k", base_url=emu.base_url, poll=FAST) as client:
            loader = VLMRunLoader(sources, agent_name=AGENT, async_client=client)
            return [d.metadata["source"] async for d in loader.alazy_load()]

    assert asyncio.run(main()) == sources
    assert emu.counters.snapshot()["refused_chunked"] == 0


def test_the_gateway_mode_does_refuse_a_chunked_body(
    emulator_factory: Callable[..., Emulator],
) -> None:
    import httpx

    emu = emulator_factory(refuse_chunked=True)
    response = httpx.post(
        f"{emu.base_url}/files",
        content=iter([b"%PDF-1.4 ", b"chunked"]),
        headers={"Authorization": "Bearer k"},
    )
    assert response.status_code == 411
    assert emu.counters.snapshot()["refused_chunked"] == 1


def test_the_committed_capture_is_what_the_sdk_sends(tmp_path: Path) -> None:
    pytest.importorskip("vlmrun.client", reason="the official SDK is in the bench extra")
    assert capture_sdk(tmp_path) == json.loads(CAPTURE.read_text(encoding="utf-8"))
