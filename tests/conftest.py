"""Shared fixtures: cassette replay (pytest-recording) and live-test gating."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.cassette_config import client_settings, vcr_settings

pytest_plugins = ["tests.emulator.pytest_plugin", "tests.redis_server"]

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


@pytest.fixture(autouse=True)
def private_cache_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test its own default cache folder: no result leaks between tests, and none
    lands in the user's ``~/.cache``."""
    monkeypatch.setenv("VLMRUN_CACHE_DIR", str(tmp_path_factory.mktemp("vlmrun-cache")))


@pytest.fixture
def cassette_client_kwargs() -> dict[str, Any]:
    """Client settings for cassette tests: replay offline, or record live with a key."""
    return client_settings()


@pytest.fixture
def closed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the prepared files closed during the test, in order."""
    from langchain_vlmrun.files._sources import PreparedFile

    closed: list[str] = []
    close = PreparedFile.close

    def spy(self: PreparedFile) -> None:
        closed.append(self.filename)
        close(self)

    monkeypatch.setattr(PreparedFile, "close", spy)
    return closed
