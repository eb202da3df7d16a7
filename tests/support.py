"""Helpers shared by test modules: sample files, a sleep recorder, a stand-in for a
crash, and client settings for the loopback emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from langchain_vlmrun import PollSchedule, RetryPolicy
from tests.emulator import Emulator

#: A tiny PDF-looking payload; VLM Run only sees the bytes, the emulator echoes the name.
PDF = b"%PDF-1.4\n% test document\n"

#: Short polls for the emulator: 0.02 s, x1.5, at most 0.2 s.
EMULATOR_POLL = PollSchedule(initial=0.02, multiplier=1.5, maximum=0.2)


def make_files(
    directory: Path, count: int, name: str = "doc-{i:03d}.pdf", *, tag: str = "document"
) -> list[str]:
    """``count`` small, distinct PDF files in ``directory`` (created); their paths, in order.

    ``name`` is formatted with ``i``; each file's bytes differ (``tag`` and ``i``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / name.format(i=i)
        path.write_bytes(f"%PDF-1.4\n% {tag} {i:03d}\n".encode())
        paths.append(str(path))
    return paths


def file_maker(name: str, data: bytes = PDF) -> Callable[[Path], str]:
    """A function writing ``data`` to ``<dir>/name`` and returning the path (for case tables)."""

    def make(directory: Path) -> str:
        path = directory / name
        path.write_bytes(data)
        return str(path)

    return make


class Crash(Exception):
    """Stands for the process dying (raised from an injected sleep or transport)."""


class Sleeps:
    """Injected sleep that records every pause and really sleeps (sync and async)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await asyncio.sleep(seconds)


def emulator_client_settings(
    emu: Emulator,
    *,
    retry: RetryPolicy | None = None,
    poll: PollSchedule | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Keyword arguments for ``VLMRunClient``/``AsyncVLMRunClient`` against ``emu``:
    short backoffs and polls (real sleeps stay short), a timeout far above any emulated
    slowness so that a slow answer never turns into a timeout."""
    return {
        "base_url": emu.base_url,
        "retry": retry or RetryPolicy(max_retries=10, initial_backoff=0.01, max_backoff=0.05),
        "poll": poll or EMULATOR_POLL,
        "timeout": httpx.Timeout(timeout),
    }
