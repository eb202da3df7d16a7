"""Client settings shared by the pydantic components (tool, extractor)."""

from __future__ import annotations

from typing import Any

from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_vlmrun._client import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun._validation import reject_unknown

__all__ = ["ClientSettings"]


class ClientSettings(BaseModel):
    """``api_key``/``base_url``, or ready ``client``/``async_client``; clients made lazily."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("VLMRUN_API_KEY", default=None), repr=False
    )
    """Default: ``VLMRUN_API_KEY``."""
    base_url: str | None = None
    """Default: ``VLMRUN_BASE_URL`` or ``https://api.vlm.run/v1``."""
    client: VLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A configured sync client (retries, budget, transport...) to use instead."""
    async_client: AsyncVLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A configured async client to use instead."""

    @model_validator(mode="before")
    @classmethod
    def _known_arguments(cls, values: Any) -> Any:
        """A misspelled argument is an error with a did-you-mean hint, not dropped."""
        if isinstance(values, dict):
            known = set()
            for name, info in cls.model_fields.items():
                known.add(name)
                if isinstance(info.alias, str):
                    known.add(info.alias)
            reject_unknown(cls.__name__, [k for k in values if k not in known], sorted(known))
        return values

    _own_client: VLMRunClient | None = PrivateAttr(default=None)
    _own_async_client: AsyncVLMRunClient | None = PrivateAttr(default=None)

    def _sync_client(self) -> VLMRunClient:
        if self.client is not None:
            return self.client
        if self._own_client is None:
            self._own_client = VLMRunClient(self.api_key, base_url=self.base_url)
        return self._own_client

    def _async_client(self) -> AsyncVLMRunClient:
        if self.async_client is not None:
            return self.async_client
        if self._own_async_client is None:
            self._own_async_client = AsyncVLMRunClient(self.api_key, base_url=self.base_url)
        return self._own_async_client
