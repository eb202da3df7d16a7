"""Docstring examples (doctests) run offline: constructors that need a key get a
placeholder one; every example that would reach the service is marked ``+SKIP``."""

from __future__ import annotations

import os

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def placeholder_api_key_for_doctests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(request.node, DoctestItem) and not os.environ.get("VLMRUN_API_KEY"):
        monkeypatch.setenv("VLMRUN_API_KEY", "placeholder-key-for-doctests")
