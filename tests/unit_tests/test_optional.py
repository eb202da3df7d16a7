"""A feature whose optional dependency is missing says which extra installs it."""

from __future__ import annotations

import json

import pytest

from langchain_vlmrun.core._optional import require


def test_a_missing_optional_package_names_the_extra_to_install() -> None:
    with pytest.raises(ImportError) as missing:
        require("no_such_package_for_vlmrun", "redis")
    assert str(missing.value) == (
        "This feature needs the 'no_such_package_for_vlmrun' package: "
        "pip install 'langchain-vlmrun[redis]'"
    )
    assert isinstance(missing.value.__cause__, ImportError)  # the import's own error kept


def test_an_installed_package_is_returned() -> None:
    assert require("json", "any") is json


def test_a_missing_submodule_names_the_package_to_install() -> None:
    with pytest.raises(ImportError) as missing:
        require("no_such_package_for_vlmrun.applications", "webhooks")
    assert str(missing.value) == (
        "This feature needs the 'no_such_package_for_vlmrun' package: "
        "pip install 'langchain-vlmrun[webhooks]'"
    )
