"""``ExecuteOptions``: the rest of ``POST /agent/execute``, typed.

Field names and values follow the official SDK (``AgentExecutionConfig``,
``RequestMetadata`` and ``AgentClient.execute``): ``skills``, ``service_tier``,
``mode`` and ``orchestration_mode`` go into ``config``; ``environment`` and
``session_id`` into ``metadata``; ``model`` and ``toolsets`` at the top level.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

__all__ = [
    "DEFAULT_MODEL",
    "Environment",
    "ExecuteOptions",
    "InlineSkill",
    "OrionModel",
    "ServiceTier",
    "SkillReference",
]

#: VLM Run's agent models; any other string is passed as it is.
OrionModel = Literal[
    "vlmrun-orion-1:lite", "vlmrun-orion-1:fast", "vlmrun-orion-1:auto", "vlmrun-orion-1:pro"
]
#: The model an execution runs on when none is named (what the official SDK sends).
DEFAULT_MODEL = "vlmrun-orion-1:auto"
ServiceTier = Literal["auto", "default", "standard", "flex", "priority"]
Environment = Literal["dev", "staging", "prod"]


class SkillReference(BaseModel):
    """A skill stored server-side, by id (or name) and version (default ``latest``)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["skill_reference"] = "skill_reference"
    skill_id: str
    skill_version: str = "latest"


class InlineSkill(BaseModel):
    """A skill sent with the request: a base64-encoded zip bundle of its files.

    Sent as the official SDK sends it: the bundle goes in ``source`` (``type: base64``,
    ``media_type: application/zip``), beside ``skill_version``.

    Example:
        >>> InlineSkill(name="csv-insights", description="Summarize CSV files.",
        ...             bundle="UEsFBg==").model_dump()["source"]["media_type"]
        'application/zip'
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["inline"] = "inline"
    name: str
    description: str
    bundle: str = Field(repr=False, exclude=True)
    """The zip of the skill's files, base64-encoded."""
    skill_version: str = "latest"

    @computed_field(repr=False)  # type: ignore[prop-decorator]
    @property
    def source(self) -> dict[str, str]:
        return {"type": "base64", "media_type": "application/zip", "data": self.bundle}


class ExecuteOptions(BaseModel):
    """How VLM Run runs an execution, beyond the agent, prompt and schema.

    Example:
        >>> options = ExecuteOptions(model="vlmrun-orion-1:fast", service_tier="flex",
        ...                          skills=[SkillReference(skill_id="invoices")])
        >>> options.config_fields()["skills"]
        [{'type': 'skill_reference', 'skill_id': 'invoices', 'skill_version': 'latest'}]

    Args:
        model: ``vlmrun-orion-1:lite|fast|auto|pro`` (or another model's name).
        skills: server-side skills (:class:`SkillReference`) or inline ones.
        service_tier: billing and routing tier (``flex``: cheaper, slower).
        execution_mode: ``agent`` (full agent loop) or ``program`` (cached pipeline);
            sent as ``config.mode``.
        orchestration_mode: multi-step orchestration on or off.
        toolsets: tool categories the agent may use.
        environment, session_id: request metadata (labels; they do not change results).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: OrionModel | str | None = None
    skills: list[SkillReference | InlineSkill] | None = None
    service_tier: ServiceTier | None = None
    execution_mode: Literal["agent", "program"] | None = None
    orchestration_mode: bool | None = None
    toolsets: list[str] | None = None
    environment: Environment | None = None
    session_id: str | None = None

    def config_fields(self) -> dict[str, Any]:
        """What goes into the request's ``config`` (unset fields left out)."""
        fields = {
            "skills": [s.model_dump(exclude_none=True) for s in self.skills]
            if self.skills is not None
            else None,
            "service_tier": self.service_tier,
            "mode": self.execution_mode,
            "orchestration_mode": self.orchestration_mode,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def metadata_fields(self) -> dict[str, Any]:
        """What goes into the request's ``metadata``."""
        fields = {"environment": self.environment, "session_id": self.session_id}
        return {k: v for k, v in fields.items() if v is not None}

    def result_fields(self) -> dict[str, Any]:
        """The options that can change what an execution returns (for cache keys and
        Document ids): not the tier or the metadata labels."""
        fields = {
            **self.config_fields(),
            "model": self.model,
            "toolsets": self.toolsets,
        }
        fields.pop("service_tier", None)
        return {k: v for k, v in fields.items() if v is not None}
