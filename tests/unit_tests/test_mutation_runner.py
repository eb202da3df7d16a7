"""The mutation runner's bookkeeping (tools/mutation.py): which modules' rows are of
their current source, so a whole run can be done in parts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "tools" / "mutation.py"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    if not RUNNER.is_file():  # a mutation sandbox holds the package and tests, no tools
        pytest.skip("tools/mutation.py is not in this copy of the repository")
    spec = importlib.util.spec_from_file_location("mutation_runner", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutation_runner", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path / "repo")
    monkeypatch.setattr(module, "SANDBOXES", tmp_path / "repo" / ".mutation")
    return module


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_row_is_current_only_while_the_module_is_what_was_mutated(runner: ModuleType) -> None:
    module = "langchain_vlmrun/files/_types.py"
    source = runner.ROOT / module
    write(source, "A = 1\n")
    assert runner.sandbox_of(module) == runner.SANDBOXES / "files._types"
    assert not runner.scored_current(module)  # never scored
    write(runner.sandbox_of(module) / module, "A = 1\n")  # the copy a run mutates
    assert not runner.scored_current(module)  # the run has not finished (or failed)
    write(runner.sandbox_of(module) / "seconds.txt", "12\n")  # written when it ends
    assert runner.scored_current(module)
    write(source, "A = 2\n")  # changed since its run
    assert not runner.scored_current(module)


def test_outdated_runs_only_the_modules_not_current(
    runner: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh, changed = "langchain_vlmrun/core/_text.py", "langchain_vlmrun/core/models.py"
    for module in (fresh, changed):
        write(runner.ROOT / module, "X = 1\n")
        write(runner.sandbox_of(module) / module, "X = 1\n")
        write(runner.sandbox_of(module) / "seconds.txt", "3\n")
    write(runner.ROOT / changed, "X = 2\n")
    monkeypatch.setattr(runner, "package_modules", lambda: [fresh, changed])
    monkeypatch.setattr(runner, "load_equivalents", dict)
    ran: list[str] = []

    def run_module(module: str, *_: object) -> object:
        ran.append(module)
        raise RuntimeError("not here")  # reported as unscored; enough to see what ran

    monkeypatch.setattr(runner, "run_module", run_module)
    monkeypatch.setattr(sys, "argv", ["mutation.py", "--outdated"])
    assert runner.main() == 1  # the module that could not be scored fails the run
    assert ran == [changed]
    write(runner.ROOT / changed, "X = 1\n")
    ran.clear()
    assert runner.main() == 0
    assert ran == [] and "every module's last run scored its current source" in (
        capsys.readouterr().out
    )
