"""Run an example live (``VLMRUN_API_KEY`` set) or offline on recorded cassettes.

Offline, every HTTP request is answered from ``cassettes/<name>.yaml`` (vcrpy, replay
only: nothing reaches the network) and polling does not sleep.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_vlmrun import PollSchedule  # noqa: E402

OFFLINE_BASE_URL = "https://api.vlm.run/v1"


@contextmanager
def live_or_cassette(cassette: str) -> Iterator[dict[str, Any]]:
    """Yield client keyword arguments; replay ``cassette`` when no key is set."""
    if os.environ.get("VLMRUN_API_KEY"):
        print("[live] VLMRUN_API_KEY is set: calling the VLM Run service.")
        yield {}
        return
    import vcr

    from tests.cassette_config import vcr_settings

    print(
        f"[offline] VLMRUN_API_KEY is not set: replaying cassettes/{cassette}.yaml "
        "(composed from the API reference). Set the key to run live."
    )
    counter = itertools.count(1)
    with vcr.VCR().use_cassette(cassette, record_mode="none", **vcr_settings()):
        yield {
            "api_key": "offline-demo-key",
            "base_url": OFFLINE_BASE_URL,
            "poll": PollSchedule.immediate(),
            "request_id_factory": lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
        }
