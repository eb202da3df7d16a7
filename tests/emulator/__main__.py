"""``python -m tests.emulator --port 8765 --processing-time 1``: run the emulator by hand."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any

from .durations import every_kth, parse_distribution
from .faults import FAULT_KINDS
from .server import Emulator, EmulatorConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="required Bearer token (default: any)")
    parser.add_argument("--queue-time", type=float, default=0.5)
    parser.add_argument("--processing-time", type=float, default=2.0)
    parser.add_argument(
        "--slow-every",
        type=int,
        default=None,
        metavar="K",
        help="executions number K, 2K, ... (creation order, from 1) take --slow-time seconds",
    )
    parser.add_argument(
        "--slow-time", type=float, default=None, metavar="S", help="with --slow-every"
    )
    parser.add_argument(
        "--processing-distribution",
        default=None,
        metavar="lognormal:MEDIAN:SIGMA",
        help="draw each execution's processing time (seeded by --seed, by creation order); "
        "replaces --processing-time",
    )
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
    parser.add_argument(
        "--fault-after-processing-kinds",
        default="500,drop",
        help="comma-separated kinds of the faults sent after processing",
    )
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
    parser.add_argument(
        "--rate-limit-window",
        type=float,
        default=60.0,
        help="seconds in which --rate-limit-per-minute requests are allowed (scales time)",
    )
    parser.add_argument(
        "--retry-after",
        default="1",
        help="Retry-After of injected 429s, sent as it is (seconds, or e.g. inf)",
    )
    parser.add_argument(
        "--webhook-secret", default=None, help="sign callback_url deliveries (X-VLMRun-Signature)"
    )
    parser.add_argument("--callback-delay", type=float, default=0.0)
    parser.add_argument(
        "--callback-drop-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="share of webhook delivery attempts silently lost (1 = every one)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-lifetime", type=float, default=3600.0, help="seconds before it stops (0 = never)"
    )
    args = parser.parse_args(argv)
    processing: Any = args.processing_time
    if (args.slow_every is None) != (args.slow_time is None):
        parser.error("--slow-every and --slow-time go together")
    if args.slow_every is not None and args.processing_distribution:
        parser.error("--slow-every and --processing-distribution exclude each other")
    try:
        if args.slow_every is not None:
            processing = every_kth(args.slow_every, args.processing_time, args.slow_time)
        elif args.processing_distribution:
            processing = parse_distribution(args.processing_distribution, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    kwargs: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "api_key": args.api_key,
        "queue_time": args.queue_time,
        "processing_time": processing,
        "response_mode": args.response_mode,
        "pages_per_file": args.pages_per_file,
        "fail_rate": args.fail_rate,
        "fault_rate": args.fault_rate,
        "fault_kinds": tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip()),
        "fault_paths": args.fault_paths,
        "fault_after_processing": args.fault_after_processing,
        "fault_after_processing_kinds": tuple(
            k.strip() for k in args.fault_after_processing_kinds.split(",") if k.strip()
        ),
        "fault_burst_length": args.fault_burst_length,
        "fault_burst_rate": args.fault_burst_rate,
        "ignore_request_ids": args.ignore_request_ids,
        "timestamp_mode": args.timestamp_mode,
        "lazy_completed_at": args.lazy_completed_at,
        "rate_limit_per_minute": args.rate_limit_per_minute,
        "rate_limit_window": args.rate_limit_window,
        "retry_after": args.retry_after,
        "webhook_secret": args.webhook_secret,
        "callback_delay": args.callback_delay,
        "callback_drop_rate": args.callback_drop_rate,
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
