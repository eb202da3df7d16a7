"""Shared fixtures: cassette replay (pytest-recording) and live-test gating."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.cassette_config import vcr_settings

pytest_plugins = ["tests.emulator.pytest_plugin"]

#: Base URL the cassettes were composed/recorded against.
CASSETTE_BASE_URL = "https://api.vlm.run/v1"
LIVE = bool(os.environ.get("VLMRUN_API_KEY"))


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    return vcr_settings()


@pytest.fixture
def vcr_cassette_dir() -> str:
    return vcr_settings()["cassette_library_dir"]  # type: ignore[no-any-return]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if LIVE:
        return
    skip = pytest.mark.skip(reason="live test: set VLMRUN_API_KEY to run it")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cassette_client_kwargs() -> dict[str, Any]:
    """Client settings for cassette tests: replay offline, or record live with a key."""
    counter = itertools.count(1)
    kwargs: dict[str, Any] = {
        "api_key": os.environ.get("VLMRUN_API_KEY") or "test-key-not-a-secret",
        "base_url": CASSETTE_BASE_URL,
        "request_id_factory": _ids(counter),
    }
    if not LIVE:
        from langchain_vlmrun import PollSchedule

        kwargs["poll"] = PollSchedule.immediate()
    return kwargs


def _ids(counter: itertools.count[int]) -> Callable[[], str]:
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"
