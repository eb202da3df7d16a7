"""Poll timing on a virtual clock: learned vs not learning, over many workload shapes.

Runs the package's real ``process`` operation (upload, execute, wait with
``DurationMemory``) for every job of a workload in a discrete-event simulation
(``tests.support.Workload``): round trips take no time, so every figure is the
polling policy's own, and a run of hundreds of jobs takes milliseconds. Each workload
runs twice, with ``PollSchedule()`` and ``PollSchedule(learn_durations=False)`` (the
grid 0.5 s, x1.5, capped at 5 s), under three kinds of server timestamps: exact,
lazy (``completed_at`` stamped when a poll first sees the job done) and missing.

Then a fuzz: 300 random two-duration mixes (fast 0.3-5 s, slow 1.5-30x that, a slow
share up to 50 %, jitter up to 10 %, 60 jobs, 1 or 4 or 8 at once, random
timestamps); the worst ratios are printed.

    python benchmarks/bench_policy.py [--fuzz 300]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics

from _harness import report, table, verdict

from tests.support import Workload

STAMPS = ("exact", "lazy", "missing")


def workloads() -> list[tuple[str, list[float], int]]:
    draw = random.Random(7)
    return [
        ("uniform 1 s, 60 one after another", [1.0] * 60, 1),
        ("uniform 1 s, 200 at c=8", [1.0] * 200, 8),
        ("uniform 1 s, 200 at c=32", [1.0] * 200, 32),
        ("uniform 20 s, 50 at c=8", [20.0] * 50, 8),
        (
            "issue: 18 x 0.55 s + 2 x 8 s, one after another",
            [8.0 if i in (3, 11) else 0.55 for i in range(20)],
            1,
        ),
        ("the 2 slow jobs first", [8.0, 8.0] + [0.55] * 18, 1),
        ("1 in 20 at 8 s, 120 at c=8", [8.0 if i % 20 == 7 else 0.55 for i in range(120)], 8),
        (
            "lognormal median 2 s sigma 0.5, 100 one after another",
            [draw.lognormvariate(0.7, 0.5) for _ in range(100)],
            1,
        ),
        (
            "lognormal median 2 s sigma 0.5, 200 at c=8",
            [draw.lognormvariate(0.7, 0.5) for _ in range(200)],
            8,
        ),
        (
            "1 s +-10 % jitter, 100 one after another",
            [draw.uniform(0.9, 1.1) for _ in range(100)],
            1,
        ),
        ("50/50 of 1 s and 20 s, 200 at c=8", [draw.choice([1.0, 20.0]) for _ in range(200)], 8),
        ("drift down: 30 x 2 s then 60 x 0.5 s", [2.0] * 30 + [0.5] * 60, 1),
        ("drift up: 30 x 0.5 s then 60 x 2 s", [0.5] * 30 + [2.0] * 60, 1),
    ]


def compare(durations: list[float], concurrency: int, stamps: str) -> tuple[Workload, Workload]:
    learned = Workload(durations, concurrency=concurrency, stamps=stamps, learn=True).run()
    unlearned = Workload(durations, concurrency=concurrency, stamps=stamps, learn=False).run()
    return learned, unlearned


def workload_section() -> str:
    rows = []
    for name, durations, concurrency in workloads():
        for stamps in STAMPS:
            learned, unlearned = compare(durations, concurrency, stamps)
            wall = learned.makespan / unlearned.makespan
            limit = ""
            if len(set(durations)) == 1:
                floor = math.ceil(len(durations) / concurrency) * durations[0]
                limit = f"{learned.makespan / floor:.3f}x"
            ok = wall <= 1.1 and learned.mean_polls() <= unlearned.mean_polls()
            rows.append(
                (
                    name,
                    stamps,
                    f"{learned.makespan:.1f} / {unlearned.makespan:.1f} s",
                    f"{wall:.2f}x",
                    limit or "-",
                    f"{learned.mean_polls():.2f} / {unlearned.mean_polls():.2f}",
                    verdict(ok),
                )
            )
    return table(
        (
            "workload",
            "timestamps",
            "wall learned / unlearned",
            "ratio",
            "learned / physical limit",
            "polls/job learned / unlearned",
            "target (<=1.1x wall, polls <= unlearned)",
        ),
        rows,
    )


def fuzz_section(runs: int) -> str:
    outcomes = []
    for seed in range(runs):
        draw = random.Random(seed)
        fast = draw.uniform(0.3, 5.0)
        slow = fast * draw.uniform(1.5, 30.0)
        share, jitter = draw.uniform(0.0, 0.5), draw.uniform(0.0, 0.1)
        concurrency, stamps = draw.choice([1, 4, 8]), draw.choice(STAMPS)
        durations = [
            (slow if draw.random() < share else fast) * (1 + draw.uniform(-jitter, jitter))
            for _ in range(60)
        ]
        learned, unlearned = compare(durations, concurrency, stamps)
        outcomes.append(
            (
                learned.mean_latency() / unlearned.mean_latency(),
                learned.mean_polls() - unlearned.mean_polls(),
                f"fast {fast:.2f} s, slow {slow:.1f} s ({share:.0%}), jitter {jitter:.0%}, "
                f"c={concurrency}, {stamps}",
            )
        )
    ratios = [o[0] for o in outcomes]
    extra = [o[1] for o in outcomes]
    rows = [(f"{r:.3f}x", f"{e:+.2f}", what) for r, e, what in sorted(outcomes, reverse=True)[:5]]
    text = table(("latency learned/unlearned", "polls/job learned - unlearned", "mix"), rows)
    return text + (
        f"\n\n{runs} random mixes: latency ratio median {statistics.median(ratios):.3f}x, "
        f"worst {max(ratios):.3f}x; {sum(r > 1.1 for r in ratios)} of {runs} above 1.1x. "
        f"Polls per job: median {statistics.median(extra):+.2f} against not learning, "
        f"worst {max(extra):+.2f}."
    )


def slow_answers_section() -> str:
    """Uniform batches whose execute answers reach the client 0-100 ms after the job
    started (a busy client, a slow network), beside instant answers."""
    rows = []
    for concurrency in (8, 32):
        for stamps in ("lazy", "exact"):
            draw = random.Random(11)
            delays = [draw.uniform(0.0, 0.1) for _ in range(200)]
            runs = {
                "instant": Workload([1.0] * 200, concurrency=concurrency, stamps=stamps),
                "0-100 ms": Workload(
                    [1.0] * 200,
                    concurrency=concurrency,
                    stamps=stamps,
                    answer_delay=delays.__getitem__,
                ),
            }
            floor = math.ceil(200 / concurrency) * 1.0
            for answers, workload in runs.items():
                workload.run()
                rows.append(
                    (
                        f"200 x 1 s at c={concurrency}",
                        stamps,
                        answers,
                        f"{workload.makespan / floor:.3f}x",
                        f"{workload.mean_polls():.3f}",
                        f"{2 + workload.mean_polls():.2f}",
                    )
                )
    return table(
        (
            "workload",
            "timestamps",
            "execute answers",
            "learned / physical limit",
            "polls/job",
            "requests/doc (upload, execute, polls)",
        ),
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fuzz", type=int, default=300)
    args = parser.parse_args()
    text = workload_section()
    text += (
        "\n\nEvery job runs the package's own `process` operation on a virtual clock "
        "(`tests.support.Workload`), so the figures are the policy's alone: no round "
        "trips, no emulator. The 0.55 s jobs sit just past the grid's first poll (0.5 s), "
        "the hard case for a grid. Drift down (the whole population gets 4x faster at "
        "once) is the slowest to learn with lazy or missing timestamps: the memory tries "
        "probing lower after 16 completions, then 32, then every 64 while the end stays "
        "put (or sooner, when durations vary, through the scouts that look below the "
        "usual end). The first wave of a batch shares its looks between the grid's first "
        "two polls and wakes the others when one is seen done, so uniform batches are "
        "within 2 % of the physical limit at c=8 and c=32, timestamps exact or not.\n\n"
        "### Slow answers: the execute's answer arrives late\n\n"
    )
    text += slow_answers_section()
    text += (
        "\n\nA job's start is placed on the client's clock between its execute request "
        "and the answer, by the server's `created_at` (mapped onto our clock), not at "
        "the answer: a late answer (0-100 ms here, as on a busy 2-core client at c=32) "
        "does not make a job look shorter than it is, so lazily stamped ends stay sharp. "
        "Timed from the answer (as before 2026-12-06), 0-30, 0-60 and 0-100 ms of jitter "
        "cost 1.04-1.11x the limit and 1.10-1.18 polls a job with lazy stamps (mean of 5 "
        "draws each); timed from the request, 0-50 ms of delay on the way out cost 1.17x "
        "and 1.69 polls at c=8 (now 1.05x and 1.07). The server's exact durations are "
        "placed from the answer (never early), which costs the answer's delay in wall "
        "time (the exact, 0-100 ms row at c=8).\n\n"
        "### Fuzz: random mixes of two durations\n\n"
    )
    text += fuzz_section(args.fuzz)
    report("policy", "Poll timing on a virtual clock: learned vs the plain grid", text)


if __name__ == "__main__":
    main()
