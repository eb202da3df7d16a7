"""Request budget: 60 documents at requests_per_minute=100 against an emulator that
enforces 100 requests/min with 429s.

    python benchmarks/bench_budget.py [--docs 60] [--job 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

from _harness import report, start_emulator, stop_emulator, table, verdict

from langchain_vlmrun import VLMRunClient, VLMRunLoader

RPM = 100


def counters(base_url: str) -> dict:
    root = base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(f"{root}/_admin/counters") as answer:
        return json.load(answer)


def routes(seen: dict) -> dict[str, int]:
    return dict(sorted(seen["requests_by_route"].items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--job", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    proc, base_url = start_emulator(
        "--queue-time",
        "0",
        "--processing-time",
        str(args.job),
        "--rate-limit-per-minute",
        str(RPM),
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for i in range(args.docs):
                path = Path(tmp) / f"budget-{i:03d}.pdf"
                path.write_bytes(f"%PDF-1.4 budget document {i}".encode())
                paths.append(str(path))
            with VLMRunClient("bench", base_url=base_url, requests_per_minute=RPM) as client:
                loader = VLMRunLoader(
                    paths, prompt="Transcribe", client=client, max_concurrency=args.concurrency
                )
                t0 = time.perf_counter()
                docs = loader.load()
                wall = time.perf_counter() - t0
                penalties = client.budget.penalties if client.budget else 0
        seen = counters(base_url)
    finally:
        stop_emulator(proc)
    assert len({d.metadata["source"] for d in docs}) == args.docs
    # /_admin/* calls (the counters read above) are not counted by the emulator
    total = seen["requests_total"]
    refused = seen["rate_limited"]
    assert seen["executions_created"] == args.docs, "an execute was sent twice"
    limit = total / RPM * 60
    per_doc = [u.requests for u in loader.usage]
    mean = sum(per_doc) / len(per_doc)
    ok = refused == 0 and penalties == 0 and wall <= 1.15 * limit and mean <= 6
    rows = [
        (
            args.docs,
            f"{args.job:.0f} s",
            total,
            refused,
            penalties,
            f"{wall:.0f} s",
            f"{limit:.0f} s",
            f"{wall / limit:.2f}x",
            f"{mean:.1f} (max {max(per_doc)})",
            verdict(ok),
        )
    ]
    text = table(
        (
            "docs",
            "job",
            "requests",
            "429s sent (emulator)",
            "429s seen (client)",
            "wall",
            "limit (req/100 per min)",
            "wall/limit",
            "requests/doc",
            "target (0 x 429, <=1.15x, <=6/doc)",
        ),
        rows,
    )
    text += (
        f"\n\nClient: `requests_per_minute={RPM}`, loader max_concurrency={args.concurrency}; "
        f"emulator: sliding-window limit of {RPM}/min answering 429 with Retry-After. Every "
        "hash lookup, upload, execute and poll counts. The limit is the time the budget "
        "needs for the requests actually sent; the job time adds a tail at the end. "
        "`429s seen (client)` counts `RequestBudget.penalize` calls (each 429 the client "
        f"received). Emulator: {seen['executions_created']} executions, "
        f"{seen['uploads']} uploads, requests by route {json.dumps(routes(seen))}."
    )
    report("budget", f"Request budget: {args.docs} documents at {RPM} requests/min", text)


if __name__ == "__main__":
    main()
