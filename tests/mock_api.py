"""A scripted ``httpx.MockTransport`` for fault and edge tests (no network)."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from langchain_vlmrun import AsyncVLMRunClient, PollSchedule, RetryPolicy, VLMRunClient
from langchain_vlmrun.client._client import ClientHooks

BASE = "https://api.test/v1"
Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class ScriptedAPI:
    """Answers each ``(METHOD, path)`` with its queued replies, in order.

    The last reply of a route repeats once the queue is down to one. Every request is
    kept in ``requests``; slept durations (from the injected sleep) in ``sleeps``.
    Unless scripted, ``POST /agent/lookup`` by name finds any agent (the clients look
    a name up before uploading for it); script the route to say otherwise.
    """

    def __init__(self) -> None:
        self.defaults: dict[tuple[str, str], Reply] = {("POST", "/agent/lookup"): found_agent}
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
        if queue:
            reply = queue.popleft() if len(queue) > 1 else queue[0]
        elif (request.method, path) in self.defaults:
            reply = self.defaults[(request.method, path)]
        else:
            return httpx.Response(404, json={"detail": f"no route {request.method} {path}"})
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def first(self, method: str, path: str) -> httpx.Request:
        """The first request sent to ``(METHOD, path)``."""
        return next(r for r in self.requests if r.method == method and r.url.path == f"/v1{path}")

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

    def _hooks(self, kwargs: dict[str, Any], sleep: Any) -> ClientHooks:
        """The test's clock and sleep, and its request ids when it names a factory."""
        ids = kwargs.pop("request_id_factory", None)
        hooks = ClientHooks(clock=kwargs.pop("clock", self.clock), sleep=kwargs.pop("sleep", sleep))
        return replace(hooks, request_id_factory=ids) if ids is not None else hooks

    def client(self, **kwargs: Any) -> VLMRunClient:
        kwargs.setdefault("retry", RetryPolicy(max_retries=3, jitter=lambda: 1.0))
        return VLMRunClient(
            "sk-test-SECRET-0123456789",
            base_url=BASE,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
            _hooks=self._hooks(kwargs, self.sleep),
            poll=kwargs.pop("poll", PollSchedule()),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> AsyncVLMRunClient:
        kwargs.setdefault("retry", RetryPolicy(max_retries=3, jitter=lambda: 1.0))
        return AsyncVLMRunClient(
            "sk-test-SECRET-0123456789",
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self.handler)),
            _hooks=self._hooks(kwargs, self.asleep),
            poll=kwargs.pop("poll", PollSchedule()),
            **kwargs,
        )


def execution(execution_id: str = "ex-1", status: str = "running", **fields: Any) -> httpx.Response:
    body = {"id": execution_id, "name": "agent:v1", "status": status, "usage": {}, **fields}
    return httpx.Response(200, json=body)


def one_execution(response: Any, status: str = "completed", **usage: Any) -> ScriptedAPI:
    """VLM Run running one execution: every execute creates ``ex-1`` (enqueued), whose
    poll answers ``status`` with ``response`` and ``usage``."""
    enqueued = httpx.Response(201, json={"id": "ex-1", "status": "enqueued", "usage": {}})
    done = execution("ex-1", status, response=response, usage=usage)
    return (
        ScriptedAPI()
        .on("POST", "/agent/execute", enqueued)
        .on("GET", "/agent/executions/ex-1", done)
    )


def agent_info(name: str, **fields: Any) -> dict[str, Any]:
    """An AgentInfo body (test data: the agent names are the tests' own)."""
    full = name if ":" in name else f"{name}:v1"
    return {
        "id": f"agent-{full}",
        "name": full,
        "description": f"Test agent {full}",
        "prompt": f"Run {full}",
        "json_schema": None,
        "json_sample": None,
        "created_at": "2026-07-20T18:00:00",
        "updated_at": "2026-07-20T18:00:00",
        "status": "completed",
        **fields,
    }


def found_agent(request: httpx.Request) -> httpx.Response:
    """``POST /agent/lookup``: every name exists."""
    body = json.loads(request.content)
    if "name" not in body:
        return httpx.Response(404, json={"detail": "Agent not found"})
    return httpx.Response(200, json=agent_info(body["name"]))


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)
