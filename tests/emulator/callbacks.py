"""Webhook deliveries: the finished execution POSTed to its ``callback_url``.

As VLM Run describes it (docs "Webhooks"): the complete execution JSON, signed with
``X-VLMRun-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` when a secret is
set; a delivery answered with anything but a 2xx (or not at all) is retried
``retries`` times after 1, 2, 4... x ``backoff`` seconds.

One dispatcher thread keeps the deliveries due, in emulator-clock time (a
``ManualClock`` works: it is re-read at least every 50 ms); each delivery runs in a
thread of its own so a slow receiver delays nobody else.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE_HEADER = "X-VLMRun-Signature"
#: Longest real-time nap of the dispatcher (so a manual clock is followed).
_NAP = 0.05


def signature(secret: str, body: bytes) -> str:
    """The ``X-VLMRun-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class DeliveryPolicy:
    secret: str | None
    retries: int
    backoff: float
    timeout: float


class CallbackDispatcher:
    """Deliveries due at emulator-clock instants; started lazily, stopped with the emulator.

    Args:
        clock: the emulator clock.
        render: execution id -> the JSON body to deliver (None: forget it).
        policy: read at each delivery (the config may change while running).
        count: ``count(name)`` increments an emulator counter.
        stopping: set when the emulator stops (ends naps and deliveries).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        render: Callable[[str], bytes | None],
        policy: Callable[[], DeliveryPolicy],
        count: Callable[[str], None],
        stopping: threading.Event,
    ) -> None:
        self._clock = clock
        self._render = render
        self._policy = policy
        self._count = count
        self._stopping = stopping
        self._due: list[tuple[float, int, str, str]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        # no proxy from the environment: deliveries go straight to the receiver
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def schedule(self, execution_id: str, url: str, due: float) -> None:
        """Deliver ``execution_id`` to ``url`` once the emulator clock reaches ``due``."""
        with self._changed:
            heapq.heappush(self._due, (due, next(self._order), execution_id, url))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="vlmrun-emulator-callbacks", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def pending(self) -> int:
        with self._changed:
            return len(self._due)

    def clear(self) -> None:
        with self._changed:
            self._due.clear()

    def stop(self) -> None:
        with self._changed:
            self._due.clear()
            self._changed.notify_all()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._changed:
                if not self._due:
                    self._changed.wait(_NAP)
                    continue
                due, _, execution_id, url = self._due[0]
                left = due - self._clock()
                if left > 0:
                    self._changed.wait(min(left, _NAP))
                    continue
                heapq.heappop(self._due)
            threading.Thread(
                target=self._deliver, args=(execution_id, url), name="vlmrun-callback", daemon=True
            ).start()

    def _deliver(self, execution_id: str, url: str) -> None:
        body = self._render(execution_id)
        if body is None:
            return
        policy = self._policy()
        headers = {"Content-Type": "application/json", "User-Agent": "vlmrun-emulator/1.0"}
        if policy.secret:
            headers[SIGNATURE_HEADER] = signature(policy.secret, body)
        for attempt in range(policy.retries + 1):
            if attempt and self._stopping.wait(policy.backoff * 2 ** (attempt - 1)):
                return
            self._count("callbacks_sent")
            if self._post(url, body, headers, policy.timeout):
                self._count("callbacks_delivered")
                return
        self._count("callbacks_failed")

    def _post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> bool:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                answer.read()
                return 200 <= answer.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False  # HTTPError (non-2xx) is a URLError too
