"""From a VLM Run execution to LangChain ``Document``s, shared by the loader and parser.

The mapping (:func:`execution_to_documents`) is pure: the same source, file and
execution always give the same Documents, with the same ids. Only the I/O steps
(:func:`process_source` / :func:`aprocess_source`: upload, execute, wait) differ between
the sync and async clients.

How a response becomes Documents:

- markdown pages (``{"pages": [{"content", "tables", "figures"}]}``): one Document per
  page (``mode="page"``) with tables and figures rendered into the markdown, or one
  Document for the file (``mode="single"``) with pages joined by
  :data:`~langchain_vlmrun.documents._rendering.PAGE_SEPARATOR`;
- structured (JSON) responses: one Document whose ``page_content`` is a readable
  outline of the JSON and whose ``metadata["structured"]`` is the object itself
  (JSON-serialisable; ``model_dump(mode="json")`` of the ``response_model`` when given);
- text responses: one Document; empty responses: none (logged).

Metadata keys: ``source``, ``page`` (0-based, page Documents only), ``total_pages``,
``execution_id``, ``agent``, ``file_id``, ``credits_used`` (of the whole execution, not
per page), ``mime_type``, ``response_type`` (``pages``/``json``/``text``),
``structured``, ``artifacts`` (ids of the artifacts the response references, see
:mod:`langchain_vlmrun.client.artifacts`) and, when the loader saves them, ``artifact_files``.
Keys whose value would be ``None`` are left out, because several vector stores reject
``None`` metadata values.

``Document.id`` is a uuid5 of the source's identity (absolute path or URL), the content
hash (sha256 of the bytes), the page (``"all"`` for a single Document) and the agent key
(agent name, prompt hash and schema hash): re-ingesting the same file with the same
agent upserts, and byte-identical files at two paths stay two sets of Documents (the
result cache still pays for the content once). :func:`split_documents` keeps ids
stable through a text splitter.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import mimetypes
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from pydantic import BaseModel

from langchain_vlmrun.client._client import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client._metering import count_requests
from langchain_vlmrun.client._operations import (
    INPUT_FILE_KEY,
    ExecuteRequest,
    ProcessedSource,
    schema_of,
)
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.client.artifacts import artifact_ids, asave_artifacts, save_artifacts
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.core._redaction import redact_url, url_without_credentials
from langchain_vlmrun.core._validation import (
    check_agent_name,
    check_mapping,
    check_number,
    merge_config,
)
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.documents._rendering import PAGE_SEPARATOR, merge_segments, render_response
from langchain_vlmrun.documents._structured import Validation, validate_response
from langchain_vlmrun.documents.builtin import DEFAULT_WAIT_TIMEOUTS, MediumDefault, default_for
from langchain_vlmrun.files._sources import (
    FileSource,
    PreparedFile,
    check_url,
    is_url,
    medium_of_source,
    prepare_file,
)
from langchain_vlmrun.files._types import Medium

__all__ = [
    "DOCUMENT_NAMESPACE",
    "AgentSpec",
    "Mode",
    "SourceInfo",
    "aprocess_source",
    "document_id",
    "execution_to_documents",
    "json_to_text",
    "process_source",
    "SourceUsage",
]

logger = logging.getLogger("langchain_vlmrun")

Mode = Literal["page", "single"]

#: Namespace of the uuid5 Document ids (a fixed, random uuid).
DOCUMENT_NAMESPACE = uuid.UUID("6f1c8f0e-5b7a-4f5e-9a51-6b1f0f3c2d7e")


def _short_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AgentSpec:
    """What to run on each source: an agent by name and/or a prompt, plus a schema.

    With neither ``agent_name`` nor ``prompt``, each source gets the built-in default of
    its medium (:mod:`langchain_vlmrun.documents.builtin`), resolved by :meth:`for_medium`.
    """

    agent_name: str | None = None
    prompt: str | None = None
    response_model: type[BaseModel] | None = None
    json_schema: Mapping[str, Any] | None = None
    mode: Mode = "page"
    inputs: Mapping[str, Any] | None = None
    config: Mapping[str, Any] | None = None
    input_key: str = INPUT_FILE_KEY
    wait_timeout: float | None = None
    callback_url: str | None = None
    segment_seconds: float | None = None
    options: ExecuteOptions | None = None
    default: MediumDefault | None = None
    schema: dict[str, Any] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        check_agent_name(self.agent_name)
        check_number("wait_timeout", self.wait_timeout)
        check_number("segment_seconds", self.segment_seconds)
        if self.options is not None and not isinstance(self.options, ExecuteOptions):
            raise TypeError(
                f"options must be an ExecuteOptions, got {type(self.options).__name__}."
            )
        check_mapping("inputs", self.inputs)
        if not isinstance(self.input_key, str) or not self.input_key:
            raise TypeError(f"input_key must be a non-empty string, got {self.input_key!r}.")
        if self.mode not in ("page", "single"):
            raise ValueError(f"mode must be 'page' or 'single', got {self.mode!r}.")
        schema = schema_of(self.response_model, self.json_schema)
        # one merge rule with config (conflicts raise now, not after an upload)
        config = merge_config(self.config, prompt=self.prompt, json_schema=schema)
        object.__setattr__(self, "prompt", config.pop("prompt", None))
        object.__setattr__(self, "schema", config.pop("json_schema", None))
        object.__setattr__(self, "config", config or None)
        # the request every source will send, checked now: a value given two ways (a
        # model in config and in options...) is refused before anything is uploaded
        ExecuteRequest(**{**_process_options(self), "prompt": self.prompt or SCHEMA_PROMPT})

    @property
    def uses_defaults(self) -> bool:
        """Neither an agent nor a prompt: the built-in default of each file's medium."""
        return not self.agent_name and not self.prompt

    def for_medium(self, medium: Medium) -> AgentSpec:
        """This spec for one source of ``medium``: the medium's default prompt and schema
        when no agent or prompt was given (a schema of the user's is kept)."""
        if not self.uses_defaults:
            return self
        if self.schema is not None:
            return replace(self, prompt=SCHEMA_PROMPT)
        chosen = default_for(medium)
        return replace(
            self, prompt=chosen.prompt, json_schema=chosen.request_schema(), default=chosen
        )

    @property
    def key(self) -> str:
        """Identifies the agent configuration in Document ids."""
        if self.default is not None:
            parts = [self.default.key]
        else:
            parts = [self.agent_name or ""]
            if self.prompt:
                parts.append(f"prompt:{_short_hash(self.prompt)}")
            if self.schema is not None:
                parts.append(f"schema:{_short_hash(json.dumps(self.schema, sort_keys=True))}")
        if self.segment_seconds:
            parts.append(f"window:{self.segment_seconds:g}")
        if self.options is not None and self.options.result_fields():
            options = json.dumps(self.options.result_fields(), sort_keys=True, default=str)
            parts.append(f"options:{_short_hash(options)}")
        return "|".join(parts)


#: The prompt sent with a user's schema when no prompt or agent was given.
SCHEMA_PROMPT = "Extract the information described by the JSON schema from this file."


@dataclass(frozen=True)
class SourceInfo:
    """One input as the Documents describe it.

    ``identity`` names where the input came from (an absolute path or a URL without
    credentials; empty for bare bytes): two files with the same bytes at two paths
    are two sources, and keep distinct Document ids.
    """

    source: str
    content_hash: str
    mime_type: str | None = None
    file_id: str | None = None
    extra_metadata: Mapping[str, Any] = field(default_factory=dict)
    identity: str = ""

    @classmethod
    def for_url(cls, url: str) -> SourceInfo:
        # shown without its tokens; identified (hashed, never shown) with them, so two
        # URLs that differ only in a ``key=`` parameter stay two sources
        kept = url_without_credentials(url)
        return cls(
            source=redact_url(url),
            content_hash=f"url:{hashlib.sha256(kept.encode()).hexdigest()}",
            mime_type=mimetypes.guess_type(kept.split("?", 1)[0])[0],
            identity=kept,
        )


def document_id(content_hash: str, page: int | str, agent_key: str, identity: str = "") -> str:
    """A stable id from where the input came from, its bytes, the page and the agent.

    Example:
        >>> a = document_id("sha256:ab", 0, "agent", "/docs/a.pdf")
        >>> a == document_id("sha256:ab", 0, "agent", "/docs/a.pdf")  # stable
        True
        >>> a == document_id("sha256:ab", 0, "agent", "/docs/copy-of-a.pdf")  # 2 sources
        False
    """
    name = f"{identity}\n{content_hash}:{page}:{agent_key}"
    # file names the OS could not decode carry surrogates: keep them distinct, encodable
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, name))


def chunk_id(parent_id: str, index: int) -> str:
    """The id of chunk ``index`` of the Document ``parent_id`` (stable across re-splits)."""
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, f"{parent_id}#chunk{index}"))


class _Splitter(Protocol):
    def split_documents(self, documents: Iterable[Document]) -> list[Document]: ...


def split_documents(documents: Iterable[Document], splitter: _Splitter) -> list[Document]:
    """Split Documents with a LangChain text splitter, giving every chunk a stable id.

    Splitters drop ``Document.id``, so re-ingesting split pages would add every chunk
    again. Here chunk ``i`` of a page gets ``uuid5(page id, i)`` and keeps the page's id
    in ``metadata["parent_id"]`` and its position in ``metadata["chunk"]``: the same file
    split the same way upserts onto the same ids.

    Example:
        >>> from langchain_text_splitters import RecursiveCharacterTextSplitter
        >>> page = Document("word " * 60, id="p1", metadata={"source": "a.pdf"})
        >>> splitter = RecursiveCharacterTextSplitter(chunk_size=100, chunk_overlap=20)
        >>> chunks = split_documents([page], splitter)
        >>> [c.metadata["chunk"] for c in chunks], chunks[0].metadata["parent_id"]
        ([0, 1, 2, 3], 'p1')
        >>> again = split_documents([page], splitter)
        >>> [c.id for c in again] == [c.id for c in chunks]
        True
    """
    out: list[Document] = []
    for document in documents:
        parent = document.id or str(
            uuid.uuid5(
                DOCUMENT_NAMESPACE,
                json.dumps([document.page_content, document.metadata], sort_keys=True, default=str),
            )
        )
        for index, chunk in enumerate(splitter.split_documents([document])):
            chunk.id = chunk_id(parent, index)
            chunk.metadata = {**chunk.metadata, "parent_id": parent, "chunk": index}
            out.append(chunk)
    return out


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if "\n" in text or text == "" else text


def _leaf(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (Mapping, list)) else _scalar(value)


def _nested(value: Any) -> bool:
    return isinstance(value, (Mapping, list)) and bool(value)


def _outline(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = _scalar(key)  # quoted like a value when a newline would break the outline
            if _nested(item):
                lines.append(f"{pad}{name}:")
                lines.extend(_outline(item, indent + 1))
            else:
                lines.append(f"{pad}{name}: {_leaf(item)}")
    elif isinstance(value, list):
        for item in value:
            if _nested(item):
                nested = _outline(item, indent + 1)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{pad}- {_leaf(item)}")
    else:
        lines.append(f"{pad}{_leaf(value)}")
    return lines


def json_to_text(data: Any) -> str:
    """A readable, YAML-like outline of JSON data (for ``page_content`` and embeddings)."""
    return "\n".join(_outline(data, 0))


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def execution_to_documents(
    info: SourceInfo,
    execution: AgentExecution,
    spec: AgentSpec,
    validation: Validation[BaseModel] | None = None,
) -> list[Document]:
    """The Documents for one completed execution (see the module docstring).

    Raises:
        ResponseValidationError: ``spec.response_model`` is set and the response does not
            match it.
    """
    rendered = render_response(execution.response)
    base: dict[str, Any] = {
        **{k: v for k, v in info.extra_metadata.items() if v is not None},
        "source": info.source,
        "execution_id": execution.id,
        "agent": spec.agent_name or execution.name,
        "file_id": info.file_id,
        "credits_used": execution.usage.credits_used,
        "mime_type": info.mime_type,
        "artifacts": artifact_ids(execution.response) or None,
    }

    def make(content: str, id_page: int | str, **extra: Any) -> Document:
        metadata = {k: v for k, v in {**base, **extra}.items() if v is not None}
        return Document(
            page_content=content,
            metadata=_json_safe(metadata),
            id=document_id(info.content_hash, id_page, spec.key, info.identity),
        )

    if spec.response_model is not None:
        model = (
            validation.of(execution)
            if validation is not None
            else validate_response(execution, spec.response_model)
        )
        structured = model.model_dump(mode="json")
        return [make(json_to_text(structured), "all", response_type="json", structured=structured)]
    if rendered.kind == "pages":
        total = len(rendered.pages)
        if spec.mode == "single":
            return [
                make(
                    PAGE_SEPARATOR.join(rendered.pages),
                    "all",
                    total_pages=total,
                    response_type="pages",
                )
            ]
        return [
            make(content, index, page=index, total_pages=total, response_type="pages")
            for index, content in enumerate(rendered.pages)
        ]
    if rendered.kind == "segments":
        groups = merge_segments(rendered.segments, spec.segment_seconds)
        documents: list[Document] = []
        for group in groups:
            speakers = {s.speaker for s in group if s.speaker}
            start, end = group[0].start, max(s.end for s in group)
            documents.append(
                make(
                    "\n".join(s.render() for s in group),
                    f"{start:.3f}-{end:.3f}",
                    start_time=start,
                    end_time=end,
                    speaker=speakers.pop() if len(speakers) == 1 else None,
                    speakers=sorted(speakers) if len(speakers) > 1 else None,
                    segment=len(documents),
                    total_segments=len(groups),
                    response_type="segments",
                )
            )
        return documents
    if rendered.kind == "json":
        structured = _json_safe(rendered.data)
        return [make(json_to_text(structured), "all", response_type="json", structured=structured)]
    if rendered.kind == "text":
        return [make(rendered.pages[0], "all", response_type="text")]
    logger.warning(
        "VLM Run execution %s for %s returned an empty response; no Document made.",
        execution.id,
        info.source,
    )
    return []


# --- the I/O around it: one source → Documents ---------------------------------------


def _describe(source: FileSource, label: str | None) -> tuple[str, dict[str, Any]]:
    """(source label, extra metadata) of a path, Blob or bytes."""
    if isinstance(source, Blob):
        extra = dict(source.metadata or {})
        return label or (str(source.source) if source.source else ""), extra
    if isinstance(source, (bytes, bytearray, memoryview)):
        return label or "", {}
    return label or str(source), {}


def source_identity(source: FileSource) -> str:
    """Where an input came from, normalised: an absolute path (symlinks kept as named),
    a Blob's path or ``source``, or empty for bare bytes."""
    where: Any = source
    if isinstance(source, Blob):
        where = source.path if source.path is not None else source.source
    if isinstance(where, (bytes, bytearray, memoryview)) or where is None:
        return ""
    if isinstance(where, str) and "://" in where:
        return url_without_credentials(where)
    try:
        return str(os.path.abspath(os.path.expanduser(os.fspath(where))))
    except (TypeError, ValueError):
        return str(where)


@dataclass(frozen=True)
class SourceUsage:
    """What one source cost: HTTP requests sent (0 when cached), credits, cache hit, and
    the execution that read it (id and agent)."""

    source: str
    requests: int
    credits_used: float
    from_cache: bool
    execution_id: str | None = None
    agent: str | None = None


def _process_options(spec: AgentSpec) -> dict[str, Any]:
    """What ``spec`` asks of every request (the ``ExecuteRequest`` fields)."""
    return {
        "name": spec.agent_name,
        "prompt": spec.prompt,
        "json_schema": spec.schema,
        "inputs": spec.inputs,
        "config": spec.config,
        "options": spec.options,
        "callback_url": spec.callback_url,
    }


def _run_options(
    spec: AgentSpec,
    cache: ResultCache | None,
    wait_timeout: float | None,
    validation: Validation[BaseModel] | None,
) -> dict[str, Any]:
    """The client's ``process`` arguments for ``spec``."""
    fields = _process_options(spec)
    agent_name = fields.pop("name")  # the client's word for it
    return {
        **fields,
        "agent_name": agent_name,
        "input_key": spec.input_key,
        "wait_timeout": wait_timeout,
        "cache": cache,
        # a response that does not match the model is neither cached nor turned into
        # Documents
        "accept": validation.accept if validation is not None else None,
    }


def _documents_for(
    source: FileSource,
    label: str | None,
    processed: ProcessedSource,
    spec: AgentSpec,
    requests: int,
    validation: Validation[BaseModel] | None,
) -> tuple[list[Document], SourceUsage]:
    if processed.url is not None:
        info = SourceInfo.for_url(processed.url)
    else:
        shown, extra = _describe(source, label)
        info = SourceInfo(
            source=shown or processed.filename or processed.content_hash,
            content_hash=processed.content_hash,
            mime_type=processed.mime_type,
            file_id=processed.file_id,
            extra_metadata=extra,
            identity=source_identity(source),
        )
    documents = execution_to_documents(info, processed.execution, spec, validation)
    usage = SourceUsage(
        source=info.source,
        requests=requests,
        credits_used=0.0 if processed.from_cache else processed.execution.usage.credits_used or 0,
        from_cache=processed.from_cache,
        execution_id=processed.execution.id,
        agent=spec.agent_name or processed.execution.name,
    )
    return documents, usage


def _open_source(
    client: VLMRunClient | AsyncVLMRunClient, source: FileSource, within: Path | None = None
) -> tuple[Any, Medium]:
    """The source ready to process (a URL, or the file opened once) and its medium.

    ``within``: the (resolved) folder a path was found in by expanding it; the file is
    opened only beneath it, following no link, and only without other hard links.
    """
    if isinstance(source, str) and is_url(source):
        return source, medium_of_source(check_url(source))
    prepared = prepare_file(
        source,
        max_size=client.uploads.max_file_size,
        root=within,
        allow_hardlinks=within is None,
    )
    return prepared, medium_of_source(prepared)


def _close(target: Any) -> None:
    if isinstance(target, PreparedFile):
        target.close()


def wait_timeout_for(
    client: VLMRunClient | AsyncVLMRunClient | None, spec: AgentSpec, medium: Medium
) -> float | None:
    """The spec's wait_timeout; else, for built-in defaults, the medium's (long recordings take
    minutes) unless the client's own wait_timeout was set (the loader, parser and tool)."""
    given = client is not None and client.wait_timeout_given
    if spec.wait_timeout is not None or spec.default is None or given:
        return spec.wait_timeout
    return DEFAULT_WAIT_TIMEOUTS[medium]


def process_source(
    client: VLMRunClient,
    source: FileSource,
    spec: AgentSpec,
    *,
    label: str | None = None,
    cache: ResultCache | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    within: Path | None = None,
) -> tuple[list[Document], SourceUsage]:
    """Upload ``source`` (or reference it, if it is a URL), run the agent, map the result.

    One implementation for both clients: the flow (cache, upload, execute, wait,
    resume) is ``client.process``; this only maps its result to Documents. With
    ``artifacts_dir``, the artifacts the response references are saved there too.
    ``within`` confines a path to a folder (see :func:`_open_source`).
    """
    target, medium = _open_source(client, source, within)
    try:
        resolved = spec.for_medium(medium)
        validation = Validation(resolved.response_model) if resolved.response_model else None
        with count_requests() as counter:
            processed = client.process(
                target,
                **_run_options(
                    resolved, cache, wait_timeout_for(client, resolved, medium), validation
                ),
            )
            if artifacts_dir is not None and (ids := artifact_ids(processed.execution.response)):
                saved = save_artifacts(client, processed.execution.id, ids, artifacts_dir)
            else:
                saved = []
    finally:
        _close(target)
    documents, usage = _documents_for(
        source, label, processed, resolved, counter.requests, validation
    )
    _note_saved(documents, [item.path for item in saved])
    return documents, usage


async def aprocess_source(
    client: AsyncVLMRunClient,
    source: FileSource,
    spec: AgentSpec,
    *,
    label: str | None = None,
    cache: ResultCache | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    within: Path | None = None,
) -> tuple[list[Document], SourceUsage]:
    """Async twin of :func:`process_source`."""
    target, medium = await asyncio.to_thread(_open_source, client, source, within)
    try:
        resolved = spec.for_medium(medium)
        validation = Validation(resolved.response_model) if resolved.response_model else None
        with count_requests() as counter:
            processed = await client.process(
                target,
                **_run_options(
                    resolved, cache, wait_timeout_for(client, resolved, medium), validation
                ),
            )
            if artifacts_dir is not None and (ids := artifact_ids(processed.execution.response)):
                saved = await asave_artifacts(client, processed.execution.id, ids, artifacts_dir)
            else:
                saved = []
    finally:
        _close(target)
    documents, usage = _documents_for(
        source, label, processed, resolved, counter.requests, validation
    )
    _note_saved(documents, [item.path for item in saved])
    return documents, usage


def _note_saved(documents: list[Document], paths: list[Path]) -> None:
    """Record where a source's artifacts were saved, on each of its Documents."""
    if paths:
        for document in documents:
            document.metadata["artifact_files"] = [str(path) for path in paths]
