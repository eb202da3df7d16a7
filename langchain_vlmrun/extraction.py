"""``VLMRunExtractor``: a Runnable from a file to a validated pydantic object."""

from __future__ import annotations

import os
from typing import Any, Generic, TypeVar, Union

from langchain_core.documents.base import Blob
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import BaseModel, ConfigDict, Field

from langchain_vlmrun._settings import ClientSettings
from langchain_vlmrun._structured import validate_response
from langchain_vlmrun.cache import ResultCache

__all__ = ["ExtractorInput", "VLMRunExtractor"]

M = TypeVar("M", bound=BaseModel)

#: What the extractor accepts: a path, an http(s) URL, bytes or a LangChain Blob.
ExtractorInput = Union[str, "os.PathLike[str]", bytes, Blob]


class VLMRunExtractor(ClientSettings, RunnableSerializable[ExtractorInput, M], Generic[M]):
    """Read a file with VLM Run and return a validated ``response_model`` instance.

    Example:
        >>> from pydantic import BaseModel
        >>> from langchain_vlmrun import VLMRunExtractor
        >>> class Invoice(BaseModel):
        ...     invoice_id: str
        ...     total_amount: float
        >>> extract = VLMRunExtractor(response_model=Invoice)
        >>> extract.invoke("invoice.pdf")  # doctest: +SKIP
        Invoice(invoice_id='INV-000001', total_amount=2338.35)
        >>> extract.batch(paths, config={"max_concurrency": 4})  # doctest: +SKIP

    ``invoke`` uses the sync client, ``ainvoke`` the async one; ``batch``/``abatch``
    honour ``max_concurrency``. A response that does not match the model raises
    ``ResponseValidationError`` listing the schema errors, with ``raw_response`` kept.

    Inputs are chosen by the developer, not by an LLM, so local paths are not confined
    here; give an LLM :class:`~langchain_vlmrun.VLMRunAgentTool` (with ``root_dir``)
    instead.
    """

    response_model: type[M]
    agent_name: str | None = None
    prompt: str | None = None
    """Defaults to "Extract the <Model> fields from this file." without an agent."""
    timeout: float | None = None
    cache: ResultCache | None = Field(default=None, exclude=True)
    callback_url: str | None = None
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def OutputType(self) -> type[M]:
        return self.response_model

    def _options(self, source: ExtractorInput) -> dict[str, Any]:
        model = self.response_model
        prompt = self.prompt
        if not prompt and not self.agent_name:
            prompt = f"Extract the {model.__name__} fields from this file."
        return {
            "source": source,
            "name": self.agent_name,
            "prompt": prompt,
            "response_model": model,
            "timeout": self.timeout,
            "cache": self.cache,
            "callback_url": self.callback_url,
            # a response that does not validate is not cached
            "accept": lambda execution: validate_response(execution, model),
        }

    def _extract(self, source: ExtractorInput) -> M:
        processed = self._sync_client().process(**self._options(source))
        return validate_response(processed.execution, self.response_model)

    async def _aextract(self, source: ExtractorInput) -> M:
        processed = await self._async_client().process(**self._options(source))
        return validate_response(processed.execution, self.response_model)

    def invoke(
        self, input: ExtractorInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> M:
        return self._call_with_config(self._extract, input, config, run_type="tool")

    async def ainvoke(
        self, input: ExtractorInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> M:
        return await self._acall_with_config(self._aextract, input, config, run_type="tool")
