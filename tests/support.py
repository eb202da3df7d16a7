"""Helpers shared by test modules: sample files, a sleep recorder, a stand-in for a
crash, client settings for the loopback emulator, and a driver that carries out the
effects of a sans-IO operation on a virtual clock."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from langchain_core.callbacks import BaseCallbackHandler

from langchain_vlmrun import PollSchedule, RetryPolicy
from langchain_vlmrun.client._operations import (
    Admit,
    AwaitDelivery,
    Blocking,
    Call,
    EnsureAgent,
    ExecuteRequest,
    Operation,
    ProcessedSource,
    Sleep,
    UploadSettings,
    process,
    wait,
)
from langchain_vlmrun.client._polling import Probe
from langchain_vlmrun.core.errors import status_error_from_response
from langchain_vlmrun.core.models import AgentExecution
from tests.emulator import Emulator

#: A tiny PDF-looking payload; VLM Run only sees the bytes, the emulator echoes the name.
PDF = b"%PDF-1.4\n% test document\n"

#: Short polls for the emulator: 0.02 s, x1.5, at most 0.2 s.
EMULATOR_POLL = PollSchedule(initial=0.02, multiplier=1.5, maximum=0.2)


def make_files(
    directory: Path, count: int, name: str = "doc-{i:03d}.pdf", *, tag: str = "document"
) -> list[str]:
    """``count`` small, distinct PDF files in ``directory`` (created); their paths, in order.

    ``name`` is formatted with ``i``; each file's bytes differ (``tag`` and ``i``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / name.format(i=i)
        path.write_bytes(f"%PDF-1.4\n% {tag} {i:03d}\n".encode())
        paths.append(str(path))
    return paths


def file_maker(name: str, data: bytes = PDF) -> Callable[[Path], str]:
    """A function writing ``data`` to ``<dir>/name`` and returning the path (for case tables)."""

    def make(directory: Path) -> str:
        path = directory / name
        path.write_bytes(data)
        return str(path)

    return make


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Until ``condition`` holds, e.g. a waiter has registered (a counter, not a guess)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.001)


class Crash(Exception):
    """Stands for the process dying (raised from an injected sleep or transport)."""


class Sleeps:
    """Injected sleep that records every pause and really sleeps (sync and async)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await asyncio.sleep(seconds)


def emulator_client_settings(
    emu: Emulator,
    *,
    retry: RetryPolicy | None = None,
    poll: PollSchedule | None = None,
    request_timeout: float = 5.0,
) -> dict[str, Any]:
    """Keyword arguments for ``VLMRunClient``/``AsyncVLMRunClient`` against ``emu``:
    short backoffs and polls (real sleeps stay short), a timeout far above any emulated
    slowness so that a slow answer never turns into a timeout."""
    return {
        "base_url": emu.base_url,
        "retry": retry or RetryPolicy(max_retries=10, initial_backoff=0.01, max_backoff=0.05),
        "poll": poll or EMULATOR_POLL,
        "request_timeout": httpx.Timeout(request_timeout),
    }


Reply = httpx.Response | Exception


class Driver:
    """Carries out an operation's effects the way a client does, on a virtual clock.

    ``Call``: the next scripted reply (or ``route(call)``); an exception, or an error
    status the call does not ``accept``, is raised into the operation. ``Sleep``
    advances the clock unless ``frozen`` (a no-op sleep, as in tests that inject one),
    then runs ``on_sleep(effect)``. ``Blocking`` runs its function (its exception is
    raised into the operation). ``EnsureAgent`` is recorded. ``AwaitDelivery`` asks
    ``push(effect)``: an execution is the delivery, None lets the wait time out (the
    clock moves by its timeout).
    """

    def __init__(
        self,
        *replies: Reply,
        frozen: bool = False,
        route: Callable[[Call], Reply] | None = None,
        push: Callable[[AwaitDelivery], AgentExecution | None] | None = None,
        on_sleep: Callable[[Sleep], None] | None = None,
    ) -> None:
        self.replies = list(replies)
        self.frozen = frozen
        self.route = route
        self.push = push
        self.on_sleep = on_sleep
        self.now = 1000.0  # a clock reading, not time since anything
        self.effects: list[Any] = []

    def clock(self) -> float:
        return self.now

    def sleeps(self) -> list[tuple[float, bool]]:
        return [(e.seconds, e.poll) for e in self.effects if isinstance(e, Sleep)]

    def calls(self) -> list[Call]:
        return [e for e in self.effects if isinstance(e, Call)]

    def awaits(self) -> list[float]:
        return [e.timeout for e in self.effects if isinstance(e, AwaitDelivery)]

    def _reply(self, call: Call) -> Any:
        reply = self.route(call) if self.route is not None else self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if reply.status_code >= 400 and reply.status_code not in call.accept:
            raise status_error_from_response(reply)
        return reply

    def _carry_out(self, effect: Any) -> Any:
        if isinstance(effect, Sleep):
            if not self.frozen:
                self.now += effect.seconds
            if self.on_sleep is not None:
                self.on_sleep(effect)
            return None
        if isinstance(effect, Call):
            return self._reply(effect)
        if isinstance(effect, Blocking):
            return effect.function()
        if isinstance(effect, AwaitDelivery):
            pushed = self.push(effect) if self.push is not None else None
            if pushed is None:
                self.now += effect.timeout
            return pushed
        if isinstance(effect, Admit):
            return effect.slots.admit()
        assert isinstance(effect, EnsureAgent), effect
        return None

    def run(self, operation: Any) -> Any:
        value: Any = None
        error: Exception | None = None
        for _ in range(200):
            try:
                effect = operation.throw(error) if error else operation.send(value)
            except StopIteration as stop:
                return stop.value
            self.effects.append(effect)
            value, error = None, None
            try:
                value = self._carry_out(effect)
            except Exception as exc:  # raised into the operation, as a client does
                error = exc
        raise AssertionError("the operation does not end")


#: The grid of the wait tests: polls at 1, 3, 7 and 15 s of a job's age.
WAIT_GRID = PollSchedule(initial=1.0, multiplier=2.0, maximum=8.0)


def waiting(driver: Driver, probe: Probe | None, **options: Any) -> Operation[AgentExecution]:
    """``wait`` for execution ``ex-1`` (last seen running) on :data:`WAIT_GRID` and
    ``driver``'s clock; ``options`` are the rest of ``wait``'s arguments."""
    return wait(
        "ex-1",
        timeout=100.0,
        schedule=WAIT_GRID,
        clock=driver.clock,
        current=AgentExecution(id="ex-1", status="running"),
        probe=probe,
        **options,
    )


def deliver_after(driver: Driver, seconds: float) -> Callable[[AwaitDelivery], AgentExecution]:
    """A ``Driver.push`` whose webhook delivery (``completed``) arrives ``seconds`` later."""

    def push(effect: AwaitDelivery) -> AgentExecution:
        driver.now += seconds
        return AgentExecution(id=effect.execution_id, status="completed", response={})

    return push


class VirtualService:
    """VLM Run on a virtual clock, the one fake service of the operation-level tests.

    A file is stored as ``file-1``, ``file-2``...; the md5 lookup finds nothing; an
    execution is created under the request id (``created_at`` stamped) and completes
    ``duration`` seconds later, or ``duration[i]`` for the i-th execution created.
    ``stamps`` says how ``completed_at`` is written: ``"exact"`` (the true end),
    ``"lazy"`` (when a poll first sees the job done) or ``"missing"``. ``requests``
    counts ``(method, path)``.

    One operation at a time runs on :attr:`driver` (``process``); a whole batch runs on
    a :class:`Workload`, which passes its own clock.
    """

    EPOCH = 1_800_000_000.0

    def __init__(
        self,
        duration: float | list[float] = 10.0,
        *,
        stamps: str = "missing",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.durations = duration if isinstance(duration, list) else None
        self.duration = 0.0 if isinstance(duration, list) else duration
        self.stamps = stamps
        self.driver = Driver(route=self.route)
        self.clock = clock or self.driver.clock
        self.requests: Counter[tuple[str, str]] = Counter()
        self.created: dict[str, float] = {}
        self.order: dict[str, int] = {}
        self.seen_done: dict[str, float] = {}

    def end(self, execution_id: str) -> float:
        """When the execution completes (on the clock)."""
        index = self.order.setdefault(execution_id, len(self.order))
        took = self.durations[index] if self.durations is not None else self.duration
        return self.created[execution_id] + took

    def route(self, call: Call) -> Reply:
        self.requests[(call.method, call.path)] += 1
        if call.path == "/files":
            return httpx.Response(201, json={"id": f"file-{self.requests[('POST', '/files')]}"})
        if call.path.startswith("/files/hash/"):
            return httpx.Response(404, json={"detail": "File not found"})
        if call.path == "/agent/execute":
            execution_id = call.json["id"]
            if execution_id not in self.created:
                self.created[execution_id] = self.clock()
                self.order.setdefault(execution_id, len(self.order))
            return self.answer(self.execution(execution_id, observe=False), 201)
        execution_id = call.path.rpartition("/")[2]
        if call.path.startswith("/agent/executions/") and execution_id in self.created:
            return self.answer(self.execution(execution_id, observe=True))
        return httpx.Response(404, json={"detail": "Execution not found"})

    @staticmethod
    def answer(execution: AgentExecution, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=execution.model_dump(mode="json", exclude_none=True))

    def execution(self, execution_id: str, *, observe: bool) -> AgentExecution:
        """The execution as the service reports it now (``observe``: a poll looks)."""
        now, end = self.clock(), self.end(execution_id)
        body: dict[str, Any] = {
            "id": execution_id,
            "status": "running",
            "usage": {},
            "created_at": iso(self.EPOCH + self.created[execution_id]),
        }
        if now >= end:
            if observe:
                self.seen_done.setdefault(execution_id, now)
            at = {"exact": end, "lazy": self.seen_done.get(execution_id)}.get(self.stamps)
            body.update(status="completed", response={"job": self.order[execution_id]})
            if at is not None:
                body["completed_at"] = iso(self.EPOCH + at)
        return AgentExecution.model_validate(body)

    def process(self, source: Any, request: ExecuteRequest, **options: Any) -> ProcessedSource:
        """Run :func:`process` for ``source`` (polls of 1, 2, 4, 8 s; 600 s wait)."""
        settings: dict[str, Any] = {
            "uploads": UploadSettings(),
            "retry": RetryPolicy(retry_timeout=30.0),
            "timeout": 600.0,
            "schedule": PollSchedule(initial=1.0, multiplier=2.0, maximum=8.0),
            "clock": self.driver.clock,
            **options,
        }
        result: ProcessedSource = self.driver.run(process(source, request, **settings))
        return result


class Workload:
    """Many ``process`` runs at once on one virtual clock: a discrete-event simulation
    of a batch (``concurrency`` jobs in flight, the next submitted as one ends) against
    a :class:`VirtualService` whose jobs take ``durations[i]`` seconds (the i-th
    execution created), with ``stamps`` as there (default ``"lazy"``).

    ``delivery(i)``: seconds after the end at which the i-th execution's webhook
    delivery arrives, or None when it is lost (only with ``deliveries``). Round trips
    take no time, so every figure is the policy's own: ``latency[i]`` (seconds from
    submission until the client knows), ``polls[i]``, and ``makespan``;
    ``send_delay(i)``: the i-th execute reaches the service (the job starts) this long
    after the client sent it; ``answer_delay(i)``: its answer reaches the client this
    long after the job started (a slow network, a busy client).
    """

    def __init__(
        self,
        durations: list[float],
        *,
        concurrency: int = 1,
        stamps: str = "lazy",
        learn: bool = True,
        delivery: Callable[[int], float | None] | None = None,
        schedule: PollSchedule | None = None,
        memory: Any = None,
        deliveries: Any = None,
        request: ExecuteRequest | None = None,
        answer_delay: Callable[[int], float] | None = None,
        send_delay: Callable[[int], float] | None = None,
    ) -> None:
        from langchain_vlmrun.client._polling import DurationMemory

        self.durations = durations
        self.concurrency = concurrency
        self.delivery = delivery
        self.answer_delay = answer_delay
        self.send_delay = send_delay
        self.schedule = schedule or PollSchedule(learn_durations=learn)
        self.memory = memory if memory is not None else DurationMemory()
        self.deliveries = deliveries
        self.request = request
        self.now = 0.0
        self.service = VirtualService(durations, stamps=stamps, clock=lambda: self.now)
        self.submitted: dict[int, float] = {}
        self.latency: dict[int, float] = {}
        self.polls: Counter[int] = Counter()
        self.makespan = 0.0

    def _reply(self, job: int, call: Call) -> Reply:
        if call.method == "GET" and call.path.startswith("/agent/executions/"):
            self.polls[job] += 1
        return self.service.route(call)

    def _await(self, effect: AwaitDelivery) -> tuple[float, AgentExecution | None]:
        """When the wait ends, and the delivery if one ended it."""
        execution_id = effect.execution_id
        delay = self.delivery(self.service.order[execution_id]) if self.delivery else None
        arrives = None if delay is None else self.service.end(execution_id) + delay
        if arrives is None or arrives > self.now + effect.timeout:
            return self.now + effect.timeout, None
        waiting, self.now = self.now, max(self.now, arrives)
        try:  # the delivery says what the service knew when it was sent
            return self.now, self.service.execution(execution_id, observe=False)
        finally:
            self.now = waiting

    def run(self) -> Workload:
        import heapq

        queue: list[tuple[float, int, int, Any]] = []
        jobs: dict[int, Any] = {}
        counter = iter(range(10**9))
        pending = list(range(len(self.durations)))

        def start(job: int) -> None:
            request = self.request or ExecuteRequest(prompt="p", callback_url=None)
            if self.delivery is not None:
                request = ExecuteRequest(prompt="p", callback_url="https://hooks.test/vlmrun")
            from dataclasses import replace

            request = replace(request, id=f"job-{job}")
            jobs[job] = process(
                f"%PDF-1.4 job {job:06d}".encode(),
                request,
                uploads=UploadSettings(),
                retry=RetryPolicy(retry_timeout=30.0),
                timeout=10_000.0,
                schedule=self.schedule,
                clock=lambda: self.now,
                durations=self.memory,
                deliveries=self.deliveries,
            )
            self.submitted[job] = self.now
            heapq.heappush(queue, (self.now, next(counter), job, None))

        for _ in range(min(self.concurrency, len(pending))):
            start(pending.pop(0))
        while queue:
            self.now, _, job, value = heapq.heappop(queue)
            self.current = job
            operation = jobs[job]
            while True:
                try:
                    effect = operation.send(value)
                except StopIteration:
                    self.latency[job] = self.now - self.submitted[job]
                    self.makespan = max(self.makespan, self.now)
                    if pending:
                        start(pending.pop(0))
                    break
                if isinstance(effect, Sleep):
                    heapq.heappush(queue, (self.now + effect.seconds, next(counter), job, None))
                    break
                if isinstance(effect, AwaitDelivery):
                    at, pushed = self._await(effect)
                    heapq.heappush(queue, (at, next(counter), job, pushed))
                    break
                if isinstance(effect, Call):
                    reply = self._reply(job, effect)
                    assert isinstance(reply, httpx.Response)
                    value = reply
                    delays = (self.send_delay, self.answer_delay)
                    if effect.path == "/agent/execute" and delays != (None, None):
                        # the job starts when the request arrives; the answer comes later
                        sent = self.send_delay(job) if self.send_delay else 0.0
                        execution_id = effect.json["id"]
                        self.service.created[execution_id] += sent
                        reply = self.service.answer(
                            self.service.execution(execution_id, observe=False), 201
                        )
                        answered = sent + (self.answer_delay(job) if self.answer_delay else 0.0)
                        heapq.heappush(queue, (self.now + answered, next(counter), job, reply))
                        break
                elif isinstance(effect, Blocking):
                    value = effect.function()
                else:
                    value = None
        return self

    def mean_latency(self, jobs: Any = None) -> float:
        chosen = list(self.latency) if jobs is None else list(jobs)
        return sum(self.latency[j] for j in chosen) / len(chosen)

    def mean_polls(self) -> float:
        return sum(self.polls.values()) / len(self.durations)


def iso(seconds: float) -> str:
    """``seconds`` since the epoch as an ISO 8601 timestamp in UTC (server stamps)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


#: Bidi classes of the explicit embeddings, overrides and isolates (U+202A-U+202E,
#: U+2066-U+2069), and the implicit direction marks.
_DIRECTION_CLASSES = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})
_DIRECTION_MARKS = frozenset("\u200e\u200f\u061c")


def hidden_characters(text: str, *, newlines: bool = True) -> list[str]:
    """Characters a model must never be shown (see ``langchain_vlmrun.core._text``):
    controls (newline and tab allowed when ``newlines``), ESC included, so no escape
    sequence; surrogates; line/paragraph separators; direction overrides, isolates and
    marks; tag characters. Written from ``unicodedata``, not from the implementation."""
    import unicodedata

    allowed = "\n\t" if newlines else ""
    return [
        char
        for char in text
        if (unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") and char not in allowed)
        or unicodedata.bidirectional(char) in _DIRECTION_CLASSES
        or char in _DIRECTION_MARKS
        or 0xE0000 <= ord(char) <= 0xE007F
    ]


class TraceRecorder(BaseCallbackHandler):
    """Everything a tracer (LangSmith, Langfuse...) is handed, in ``seen``: chain inputs
    and outputs, tool outputs and custom events' data."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.seen.append(inputs)

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self.seen.append(outputs)

    def on_tool_end(self, output: Any, **kw: Any) -> None:
        self.seen.append(output)

    def on_custom_event(
        self, name: str, data: Any, *, run_id: UUID, tags: Any = None, **kw: Any
    ) -> None:
        self.seen.append(data)
