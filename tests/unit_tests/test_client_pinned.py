"""VLMRunClient and AsyncVLMRunClient as a user configures and calls them: where the
key and the endpoint come from, each setting reaching what it governs, the headers
sent, transport failures word for word, the request budget, webhook waits, the
twin made from ``sibling_settings``, and which connections each client closes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel, SecretStr

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecuteOptions,
    ExecutionTimeoutError,
    MissingAPIKeyError,
    PollSchedule,
    ResultCache,
    RetryPolicy,
    VLMRunClient,
)
from langchain_vlmrun._version import __version__
from langchain_vlmrun.client._client import DEFAULT_BASE_URL, ClientHooks
from langchain_vlmrun.core.errors import (
    APIConnectionError,
    APITimeoutError,
    FileSourceError,
    InternalServerError,
    RateLimitError,
)
from langchain_vlmrun.core.models import AgentExecution
from tests.mock_api import BASE, ScriptedAPI, agent_info, execution, json_body, one_execution

KEY = "sk-test-SECRET-0123456789"
PDF = b"%PDF-1.4 client test\n"


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_BASE_URL", raising=False)


def plain(api: ScriptedAPI, **settings: Any) -> VLMRunClient:
    """A client on ``api`` with its own defaults (no retry or poll settings forced)."""
    settings.setdefault("base_url", BASE)
    settings.setdefault("_hooks", ClientHooks(clock=api.clock, sleep=api.sleep))
    return VLMRunClient(
        KEY, http_client=httpx.Client(transport=httpx.MockTransport(api.handler)), **settings
    )


def aplain(api: ScriptedAPI, **settings: Any) -> AsyncVLMRunClient:
    settings.setdefault("base_url", BASE)
    settings.setdefault("_hooks", ClientHooks(clock=api.clock, sleep=api.asleep))
    return AsyncVLMRunClient(
        KEY, http_client=httpx.AsyncClient(transport=httpx.MockTransport(api.handler)), **settings
    )


def both(
    make: Callable[[], ScriptedAPI], call: Callable[[Any], Any], **settings: Any
) -> tuple[list[Any], list[ScriptedAPI]]:
    """``call(client)`` with a sync client, then awaited with an async one (each on its
    own ``make()``): the two results and the two APIs."""
    apis = [make(), make()]

    async def run_async() -> Any:
        return await call(aplain(apis[1], **settings))

    return [call(plain(apis[0], **settings)), asyncio.run(run_async())], apis


def healthy() -> ScriptedAPI:
    return ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))


def upload_api() -> ScriptedAPI:
    return one_execution({"pages": [{"content": "hello"}]}).on(
        "POST", "/files", httpx.Response(201, json={"id": "file-1"})
    )


# --- the key and the endpoint ------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", SecretStr("")], ids=["none", "empty", "empty-secret"])
def test_without_a_key_the_constructor_says_where_to_get_one(key: Any) -> None:
    for kind in (VLMRunClient, AsyncVLMRunClient):
        with pytest.raises(MissingAPIKeyError) as caught:
            kind(key)
        assert str(caught.value).startswith(f"{kind.__name__} needs a VLM Run API key: ")


def test_the_key_comes_from_the_argument_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = SecretStr("sk-given")
    assert VLMRunClient(secret).api_key is secret
    assert VLMRunClient("sk-plain").api_key == SecretStr("sk-plain")
    monkeypatch.setenv("VLMRUN_API_KEY", "sk-from-env")
    assert VLMRunClient().api_key == SecretStr("sk-from-env")
    assert VLMRunClient("").api_key == SecretStr("sk-from-env")
    assert VLMRunClient("sk-plain").api_key == SecretStr("sk-plain")  # the argument wins


def test_the_base_url_comes_from_the_argument_the_environment_or_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert VLMRunClient(KEY).base_url == DEFAULT_BASE_URL == "https://api.vlm.run/v1"
    monkeypatch.setenv("VLMRUN_BASE_URL", "https://eu.vlm.test/v2/")
    assert VLMRunClient(KEY).base_url == "https://eu.vlm.test/v2"
    assert VLMRunClient(KEY, base_url="https://other.test/v1//").base_url == (
        "https://other.test/v1"
    )
    assert repr(VLMRunClient(KEY)) == "VLMRunClient(base_url='https://eu.vlm.test/v2')"
    assert repr(AsyncVLMRunClient(KEY)) == "AsyncVLMRunClient(base_url='https://eu.vlm.test/v2')"


def test_every_request_names_the_client_and_carries_the_key() -> None:
    results, apis = both(healthy, lambda client: client.health())
    assert results == [True, True]
    for request in [*apis[0].requests, *apis[1].requests]:
        assert str(request.url) == f"{BASE}/health"
        assert request.headers["user-agent"] == (
            f"langchain-vlmrun/{__version__} httpx/{httpx.__version__}"
        )
        assert request.headers["x-client-id"] == f"langchain-vlmrun-{__version__}"
        assert request.headers["authorization"] == f"Bearer {KEY}"


# --- settings reach what they govern -----------------------------------------------------


def sent_timeout(api: ScriptedAPI) -> dict[str, float]:
    return api.requests[-1].extensions["timeout"]  # type: ignore[no-any-return]


def test_the_request_timeout_applies_to_every_request() -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))
    plain(api).health()
    assert sent_timeout(api) == {"connect": 10.0, "read": 120.0, "write": 120.0, "pool": 120.0}
    plain(api, request_timeout=7.5).health()
    assert sent_timeout(api) == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    plain(api, request_timeout=1e9).health()  # the largest accepted
    assert sent_timeout(api)["read"] == 1e9


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        (
            {"request_timeout": 1.5e9},
            ValueError,
            "request_timeout=1500000000.0 s is beyond what sockets accept; use at most 1e+09 "
            "s (it is per request; wait_timeout bounds waits).",
        ),
        ({"request_timeout": 0}, ValueError, "request_timeout must be a number > 0, got 0."),
        ({"wait_timeout": 0}, ValueError, "wait_timeout must be a number > 0, got 0."),
        ({"retry_timeout": -1}, ValueError, "retry_timeout must be a number >= 0, got -1."),
        (
            {"retry_timeout": None},
            TypeError,
            "retry_timeout must be a number >= 0, got NoneType None.",
        ),
        ({"max_retries": -1}, ValueError, "max_retries must be an integer >= 0, got -1."),
        (
            {"max_retries": 1.5},
            TypeError,
            "max_retries must be an integer >= 0, got float 1.5.",
        ),
        (
            {"requests_per_minute": 0},
            ValueError,
            "requests_per_minute must be a number > 0, got 0.",
        ),
    ],
)
def test_settings_are_checked_when_the_client_is_made(
    settings: dict[str, Any], error: type[Exception], message: str
) -> None:
    for kind in (VLMRunClient, AsyncVLMRunClient):
        with pytest.raises(error) as caught:
            kind(KEY, **settings)
        assert str(caught.value) == message


def test_zero_retries_and_a_zero_retry_budget_are_accepted() -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(503), httpx.Response(200, json={}))
    with pytest.raises(InternalServerError):
        plain(api, max_retries=0).health()
    assert api.calls("GET", "/health") == 1
    api = ScriptedAPI().on("GET", "/health", httpx.Response(503), httpx.Response(200, json={}))
    with pytest.raises(InternalServerError):
        plain(api, retry_timeout=0).health()
    assert api.calls("GET", "/health") == 1


def test_without_retry_settings_a_transient_failure_is_retried() -> None:
    def flaky() -> ScriptedAPI:
        return ScriptedAPI().on("GET", "/health", httpx.Response(503), httpx.Response(200, json={}))

    results, apis = both(flaky, lambda client: client.health())
    assert results == [True, True]
    for api in apis:
        assert api.calls("GET", "/health") == 2
        assert len(api.sleeps) == 1  # one backoff, on the injected sleep


def test_a_retry_policy_given_wins_over_the_numbers() -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(503), httpx.Response(200, json={}))
    policy = RetryPolicy(max_retries=0)
    client = plain(api, retry=policy, max_retries=5)
    assert client.retry is policy
    with pytest.raises(InternalServerError):
        client.health()


def test_wait_gives_up_after_the_clients_wait_timeout() -> None:
    running = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))
    client = plain(running, poll=PollSchedule(initial=5.0, multiplier=1.0, maximum=5.0))
    assert client.wait_timeout == 600.0 and not client.wait_timeout_given
    with pytest.raises(ExecutionTimeoutError) as caught:
        client.wait("ex-1")
    assert caught.value.waited == pytest.approx(600.0, abs=5.0)
    client = plain(running, wait_timeout=20.0)
    assert client.wait_timeout_given
    with pytest.raises(ExecutionTimeoutError) as caught:
        client.wait("ex-1")
    assert caught.value.waited == pytest.approx(20.0, abs=5.0)
    with pytest.raises(ExecutionTimeoutError) as caught:
        client.wait("ex-1", wait_timeout=10.0)  # the call's own wins
    assert caught.value.waited == pytest.approx(10.0, abs=5.0)


def test_a_poll_schedule_given_to_wait_is_used() -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "running"),
        execution("ex-1", "completed"),
    )
    client = plain(api)
    done = client.wait("ex-1", poll=PollSchedule(initial=3.0, multiplier=1.0, maximum=3.0))
    assert done.status == "completed" and api.sleeps == [3.0]


def test_upload_limits_reach_the_upload(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    api = upload_api()
    with pytest.raises(FileSourceError, match=r"over the 20-byte limit \(max_file_size\)"):
        plain(api, max_file_size=len(PDF) - 1).upload_file(path)
    assert api.requests == []
    hashed = upload_api()  # the md5 lookup answers 404: not uploaded before
    plain(hashed, hash_lookup_min_size=1).upload_file(path)
    lookup, upload = hashed.requests
    assert lookup.method == "GET" and lookup.url.path.startswith("/v1/files/hash/")
    assert (upload.method, upload.url.path) == ("POST", "/v1/files")
    direct = upload_api()
    plain(direct).upload_file(path, filename="named.pdf", purpose="vision")
    (sent,) = direct.requests
    assert b'filename="named.pdf"' in sent.content and sent.url.params["purpose"] == "vision"
    plain(direct).upload_file(path)
    assert direct.requests[-1].url.params["purpose"] == "assistants"


def test_allow_training_is_sent_with_every_execution() -> None:
    for allowed in (False, True):
        api = upload_api()
        plain(api, allow_training=allowed).execute(prompt="p", request_id="req-1")
        body = json_body(api.first("POST", "/agent/execute"))
        assert body["metadata"] == {"allow_training": allowed}
        assert body["id"] == "req-1"


def test_each_execute_gets_a_fresh_request_id_unless_given() -> None:
    ids = iter(["id-1", "id-2"])
    api = upload_api()
    client = api.client(request_id_factory=lambda: next(ids))
    client.execute(prompt="p")
    client.execute(prompt="p")
    client.execute(prompt="p", request_id="mine")
    sent = [json_body(r)["id"] for r in api.requests if r.url.path.endswith("/agent/execute")]
    assert sent == ["id-1", "id-2", "mine"]


def test_a_cache_is_kept_per_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    cache = ResultCache(InMemoryByteStore())
    api = upload_api()
    plain(api).process(path, prompt="p", cache=cache)
    plain(api).process(path, prompt="p", cache=cache)
    assert api.calls("POST", "/agent/execute") == 1  # the second from the cache
    plain(api, base_url="https://eu.api.test/v1").process(path, prompt="p", cache=cache)
    assert api.calls("POST", "/agent/execute") == 2  # another service: not its results


def test_run_checks_its_keywords() -> None:
    with pytest.raises(TypeError, match=r"VLMRunClient\.run.*did you mean 'prompt'"):
        plain(ScriptedAPI()).run("a.pdf", promt="p")
    with pytest.raises(TypeError, match=r"AsyncVLMRunClient\.run.*did you mean 'prompt'"):
        asyncio.run(aplain(ScriptedAPI()).run("a.pdf", promt="p"))


def test_run_returns_the_finished_execution(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    done, _ = both(upload_api, lambda client: client.run(path, prompt="p"))
    assert [e.status for e in done] == ["completed", "completed"]
    assert all(isinstance(e, AgentExecution) and e.id == "ex-1" for e in done)


# --- transport failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "message", "sent"),
    [
        (
            httpx.ConnectError("connection refused"),
            APIConnectionError,
            f"Could not reach VLM Run at {BASE}/health: ConnectError: connection refused. "
            "Check the network and VLMRUN_BASE_URL.",
            False,
        ),
        (
            httpx.ConnectError("no route to HOST-X."),
            APIConnectionError,
            f"Could not reach VLM Run at {BASE}/health: ConnectError: no route to HOST-X. "
            "Check the network and VLMRUN_BASE_URL.",
            False,
        ),
        (
            httpx.ReadError(""),
            APIConnectionError,
            f"Could not reach VLM Run at {BASE}/health: ReadError: no detail. "
            "Check the network and VLMRUN_BASE_URL.",
            True,
        ),
        (
            httpx.ReadTimeout("timed out"),
            APITimeoutError,
            f"Request to {BASE}/health timed out (ReadTimeout); raise request_timeout=... "
            "if the network is slow.",
            True,
        ),
        (
            httpx.ConnectTimeout("timed out"),
            APITimeoutError,
            f"Request to {BASE}/health timed out (ConnectTimeout); raise request_timeout=... "
            "if the network is slow.",
            False,
        ),
        (
            httpx.PoolTimeout("timed out"),
            APITimeoutError,
            f"Request to {BASE}/health timed out (PoolTimeout); raise request_timeout=... "
            "if the network is slow.",
            False,
        ),
    ],
)
def test_a_transport_failure_says_where_and_whether_the_request_left(
    raised: Exception, kind: type[APIConnectionError], message: str, sent: bool
) -> None:
    api = ScriptedAPI().on("GET", "/health", raised)
    for client in (plain(api, max_retries=0), aplain(api, max_retries=0)):
        with pytest.raises(kind) as caught:
            result = client.health()
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        assert type(caught.value) is kind
        assert str(caught.value).startswith(message)
        assert caught.value.request_sent is sent
        assert caught.value.request is not None
        assert KEY not in str(caught.value.request.headers)
        assert caught.value.__context__ is None  # no httpx error (with the key) attached


# --- the request budget ------------------------------------------------------------------


def test_requests_per_minute_spaces_the_requests() -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))
    client = plain(api, requests_per_minute=60)
    for _ in range(3):
        client.health()
    assert api.calls("GET", "/health") == 3
    assert api.sleeps == pytest.approx([1.0, 1.0], rel=0.05)
    assert plain(api).budget is None


def test_a_budget_given_is_shared_and_a_429_slows_it() -> None:
    from langchain_vlmrun.client._budget import RequestBudget

    api = ScriptedAPI().on("GET", "/health", httpx.Response(429, headers={"retry-after": "5"}))
    budget = RequestBudget(600, clock=api.clock)
    client = plain(api, budget=budget, max_retries=0, requests_per_minute=1)
    assert client.budget is budget
    with pytest.raises(RateLimitError) as caught:
        client.health()
    assert caught.value.retry_after == 5.0
    assert budget.backlog() == pytest.approx(5.0, abs=0.2)  # everybody waits out the 429


def test_a_poll_waits_for_the_budgets_backlog_instead_of_booking_a_slot() -> None:
    from langchain_vlmrun.client._budget import RequestBudget

    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        execution("ex-1", "running"),
        execution("ex-1", "completed"),
    )
    budget = RequestBudget(6, clock=api.clock)  # one request per 10 s
    client = plain(api, budget=budget)
    client.wait("ex-1", poll=PollSchedule(initial=1.0, multiplier=1.0, maximum=1.0))
    assert api.sleeps[0] == pytest.approx(10.0, rel=0.05)  # not 1 s then 10 s more


# --- waits on webhooks -------------------------------------------------------------------


class Hub:
    """A delivery hub that answers every wait at once with ``delivered``."""

    def __init__(self, delivered: AgentExecution | None) -> None:
        self.delivered = delivered
        self.waits: list[tuple[str, float | None]] = []

    def wait(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        self.waits.append((execution_id, timeout))
        return self.delivered

    async def await_(self, execution_id: str, timeout: float | None) -> AgentExecution | None:
        return self.wait(execution_id, timeout)


def test_with_a_hub_wait_wakes_on_the_delivery() -> None:
    delivered = AgentExecution(id="ex-1", status="completed", response={"ok": True})

    def running() -> ScriptedAPI:
        return ScriptedAPI().on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))

    hub = Hub(delivered)
    done, apis = both(running, lambda client: client.wait("ex-1", wait_timeout=100.0), hub=hub)
    assert [d.response for d in done] == [{"ok": True}, {"ok": True}]
    assert [w[0] for w in hub.waits] == ["ex-1", "ex-1"]
    assert hub.waits[0][1] is not None and hub.waits[1][1] == hub.waits[0][1]
    assert apis[0].sleeps == apis[1].sleeps == []
    # a poll schedule given to the call polls instead
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", execution("ex-1", "completed"))
    hub = Hub(None)
    plain(api, hub=hub).wait("ex-1", poll=PollSchedule.immediate())
    assert hub.waits == []


# --- the twin and the connections --------------------------------------------------------


def test_sibling_settings_make_a_twin_that_behaves_the_same() -> None:
    from langchain_vlmrun.client._budget import RequestBudget

    hooks = ClientHooks(clock=lambda: 5.0, sleep=lambda s: None)
    budget = RequestBudget(60)
    client = VLMRunClient(
        KEY,
        base_url="https://eu.api.test/v1",
        request_timeout=9.0,
        poll=PollSchedule.immediate(),
        wait_timeout=42.0,
        presigned_threshold=123,
        hash_lookup_min_size=45,
        max_file_size=678,
        allow_training=True,
        budget=budget,
        check_agent_names=False,
        _hooks=hooks,
    )
    twin = AsyncVLMRunClient(**client.sibling_settings())
    assert twin.api_key == client.api_key
    assert (twin.base_url, twin.request_timeout) == ("https://eu.api.test/v1", 9.0)
    assert twin.poll is client.poll and twin.retry is client.retry
    assert (twin.wait_timeout, twin.wait_timeout_given) == (42.0, True)
    assert twin.uploads == client.uploads
    assert (twin.uploads.presigned_threshold, twin.uploads.max_file_size) == (123, 678)
    assert twin.uploads.hash_lookup_min_size == 45
    assert twin.allow_training is True and twin.check_agent_names is False
    assert twin.budget is budget and twin.leases is client.leases
    assert twin.clock() == 5.0 and twin.hooks.sleep is None  # it sleeps its own way
    assert VLMRunClient(**AsyncVLMRunClient(KEY).sibling_settings()).wait_timeout_given is False


def test_a_sync_client_closes_only_the_connections_it_opened() -> None:
    given = httpx.Client(transport=httpx.MockTransport(ScriptedAPI().handler))
    with VLMRunClient(KEY, http_client=given) as client:
        assert client._http is given
    assert not given.is_closed
    with VLMRunClient(KEY) as own:
        opened = own._http
        assert opened.follow_redirects
    assert opened.is_closed


def test_an_async_client_keeps_a_pool_per_event_loop_and_closes_its_own() -> None:
    client = AsyncVLMRunClient(KEY)
    pools: list[httpx.AsyncClient] = []

    async def use() -> None:
        async with client:
            pools.append(client._http)
            assert client._http is pools[-1]  # one per loop
            assert pools[-1].follow_redirects

    asyncio.run(use())
    asyncio.run(use())
    assert pools[0] is not pools[1]
    assert pools[0].is_closed and pools[1].is_closed
    given = httpx.AsyncClient(transport=httpx.MockTransport(ScriptedAPI().handler))

    async def use_given() -> None:
        async with AsyncVLMRunClient(KEY, http_client=given) as own:
            assert own._http is given

    asyncio.run(use_given())
    assert not given.is_closed


def test_requests_are_counted_per_client() -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))
    client = plain(api)
    client.health()
    client.health()
    other = plain(api)
    other.health()
    assert (client.requests.requests, other.requests.requests) == (2, 1)


def test_a_status_line_is_logged_at_debug_without_the_query_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = ScriptedAPI().on("GET", "/health", httpx.Response(200, json={}))
    with caplog.at_level(logging.DEBUG, logger="langchain_vlmrun"):
        plain(api).health()
    assert f"GET {BASE}/health -> 200" in caplog.messages


# --- history and agent names ---------------------------------------------------------------


def pages(*ids: list[str]) -> list[httpx.Response]:
    return [
        httpx.Response(200, json=[{"id": i, "status": "completed", "usage": {}} for i in page])
        for page in ids
    ]


def test_iter_executions_walks_the_history_once_each() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions", *pages(["c", "b"], ["b", "a"], []))
    assert [e.id for e in plain(api).iter_executions(page_size=2)] == ["c", "b", "a"]
    assert [dict(r.url.params) for r in api.requests] == [
        {"skip": "0", "limit": "2"},
        {"skip": "2", "limit": "2"},
        {"skip": "4", "limit": "2"},
    ]

    async def collect() -> list[str]:
        client = aplain(api)
        return [e.id async for e in client.iter_executions(page_size=2)]

    api = ScriptedAPI().on("GET", "/agent/executions", *pages(["c", "b"], ["b", "a"], []))
    assert asyncio.run(collect()) == ["c", "b", "a"]
    assert [r.url.params["skip"] for r in api.requests] == ["0", "2", "4"]
    api = ScriptedAPI().on("GET", "/agent/executions", *pages([]))
    assert list(plain(api).iter_executions()) == []
    assert dict(api.requests[0].url.params) == {"skip": "0", "limit": "100"}


def test_an_agent_name_is_checked_once_before_any_upload(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    api = upload_api()
    client = plain(api)
    client.run(path, agent_name="invoices:v1")
    client.run(path, agent_name="invoices:v1", cache=None)
    assert api.calls("POST", "/agent/lookup") == 1
    assert api.requests[0].url.path == "/v1/agent/lookup"
    unchecked = upload_api()
    plain(unchecked, check_agent_names=False).run(path, agent_name="invoices:v1")
    aunchecked = upload_api()
    asyncio.run(aplain(aunchecked, check_agent_names=False).run(path, agent_name="invoices:v1"))
    assert (
        unchecked.calls("POST", "/agent/lookup") == aunchecked.calls("POST", "/agent/lookup") == 0
    )


def test_an_immediate_schedule_never_sleeps() -> None:
    def api() -> ScriptedAPI:
        return ScriptedAPI().on(
            "GET",
            "/agent/executions/ex-1",
            execution("ex-1", "running"),
            execution("ex-1", "completed"),
        )

    done, apis = both(api, lambda c: c.wait("ex-1", poll=PollSchedule.immediate()))
    assert [d.status for d in done] == ["completed", "completed"]
    assert apis[0].sleeps == apis[1].sleeps == []


def test_closing_an_async_client_that_sent_nothing() -> None:
    async def unused() -> None:
        async with AsyncVLMRunClient(KEY):
            pass

    asyncio.run(unused())


def test_async_lookups_of_different_names_do_not_wait_for_each_other() -> None:
    api = ScriptedAPI()

    async def main() -> list[bool]:
        b_arrived = asyncio.Event()
        a_saw_b: list[bool] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            if json.loads(request.content)["name"] == "a":
                try:
                    await asyncio.wait_for(b_arrived.wait(), 5)
                    a_saw_b.append(True)
                except asyncio.TimeoutError:
                    a_saw_b.append(False)
            else:
                b_arrived.set()
            return api.handler(request)

        client = AsyncVLMRunClient(
            KEY,
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        )
        await asyncio.gather(client.require_agent("a"), client.require_agent("b"))
        return a_saw_b

    assert asyncio.run(main()) == [True]


# --- every argument reaches the request, in both clients -----------------------------------


class Total(BaseModel):
    total: float


TOTAL_SCHEMA = {
    "properties": {"total": {"title": "Total", "type": "number"}},
    "required": ["total"],
    "title": "Total",
    "type": "object",
}


def every_call(tmp_path: Path) -> list[Callable[[Any], Any]]:
    """One call of each method, with every argument it takes."""
    tmp_path.mkdir()
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    accepted: list[str] = []
    return [
        lambda c: c.execute(
            agent_name="invoices:v1",
            prompt="Read it",
            inputs={"hint": "x"},
            response_model=Total,
            config={"detail": "high"},
            metadata={"run": "r-7"},
            callback_url="https://hooks.test/x",
            model="m-1",
            toolsets=["ocr"],
            options=ExecuteOptions(service_tier="flex"),
            request_id="req-9",
        ),
        lambda c: c.process(
            path,
            prompt="p",
            json_schema=schema,
            inputs={"hint": "y"},
            config={"detail": "low"},
            metadata={"run": "r-8"},
            callback_url="https://hooks.test/y",
            model="m-2",
            toolsets=["web"],
            options=ExecuteOptions(service_tier="flex"),
            wait_timeout=30.0,
            input_key="document",
            filename="named.pdf",
            cache=ResultCache(InMemoryByteStore()),
            accept=lambda execution: accepted.append(execution.id),
        ),
        lambda c: c.run(path, agent_name="invoices:v1", input_key="doc"),
        lambda c: c.upload_file(path, filename="up.pdf", purpose="vision"),
        lambda c: c.get_file("file-7"),
        lambda c: c.get_execution("ex-1"),
        lambda c: c.wait("ex-1", wait_timeout=50.0, poll=PollSchedule.immediate()),
        lambda c: c.lookup_agent("receipts"),
        lambda c: c.lookup_agent(agent_id="agent-3"),
        lambda c: c.lookup_agent(prompt="Read receipts"),
        lambda c: c.get_agent("agent-4"),
        lambda c: c.list_agents(page_size=3),
        lambda c: c.create_agent(
            "Extract the total",
            name="totals",
            response_model=Total,
            config={"detail": "high"},
            inputs={"currency": "EUR"},
            callback_url="https://hooks.test/z",
        ),
        lambda c: c.list_executions(skip=4, limit=2),
        lambda c: c.list_artifacts("ex-1"),
        lambda c: c.download_artifact("ex-1", "img_1a2b3c", tmp_path / "artifacts"),
    ]


def lookup(request: httpx.Request) -> httpx.Response:
    """``POST /agent/lookup`` by name, id or prompt: each finds an agent of its own."""
    ((key, value),) = json.loads(request.content).items()
    name = value if key == "name" else f"by-{key}"
    return httpx.Response(200, json=agent_info(name))


def every_route() -> ScriptedAPI:
    api = upload_api().on("POST", "/agent/lookup", lookup)
    created = {"id": "agent-9", "name": "totals:v1", "status": "pending"}
    listed = {"namespace_id": "ns", "items": []}
    png = httpx.Response(200, headers={"content-type": "image/png"}, content=b"png")
    return (
        api.on("GET", "/files/file-7", httpx.Response(200, json={"id": "file-7"}))
        .on("GET", "/agents/agent-4", httpx.Response(200, json=agent_info("four")))
        .on("GET", "/agent", httpx.Response(200, json=[agent_info("a")]))
        .on("POST", "/agent/create", httpx.Response(200, json=created))
        .on("GET", "/agent/executions", httpx.Response(200, json=[]))
        .on("GET", "/artifacts/list", httpx.Response(200, json=listed))
        .on("GET", "/artifacts", png)
    )


def sent(api: ScriptedAPI) -> list[tuple[str, str, Any]]:
    """Each request: method, URL and JSON body (a multipart body by its file name)."""
    out = []
    for request in api.requests:
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/"):
            body: Any = re.findall(rb'filename="([^"]+)"', request.content)
        else:
            body = json.loads(request.content) if request.content else None
        out.append((request.method, str(request.url), body))
    return out


def test_both_clients_send_every_argument_the_same_way(tmp_path: Path) -> None:
    calls, acalls = every_call(tmp_path / "sync"), every_call(tmp_path / "async")
    ids = ["id-1", "id-2", "id-3"]
    sync_api, async_api = every_route(), every_route()
    client = plain(
        sync_api,
        _hooks=ClientHooks(
            clock=sync_api.clock, sleep=sync_api.sleep, request_id_factory=iter(ids).__next__
        ),
    )
    sync_results = [call(client) for call in calls]
    aclient = aplain(
        async_api,
        _hooks=ClientHooks(
            clock=async_api.clock, sleep=async_api.asleep, request_id_factory=iter(ids).__next__
        ),
    )

    async def run_async() -> list[Any]:
        return [await call(aclient) for call in acalls]

    async_results = asyncio.run(run_async())
    assert sent(async_api) == sent(sync_api)
    assert [type(r) for r in async_results] == [type(r) for r in sync_results]
    executed = [body for method, url, body in sent(sync_api) if url.endswith("/agent/execute")]
    assert executed[0] == {
        "id": "req-9",
        "name": "invoices:v1",
        "batch": True,
        "inputs": {"hint": "x"},
        "config": {
            "detail": "high",
            "service_tier": "flex",
            "prompt": "Read it",
            "json_schema": TOTAL_SCHEMA,
        },
        "metadata": {"allow_training": False, "run": "r-7"},
        "callback_url": "https://hooks.test/x",
        "model": "m-1",
        "toolsets": ["ocr"],
    }
    assert executed[1]["inputs"] == {
        "hint": "y",
        "document": {"type": "input_file", "file_id": "file-1"},
    }
    assert executed[1]["config"]["json_schema"] == {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }
    assert (executed[1]["model"], executed[1]["toolsets"]) == ("m-2", ["web"])
    assert executed[1]["id"] == "id-1"  # a fresh id when none is given
    assert executed[2]["inputs"] == {"doc": {"type": "input_file", "file_id": "file-1"}}
    assert executed[2]["name"] == "invoices:v1"
    uploads = [body for method, url, body in sent(sync_api) if url.startswith(f"{BASE}/files?")]
    assert uploads == [[b"named.pdf"], [b"a.pdf"], [b"up.pdf"]]
    created = next(body for method, url, body in sent(sync_api) if url.endswith("/agent/create"))
    assert created == {
        "name": "totals",
        "inputs": {"currency": "EUR"},
        "config": {"detail": "high", "prompt": "Extract the total", "json_schema": TOTAL_SCHEMA},
        "callback_url": "https://hooks.test/z",
    }
    urls = [url for method, url, body in sent(sync_api) if method == "GET"]
    assert f"{BASE}/agent?skip=0&limit=3" in urls
    assert f"{BASE}/agent/executions?skip=4&limit=2" in urls
    assert f"{BASE}/artifacts/list?execution_id=ex-1" in urls
    assert f"{BASE}/files?purpose=vision" in [u for m, u, b in sent(sync_api) if m == "POST"]
    (get_file, get_execution, waited) = sync_results[4:7]
    assert (get_file.id, get_execution.id, waited.status) == ("file-7", "ex-1", "completed")
    looked_up = [r.name for r in sync_results[7:11]]
    assert looked_up == ["receipts:v1", "by-id:v1", "by-prompt:v1", "four:v1"]
    assert [json.loads(r.content) for r in sync_api.requests if r.url.path.endswith("/lookup")][
        -3:
    ] == [{"name": "receipts"}, {"id": "agent-3"}, {"prompt": "Read receipts"}]
    assert sync_results[12].id == "agent-9"
    assert sync_results[15].path == tmp_path / "sync" / "artifacts" / "ex-1" / "img_1a2b3c.png"
    assert async_results[15].path.read_bytes() == b"png"
