"""Client settings shared by every component (tool, extractor, loader, parser).

In LangChain's idiom (as ``ChatOpenAI``'s ``openai_api_key``/``api_key``):
``vlmrun_api_key`` (alias ``api_key``, default ``VLMRUN_API_KEY``) and
``vlmrun_base_url`` (alias ``base_url``, default ``VLMRUN_BASE_URL``), ``request_timeout``
(seconds per HTTP request), ``wait_timeout`` (seconds to wait for an execution),
``max_retries``, ``requests_per_minute``, ``max_download_bytes`` (the largest artifact
saved) and ``cache``. A component without a key and
without a ready client fails when it is constructed, naming the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._client import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.core._validation import reject_unknown
from langchain_vlmrun.core.errors import MissingAPIKeyError

__all__ = [
    "ClientSettings",
    "settings_for",
]

#: Settings of the clients a component creates (not per call): meaningless with ready clients.
CLIENT_FIELDS = (
    "vlmrun_api_key",
    "vlmrun_base_url",
    "request_timeout",
    "max_retries",
    "requests_per_minute",
    "max_download_bytes",
    "client_kwargs",
)


class ClientSettings(BaseModel):
    """Key, endpoint, timeouts, retries, rate and cache; or ready ``client``/``async_client``.

    Clients are made lazily from these settings. Given one ready client, a client of the
    other kind is made like it (same key and settings, shared request budget).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    vlmrun_api_key: SecretStr | None = Field(
        alias="api_key",
        default_factory=secret_from_env("VLMRUN_API_KEY", default=None),
        repr=False,
    )
    """The VLM Run API key (alias ``api_key``). Default: ``VLMRUN_API_KEY``."""
    vlmrun_base_url: str | None = Field(
        alias="base_url", default_factory=from_env("VLMRUN_BASE_URL", default=None)
    )
    """API endpoint (alias ``base_url``). Default: ``VLMRUN_BASE_URL`` or
    ``https://api.vlm.run/v1``."""
    request_timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Seconds one HTTP request may take (default: 120, connect 10)."""
    wait_timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Seconds to wait for an execution to finish (default: the client's, 600)."""
    max_retries: int | None = Field(default=None, ge=0)
    """Cap on the retries of one request (default: none; retrying stops after 90 s)."""
    requests_per_minute: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Client-side request budget, shared by the clients this component creates."""
    max_download_bytes: int | None = Field(default=None, gt=0)
    """The largest artifact the clients save, in bytes (default 1 GiB): a larger one is
    refused (``ResponseRefusedError``) by its Content-Length or while it streams."""
    cache: ResultCache | None = Field(default=None, exclude=True)
    """Where finished and in-flight executions are recorded (nothing is paid twice)."""
    client_kwargs: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)
    """Other ``VLMRunClient`` arguments for the clients this component creates."""
    client: VLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A configured sync client (retries, budget, transport...) to use instead."""
    async_client: AsyncVLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A configured async client to use instead."""

    _own_client: VLMRunClient | None = PrivateAttr(default=None)
    _own_async_client: AsyncVLMRunClient | None = PrivateAttr(default=None)
    _budget: RequestBudget | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _known_arguments(cls, values: Any) -> Any:
        """A misspelled argument is an error with a did-you-mean hint, not dropped.
        Aliases count as known."""
        if isinstance(values, dict):
            for name, info in cls.model_fields.items():
                if isinstance(info.alias, str) and info.alias in values and name in values:
                    raise TypeError(
                        f"{cls.__name__}: pass {info.alias}= or {name}=, not both "
                        "(they are one setting)."
                    )
            known = setting_names(cls)
            reject_unknown(cls.__name__, [k for k in values if k not in known], known)
            for key_name in ("api_key", "vlmrun_api_key"):
                # pydantic's own error would show the value: a key of the wrong type
                key = values.get(key_name)
                if key is not None and not isinstance(key, (str, SecretStr)):
                    raise TypeError(
                        f"{cls.__name__}: {key_name} must be a str or SecretStr, not "
                        f"{type(key).__name__} (its value is not shown)."
                    )
        return values

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        # after every validator: the component's own argument checks come first
        if type(self) is not ClientSettings:  # plain settings are checked by their owner
            self.check(type(self).__name__)

    def check(self, owner: str) -> None:
        """Fail now, not at the first call: no key and no ready client, or client
        settings next to ready clients (they would be ignored)."""
        ready = self.client is not None or self.async_client is not None
        if not ready and self.key() is None:
            raise MissingAPIKeyError(owner)
        ignored = [f for f in CLIENT_FIELDS if f in self.model_fields_set]
        if self.client is not None and self.async_client is not None and ignored:
            names = ", ".join(_argument_name(f) for f in ignored)
            raise ValueError(
                f"{owner}: {names} configure the clients {owner} creates, but it was given "
                "client= and async_client=: set them on those clients instead."
            )

    # -- old attribute names -------------------------------------------------------------

    @property
    def api_key(self) -> SecretStr | None:
        """The key (``vlmrun_api_key``)."""
        return self.vlmrun_api_key

    @property
    def base_url(self) -> str | None:
        """The endpoint (``vlmrun_base_url``)."""
        return self.vlmrun_base_url

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Which fields are secrets, and the environment variable each comes from."""
        return {"vlmrun_api_key": "VLMRUN_API_KEY"}

    # -- clients -------------------------------------------------------------------------

    def key(self) -> SecretStr | None:
        """The key to use: ``vlmrun_api_key``, else ``client_kwargs["api_key"]``."""
        for candidate in (self.vlmrun_api_key, (self.client_kwargs or {}).get("api_key")):
            if isinstance(candidate, str):
                candidate = SecretStr(candidate)
            if isinstance(candidate, SecretStr) and candidate.get_secret_value():
                return candidate
        return None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for the clients this component creates."""
        options: dict[str, Any] = {**(self.client_kwargs or {}), "api_key": self.key()}
        if self.vlmrun_base_url is not None:
            options["base_url"] = self.vlmrun_base_url
        if self.request_timeout is not None:
            options["request_timeout"] = self.request_timeout
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        if self.max_download_bytes is not None:
            options["max_download_bytes"] = self.max_download_bytes
        if self.requests_per_minute is not None and "budget" not in options:
            if self._budget is None:
                self._budget = RequestBudget(self.requests_per_minute)
            options["budget"] = self._budget  # one budget for the sync and async clients
        return options

    def new_client(self) -> VLMRunClient:
        """A new sync client (the caller closes it): like ``async_client`` if only that
        was given, else from these settings."""
        if self.async_client is not None and self.client is None:
            return VLMRunClient(**self.async_client.sibling_settings())
        return VLMRunClient(**self.client_options())

    def new_async_client(self) -> AsyncVLMRunClient:
        """A new async client (the caller closes it): like ``client`` if only that was
        given, else from these settings."""
        if self.client is not None and self.async_client is None:
            return AsyncVLMRunClient(**self.client.sibling_settings())
        return AsyncVLMRunClient(**self.client_options())

    def _sync_client(self) -> VLMRunClient:
        if self.client is not None:
            return self.client
        if self._own_client is None:
            self._own_client = self.new_client()
        return self._own_client

    def _async_client(self) -> AsyncVLMRunClient:
        if self.async_client is not None:
            return self.async_client
        if self._own_async_client is None:
            self._own_async_client = self.new_async_client()
        return self._own_async_client


def setting_names(model: type[BaseModel] | None = None) -> list[str]:
    """Every name ``model`` (default :class:`ClientSettings`) takes: fields and aliases."""
    fields = (model or ClientSettings).model_fields
    names = set(fields)
    names.update(info.alias for info in fields.values() if isinstance(info.alias, str))
    return sorted(names)


def settings_for(
    owner: str, *, check: bool = True, own: Sequence[str] = (), **given: Any
) -> ClientSettings:
    """Settings for a plain component (loader, parser) from its keyword arguments;
    ``None`` means not given. ``api_key``/``vlmrun_api_key`` (and
    ``base_url``/``vlmrun_base_url``) are one setting: passing both is a ``TypeError``.
    With ``check=False`` the owner calls ``settings.check(owner)`` itself (after its
    other arguments are validated). A name that is neither a setting nor one of the
    owner's ``own`` arguments is a ``TypeError`` with a did-you-mean hint over both."""
    known = setting_names()
    reject_unknown(owner, [name for name in given if name not in known], [*known, *own])
    values = {name: value for name, value in given.items() if value is not None}
    for alias, name in (("api_key", "vlmrun_api_key"), ("base_url", "vlmrun_base_url")):
        if alias in values and name in values:
            raise TypeError(f"{owner}: pass {alias}= or {name}=, not both (they are one setting).")
        if alias in values:
            values[name] = values.pop(alias)
    settings = ClientSettings.model_validate(values)
    if check:
        settings.check(owner)
    return settings


def _argument_name(field: str) -> str:
    return {"vlmrun_api_key": "api_key", "vlmrun_base_url": "base_url"}.get(field, field)
