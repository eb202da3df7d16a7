"""The package keeps its shape: the layers of ARCHITECTURE.md, declared as import-linter
contracts in pyproject.toml, hold (no upward import, no cycle inside a layer)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "langchain_vlmrun"
LAYERS = [
    "core",
    "files",
    "client",
    "webhooks",
    "scaleout",
    "documents",
    "tools",
    "loaders",
    "chat",
]


def test_the_import_contracts_hold() -> None:
    pytest.importorskip("importlinter")
    # in its own process: import-linter configures logging for its command line
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_module_lives_in_a_layer_folder() -> None:
    loose = sorted(
        p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "_version.py")
    )
    assert loose == []
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == (
        sorted(LAYERS)
    )


def test_no_module_imports_the_package_root() -> None:
    """Inside the layers, imports name their module: the root re-exports for users, and
    a module importing it would depend on every layer at once."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "langchain_vlmrun":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
