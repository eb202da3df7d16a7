"""Run an example live (``VLMRUN_API_KEY`` set) or offline on its cassette.

- no key: every HTTP request is answered from ``cassettes/<name>.yaml`` (vcrpy, replay
  only: nothing reaches the network) and polling does not sleep;
- a key: the example calls the VLM Run service;
- a key and ``VLMRUN_RECORD=1`` (``make live RECORD=1``): it calls the service and
  records what it sent and got into ``cassettes/<name>.yaml`` (keys, cookies and
  presigned signatures scrubbed), replacing the composed cassette.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_vlmrun import PollSchedule  # noqa: E402
from langchain_vlmrun.client._client import ClientHooks  # noqa: E402

#: The service the cassettes were composed or recorded against (a cassette recorded with
#: VLMRUN_BASE_URL set replays with the same VLMRUN_BASE_URL).
OFFLINE_BASE_URL = "https://api.vlm.run/v1"

Mode = Literal["live", "record", "replay"]


def mode() -> Mode:
    """How examples run now: ``live``, ``record`` (live, into the cassette) or ``replay``."""
    if not os.environ.get("VLMRUN_API_KEY"):
        return "replay"
    return "record" if os.environ.get("VLMRUN_RECORD", "") not in ("", "0") else "live"


def max_concurrency(live: int) -> int:
    """``live`` files at once against the service; one at a time with a cassette, whose
    uploads and executions (one URI each) replay in the order they were recorded."""
    return live if mode() == "live" else 1


@contextmanager
def live_or_cassette(cassette: str) -> Iterator[dict[str, Any]]:
    """Yield client keyword arguments: ``{}`` live, replay settings offline."""
    now = mode()
    if now == "live":
        print("[live] VLMRUN_API_KEY is set: calling the VLM Run service.")
        yield {}
        return
    import vcr

    from tests.cassette_config import CASSETTES, is_composed, vcr_settings

    path = CASSETTES / f"{cassette}.yaml"
    if now == "record":
        print(f"[live, recording] calling the VLM Run service into cassettes/{path.name}.")
        previous = path.read_bytes() if path.exists() else None
        path.unlink(missing_ok=True)  # a recording replaces the cassette, not extends it
        try:
            with vcr.VCR().use_cassette(cassette, record_mode="all", **vcr_settings()):
                yield {}
        except BaseException:
            if previous is not None:  # a failed run keeps the cassette it had
                path.write_bytes(previous)
            raise
        return
    origin = "composed from the API reference" if is_composed(cassette) else "recorded live"
    print(
        f"[offline] VLMRUN_API_KEY is not set: replaying cassettes/{path.name} ({origin}). "
        "Set the key to run live."
    )
    counter = itertools.count(1)
    with vcr.VCR().use_cassette(cassette, record_mode="none", **vcr_settings()):
        yield {
            "api_key": "offline-demo-key",
            "base_url": os.environ.get("VLMRUN_BASE_URL") or OFFLINE_BASE_URL,
            "poll": PollSchedule.immediate(),
            # the cassettes hold these execute ids (a test hook, not a setting)
            "_hooks": ClientHooks(
                request_id_factory=lambda: f"00000000-0000-4000-8000-{next(counter):012d}"
            ),
        }
