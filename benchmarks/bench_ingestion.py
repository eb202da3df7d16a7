"""Ingestion throughput: 200 small files, 1 s of (emulated) processing each.

Our loader at max_concurrency 8 and 32 against the official SDK's sequential loop
(upload + agent.execute + executions.wait), all pointed at the loopback emulator
running in its own process.

    python benchmarks/bench_ingestion.py [--files 200] [--sdk-files 12]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from pathlib import Path

from _harness import report, start_emulator, table, verdict

from langchain_vlmrun import PollSchedule, VLMRunClient, VLMRunLoader

JOB_SECONDS = 1.0


def make_files(folder: Path, n: int, prefix: str) -> list[str]:
    paths = []
    for i in range(n):
        path = folder / f"{prefix}-{i:04d}.pdf"
        path.write_bytes(f"%PDF-1.4 {prefix} benchmark document {i}".encode())
        paths.append(str(path))
    return paths


def ours(paths: list[str], concurrency: int, poll: PollSchedule | None) -> tuple[float, float]:
    proc, base_url = start_emulator("--queue-time", "0", "--processing-time", str(JOB_SECONDS))
    try:
        with VLMRunClient("bench", base_url=base_url, poll=poll) as client:
            loader = VLMRunLoader(
                paths, prompt="Transcribe", client=client, max_concurrency=concurrency
            )
            t0 = time.perf_counter()
            docs = loader.load()
            wall = time.perf_counter() - t0
        assert len({d.metadata["source"] for d in docs}) == len(paths), "lost documents"
        requests = sum(u.requests for u in loader.usage) / len(paths)
        return wall, requests
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sdk(paths: list[str]) -> float:
    from vlmrun.client import VLMRun
    from vlmrun.client.types import AgentExecutionConfig

    proc, base_url = start_emulator("--queue-time", "0", "--processing-time", str(JOB_SECONDS))
    try:
        client = VLMRun(api_key="bench", base_url=base_url)
        t0 = time.perf_counter()
        for path in paths:
            uploaded = client.files.upload(path)
            started = client.agent.execute(
                inputs={"file": {"type": "input_file", "file_id": uploaded.id}},
                config=AgentExecutionConfig(prompt="Transcribe"),
            )
            client.executions.wait(started.id)
        return time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--sdk-files", type=int, default=12)
    args = parser.parse_args()
    n = args.files
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sdk_wall = sdk(make_files(folder, args.sdk_files, "sdk"))
        sdk_estimate = sdk_wall / args.sdk_files * n
        rows = []
        runs = [
            (8, None, "default schedule"),
            (32, None, "default schedule"),
            (
                8,
                PollSchedule(initial=0.5, multiplier=1.0, maximum=0.1, learn_durations=False),
                "fixed 0.1 s polls after 0.5 s (what the limit costs)",
            ),
        ]
        for i, (concurrency, poll, label) in enumerate(runs):
            wall, per_doc = ours(make_files(folder, n, f"ours{i}"), concurrency, poll)
            limit = math.ceil(n / concurrency) * JOB_SECONDS
            ratio = wall / limit
            target = verdict(ratio <= 1.2 and sdk_estimate / wall >= 10) if poll is None else "-"
            rows.append(
                (
                    f"ours, max_concurrency={concurrency}, {label}",
                    f"{wall:.1f} s",
                    f"{limit:.0f} s",
                    f"{ratio:.2f}x",
                    f"{sdk_estimate / wall:.0f}x",
                    f"{per_doc:.1f}",
                    target,
                )
            )
        rows.append(
            (
                f"vlmrun SDK loop ({args.sdk_files} files measured, x{n / args.sdk_files:.1f})",
                f"{sdk_estimate:.0f} s (extrapolated)",
                "-",
                "-",
                "1x",
                "-",
                "-",
            )
        )
    text = table(
        (
            "client",
            "wall",
            "limit ceil(N/c) x 1 s",
            "ours/limit",
            "SDK/ours",
            "requests/doc",
            "target (<=1.2x limit, >=10x SDK)",
        ),
        rows,
    )
    text += (
        f"\n\n{n} files, {JOB_SECONDS:.0f} s emulated processing each, emulator in its own "
        "process. The SDK loop is sequential and its `executions.wait` sleeps 5 s between "
        "polls, so it was measured on a subset and extrapolated linearly. Our default "
        "schedule learns the agent's duration from the first completions (server "
        "timestamps) and sleeps until then before polling."
    )
    report("ingestion", f"Ingestion: {n} files, {JOB_SECONDS:.0f} s each", text)


if __name__ == "__main__":
    main()
