"""Quickstart: upload an invoice, run a VLM Run agent on it, wait, print the result.

make demo                          # offline, replays cassettes/quickstart.yaml
VLMRUN_API_KEY=... make demo       # live
"""

from __future__ import annotations

import json
from pathlib import Path

from _offline import live_or_cassette

from langchain_vlmrun import VLMRunClient

INVOICE = Path(__file__).parent / "data" / "invoice.pdf"


def main() -> None:
    with live_or_cassette("quickstart") as settings, VLMRunClient(**settings) as client:
        uploaded = client.upload_file(INVOICE)
        print(f"uploaded {INVOICE.name} as file {uploaded.id} ({uploaded.bytes} bytes)")
        started = client.execute(
            name="invoice-extractor:v2",
            inputs={"file": {"type": "input_file", "file_id": uploaded.id}},
        )
        print(f"execution {started.id} is {started.status}; waiting...")
        done = client.wait(started.id)
    print(f"execution {done.id} {done.status}; credits used: {done.usage.credits_used}")
    print(json.dumps(done.response, indent=2))


if __name__ == "__main__":
    main()
