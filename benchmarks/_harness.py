"""Shared bits of the benchmarks: imports from the repo, tables, RESULTS.md sections."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Where report() keeps each benchmark's section; VLMRUN_BENCH_RESULTS redirects it (smoke
#: runs with small sizes, so the tracked results/*.md stay as the last full run left them).
RESULTS_DIR = Path(
    os.environ.get("VLMRUN_BENCH_RESULTS") or Path(__file__).resolve().parent / "results"
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.node() or 'host'}: {platform.system()} {platform.machine()} ({cpu}), "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join([line, rule, *body])


def report(name: str, title: str, text: str) -> None:
    """Print a benchmark's result and keep it for RESULTS.md (benchmarks/run_all.py)."""
    print(f"\n## {title}\n\n{text}\n")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (RESULTS_DIR / f"{name}.md").write_text(
        f"## {title}\n\n_Measured {stamp} on {machine()}._\n\n{text}\n"
    )


#: Each running emulator's result-cache folder (removed when it stops).
_CACHE_DIRS: dict[int, str] = {}


def start_emulator(*args: str) -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process (so it does not share our GIL); its base URL.

    A new emulator is a new service, and the loaders' default result cache starts empty
    with it, in a folder of its own (``VLMRUN_CACHE_DIR``, inherited by the processes
    started after it): no run finds another's records (a port used again would), and
    nothing is left in the user's cache folder."""
    folder = tempfile.mkdtemp(prefix="vlmrun-bench-cache-")
    os.environ["VLMRUN_CACHE_DIR"] = folder
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "--port", "0", "--max-lifetime", "900", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    _CACHE_DIRS[proc.pid] = folder
    return proc, proc.stdout.readline().split(" at ")[1].split()[0]


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def stop_emulator(proc: subprocess.Popen[str]) -> None:
    """Stop it and drain its stdout: it prints its counters on exit, and a pipe nobody
    reads would block a large snapshot (and so the exit)."""
    proc.terminate()
    proc.communicate(timeout=30)
    folder = _CACHE_DIRS.pop(proc.pid, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def counters(base_url: str) -> dict[str, Any]:
    """The emulator's counters (its /_admin routes are not counted themselves)."""
    root = base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(f"{root}/_admin/counters") as answer:
        return json.load(answer)  # type: ignore[no-any-return]


def make_files(folder: Path, n: int, prefix: str) -> list[str]:
    """``n`` small distinct PDF files named ``<prefix>-NNNN.pdf``."""
    paths = []
    for i in range(n):
        path = folder / f"{prefix}-{i:04d}.pdf"
        path.write_bytes(f"%PDF-1.4 {prefix} benchmark document {i}".encode())
        paths.append(str(path))
    return paths


def polls(seen: dict[str, Any]) -> int:
    """``GET /agent/executions/{id}`` requests the emulator received."""
    return int(seen["requests_by_route"].get("GET /agent/executions/{id}", 0))
