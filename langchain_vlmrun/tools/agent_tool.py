"""``VLMRunAgentTool``: VLM Run as a LangChain tool an LLM agent can call."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.documents.base import Blob
from langchain_core.tools import ArgsSchema, BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from langchain_vlmrun.client._operations import schema_of
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.client._settings import ClientSettings, type_name
from langchain_vlmrun.client.artifacts import artifact_blobs
from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.core._text import model_text, model_text_and_cut
from langchain_vlmrun.core._validation import check_agent_name
from langchain_vlmrun.core.errors import (
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
from langchain_vlmrun.core.models import AgentExecution, AgentInfo, CreditUsage
from langchain_vlmrun.documents._documents import AgentSpec, wait_timeout_for
from langchain_vlmrun.documents._rendering import render_response
from langchain_vlmrun.documents._structured import validate_response
from langchain_vlmrun.documents._tracing import aexecution_run, execution_run
from langchain_vlmrun.files._confinement import normalise_roots, normalise_roots_in, open_confined
from langchain_vlmrun.files._sources import PreparedFile, medium_of_source

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
    """The tool's artifact (kept out of the prompt): the full execution and its cost.

    ``artifacts`` holds a :class:`~langchain_vlmrun.client.artifacts.ArtifactBlob` per artifact
    the response references (images, redacted documents, clips), downloaded when read;
    ``output_schema`` is the JSON schema the response follows (the agent's, for a tool
    made by :meth:`VLMRunAgentTool.from_agent`).
    """

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
    artifacts: list[Blob] = Field(default_factory=list)
    output_schema: dict[str, Any] | None = None


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
    text for the model (at most ``max_content_chars`` characters, a visible marker
    included, without control or direction-override characters; errors too) and
    whose ``artifact`` is a :class:`VLMRunToolArtifact` (execution id, usage/credits,
    raw response and, with a ``response_model``, the validated instance).

    Safety: local files are read only inside ``root_dir`` (none by default: URLs only),
    after resolving ``..`` and symlinks; hidden files and types VLM Run does not read
    are refused; URLs must be http(s). Unless you pass your own ``description``, it
    ends by telling the model whether local paths work and where. Problems the model can fix raise
    :class:`VLMRunToolError` (a ``ToolException``; ``handle_tool_error`` is on, so the
    agent sees the message and can recover). Configuration problems (401/402/403, unknown
    agent) raise the typed client errors; a missing key raises
    :class:`~langchain_vlmrun.MissingAPIKeyError` when the tool is constructed.

    Settings (shared with the other components): ``vlmrun_api_key`` (alias ``api_key``,
    default ``VLMRUN_API_KEY``), ``vlmrun_base_url`` (alias ``base_url``),
    ``request_timeout`` (HTTP), ``wait_timeout`` (execution), ``max_retries``,
    ``requests_per_minute``, ``cache``, or ready
    ``client``/``async_client``. Each call runs the execution as a ``vlmrun_execution``
    child run whose outputs (execution id, agent, status, credits) callback handlers and
    LangSmith see.
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
    """Cap on the text returned to the model, results and error messages alike (a
    truncation marker included)."""
    callback_url: str | None = None
    """Passed to each execution: VLM Run also POSTs the result there."""
    agent: AgentInfo | None = None
    """The workspace agent this tool runs (set by :meth:`from_agent`)."""
    artifacts_dir: Path | None = None
    """Where artifacts are saved when read (default: a private temporary folder)."""
    options: ExecuteOptions | None = None
    """Model, skills, service tier and the rest of the execute configuration."""
    model_config = ConfigDict(arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _roots(cls, values: Any) -> Any:
        return normalise_roots_in(values)

    @model_validator(mode="after")
    def _check(self) -> VLMRunAgentTool:
        check_agent_name(self.agent_name)
        schema_of(self.response_model, self.json_schema)  # a valid model or JSON Schema
        if self.description == _DESCRIPTION:
            self.description = _DESCRIPTION + _local_files_note(self.root_dir)
        return self

    @field_serializer("response_model", "args_schema", when_used="json")
    def _class_names(self, value: Any) -> Any:
        return type_name(value)  # model_dump_json(): classes by name

    @classmethod
    def from_agent(cls, agent: str | AgentInfo, **kwargs: Any) -> VLMRunAgentTool:
        """A tool for one agent of your workspace, named and described by it.

        ``agent`` is ``"name:version"`` (a bare name: its latest version) or an
        :class:`AgentInfo`. The name is looked up now: an unknown one raises
        :class:`~langchain_vlmrun.AgentNotFoundError` with the closest names (nothing is
        uploaded). The tool's ``name`` is ``vlmrun_`` and the agent's name made valid
        for tool-calling APIs (see :func:`tool_name`), its ``description`` quotes the
        agent's description (see :func:`agent_description`), and its artifact carries
        the agent's ``json_schema`` as ``output_schema``. Other keyword arguments are
        the tool's (``root_dir``, ``client``, ``wait_timeout``, ``name``, ``description``...).

        Example:
            >>> tool = VLMRunAgentTool.from_agent(  # doctest: +SKIP
            ...     "invoice-extractor:v2", root_dir="./inbox")
            >>> tool.name  # doctest: +SKIP
            'vlmrun_invoice-extractor'
            >>> tool.description  # doctest: +SKIP
            'Runs the VLM Run agent invoice-extractor:v2, described in its workspace as: "...
        """
        return agent_tool(cls, agent, kwargs)

    @classmethod
    async def afrom_agent(cls, agent: str | AgentInfo, **kwargs: Any) -> VLMRunAgentTool:
        """:meth:`from_agent`, looking the name up with the async client."""
        return await aagent_tool(cls, agent, kwargs)

    # -- shared logic --------------------------------------------------------------------

    def _request(self, file: str, instructions: str | None) -> dict[str, Any]:
        """Validate the model's input and build the ``run`` arguments (no request sent).

        A local file is checked against the roots and then opened once, without
        following a final symlink, and only if it is still the file that was checked;
        the returned ``source`` is that open file (close it with :func:`_close`).
        """
        with _as_tool_errors(file, self.max_content_chars):
            try:
                source = open_confined(file, self.root_dir, allow_hardlinks=self.allow_hard_links)
            except FileSourceError:
                if _trimmed(file) == file:
                    raise
                # models add blanks and newlines around names: the name as given first
                source = open_confined(
                    _trimmed(file), self.root_dir, allow_hardlinks=self.allow_hard_links
                )
        medium = medium_of_source(source)
        spec = AgentSpec(
            agent_name=self.agent_name,
            prompt=self.prompt,
            response_model=self.response_model,
            json_schema=self.json_schema,
            wait_timeout=self.wait_timeout,
        ).for_medium(medium)  # no agent and no prompt: the built-in default of the medium
        prompt = spec.prompt
        inputs: dict[str, Any] = {}
        if instructions:
            if prompt:
                prompt = f"{prompt}\n\nAdditional instructions: {instructions}"
            else:
                inputs["instructions"] = instructions
        wait_timeout = wait_timeout_for(self.client or self._own_client, spec, medium)
        return {
            "source": source,
            "agent_name": self.agent_name,
            "prompt": prompt,
            "json_schema": spec.schema,
            "inputs": inputs or None,
            "callback_url": self.callback_url,
            "options": self.options,
            "wait_timeout": wait_timeout,
            # an execution this tool started is resumed when the model asks again
            "cache": self.result_cache(),
        }

    def _result(self, file: str, execution: AgentExecution) -> tuple[str, VLMRunToolArtifact]:
        """Content for the model and the artifact, from a completed execution."""
        structured = None
        with _as_tool_errors(file, self.max_content_chars):
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
        text, truncated = model_text_and_cut(text, self.max_content_chars, marker=TRUNCATION_MARKER)
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
            artifacts=artifact_blobs(
                execution.id,
                execution.response,
                directory=self.artifacts_dir,
                client=self._sync_client,
                async_client=self._async_client,
            ),
            output_schema=self.agent.json_schema if self.agent is not None else None,
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
            with (
                _as_tool_errors(file, self.max_content_chars),
                execution_run(run_manager, _traced(file, request)) as run,
            ):
                processed = self._sync_client().process(**request)
                run.record(processed, self.agent_name)
        finally:
            _close(request["source"])
        return self._result(file, processed.execution)

    async def _arun(
        self,
        file: str,
        instructions: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, VLMRunToolArtifact]:
        request = await asyncio.to_thread(self._request, file, instructions)  # disk I/O
        try:
            with _as_tool_errors(file, self.max_content_chars):
                async with aexecution_run(run_manager, _traced(file, request)) as run:
                    processed = await self._async_client().process(**request)
                    run.record(processed, self.agent_name)
        finally:
            _close(request["source"])
        return self._result(file, processed.execution)


def _traced(file: str, request: dict[str, Any]) -> dict[str, Any]:
    """The execution run's inputs as traces show them (no file handle, no URL secrets)."""
    return {"source": redact_url(file), "agent": request["agent_name"], "prompt": request["prompt"]}


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


#: Longest piece of server text (a failure message, a list of schema errors) quoted in
#: an error message; the whole message is then capped at ``max_content_chars``.
_MAX_SERVER_TEXT = 1000


def _server(text: object, limit: int = _MAX_SERVER_TEXT) -> str:
    """Server text inside an error message: cleaned, on one line, capped."""
    return model_text(text, limit, single_line=True)


@contextmanager
def _as_tool_errors(file: str, limit: int) -> Iterator[None]:
    """Turn errors the calling model can act on into ``VLMRunToolError``, whose message
    (what the model reads) is cleaned and at most ``limit`` characters."""
    try:
        yield
    except Exception as exc:
        message = _tool_error_message(redact_url(file), exc)
        if message is None:
            raise
        raise VLMRunToolError(model_text(message, limit)) from exc


def _tool_error_message(file: str, exc: Exception) -> str | None:
    """What the model reads about ``exc`` (None: not for the model, raised as it is)."""
    file = _server(file, 300)  # the model's own input, shortened when quoted back
    if isinstance(exc, FileSourceError):
        return exc.message
    if isinstance(exc, ExecutionFailedError):
        return (
            f"VLM Run could not process {file}: {_server(exc.server_message)} (execution "
            f"{_server(exc.execution_id, 100)}). Check the file is readable, or try another file."
        )
    if isinstance(exc, ExecutionTimeoutError):
        execution = _server(exc.execution_id, 100)
        return (
            f"VLM Run is still working on {file} (execution {execution}, status "
            f"'{_server(exc.status, 40)}'). It keeps running on the server: call this tool "
            "again later with the same file to get the result (it is not paid again), or "
            "continue without it for now."
        )
    if isinstance(exc, RequestTooLargeError):
        return f"{file} is too large for VLM Run ({_server(exc.message)}); use a smaller file."
    if isinstance(exc, ResponseValidationError):
        return _server(exc.message, 2 * _MAX_SERVER_TEXT)
    if isinstance(exc, BadRequestError):
        return (
            f"VLM Run rejected the request for {file}: {_server(exc.message)}. Check the file "
            "or URL and the instructions."
        )
    if isinstance(exc, (RateLimitError, InternalServerError, APIConnectionError)):
        return f"VLM Run is unavailable right now ({_server(exc.message)}); try again in a minute."
    return None


# -- an agent of the workspace as a tool (from_agent, and the toolkit) ------------------

ToolT = TypeVar("ToolT", bound=VLMRunAgentTool)

#: What tool-calling APIs (OpenAI, Anthropic, Gemini) accept as a tool name.
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: Every tool made from an agent is named ``vlmrun_<agent>``: an agent of the workspace
#: cannot take the name of another tool the model is given (``send_email``).
TOOL_PREFIX = "vlmrun_"
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]+")
#: Longest agent description (or prompt) quoted (tool-calling APIs cap descriptions
#: around 1024 characters).
_MAX_AGENT_TEXT = 700
_MAX_FIELDS = 12
#: Longest field name listed, and longest list of field names.
_MAX_FIELD_NAME = 40
_MAX_FIELD_LIST = 300
#: Longest description of a tool made from an agent (with the note on local folders).
MAX_DESCRIPTION = 4000


def tool_name(agent_name: str) -> str:
    """A tool name for an agent: ``vlmrun_`` and the agent's name made valid for
    tool-calling APIs (``^[a-zA-Z0-9_-]{1,64}$``), so it cannot shadow another tool.

    Example:
        >>> tool_name("invoice-extractor:v2")
        'vlmrun_invoice-extractor_v2'
        >>> tool_name("Factures (FR)")
        'vlmrun_Factures_FR'
        >>> tool_name("send_email")
        'vlmrun_send_email'
    """
    cleaned = TOOL_PREFIX + (_NOT_ALLOWED.sub("_", agent_name).strip("_") or "agent")
    if len(cleaned) > 64:
        digest = hashlib.sha256(agent_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned[:55]}_{digest}"
    return cleaned


def _quoted(text: str, limit: int, marker: str = "...") -> str:
    """Server text as quoted data: cleaned, on one line (it cannot start a section of
    its own), capped, and in double quotes it cannot close (``"`` becomes ``'``)."""
    return '"' + model_text(text, limit, single_line=True, marker=marker).replace('"', "'") + '"'


def agent_description(agent: AgentInfo, roots: Sequence[Path] = ()) -> str:
    """What the model reads about an agent's tool: the agent's name, its own description
    (or its prompt) quoted as the workspace's text, what to pass, the JSON fields it
    returns and where local files may be.

    Everything taken from the server is cleaned (no control, escape or
    direction-override characters), put on one line, capped and quoted, so text such
    as "SYSTEM: ..." in a description reads as what it is: the agent's description.
    The whole is at most :data:`MAX_DESCRIPTION` characters.

    Example:
        >>> info = AgentInfo(id="1", name="receipts:v2", description="Reads receipts.")
        >>> agent_description(info).split(" Input:")[0]
        'Runs the VLM Run agent receipts:v2, described in its workspace as: "Reads receipts".'
    """
    name = model_text(agent.name, 200, single_line=True, marker="...")
    text = model_text((agent.description or "").strip(), 2 * _MAX_AGENT_TEXT, single_line=True)
    prompt = model_text((agent.prompt or "").strip(), 2 * _MAX_AGENT_TEXT, single_line=True)
    if text:
        about = f", described in its workspace as: {_agent_text(text)}"
    elif prompt:
        about = f", whose instructions are: {_agent_text(prompt)}"
    else:
        about = ""
    description = (
        f"Runs the VLM Run agent {name}{about}. Input: `file`, the document, image, audio "
        "or video to process (an http(s) URL or a local path), and optional `instructions`."
    )
    properties = (agent.json_schema or {}).get("properties")
    if isinstance(properties, dict) and properties:
        fields = ", ".join(
            _quoted(str(field), _MAX_FIELD_NAME, marker="…")
            for field in list(properties)[:_MAX_FIELDS]
        )
        more = ", ..." if len(properties) > _MAX_FIELDS else ""
        listed = model_text(fields + more, _MAX_FIELD_LIST, single_line=True, marker=", ...")
        description += f" Returns JSON with {listed}."
    return model_text(description + _local_files_note(roots), MAX_DESCRIPTION)


def _agent_text(text: str) -> str:
    """An agent's description or prompt, quoted: at most ``_MAX_AGENT_TEXT`` characters
    (an ellipsis shows where it was cut), without a closing period."""
    if len(text) <= _MAX_AGENT_TEXT:
        text = text.rstrip(". ")
    return _quoted(text, _MAX_AGENT_TEXT)


def _tool_arguments(
    agent: AgentInfo, options: dict[str, Any], *, name: str | None = None
) -> dict[str, Any]:
    roots = normalise_roots(options.get("root_dir"))
    return {
        **options,
        "agent_name": agent.name,
        "agent": agent,
        "name": options.get("name") or name or tool_name(agent.base_name),
        "description": options.get("description") or agent_description(agent, roots),
    }


def agent_tool(cls: type[ToolT], agent: str | AgentInfo, options: dict[str, Any]) -> ToolT:
    """``cls.from_agent``: look ``agent`` up (once per client), then build its tool."""
    if isinstance(agent, AgentInfo):
        return cls(**_tool_arguments(agent, options))
    check_agent_name(agent)
    tool = cls(**{**options, "agent_name": agent})  # checks the options, makes the client
    info = tool._sync_client().require_agent(agent)
    return _adopt(tool, info, options)


async def aagent_tool(cls: type[ToolT], agent: str | AgentInfo, options: dict[str, Any]) -> ToolT:
    """``cls.afrom_agent``: :func:`agent_tool` with the async client."""
    if isinstance(agent, AgentInfo):
        return cls(**_tool_arguments(agent, options))
    check_agent_name(agent)
    tool = cls(**{**options, "agent_name": agent})
    info = await tool._async_client().require_agent(agent)
    return _adopt(tool, info, options)


def _adopt(tool: ToolT, info: AgentInfo, options: dict[str, Any]) -> ToolT:
    """Give ``tool`` (already holding its clients) the agent's identity."""
    arguments = _tool_arguments(info, options)
    for key in ("agent_name", "agent", "name", "description"):
        setattr(tool, key, arguments[key])
    return tool
