"""Pytest fixtures for the emulator. Register with
``pytest_plugins = ["tests.emulator.pytest_plugin"]`` in a conftest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import Emulator, EmulatorConfig

#: Latencies used by the fixtures: fast enough for unit tests, still shows each status.
FAST_DEFAULTS: dict[str, Any] = {"queue_time": 0.01, "processing_time": 0.05, "max_lifetime": 120}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started emulator (queue_time 0.01 s, processing_time 0.05 s, any Bearer key)."""
    emu = Emulator(EmulatorConfig(**FAST_DEFAULTS)).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """``emulator_factory(fault_rate=0.2, ...)`` -> started Emulator; all stopped at teardown.
    Keyword arguments override FAST_DEFAULTS."""
    started: list[Emulator] = []

    def make(**config_kwargs: Any) -> Emulator:
        emu = Emulator(EmulatorConfig(**{**FAST_DEFAULTS, **config_kwargs})).start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in started:
            emu.stop()
