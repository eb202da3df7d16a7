"""Upload memory: peak RSS growth while uploading a 200 MiB file, ours vs the SDK.

Each upload runs in a fresh subprocess against the loopback emulator (in another
process), so the figure is the uploader's own peak resident memory minus its
resident memory just before the upload.

    python benchmarks/bench_upload_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import ROOT, report, start_emulator, table, verdict

SIZE_MIB = 200
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"

CHILD = r"""
import json, resource, sys
sys.path.insert(0, {root!r})
mode, path, base_url = sys.argv[1:4]

def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def peak_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

if mode.startswith("ours"):
    from langchain_vlmrun import VLMRunClient
    threshold = 32 * 2**20 if mode == "ours-presigned" else 2**40
    client = VLMRunClient("bench", base_url=base_url, presigned_threshold=threshold)
    client.health()
    upload = lambda: client.upload_file(path)
else:
    from vlmrun.client import VLMRun
    client = VLMRun(api_key="bench", base_url=base_url)
    method = "presigned-url" if mode == "sdk-presigned" else "direct"
    upload = lambda: client.files.upload(path, method=method)
with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark
    f.write("5")
before = rss_mib()
result = upload()
print(json.dumps({{"before": before, "peak": peak_mib(), "id": result.id}}))
"""


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.mp4"
        with path.open("wb") as f:
            block = os.urandom(2**20)
            f.write(MP4_HEADER)  # an ISO media header: the type gate reads the first bytes
            for i in range(SIZE_MIB):
                f.write(block[: -4 - (len(MP4_HEADER) if i == 0 else 0)] + i.to_bytes(4, "big"))
        for mode in ("ours-multipart", "ours-presigned", "sdk-direct", "sdk-presigned"):
            proc, base_url = start_emulator(
                "--processing-time", "0.1"
            )  # fresh emulator: no hash hit between runs
            try:
                done = subprocess.run(
                    [sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(path), base_url],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            if done.returncode != 0:
                rows.append(
                    (mode, "-", "-", f"failed: {done.stderr.strip().splitlines()[-1][:80]}")
                )
                continue
            out = json.loads(done.stdout.strip().splitlines()[-1])
            growth = out["peak"] - out["before"]
            target = verdict(growth <= 32) if mode.startswith("ours") else "-"
            rows.append((mode, f"{out['before']:.0f} MiB", f"{growth:.1f} MiB", target))
    text = table(("uploader", "RSS before", "peak RSS growth", "target (<=32 MiB, ours)"), rows)
    text += (
        f"\n\nFile: {SIZE_MIB} MiB. `ours-multipart` forces the direct multipart upload "
        "(httpx streams the file part from disk); `ours-presigned` is the default above "
        "32 MiB (PUT streamed in 1 MiB chunks). The SDK's `direct` builds the multipart "
        "body in memory (requests)."
    )
    report("upload_memory", "Upload memory: 200 MiB file, peak RSS growth", text)


if __name__ == "__main__":
    main()
