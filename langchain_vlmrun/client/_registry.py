"""Agents, execution history and artifacts: operations shared by both clients.

Same style as :mod:`langchain_vlmrun.client._operations`: each operation yields ``Call`` /
``Blocking`` effects that ``VLMRunClient`` and ``AsyncVLMRunClient`` carry out.

Wire format (official Python SDK ``vlmrun`` 0.9.2, ``client/agent.py``,
``executions.py``, ``artifacts.py``, ``types.py``, ``types/refs.py``, and the API
reference pages):

- ``POST /agent/lookup`` with exactly one of ``{"name"}`` (a bare name means the latest
  version), ``{"id"}`` or ``{"prompt"}`` → ``AgentInfo``; 404 unknown, 400 bad name.
- ``GET /agent`` → a bare array of ``AgentInfo``. The SDK sends no paging parameters
  and the OpenAPI page documents none; we send ``skip``/``limit`` and stop as soon as
  a page is short, larger than asked (paging ignored) or repeats what was seen.
- ``GET /agents/{id}`` (plural) → ``AgentInfo``.
- ``POST /agent/create`` ``{"name", "inputs", "config": {"prompt", "json_schema"?}}`` →
  ``{id, name, created_at, updated_at, status}``.
- ``GET /agent/executions?skip&limit`` → a bare array of executions (limit 1-1000).
- ``GET /artifacts?object_id=<kind>_<6 chars>&execution_id=...`` → the raw bytes, typed
  by Content-Type; a ``url_`` artifact answers with a text URL to download.
- ``GET /artifacts/list?execution_id=...`` → ``{"namespace_id", "items": [{"object_id",
  "filename", "source"}]}``.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import logging
import mimetypes
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from langchain_vlmrun.client._operations import Blocking, Call, Operation, _parse, path_segment
from langchain_vlmrun.core._validation import (
    check_agent_name,
    check_json_schema,
    check_mapping,
    check_number,
    merge_config,
)
from langchain_vlmrun.core.errors import (
    AgentNotFoundError,
    APIError,
    UnreadableResponseError,
)
from langchain_vlmrun.core.models import (
    AgentCreated,
    AgentExecution,
    AgentInfo,
    ArtifactList,
)
from langchain_vlmrun.files._sources import check_url

__all__ = [
    "ARTIFACT_ID",
    "ARTIFACT_KINDS",
    "KnownAgents",
    "Pager",
    "SavedArtifact",
    "artifact_kind",
    "closest_names",
    "create_agent",
    "download_artifact",
    "get_agent",
    "list_agents",
    "list_artifacts",
    "list_executions",
    "lookup_agent",
    "require_agent",
]

logger = logging.getLogger("langchain_vlmrun")

T = TypeVar("T")

#: Artifact ids, as the SDK's ``types/refs.py`` defines them (``ImageRef`` ...).
ARTIFACT_ID = re.compile(r"(img|aud|vid|doc|recon|arr|url)_\w{6}")

#: Artifact kind → (MIME type until the server says otherwise, file extension).
ARTIFACT_KINDS: dict[str, tuple[str | None, str]] = {
    "img": ("image/png", ".png"),
    "vid": ("video/mp4", ".mp4"),
    "aud": ("audio/mpeg", ".mp3"),
    "doc": ("application/pdf", ".pdf"),
    "recon": ("application/octet-stream", ".spz"),
    "arr": ("application/octet-stream", ".npy"),
    "url": (None, ".bin"),
}
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "application/json": ".json",
    "text/csv": ".csv",
    "audio/wav": ".wav",
    "video/webm": ".webm",
}
#: The only extensions an artifact is saved with: what the server says (its
#: Content-Type, a ``url_`` artifact's URL) is looked up here, never taken as it is, so
#: no answer can make the client write an ``.exe``, ``.sh`` or ``.html`` file.
SAFE_EXTENSIONS = frozenset(_EXTENSIONS.values()) | {ext for _, ext in ARTIFACT_KINDS.values()}

DEFAULT_PAGE_SIZE = 100
#: How alike two names must be (difflib ratio) to be suggested for one another.
SIMILAR = 0.8


# --- the per-client memory of agent names -------------------------------------------


#: Seconds an unknown name is answered from memory (so a load of many files with a
#: misspelled name sends one lookup, while an agent created meanwhile is found soon).
MISSING_FOR = 30.0


class KnownAgents:
    """Agent names a client has seen exist (thread-safe), so each is looked up once,
    and names just found missing (for :data:`MISSING_FOR` seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._agents: dict[str, AgentInfo] = {}
        self._missing: dict[str, tuple[float, AgentNotFoundError]] = {}
        self._name_locks: dict[str, threading.Lock] = {}

    def get(self, name: str) -> AgentInfo | None:
        with self._lock:
            return self._agents.get(name)

    def remember(self, info: AgentInfo, *, asked: str | None = None) -> None:
        """Record ``info`` under its full name (and under ``asked``, e.g. a bare name)."""
        with self._lock:
            self._agents[info.name] = info
            if asked:
                self._agents[asked] = info
            for name in filter(None, (info.name, info.base_name, asked)):
                self._missing.pop(name, None)

    def missing(self, name: str) -> AgentNotFoundError | None:
        """A fresh copy of the error ``name`` got less than MISSING_FOR seconds ago."""
        with self._lock:
            entry = self._missing.get(name)
            if entry is None or self._clock() - entry[0] >= MISSING_FOR:
                self._missing.pop(name, None)
                return None
            return entry[1].copy()

    def remember_missing(self, error: AgentNotFoundError) -> None:
        with self._lock:
            self._missing[error.name] = (self._clock(), error.copy())

    def forget_missing(self) -> None:
        """After creating an agent: names found missing may exist now."""
        with self._lock:
            self._missing.clear()

    def lock_for(self, name: str) -> threading.Lock:
        """One lock per name: concurrent first uses of a name send one lookup."""
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())


# --- paging -----------------------------------------------------------------------------


@dataclass
class Pager:
    """Walks ``skip``/``limit`` pages safely: a short page ends it, and so does a page
    larger than asked (the server ignored ``limit``) or one with nothing new (it ignored
    ``skip``), so a server that does not page cannot loop us forever. Items already
    seen (shifted by new arrivals between pages) are dropped."""

    page_size: int = DEFAULT_PAGE_SIZE
    skip: int = 0
    seen: set[str] = field(default_factory=set)

    def take(
        self, page: Sequence[T], key: Callable[[T], str], served: int | None = None
    ) -> tuple[list[T], bool]:
        """(the new items of ``page``, whether to ask for the next page). ``served``: how
        many items the server sent, when some could not be read (default: the page's)."""
        fresh: list[T] = []
        for item in page:
            if key(item) not in self.seen:
                self.seen.add(key(item))
                fresh.append(item)
        served = len(page) if served is None else served
        self.skip += served
        more = served == self.page_size and bool(fresh)
        return fresh, more


def _parse_list(
    response: httpx.Response, model: type[T], *, skip_unreadable: bool = False
) -> tuple[list[T], int]:
    """The items of a JSON array answer, and how many the server sent. An item that is
    not a ``model`` is an error, or with ``skip_unreadable`` left out with a warning."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise UnreadableResponseError(
            f"Unreadable response from {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}): expected a JSON array. This is a service-side "
            "problem: try again later, and report it if it persists.",
            request=response.request,
        )
    items: list[T] = []
    for item in body:
        try:
            items.append(model.model_validate(item))  # type: ignore[attr-defined]
        except ValidationError as exc:
            if not skip_unreadable:
                raise UnreadableResponseError(
                    f"Unreadable item in {response.request.method} "
                    f"{response.request.url.path}: {exc}",
                    request=response.request,
                ) from None
            # one bad item does not take the others down with it
            logger.warning(
                "skipping an unreadable item of %s %s (%s)",
                response.request.method,
                response.request.url.path,
                _first_problem(exc),
            )
    return items, len(body)


def _first_problem(exc: ValidationError) -> str:
    """Where the first error is and what (``name: Field required``), in 200 characters."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "item"
    return f"{where}: {error['msg']}"[:200]


# --- agents -----------------------------------------------------------------------------


def lookup_agent(
    *, name: str | None = None, agent_id: str | None = None, prompt: str | None = None
) -> Operation[AgentInfo]:
    """``POST /agent/lookup`` by exactly one of name (bare: latest version), id, prompt."""
    given = {
        key: value
        for key, value in (("name", name), ("id", agent_id), ("prompt", prompt))
        if value is not None
    }
    if len(given) != 1:
        raise ValueError("Look an agent up by exactly one of name=..., agent_id=... or prompt=...")
    check_agent_name(name)
    for key, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key} must be a non-empty string, got {value!r}.")
    response = yield Call("POST", "/agent/lookup", json=given)
    return _parse(response, AgentInfo)


def get_agent(agent_id: str) -> Operation[AgentInfo]:
    """``GET /agents/{id}`` (plural, as every SDK spells it)."""
    if not isinstance(agent_id, str) or not agent_id:
        raise ValueError(f"agent_id must be a non-empty string, got {agent_id!r}.")
    response = yield Call("GET", f"/agents/{path_segment(agent_id)}")
    return _parse(response, AgentInfo)


def list_agents(page_size: int = DEFAULT_PAGE_SIZE) -> Operation[list[AgentInfo]]:
    """Every agent of the workspace (``GET /agent``, page after page)."""
    check_number("page_size", page_size, minimum=1, inclusive=True, integer=True, optional=False)
    pager = Pager(page_size)
    agents: list[AgentInfo] = []
    more = True
    while more:
        response = yield Call("GET", "/agent", params={"skip": pager.skip, "limit": page_size})
        page, served = _parse_list(response, AgentInfo, skip_unreadable=True)
        fresh, more = pager.take(page, lambda agent: agent.id, served)
        agents.extend(fresh)
    return agents


def create_agent(
    prompt: str,
    *,
    name: str | None = None,
    json_schema: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    callback_url: str | None = None,
) -> Operation[AgentCreated]:
    """``POST /agent/create``: a new agent (``name`` gets a ``:vN`` version if it has
    none). Creating is not idempotent, so it is not re-sent after an ambiguous failure."""
    check_agent_name(name)
    check_mapping("inputs", inputs)
    merged = merge_config(config, prompt=prompt, json_schema=check_json_schema(json_schema))
    if not isinstance(merged.get("prompt"), str) or not merged["prompt"].strip():
        raise ValueError("An agent needs a prompt: create_agent('Extract ...').")
    body: dict[str, Any] = {
        "name": name,
        "inputs": dict(inputs) if inputs is not None else None,
        "config": {k: v for k, v in merged.items() if v is not None},
    }
    if callback_url:
        body["callback_url"] = callback_url
    response = yield Call("POST", "/agent/create", json=body, retry="unambiguous")
    return _parse(response, AgentCreated)


def closest_names(name: str, names: Sequence[str], n: int = 5) -> list[str]:
    """The existing agent names most like ``name``: its other versions if it has some,
    else the names that differ from it by a typo or two (case ignored).

    Example:
        >>> closest_names("invoice-extractr", ["invoice-extractor:v1", "receipts:v2"])
        ['invoice-extractor:v1']
        >>> closest_names("receipts:v9", ["invoice-extractor:v1", "receipts:v2"])
        ['receipts:v2']
    """
    wanted_base = name.lower().split(":", 1)[0]

    def similarity(candidate: str) -> float:  # of the names without their versions
        base = candidate.lower().split(":", 1)[0]
        return difflib.SequenceMatcher(None, wanted_base, base).ratio()

    same_base = [c for c in names if c.lower().split(":", 1)[0] == wanted_base]
    if same_base:  # the name is right, the version is not
        return same_base[:n]
    scored = sorted(
        ((similarity(c), c) for c in names if c not in same_base), key=lambda pair: -pair[0]
    )
    similar = [candidate for score, candidate in scored if score >= SIMILAR]
    return list(dict.fromkeys(same_base + similar))[:n]


def require_agent(name: str, known: KnownAgents) -> Operation[AgentInfo]:
    """The agent ``name`` (looked up once per client), or :class:`AgentNotFoundError`
    listing the closest existing names (from ``GET /agent``)."""
    check_agent_name(name)
    info = known.get(name)
    if info is not None:
        return info
    missing = known.missing(name)
    if missing is not None:
        raise missing
    response = yield Call("POST", "/agent/lookup", json={"name": name}, accept=frozenset({404}))
    if response.status_code != 404:
        info = _parse(response, AgentInfo)
        known.remember(info, asked=name)
        return info
    existing: list[str] | None
    try:
        existing = [agent.name for agent in (yield from list_agents())]
    except APIError as exc:  # the suggestions are a courtesy: the 404 is the answer
        logger.debug("could not list agents for suggestions: %s", exc.message)
        existing = None
    error = AgentNotFoundError.for_name(
        name,
        existing=existing,
        suggestions=closest_names(name, existing or []),
        response=response,
    )
    known.remember_missing(error)
    raise error


# --- executions -------------------------------------------------------------------------


def list_executions(skip: int = 0, limit: int = 10) -> Operation[list[AgentExecution]]:
    """One page of the execution history, newest first (``GET /agent/executions``)."""
    check_number("skip", skip, minimum=0, inclusive=True, integer=True, optional=False)
    check_number("limit", limit, minimum=1, inclusive=True, integer=True, optional=False)
    if limit > 1000:
        raise ValueError(f"limit must be at most 1000 (the API's maximum), got {limit}.")
    response = yield Call("GET", "/agent/executions", params={"skip": skip, "limit": limit})
    return _parse_list(response, AgentExecution)[0]


# --- artifacts --------------------------------------------------------------------------


def artifact_kind(object_id: object) -> str:
    """The kind of an artifact id (``img``, ``vid``...), or ValueError.

    Example:
        >>> artifact_kind("img_1a2b3c")
        'img'
    """
    if not isinstance(object_id, str) or not ARTIFACT_ID.fullmatch(object_id):
        raise ValueError(
            f"Not an artifact id: {object_id!r} (expected <kind>_<6 characters>, kind one "
            f"of {', '.join(ARTIFACT_KINDS)})."
        )
    return object_id.split("_", 1)[0]


@dataclass(frozen=True)
class SavedArtifact:
    """An artifact written to disk: where, its MIME type and size in bytes."""

    object_id: str
    execution_id: str
    path: Path
    mime_type: str | None
    size: int


def artifact_folder(directory: str | os.PathLike[str], execution_id: str) -> Path:
    """``directory/<execution id>``, the id made one safe path component."""
    if not isinstance(execution_id, str) or not execution_id.strip():
        raise ValueError(f"execution_id must be a non-empty string, got {execution_id!r}.")
    component = path_segment(execution_id)
    # (path_segment escapes a component of dots: "." and ".." are refused by name)
    if execution_id.strip() in {".", ".."} or len(component) > 200:
        raise ValueError(f"Unusable execution id for a folder name: {execution_id!r}.")
    return Path(directory) / component


def _mime(content_type: str | None) -> str | None:
    """``image/png`` from ``image/png; charset=...`` (None when absent)."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _extension(kind: str, mime: str | None, url: str | None = None) -> str:
    """One of :data:`SAFE_EXTENSIONS`: the known MIME type's, a ``url_`` artifact URL's
    own when it is a safe one, else the kind's (``.bin`` for a ``url_`` artifact)."""
    if mime in _EXTENSIONS:
        return _EXTENSIONS[mime]
    if url is not None:
        suffix = Path(urlsplit(url).path).suffix.lower()
        if suffix in SAFE_EXTENSIONS:
            return suffix
    return ARTIFACT_KINDS[kind][1]


def _mime_of(extension: str, kind: str) -> str | None:
    """The MIME type of a saved artifact: its (safe) extension's, never the server's text."""
    return mimetypes.guess_type(f"artifact{extension}")[0] or ARTIFACT_KINDS[kind][0]


def _is_own_folder(folder: Path) -> bool:
    """Whether ``folder`` is a real folder (not a link to one somewhere else)."""
    try:
        return stat.S_ISDIR(os.lstat(folder).st_mode)
    except OSError:
        return False


def saved_artifact(folder: Path, execution_id: str, object_id: str) -> SavedArtifact | None:
    """The complete file of an artifact downloaded before (``folder/<id>.<ext>``): a
    regular file with a safe extension in a real folder, never a link."""
    if not _is_own_folder(folder):
        return None
    for path in sorted(folder.glob(f"{object_id}.*")):
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and path.suffix in SAFE_EXTENSIONS:
            mime = _mime_of(path.suffix, artifact_kind(object_id))
            return SavedArtifact(object_id, execution_id, path, mime, info.st_size)
    return None


#: Whether files can be created and renamed relative to a folder's descriptor (POSIX;
#: os.replace takes the same dir_fd arguments as os.rename, the one listed).
_AT_FUNCTIONS = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class _Landing:
    """Where one artifact download lands: a hidden temporary file, created exclusively
    in the execution's folder, and renamed once complete. The folder is opened without
    following a link and every later step is relative to that open folder, so a
    neighbour who swaps the folder (or the file) for a link cannot redirect the writes."""

    def __init__(self, directory: str | os.PathLike[str], execution_id: str, object_id: str):
        folder = artifact_folder(directory, execution_id)
        folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder, self._settled = folder, False
        self._temp = f".{object_id}.{os.urandom(6).hex()}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        if _AT_FUNCTIONS:
            parent = os.open(folder.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(folder.name, 0o700, dir_fd=parent)
                try:
                    self._dir: int | None = os.open(
                        folder.name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=parent
                    )
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ValueError(
                            f"{folder} is not a folder of its own (a symbolic link?); "
                            "artifacts are not written through it. Remove it, or choose "
                            "another artifacts folder."
                        ) from None
                    raise
            finally:
                os.close(parent)
            fd = os.open(self._temp, flags, 0o600, dir_fd=self._dir)
        else:  # no openat (Windows): by name
            folder.mkdir(exist_ok=True, mode=0o700)
            if not _is_own_folder(folder):
                raise ValueError(f"{folder} is not a folder of its own; choose another.")
            self._dir = None
            fd = os.open(folder / self._temp, flags, 0o600)
        self.file = os.fdopen(fd, "wb")

    def settle(self, name: str) -> int:
        """Rename the complete file to ``name`` (in the same folder); its size."""
        self.file.flush()
        size = os.fstat(self.file.fileno()).st_size
        if self._dir is not None:
            os.replace(self._temp, name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
        else:  # no openat
            os.replace(self.folder / self._temp, self.folder / name)
        self._settled = True
        return size

    def close(self) -> None:
        """Close everything; a temporary file never settled is removed."""
        self.file.close()
        if not self._settled:
            with contextlib.suppress(OSError):
                if self._dir is not None:
                    os.unlink(self._temp, dir_fd=self._dir)
                else:  # no openat
                    (self.folder / self._temp).unlink()
        if self._dir is not None:
            os.close(self._dir)
            self._dir = None


def list_artifacts(execution_id: str) -> Operation[ArtifactList]:
    """``GET /artifacts/list?execution_id=...``: what an execution produced."""
    if not isinstance(execution_id, str) or not execution_id:
        raise ValueError(f"execution_id must be a non-empty string, got {execution_id!r}.")
    response = yield Call("GET", "/artifacts/list", params={"execution_id": execution_id})
    return _parse(response, ArtifactList)


def download_artifact(
    execution_id: str | None,
    object_id: str,
    directory: str | os.PathLike[str],
    *,
    session_id: str | None = None,
) -> Operation[SavedArtifact]:
    """Stream artifact ``object_id`` of ``execution_id`` (or of a chat's ``session_id``,
    instead) to ``directory/<execution or session id>/<object id>.<ext>`` (the
    extension follows the server's Content-Type); a file already there is reused
    without a request.

    The body goes to a hidden temporary file first (rewritten on every retry) and is
    renamed once complete, so a file under its final name is always whole. A ``url_``
    artifact's answer is a URL: that is downloaded (unauthenticated) instead.
    """
    if (execution_id is None) == (session_id is None):
        raise ValueError("Give an execution_id or a session_id= (of a chat), not both.")
    owner, owner_id = (
        ("execution_id", execution_id) if execution_id is not None else ("session_id", session_id)
    )
    assert owner_id is not None
    kind = artifact_kind(object_id)
    folder = artifact_folder(directory, owner_id)
    existing: SavedArtifact | None = yield Blocking(
        lambda: saved_artifact(folder, owner_id, object_id)
    )
    if existing is not None:
        return existing
    landing: _Landing = yield Blocking(lambda: _Landing(directory, owner_id, object_id))
    try:
        params = {"object_id": object_id, owner: owner_id}
        url: str | None = None
        if kind == "url":
            answer = yield Call("GET", "/artifacts", params=params)
            url = check_url(answer.text.strip())
            response = yield Call(
                "GET", url, absolute=True, authenticated=False, download=landing.file
            )
        else:
            response = yield Call("GET", "/artifacts", params=params, download=landing.file)
        extension = _extension(kind, _mime(response.headers.get("content-type")), url)
        name = f"{object_id}{extension}"
        size: int = yield Blocking(lambda: landing.settle(name))
    finally:
        landing.close()  # a download that failed leaves nothing behind
    return SavedArtifact(object_id, owner_id, folder / name, _mime_of(extension, kind), size)
