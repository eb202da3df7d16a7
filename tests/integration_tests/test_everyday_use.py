"""Everyday use against the emulator, as a user calls the package (issue 26): a load
that succeeds through faults is silent, a progress bar is not broken by log lines, and
stopping ``lazy_load``/``alazy_load`` early pays for nothing new, abandons nothing and
does not hold the caller."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from langchain_vlmrun import RetryPolicy, VLMRunLoader
from langchain_vlmrun.loaders._concurrency import LOOKAHEAD
from tests.emulator import Emulator
from tests.support import EMULATOR_POLL, make_files

#: 30 % of the requests on every route fail (status errors, dropped connections, slow
#: answers, 429s), some POSTs after the server acted on them.
FAULTY: dict[str, Any] = {
    "fault_rate": 0.3,
    "fault_kinds": ("500", "502", "503", "504", "429", "drop", "slow"),
    "fault_paths": r"^/v1/",
    "retry_after": 0.2,
    "slow_seconds": 0.1,
    "fault_after_processing": 0.1,
    "fault_after_processing_kinds": ("500", "502", "503", "504", "drop"),
    "queue_time": 0.02,
    "processing_time": 0.05,
    "seed": 26,
}
RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.05, max_retry_after=0.5)


def settings(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": "k",
        "base_url": emu.base_url,
        "client_kwargs": {"retry": RETRY, "poll": EMULATOR_POLL},
        **extra,
    }


@contextmanager
def unconfigured_logging() -> Iterator[None]:
    """Logging as in a script that never configures it: no handler on the root or the
    package logger (pytest's capture handler, added for the test's call, removed), so
    WARNING and above would reach ``logging.lastResort`` (stderr)."""
    root = logging.getLogger()
    ours = logging.getLogger("langchain_vlmrun")
    saved = (root.handlers[:], root.level, ours.handlers[:], ours.level)
    root.handlers[:] = []
    ours.handlers[:] = []
    root.setLevel(logging.WARNING)
    ours.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        root.handlers[:], _, ours.handlers[:], _ = saved
        root.setLevel(saved[1])
        ours.setLevel(saved[3])


def test_a_load_that_succeeds_through_faults_prints_nothing(
    emulator_factory: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emu = emulator_factory(**FAULTY)
    paths = make_files(tmp_path / "docs", 20)
    loader = VLMRunLoader(paths, prompt="Read it", max_concurrency=4, **settings(emu))
    with unconfigured_logging():
        logging.getLogger("langchain_vlmrun").warning("(lastResort prints: %s)", "seen")
        docs = loader.load()
    assert sorted({d.metadata["source"] for d in docs}) == sorted(paths)
    faults = sum(emu.counters.snapshot()["faults_injected"].values())
    assert faults > 10  # the retries really happened...
    out, err = capfd.readouterr()
    # ...and, all of them having succeeded, said nothing (but the line that shows
    # stderr was captured)
    assert (out, err) == ("", "(lastResort prints: seen)\n")


def test_log_lines_are_written_above_the_progress_bar(
    emulator_factory: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    emu = emulator_factory(queue_time=0.0, processing_time=0.01)
    paths = [*make_files(tmp_path / "docs", 3), str(tmp_path / "missing.pdf")]
    loader = VLMRunLoader(
        paths,
        prompt="Read it",
        mode="single",
        on_error="skip",
        show_progress=True,
        **settings(emu),
    )
    written: list[str] = []
    import tqdm

    original = tqdm.tqdm.write

    def spy(text: str, *args: Any, **kwargs: Any) -> None:
        written.append(text)
        original(text, *args, **kwargs)

    tqdm.tqdm.write = spy  # type: ignore[method-assign]
    try:
        with unconfigured_logging():
            docs = loader.load()
            assert logging.getLogger("langchain_vlmrun").handlers == []  # put back
            assert logging.getLogger().handlers == []
    finally:
        tqdm.tqdm.write = original  # type: ignore[method-assign]
    assert len(docs) == 3 and len(loader.failures) == 1
    # the "Skipping" warning went through tqdm.write (the bar is cleared, the line
    # printed, the bar redrawn), not straight to stderr through the bar
    assert len(written) == 1 and written[0].startswith("Skipping ")
    _, err = capfd.readouterr()
    assert "Skipping " in err


# --- stopping early -------------------------------------------------------------------


def slow_loader(emu: Emulator, tmp_path: Path) -> VLMRunLoader:
    paths = make_files(tmp_path / "docs", 20)
    return VLMRunLoader(
        paths,
        prompt="Read it",
        mode="single",  # one Document per source
        max_concurrency=4,
        **settings(emu),
    )


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def loader_threads_done() -> bool:
    return not any(t.name.startswith("vlmrun_") for t in threading.enumerate())


def test_breaking_out_of_lazy_load_pays_for_nothing_new_and_returns_at_once(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.5)
    loader = slow_loader(emu, tmp_path)
    taken = []
    for doc in loader.lazy_load():
        taken.append(doc)
        if len(taken) == 2:
            began = time.monotonic()
            break
    held = time.monotonic() - began
    created = emu.counters.executions_created
    assert held < 0.3  # the break did not wait for the executions still running
    # the two taken, and at most the look-ahead window started behind them (the four
    # running, on a quiet machine; more when results came out of order on a busy one)
    assert created <= 2 + LOOKAHEAD * 4
    wait_for(loader_threads_done)
    # the running ones were finished into the (default, persistent) cache, none added
    assert emu.counters.executions_created == created
    again = VLMRunLoader(loader.sources, prompt="Read it", mode="single", **settings(emu)).load()
    assert len(again) == 20
    assert emu.counters.executions_created == 20  # the rest, once each


async def test_breaking_out_of_alazy_load_pays_for_nothing_new(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.5)
    loader = slow_loader(emu, tmp_path)
    results = loader.alazy_load()
    taken = [await results.__anext__(), await results.__anext__()]
    began = time.monotonic()
    await results.aclose()
    assert time.monotonic() - began < 0.3
    created = emu.counters.executions_created
    # the two taken, and at most the four executions running and the four uploaded
    # ahead of them (each took a slot freed while the first two were taken)
    assert len(taken) == 2 and created <= 2 + 2 * 4
    await asyncio.sleep(1.5)  # the loop runs on: the ones running finish, none starts
    assert emu.counters.executions_created == created
    second = VLMRunLoader(loader.sources, prompt="Read it", mode="single", **settings(emu))
    assert len(await second.aload()) == 20
    assert emu.counters.executions_created == 20  # nothing paid twice
    assert sum(u.from_cache for u in second.usage) == created  # the early ones, cached


def test_an_unconsumed_lazy_load_starts_no_more_sources(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.2)
    loader = slow_loader(emu, tmp_path)
    results = loader.lazy_load()
    next(results)
    time.sleep(1.0)  # the caller goes away without closing the generator
    # the sources running when it yielded finished; none started after (at most the
    # look-ahead, 4 x max_concurrency, had started before)
    first = emu.counters.executions_created
    time.sleep(0.6)
    assert emu.counters.executions_created == first <= 1 + 4 * 4
    results.close()
    wait_for(loader_threads_done)


# --- a nightly re-run -----------------------------------------------------------------------

_RERUN = """
import json, sys
from langchain_vlmrun import VLMRunLoader
docs = VLMRunLoader(sys.argv[2:], api_key="k", base_url=sys.argv[1]).load()
print(json.dumps([[d.id, d.page_content, d.metadata] for d in docs], sort_keys=True))
"""


def test_a_second_process_with_default_settings_pays_nothing_and_yields_the_same_documents(
    emulator_factory: Any, tmp_path: Path
) -> None:
    """Two processes, default settings (the default cache folder is the environment's):
    the second makes no execution and prints byte-identical Documents."""
    import os
    import subprocess
    import sys

    emu = emulator_factory(queue_time=0.01, processing_time=0.02)
    files = [str(p) for p in make_files(tmp_path, 3)]
    env = {**os.environ, "VLMRUN_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("VLMRUN_API_KEY", None)

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", _RERUN, emu.base_url, *files],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    first = run()
    created = emu.counters.snapshot()["executions_created"]
    assert created == 3
    second = run()
    assert second == first
    assert emu.counters.snapshot()["executions_created"] == created  # nothing paid again
