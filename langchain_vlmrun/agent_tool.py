"""``VLMRunAgentTool``: VLM Run as a LangChain tool an LLM agent can call."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import ArgsSchema, BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_vlmrun._exceptions import (
    APIConnectionError,
    BadRequestError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    FileSourceError,
    InternalServerError,
    RateLimitError,
    RequestTooLargeError,
    ResponseValidationError,
)
from langchain_vlmrun._models import AgentExecution, CreditUsage
from langchain_vlmrun._operations import schema_of
from langchain_vlmrun._paths import checked_file, normalise_roots
from langchain_vlmrun._rendering import render_response
from langchain_vlmrun._settings import ClientSettings
from langchain_vlmrun._sources import PreparedFile, check_url, is_url, prepare_file, redact_url
from langchain_vlmrun._structured import validate_response
from langchain_vlmrun._validation import check_agent_name

__all__ = ["VLMRunAgentTool", "VLMRunToolArtifact", "VLMRunToolError", "VLMRunToolInput"]

TRUNCATION_MARKER = (
    "\n\n[... truncated: {shown} of {total} characters shown; "
    "the full result is in the tool artifact]"
)


class VLMRunToolError(ToolException):
    """A problem the calling model can act on (bad path, unsupported file, failed run)."""


class VLMRunToolInput(BaseModel):
    """What the model fills in."""

    file: str = Field(
        description=(
            "The file to read: an http(s) URL, or the path of a local file in the folders "
            "this tool may read. Documents (pdf, doc, docx), images (png, jpg, gif, bmp, "
            "tiff, webp), audio (mp3, wav, m4a, flac, ogg) or video (mp4, mov, avi, mkv, webm)."
        )
    )
    instructions: str | None = Field(
        default=None,
        description="Optional: what to look for or extract in this file, in one or two sentences.",
    )


class VLMRunToolArtifact(BaseModel):
    """The tool's artifact (kept out of the prompt): the full execution and its cost."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: str
    execution_id: str
    status: str
    agent: str | None = None
    credits_used: int | float | None = None
    usage: CreditUsage = Field(default_factory=CreditUsage)
    response: Any = None
    structured: BaseModel | None = None
    truncated: bool = False


_DESCRIPTION = (
    "Reads a document, image, audio or video file with VLM Run's vision-language agents "
    "and returns its content as markdown (or as JSON fields when a schema is configured). "
    "Use it to read PDFs, scans, photos, screenshots, charts, recordings or videos. "
    "Input: `file` (an http(s) URL or a local path) and optional `instructions`."
)


class VLMRunAgentTool(ClientSettings, BaseTool):
    """VLM Run as a tool: the model names a file, the tool returns what an agent read.

    Example:
        >>> import tempfile
        >>> from langchain_vlmrun import VLMRunAgentTool
        >>> inbox = tempfile.mkdtemp()
        >>> tool = VLMRunAgentTool(
        ...     prompt="Extract the invoice number, date and total.",
        ...     root_dir=inbox,              # local files only from here
        ... )
        >>> msg = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
        ...                    "args": {"file": "invoice.pdf"}})  # doctest: +SKIP
        >>> msg.content, msg.artifact.execution_id  # doctest: +SKIP

    Invoked with a ``ToolCall`` it returns a ``ToolMessage`` whose ``content`` is the
    text for the model (truncated to ``max_content_chars`` with a visible marker) and
    whose ``artifact`` is a :class:`VLMRunToolArtifact` (execution id, usage/credits,
    raw response and, with a ``response_model``, the validated instance).

    Safety: local files are read only inside ``root_dir`` (none by default: URLs only),
    after resolving ``..`` and symlinks; hidden files and types VLM Run does not read
    are refused; URLs must be http(s). Unless you pass your own ``description``, it
    ends by telling the model whether local paths work and where. Problems the model can fix raise
    :class:`VLMRunToolError` (a ``ToolException``; ``handle_tool_error`` is on, so the
    agent sees the message and can recover). Configuration problems (missing key,
    401/402/403, unknown agent) raise the typed client errors.
    """

    name: str = "vlmrun_read_file"
    description: str = _DESCRIPTION
    args_schema: ArgsSchema | None = VLMRunToolInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Any = True

    agent_name: str | None = None
    """The agent to run, ``"name:version"``."""
    prompt: str | None = None
    """Instructions for the agent (with no ``agent_name`` the service picks the agent)."""
    response_model: type[BaseModel] | None = None
    """Pydantic model of the expected output: sent as the JSON schema and validated."""
    json_schema: dict[str, Any] | None = None
    """A JSON schema instead of ``response_model``."""
    root_dir: list[Path] = Field(default_factory=list)
    """Directories local files may be read from (none: URLs only)."""
    allow_hard_links: bool = False
    """Read files inside ``root_dir`` that have other hard links (they may be links to
    files outside the folders; refused by default)."""
    max_content_chars: int = Field(default=8000, gt=0, strict=True)
    """Cap on the text returned to the model."""
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Seconds to wait for the execution (default: the client's)."""
    callback_url: str | None = None
    """Passed to each execution: VLM Run also POSTs the result there."""
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _roots(cls, values: Any) -> Any:
        if isinstance(values, dict) and "root_dir" in values:
            roots = values["root_dir"]
            if roots is None or isinstance(roots, (str, os.PathLike, Sequence)):
                values = {**values, "root_dir": normalise_roots(roots)}
        return values

    @model_validator(mode="after")
    def _check(self) -> VLMRunAgentTool:
        check_agent_name(self.agent_name)
        schema_of(self.response_model, self.json_schema)  # a valid model or JSON Schema
        if not self.agent_name and not self.prompt:
            raise ValueError("VLMRunAgentTool needs prompt='...' or agent_name='name:version'.")
        if self.description == _DESCRIPTION:
            self.description = _DESCRIPTION + _local_files_note(self.root_dir)
        return self

    # -- shared logic --------------------------------------------------------------------

    def _request(self, file: str, instructions: str | None) -> dict[str, Any]:
        """Validate the model's input and build the ``run`` arguments (no request sent).

        A local file is checked against the roots and then opened once, without
        following a final symlink, and only if it is still the file that was checked;
        the returned ``source`` is that open file (close it with :func:`_close`).
        """
        with _as_tool_errors(file):
            try:
                source = _checked_source(file, self.root_dir, self.allow_hard_links)
            except FileSourceError:
                if _trimmed(file) == file:
                    raise
                # models add blanks and newlines around names: the name as given first
                source = _checked_source(_trimmed(file), self.root_dir, self.allow_hard_links)
        prompt = self.prompt
        inputs: dict[str, Any] = {}
        if instructions:
            if prompt:
                prompt = f"{prompt}\n\nAdditional instructions: {instructions}"
            else:
                inputs["instructions"] = instructions
        return {
            "source": source,
            "name": self.agent_name,
            "prompt": prompt,
            "response_model": self.response_model,
            "json_schema": self.json_schema,
            "inputs": inputs or None,
            "callback_url": self.callback_url,
            "timeout": self.timeout,
        }

    def _result(self, file: str, execution: AgentExecution) -> tuple[str, VLMRunToolArtifact]:
        """Content for the model and the artifact, from a completed execution."""
        structured = None
        with _as_tool_errors(file):
            if self.response_model is not None:
                structured = validate_response(execution, self.response_model)
        if structured is not None:
            text = structured.model_dump_json(indent=2)
        else:
            rendered = render_response(execution.response)
            text = (
                rendered.text
                if rendered.kind != "empty"
                else f"VLM Run found no content in {file}."
            )
        truncated = len(text) > self.max_content_chars
        if truncated:
            text = text[: self.max_content_chars] + TRUNCATION_MARKER.format(
                shown=self.max_content_chars, total=len(text)
            )
        artifact = VLMRunToolArtifact(
            source=redact_url(file),
            execution_id=execution.id,
            status=execution.status,
            agent=self.agent_name or execution.name,
            credits_used=execution.usage.credits_used,
            usage=execution.usage,
            response=execution.response,
            structured=structured,
            truncated=truncated,
        )
        return text, artifact

    # -- sync and async entry points ------------------------------------------------------

    def _run(
        self,
        file: str,
        instructions: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, VLMRunToolArtifact]:
        request = self._request(file, instructions)
        try:
            with _as_tool_errors(file):
                execution = self._sync_client().run(**request)
        finally:
            _close(request["source"])
        return self._result(file, execution)

    async def _arun(
        self,
        file: str,
        instructions: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, VLMRunToolArtifact]:
        request = await asyncio.to_thread(self._request, file, instructions)  # disk I/O
        try:
            with _as_tool_errors(file):
                execution = await self._async_client().run(**request)
        finally:
            _close(request["source"])
        return self._result(file, execution)


def _trimmed(file: str) -> str:
    """The model's input without surrounding ASCII blanks and newlines (models add them);
    other characters are part of the name: trimming them could name another file."""
    return file.strip(" \t\r\n")


def _close(source: object) -> None:
    if isinstance(source, PreparedFile):
        source.close()


def _local_files_note(roots: Sequence[Path]) -> str:
    """The part of the description that tells the model which local paths work."""
    if not roots:
        return " Local files are not available: pass an http(s) URL."
    folders = ", ".join(str(root) for root in roots)
    return f" Local paths must be inside {folders} (relative paths are looked up there)."


def _checked_source(file: str, roots: Sequence[Path], hard_links: bool) -> str | PreparedFile:
    """An http(s) URL, or the allowed local file opened once; nothing is sent."""
    if is_url(file):
        return check_url(file)
    path, identity = checked_file(file, roots)
    return prepare_file(path, follow_symlinks=False, expect=identity, allow_hardlinks=hard_links)


@contextmanager
def _as_tool_errors(file: str) -> Iterator[None]:
    """Turn errors the calling model can act on into ``VLMRunToolError``."""
    file = redact_url(file)
    try:
        yield
    except FileSourceError as exc:
        raise VLMRunToolError(exc.message) from exc
    except ExecutionFailedError as exc:
        raise VLMRunToolError(
            f"VLM Run could not process {file}: {exc.server_message} (execution "
            f"{exc.execution_id}). Check the file is readable, or try another file."
        ) from exc
    except ExecutionTimeoutError as exc:
        raise VLMRunToolError(
            f"VLM Run is still working on {file} (execution {exc.execution_id}, status "
            f"'{exc.status}'). It keeps running on the server and can be resumed with "
            f"client.wait('{exc.execution_id}'); continue without it for now."
        ) from exc
    except RequestTooLargeError as exc:
        raise VLMRunToolError(
            f"{file} is too large for VLM Run ({exc.message}); use a smaller file."
        ) from exc
    except ResponseValidationError as exc:
        raise VLMRunToolError(exc.message) from exc
    except BadRequestError as exc:
        raise VLMRunToolError(
            f"VLM Run rejected the request for {file}: {exc.message}. Check the file or URL "
            "and the instructions."
        ) from exc
    except (RateLimitError, InternalServerError, APIConnectionError) as exc:
        raise VLMRunToolError(
            f"VLM Run is unavailable right now ({exc.message}); try again in a minute."
        ) from exc
