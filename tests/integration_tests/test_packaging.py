"""Package metadata: SPDX license, classifiers, URLs, one version (tools/check_dist.sh
builds and installs the real artifacts in `make test`)."""

from __future__ import annotations

from importlib.metadata import metadata, version
from pathlib import Path

import pytest

import langchain_vlmrun

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = PROJECT["project"]
    assert project["license"] == "MIT"  # a string: the TOML table form is deprecated
    assert project["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    assert not any(c.startswith("License ::") for c in project["classifiers"])


def test_version_has_one_source() -> None:
    assert PROJECT["project"]["dynamic"] == ["version"]
    attr = PROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "langchain_vlmrun._version.__version__"
    assert version("langchain-vlmrun") == langchain_vlmrun.__version__


def test_installed_metadata_has_classifiers_and_urls() -> None:
    meta = metadata("langchain-vlmrun")
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.1") for c in classifiers)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls["Homepage"] == "https://vlm.run"


def test_build_tools_are_in_the_dev_extra() -> None:
    dev = " ".join(PROJECT["project"]["optional-dependencies"]["dev"])
    assert "build" in dev and "twine" in dev
