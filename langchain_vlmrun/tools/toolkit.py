"""``VLMRunToolkit``: the agents of a VLM Run workspace as LangChain tools.

An LLM chooses tools by name and description. Each agent built in VLM Run (name,
description, prompt, JSON schema) becomes its own tool, so the model sees
``invoice-extractor: Extracts invoice id, dates and totals...`` instead of one generic
"read a file" tool.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from langchain_vlmrun.client._settings import CLIENT_FIELDS, ClientSettings, setting_names
from langchain_vlmrun.core._text import model_text
from langchain_vlmrun.core._validation import AGENT_NAME, check_agent_name, reject_unknown
from langchain_vlmrun.core.models import AgentInfo
from langchain_vlmrun.files._confinement import normalise_roots_in
from langchain_vlmrun.tools.agent_tool import (
    VLMRunAgentTool,
    _tool_arguments,
    agent_description,
    tool_name,
)

if TYPE_CHECKING:
    from langchain_vlmrun.client._client import AsyncVLMRunClient, VLMRunClient

__all__ = ["VLMRunToolkit", "agent_description", "tool_name"]

logger = logging.getLogger("langchain_vlmrun")

#: The reader's name: no agent's tool takes it.
READER_NAME = "vlmrun_read_file"


def _version_key(agent: AgentInfo, position: int) -> tuple[datetime, int, int]:
    """Newest first: creation time, then the number in ``vN``, then listing order."""
    created = agent.created_at or datetime.min.replace(tzinfo=timezone.utc)
    digits = re.sub(r"\D", "", agent.version or "")
    return created, int(digits) if digits else -1, -position


class VLMRunToolkit(ClientSettings, BaseToolkit):
    """One LangChain tool per agent of your VLM Run workspace, plus a generic reader.

    Example:
        >>> from langchain.agents import create_agent
        >>> from langchain_vlmrun import VLMRunToolkit
        >>> toolkit = VLMRunToolkit(root_dir="./inbox")  # doctest: +SKIP
        >>> tools = toolkit.get_tools()  # doctest: +SKIP
        >>> [t.name for t in tools]  # doctest: +SKIP
        ['vlmrun_invoice-extractor', 'vlmrun_receipt-reader', 'vlmrun_read_file']
        >>> agent = create_agent(model, tools)  # doctest: +SKIP

    :meth:`get_tools` lists the workspace's agents once (``GET /agent``; :meth:`refresh`
    lists again) and makes a :class:`VLMRunAgentTool` for each, named after the agent
    with a ``vlmrun_`` prefix (see :func:`tool_name`: an agent cannot take the name of
    another tool) and described by it (see :func:`agent_description`: the server's text
    is cleaned, capped and quoted). By default only the latest version of each agent is
    offered, under its bare name, so tool names stay the same when an agent gets a new
    version; ``all_versions=True`` offers every version (``vlmrun_invoice-extractor_v1``,
    ...). Names are unique: agents whose names clean up to the same tool name get a
    suffix from their id. An agent of the listing whose name is not a valid agent name,
    or that cannot be made a tool, is left out with a warning (logger
    ``langchain_vlmrun``) that names it; the other agents are offered.

    Args:
        agents: only these agents (``"name"``: its latest version, or
            ``"name:version"``); an unknown one raises
            :class:`~langchain_vlmrun.AgentNotFoundError` with the closest names.
        predicate: only agents for which ``predicate(agent_info)`` is true.
        include_reader: add the generic reader tool (``vlmrun_read_file``: VLM Run's
            built-in reading of each medium, or ``reader_prompt`` when given).
        root_dir: folders local files may be read from (none: URLs only), for every tool.
        tool_options: more :class:`VLMRunAgentTool` arguments for every tool
            (``wait_timeout``, ``max_content_chars``, ``artifacts_dir``...), each
            checked when the toolkit is made (a misspelt or mistyped one raises).
        api_key, base_url, client, async_client: as for the tool; all tools share the
            toolkit's clients (``toolkit.close()``, ``aclose()`` or ``with`` close the
            ones it made). Its tools pickle and deep-copy (Dask, Ray).
        wait_timeout, cache: as for the tool, for every tool (``tool_options`` may set
            them instead).
    """

    agents: list[str] | None = None
    predicate: Callable[[AgentInfo], bool] | None = Field(default=None, exclude=True)
    all_versions: bool = False
    include_reader: bool = True
    reader_prompt: str | None = None
    root_dir: list[Path] = Field(default_factory=list)
    tool_options: dict[str, Any] = Field(default_factory=dict)
    model_config = ConfigDict(arbitrary_types_allowed=True)

    _listed: list[AgentInfo] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _roots(cls, values: Any) -> Any:
        return normalise_roots_in(values)

    @model_validator(mode="after")
    def _check(self) -> VLMRunToolkit:
        for name in self.agents or []:
            check_agent_name(name)
        reserved = {"agent_name", "agent", "prompt", "name", "description", "root_dir"}
        # what makes the shared clients (wait_timeout and cache are each tool's own)
        fields = {*CLIENT_FIELDS, "client", "async_client"}
        settings = fields | {
            info.alias for name in fields if (info := ClientSettings.model_fields[name]).alias
        }
        clashing = reserved.intersection(self.tool_options) | settings.intersection(
            self.tool_options
        )
        if clashing:
            raise ValueError(
                f"tool_options may not set {sorted(clashing)}: the toolkit sets them "
                "(pass root_dir and the client settings to the toolkit itself)."
            )
        _check_tool_options(self.tool_options)
        return self

    def refresh(self) -> None:
        """Forget the listed agents: the next :meth:`get_tools` lists them again."""
        self._listed = None

    def get_tools(self) -> list[BaseTool]:
        """A tool per selected agent (sorted by name), then the reader."""
        client = self._sync_client()
        if self._listed is None:
            self._listed = _valid(client.list_agents())
        chosen = self._choose(self._listed, client.require_agent)
        return self._tools(chosen)

    async def aget_tools(self) -> list[BaseTool]:
        """:meth:`get_tools`, listing with the async client."""
        client = self._async_client()
        if self._listed is None:
            self._listed = _valid(await client.list_agents())
        missing = self._missing(self._listed)
        found = {name: await client.require_agent(name) for name in missing}
        return self._tools(self._choose(self._listed, found.__getitem__))

    # -- selection -----------------------------------------------------------------------

    def _latest(self, listed: Sequence[AgentInfo]) -> dict[str, AgentInfo]:
        """Base name → its newest version."""
        latest: dict[str, tuple[tuple[datetime, int, int], AgentInfo]] = {}
        for position, agent in enumerate(listed):
            key = _version_key(agent, position)
            if agent.base_name not in latest or key > latest[agent.base_name][0]:
                latest[agent.base_name] = (key, agent)
        return {base: agent for base, (_, agent) in latest.items()}

    def _find(self, listed: Sequence[AgentInfo], name: str) -> AgentInfo | None:
        if ":" in name:
            return next((agent for agent in listed if agent.name == name), None)
        return self._latest(listed).get(name)

    def _missing(self, listed: Sequence[AgentInfo]) -> list[str]:
        return [name for name in self.agents or [] if self._find(listed, name) is None]

    def _choose(
        self, listed: Sequence[AgentInfo], look_up: Callable[[str], AgentInfo]
    ) -> list[AgentInfo]:
        if self.agents is not None:
            # a name the listing lacks is looked up: unknown raises with suggestions
            chosen = [self._find(listed, name) or look_up(name) for name in self.agents]
        elif self.all_versions:
            chosen = list(listed)
        else:
            chosen = list(self._latest(listed).values())
        if self.predicate is not None:
            chosen = [agent for agent in chosen if self.predicate(agent)]
        return list({agent.id: agent for agent in chosen}.values())

    # -- tools ---------------------------------------------------------------------------

    def _names(self, agents: Sequence[AgentInfo]) -> list[str]:
        """Unique, stable tool names: clashes get a suffix from the agent's id."""
        by_base: dict[str, int] = {}
        for agent in agents:
            by_base[agent.base_name] = by_base.get(agent.base_name, 0) + 1
        wanted = [
            tool_name(
                agent.name if self.all_versions or by_base[agent.base_name] > 1 else agent.base_name
            )
            for agent in agents
        ]
        return _unique(agents, wanted, {READER_NAME} if self.include_reader else set())

    def _clients(self) -> dict[str, Any]:
        sync: VLMRunClient = self._sync_client()
        asynchronous: AsyncVLMRunClient = self._async_client()
        return {"client": sync, "async_client": asynchronous}

    def _tools(self, agents: Sequence[AgentInfo]) -> list[BaseTool]:
        clients = self._clients()
        for agent in agents:  # the tools run pinned names these clients know exist
            clients["client"].known_agents.remember(agent)
            clients["async_client"].known_agents.remember(agent)
        # the toolkit's wait_timeout and cache are every tool's, unless tool_options says
        shared = {
            key: getattr(self, key)
            for key in ("wait_timeout", "cache")
            if getattr(self, key) is not None
        }
        options = {**shared, **self.tool_options, **clients, "root_dir": self.root_dir}
        tools: list[BaseTool] = []
        for agent, name in sorted(
            zip(agents, self._names(agents), strict=True), key=lambda pair: pair[1]
        ):
            try:
                tools.append(VLMRunAgentTool(**_tool_arguments(agent, options, name=name)))
            except (ValueError, TypeError) as exc:  # pydantic's ValidationError included
                _skip(agent, f"it cannot be made a tool ({exc})")
        if self.include_reader:
            tools.append(VLMRunAgentTool(prompt=self.reader_prompt, **options))
        return tools


_ARBITRARY = ConfigDict(arbitrary_types_allowed=True)


def _check_tool_options(options: dict[str, Any]) -> None:
    """Each of ``tool_options`` a :class:`VLMRunAgentTool` argument of the right type,
    checked when the toolkit is made: a wrong or misspelt one would otherwise leave out
    every agent (one warning each) at the first :meth:`VLMRunToolkit.get_tools`. A
    misspelt name gets the tool's own did-you-mean error; the aliases (``api_key``,
    ``base_url``) are settings, refused before this."""
    known = setting_names(VLMRunAgentTool)
    reject_unknown(
        "VLMRunAgentTool (tool_options)", [name for name in options if name not in known], known
    )
    for name, value in options.items():
        info = VLMRunAgentTool.model_fields[name]
        # the field's type and constraints (gt=0, strict), not its model-only settings
        checked: Any = info.annotation
        if info.metadata:
            checked = cast(Any, Annotated)[(checked, *info.metadata)]
        try:
            TypeAdapter(checked, config=_ARBITRARY).validate_python(value)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise ValueError(f"tool_options[{name!r}]: {problem} (got {value!r:.80})") from None


def _unique(agents: Sequence[AgentInfo], wanted: Sequence[str], reserved: set[str]) -> list[str]:
    """``wanted``, with a suffix from the agent's id on each name that clashes (with
    another agent's or a ``reserved`` one); the same agents always get the same names."""
    counts = Counter(wanted)
    names: list[str | None] = [
        name if counts[name] == 1 and name not in reserved else None for name in wanted
    ]
    used = reserved | {name for name in names if name is not None}
    clashing = sorted(
        (index for index, name in enumerate(names) if name is None),
        key=lambda index: (wanted[index], agents[index].id),
    )
    for index in clashing:
        digest = hashlib.sha256(agents[index].id.encode("utf-8", "surrogatepass")).hexdigest()
        candidates = [f"{wanted[index][: 63 - size]}_{digest[:size]}" for size in (6, 12, 24)]
        candidates += [f"{wanted[index][:50]}_{digest[:6]}_{n}" for n in range(2, len(agents) + 2)]
        name = next(candidate for candidate in candidates if candidate not in used)
        used.add(name)
        names[index] = name
    return [name for name in names if name is not None]


def _valid(listed: Sequence[AgentInfo]) -> list[AgentInfo]:
    """The agents of a listing whose names are valid agent names; the others are left
    out with a warning (a tool could not run them)."""
    valid = []
    for agent in listed:
        if AGENT_NAME.fullmatch(agent.name):
            valid.append(agent)
        else:
            _skip(agent, "its name is not a valid agent name")
    return valid


def _skip(agent: AgentInfo, reason: str) -> None:
    logger.warning(
        "VLMRunToolkit: left out the agent %r (id %r): %s.",
        model_text(agent.name, 80, single_line=True, marker="..."),
        model_text(agent.id, 80, single_line=True, marker="..."),
        model_text(reason, 300, single_line=True, marker="..."),
    )
