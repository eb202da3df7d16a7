"""``python -m tests.emulator --port 8765 --processing-time 1``: run the emulator by hand."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any

from .faults import FAULT_KINDS
from .server import Emulator, EmulatorConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="required Bearer token (default: any)")
    parser.add_argument("--queue-time", type=float, default=0.5)
    parser.add_argument("--processing-time", type=float, default=2.0)
    parser.add_argument("--response-mode", choices=["markdown", "json"], default="markdown")
    parser.add_argument("--pages-per-file", type=int, default=2)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--fault-kinds",
        default="500,502,503,429,drop",
        help=f"comma-separated subset of {sorted(FAULT_KINDS)}",
    )
    parser.add_argument("--fault-paths", default=None, help="regex on the URL path")
    parser.add_argument("--fault-after-processing", type=float, default=0.0)
    parser.add_argument("--fault-burst-length", type=int, default=0)
    parser.add_argument("--fault-burst-rate", type=float, default=1.0)
    parser.add_argument("--ignore-request-ids", action="store_true")
    parser.add_argument(
        "--timestamp-mode",
        choices=["accurate", "naive", "lazy", "missing", "early", "late"],
        default="naive",
    )
    parser.add_argument("--lazy-completed-at", action="store_true")
    parser.add_argument("--rate-limit-per-minute", type=int, default=None)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-lifetime", type=float, default=3600.0, help="seconds before it stops (0 = never)"
    )
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "api_key": args.api_key,
        "queue_time": args.queue_time,
        "processing_time": args.processing_time,
        "response_mode": args.response_mode,
        "pages_per_file": args.pages_per_file,
        "fail_rate": args.fail_rate,
        "fault_rate": args.fault_rate,
        "fault_kinds": tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip()),
        "fault_paths": args.fault_paths,
        "fault_after_processing": args.fault_after_processing,
        "fault_burst_length": args.fault_burst_length,
        "fault_burst_rate": args.fault_burst_rate,
        "ignore_request_ids": args.ignore_request_ids,
        "timestamp_mode": args.timestamp_mode,
        "lazy_completed_at": args.lazy_completed_at,
        "rate_limit_per_minute": args.rate_limit_per_minute,
        "retry_after": args.retry_after,
        "seed": args.seed,
        "max_lifetime": args.max_lifetime or None,
    }
    emulator = Emulator(EmulatorConfig(**kwargs)).start()
    print(
        f"VLM Run emulator at {emulator.base_url}  (counters: {emulator.root_url}/_admin/counters)"
    )
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5) and emulator.running:
            pass
    finally:
        emulator.stop()
        print(json.dumps(emulator.counters.snapshot(), indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
