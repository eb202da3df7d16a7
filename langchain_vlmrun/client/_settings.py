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

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from langchain_core.stores import InMemoryByteStore
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._client import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.core._redaction import redact_url
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


class ServiceSettings(BaseModel):
    """The key and the endpoint, as every component (the chat model too) takes them, and
    shown in a ``repr`` without the key or credentials placed in ``base_url``."""

    model_config = ConfigDict(populate_by_name=True)

    def __repr_args__(self) -> Any:
        """As pydantic shows fields, with credentials in ``base_url`` redacted."""
        for name, value in super().__repr_args__():
            if name == "vlmrun_base_url" and isinstance(value, str):
                value = redact_url(value)
            yield name, value

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


class ClientSettings(ServiceSettings):
    """Key, endpoint, timeouts, retries, rate and cache; or ready ``client``/``async_client``.

    Clients are made lazily from these settings. Given one ready client, a client of the
    other kind is made like it (same key and settings, shared request budget).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

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
    """Where finished and in-flight executions are recorded (nothing is paid twice).
    Default for the tool and the extractor: their own in-memory cache, so an execution
    they started (one whose wait timed out, say) is resumed when the same input comes
    back, instead of being paid again."""
    client_kwargs: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)
    """Other ``VLMRunClient`` arguments for the clients this component creates."""
    client: VLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A configured sync client (retries, budget, transport...) to use instead."""
    async_client: AsyncVLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A configured async client to use instead."""

    _own_client: VLMRunClient | None = PrivateAttr(default=None)
    _own_async_client: AsyncVLMRunClient | None = PrivateAttr(default=None)
    _budget: RequestBudget | None = PrivateAttr(default=None)
    #: Given clients that arrived in a pickle (``client``, ``async_client``): made when
    #: unpickled, for this component alone, so :meth:`close` closes them too.
    _adopted: tuple[str, ...] = PrivateAttr(default=())
    #: Without ``cache``: this component's own in-memory record of what it ran.
    _memory: ResultCache | None = PrivateAttr(default=None)
    #: A variant (see :meth:`_variant`): the component whose clients it uses.
    _origin: ClientSettings | None = PrivateAttr(default=None)

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

    def _variant(self, **update: Any) -> Self:
        """This component with ``update`` (a setting of its own, say), using this
        component's clients as they are when it is used: for a variant a component keeps
        for itself (closing the component closes what the variant uses)."""
        variant = self.model_copy(update=update)
        variant._origin = self
        return variant

    def _sync_client(self) -> VLMRunClient:
        if self._origin is not None:
            return self._origin._sync_client()
        if self.client is not None:
            return self.client
        if self._own_client is None:
            self._own_client = self.new_client()
        return self._own_client

    def _async_client(self) -> AsyncVLMRunClient:
        if self._origin is not None:
            return self._origin._async_client()
        if self.async_client is not None:
            return self.async_client
        if self._own_async_client is None:
            self._own_async_client = self.new_async_client()
        return self._own_async_client

    def result_cache(self) -> ResultCache:
        """``cache``, else this component's own in-memory one: an execution it started
        is resumed, not paid again, when the same input comes back (after a wait timeout,
        say), and a result it got is reused. At most :data:`MEMORY_ENTRIES` records."""
        if self.cache is not None:
            return self.cache
        if self._origin is not None:
            return self._origin.result_cache()
        if self._memory is None:
            self._memory = memory_cache()
        return self._memory

    # -- closing, copies, pickles -------------------------------------------------------

    def _owned(self) -> tuple[VLMRunClient | None, AsyncVLMRunClient | None]:
        """The clients this component made (or adopted from a pickle), forgotten."""
        sync, asynchronous = self._own_client, self._own_async_client
        self._own_client = self._own_async_client = None
        if "client" in self._adopted:
            sync = self.client
        if "async_client" in self._adopted:
            asynchronous = self.async_client
        return sync, asynchronous

    def close(self) -> None:
        """Close the clients this component created (``client``/``async_client`` passed
        in are left open; they are yours). It makes new ones if used again. The async
        client's connections close with their event loop (or use :meth:`aclose`)."""
        sync, _ = self._owned()
        if sync is not None:
            sync.close()

    async def aclose(self) -> None:
        """:meth:`close`, also closing the async client's connections on this loop."""
        sync, asynchronous = self._owned()
        if sync is not None:
            sync.close()
        if asynchronous is not None:
            await asynchronous.aclose()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __getstate__(self) -> dict[Any, Any]:
        """A pickle (Dask, Ray, multiprocessing) holds the settings, **the API key
        included**, never a connection: the copy makes its clients when first used.
        Given clients travel as their settings (see ``VLMRunClient.__reduce__``) and
        belong to the copy, which closes them in :meth:`close`."""
        state = super().__getstate__()
        private = dict(state.get("__pydantic_private__") or {})
        private.update(_own_client=None, _own_async_client=None)
        private["_adopted"] = tuple(
            name for name in ("client", "async_client") if getattr(self, name) is not None
        )
        state["__pydantic_private__"] = private
        return state

    def __copy__(self) -> Self:
        """A copy with the same settings that makes its own clients (closing one never
        closes the other's); given clients, the cache and the request budget are shared."""
        copied = super().__copy__()
        copied._own_client = copied._own_async_client = None
        copied._adopted = ()
        return copied

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """pydantic's, with a deep copy always made by :meth:`__deepcopy__` (pydantic 2.14
        deep-copies field by field when given ``update``: the copy would carry copies of
        this component's clients, cache and request budget instead of sharing them)."""
        if not deep:
            return super().model_copy(update=update)
        copied: Self = self.__deepcopy__()
        return BaseModel.model_copy(copied, update=update) if update else copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        """A copy with the same settings that makes its own clients; given clients, the
        cache and the request budget are shared (not copied)."""
        memo = {} if memo is None else memo
        for shared in (self.client, self.async_client, self.cache, self._memory, self._budget):
            if shared is not None:
                memo[id(shared)] = shared
        for own in (self._own_client, self._own_async_client):
            if own is not None:
                memo[id(own)] = None  # the copy makes its own
        copied = super().__deepcopy__(memo)
        copied._adopted = ()  # adopted clients stay this component's
        return copied


#: The most records a component's own in-memory cache keeps (oldest pruned first).
MEMORY_ENTRIES = 1000


def memory_cache() -> ResultCache:
    """A component's own cache when none is given: in memory, bounded."""
    return ResultCache(InMemoryByteStore(), max_entries=MEMORY_ENTRIES, prune_every=100)


def type_name(value: Any) -> Any:
    """A class as JSON (``model_dump_json``): its dotted name; anything else as it is."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return value


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
