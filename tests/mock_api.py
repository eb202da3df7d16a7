"""A scripted ``httpx.MockTransport`` for fault and edge tests (no network)."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import httpx

from langchain_vlmrun import AsyncVLMRunClient, PollSchedule, RetryPolicy, VLMRunClient

BASE = "https://api.test/v1"
Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class ScriptedAPI:
    """Answers each ``(METHOD, path)`` with its queued replies, in order.

    The last reply of a route repeats once the queue is down to one. Every request is
    kept in ``requests``; slept durations (from the injected sleep) in ``sleeps``.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.now = 1_000_000.0

    def on(self, method: str, path: str, *replies: Reply) -> ScriptedAPI:
        self.routes[(method, path)].extend(replies)
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1")
        queue = self.routes.get((request.method, path))
        if not queue:
            return httpx.Response(404, json={"detail": f"no route {request.method} {path}"})
        reply = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def calls(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == f"/v1{path}")

    # -- injected time ----------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def clock(self) -> float:
        return self.now

    # -- clients ----------------------------------------------------------------------

    def client(self, **kwargs: Any) -> VLMRunClient:
        kwargs.setdefault("retry", RetryPolicy(max_retries=3, jitter=lambda: 1.0))
        return VLMRunClient(
            "sk-test-SECRET-0123456789",
            base_url=BASE,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
            sleep=self.sleep,
            clock=self.clock,
            poll=kwargs.pop("poll", PollSchedule()),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> AsyncVLMRunClient:
        kwargs.setdefault("retry", RetryPolicy(max_retries=3, jitter=lambda: 1.0))
        return AsyncVLMRunClient(
            "sk-test-SECRET-0123456789",
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self.handler)),
            sleep=self.asleep,
            clock=self.clock,
            poll=kwargs.pop("poll", PollSchedule()),
            **kwargs,
        )


def execution(execution_id: str = "ex-1", status: str = "running", **fields: Any) -> httpx.Response:
    body = {"id": execution_id, "name": "agent:v1", "status": status, "usage": {}, **fields}
    return httpx.Response(200, json=body)


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)
