"""Run every benchmark and write benchmarks/RESULTS.md (``make bench``)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from _harness import RESULTS_DIR, machine

HERE = Path(__file__).resolve().parent
ORDER = [
    "ingestion",
    "polling",
    "upload_memory",
    "cpu",
    "budget",
    "faults",
    "sequential",
    "policy",
    "economy",
    "scaleout",
]
NOTES = HERE / "NOTES.md"


def main() -> int:
    """``run_all.py [name ...]``: run those benchmarks (all without names), then rewrite
    RESULTS.md from every results/<name>.md; ``--report`` only rewrites RESULTS.md."""
    only = [arg for arg in sys.argv[1:] if arg != "--report"]
    report_only = "--report" in sys.argv[1:]
    unknown = [name for name in only if name not in ORDER]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {ORDER}", file=sys.stderr)
        return 2
    failed = []
    for name in [] if report_only else ORDER:
        script = HERE / f"bench_{name}.py"
        if (only and name not in only) or not script.exists():
            continue
        print(f"==> {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False).returncode:
            failed.append(name)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        (RESULTS_DIR / f"{name}.md").read_text()
        for name in ORDER
        if (RESULTS_DIR / f"{name}.md").exists()
    ]
    notes = NOTES.read_text() if NOTES.exists() else ""
    (HERE / "RESULTS.md").write_text(
        f"# Benchmark results\n\nWritten {stamp} by `make bench` on {machine()}.\n"
        "Figures are measured against the loopback emulator (tests/emulator), not the live "
        "service; machines here are shared and noisy, so treat small differences as noise.\n\n"
        + notes
        + "\n".join(sections)
    )
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
