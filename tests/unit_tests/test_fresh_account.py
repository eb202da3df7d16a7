"""What users copy from (README, docs, examples, cassettes) uses only what a fresh account has:
the built-in defaults, a prompt, or a schema; never an agent nobody created.

Also: every cassette is either composed (and says so in its header, and is what
``make cassettes`` writes today) or recorded live.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import cassette_kit
from tests.cassette_config import CASSETTES, COMPOSED_MARKER, is_composed

ROOT = Path(__file__).resolve().parents[2]
#: ``name:vN``, how VLM Run names a version of an agent.
AGENT_NAME = re.compile(r"\b[a-z][a-z0-9_-]*:v\d+\b")
#: Names that are obviously not agents a fresh account has, and the agents the toolkit
#: example creates itself (``POST /agent/create``) before using them.
PLACEHOLDERS = ("test-fixture-", "my-", "langchain-example-")
COMPOSE_MODULES = sorted(p.stem for p in (ROOT / "tests").glob("compose_*_cassettes.py"))


def copied_from() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("**/*.md")),
        *sorted((ROOT / "examples").glob("*.py")),
        *sorted(CASSETTES.glob("*.yaml")),
        CASSETTES / "README.md",
    ]


@pytest.mark.parametrize("path", copied_from(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_agent_name_a_fresh_account_does_not_have(path: Path) -> None:
    text = path.read_text(errors="replace")  # cassettes may hold binary artifact bodies
    names = {n for n in AGENT_NAME.findall(text) if not n.startswith(PLACEHOLDERS)}
    assert not names, f"{path.name} names agents a fresh account does not have: {names}"


def composed_executions(path: Path) -> list[dict[str, Any]]:
    """The executions a cassette answers with, except those of agents it creates first."""
    interactions = yaml.safe_load(path.read_text(errors="replace"))["interactions"]
    bodies = []
    for interaction in interactions:
        text = interaction["response"]["body"]["string"]
        try:
            bodies.append(json.loads(text or "null"))
        except (ValueError, TypeError):
            continue  # a binary artifact
    created = {
        b.get("name")
        for b, i in zip(bodies, interactions, strict=False)
        if isinstance(b, dict) and i["request"]["uri"].endswith("/agent/create")
    }
    return [
        b
        for b in bodies
        if isinstance(b, dict)
        and "status" in b
        and "usage" in b
        and not str(b.get("name")).startswith(PLACEHOLDERS)
        and b.get("name") not in created
    ]


@pytest.mark.parametrize("name", [p.stem for p in sorted(CASSETTES.glob("*.yaml"))])
def test_composed_executions_ran_without_an_agent(name: str) -> None:
    if not is_composed(name):
        pytest.skip("recorded live: the names are the service's")
    executions = composed_executions(CASSETTES / f"{name}.yaml")
    assert all(e["name"] is None for e in executions), [e["name"] for e in executions]


def test_composed_cassettes_are_what_make_cassettes_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    written: dict[str, str] = {}
    for module_name in COMPOSE_MODULES:
        module = importlib.import_module(f"tests.{module_name}")

        def capture(name: str, interactions: Any, *, module: str, **options: Any) -> Path:
            monkeypatch.setattr(cassette_kit, "CASSETTES", tmp_path)
            path = cassette_kit.write(name, interactions, module=module, **options)
            written[name] = path.read_text(errors="replace")
            return tmp_path / f"{name}.yaml"

        monkeypatch.setattr(module, "write", capture)
        if hasattr(module, "write_samples"):
            monkeypatch.setattr(module, "write_samples", lambda: None)  # keep examples/data
        module.main()
    on_disk = {p.stem: p for p in CASSETTES.glob("*.yaml")}
    assert set(written) == set(on_disk), "a cassette no compose script writes, or one missing"
    for name, text in written.items():
        assert text.startswith(COMPOSED_MARKER)  # composed cassettes say so
        if is_composed(name):  # a recorded cassette replaces the composed one
            assert on_disk[name].read_text() == text, f"{name}.yaml is stale: run make cassettes"


def test_make_cassettes_keeps_a_cassette_recorded_live(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cassette_kit, "CASSETTES", tmp_path)
    recorded = "interactions: []\nversion: 1\n"  # what vcrpy writes: no header
    (tmp_path / "audio_example.yaml").write_text(recorded)
    cassette_kit.write("audio_example", [], module="tests.compose_media_cassettes")
    cassette_kit.write("new_one", [], module="tests.compose_media_cassettes")
    assert (tmp_path / "audio_example.yaml").read_text() == recorded
    assert (tmp_path / "new_one.yaml").read_text().startswith(COMPOSED_MARKER)
