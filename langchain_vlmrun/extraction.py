"""``VLMRunExtractor``: a Runnable from a file to a validated pydantic object."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, Union

from langchain_core.documents.base import Blob
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from langchain_vlmrun._exceptions import FileSourceError
from langchain_vlmrun._paths import normalise_roots, resolve_allowed_file
from langchain_vlmrun._settings import ClientSettings
from langchain_vlmrun._sources import check_url, is_url
from langchain_vlmrun._structured import validate_response
from langchain_vlmrun._validation import check_agent_name, check_response_model
from langchain_vlmrun.cache import ResultCache

__all__ = ["ExtractorInput", "ExtractorToolInput", "VLMRunExtractor"]

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
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    cache: ResultCache | None = Field(default=None, exclude=True)
    callback_url: str | None = None
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("response_model", mode="before")
    @classmethod
    def _schemable(cls, value: Any) -> Any:
        return check_response_model(value)

    @field_validator("agent_name")
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return check_agent_name(value)

    @property
    def OutputType(self) -> type[M]:
        return self.response_model

    def as_tool(
        self,
        args_schema: type[BaseModel] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
        root_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    ) -> BaseTool:
        """This extractor as a tool an LLM can call with ``{"file": ...}``.

        An LLM chooses the file, so local paths are confined as in
        :class:`~langchain_vlmrun.VLMRunAgentTool`: only inside ``root_dir`` (none by
        default: http(s) URLs only). Problems the model can fix come back to it as a
        ``ToolException`` message.

        Example:
            >>> import tempfile
            >>> from pydantic import BaseModel
            >>> class Invoice(BaseModel):
            ...     total_amount: float
            >>> inbox = tempfile.mkdtemp()
            >>> tool = VLMRunExtractor(response_model=Invoice).as_tool(
            ...     name="extract_invoice", root_dir=inbox)
            >>> tool.name
            'extract_invoice'
        """
        roots = normalise_roots(root_dir)
        model = self.response_model

        def extract(file: str) -> dict[str, Any]:
            return self.invoke(_confined(file, roots)).model_dump(mode="json")

        async def aextract(file: str) -> dict[str, Any]:
            source = await asyncio.to_thread(_confined, file, roots)
            return (await self.ainvoke(source)).model_dump(mode="json")

        return StructuredTool.from_function(
            func=extract,
            coroutine=aextract,
            name=name or f"extract_{_snake(model.__name__)}",
            description=description
            or (
                f"Extracts {model.__name__} fields ({', '.join(model.model_fields)}) from a "
                "document, image, audio or video file. Input: `file`, an http(s) URL"
                + (" or a path inside " + ", ".join(map(str, roots)) if roots else "")
                + "."
            ),
            args_schema=args_schema or ExtractorToolInput,
            handle_tool_error=True,
        )

    def _options(self, source: ExtractorInput | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(source, Mapping):  # {"file": ...}, as a tool or a chain passes it
            if "file" not in source:
                raise TypeError(
                    f"The extractor takes a path, URL, bytes, Blob or {{'file': ...}}; got a "
                    f"dict with keys {sorted(source)}."
                )
            source = source["file"]
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
        return self._call_with_config(self._extract, input, config)

    async def ainvoke(
        self, input: ExtractorInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> M:
        return await self._acall_with_config(self._aextract, input, config)


class ExtractorToolInput(BaseModel):
    """What a model fills in when the extractor is used as a tool."""

    file: str = Field(description="The file to read: an http(s) URL or an allowed local path.")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _confined(file: str, roots: Sequence[Path]) -> str:
    """A URL, or a local path allowed by ``roots``; what the model can fix is a
    ``ToolException`` (the agent sees the message)."""
    try:
        return check_url(file) if is_url(file) else str(resolve_allowed_file(file, roots))
    except FileSourceError as exc:
        raise ToolException(exc.message) from exc
