"""``VLMRunExtractor``: a Runnable from a file to a validated pydantic object."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, Union

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.documents.base import Blob
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator
from typing_extensions import TypedDict

from langchain_vlmrun.client._operations import ProcessedSource
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.client._settings import ClientSettings, type_name
from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.core._text import model_text
from langchain_vlmrun.core._validation import check_agent_name, check_response_model
from langchain_vlmrun.core.errors import FileSourceError, ResponseValidationError, VLMRunError
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.documents._structured import Validation
from langchain_vlmrun.documents._tracing import aexecution_run, execution_run
from langchain_vlmrun.files._confinement import normalise_roots, open_confined
from langchain_vlmrun.files._sources import PreparedFile

__all__ = ["ExtractionWithRaw", "ExtractorInput", "ExtractorToolInput", "VLMRunExtractor"]

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
    With ``include_raw=True`` it returns an :class:`ExtractionWithRaw` dict instead, as
    ``with_structured_output(..., include_raw=True)`` does:

        >>> result = VLMRunExtractor(response_model=Invoice, include_raw=True).invoke(
        ...     "invoice.pdf")  # doctest: +SKIP
        >>> result["raw"].id, result["parsed"], result["parsing_error"]  # doctest: +SKIP

    Each extraction has a ``vlmrun_execution`` child run (execution id, agent, status,
    credits) for callback handlers and LangSmith. Settings (key, ``request_timeout``,
    ``wait_timeout``, ``max_retries``...) are those of
    :class:`~langchain_vlmrun.VLMRunAgentTool`.

    After an ``ExecutionTimeoutError``, invoking again with the same input resumes the
    execution (the extractor's own in-memory cache, or ``cache=``): it is not paid
    again. The clients it makes are its own: ``close()``/``aclose()`` or
    ``with``/``async with`` close them (``client=`` you pass are left open); it
    pickles and deep-copies (Dask, Ray), the key included in pickles.

    Inputs are chosen by the developer, not by an LLM, so local paths are not confined
    here; give an LLM :class:`~langchain_vlmrun.VLMRunAgentTool` (with ``root_dir``)
    instead.
    """

    response_model: type[M]
    agent_name: str | None = None
    prompt: str | None = None
    """Defaults to "Extract the <Model> fields from this file." without an agent."""
    include_raw: bool = False
    """Return ``{"raw": AgentExecution, "parsed": model | None, "parsing_error": error |
    None}`` (as ``with_structured_output(..., include_raw=True)``) instead of the object;
    a response that does not match the model is then reported, not raised."""
    callback_url: str | None = None
    options: ExecuteOptions | None = None
    """Model, skills, service tier and the rest of the execute configuration."""
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("response_model", mode="before")
    @classmethod
    def _schemable(cls, value: Any) -> Any:
        return check_response_model(value)

    @field_validator("agent_name")
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return check_agent_name(value)

    @field_serializer("response_model", when_used="json")
    def _model_name(self, value: type[M]) -> Any:
        return type_name(value)  # model_dump_json(): the class by name

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
        max_content_chars: int = 8000,
    ) -> BaseTool:
        """This extractor as a tool an LLM can call with ``{"file": ...}``.

        An LLM chooses the file, so local paths are confined as in
        :class:`~langchain_vlmrun.VLMRunAgentTool`: only inside ``root_dir`` (none by
        default: http(s) URLs only). Every failure (a path refused, an execution that
        failed or timed out, a result that does not fit the model) comes back to the
        model as a ``ToolException`` message, cleaned and capped. The model reads the
        object as JSON, at most ``max_content_chars`` characters (a marker says what was
        cut); the whole object is the ``ToolMessage``'s ``artifact``.

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

        parse = self if not self.include_raw else self._variant(include_raw=False)

        def shown(result: BaseModel) -> tuple[str, dict[str, Any]]:
            data = result.model_dump(mode="json")
            text = json.dumps(data, ensure_ascii=False)
            return model_text(text, max_content_chars), data

        def extract(file: str) -> tuple[str, dict[str, Any]]:
            source = _confined(file, roots)
            try:
                # an open file: the client uploads the descriptor, never the name again
                with _tool_errors():
                    return shown(parse.invoke(source))  # type: ignore[arg-type]
            finally:
                _close(source)

        async def aextract(file: str) -> tuple[str, dict[str, Any]]:
            source = await asyncio.to_thread(_confined, file, roots)
            try:
                opened = source  # see extract
                with _tool_errors():
                    return shown(await parse.ainvoke(opened))  # type: ignore[arg-type]
            finally:
                _close(source)

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
            response_format="content_and_artifact",
        )

    def _options(
        self, source: ExtractorInput | Mapping[str, Any], validation: Validation[M]
    ) -> dict[str, Any]:
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
            "agent_name": self.agent_name,
            "prompt": prompt,
            "response_model": model,
            "wait_timeout": self.wait_timeout,
            # an execution started for this input is resumed, not paid again
            "cache": self.result_cache(),
            "callback_url": self.callback_url,
            "options": self.options,
            # a response that does not validate is not cached
            "accept": validation.accept,
        }

    def _traced(self, options: dict[str, Any]) -> dict[str, Any]:
        source = options["source"]
        shown = redact_url(source) if isinstance(source, str) else _describe(source)
        return {"source": shown, "agent": self.agent_name, "prompt": options["prompt"]}

    def _parsed(self, processed: ProcessedSource, validation: Validation[M]) -> Any:
        parsed = validation.of(processed.execution)
        if self.include_raw:
            return {"raw": processed.execution, "parsed": parsed, "parsing_error": None}
        return parsed

    def _unparsed(self, error: ResponseValidationError) -> Any:
        """With ``include_raw``, a response that does not match is reported, not raised."""
        if not self.include_raw:
            raise error
        return {"raw": error.execution, "parsed": None, "parsing_error": error}

    def _extract(
        self, source: ExtractorInput, run_manager: CallbackManagerForChainRun | None = None
    ) -> Any:
        validation = Validation(self.response_model)  # one validation of the response
        options = self._options(source, validation)
        mismatch: ResponseValidationError | None = None
        with execution_run(run_manager, self._traced(options)) as run:
            try:
                processed = self._sync_client().process(**options)
            except ResponseValidationError as exc:
                if exc.execution is None:  # no execution of this call: the run fails
                    raise
                # the execution completed (and was paid for): its run ends with it, then
                # the mismatch is raised (or, with include_raw, reported)
                run.record(exc.execution, self.agent_name)
                mismatch = exc
            else:
                run.record(processed, self.agent_name)
        if mismatch is not None:
            return self._unparsed(mismatch)
        return self._parsed(processed, validation)

    async def _aextract(
        self, source: ExtractorInput, run_manager: AsyncCallbackManagerForChainRun | None = None
    ) -> Any:
        validation = Validation(self.response_model)  # one validation of the response
        options = self._options(source, validation)
        mismatch: ResponseValidationError | None = None
        async with aexecution_run(run_manager, self._traced(options)) as run:
            try:
                processed = await self._async_client().process(**options)
            except ResponseValidationError as exc:
                if exc.execution is None:  # no execution of this call: the run fails
                    raise
                # the execution completed (and was paid for): its run ends with it, then
                # the mismatch is raised (or, with include_raw, reported)
                run.record(exc.execution, self.agent_name)
                mismatch = exc
            else:
                run.record(processed, self.agent_name)
        if mismatch is not None:
            return self._unparsed(mismatch)
        return self._parsed(processed, validation)

    def invoke(
        self, input: ExtractorInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> M:
        """The validated object (with ``include_raw``: the :class:`ExtractionWithRaw` dict)."""
        return self._call_with_config(self._extract, input, config)

    async def ainvoke(
        self, input: ExtractorInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> M:
        """Async :meth:`invoke` (the async client; ``abatch`` honours ``max_concurrency``)."""
        return await self._acall_with_config(self._aextract, input, config)


class ExtractionWithRaw(TypedDict, Generic[M]):
    """What ``VLMRunExtractor(..., include_raw=True)`` returns (as
    ``with_structured_output(..., include_raw=True)``)."""

    raw: AgentExecution
    """The completed execution: id, status, usage (credits), raw response."""
    parsed: M | None
    """The validated object, or None when the response does not match the model."""
    parsing_error: ResponseValidationError | None
    """Why the response does not match (with ``raw_response`` and ``errors``)."""


def _describe(source: object) -> str:
    if isinstance(source, Blob):
        return str(source.source or "<blob>")
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, PreparedFile):
        return source.filename
    return str(source)


class ExtractorToolInput(BaseModel):
    """What a model fills in when the extractor is used as a tool."""

    file: str = Field(description="The file to read: an http(s) URL or an allowed local path.")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


#: Cap on an error message the model reads (it quotes the model's own input).
_MAX_ERROR_CHARS = 2000


def _confined(file: str, roots: Sequence[Path]) -> str | PreparedFile:
    """A URL, or the allowed local file opened once (see ``open_confined``); what the
    model can fix is a ``ToolException`` (the agent sees the message: cleaned, capped)."""
    try:
        return open_confined(file, roots)
    except FileSourceError as exc:
        raise ToolException(model_text(exc.message, _MAX_ERROR_CHARS)) from exc


@contextlib.contextmanager
def _tool_errors() -> Iterator[None]:
    """A failure of the extraction becomes a message for the model (cleaned, capped)."""
    try:
        yield
    except VLMRunError as exc:
        raise ToolException(model_text(str(exc), _MAX_ERROR_CHARS)) from exc


def _close(source: object) -> None:
    if isinstance(source, PreparedFile):
        source.close()
