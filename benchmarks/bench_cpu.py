"""Client CPU per document: user+sys seconds of the client process / documents.

The emulator runs in a separate process with zero processing time, so the client's
CPU (request building, JSON, pydantic, httpx, polling) is all that is measured.

    python benchmarks/bench_cpu.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _harness import ROOT, report, table, verdict

from langchain_vlmrun import PollSchedule, VLMRunClient


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.emulator",
            "--port",
            "0",
            "--queue-time",
            "0",
            "--processing-time",
            "0",
            "--max-lifetime",
            "600",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split(" at ")[1].split()[0]


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def ours(base_url: str, n: int) -> tuple[float, float]:
    with VLMRunClient("bench", base_url=base_url, poll=PollSchedule.immediate()) as client:
        client.run(b"warm-up document", prompt="bench", filename="warm.pdf")
        c0, w0 = cpu(), time.perf_counter()
        for i in range(n):
            client.run(f"document {i}".encode(), prompt="bench", filename=f"d{i}.pdf")
        return cpu() - c0, time.perf_counter() - w0


def sdk(base_url: str, n: int, tmp: str) -> tuple[float, float]:
    from vlmrun.client import VLMRun
    from vlmrun.client.types import AgentExecutionConfig

    client = VLMRun(api_key="bench", base_url=base_url)
    paths = []
    for i in range(n):
        path = os.path.join(tmp, f"s{i}.pdf")
        with open(path, "wb") as f:
            f.write(f"sdk document {i}".encode())
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
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rows = []
    for label in ("langchain-vlmrun", "vlmrun SDK 0.9.2"):
        proc, base_url = start_emulator()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                used, wall = (
                    ours(base_url, n) if label.startswith("lang") else sdk(base_url, n, tmp)
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        per_doc_ms = 1000 * used / n
        rows.append(
            (
                label,
                n,
                f"{per_doc_ms:.2f} ms",
                f"{1000 * wall / n:.2f} ms",
                verdict(per_doc_ms <= 2.0) if label.startswith("lang") else "-",
            )
        )
    text = table(("client", "documents", "CPU/doc (user+sys)", "wall/doc", "target (<=2 ms)"), rows)
    text += (
        "\n\nEach document: md5 lookup, multipart upload, execute, one poll (4 requests). "
        "Includes httpx/h11 request handling, which dominates."
    )
    report("cpu", "Client CPU per document (zero-latency emulator)", text)


if __name__ == "__main__":
    main()
