"""Loopback emulator of the VLM Run HTTP API, for tests and benchmarks (not shipped).

from tests.emulator import running_emulator

with running_emulator(processing_time=0.1, fault_rate=0.1) as emu:
    ...  # point the client at emu.base_url
    print(emu.counters.snapshot())
"""

from .content import Inputs, schema_content, schema_errors
from .durations import every_kth, lognormal
from .server import (
    Counters,
    Emulator,
    EmulatorConfig,
    ManualClock,
    parse_multipart,
    running_emulator,
    wait_until,
)

__all__ = [
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "Inputs",
    "ManualClock",
    "every_kth",
    "lognormal",
    "parse_multipart",
    "running_emulator",
    "schema_content",
    "schema_errors",
    "wait_until",
]
