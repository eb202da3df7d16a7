"""Mutation testing, one module at a time, scoped to the tests that reach it.

``make mutation`` (or ``python tools/mutation.py [module ...]``) runs mutmut once per
module in its own sandbox (``.mutation/<module>/``): mutmut mutates only that module
and runs only the test files listed for it below (and, per mutant, only the tests
among them that reach the mutated function). The shared mutmut settings live in
``[tool.mutmut]`` in pyproject.toml; this script adds ``only_mutate`` and the test
selection per module. It prints a score per module and writes each module's surviving
mutants (with their diffs) to ``.mutation/<module>/survivors.txt``.

Score = killed / (killed + survived), where timeouts and type-check failures count as
killed and mutants no selected test reaches count as survived. Needs Python 3.11+
(tomllib) and the ``mutation`` extra (``pip install -e ".[mutation]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
SANDBOXES = ROOT / ".mutation"

#: Module → the fast test files (and doctest modules) that exercise it.
MODULES: dict[str, list[str]] = {
    "langchain_vlmrun/_retry.py": [
        "tests/test_retries.py",
        "tests/test_errors.py",
        "tests/test_execute_wait.py",
        "tests/test_upload.py",
        "tests/test_bad_inputs.py::test_unreadable_answer_to_an_execute_is_not_paid_twice",
        "langchain_vlmrun/_retry.py",
    ],
    "langchain_vlmrun/_paths.py": [
        "tests/test_agent_tool_safety.py",
        "tests/test_agent_tool.py",
        "tests/test_agent_tool_loop.py",
        "tests/test_security.py",
    ],
    "langchain_vlmrun/_polling.py": [
        "tests/test_execute_wait.py",
        "tests/test_extraction.py",
        "tests/test_loader.py",
        "langchain_vlmrun/_polling.py",
    ],
    "langchain_vlmrun/webhooks.py": [
        "tests/test_budget.py",
        "tests/test_security.py",
        "langchain_vlmrun/webhooks.py",
    ],
    "langchain_vlmrun/cache.py": [
        "tests/test_cache.py",
        "tests/test_bad_inputs.py",
        "tests/test_security.py",
        "langchain_vlmrun/cache.py",
    ],
    "langchain_vlmrun/_operations.py": [
        "tests/test_execute_wait.py",
        "tests/test_retries.py",
        "tests/test_upload.py",
        "tests/test_errors.py",
        "tests/test_cache.py",
        "tests/test_documents.py",
        "tests/test_client_cassettes.py",
        "tests/test_completion_hub.py",
        "tests/test_leases.py",
        "langchain_vlmrun/_operations.py",
    ],
}

#: What a sandbox needs besides the package and the tests (copied by mutmut itself).
SANDBOX_COPIES = ("langchain_vlmrun", "tests", "cassettes", "examples/data")

KILLED = {"killed", "timeout", "caught by type check"}
SURVIVED = {"survived", "no tests"}


def toml_value(value: object) -> str:
    """A TOML literal for a str, bool, number or list of them (JSON is valid TOML here)."""
    return json.dumps(value)


def sandbox_pyproject(module: str, tests: list[str]) -> str:
    """pyproject.toml for the sandbox: the project's, with [tool.mutmut] scoped to one
    module and its tests."""
    text = (ROOT / "pyproject.toml").read_text()
    settings = dict(tomllib.loads(text).get("tool", {}).get("mutmut", {}))
    settings["only_mutate"] = [module]
    settings["pytest_add_cli_args_test_selection"] = tests
    body = "\n".join(f"{key} = {toml_value(value)}" for key, value in settings.items())
    without = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
    return f"{without.rstrip()}\n\n[tool.mutmut]\n{body}\n"


def make_sandbox(module: str, tests: list[str]) -> Path:
    sandbox = SANDBOXES / Path(module).stem.lstrip("_")
    shutil.rmtree(sandbox, ignore_errors=True)
    sandbox.mkdir(parents=True)
    for name in SANDBOX_COPIES:
        shutil.copytree(ROOT / name, sandbox / name, ignore=shutil.ignore_patterns("__pycache__"))
    (sandbox / "pyproject.toml").write_text(sandbox_pyproject(module, tests))
    return sandbox


def mutmut(sandbox: Path, *args: str, log: Path | None = None) -> str:
    """Run the mutmut CLI of this interpreter's environment inside ``sandbox``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VLMRUN_API_KEY", None)  # never talk to the live service
    command = [sys.executable, "-m", "mutmut", *args]
    done = subprocess.run(command, cwd=sandbox, env=env, capture_output=True, text=True)
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        lines = [  # without mutmut's spinner frames (braille characters)
            line
            for line in (done.stdout + done.stderr).splitlines()
            if not line.strip().startswith(tuple(map(chr, range(0x2800, 0x2900))))
        ]
        tail = "\n".join(lines[-40:])
        raise RuntimeError(f"{' '.join(command)} failed in {sandbox}:\n{tail}")
    return done.stdout


def statuses(sandbox: Path) -> dict[str, str]:
    """Mutant name → status, from ``mutmut results --all true``."""
    out = mutmut(sandbox, "results", "--all", "true")
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            found[name] = status
    return found


def score(counts: Counter[str]) -> float:
    killed = sum(counts[s] for s in KILLED)
    survived = sum(counts[s] for s in SURVIVED)
    return 100.0 * killed / (killed + survived) if killed + survived else 100.0


def run_module(module: str, max_children: int | None) -> tuple[Counter[str], list[str], float]:
    started = time.monotonic()
    sandbox = make_sandbox(module, MODULES[module])
    args = ["run"] + ([f"--max-children={max_children}"] if max_children else [])
    mutmut(sandbox, *args, log=sandbox / "run.log")
    found = statuses(sandbox)
    survivors = sorted(name for name, status in found.items() if status in SURVIVED)
    with (sandbox / "survivors.txt").open("w") as out:
        for name in survivors:
            out.write(f"## {name} ({found[name]})\n{mutmut(sandbox, 'show', name)}\n")
    return Counter(found.values()), survivors, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="e.g. langchain_vlmrun/_paths.py (default: all)")
    parser.add_argument("--max-children", type=int, default=None, help="parallel mutant runs")
    options = parser.parse_args()
    modules = options.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"no test selection for {unknown}; known: {list(MODULES)}")

    rows = []
    for module in modules:
        print(f"mutating {module} ...", flush=True)
        counts, survivors, seconds = run_module(module, options.max_children)
        rows.append((module, counts, survivors, seconds))
        print(f"  {score(counts):5.1f} %  {dict(counts)}  ({seconds:.0f} s)", flush=True)

    print(f"\n{'module':<34} {'mutants':>7} {'killed':>6} {'survived':>8} {'score':>7}")
    for module, counts, survivors, _ in rows:
        killed = sum(counts[s] for s in KILLED)
        total = sum(counts.values())
        print(f"{module:<34} {total:>7} {killed:>6} {len(survivors):>8} {score(counts):>6.1f}%")
    print(f"\nsurviving mutants and their diffs: {SANDBOXES.relative_to(ROOT)}/*/survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
