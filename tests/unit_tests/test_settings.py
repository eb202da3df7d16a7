"""Settings shared by every component, in LangChain's idiom: ``vlmrun_api_key``/``api_key``,
``vlmrun_base_url``/``base_url``, ``request_timeout``, ``wait_timeout``, ``max_retries``,
``requests_per_minute``; a missing key fails at construction; old names warn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecutionTimeoutError,
    MissingAPIKeyError,
    PollSchedule,
    RetryPolicy,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunExtractor,
    VLMRunLoader,
    VLMRunParser,
)
from langchain_vlmrun.client._client import ClientHooks
from tests.mock_api import BASE, ScriptedAPI, execution


class Receipt(BaseModel):
    total: float


URL = "https://example.com/receipt.png"

#: Each component, built with the given keyword arguments (and what it needs besides).
COMPONENTS: dict[str, Callable[..., Any]] = {
    "VLMRunAgentTool": lambda **kw: VLMRunAgentTool(prompt="Read it.", **kw),
    "VLMRunExtractor": lambda **kw: VLMRunExtractor(response_model=Receipt, **kw),
    "VLMRunLoader": lambda **kw: VLMRunLoader(URL, prompt="Read it.", **kw),
    "VLMRunParser": lambda **kw: VLMRunParser(prompt="Read it.", **kw),
}


def key_of(component: Any) -> SecretStr | None:
    settings = getattr(component, "settings", component)
    key: SecretStr | None = settings.vlmrun_api_key
    return key


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_BASE_URL", raising=False)


# --- the key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMPONENTS))
@pytest.mark.parametrize("argument", ["api_key", "vlmrun_api_key"])
def test_key_by_either_name(name: str, argument: str) -> None:
    component = COMPONENTS[name](**{argument: "sk-given"})
    key = key_of(component)
    assert isinstance(key, SecretStr) and key.get_secret_value() == "sk-given"


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_key_and_base_url_from_the_environment(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMRUN_API_KEY", "sk-env")
    monkeypatch.setenv("VLMRUN_BASE_URL", "https://eu.vlm.test/v1")
    settings = getattr(component := COMPONENTS[name](), "settings", component)
    assert settings.vlmrun_api_key.get_secret_value() == "sk-env"
    assert settings.vlmrun_base_url == "https://eu.vlm.test/v1"


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_missing_key_fails_at_construction_naming_the_fix(name: str) -> None:
    with pytest.raises(MissingAPIKeyError) as raised:
        COMPONENTS[name]()
    message = str(raised.value)
    assert message.startswith(f"{name} needs a VLM Run API key")
    assert "api_key=..." in message and "VLMRUN_API_KEY" in message


def test_empty_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMRUN_API_KEY", "")
    with pytest.raises(MissingAPIKeyError):
        VLMRunAgentTool(prompt="Read it.")


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_both_names_at_once_is_an_error(name: str) -> None:
    with pytest.raises(TypeError, match="not both"):
        COMPONENTS[name](api_key="a", vlmrun_api_key="b")


def test_lc_secrets_maps_the_key_to_its_variable() -> None:
    for component in (
        VLMRunAgentTool(prompt="Read it.", api_key="sk-given"),
        VLMRunExtractor(response_model=Receipt, api_key="sk-given"),
    ):
        assert component.lc_secrets == {"vlmrun_api_key": "VLMRUN_API_KEY"}
        assert "sk-given" not in repr(component)


def test_key_sent_is_the_one_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return execution("ex-1", "completed", response={"total": 1.0})

    tool = VLMRunAgentTool(
        prompt="Read it.",
        vlmrun_api_key="sk-given",
        base_url=BASE,
        client_kwargs={"http_client": httpx.Client(transport=httpx.MockTransport(handler))},
    )
    tool.invoke({"file": URL})
    assert seen[0].headers["authorization"] == "Bearer sk-given"
    assert str(seen[0].url) == f"{BASE}/agent/execute"


# --- ready clients ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_a_ready_client_needs_no_key(name: str) -> None:
    assert COMPONENTS[name](client=ScriptedAPI().client()) is not None


async def test_the_other_kind_of_client_is_made_like_the_given_one() -> None:
    api = ScriptedAPI().on(
        "POST", "/agent/execute", execution("ex-1", "completed", response={"total": 2.0})
    )
    given = api.client()
    extract = VLMRunExtractor(response_model=Receipt, client=given)
    made = extract._async_client()
    assert made.api_key == given.api_key and made.base_url == given.base_url
    assert made.retry is given.retry and made.budget is given.budget


@pytest.mark.parametrize("setting", ["api_key", "request_timeout", "max_retries"])
def test_client_settings_next_to_ready_clients_are_an_error(setting: str) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match=f"{setting} configure the clients"):
        VLMRunAgentTool(
            prompt="Read it.",
            client=api.client(),
            async_client=api.async_client(),
            **{setting: "sk-x" if setting == "api_key" else 5},
        )


# --- timeouts, retries, rate ----------------------------------------------------------------


def test_request_timeout_is_the_http_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return execution("ex-1", "completed", response={"total": 1.0})

    extract = VLMRunExtractor(
        response_model=Receipt,
        api_key="k",
        request_timeout=7.5,
        client_kwargs={"http_client": httpx.Client(transport=httpx.MockTransport(handler))},
    )
    extract.invoke(URL)
    assert seen[0].extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


def running_forever() -> ScriptedAPI:
    api = ScriptedAPI().on("POST", "/agent/execute", execution("ex-1", "enqueued"))
    return api.on("GET", "/agent/executions/ex-1", execution("ex-1", "running"))


def test_wait_timeout_bounds_the_wait_for_an_execution() -> None:
    api = running_forever()
    extract = VLMRunExtractor(response_model=Receipt, wait_timeout=30, client=api.client())
    with pytest.raises(ExecutionTimeoutError) as raised:
        extract.invoke(URL)
    assert raised.value.execution_id == "ex-1"
    assert 30 <= sum(api.sleeps) < 60  # the client's own default is 600 s


def test_max_retries_caps_the_retries_of_clients_the_component_makes() -> None:
    api = ScriptedAPI().on("POST", "/agent/execute", httpx.Response(503))
    tool = VLMRunAgentTool(
        prompt="Read it.",
        api_key="k",
        base_url=BASE,
        max_retries=2,
        client_kwargs={
            "http_client": httpx.Client(transport=httpx.MockTransport(api.handler)),
            "_hooks": ClientHooks(sleep=api.sleep, clock=api.clock),
        },
    )
    message = tool.invoke(
        {"type": "tool_call", "id": "1", "name": tool.name, "args": {"file": URL}}
    )
    assert message.status == "error" and "unavailable" in message.content
    assert api.calls("POST", "/agent/execute") == 3  # the first try and two retries


def test_requests_per_minute_is_one_budget_for_both_clients() -> None:
    tool = VLMRunAgentTool(prompt="Read it.", api_key="k", requests_per_minute=30)
    sync_budget = tool._sync_client().budget
    assert sync_budget is not None and sync_budget is tool._async_client().budget


@pytest.mark.parametrize("name", ["VLMRunLoader", "VLMRunParser"])
def test_loader_and_parser_pass_their_settings_to_the_clients_they_make(name: str) -> None:
    component = COMPONENTS[name](
        api_key="k", base_url=BASE, request_timeout=9, max_retries=1, requests_per_minute=60
    )
    client = component.settings.new_client()
    assert client.base_url == BASE and client.request_timeout == 9
    assert client.retry.max_retries == 1 and client.budget is not None
    assert component.settings.new_async_client().budget is client.budget


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_misspelled_setting_gets_a_hint(name: str) -> None:
    with pytest.raises(TypeError, match=r"'max_retrys' \(did you mean 'max_retries'\?\)"):
        COMPONENTS[name](api_key="k", max_retrys=3)


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_timeout_alone_is_not_a_setting_and_the_hint_names_the_three(name: str) -> None:
    # one meaning per word: request_timeout (HTTP), wait_timeout, retry_timeout
    with pytest.raises(TypeError, match=r"'timeout' \(did you mean '\w+_timeout'\?\)"):
        COMPONENTS[name](api_key="k", timeout=12)


def test_the_client_hints_misspellings_as_the_components_do() -> None:
    with pytest.raises(
        TypeError, match=r"'requests_per_minut' \(did you mean 'requests_per_minute'"
    ):
        VLMRunClient("k", requests_per_minut=10)  # type: ignore[call-arg]
    client = VLMRunClient("k", base_url=BASE)
    with pytest.raises(TypeError, match=r"'promt' \(did you mean 'prompt'\?\)"):
        client.run(URL, promt="p")
    with pytest.raises(TypeError, match=r"'timeout' \(did you mean 'wait_timeout'\?\)"):
        client.process(URL, prompt="p", timeout=3)  # type: ignore[call-arg]


def test_the_old_attribute_names_of_the_key_and_endpoint_still_read() -> None:
    tool = VLMRunAgentTool(prompt="Read it.", api_key="k", base_url=BASE, wait_timeout=4)
    assert tool.api_key is tool.vlmrun_api_key and tool.base_url == BASE
    assert not hasattr(tool, "timeout")


def test_clients_need_a_key_too() -> None:
    with pytest.raises(MissingAPIKeyError, match="VLMRunClient needs"):
        VLMRunClient()
    with pytest.raises(MissingAPIKeyError, match="AsyncVLMRunClient needs"):
        AsyncVLMRunClient(poll=PollSchedule.immediate(), retry=RetryPolicy())


def test_a_tool_with_a_cache_pays_once_for_the_same_file() -> None:
    from langchain_core.stores import InMemoryByteStore

    from langchain_vlmrun import ResultCache

    api = ScriptedAPI().on(
        "POST", "/agent/execute", execution("ex-1", "completed", response={"text": "hello"})
    )
    tool = VLMRunAgentTool(
        prompt="Read it.", cache=ResultCache(InMemoryByteStore()), client=api.client()
    )
    assert tool.invoke({"file": URL}) == tool.invoke({"file": URL}) == "hello"
    assert api.calls("POST", "/agent/execute") == 1


@pytest.mark.parametrize("use_async", [False, True])
def test_the_client_takes_wait_timeout_per_call_as_the_components_do(use_async: bool) -> None:
    import asyncio

    api = running_forever()
    if use_async:
        with pytest.raises(ExecutionTimeoutError) as raised:
            asyncio.run(api.async_client().run(URL, prompt="Read it.", wait_timeout=30))
    else:
        with pytest.raises(ExecutionTimeoutError) as raised:
            api.client().run(URL, prompt="Read it.", wait_timeout=30)
    assert raised.value.execution_id == "ex-1"
    assert 30 <= sum(api.sleeps) < 60  # the client's own default is 600 s
