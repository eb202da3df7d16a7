"""Artifacts: what an agent produced besides JSON (images, redacted documents, clips...).

An execution's response references them by id (``img_1a2b3c``, ``doc_…``, ``vid_…``,
as the SDK's ``types/refs.py`` defines them). :func:`artifact_ids` finds those ids;
:class:`ArtifactBlob` is a LangChain ``Blob`` for one of them that downloads it on first
read (``GET /artifacts``, streamed to disk, never held whole in memory) and then
reads from the file.

Example:
    >>> from langchain_vlmrun.client.artifacts import artifact_ids
    >>> artifact_ids({"redacted": {"id": "doc_9f8e7d"}, "thumbs": ["img_1a2b3c", "x"]})
    ['doc_9f8e7d', 'img_1a2b3c']
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from io import BufferedReader, BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from pydantic import PrivateAttr

from langchain_vlmrun.client._registry import (
    ARTIFACT_ID,
    ARTIFACT_KINDS,
    SavedArtifact,
    artifact_folder,
    artifact_kind,
)

if TYPE_CHECKING:
    from langchain_vlmrun.client._client import AsyncVLMRunClient, VLMRunClient

__all__ = [
    "ARTIFACT_ID",
    "ArtifactBlob",
    "SavedArtifact",
    "artifact_blobs",
    "artifact_ids",
    "asave_artifacts",
    "default_artifacts_dir",
    "document_artifacts",
    "save_artifacts",
]

_MAX_DEPTH = 32


def artifact_ids(response: Any) -> list[str]:
    """The artifact ids a response references, in order of appearance, each once.

    Any string of the response that is exactly an artifact id counts (a bare id, an
    ``{"id": "img_…"}`` ref object, an ``"artifacts"`` list).
    """
    found: dict[str, None] = {}

    def walk(value: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, str):
            if ARTIFACT_ID.fullmatch(value):
                found.setdefault(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, depth + 1)

    walk(response, 0)
    return list(found)


_default_dir: Path | None = None
_default_dir_lock = threading.Lock()


def default_artifacts_dir() -> Path:
    """A private folder of this process for artifacts fetched without a chosen folder
    (made with ``tempfile.mkdtemp``, readable by this user only; not removed)."""
    global _default_dir
    with _default_dir_lock:
        if _default_dir is None:
            _default_dir = Path(tempfile.mkdtemp(prefix="langchain-vlmrun-artifacts-"))
        return _default_dir


class ArtifactBlob(Blob):
    """A LangChain ``Blob`` for one artifact of an execution, downloaded on first read.

    ``as_bytes()``, ``as_string()`` and ``as_bytes_io()`` fetch it first if needed
    (``GET /artifacts``, streamed to ``path``); :meth:`fetch` / :meth:`afetch` do it
    explicitly (use ``await blob.afetch()`` in async code). Until fetched, ``mimetype``
    is what the id's kind implies (``img`` → ``image/png``); after, the server's
    Content-Type (``path`` may then change extension, e.g. ``.jpg``).

    Example:
        >>> blob = message.artifact.artifacts[0]  # doctest: +SKIP
        >>> blob.object_id, blob.mimetype  # doctest: +SKIP
        ('img_1a2b3c', 'image/png')
        >>> png = blob.as_bytes()  # doctest: +SKIP
    """

    object_id: str
    execution_id: str

    _fetcher: Callable[[], SavedArtifact] | None = PrivateAttr(default=None)
    _afetcher: Callable[[], Awaitable[SavedArtifact]] | None = PrivateAttr(default=None)

    @classmethod
    def create(
        cls,
        execution_id: str | None,
        object_id: str,
        *,
        directory: str | os.PathLike[str] | None = None,
        client: VLMRunClient | Callable[[], VLMRunClient] | None = None,
        async_client: AsyncVLMRunClient | Callable[[], AsyncVLMRunClient] | None = None,
        session_id: str | None = None,
    ) -> ArtifactBlob:
        """A blob for ``object_id`` of ``execution_id`` (or, with ``execution_id=None``,
        of a chat's ``session_id``), to be saved under ``directory`` (default:
        :func:`default_artifacts_dir`). ``client``/``async_client`` (or functions
        returning one, called only when the blob is read) fetch it."""
        if (execution_id is None) == (session_id is None):
            raise ValueError("Give an execution_id or a session_id= (of a chat), not both.")
        owner_id = execution_id if execution_id is not None else session_id
        assert owner_id is not None
        owner = "execution_id" if execution_id is not None else "session_id"
        kind = artifact_kind(object_id)
        folder = artifact_folder(directory or default_artifacts_dir(), owner_id)
        mimetype, extension = ARTIFACT_KINDS[kind]
        blob = cls(
            data=None,
            path=folder / f"{object_id}{extension}",
            mimetype=mimetype,
            object_id=object_id,
            execution_id=owner_id,
            metadata={"object_id": object_id, owner: owner_id, "kind": kind},
        )
        root = folder.parent
        if client is not None:
            get_client = client if callable(client) else (lambda: client)
            blob._fetcher = lambda: get_client().download_artifact(
                execution_id, object_id, root, session_id=session_id
            )
        if async_client is not None:
            get_async = async_client if callable(async_client) else (lambda: async_client)
            blob._afetcher = lambda: get_async().download_artifact(
                execution_id, object_id, root, session_id=session_id
            )
        return blob

    @property
    def kind(self) -> str:
        """``img``, ``vid``, ``aud``, ``doc``, ``recon``, ``arr`` or ``url``."""
        return artifact_kind(self.object_id)

    @property
    def fetched(self) -> bool:
        """Whether the file is on disk (reading it sends no request): a regular file, not
        a link planted under its name."""
        if self.path is None:
            return False
        try:
            return stat.S_ISREG(os.lstat(self.path).st_mode)
        except OSError:
            return False

    def _open(self) -> BufferedReader:
        """The downloaded file, opened without following a link (one swapped in after
        the download is refused, not read)."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(str(self.path), flags | getattr(os, "O_CLOEXEC", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(f"{self.path} is not a regular file; delete it and fetch again.")
        return os.fdopen(fd, "rb")

    def fetch(self) -> ArtifactBlob:
        """Download the artifact unless it is on disk already; returns the blob."""
        if not self.fetched:
            if self._fetcher is None:
                raise RuntimeError(self._no_client("a sync client", "await blob.afetch()"))
            self._settle(self._fetcher())
        return self

    async def afetch(self) -> ArtifactBlob:
        """Async :meth:`fetch` (with the async client)."""
        if not self.fetched:
            if self._afetcher is None:
                raise RuntimeError(self._no_client("an async client", "blob.fetch()"))
            self._settle(await self._afetcher())
        return self

    def _no_client(self, what: str, instead: str) -> str:
        return (
            f"Artifact {self.object_id} of execution {self.execution_id} is not downloaded "
            f"and this blob has no {what} to fetch it with; use {instead}, or "
            f"client.download_artifact({self.execution_id!r}, {self.object_id!r}, folder)."
        )

    def _settle(self, saved: SavedArtifact) -> None:
        """Point the blob at the downloaded file and its real MIME type. ``Blob`` is
        frozen; these two fields describe the same artifact, only better known now."""
        object.__setattr__(self, "path", saved.path)
        object.__setattr__(self, "mimetype", saved.mime_type or self.mimetype)

    def as_bytes(self) -> bytes:
        self.fetch()
        with self._open() as file:
            return file.read()

    def as_string(self) -> str:
        return self.as_bytes().decode(self.encoding)

    @contextlib.contextmanager
    def as_bytes_io(self) -> Generator[BytesIO | BufferedReader, None, None]:
        self.fetch()
        with self._open() as stream:
            yield stream

    def __getstate__(self) -> dict[Any, Any]:
        """Copies and pickles keep the reference, not the client (it cannot travel)."""
        state = super().__getstate__()
        state["__pydantic_private__"] = {"_fetcher": None, "_afetcher": None}
        return state


def artifact_blobs(
    execution_id: str,
    response: Any,
    *,
    directory: str | os.PathLike[str] | None = None,
    client: VLMRunClient | Callable[[], VLMRunClient] | None = None,
    async_client: AsyncVLMRunClient | Callable[[], AsyncVLMRunClient] | None = None,
) -> list[ArtifactBlob]:
    """An :class:`ArtifactBlob` per artifact ``response`` references (no request sent)."""
    return [
        ArtifactBlob.create(
            execution_id, object_id, directory=directory, client=client, async_client=async_client
        )
        for object_id in artifact_ids(response)
    ]


def document_artifacts(
    document: Document,
    *,
    directory: str | os.PathLike[str] | None = None,
    client: VLMRunClient | Callable[[], VLMRunClient] | None = None,
    async_client: AsyncVLMRunClient | Callable[[], AsyncVLMRunClient] | None = None,
) -> list[ArtifactBlob]:
    """The artifacts a loader Document references (``metadata["artifacts"]`` ids of
    ``metadata["execution_id"]``), as blobs fetched on first read."""
    metadata = document.metadata or {}
    execution_id = metadata.get("execution_id")
    ids = metadata.get("artifacts") or []
    if not isinstance(execution_id, str) or not isinstance(ids, list):
        return []
    return [
        ArtifactBlob.create(
            execution_id, object_id, directory=directory, client=client, async_client=async_client
        )
        for object_id in ids
        if isinstance(object_id, str) and ARTIFACT_ID.fullmatch(object_id)
    ]


def save_artifacts(
    client: VLMRunClient,
    execution_id: str,
    object_ids: Iterable[str],
    directory: str | os.PathLike[str],
) -> list[SavedArtifact]:
    """Download each artifact to ``directory/<execution id>/`` (files there are reused)."""
    return [client.download_artifact(execution_id, oid, directory) for oid in object_ids]


async def asave_artifacts(
    client: AsyncVLMRunClient,
    execution_id: str,
    object_ids: Iterable[str],
    directory: str | os.PathLike[str],
) -> list[SavedArtifact]:
    """Async :func:`save_artifacts`."""
    return [await client.download_artifact(execution_id, oid, directory) for oid in object_ids]
