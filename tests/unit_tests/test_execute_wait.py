"""Execute (never paid twice), wait (fails fast, times out with the id), run; sync + async."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel

from langchain_vlmrun import (
    APIStatusError,
    APITimeoutError,
    ExecuteOptions,
    ExecutionFailedError,
    ExecutionTimeoutError,
    InternalServerError,
    PollSchedule,
    RateLimitError,
    ResultCache,
    RetryPolicy,
)
from langchain_vlmrun.client._operations import (
    Call,
    Completion,
    ExecuteRequest,
    create_once,
    execute,
    find_execution,
    schema_of,
    wait,
)
from langchain_vlmrun.client._polling import DurationMemory, Probe
from langchain_vlmrun.core.errors import status_error_from_response
from langchain_vlmrun.core.models import AgentExecution
from tests.mock_api import ScriptedAPI, execution, json_body
from tests.support import WAIT_GRID, Driver, VirtualService, iso, waiting

EXECUTE = "/agent/execute"
URL = "https://example.com/a.pdf"


def started(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        201, json={"id": json_body(request)["id"], "status": "enqueued", "usage": {}}
    )


def test_request_id_is_reused_when_resending_after_ambiguous_failure() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, httpx.Response(502), started)
    api.on(
        "GET",
        "/agent/executions/req-1",
        httpx.Response(404, json={"detail": "Execution not found"}),
    )
    result = api.client(request_id_factory=lambda: "req-1").execute(agent_name="a:v1")
    assert result.id == "req-1"
    posts = [json_body(r) for r in api.requests if r.method == "POST"]
    assert [p["id"] for p in posts] == ["req-1", "req-1"]
    assert api.calls("GET", "/agent/executions/req-1") == 1  # looked up before re-sending


def test_ambiguous_failure_adopts_the_execution_the_server_created() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, httpx.ReadTimeout("no answer"))
    api.on("GET", "/agent/executions/req-1", execution("req-1", "running"))
    result = api.client(request_id_factory=lambda: "req-1").execute(agent_name="a:v1")
    assert result.id == "req-1"
    assert api.calls("POST", EXECUTE) == 1  # not paid twice


def test_refused_execute_is_retried_directly() -> None:
    api = ScriptedAPI().on(
        "POST",
        EXECUTE,
        httpx.ConnectError("refused"),
        httpx.Response(429, headers={"Retry-After": "1"}),
        started,
    )
    api.client(request_id_factory=lambda: "req-1").execute(agent_name="a:v1")
    assert api.calls("POST", EXECUTE) == 3
    assert api.calls("GET", "/agent/executions/req-1") == 0  # no lookup needed
    assert api.sleeps[-1] == 1.0


def test_execute_gives_up_after_the_retry_budget() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, httpx.Response(500, json={"detail": "boom"}))
    api.on("GET", "/agent/executions/req-1", httpx.Response(404))
    with pytest.raises(InternalServerError, match="boom"):
        api.client(max_retries=2, retry=None, request_id_factory=lambda: "req-1").execute(
            agent_name="a:v1"
        )
    assert api.calls("POST", EXECUTE) == 3


def test_execute_needs_an_agent_or_prompt() -> None:
    with pytest.raises(ValueError, match="prompt"):
        ScriptedAPI().client().execute()


def test_failed_execution_raises_at_the_first_poll_that_sees_it() -> None:
    failed = execution(
        "ex-1",
        "failed",
        response={"error": "corrupt PDF"},
        usage={"message": "Failed to read input", "credits_used": 0},
    )
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="running"), failed)
    with pytest.raises(ExecutionFailedError) as info:
        api.client().wait("ex-1", wait_timeout=600)
    err = info.value
    assert err.execution_id == "ex-1"
    assert "Failed to read input" in str(err) and "corrupt PDF" in str(err)
    assert err.usage.credits_used == 0
    assert api.calls("GET", "/agent/executions/ex-1") == 2  # no spin until timeout


def test_cancelled_is_terminal_too() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="cancelled"))
    with pytest.raises(ExecutionFailedError, match="cancelled"):
        api.client().wait("ex-1")


def test_timeout_carries_id_and_last_status_and_can_resume() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="paused"))
    client = api.client(poll=PollSchedule(initial=1, multiplier=2, maximum=4))
    with pytest.raises(ExecutionTimeoutError) as info:
        client.wait("ex-1", wait_timeout=10)
    assert info.value.execution_id == "ex-1"
    assert info.value.status == "paused"
    assert "client.wait('ex-1')" in str(info.value)
    assert sum(api.sleeps) == pytest.approx(10)
    api.on("GET", "/agent/executions/ex-1", execution(status="completed", response={"ok": True}))
    api.routes[("GET", "/agent/executions/ex-1")].popleft()
    assert client.wait(info.value.execution_id).response == {"ok": True}


def test_polling_grows_to_a_cap_and_unknown_statuses_are_tolerated() -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        *[
            execution(status=s)
            for s in ["pending", "enqueued", "queued-for-gpu", "running", "running", "running"]
        ],
        execution(status="completed", response={"pages": []}),
    )
    api.client(poll=PollSchedule(initial=0.5, multiplier=2, maximum=3)).wait("ex-1")
    assert api.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


class Caption(BaseModel):
    caption: str


def test_run_with_url_does_not_upload() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, started)
    api.on(
        "GET",
        "/agent/executions/req-1",
        execution("req-1", "completed", response={"caption": "a cat"}),
    )
    result = api.client(request_id_factory=lambda: "req-1").run(
        "https://example.com/cat.jpg", prompt="Caption it", response_model=Caption
    )
    assert Caption.model_validate(result.response).caption == "a cat"
    body = json_body(api.requests[0])
    assert body["inputs"] == {
        "file": {"type": "file_url", "file_url": {"url": "https://example.com/cat.jpg"}}
    }
    assert body["config"]["json_schema"]["title"] == "Caption"
    assert not any("/files" in r.url.path for r in api.requests)


def test_run_uploads_then_executes_with_the_file_id(tmp_path: object) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/files/hash/unused",
        httpx.Response(200, json={"id": None}),
    )
    api.on(
        "POST",
        "/files",
        httpx.Response(201, json={"id": "file-1", "filename": "x.pdf", "bytes": 3}),
    )
    api.on("POST", EXECUTE, started)
    api.on(
        "GET", "/agent/executions/req-1", execution("req-1", "completed", response={"text": "hi"})
    )
    result = api.client(request_id_factory=lambda: "req-1").run(
        b"%PDF-abc", agent_name="a:v1", filename="x.pdf"
    )
    assert result.status == "completed"
    post = next(r for r in api.requests if r.url.path.endswith(EXECUTE))
    assert json_body(post)["inputs"]["file"] == {"type": "input_file", "file_id": "file-1"}


async def test_async_execute_adopts_after_timeout() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, httpx.ReadTimeout("no answer"))
    api.on("GET", "/agent/executions/req-1", execution("req-1", "running"))
    async with api.async_client(request_id_factory=lambda: "req-1") as client:
        assert (await client.execute(prompt="x")).id == "req-1"
    assert api.calls("POST", EXECUTE) == 1


async def test_async_failed_execution_raises() -> None:
    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", execution(status="failed", usage={"message": "bad"})
    )
    async with api.async_client() as client:
        with pytest.raises(ExecutionFailedError, match="bad"):
            await client.wait("ex-1")


async def test_async_timeout_carries_id() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution(status="running"))
    async with api.async_client() as client:
        with pytest.raises(ExecutionTimeoutError) as info:
            await client.wait("ex-1", wait_timeout=3)
    assert info.value.execution_id == "ex-1" and info.value.status == "running"


async def test_async_run_end_to_end() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, started)
    api.on(
        "GET",
        "/agent/executions/req-1",
        execution("req-1", "running"),
        execution("req-1", "completed", response={"a": 1}),
    )
    async with api.async_client(request_id_factory=lambda: "req-1") as client:
        result = await client.run("https://example.com/a.pdf", agent_name="a:v1")
    assert result.response == {"a": 1}


async def test_async_rate_limit_exhausted() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, httpx.Response(429, json={"detail": "slow"}))
    async with api.async_client(max_retries=1, retry=None) as client:
        with pytest.raises(RateLimitError):
            await client.execute(prompt="x")
    assert api.calls("POST", EXECUTE) == 2


def test_read_timeout_on_execute_then_lookup_404_resends() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, httpx.ReadTimeout("x"), started)
    api.on("GET", "/agent/executions/req-1", httpx.Response(404))
    api.client(request_id_factory=lambda: "req-1").execute(prompt="x")
    assert api.calls("POST", EXECUTE) == 2


def test_timeout_error_type() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/x", httpx.ReadTimeout("x"))
    with pytest.raises(APITimeoutError, match="timed out"):
        api.client(max_retries=0, retry=None).get_execution("x")


def test_learned_duration_delays_the_first_poll_of_the_next_execution() -> None:
    took_9s = {"created_at": "2026-07-20T18:00:00", "completed_at": "2026-07-20T18:00:09+00:00"}
    api = ScriptedAPI().on("POST", EXECUTE, started)
    client = api.client(request_id_factory=lambda: "req-1")
    for run in range(4):  # four jobs on the grid: polls at 0.5 ... 6.6 s see it running
        api.routes[("GET", "/agent/executions/req-1")].clear()
        api.on(
            "GET",
            "/agent/executions/req-1",
            *[execution("req-1", "running")] * 5,
            execution("req-1", "completed", response={"a": run}, **took_9s),
        )
        client.run("https://example.com/a.pdf", agent_name="a:v1")
    first_runs_polls = api.calls("GET", "/agent/executions/req-1")
    (kind,) = client.durations._kinds
    assert client.durations.probe(kind) == Probe(9.0, exact=True)  # the server's 9 s, proved exact

    api.routes[("GET", "/agent/executions/req-1")].clear()
    api.on(
        "GET",
        "/agent/executions/req-1",
        execution("req-1", "completed", response={"a": 2}, **took_9s),
    )
    api.sleeps.clear()
    client.run("https://example.com/b.pdf", agent_name="a:v1")
    assert api.sleeps == [9.0]  # slept until the expected end, then one poll
    assert api.calls("GET", "/agent/executions/req-1") == first_runs_polls + 1


# --- a wait outlives transient errors; errors after submission carry the id ----------


def test_wait_survives_an_outage_shorter_than_its_timeout() -> None:
    outage = [httpx.Response(503, text="<html>down</html>")] * 40 + [
        httpx.ConnectError("refused")
    ] * 10
    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", *outage, execution("ex-1", "completed", response={})
    )
    client = api.client(retry=None)  # the default RetryPolicy: 90 s per call
    start = api.now
    done = client.wait("ex-1", wait_timeout=300)
    assert done.status == "completed"
    assert api.now - start > 20  # the outage lasted longer than one call's usual retries
    assert api.calls("GET", "/agent/executions/ex-1") == 51


def test_an_outage_longer_than_the_wait_times_out_with_the_execution_id() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", httpx.Response(502))
    with pytest.raises(ExecutionTimeoutError) as raised:
        api.client(retry=None).wait("ex-1", wait_timeout=20)
    assert raised.value.execution_id == "ex-1"
    assert isinstance(raised.value.__cause__, InternalServerError)
    assert raised.value.__cause__.execution_id == "ex-1"
    assert "client.wait('ex-1')" in str(raised.value)


@pytest.mark.parametrize("failure", [401, 404])
def test_a_lasting_error_while_waiting_carries_the_execution_id(failure: int) -> None:
    api = ScriptedAPI().on("POST", EXECUTE, started)
    api.on("GET", "/agent/executions/req-1", httpx.Response(failure, json={"detail": "no"}))
    with pytest.raises(APIStatusError) as raised:
        api.client(request_id_factory=lambda: "req-1").run(URL, prompt="p")
    assert raised.value.status_code == failure
    assert raised.value.execution_id == "req-1"
    assert "client.wait('req-1')" in str(raised.value)
    if failure == 404:  # not known (yet): it may not go on server-side at all
        assert "does not know execution req-1" in str(raised.value)
        assert "goes on server-side" not in str(raised.value)


async def test_async_wait_survives_an_outage_too() -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        *[httpx.Response(500)] * 30,
        execution("ex-1", "completed", response={}),
    )
    done = await api.async_client(retry=None).wait("ex-1", wait_timeout=300)
    assert done.status == "completed"


def test_retries_of_one_call_end_by_time_not_by_count() -> None:
    api = ScriptedAPI().on("GET", "/files/f-1", httpx.Response(503))
    with pytest.raises(InternalServerError, match=r"gave up after \d+ attempts") as raised:
        api.client(retry=RetryPolicy(retry_timeout=30, jitter=lambda: 1.0)).get_file("f-1")
    assert sum(api.sleeps) == 30  # kept trying for the whole budget, no longer
    assert api.calls("GET", "/files/f-1") > 4  # more than any fixed small count
    assert raised.value.execution_id is None  # nothing was submitted


# --- learned poll timing corrects itself ---------------------------------------------


class LazyStampingServer:
    """Jobs take ``duration`` s; ``completed_at`` is stamped when a poll first sees one
    done (or never, or late), as some servers do. Time is the API's virtual clock."""

    def __init__(self, api: ScriptedAPI, duration: float, stamp: str = "lazy") -> None:
        self.api, self.duration, self.stamp = api, duration, stamp
        self.jobs: dict[str, tuple[float, float | None]] = {}
        api.on("POST", EXECUTE, self.execute)

    def execute(self, request: httpx.Request) -> httpx.Response:
        job_id = json_body(request)["id"]
        self.jobs[job_id] = (self.api.now, None)
        self.api.on("GET", f"/agent/executions/{job_id}", self.poll)
        return httpx.Response(201, json={"id": job_id, "status": "enqueued", "usage": {}})

    def poll(self, request: httpx.Request) -> httpx.Response:
        job_id = request.url.path.rsplit("/", 1)[1]
        created, stamped = self.jobs[job_id]
        if self.api.now < created + self.duration:
            return execution(job_id, "running")
        if stamped is None:
            stamped = self.api.now if self.stamp == "lazy" else created + 3600
            self.jobs[job_id] = (created, stamped)
        stamps = {"created_at": iso(created)}
        if self.stamp != "missing":
            stamps["completed_at"] = iso(stamped)
        return execution(job_id, "completed", response={"ok": True}, **stamps)


def _sequential_times(stamp: str, learn: bool, jobs: int = 30) -> list[float]:
    api = ScriptedAPI()
    LazyStampingServer(api, duration=1.0, stamp=stamp)
    ids = iter(range(jobs))
    client = api.client(
        poll=PollSchedule(learn_durations=learn), request_id_factory=lambda: f"job-{next(ids)}"
    )
    times = []
    for _ in range(jobs):
        start = api.now
        client.run(URL, prompt="p")
        times.append(api.now - start)
    return times


@pytest.mark.parametrize("stamp", ["lazy", "late", "missing"])
def test_learned_timing_does_not_drift_up_when_the_server_stamps_lazily(stamp: str) -> None:
    learned = _sequential_times(stamp, learn=True)
    unlearned = _sequential_times(stamp, learn=False)
    assert all(t >= 1.0 for t in learned)  # never reports before the job is done
    # no upward drift: the last ten jobs are no slower than the first ten
    assert sum(learned[-10:]) <= sum(learned[:10])
    # and learning is never worse than the plain schedule (virtual time: deterministic)
    assert sum(learned[-10:]) <= 1.1 * sum(unlearned[-10:])
    assert sum(learned[-10:]) / 10 < 1.15  # within 15 % of the true 1.0 s


def test_learned_timing_with_exact_stamps_probes_once_per_job() -> None:
    api = ScriptedAPI()
    server = LazyStampingServer(api, duration=1.0)
    server.stamp = "exact"
    original = server.poll

    def exact(request: httpx.Request) -> httpx.Response:
        job_id = request.url.path.rsplit("/", 1)[1]
        created, _ = server.jobs[job_id]
        server.jobs[job_id] = (created, created + server.duration)
        return original(request)

    server.poll = exact  # type: ignore[method-assign]
    ids = iter(range(10))
    client = api.client(request_id_factory=lambda: f"job-{next(ids)}")
    for _ in range(10):
        client.run(URL, prompt="p")
    polls_last_five = sum(api.calls("GET", f"/agent/executions/job-{i}") for i in range(5, 10))
    assert polls_last_five == 5  # one poll each, at the learned end


#: Stands for an agent the user created: a fresh account has none (MockTransport only).
TEST_AGENT = "test-fixture-agent:v1"


def test_execute_by_name_sends_the_agent_and_no_prompt() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, started)
    inputs = {"file": {"type": "input_file", "file_id": "file-1"}}
    execution_ = api.client(request_id_factory=lambda: "req-1").execute(
        agent_name=TEST_AGENT, inputs=inputs
    )
    assert execution_.id == "req-1" and execution_.status == "enqueued"
    (body,) = [json_body(r) for r in api.requests]
    assert body["name"] == TEST_AGENT and body["inputs"] == inputs
    assert "prompt" not in (body.get("config") or {})
    assert body["batch"] is True and body["metadata"]["allow_training"] is False


def test_immediate_schedule_never_sleeps_and_never_learns_durations() -> None:
    api = ScriptedAPI().on("POST", EXECUTE, started)

    def slow_poll(status: str) -> Callable[[httpx.Request], httpx.Response]:
        def reply(request: httpx.Request) -> httpx.Response:
            api.now += 3.0  # each poll takes 3 s of server time: the job ages without sleeps
            return execution("req-1", status, response={"a": 1})

        return reply

    api.on("GET", "/agent/executions/req-1", slow_poll("running"), slow_poll("completed"))
    client = api.client(poll=PollSchedule.immediate(), request_id_factory=lambda: "req-1")
    client.run(URL, agent_name="a:v1")
    client.run(URL, agent_name="a:v1")
    assert all(s == 0 for s in api.sleeps)
    assert client.durations._kinds == {}  # nothing learned, so no delayed probe


# --- ExecuteRequest: one merge rule for keywords, options and config -----------------

SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}}


def test_execute_request_merges_keywords_options_and_config_into_the_body() -> None:
    request = ExecuteRequest(
        prompt="p",
        config={"custom": 1},
        metadata={"tag": "x"},
        callback_url="https://hooks.example/done",
        options=ExecuteOptions(model="m", toolsets=["web"], service_tier="flex", session_id="s-1"),
        id="req-1",
    )
    assert (request.model, request.toolsets) == ("m", ["web"])
    assert request.config == {"custom": 1, "service_tier": "flex"}
    assert request.metadata == {"tag": "x", "session_id": "s-1"}
    assert request.body() == {
        "id": "req-1",
        "name": None,
        "batch": True,
        "inputs": {},
        "config": {"custom": 1, "service_tier": "flex", "prompt": "p"},
        "metadata": {"allow_training": False, "tag": "x", "session_id": "s-1"},
        "callback_url": "https://hooks.example/done",
        "model": "m",
        "toolsets": ["web"],
    }


def test_execute_request_takes_model_and_toolsets_as_keywords() -> None:
    request = ExecuteRequest(prompt="p", model="m", toolsets=("web", "code"))
    assert (request.model, request.toolsets) == ("m", ["web", "code"])
    body = request.body()
    assert body["model"] == "m" and body["toolsets"] == ["web", "code"]
    same = ExecuteRequest(prompt="p", model="m", options=ExecuteOptions(model="m"))
    assert same.model == "m"  # the same value twice is no conflict
    with pytest.raises(ValueError) as info:
        ExecuteRequest(prompt="p", model="a", options=ExecuteOptions(model="b"))
    assert str(info.value).startswith("model is given twice with different values")


def test_execute_request_reads_prompt_and_schema_from_config() -> None:
    request = ExecuteRequest(config={"prompt": "p", "json_schema": SCHEMA})
    assert (request.prompt, request.json_schema) == ("p", SCHEMA)
    assert request.config is None and request.metadata is None  # nothing else was given
    assert request.model is None and request.toolsets is None
    assert request.body()["config"] == {"prompt": "p", "json_schema": SCHEMA}
    assert request.body()["model"] == "vlmrun-orion-1:auto"  # the SDK's default, as it sends
    assert "toolsets" not in request.body()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"prompt": "p", "inputs": ["x"]}, TypeError, "inputs must be a dict with string keys"),
        ({"prompt": "p", "metadata": "x"}, TypeError, "metadata must be a dict with string keys"),
        (
            {"prompt": "p", "options": "fast"},
            TypeError,
            "options must be an ExecuteOptions, got str.",
        ),
        ({"name": "no such/agent"}, ValueError, "Invalid agent name 'no such/agent'"),
        (
            {},
            ValueError,
            "Give a prompt='...' to run, or name an agent (name='name:version').",
        ),
    ],
)
def test_execute_request_refuses_what_it_cannot_send(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        ExecuteRequest(**kwargs)
    assert str(info.value).startswith(message)


def test_cache_fields_hold_what_changes_the_result_and_nothing_else() -> None:
    request = ExecuteRequest(
        name=TEST_AGENT,
        prompt="p",
        json_schema=SCHEMA,
        config={"service_tier": "flex", "custom": 1},
        model="m",
        toolsets=["web"],
        inputs={"file": {"type": "input_file", "file_id": "f-1"}, "pages": [1]},
        metadata={"tag": "x"},
        allow_training=True,
    )
    assert request.cache_fields("file") == {
        "name": TEST_AGENT,
        "prompt": "p",
        "json_schema": SCHEMA,
        "config": {"custom": 1},
        "model": "m",
        "toolsets": ["web"],
        "inputs": {"pages": [1]},
        "input_key": "file",
        "allow_training": True,
    }


# --- the wait and create_once operations, driven effect by effect -------------------


def _job(status: str) -> httpx.Response:
    return execution("ex-1", status, response={"a": 1} if status == "completed" else None)


def _running() -> AgentExecution:
    return AgentExecution.model_validate({"id": "ex-1", "status": "running", "usage": {}})


def _failure(status: int, retry_after: float | None = None) -> APIStatusError:
    return status_error_from_response(httpx.Response(status), retry_after=retry_after)


def test_wait_probes_at_the_expected_end_then_follows_up_then_rejoins_the_grid() -> None:
    driver = Driver(*[_job("running")] * 4, _job("completed"))
    seen: list[Completion] = []
    probe = Probe(10.0, then=(11.5,))
    operation = waiting(driver, probe, on_complete=seen.append)
    assert driver.run(operation).status == "completed"
    # probe at 10 s, its follow-up at 11.5 s, then the grid's own times: 15 s, then 23, 31
    assert driver.sleeps() == [(10.0, True), (1.5, True), (3.5, True), (8.0, True), (8.0, True)]
    (done,) = seen
    assert (done.lower, done.upper, done.probe, done.hit) == (23.0, 31.0, probe, False)
    assert [c.retry_for for c in driver.calls()] == [90.0, 88.5, 85.0, 77.0, 69.0]


def test_wait_probe_never_comes_before_the_grids_first_poll() -> None:
    driver = Driver(_job("running"), _job("completed"))
    seen: list[Completion] = []
    operation = waiting(driver, Probe(0.2, then=(0.3,)), on_complete=seen.append)
    driver.run(operation)
    # the probe waits for the grid's first poll (1 s); its follow-up is then past: grid
    assert driver.sleeps() == [(1.0, True), (2.0, True)]
    assert [(c.upper, c.hit) for c in seen] == [(3.0, False)]


def test_a_scanning_probe_looks_below_itself_then_at_the_usual_end_then_the_grid() -> None:
    driver = Driver(_job("running"), _job("running"), _job("running"), _job("completed"))
    seen: list[Completion] = []
    probe = Probe(5.0, then=(6.0,), scan_from=2.0, exploring=True, floor=2.0)
    operation = waiting(driver, probe, on_complete=seen.append)
    driver.run(operation)
    # half the probe's time (2.5 s; an eighth and a quarter lie below scan_from), the
    # probe (5 s), the usual end (6 s), then the grid (7 s)
    assert [s for s, _ in driver.sleeps()] == [2.5, 2.5, 1.0, 1.0]
    assert [(c.lower, c.upper, c.hit) for c in seen] == [(6.0, 7.0, False)]


def test_a_probe_that_finds_the_job_done_is_reported_as_a_hit() -> None:
    driver = Driver(_job("completed"))
    seen: list[Completion] = []
    probe = Probe(10.0)
    operation = waiting(driver, probe, on_complete=seen.append)
    driver.run(operation)
    assert [(c.lower, c.upper, c.probe, c.hit) for c in seen] == [(0.0, 10.0, probe, True)]


def test_a_first_poll_without_a_probe_is_not_reported_as_a_hit() -> None:
    driver = Driver(_job("completed"))
    seen: list[Completion] = []
    operation = wait(
        "ex-1", timeout=100.0, schedule=WAIT_GRID, clock=driver.clock, on_complete=seen.append
    )
    driver.run(operation)
    assert [(c.lower, c.upper, c.probe, c.hit) for c in seen] == [(0.0, 0.0, None, False)]
    assert driver.sleeps() == []


def test_a_submission_already_complete_is_returned_without_a_request() -> None:
    done = AgentExecution.model_validate({"id": "ex-1", "status": "completed", "usage": {}})
    driver = Driver()
    seen: list[Completion] = []
    operation = wait(
        "ex-1",
        timeout=100.0,
        schedule=WAIT_GRID,
        clock=driver.clock,
        current=done,
        probe=Probe(10.0),
        on_complete=seen.append,
    )
    assert driver.run(operation) is done and driver.effects == []
    # nothing was polled: no probe was used, nothing to learn about one
    assert [(c.lower, c.upper, c.probe, c.hit) for c in seen] == [(0.0, 0.0, None, False)]


def test_a_clock_that_reads_a_hair_early_does_not_poll_in_a_loop() -> None:
    driver = Driver(*[_job("running")] * 3, _job("completed"))
    driver.on_sleep = lambda effect: setattr(driver, "now", driver.now - 1e-9)
    operation = wait("ex-1", timeout=100.0, schedule=WAIT_GRID, clock=driver.clock)
    driver.run(operation)
    assert len(driver.calls()) == 4 and all(s >= 0.99 for s, _ in driver.sleeps())


@pytest.mark.parametrize("submitted", [True, False])
def test_an_outage_at_the_end_of_a_wait_reports_the_last_status_seen(submitted: bool) -> None:
    replies: list[httpx.Response | Exception] = [] if submitted else [_job("enqueued")]
    driver = Driver(*replies, _failure(503))
    operation = wait(
        "ex-1",
        timeout=100.0,
        schedule=WAIT_GRID,
        clock=driver.clock,
        current=_running() if submitted else None,
    )
    with pytest.raises(ExecutionTimeoutError) as info:
        driver.run(operation)
    assert info.value.status == ("running" if submitted else "enqueued")
    assert info.value.waited == 1.0 and info.value.execution_id == "ex-1"


def test_the_last_poll_of_a_wait_retries_only_until_the_deadline() -> None:
    driver = Driver(_job("running"), _job("running"), _job("completed"))
    operation = wait("ex-1", timeout=1.5, schedule=WAIT_GRID, clock=driver.clock)
    assert driver.run(operation).status == "completed"  # one last look at the deadline
    assert [c.retry_for for c in driver.calls()] == [1.5, 0.5, 0.0]
    assert driver.sleeps() == [(1.0, True), (0.5, True)]


def _execute_once(driver: Driver, retry: RetryPolicy) -> Any:
    return driver.run(
        create_once(
            Call("POST", EXECUTE, json={"id": "ex-1"}),
            AgentExecution,
            lambda: find_execution("ex-1"),
            retry,
            "execute ex-1",
        )
    )


def test_create_once_counts_its_pauses_when_time_stands_still() -> None:
    not_found = httpx.Response(404, json={"detail": "Execution not found"})
    driver = Driver(*[_failure(502), not_found] * 5, frozen=True)
    with pytest.raises(InternalServerError):
        _execute_once(
            driver, RetryPolicy(retry_timeout=2.0, initial_backoff=0.5, jitter=lambda: 1.0)
        )
    # each ambiguous failure: pause, look up, re-send, until the pauses fill the budget
    assert [s for s, _ in driver.sleeps()] == [0.5, 1.0, 0.5]
    assert [c.method for c in driver.calls()] == ["POST", "GET"] * 3 + ["POST"]


def test_create_once_waits_as_long_as_the_server_says_before_looking_up() -> None:
    driver = Driver(_failure(503, retry_after=3.0), _job("running"))
    adopted = _execute_once(driver, RetryPolicy(retry_timeout=10.0, jitter=lambda: 1.0))
    assert adopted.id == "ex-1" and driver.sleeps() == [(3.0, False)]
    too_long = Driver(_failure(503, retry_after=30.0))
    with pytest.raises(InternalServerError):
        _execute_once(too_long, RetryPolicy(retry_timeout=10.0, jitter=lambda: 1.0))
    assert too_long.effects == [Call("POST", EXECUTE, json={"id": "ex-1"}, retry="unambiguous")]


# --- process(): what learned durations are keyed by, and the logs of create_once ----


def first_pause(service: VirtualService, data: bytes, request: ExecuteRequest, **kw: Any) -> float:
    """The pause before ``process``'s first poll of ``data`` (after its submission)."""
    before = len(service.driver.sleeps())
    service.process(data, request, **kw)
    return service.driver.sleeps()[before][0]


def test_durations_are_learned_per_agent_configuration_whatever_the_schema_key_order() -> None:
    service, memory = VirtualService(duration=10.0), DurationMemory()
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    reordered = {"properties": {"total": {"type": "number"}}, "type": "object"}
    for data in (b"%PDF-1.4 a", b"%PDF-1.4 b"):  # two on the grid: 1, 3, 7 s, seen at 15 s
        request = ExecuteRequest(prompt="p", json_schema=schema)
        assert first_pause(service, data, request, durations=memory) == 1.0
    # the same configuration (its schema's keys in another order) has learned: it
    # explores halfway between the schedule's first poll (1 s) and the 15 s seen (8 s),
    # looking at an eighth, a quarter and a half of that first (1, 2, 4 s), then at the
    # usual end (15 s)
    again = ExecuteRequest(prompt="p", json_schema=reordered)
    before = len(service.driver.sleeps())
    service.process(b"%PDF-1.4 c", again, durations=memory)
    assert [s for s, _ in service.driver.sleeps()[before:]] == [1.0, 1.0, 2.0, 4.0, 7.0]
    # another prompt, schema or model has learned nothing yet
    for other in (
        ExecuteRequest(prompt="q", json_schema=schema),
        ExecuteRequest(prompt="p"),
        ExecuteRequest(prompt="p", json_schema=schema, model="vlm-1"),
    ):
        assert first_pause(service, b"%PDF-1.4 d", other, durations=memory) == 1.0


def test_durations_are_learned_per_file_size_class() -> None:
    service, memory = VirtualService(duration=10.0), DurationMemory()
    request = ExecuteRequest(prompt="p")
    for name in (b"a", b"b"):
        service.process(b"%PDF-1.4 " + name, request, durations=memory)
    kinds = set(memory._kinds)
    service.process(b"%PDF-1.4 " + b"x" * 5000, request, durations=memory)
    assert len(set(memory._kinds) - kinds) == 1  # a 5 kB file is another kind of job


def test_a_resumed_execution_is_polled_on_the_schedule_not_at_the_learned_end() -> None:
    service, memory = VirtualService(duration=10.0), DurationMemory()
    cache = ResultCache(InMemoryByteStore())
    for data in (b"%PDF-1.4 a", b"%PDF-1.4 b"):
        service.process(data, ExecuteRequest(prompt="p"), durations=memory)
    (kind,) = memory._kinds
    assert memory.expected(kind) == 15.0
    request = ExecuteRequest(prompt="p")
    content = f"sha256:{hashlib.sha256(b'%PDF-1.4 c').hexdigest()}"
    cache.mark_submitted(cache.key(content, request.cache_fields("file")), "old-1", "file-0")
    service.created["old-1"] = service.driver.now  # a run that died had submitted it
    # its submission time is unknown: polled at once, then after 1, 2, 4... s
    assert first_pause(service, b"%PDF-1.4 c", request, durations=memory, cache=cache) == 1.0
    assert len(memory._kinds[kind].samples) == 2  # and nothing learned from it


def test_an_ambiguous_execute_is_logged_with_its_request_id_then_adopted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lost = _failure(502)
    driver = Driver(lost, execution("req-1", "enqueued"))
    retry = RetryPolicy(initial_backoff=2.0, jitter=lambda: 1.0)
    request = ExecuteRequest(id="req-1", prompt="p")
    with caplog.at_level(logging.INFO, logger="langchain_vlmrun"):
        assert driver.run(execute(request, retry)).id == "req-1"
    assert [(c.method, c.path) for c in driver.calls()] == [
        ("POST", "/agent/execute"),
        ("GET", "/agent/executions/req-1"),
    ]
    assert caplog.messages == [
        f"execute req-1 failed ambiguously ({lost.message}); checking in 2.0s before re-sending",
        "execute req-1 had reached the server; adopting it",
    ]
    # a check that resolves it is routine: nothing printed with logging unconfigured
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]


def test_a_schema_and_a_model_together_are_refused() -> None:
    class Total(BaseModel):
        total: float

    with pytest.raises(ValueError) as raised:
        schema_of(Total, {"type": "object"})
    assert str(raised.value) == "Pass either response_model or json_schema, not both."
    assert schema_of(Total, None) == Total.model_json_schema()


@pytest.mark.parametrize(
    ("probe_at", "follows_up"),
    [(1.3, True), (1.25, True), (1.2, False), (0.6, False)],
)
def test_a_probe_follows_up_only_with_a_grid_poll_it_saved(
    probe_at: float, follows_up: bool
) -> None:
    # the default grid polls at 0.5, 1.25, 2.375 s: a probe at or past 1.25 s stands in
    # for two grid polls and may spend one on its follow-up; a probe before it may not
    schedule = PollSchedule()
    driver = Driver(_job("running"), _job("running"), _job("completed"))
    operation = wait(
        "ex-1",
        timeout=100.0,
        schedule=schedule,
        clock=driver.clock,
        current=_running(),
        probe=Probe(probe_at, then=(probe_at * 1.15,)),
    )
    driver.run(operation)
    second = probe_at + driver.sleeps()[1][0]
    assert (second == pytest.approx(probe_at * 1.15)) is follows_up
    if not follows_up:
        assert second == pytest.approx(schedule.next_poll(probe_at))


def test_looks_below_a_probe_start_strictly_above_scan_from() -> None:
    from langchain_vlmrun.client._operations import _looks_up_to

    assert _looks_up_to(Probe(16.0, scan_from=4.0), earliest=0.5) == [8.0, 16.0]
    assert _looks_up_to(Probe(16.0, scan_from=3.9), earliest=0.5) == [4.0, 8.0, 16.0]
    assert _looks_up_to(Probe(16.0, scan_from=0.0), earliest=2.0) == [2.0, 4.0, 8.0, 16.0]
    assert _looks_up_to(Probe(16.0, scan_from=0.0), earliest=2.1) == [4.0, 8.0, 16.0]
