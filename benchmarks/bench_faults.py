"""Faults everywhere: 200 files through an emulator failing 30 % of ALL requests.

Every route (uploads, executes, polls, hash lookups) fails 30 % of the time with 500,
502, 503, 504, 429 or a dropped connection, and 10 % of successful POSTs are processed
and then answered with a fault (the ambiguous failure: the file or execution exists,
the client does not know it). Jobs take 1 s. ``VLMRunLoader`` runs with its DEFAULT
settings (client built by the loader: default RetryPolicy, whose backoff is 0.5-8 s and
whose retries end by a 90 s time budget, not a count; default PollSchedule;
max_concurrency 8), sync and async. A third run has the server ignore the client's
execute ``id`` (``ignore_request_ids``): an ambiguous execute can no longer be looked
up, so the client must re-send it and pays twice, but every Document still arrives.

    python benchmarks/bench_faults.py [--files 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from _harness import (
    counters,
    make_files,
    polls,
    report,
    start_emulator,
    stop_emulator,
    table,
    verdict,
)

import langchain_vlmrun.loaders._concurrency as concurrency_module
from langchain_vlmrun import VLMRunLoader

JOB_SECONDS = 1.0
CONCURRENCY = 8  # the loader's default, spelled out for the limit
FAULT_ARGS = (
    "--fault-rate",
    "0.3",
    "--fault-kinds",
    "500,502,503,504,429,drop",
    "--fault-after-processing",
    "0.1",
    "--fault-after-processing-kinds",
    "500,502,503,504,drop",
    "--seed",
    "10",
)


def unbounded_lookahead() -> contextlib.AbstractContextManager[Any]:
    """Diagnostic only: the loader's ordered map without its 4 x max_concurrency
    look-ahead window (a slow source then never holds up the ones behind it)."""
    return mock.patch.object(concurrency_module, "LOOKAHEAD", 1 << 30)


def run(paths: list[str], driver: str, ignore_ids: bool, wide: bool = False) -> dict[str, Any]:
    extra = ("--ignore-request-ids",) if ignore_ids else ()
    proc, base_url = start_emulator(
        "--queue-time", "0", "--processing-time", str(JOB_SECONDS), *FAULT_ARGS, *extra
    )
    try:
        # defaults everywhere; on_error="skip" only so that a failure is counted
        # instead of ending the load (no failure happened in our runs)
        loader = VLMRunLoader(
            paths, prompt="Transcribe", api_key="bench", base_url=base_url, on_error="skip"
        )
        with unbounded_lookahead() if wide else contextlib.nullcontext():
            t0 = time.perf_counter()
            docs = loader.load() if driver == "sync" else asyncio.run(loader.aload())
            wall = time.perf_counter() - t0
        seen = counters(base_url)
    finally:
        stop_emulator(proc)
    per_doc = [u.requests for u in loader.usage]
    return {
        "wall": wall,
        "sources": len({d.metadata["source"] for d in docs}),
        "documents": len(docs),
        "failures": len(loader.failures),
        "client_requests": sum(per_doc),
        "max_requests": max(per_doc),
        "seen": seen,
    }


def wall_of(
    results: dict[tuple[str, bool, bool], dict[str, Any]], run: tuple[str, bool, bool]
) -> str:
    return f"{results[run]['wall']:.0f} s" if run in results else "not run"


def fault_summary(seen: dict[str, Any]) -> str:
    faults = seen["faults_injected"]
    before = sum(n for kind, n in faults.items() if not kind.startswith("after_"))
    after = sum(n for kind, n in faults.items() if kind.startswith("after_"))
    return f"{before} + {after} after processing"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--no-diagnostic", action="store_true", help="skip the 4th run")
    args = parser.parse_args()
    logging.getLogger("langchain_vlmrun").setLevel(logging.ERROR)  # retries are expected
    n = args.files
    limit = n * JOB_SECONDS / CONCURRENCY
    rows = []
    runs = [("sync", False, False), ("async", False, False), ("sync", True, False)]
    if not args.no_diagnostic:
        runs.append(("sync", False, True))
    labels = {
        (False, False): "",
        (True, False): ", server ignores ids",
        (False, True): ", look-ahead unbounded (diagnostic)",
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (driver, ignore_ids, wide) in enumerate(runs):
            paths = make_files(Path(tmp), n, f"faults{i}")
            result = results[(driver, ignore_ids, wide)] = run(paths, driver, ignore_ids, wide)
            seen = result["seen"]
            complete = result["sources"] == n and result["failures"] == 0
            once = seen["executions_created"] == n and seen["paid_twice"] == 0
            if wide:
                judged = "-"
            elif ignore_ids:
                judged = "all Documents" if complete else "LOST"
            else:
                judged = verdict(complete and once)
            rows.append(
                (
                    f"{driver}{labels[(ignore_ids, wide)]}",
                    f"{result['sources']}/{n} ({result['documents']} Documents)",
                    result["failures"],
                    seen["executions_created"],
                    seen["paid_twice"],
                    f"{result['client_requests'] / n:.2f} / {seen['requests_total'] / n:.2f}"
                    f" (max {result['max_requests']})",
                    f"{polls(seen) / n:.2f}",
                    fault_summary(seen),
                    f"{result['wall']:.1f} s",
                    f"{result['wall'] / limit:.2f}x",
                    judged,
                )
            )
    text = table(
        (
            "run",
            "sources with Documents",
            "failures",
            "executions",
            "paid twice",
            "requests/doc client / emulator",
            "GET execution/doc (polls + id lookups)",
            "faults injected",
            "wall",
            f"wall / limit ({limit:.0f} s)",
            "target (all docs, executions = files)",
        ),
        rows,
    )
    ignored = results[("sync", True, False)]["seen"]
    text += (
        f"\n\n{n} files, {JOB_SECONDS:.0f} s jobs, emulator failing 30 % of requests on every "
        "route (500/502/503/504/429/drop, uniformly) and answering 10 % of successful "
        "POSTs with a fault after acting on them. Loader defaults: max_concurrency 8, "
        "RetryPolicy() (backoff 0.5-8 s, jittered, Retry-After honoured, 90 s budget per "
        "call), PollSchedule() with duration learning. The physical limit is "
        f"{n} x {JOB_SECONDS:.0f} s / {CONCURRENCY} = {limit:.0f} s. Requests/doc: the "
        "client's count (`loader.usage`, every attempt) and the emulator's "
        "(`requests_total` / files, faulted requests included). `paid twice` is the "
        "emulator's count of extra executions on the same input. With the server "
        "ignoring client ids, each execute answered by an after-processing fault is "
        "looked up by its id (404), re-sent and paid again: "
        f"{ignored['paid_twice']} of {ignored['executions_created']} executions were "
        f"duplicates ({ignored['duplicate_execute_ids']} execute requests repeated an id), "
        "yet every source produced its Documents.\n\n"
        "Where the time above the limit goes: each faulted request waits out a backoff "
        "(0.25-0.5 s first, doubling) or the 429's Retry-After (1 s), and a 5xx or dropped "
        "connection on an upload or execute is ambiguous, so the client pauses, looks the "
        "file (md5) or execution (client id) up and only then re-sends: three steps, each "
        "of which may fault again. `GET execution/doc` counts polls and those id lookups "
        "(same route).\n\n"
        "The diagnostic row lifts the loader's look-ahead window (results come in input "
        "order, and at most 4 x max_concurrency sources are started ahead of the oldest "
        "unfinished one): a source stuck in retries at the head of the line then no "
        "longer stops new sources from starting once the 31 behind it are done. "
        f"This run: {wall_of(results, ('sync', False, False))} with the window, "
        f"{wall_of(results, ('sync', False, True))} without. Single runs vary a lot here "
        "(which request draws which fault depends on arrival order); see NOTES.md for "
        "repeated runs."
    )
    report("faults", f"Faults on every route: {n} files, 30 % faults, default settings", text)


if __name__ == "__main__":
    main()
