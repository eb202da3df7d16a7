"""Polling efficiency: how soon ``wait`` notices completion, and how many polls it costs.

Jobs of 2, 10 and 60 s run side by side on the loopback emulator. "Delay" is the time
between the moment the emulator's execution became ``completed`` and the moment
``wait`` returned. The SDK's ``executions.wait`` (fixed 5 s sleep) is shown for scale.

    python benchmarks/bench_polling.py
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _harness import report, table, verdict

from langchain_vlmrun import AsyncVLMRunClient
from tests.emulator import running_emulator

JOBS = (2.0, 10.0, 60.0)


def processing_time(body: dict[str, Any]) -> float:
    return float(body.get("metadata", {}).get("session_id") or 1.0)


async def ours(base_url: str) -> dict[float, str]:
    async with AsyncVLMRunClient("bench", base_url=base_url) as client:

        async def one(seconds: float) -> tuple[float, str, float]:
            started = await client.execute(
                prompt="bench", inputs={}, metadata={"session_id": str(seconds)}
            )
            await client.wait(started.id)
            return seconds, started.id, time.monotonic()

        results = await asyncio.gather(*(one(s) for s in JOBS))
    return {s: f"{i} {t}" for s, i, t in results}


def sdk(base_url: str) -> dict[float, str]:
    from vlmrun.client import VLMRun
    from vlmrun.client.types import RequestMetadata

    client = VLMRun(api_key="bench", base_url=base_url)

    def one(seconds: float) -> tuple[float, str, float]:
        started = client.agent.execute(
            name="bench:v1",
            inputs={},
            metadata=RequestMetadata(session_id=str(seconds)),
        )
        client.executions.wait(started.id, timeout=600)
        return seconds, started.id, time.monotonic()

    with ThreadPoolExecutor(len(JOBS)) as pool:
        results = list(pool.map(one, JOBS))
    return {s: f"{i} {t}" for s, i, t in results}


def main() -> None:
    rows = []
    for label, runner in (("langchain-vlmrun", None), ("vlmrun SDK 0.9.2", sdk)):
        with running_emulator(queue_time=0.0, processing_time=processing_time) as emu:
            results = asyncio.run(ours(emu.base_url)) if runner is None else runner(emu.base_url)
            counters = emu.counters.snapshot()
        for seconds in JOBS:
            execution_id, returned = results[seconds].split()
            delay = float(returned) - counters["completion_time"][execution_id]
            polls = counters["polls_per_execution"].get(execution_id, 0)
            ok = delay <= 0.1 * seconds and (seconds < 60 or polls <= 12)
            rows.append(
                (
                    label,
                    f"{seconds:.0f} s",
                    f"{delay:.2f} s",
                    f"{100 * delay / seconds:.0f} %",
                    polls,
                    verdict(ok) if runner is None else "-",
                )
            )
    text = table(
        ("client", "job", "delay", "delay/job", "polls", "target (<=10 %, <=12 polls@60s)"), rows
    )
    text += (
        "\n\nOur schedule: first poll 0.5 s after submit, then x1.5 per poll, capped at 5 s. "
        "Both targets cannot hold for every job length without a prior on the duration: "
        "a <=10 % delay needs poll gaps <=10 % of the job's age (x1.1 growth), which costs "
        "~50 polls up to 60 s. We keep the x1.5/5 s schedule (fast for short jobs, cheap "
        "for long ones) for a job with no history; the budget (requests_per_minute) "
        "stretches it further under load. In batches, DurationMemory learns the agent's "
        "duration from server timestamps and moves the first poll to the expected end: one "
        "poll per document in the ingestion and budget benchmarks. This benchmark runs "
        "three different lengths at once, so nothing is learned here."
    )
    report("polling", "Polling: completion-to-return delay and polls per job", text)


if __name__ == "__main__":
    main()
