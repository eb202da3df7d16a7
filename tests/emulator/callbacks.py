"""Webhook deliveries: the finished execution POSTed to its ``callback_url``.

As VLM Run describes it (docs "Webhooks"): the complete execution JSON, signed with
``X-VLMRun-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` when a secret is
set; a delivery answered with anything but a 2xx (or not at all) is retried
``retries`` times after 1, 2, 4... x ``backoff`` seconds.

Lost deliveries (``drop_rate``): an attempt drawn as dropped is silently not sent and
not retried, as if it had vanished on the way (counted as ``callbacks_dropped``). The
draws come from a seeded generator, made in the dispatcher thread in the order
deliveries fall due (one per possible attempt), so a run is reproducible.

One dispatcher thread keeps the deliveries due, in emulator-clock time (a
``ManualClock`` works: it is re-read at least every 50 ms); each delivery runs in a
thread of its own so a slow receiver delays nobody else.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import random
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
    drop_rate: float = 0.0


class CallbackDispatcher:
    """Deliveries due at emulator-clock instants; started lazily, stopped with the emulator.

    Args:
        clock: the emulator clock.
        render: execution id -> the JSON body to deliver (None: forget it).
        policy: read when each delivery falls due (the config may change while running).
        count: ``count(name)`` increments an emulator counter.
        stopping: set when the emulator stops (ends naps and deliveries).
        seed: of the generator deciding which attempts are dropped (``drop_rate``).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        render: Callable[[str], bytes | None],
        policy: Callable[[], DeliveryPolicy],
        count: Callable[[str], None],
        stopping: threading.Event,
        seed: int = 0,
    ) -> None:
        self._clock = clock
        self._render = render
        self._policy = policy
        self._count = count
        self._stopping = stopping
        self._rng = random.Random(seed)
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

    def reseed(self, seed: int) -> None:
        with self._changed:
            self._rng = random.Random(seed)

    def stop(self) -> None:
        with self._changed:
            self._due.clear()
            self._changed.notify_all()

    def _draw_drops(self, policy: DeliveryPolicy) -> list[bool]:
        """Which attempts of one delivery are lost (called in due order, under the lock)."""
        attempts = policy.retries + 1
        if policy.drop_rate <= 0 or policy.drop_rate >= 1:
            return [policy.drop_rate >= 1] * attempts
        return [self._rng.random() < policy.drop_rate for _ in range(attempts)]

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
                policy = self._policy()
                drops = self._draw_drops(policy)
            threading.Thread(
                target=self._deliver,
                args=(execution_id, url, policy, drops),
                name="vlmrun-callback",
                daemon=True,
            ).start()

    def _deliver(
        self, execution_id: str, url: str, policy: DeliveryPolicy, drops: list[bool]
    ) -> None:
        if drops[0]:  # lost before anything was rendered: no lazy_completed_at observation
            self._count("callbacks_dropped")
            return
        body = self._render(execution_id)
        if body is None:
            return
        headers = {"Content-Type": "application/json", "User-Agent": "vlmrun-emulator/1.0"}
        if policy.secret:
            headers[SIGNATURE_HEADER] = signature(policy.secret, body)
        for attempt in range(policy.retries + 1):
            if attempt and self._stopping.wait(policy.backoff * 2 ** (attempt - 1)):
                return
            if drops[attempt]:
                self._count("callbacks_dropped")
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
