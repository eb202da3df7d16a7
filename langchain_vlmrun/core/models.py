"""Pydantic models of the VLM Run wire types.

They are tolerant: unknown fields are kept (``extra="allow"``), optional fields may be
missing, status strings are plain ``str`` (unknown ones are accepted) and naive
datetimes are read as UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "TERMINAL_STATUSES",
    "AgentCreated",
    "AgentExecution",
    "AgentInfo",
    "ArtifactItem",
    "ArtifactList",
    "CreditUsage",
    "FileResponse",
    "PresignedUpload",
]

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
FAILED_STATUSES = frozenset({"failed", "cancelled"})


def _assume_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FileResponse(_Wire):
    """An uploaded file. ``public_url`` is a short-lived presigned URL: never persist it."""

    id: str | None = None
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    created_at: UtcDatetime | None = None
    object: str | None = "file"
    public_url: str | None = Field(default=None, repr=False)


class PresignedUpload(_Wire):
    """Answer of ``POST /files/presigned-url``: where to ``PUT`` the bytes."""

    id: str
    url: str = Field(repr=False)
    filename: str | None = None
    content_type: str | None = None
    upload_method: str | None = "PUT"
    public_url: str | None = Field(default=None, repr=False)
    created_at: UtcDatetime | None = None


class CreditUsage(_Wire):
    """What an execution consumed."""

    elements_processed: int | None = None
    element_type: str | None = None
    credits_used: int | float | None = None
    steps: int | None = None
    message: str | None = None
    duration_seconds: float | None = None


class AgentExecution(_Wire):
    """An agent execution (``AgentExecutionResponse``)."""

    id: str
    name: str | None = None
    status: str = "pending"
    created_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    response: Any = None
    usage: CreditUsage = Field(default_factory=CreditUsage)
    execution_mode: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_failed(self) -> bool:
        return self.status in FAILED_STATUSES

    def failure_message(self) -> str:
        """Best readable explanation of a failure (usage.message, response.error/detail)."""
        parts: list[str] = []
        if self.usage.message:
            parts.append(self.usage.message)
        if isinstance(self.response, dict):
            for key in ("error", "detail", "message"):
                value = self.response.get(key)
                if value:
                    parts.append(value if isinstance(value, str) else repr(value))
        return "; ".join(parts) or "the server gave no reason"


class AgentInfo(_Wire):
    """An agent of the workspace (``AgentInfo``: ``POST /agent/lookup``, ``GET /agent``,
    ``GET /agents/{id}``). ``name`` is ``"name:version"``; ``json_schema`` is the shape
    of its responses (None: markdown or free-form JSON)."""

    id: str
    name: str
    description: str | None = None
    prompt: str | None = None
    json_schema: dict[str, Any] | None = None
    json_sample: dict[str, Any] | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    status: str | None = None

    @property
    def base_name(self) -> str:
        """The name without its ``:version``."""
        return self.name.split(":", 1)[0]

    @property
    def version(self) -> str | None:
        """The version after ``:`` (None when the name has none)."""
        return self.name.split(":", 1)[1] if ":" in self.name else None


class AgentCreated(_Wire):
    """Answer of ``POST /agent/create`` (``AgentCreationResponse``): the agent is
    ``pending`` until the service has built it."""

    id: str
    name: str
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    status: str | None = None


class ArtifactItem(_Wire):
    """One entry of ``GET /artifacts/list``; ``source`` is store, manifest or workspace."""

    object_id: str
    filename: str | None = None
    source: str | None = None


class ArtifactList(_Wire):
    """Answer of ``GET /artifacts/list``: the artifacts of an execution (or session)."""

    namespace_id: str | None = None
    items: list[ArtifactItem] = Field(default_factory=list)
