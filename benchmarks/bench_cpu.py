"""Client CPU per document: user+sys seconds of the client process / documents.

The emulator runs in a separate process with zero processing time, so the client's
CPU (request building, JSON, pydantic, httpx, polling) is all that is measured.

Two more rows compare what a load costs with a prompt and with the built-in defaults
(no prompt: each file gets its medium's prompt and JSON schema, see
``langchain_vlmrun.documents.builtin``, so responses are schema-shaped JSON turned into page
Documents). ``client.run`` needs a prompt or an agent, so both rows go through
``VLMRunLoader(paths, client=client, max_concurrency=1)``, with and without a prompt.

    python benchmarks/bench_cpu.py [N] [--only {all,defaults}]

``--only defaults`` runs the two loader rows alone (kept as ``results/cpu-defaults.md``).
"""

from __future__ import annotations

import os
import statistics
import time

from _harness import report, start_emulator, stop_emulator, table, verdict

from langchain_vlmrun import PollSchedule, VLMRunClient, VLMRunLoader

#: CPU per document of a load with the built-in defaults, relative to one with a prompt.
DEFAULTS_RATIO = 1.2


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def ours(base_url: str, n: int) -> tuple[float, float]:
    with VLMRunClient("bench", base_url=base_url, poll=PollSchedule.immediate()) as client:
        client.run(b"%PDF-1.4 warm-up document", prompt="bench", filename="warm.pdf")
        c0, w0 = cpu(), time.perf_counter()
        for i in range(n):
            client.run(f"%PDF-1.4 document {i}".encode(), prompt="bench", filename=f"d{i}.pdf")
        return cpu() - c0, time.perf_counter() - w0


def loader(
    base_url: str, n: int, tmp: str, prompt: str | None, run: int = 0
) -> tuple[float, float, int]:
    """``VLMRunLoader`` over ``n`` files, one at a time: CPU, wall, Documents made
    (``run`` makes the files' bytes new: nothing is served from an earlier run)."""
    paths = []
    for i in range(n + 1):
        path = os.path.join(tmp, f"l{i}.pdf")
        with open(path, "wb") as f:
            f.write(f"%PDF-1.4 loader document {i} of run {run}".encode())
        paths.append(path)
    with VLMRunClient("bench", base_url=base_url, poll=PollSchedule.immediate()) as client:
        VLMRunLoader(paths[:1], prompt=prompt, client=client, max_concurrency=1).load()
        run = VLMRunLoader(paths[1:], prompt=prompt, client=client, max_concurrency=1)
        c0, w0 = cpu(), time.perf_counter()
        docs = run.load()
        return cpu() - c0, time.perf_counter() - w0, len(docs)


def ours_without_network(n: int) -> tuple[float, float]:
    """The same loop over httpx.MockTransport: our logic + httpx models, no HTTP/1.1 I/O."""
    import hashlib
    import json

    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if "/files/hash/" in path:
            return httpx.Response(200, json={"id": None})
        if path.endswith("/files"):
            request.read()
            return httpx.Response(201, json={"id": hashlib.md5(request.content).hexdigest()})
        if path.endswith("/agent/execute"):
            body = json.loads(request.read())
            return httpx.Response(201, json={"id": body["id"], "status": "enqueued", "usage": {}})
        execution_id = path.rsplit("/", 1)[-1]
        return httpx.Response(
            200,
            json={
                "id": execution_id,
                "status": "completed",
                "usage": {"credits_used": 1},
                "response": {"pages": [{"content": "page"}]},
            },
        )

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with VLMRunClient(
        "bench", base_url="https://mock/v1", http_client=http, poll=PollSchedule.immediate()
    ) as client:
        client.run(b"%PDF-1.4 warm-up document", prompt="bench", filename="warm.pdf")
        c0, w0 = cpu(), time.perf_counter()
        for i in range(n):
            client.run(f"%PDF-1.4 document {i}".encode(), prompt="bench", filename=f"d{i}.pdf")
        return cpu() - c0, time.perf_counter() - w0


def sdk(base_url: str, n: int, tmp: str) -> tuple[float, float]:
    from vlmrun.client import VLMRun
    from vlmrun.client.types import AgentExecutionConfig

    client = VLMRun(api_key="bench", base_url=base_url)
    paths = []
    for i in range(n):
        path = os.path.join(tmp, f"s{i}.pdf")
        with open(path, "wb") as f:
            f.write(f"%PDF-1.4 sdk document {i}".encode())
        paths.append(path)
    c0, w0 = cpu(), time.perf_counter()
    for path in paths:
        uploaded = client.files.upload(path, method="direct")
        started = client.agent.execute(
            inputs={"file": {"type": "input_file", "file_id": uploaded.id}},
            config=AgentExecutionConfig(prompt="bench"),
        )
        client.executions.wait(started.id, sleep=0)
    return cpu() - c0, time.perf_counter() - w0


def main() -> None:
    import argparse
    import importlib.util
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=300, help="documents per row")
    parser.add_argument("--only", choices=("all", "defaults"), default="all")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each loader row")
    args = parser.parse_args()
    n = args.n
    rows: list[tuple[object, ...]] = []
    clients = ("langchain-vlmrun", "vlmrun SDK 0.9.2") if args.only == "all" else ()
    for label in clients:
        if not label.startswith("lang") and importlib.util.find_spec("vlmrun") is None:
            rows.append((label, "not installed (pip install vlmrun)", "-", "-", "-", "-"))
            continue
        proc, base_url = start_emulator("--queue-time", "0", "--processing-time", "0")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                used, wall = (
                    ours(base_url, n) if label.startswith("lang") else sdk(base_url, n, tmp)
                )
        finally:
            stop_emulator(proc)
        per_doc_ms = 1000 * used / n
        rows.append(
            (
                label,
                n,
                f"{per_doc_ms:.2f} ms",
                f"{1000 * wall / n:.2f} ms",
                "-",
                verdict(per_doc_ms <= 2.0) + " (<=2 ms)" if label.startswith("lang") else "-",
            )
        )
    if args.only == "all":
        used, wall = ours_without_network(n)
        rows.append(
            (
                "langchain-vlmrun, MockTransport (no socket I/O)",
                n,
                f"{1000 * used / n:.2f} ms",
                f"{1000 * wall / n:.2f} ms",
                "-",
                "-",
            )
        )
    # the two loader rows alternate, ``repeats`` runs each on one emulator, and compare
    # their medians: single runs differ by up to 15 % on this machine, enough to put
    # the ratio on either side of its target
    kinds = (("prompt", "bench"), ("defaults (no prompt)", None))
    runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in kinds}
    proc, base_url = start_emulator("--queue-time", "0", "--processing-time", "0")
    try:
        for repeat in range(args.repeats):
            for label, prompt in kinds:
                with tempfile.TemporaryDirectory() as tmp:
                    runs[label].append(loader(base_url, n, tmp, prompt, repeat))
    finally:
        stop_emulator(proc)
    per_doc: dict[str, float] = {}
    for label, prompt in kinds:
        costs = sorted(1000 * used / n for used, _, _ in runs[label])
        per_doc[label] = statistics.median(costs)
        wall = statistics.median(wall for _, wall, _ in runs[label])
        documents = runs[label][0][2]
        ratio = per_doc[label] / per_doc["prompt"]
        rows.append(
            (
                f"langchain-vlmrun, VLMRunLoader, {label}",
                f"{n} ({documents} Documents) x {args.repeats}",
                f"{per_doc[label]:.2f} ms ({costs[0]:.2f}-{costs[-1]:.2f})",
                f"{1000 * wall / n:.2f} ms",
                f"{ratio:.2f}x" if prompt is None else "1x",
                verdict(ratio <= DEFAULTS_RATIO) + f" (<={DEFAULTS_RATIO}x)"
                if prompt is None
                else "-",
            )
        )
    text = table(
        (
            "client",
            "documents",
            "CPU/doc (user+sys)",
            "wall/doc",
            "defaults/prompt",
            "target",
        ),
        rows,
    )
    if args.only == "all":
        text += (
            "\n\nEach document: multipart upload, execute, one poll (3 requests: files under 8 MiB "
            "are not looked up by md5). "
            "The MockTransport row runs the same loop without sockets: the difference to the "
            "first row is httpx's HTTP/1.1 stack (httpcore + h11 + socket syscalls), which "
            "dominates; our own logic (request building, retries, pydantic parsing, polling "
            "decisions) is a small part of the MockTransport row."
        )
    text += (
        "\n\nLoader rows: the same emulator (2 pages per file), a `VLMRunLoader` over the files "
        "one execution at a time (`max_concurrency=1`, in-memory cache, immediate polling), with "
        "`prompt=` (markdown pages) and without (the document default: a JSON schema of "
        "pages, validated and turned into page Documents). Target: the defaults cost at most "
        f"{DEFAULTS_RATIO}x the prompt's CPU per document. Each row is the median of "
        f"{args.repeats} runs, the two rows alternating (the range in brackets: single "
        "runs differ by up to 15 % here, which put the ratio on either side of 1.2x)."
    )
    name = "cpu" if args.only == "all" else f"cpu-{args.only}"
    report(name, "Client CPU per document (zero-latency emulator)", text)


if __name__ == "__main__":
    main()
