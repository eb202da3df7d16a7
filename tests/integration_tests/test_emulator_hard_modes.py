"""The emulator's mixed-duration and lost-delivery hard modes (tests/emulator/durations.py,
``callback_drop_rate``, and their ``python -m tests.emulator`` flags)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator import (
    Emulator,
    EmulatorConfig,
    ManualClock,
    every_kth,
    lognormal,
    running_emulator,
    wait_until,
)
from tests.emulator.__main__ import main as emulator_main
from tests.emulator.durations import parse_distribution

ROOT = Path(__file__).resolve().parents[2]


def execute(c: httpx.Client, request_id: str, callback_url: str | None = None) -> str:
    body: dict[str, Any] = {"id": request_id, "batch": True, "config": {"prompt": "Read it."}}
    if callback_url:
        body["callback_url"] = callback_url
    r = c.post("/agent/execute", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def durations(emu: Emulator) -> list[float]:
    """Processing seconds of each execution, in creation order."""
    seen = emu.counters.snapshot()
    return [
        round(seen["completion_time"][eid] - seen["creation_time"][eid], 6)
        for eid in emu.execution_ids()
    ]


class Hook:
    """A loopback webhook receiver recording the execution ids delivered to it."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.ids.append(json.loads(body)["id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


# ----------------------------------------------------------------------------- durations


def test_every_kth_counts_from_one_across_threads() -> None:
    durations_of = every_kth(5, fast=0.5, slow=8)
    assert [durations_of({}) for _ in range(10)] == [0.5] * 4 + [8] + [0.5] * 4 + [8]
    durations_of.reset()
    results: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            value = durations_of({})
            with lock:
                results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert durations_of.created == 400
    assert results.count(8) == 80  # exactly every 5th call, however the threads interleave


def test_lognormal_is_seeded_by_creation_order_with_the_given_median() -> None:
    first, same, other = (
        lognormal(1.0, 0.6, seed=7),
        lognormal(1.0, 0.6, seed=7),
        lognormal(1.0, 0.6, seed=8),
    )
    draws = [first({}) for _ in range(2001)]
    assert draws[:50] == [same({}) for _ in range(50)]
    assert draws[:50] != [other({}) for _ in range(50)]
    assert 0.9 < statistics.median(draws) < 1.1
    assert min(draws) > 0
    first.reset()
    assert [first({}) for _ in range(5)] == draws[:5]


@pytest.mark.parametrize(
    "spec", ["lognormal:1", "lognormal:x:0.6", "uniform:1:2", "lognormal:0:0.6", "lognormal:1:-1"]
)
def test_bad_distributions_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_distribution(spec)


def test_emulator_gives_every_kth_execution_the_slow_time() -> None:
    clock = ManualClock(100.0)
    durations_of = every_kth(3, fast=0.5, slow=8)
    with (
        running_emulator(clock=clock, queue_time=0, processing_time=durations_of) as emu,
        httpx.Client(base_url=emu.base_url, headers={"Authorization": "Bearer k"}) as c,
    ):
        first = execute(c, "ex-1")
        assert execute(c, "ex-1") == first  # a duplicate id creates nothing: not counted
        for i in range(2, 7):
            execute(c, f"ex-{i}")
        assert durations(emu) == [0.5, 0.5, 8, 0.5, 0.5, 8]
        clock.advance(1)
        statuses = [c.get(f"/agent/executions/ex-{i}").json()["status"] for i in range(1, 7)]
        assert statuses == ["completed", "completed", "running"] * 2
        emu.reset(state=True)  # the count starts again
        execute(c, "again-1")
        assert durations_of.created == 1


# ----------------------------------------------------------------------------- lost deliveries


def test_drop_rate_one_loses_every_delivery(hook: Hook) -> None:
    clock = ManualClock(0.0)
    with (
        running_emulator(
            clock=clock, queue_time=0, processing_time=1, callback_drop_rate=1.0
        ) as emu,
        httpx.Client(base_url=emu.base_url, headers={"Authorization": "Bearer k"}) as c,
    ):
        for i in range(4):
            execute(c, f"lost-{i}", callback_url=hook.url)
        clock.advance(2)
        assert wait_until(lambda: emu.counters.callbacks_dropped == 4)
        assert not wait_until(lambda: bool(hook.ids), timeout=0.3)  # nothing, not even retries
        seen = emu.counters.snapshot()
    assert seen["callbacks_sent"] == seen["callbacks_delivered"] == seen["callbacks_failed"] == 0
    assert seen["callbacks_dropped"] == 4


def dropped_indices(hook: Hook, seed: int) -> list[int]:
    """Run 20 executions with half their deliveries dropped; the indices lost."""
    clock = ManualClock(0.0)
    hook.ids.clear()
    with (
        running_emulator(
            clock=clock,
            queue_time=0,
            processing_time=1,
            callback_drop_rate=0.5,
            callback_retries=0,
            seed=seed,
        ) as emu,
        httpx.Client(base_url=emu.base_url, headers={"Authorization": "Bearer k"}) as c,
    ):
        for i in range(20):
            execute(c, f"maybe-{i}", callback_url=hook.url)
        clock.advance(2)
        assert wait_until(
            lambda: emu.counters.callbacks_dropped + emu.counters.callbacks_delivered == 20
        )
        assert emu.counters.callbacks_sent == emu.counters.callbacks_delivered == len(hook.ids)
    return sorted(set(range(20)) - {int(eid.split("-")[1]) for eid in hook.ids})


def test_drop_rate_is_seeded(hook: Hook) -> None:
    lost = dropped_indices(hook, seed=3)
    assert 0 < len(lost) < 20
    assert dropped_indices(hook, seed=3) == lost
    assert any(dropped_indices(hook, seed=s) != lost for s in (4, 5))


def test_drop_rate_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="callback_drop_rate"):
        EmulatorConfig(callback_drop_rate=1.5)


# ----------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "argv",
    [
        ["--slow-every", "3"],
        ["--slow-time", "3"],
        ["--slow-every", "3", "--slow-time", "8", "--processing-distribution", "lognormal:1:0.6"],
        ["--processing-distribution", "normal:1:0.6"],
        ["--slow-every", "0", "--slow-time", "8"],
    ],
)
def test_cli_refuses_inconsistent_duration_flags(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        emulator_main(["--port", "0", *argv])
    assert stopped.value.code == 2


def test_cli_slow_every_and_drop_rate(hook: Hook) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.emulator",
            "--port",
            "0",
            "--max-lifetime",
            "60",
            "--queue-time",
            "0",
            "--processing-time",
            "0.05",
            "--slow-every",
            "2",
            "--slow-time",
            "30",
            "--callback-drop-rate",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split(" at ")[1].split()[0]
        root = base_url.rsplit("/v1", 1)[0]
        with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer k"}) as c:
            for i in range(4):
                execute(c, f"cli-{i}", callback_url=hook.url)

            def counters() -> dict[str, Any]:
                return httpx.get(f"{root}/_admin/counters").json()  # type: ignore[no-any-return]

            assert wait_until(lambda: counters()["callbacks_dropped"] == 2)  # the fast ones
            seen = counters()
            took = [
                seen["completion_time"][f"cli-{i}"] - seen["creation_time"][f"cli-{i}"]
                for i in range(4)
            ]
            assert [round(t, 3) for t in took] == [0.05, 30, 0.05, 30]
            assert seen["callbacks_sent"] == 0 and not hook.ids
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
