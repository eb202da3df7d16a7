"""The sans-IO operations pinned down (``client/_operations.py``), from its mutation run.

What a user of the clients sees of them, driven effect by effect on a virtual clock
(:class:`~tests.support.Driver`, :class:`~tests.support.VirtualService`,
:class:`~tests.support.Workload`): the body a model or toolsets given as ``config`` keys
sends; what a failed md5 lookup does (5xx and unreadable answers upload the file, with
the warning word for word; a 4xx stops it); the dot segments of an id; when webhook
deliveries are awaited and when a delivery marks a silent URL healthy again; a stopped
load that pays for nothing; how many times the cache is written for one run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import APIStatusError, ResultCache, RetryPolicy
from langchain_vlmrun.client._operations import (
    AwaitDelivery,
    Call,
    Completion,
    ExecuteRequest,
    Sleep,
    SubmissionStopped,
    UploadSettings,
    get_execution,
    get_file,
    submission_gate,
    upload_prepared,
    wait,
)
from langchain_vlmrun.client._polling import (
    WAVE_SLICE,
    DeliveryHealth,
    DurationMemory,
    Probe,
    Wave,
)
from langchain_vlmrun.core.errors import ExecutionFailedError, status_error_from_response
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.files._sources import prepare_file
from langchain_vlmrun.loaders._concurrency import Gate
from tests.support import WAIT_GRID, Driver, VirtualService, Workload, waiting

DATA = b"%PDF-1.4 operations test" * 100
MD5 = hashlib.md5(DATA).hexdigest()
FILE = {"id": "file-1", "filename": "doc.pdf", "bytes": len(DATA), "purpose": "assistants"}
HOOK = "https://hooks.test/vlmrun"


# --- ExecuteRequest: model and toolsets given as config keys -------------------------


def test_a_model_and_toolsets_given_in_config_are_sent_at_the_top_of_the_body() -> None:
    request = ExecuteRequest(
        prompt="p", config={"model": "m", "toolsets": ["web"], "custom": 1}, id="req-1"
    )
    assert (request.model, request.toolsets, request.config) == ("m", ["web"], {"custom": 1})
    assert request.body() == {
        "id": "req-1",
        "name": None,
        "batch": True,
        "inputs": {},
        "config": {"custom": 1, "prompt": "p"},
        "metadata": {"allow_training": False},
        "model": "m",
        "toolsets": ["web"],
    }
    with pytest.raises(ValueError) as info:
        ExecuteRequest(prompt="p", model="a", config={"model": "b"})
    assert str(info.value) == (
        "model is given twice with different values: model='a' and config['model']='b'. "
        "Pass it once."
    )


# --- the md5 lookup before an upload: a saving, not a gate ------------------------------


def _upload_after_lookup(lookup: httpx.Response) -> Driver:
    driver = Driver(lookup, httpx.Response(201, json=FILE))
    prepared = prepare_file(DATA, filename="doc.pdf")
    try:
        settings = UploadSettings(hash_lookup_min_size=0)
        assert driver.run(upload_prepared(prepared, settings, RetryPolicy())).id == "file-1"
    finally:
        prepared.close()
    return driver


@pytest.mark.parametrize(
    ("lookup", "reason"),
    [
        (httpx.Response(500, json={"detail": "down"}), "500 Internal Server Error: down"),
        (
            httpx.Response(
                200,
                content=b"<html>busy</html>",
                request=httpx.Request("GET", f"https://api.test/v1/files/hash/{MD5}"),
            ),
            f"Unreadable response from GET /v1/files/hash/{MD5} (HTTP 200): ",
        ),
    ],
    ids=["500", "unreadable"],
)
def test_a_lookup_that_fails_on_the_servers_side_uploads_the_file_and_says_why(
    lookup: httpx.Response, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        driver = _upload_after_lookup(lookup)
    assert [(c.method, c.path) for c in driver.calls()] == [
        ("GET", f"/files/hash/{MD5}"),
        ("POST", "/files"),
    ]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith(f"the md5 lookup for doc.pdf failed ({reason}")
    assert message.endswith("); uploading it")


def test_a_lookup_refused_below_500_stops_the_upload() -> None:
    driver = Driver(httpx.Response(499, json={"detail": "gone"}))
    prepared = prepare_file(DATA, filename="doc.pdf")
    try:
        with pytest.raises(APIStatusError) as raised:
            driver.run(
                upload_prepared(prepared, UploadSettings(hash_lookup_min_size=0), RetryPolicy())
            )
    finally:
        prepared.close()
    assert (raised.value.status_code, raised.value.message) == (499, "499 Error: gone")
    assert [(c.method, c.path) for c in driver.calls()] == [("GET", f"/files/hash/{MD5}")]


# --- ids as one path segment ---------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "segment"), [(".", "%2E"), ("..", "%2E%2E"), ("...", "..."), ("a.b", "a.b")]
)
def test_dot_segments_of_an_id_are_escaped_and_other_dots_kept(
    identifier: str, segment: str
) -> None:
    driver = Driver(httpx.Response(200, json={**FILE, "id": identifier}))
    driver.run(get_file(identifier))
    running = {"id": identifier, "status": "running", "usage": {}}
    driver.replies.append(httpx.Response(200, json=running))
    driver.run(get_execution(identifier))
    assert [c.path for c in driver.calls()] == [
        f"/files/{segment}",
        f"/agent/executions/{segment}",
    ]


# --- webhooks: awaited only with a callback URL and a delivery health ----------------


def test_deliveries_are_awaited_only_with_both_a_callback_url_and_delivery_health() -> None:
    hooked = ExecuteRequest(prompt="p", callback_url=HOOK)
    without_health = VirtualService(duration=3.0)
    without_health.process(DATA, hooked)
    assert without_health.driver.awaits() == []
    assert without_health.driver.sleeps() == [(1.0, True), (2.0, True)]

    without_url = VirtualService(duration=3.0)
    without_url.process(DATA, ExecuteRequest(prompt="p"), deliveries=DeliveryHealth())
    assert without_url.driver.awaits() == []
    assert without_url.driver.sleeps() == [(1.0, True), (2.0, True)]


def test_a_delivery_to_a_url_another_job_found_silent_marks_it_healthy_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = DeliveryHealth()
    # job 0 (20 s) waits for its callback; job 1 (5 s) loses its delivery, and its
    # safety poll at 15 s marks the URL silent; job 0's delivery at 20 s heals it
    with caplog.at_level(logging.INFO, logger="langchain_vlmrun"):
        work = Workload(
            [20.0, 5.0],
            concurrency=2,
            delivery=lambda index: 0.0 if index == 0 else None,
            deliveries=health,
        ).run()
    assert work.latency == {0: 20.0, 1: 15.0}
    assert not health.silent(HOOK)
    assert [r.getMessage() for r in caplog.records if "webhook deliveries" in r.getMessage()][
        -1
    ] == f"webhook deliveries to {HOOK} arrive again"


# --- a stopped load pays for nothing ---------------------------------------------------


def test_a_load_stopped_before_a_source_starts_sends_no_request() -> None:
    gate = Gate()
    gate.stop()
    token = submission_gate.set(gate.source())
    try:
        service = VirtualService(duration=1.0)
        with pytest.raises(SubmissionStopped):
            service.process(DATA, ExecuteRequest(prompt="p"))
    finally:
        submission_gate.reset(token)
    assert service.requests == {}


def test_a_load_stopped_while_its_file_uploads_submits_no_execution() -> None:
    gate = Gate()
    service = VirtualService(duration=1.0)

    def route(call: Call) -> Any:
        if call.path == "/files":
            gate.stop()  # the load stops while this file is being uploaded
        return service.route(call)

    service.driver.route = route
    token = submission_gate.set(gate.source())
    try:
        with pytest.raises(SubmissionStopped):
            service.process(DATA, ExecuteRequest(prompt="p"))
    finally:
        submission_gate.reset(token)
    assert dict(service.requests) == {("POST", "/files"): 1}


# --- what the cache records, and when ------------------------------------------------


class WrittenStates(InMemoryByteStore):
    """An in-memory store that notes the state of each record written."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[str, str]] = []

    def mset(self, key_value_pairs: Any) -> None:
        pairs = list(key_value_pairs)
        for _, value in pairs:
            record = json.loads(value)
            self.written.append((record["state"], record["execution_id"]))
        super().mset(pairs)


def test_a_fresh_run_writes_its_record_twice_submitted_then_completed() -> None:
    store = WrittenStates()
    service = VirtualService(duration=3.0)
    request = ExecuteRequest(prompt="p", id="req-1")
    result = service.process(DATA, request, cache=ResultCache(store))
    assert result.execution.id == "req-1" and not result.from_cache
    assert store.written == [("submitted", "req-1"), ("completed", "req-1")]


# --- a load's execution slot: taken once uploaded, given back once the job has ended ---


class NotedGate:
    """A load's gate as one source sees it, noting what the operation asks of it (and,
    through :meth:`store`, the cache records written, in the same list)."""

    def __init__(self, *, stopped_while_waiting: bool = False) -> None:
        self.events: list[str] = []
        self.stopped_while_waiting = stopped_while_waiting

    def check(self) -> None:
        self.events.append("check")

    @contextmanager
    def submitting(self) -> Iterator[None]:
        self.events.append("submitting")
        yield

    def admit(self) -> None:
        self.events.append("admit")
        if self.stopped_while_waiting:
            raise SubmissionStopped("the load was stopped: nothing was paid for this source")

    async def aadmit(self) -> None:
        raise AssertionError("a sync driver waits in its thread")

    def release(self) -> None:
        self.events.append("release")

    def store(self) -> InMemoryByteStore:
        events = self.events

        class Noting(InMemoryByteStore):
            def mset(self, key_value_pairs: Any) -> None:
                pairs = list(key_value_pairs)
                events.extend(f"record {json.loads(value)['state']}" for _, value in pairs)
                super().mset(pairs)

        return Noting()


def _through(gate: NotedGate, service: VirtualService, cache: ResultCache) -> Any:
    token = submission_gate.set(gate)
    try:
        return service.process(DATA, ExecuteRequest(prompt="p", id="req-1"), cache=cache)
    finally:
        submission_gate.reset(token)


def test_the_slot_is_taken_once_uploaded_and_given_back_before_the_result_is_kept() -> None:
    gate = NotedGate()
    service = VirtualService(duration=3.0)
    _through(gate, service, ResultCache(gate.store()))
    # the next source may go as soon as this job has ended, before its result is kept
    assert gate.events == [
        "check",
        "admit",
        "submitting",
        "record submitted",
        "release",
        "record completed",
    ]
    assert service.requests[("POST", "/files")] == 1  # uploaded before the slot


def test_a_source_stopped_while_waiting_for_its_slot_pays_nothing_and_gives_nothing_back() -> None:
    gate = NotedGate(stopped_while_waiting=True)
    service = VirtualService(duration=3.0)
    store = gate.store()
    with pytest.raises(SubmissionStopped):
        _through(gate, service, ResultCache(store))
    assert gate.events == ["check", "admit"]  # no slot was taken: none is given back
    assert dict(service.requests) == {("POST", "/files"): 1}  # nothing submitted
    assert list(store.yield_keys()) == []  # nothing to resume


def test_a_failed_execution_gives_its_slot_back_once() -> None:
    gate = NotedGate()
    service = VirtualService(duration=3.0)

    def route(call: Call) -> Any:
        reply = service.route(call)
        if call.method == "GET" and "/agent/executions/" in call.path:
            body = reply.json()
            if body["status"] == "completed":
                body.update(status="failed", response=None)
                return httpx.Response(200, json=body)
        return reply

    service.driver.route = route
    with pytest.raises(ExecutionFailedError):
        _through(gate, service, ResultCache(gate.store()))
    assert gate.events.count("release") == 1
    assert gate.events[-1] == "release"  # after the record was forgotten


def test_a_result_from_the_cache_takes_no_slot() -> None:
    gate = NotedGate()
    service = VirtualService(duration=3.0)
    cache = ResultCache(gate.store())
    _through(NotedGate(), service, cache)  # the first run keeps the result
    _through(gate, service, cache)
    assert "admit" not in gate.events and "release" not in gate.events


# --- wait: where each poll goes on the virtual clock -----------------------------------


def _job(status: str) -> httpx.Response:
    return httpx.Response(200, json={"id": "ex-1", "status": status, "usage": {}})


def _noting_ages(*replies: httpx.Response) -> tuple[Driver, list[float]]:
    """A driver answering with ``replies`` in turn, and the ages (seconds on its clock
    from now) at which each request was sent."""
    pending = list(replies)
    ages: list[float] = []

    def route(call: Call) -> httpx.Response:
        ages.append(round(driver.now - start, 3))
        return pending.pop(0)

    driver = Driver(route=route)
    start = driver.now
    return driver, ages


def test_an_exact_probe_and_its_follow_up_count_from_the_execute_answer() -> None:
    # the job was submitted 2 s before the answer came: the server's exact durations
    # (10 s, then 12 s) count from its start, so both looks go 2 s later on our clock
    driver = Driver(_job("running"), _job("completed"))
    since = driver.now - 2.0
    operation = waiting(driver, Probe(10.0, then=(12.0,), exact=True), since=since)
    assert driver.run(operation).status == "completed"
    assert driver.sleeps() == [(10.0, True), (2.0, True)]  # ages 12 and 14, not the grid's 15


def test_a_wait_reports_a_follow_up_that_found_the_job_done_as_a_miss() -> None:
    driver = Driver(_job("running"), _job("completed"))
    seen: list[Completion] = []
    probe = Probe(1.0, then=(1.5,), exploring=True)
    operation = waiting(driver, probe, on_complete=seen.append)
    done = driver.run(operation)
    assert driver.sleeps() == [(1.0, True), (0.5, True)]
    # seen running by the probe at 1 s, done at the follow-up (1.5 s): not a hit; known
    # by a poll, not by a delivery
    assert seen == [Completion(done, 1.0, 1.5, probe, delivered=False, hit=False, answer=0.0)]
    assert seen[0].delivered is False


def test_two_first_wave_looks_before_the_grids_second_poll_stand_for_it() -> None:
    memory = DurationMemory()
    memory.probe("k", earliest=1.0)  # the wave's first job: it looks at the first poll
    memory.probe("k", earliest=1.0)  # a follower (it looks at the second)
    probe = memory.probe("k", earliest=1.0)  # ours: half way between 1 s and 3 s
    assert probe is not None and (probe.first_wave, probe.slot) == (True, 0.5)
    driver, ages = _noting_ages(_job("running"), _job("running"), _job("completed"))
    start = driver.now

    def another_job_is_done_at_2_505_s(effect: Sleep) -> None:
        if driver.now - start > 2.49 and memory.wave("k").state().done_at is None:
            memory.observe("k", lower=1.0, upper=2.505, server=None)

    driver.on_sleep = another_job_is_done_at_2_505_s
    operation = waiting(driver, probe, wave=memory.wave("k"))
    driver.run(operation)
    # its own look at 2 s, one as soon as another job was seen done (2.505 s): the grid's
    # second poll (3 s) is skipped, the next is its third (7 s)
    assert ages == [2.0, 2.505, 7.0]
    assert driver.sleeps()[-1] == (pytest.approx(4.495), True)  # no more short looks


def test_a_followers_look_at_the_grids_second_poll_sets_no_floor() -> None:
    memory = DurationMemory()
    memory.probe("k", earliest=1.0)  # the wave's first job
    follower = memory.probe("k", earliest=1.0)
    assert follower is not None and follower.slot == 1.0
    driver, ages = _noting_ages(_job("running"), _job("completed"))
    operation = waiting(driver, follower, wave=memory.wave("k"))
    driver.run(operation)
    assert ages == [3.0, 7.0]  # it follows: the grid's second and third polls
    assert driver.sleeps()[-1] == (4.0, True)  # after its look, no more short looks
    # two jobs then done at 5 and 6 s: the usual end is 5 s, and nothing was seen running
    # between the grid's first two polls, so the next job explores half way from 1 s
    for upper in (5.0, 6.0):
        memory.observe("k", lower=0.0, upper=upper, server=None)
    probe = memory.probe("k", earliest=1.0)
    assert probe is not None and (probe.exploring, probe.at) == (True, 3.0)


def test_an_exploring_probe_goes_straight_to_its_follow_up_past_the_grid() -> None:
    driver, ages = _noting_ages(_job("running"), _job("running"), _job("completed"))
    probe = Probe(1.0, then=(10.0,), exploring=True)
    driver.run(waiting(driver, probe))
    assert ages == [1.0, 10.0, 15.0]  # not the grid's 3 and 7 s in between


def test_a_plain_probes_follow_up_never_delays_the_grids_next_poll() -> None:
    driver, ages = _noting_ages(*[_job("running")] * 3, _job("completed"))
    probe = Probe(7.0, then=(20.0,))  # it stands for the grid's polls at 1, 3 and 7 s
    driver.run(waiting(driver, probe))
    assert ages == [7.0, 15.0, 20.0, 23.0]


def test_a_plain_probe_follows_up_only_with_the_grid_polls_it_saved() -> None:
    driver, ages = _noting_ages(*[_job("running")] * 3, _job("completed"))
    # a probe at 7 s saves the grid's polls at 1 and 3 s: two follow-ups, not three
    probe = Probe(7.0, then=(10.0, 12.0, 14.0))
    driver.run(waiting(driver, probe))
    assert ages == [7.0, 10.0, 12.0, 15.0]


# --- wait: the first wave (nothing learned yet) ----------------------------------------


def test_the_next_job_of_a_wave_looks_first_where_one_was_seen_done() -> None:
    memory = DurationMemory()
    memory.observe("k", lower=1.0, upper=3.0, server=None)  # one job: done by 3 s
    probe = memory.probe("k", earliest=1.0)
    assert probe is not None and (probe.first_wave, probe.slot) == (True, 0.0)
    driver, ages = _noting_ages(_job("completed"))
    driver.run(waiting(driver, probe, wave=memory.wave("k")))
    assert ages == [3.0]  # at the grid's second poll, where it was seen done, not at 1 s


@pytest.mark.parametrize(
    ("answer", "first_look"),
    [
        (0.0, 1.0),  # done at 0.8 s by the server's clock: not before the grid's first poll
        (0.5, 0.8),  # the job started 0.5 s before the answer: 1.3 s of its age
    ],
)
def test_an_exact_duration_seen_in_the_wave_counts_from_the_execute_answer(
    answer: float, first_look: float
) -> None:
    memory = DurationMemory()
    # a job the server stamped as 0.8 s long, seen done at 1 s: its stamps are exact
    memory.observe("k", lower=0.0, upper=1.0, server=0.8)
    probe = memory.probe("k", earliest=1.0)
    assert probe is not None and probe.first_wave
    driver, ages = _noting_ages(_job("completed"))
    driver.run(waiting(driver, probe, wave=memory.wave("k"), since=driver.now - answer))
    assert ages == [first_look]


def test_a_server_duration_of_zero_teaches_nothing_and_breaks_no_wait() -> None:
    memory = DurationMemory()
    # created_at == completed_at (stamps to the second): the stamps look exact, but a
    # zero duration is no sample
    memory.observe("k", lower=0.0, upper=1.0, server=0.0)
    assert memory.wave("k").state().done_at is None
    probe = memory.probe("k", earliest=1.0)
    assert probe is not None and probe.first_wave
    driver, ages = _noting_ages(_job("completed"))
    done = driver.run(waiting(driver, probe, wave=memory.wave("k"), since=driver.now - 0.5))
    assert done.status == "completed" and ages == [0.5]  # the grid's first poll (1 s)


def test_a_delivery_during_a_wave_jobs_short_looks_ends_its_wait_with_no_poll() -> None:
    memory = DurationMemory()
    memory.probe("k", earliest=1.0)  # the wave's first job
    follower = memory.probe("k", earliest=1.0)  # ours: it follows, in short looks
    driver = Driver()
    timeouts: list[float] = []

    def push(effect: AwaitDelivery) -> AgentExecution | None:
        timeouts.append(effect.timeout)
        if len(timeouts) < 10:
            return None
        return AgentExecution(id=effect.execution_id, status="completed", response={})

    driver.push = push
    seen: list[Completion] = []
    done = driver.run(
        waiting(driver, follower, on_complete=seen.append, deliveries=True, wave=memory.wave("k"))
    )
    assert (done.id, done.status) == ("ex-1", "completed")
    assert driver.calls() == [] and timeouts == [WAVE_SLICE] * 10
    assert [(c.delivered, round(c.upper, 2)) for c in seen] == [(True, 0.18)]


def _wave_of_three(memory: DurationMemory) -> Probe:
    """A first wave of kind ``k``: two jobs submitted before ours, whose probe is a look
    half way between the grid's first two polls (at 2 s of its age on the wait grid)."""
    memory.probe("k", earliest=1.0)  # the wave's first job: it looks at the first poll
    memory.probe("k", earliest=1.0)  # a follower (it looks at the second)
    probe = memory.probe("k", earliest=1.0)
    assert probe is not None and (probe.first_wave, probe.slot) == (True, 0.5)
    return probe


def _executions(statuses: dict[str, Any], asked: list[str], driver: Driver) -> Any:
    """A route answering ``GET /agent/executions/{id}`` with ``statuses[id]``: a status,
    an exception to raise, or a function of the driver's clock giving the status; the ids
    asked about are noted in ``asked``."""

    def route(call: Call) -> Any:
        ident = call.path.rpartition("/")[2]
        asked.append(ident)
        status = statuses[ident]
        if isinstance(status, Exception):
            return status
        if callable(status):
            status = status(driver.now)
        return httpx.Response(200, json={"id": ident, "status": status, "usage": {}})

    return route


def _behind_an_older_job(
    oldest: str | Exception,
) -> tuple[DurationMemory, Probe, Driver, list[str], Wave]:
    """Our job (``ex-1``, done at 2.5 s) in a first wave behind ``ex-0``, submitted half a
    second before it, whose polls are answered ``oldest``; returns the memory, our
    probe, the driver, the ids asked about and the wave."""
    memory = DurationMemory()
    probe = _wave_of_three(memory)
    driver, asked = Driver(), []
    start = driver.now
    wave = memory.wave("k")
    wave.join("ex-0", since=start - 0.5)
    driver.route = _executions(
        {"ex-0": oldest, "ex-1": lambda now: "completed" if now - start >= 2.5 else "running"},
        asked,
        driver,
    )
    return memory, probe, driver, asked, wave


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_first_wave_look_asks_about_the_oldest_job_and_hands_its_end_over(
    status: str,
) -> None:
    memory, probe, driver, asked, wave = _behind_an_older_job(status)
    start = driver.now
    done = driver.run(waiting(driver, probe, wave=wave))
    # its look (at 2 s) went to the oldest job, found ended at 2.5 s of that job's age;
    # ours then polled itself at that age, not at the grid's second poll (3 s), which a
    # failed job says nothing about
    assert asked == ["ex-0", "ex-1"] and done.status == "completed"
    assert driver.now - start == pytest.approx(2.5 if status == "completed" else 3.0)
    # the oldest job's own wait takes the answer with no request of its own (and a
    # failed execution is reported at once)
    own = wait(
        "ex-0",
        timeout=100.0,
        schedule=WAIT_GRID,
        clock=driver.clock,
        current=AgentExecution(id="ex-0", status="running"),
        probe=memory.probe("k", earliest=1.0),
        wave=wave,
        since=start - 0.5,
    )
    own_calls = len(driver.calls())
    if status == "failed":
        with pytest.raises(ExecutionFailedError):
            driver.run(own)
    else:
        assert driver.run(own).status == "completed"
    assert len(driver.calls()) == own_calls and asked == ["ex-0", "ex-1"]


def test_a_first_wave_look_that_fails_is_not_retried_and_costs_the_job_nothing() -> None:
    unavailable = httpx.Response(503, request=httpx.Request("GET", "https://x.test"))
    _, probe, driver, asked, wave = _behind_an_older_job(status_error_from_response(unavailable))
    start = driver.now
    done = driver.run(waiting(driver, probe, wave=wave))
    assert done.status == "completed"
    # one look at the oldest, sent without retries; ours is then found by the grid's
    # second poll (3 s), as without the look
    assert asked == ["ex-0", "ex-1"] and driver.now - start == pytest.approx(3.0)
    assert [c.retry_for for c in driver.calls()] == [0.0, pytest.approx(97.0)]


@pytest.mark.parametrize("asked_by_another", [False, True])
def test_an_end_another_look_may_have_stamped_is_reported_as_such(
    asked_by_another: bool,
) -> None:
    # another job's look asked about ours at 1.5 s, and its answer never came back here
    # (its thread was slow, or it saw the job running): a completed_at written when a
    # poll first saw the job done may be that look's, earlier than our own poll at 2 s,
    # so it must not be taken for the server's own end
    memory = DurationMemory()
    probe = _wave_of_three(memory)
    driver, asked = Driver(), []
    start = driver.now
    wave = memory.wave("k")
    driver.route = _executions(
        {"ex-1": lambda now: "completed" if now - start >= 1.2 else "running"}, asked, driver
    )

    def another_look_asks_at_1_5_s(effect: Sleep) -> None:
        if asked_by_another and driver.now - start >= 1.5 and wave.asked_at("ex-1") is None:
            assert wave.next_look(driver.now, "ex-2") == ("ex-1", start)

    driver.on_sleep = another_look_asks_at_1_5_s
    seen: list[Completion] = []
    driver.run(waiting(driver, probe, wave=wave, on_complete=seen.append))
    assert asked == ["ex-1"] and seen[0].upper == pytest.approx(2.0)
    assert seen[0].stamped_by_another is asked_by_another


def test_a_first_wave_look_passes_over_a_job_it_just_saw_running() -> None:
    memory = DurationMemory()
    wave = memory.wave("k")
    start = 1000.0
    wave.join("old", since=start - 1.0)
    wave.join("young", since=start - 0.5)
    assert wave.next_look(start, "ours") == ("old", start - 1.0)  # the oldest first
    # seen running at 1 s of its age: asked about again only once it has aged 3 % more
    assert wave.next_look(start + 0.01, "ours") == ("young", start - 0.5)
    assert wave.next_look(start + 0.02, "ours") is None  # both just seen running
    assert wave.next_look(start + 0.031, "ours") == ("old", start - 1.0)
    # once one is seen ended, every job asks about itself
    wave.post("young", AgentExecution(id="young", status="completed"), at=start + 0.04)
    assert wave.next_look(start + 0.5, "ours") is None
    assert wave.state().done_at == pytest.approx(0.54)  # its age when the look found it
    assert wave.take("young") is not None and wave.take("young") is None
    wave.leave("old")
    wave.post("old", AgentExecution(id="old", status="completed"), at=start)  # gone: kept no more
    assert wave.take("old") is None


def test_an_execute_answered_a_whole_first_interval_late_is_timed_from_its_answer() -> None:
    service = VirtualService(duration=3.0)

    def slow_execute(call: Call) -> Any:
        reply = service.route(call)
        if call.path == "/agent/execute":
            service.driver.now += 1.0  # the answer takes the grid's whole first interval
        return reply

    service.driver.route = slow_execute
    service.process(DATA, ExecuteRequest(prompt="p"))
    # timed from the answer: the first poll is 1 s after it, not at once
    assert service.driver.sleeps() == [(1.0, True), (2.0, True)]
