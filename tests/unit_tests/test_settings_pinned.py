"""``ClientSettings`` word for word: the names it takes (and the hint for one it does
not), the bounds of each number, what its clients are made with, which settings are
refused next to ready clients, and that the key shows nowhere (repr, dump, errors)."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import pytest
from langchain_core.stores import InMemoryByteStore
from pydantic import SecretStr, ValidationError

from langchain_vlmrun import AsyncVLMRunClient, MissingAPIKeyError, ResultCache, VLMRunClient
from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._settings import (
    CLIENT_FIELDS,
    ClientSettings,
    setting_names,
    settings_for,
)
from tests.mock_api import BASE, ScriptedAPI

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_BASE_URL", raising=False)


class Component(ClientSettings):
    """A component made of settings (as the tool and the extractor are)."""


# --- names -------------------------------------------------------------------------------


def test_setting_names_are_the_fields_and_their_aliases() -> None:
    assert setting_names() == [
        "api_key",
        "async_client",
        "base_url",
        "cache",
        "client",
        "client_kwargs",
        "max_download_bytes",
        "max_retries",
        "request_timeout",
        "requests_per_minute",
        "vlmrun_api_key",
        "vlmrun_base_url",
        "wait_timeout",
    ]
    assert setting_names(ClientSettings) == setting_names()


def test_setting_names_of_another_model() -> None:
    from pydantic import BaseModel, Field

    class Other(BaseModel):
        b: int = Field(0, alias="bee")
        a: int = 0

    assert setting_names(Other) == ["a", "b", "bee"]


def test_client_fields_are_the_settings_of_the_clients_made() -> None:
    assert CLIENT_FIELDS == (
        "vlmrun_api_key",
        "vlmrun_base_url",
        "request_timeout",
        "max_retries",
        "requests_per_minute",
        "max_download_bytes",
        "client_kwargs",
    )


@pytest.mark.parametrize(
    ("alias", "name"), [("api_key", "vlmrun_api_key"), ("base_url", "vlmrun_base_url")]
)
def test_either_name_of_a_setting(alias: str, name: str) -> None:
    by_alias = ClientSettings(**{alias: "v"})
    by_name = ClientSettings(**{name: "v"})
    for settings in (by_alias, by_name):
        value = getattr(settings, name)
        assert (value.get_secret_value() if isinstance(value, SecretStr) else value) == "v"
        assert getattr(settings, alias) is value  # the old attribute name reads it


@pytest.mark.parametrize(
    ("alias", "name"), [("api_key", "vlmrun_api_key"), ("base_url", "vlmrun_base_url")]
)
def test_both_names_of_one_setting_is_a_type_error(alias: str, name: str) -> None:
    with pytest.raises(TypeError) as raised:
        ClientSettings(**{alias: "a", name: "b"})
    assert str(raised.value) == (
        f"ClientSettings: pass {alias}= or {name}=, not both (they are one setting)."
    )
    with pytest.raises(TypeError) as raised:
        Component(**{alias: "a", name: "b"})
    assert str(raised.value).startswith(f"Component: pass {alias}= or {name}=, not both")


def test_a_misspelled_setting_is_a_type_error_with_a_hint() -> None:
    with pytest.raises(TypeError) as raised:
        ClientSettings(api_key="k", requests_per_minut=3)
    assert str(raised.value) == (
        "ClientSettings got an unexpected keyword argument 'requests_per_minut' "
        "(did you mean 'requests_per_minute'?)."
    )
    with pytest.raises(
        TypeError, match=r"^Component got an unexpected keyword argument 'base_ur' "
    ):
        Component(api_key="k", base_ur=BASE)


def test_aliases_and_field_names_are_known_not_hinted() -> None:
    settings = ClientSettings(api_key="k", base_url=BASE, wait_timeout=3, cache=None)
    assert settings.vlmrun_base_url == BASE and settings.wait_timeout == 3


def test_validation_of_an_already_made_model_passes_through() -> None:
    settings = ClientSettings(api_key="k")
    assert ClientSettings.model_validate(settings) is settings


# --- the key -----------------------------------------------------------------------------


def test_no_key_anywhere_is_none() -> None:
    settings = ClientSettings()
    assert settings.vlmrun_api_key is None and settings.key() is None
    assert settings.vlmrun_base_url is None


def test_key_and_base_url_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMRUN_API_KEY", KEY)
    monkeypatch.setenv("VLMRUN_BASE_URL", BASE)
    settings = ClientSettings()
    assert settings.vlmrun_api_key is not None
    assert settings.vlmrun_api_key.get_secret_value() == KEY
    assert settings.vlmrun_base_url == BASE
    assert settings.lc_secrets == {"vlmrun_api_key": "VLMRUN_API_KEY"}


def test_key_falls_back_to_client_kwargs() -> None:
    as_str = ClientSettings(client_kwargs={"api_key": KEY}).key()
    assert isinstance(as_str, SecretStr) and as_str.get_secret_value() == KEY
    secret = SecretStr(KEY)
    assert ClientSettings(client_kwargs={"api_key": secret}).key() is secret
    given = ClientSettings(api_key="mine", client_kwargs={"api_key": KEY}).key()
    assert given is not None and given.get_secret_value() == "mine"  # the setting first


@pytest.mark.parametrize("kwargs", [{}, {"api_key": ""}, {"api_key": 7}, {"other": 1}])
def test_empty_or_unusable_client_kwargs_key_is_no_key(kwargs: dict[str, Any]) -> None:
    assert ClientSettings(api_key="", client_kwargs=kwargs).key() is None
    empty = ClientSettings(api_key="", client_kwargs={"api_key": "fallback"}).key()
    assert empty is not None and empty.get_secret_value() == "fallback"


def test_key_hidden_from_repr_str_and_dump() -> None:
    settings = ClientSettings(api_key=KEY, client_kwargs={"api_key": KEY, "max_file_size": 9})
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert KEY not in shown
    assert repr(settings) == (
        "ClientSettings(vlmrun_base_url=None, request_timeout=None, wait_timeout=None, "
        "max_retries=None, requests_per_minute=None, max_download_bytes=None, cache=None)"
    )
    assert set(settings.model_dump()) == {
        "vlmrun_api_key",
        "vlmrun_base_url",
        "request_timeout",
        "wait_timeout",
        "max_retries",
        "requests_per_minute",
        "max_download_bytes",
    }


def test_ready_clients_are_not_shown_or_dumped() -> None:
    api = ScriptedAPI()
    settings = ClientSettings(client=api.client(), async_client=api.async_client())
    assert repr(settings) == (
        "ClientSettings(vlmrun_base_url=None, request_timeout=None, wait_timeout=None, "
        "max_retries=None, requests_per_minute=None, max_download_bytes=None, cache=None)"
    )
    assert "client" not in settings.model_dump() and "async_client" not in settings.model_dump()


@pytest.mark.parametrize("name", ["api_key", "vlmrun_api_key"])
@pytest.mark.parametrize("wrong", [12345678, ["sk-list-SECRET-0123"], ("sk-tuple-SECRET-0123",)])
def test_a_key_of_the_wrong_type_is_refused_without_showing_it(name: str, wrong: Any) -> None:
    with pytest.raises(TypeError) as raised:
        ClientSettings(**{name: wrong})
    message = str(raised.value)
    assert message == (
        f"ClientSettings: {name} must be a str or SecretStr, not {type(wrong).__name__} "
        "(its value is not shown)."
    )
    with pytest.raises(TypeError) as raised:
        settings_for("VLMRunLoader", **{name: wrong})
    for shown in (str(raised.value), repr(raised.value)):
        assert "SECRET" not in shown and "12345678" not in shown


def test_a_secret_str_key_is_kept_as_given() -> None:
    secret = SecretStr(KEY)
    assert ClientSettings(api_key=secret).vlmrun_api_key == secret


# --- bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["request_timeout", "wait_timeout", "requests_per_minute"])
def test_positive_finite_numbers(name: str) -> None:
    assert getattr(ClientSettings(**{name: 0.001}), name) == 0.001
    assert getattr(ClientSettings(**{name: 1}), name) == 1
    for wrong in (0, -1, math.inf, math.nan):
        with pytest.raises(ValidationError, match=name):
            ClientSettings(**{name: wrong})


def test_max_retries_may_be_zero_not_negative() -> None:
    assert ClientSettings(max_retries=0).max_retries == 0
    with pytest.raises(ValidationError, match="max_retries"):
        ClientSettings(max_retries=-1)


# --- checks ------------------------------------------------------------------------------


def test_plain_settings_are_checked_by_their_owner_not_at_construction() -> None:
    settings = ClientSettings()  # no key: no error yet
    with pytest.raises(MissingAPIKeyError) as raised:
        settings.check("VLMRunLoader")
    assert raised.value.component == "VLMRunLoader"


def test_a_component_without_key_or_client_fails_at_construction() -> None:
    with pytest.raises(MissingAPIKeyError) as raised:
        Component()
    assert raised.value.component == "Component"
    assert str(raised.value).startswith("Component needs a VLM Run API key")


@pytest.mark.parametrize("ready", ["client", "async_client"])
def test_one_ready_client_needs_no_key(ready: str) -> None:
    api = ScriptedAPI()
    client = api.client() if ready == "client" else api.async_client()
    assert getattr(Component(**{ready: client}), ready) is client


def test_a_key_in_client_kwargs_is_a_key() -> None:
    Component(client_kwargs={"api_key": KEY})


@pytest.mark.parametrize("field", CLIENT_FIELDS)
def test_each_client_setting_next_to_both_ready_clients_is_refused(field: str) -> None:
    api = ScriptedAPI()
    value: Any = {"client_kwargs": {}, "vlmrun_api_key": "k", "vlmrun_base_url": BASE}.get(field, 5)
    with pytest.raises(ValueError) as raised:
        Component(client=api.client(), async_client=api.async_client(), **{field: value})
    name = {"vlmrun_api_key": "api_key", "vlmrun_base_url": "base_url"}.get(field, field)
    assert str(raised.value) == (
        f"Component: {name} configure the clients Component creates, but it was given "
        "client= and async_client=: set them on those clients instead."
    )


def test_the_refused_settings_are_named_together_in_their_order() -> None:
    api = ScriptedAPI()
    settings = ClientSettings(
        client=api.client(),
        async_client=api.async_client(),
        max_retries=1,
        base_url=BASE,
        api_key="k",
    )
    with pytest.raises(ValueError, match=r"^Tool: api_key, base_url, max_retries configure"):
        settings.check("Tool")


@pytest.mark.parametrize("ready", ["client", "async_client"])
def test_client_settings_next_to_one_ready_client_are_for_the_other(ready: str) -> None:
    api = ScriptedAPI()
    client = api.client() if ready == "client" else api.async_client()
    Component(max_retries=1, request_timeout=3, **{ready: client})  # no error


def test_settings_that_are_not_client_settings_go_with_ready_clients() -> None:
    api = ScriptedAPI()
    Component(client=api.client(), async_client=api.async_client(), wait_timeout=4, cache=None)


# --- the clients made --------------------------------------------------------------------


def test_client_options_carry_each_given_setting() -> None:
    settings = ClientSettings(
        api_key=KEY,
        base_url=BASE,
        request_timeout=7,
        max_retries=2,
        client_kwargs={"max_file_size": 100},
    )
    options = settings.client_options()
    assert set(options) == {
        "api_key",
        "base_url",
        "request_timeout",
        "max_retries",
        "max_file_size",
    }
    assert options["api_key"].get_secret_value() == KEY
    assert (options["base_url"], options["request_timeout"], options["max_retries"]) == (BASE, 7, 2)
    assert options["max_file_size"] == 100


def test_client_options_leave_out_what_is_not_given() -> None:
    options = ClientSettings(api_key=KEY).client_options()
    assert set(options) == {"api_key"}


def test_client_options_override_client_kwargs() -> None:
    settings = ClientSettings(
        api_key=KEY, max_retries=0, client_kwargs={"max_retries": 5, "api_key": "other"}
    )
    options = settings.client_options()
    assert options["max_retries"] == 0 and options["api_key"].get_secret_value() == KEY


def test_one_budget_per_settings_unless_client_kwargs_bring_one() -> None:
    settings = ClientSettings(api_key=KEY, requests_per_minute=30)
    budget = settings.client_options()["budget"]
    assert isinstance(budget, RequestBudget)
    assert settings.client_options()["budget"] is budget  # the same for every client
    theirs = RequestBudget(10)
    given = ClientSettings(api_key=KEY, requests_per_minute=30, client_kwargs={"budget": theirs})
    assert given.client_options()["budget"] is theirs
    assert "requests_per_minute" not in given.client_options()


def test_the_budget_follows_requests_per_minute() -> None:
    fast = ClientSettings(api_key=KEY, requests_per_minute=120).client_options()["budget"]
    slow = ClientSettings(api_key=KEY, requests_per_minute=6).client_options()["budget"]
    assert fast.interval < slow.interval


def test_new_clients_are_made_from_the_settings() -> None:
    settings = ClientSettings(api_key=KEY, base_url=BASE, request_timeout=9, max_retries=1)
    for client in (settings.new_client(), settings.new_async_client()):
        assert client.api_key is not None and client.api_key.get_secret_value() == KEY
        assert client.base_url == BASE and client.request_timeout == 9
        assert client.retry.max_retries == 1
    assert type(settings.new_client()) is VLMRunClient
    assert type(settings.new_async_client()) is AsyncVLMRunClient


def test_a_client_of_the_other_kind_is_made_like_the_ready_one() -> None:
    api = ScriptedAPI()
    given = api.client(max_retries=7, retry=None)
    settings = ClientSettings(client=given, api_key="k", base_url="https://ignored.test/v1")
    made = settings.new_async_client()
    assert type(made) is AsyncVLMRunClient
    assert made.base_url == BASE and made.retry is given.retry and made.leases is given.leases
    assert settings._async_client() is settings._async_client()  # made once
    assert settings._sync_client() is given
    assert type(settings.new_client()) is VLMRunClient
    assert settings.new_client().base_url == "https://ignored.test/v1"  # not like the async


def test_a_sync_client_is_made_like_a_ready_async_one() -> None:
    api = ScriptedAPI()
    given = api.async_client()
    settings = ClientSettings(async_client=given, api_key="k", base_url="https://ignored.test/v1")
    made = settings.new_client()
    assert type(made) is VLMRunClient and made.base_url == BASE and made.leases is given.leases
    assert settings._sync_client() is settings._sync_client()
    assert settings._async_client() is given
    assert settings.new_async_client().base_url == "https://ignored.test/v1"


def test_with_both_ready_clients_new_ones_come_from_the_settings() -> None:
    api = ScriptedAPI()
    settings = ClientSettings(
        client=api.client(),
        async_client=api.async_client(),
        api_key="k",
        base_url="https://own.test/v1",
    )
    assert settings.new_client().base_url == "https://own.test/v1"
    assert settings.new_async_client().base_url == "https://own.test/v1"


def test_own_clients_are_made_once_each() -> None:
    settings = ClientSettings(api_key=KEY, base_url=BASE)
    sync, async_ = settings._sync_client(), settings._async_client()
    assert type(sync) is VLMRunClient and type(async_) is AsyncVLMRunClient
    assert settings._sync_client() is sync and settings._async_client() is async_


# --- settings_for ------------------------------------------------------------------------


def test_settings_for_maps_aliases_and_drops_none() -> None:
    settings = settings_for("VLMRunLoader", api_key=KEY, base_url=BASE, max_retries=None)
    assert settings.vlmrun_api_key is not None
    assert settings.vlmrun_api_key.get_secret_value() == KEY
    assert settings.vlmrun_base_url == BASE
    assert settings.model_fields_set == {"vlmrun_api_key", "vlmrun_base_url"}


def test_settings_for_takes_the_field_names_too() -> None:
    settings = settings_for("VLMRunLoader", vlmrun_api_key=KEY, vlmrun_base_url=BASE)
    assert settings.vlmrun_base_url == BASE


@pytest.mark.parametrize(
    ("alias", "name"), [("api_key", "vlmrun_api_key"), ("base_url", "vlmrun_base_url")]
)
def test_settings_for_both_names_is_a_type_error(alias: str, name: str) -> None:
    given: dict[str, Any] = {"api_key": KEY, alias: "a", name: "b"}
    with pytest.raises(TypeError) as raised:
        settings_for("VLMRunParser", **given)
    assert str(raised.value) == (
        f"VLMRunParser: pass {alias}= or {name}=, not both (they are one setting)."
    )


def test_settings_for_one_name_given_as_none_is_not_both() -> None:
    settings = settings_for("VLMRunParser", api_key=None, vlmrun_api_key=KEY)
    assert settings.vlmrun_api_key is not None


def test_settings_for_checks_the_key_unless_told_not_to() -> None:
    with pytest.raises(MissingAPIKeyError) as raised:
        settings_for("VLMRunParser")
    assert raised.value.component == "VLMRunParser"
    assert settings_for("VLMRunParser", check=False).key() is None


def test_settings_for_hints_over_settings_and_the_owners_own_arguments() -> None:
    with pytest.raises(TypeError) as raised:
        settings_for("VLMRunLoader", own=["prompt", "agent_name"], api_key=KEY, promt="x")
    assert str(raised.value) == (
        "VLMRunLoader got an unexpected keyword argument 'promt' (did you mean 'prompt'?)."
    )
    with pytest.raises(TypeError) as raised:
        settings_for("VLMRunLoader", api_key=KEY, max_retry=1, prompt="x")
    assert str(raised.value) == (
        "VLMRunLoader got unexpected keyword arguments 'max_retry' (did you mean "
        "'max_retries'?), 'prompt'."
    )


def test_settings_for_refuses_client_settings_next_to_both_clients() -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match=r"^VLMRunLoader: base_url configure the clients"):
        settings_for(
            "VLMRunLoader", client=api.client(), async_client=api.async_client(), base_url=BASE
        )


# --- the component's own cache, copies and pickles ----------------------------------------


def test_a_components_own_cache_keeps_the_latest_thousand_records() -> None:
    cache = Component(api_key=KEY).result_cache()

    def kept() -> int:
        return len(list(cache.store.yield_keys()))

    for n in range(1100):
        cache.mark_submitted(cache.key(f"sha256:{n:064x}", {}), f"ex-{n}", None)
        if n == 1098:
            assert kept() == 1099  # pruned every 100 writes, not at each
    assert kept() == 1000


def test_a_deep_copy_makes_its_own_clients_from_its_own_settings() -> None:
    component = Component(api_key=KEY, request_timeout=30)
    made = component._sync_client(), component._async_client()
    copied = component.model_copy(deep=True, update={"request_timeout": 5})
    assert copied._sync_client() is not made[0] and copied._async_client() is not made[1]
    assert copied._sync_client().request_timeout == 5
    assert copied._async_client().request_timeout == 5
    assert (component._sync_client(), component._async_client()) == made  # still its own
    component.close()
    copied.close()


def test_one_deep_copy_of_a_component_and_its_cache_keeps_them_shared() -> None:
    cache = ResultCache(InMemoryByteStore())
    component = Component(api_key=KEY, cache=cache)
    copied, also = copy.deepcopy([component, cache])
    assert copied is not component and copied.cache is cache and also is cache


def test_a_pickled_component_makes_its_clients_when_first_used() -> None:
    component = Component(api_key=KEY)
    component._sync_client()
    component._async_client()
    shipped = pickle.loads(pickle.dumps(component))
    assert (shipped._own_client, shipped._own_async_client) == (None, None)
    assert shipped._sync_client().api_key == component._sync_client().api_key
    component.close()


async def test_aclose_closes_the_clients_a_pickled_component_adopted() -> None:
    component = Component(
        client=VLMRunClient(KEY, base_url=BASE), async_client=AsyncVLMRunClient(KEY, base_url=BASE)
    )
    shipped = pickle.loads(pickle.dumps(component))
    sync, pool = shipped.client._http, shipped.async_client._http  # opened on this loop
    await shipped.aclose()
    assert sync.is_closed and pool.is_closed
    assert not component.client._http.is_closed  # the original's stay open
    component.client.close()


def test_every_kind_of_copy_makes_its_own_clients_and_shares_cache_and_budget() -> None:
    component = Component(
        api_key=KEY, requests_per_minute=60, cache=ResultCache(InMemoryByteStore())
    )
    mine = component._sync_client()
    assert mine.budget is not None
    for copied in (
        copy.copy(component),
        component.model_copy(),
        component.model_copy(update={"request_timeout": 5}),
        component.model_copy(deep=True),
        component.model_copy(deep=True, update={"request_timeout": 5}),
    ):
        theirs = copied._sync_client()
        assert theirs is not mine and copied.cache is component.cache
        assert theirs.budget is mine.budget  # one request budget for them all
        copied.close()  # closes its own client, never the original's
        assert theirs._http.is_closed and not mine._http.is_closed
    component.close()
