"""Confining the files an LLM-driven tool may read to the developer's folders."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_vlmrun.core.errors import FileSourceError
from langchain_vlmrun.files._sources import (
    PreparedFile,
    check_supported,
    check_url,
    is_url,
    prepare_file,
)

__all__ = [
    "normalise_roots",
    "normalise_roots_in",
    "open_confined",
    "resolve_allowed_file",
]


def normalise_roots(
    roots: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
) -> list[Path]:
    """Resolved absolute directories (symlinks followed), in the given order."""
    if roots is None:
        return []
    items = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    resolved = []
    for item in items:
        path = Path(item).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"root_dir {item!s} is not an existing directory.")
        resolved.append(path)
    return resolved


def normalise_roots_in(values: Any) -> Any:
    """Pydantic ``before`` validators' helper: ``values["root_dir"]`` normalised (the
    tool, the toolkit)."""
    if isinstance(values, dict) and "root_dir" in values:
        roots = values["root_dir"]
        if roots is None or isinstance(roots, (str, os.PathLike, Sequence)):
            values = {**values, "root_dir": normalise_roots(roots)}
    return values


def _resolve(candidate: Path, file: str) -> Path:
    """``candidate`` with ``..`` and every symlink resolved; unusable names are refused.

    A model can send anything: NUL bytes, names too long for the OS, symlink loops,
    ``~user`` for an unknown user. Each becomes a ``FileSourceError``, never a crash.
    """
    try:
        home = candidate.parts[:1] == ("~",)
        return (candidate.expanduser() if home else candidate).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise FileSourceError(
            f"{file!r} is not a usable file path ({reason}); name a file by its path.",
            source=file,
        ) from None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def resolve_allowed_file(file: str, roots: Sequence[Path]) -> Path:
    """The real path of ``file`` if it lies inside one of ``roots`` and may be sent
    (see :func:`allowed_file`)."""
    return allowed_file(file, roots)[1]


def allowed_file(file: str, roots: Sequence[Path]) -> tuple[Path, Path]:
    """The root that holds ``file`` and its real path, if it may be sent.

    Relative paths are looked up in each root in order (the first root where the file
    exists wins). The path is fully resolved (``..`` and symlinks) *before* the check,
    so neither can escape a root. Hidden files and types VLM Run does not read
    (``.env``, keys, source code) are refused even inside a root. Nothing is read here.

    Raises:
        FileSourceError: with a message saying what is allowed.
    """
    if not roots:
        raise FileSourceError(
            "Reading local files is disabled for this tool: pass an http(s) URL instead. "
            "(Developers: allow a folder with root_dir=...)",
            source=file,
        )
    allowed = ", ".join(str(r) for r in roots)
    if not file.strip():
        raise FileSourceError(
            f"No file given: pass an http(s) URL or the path of a file in {allowed}.",
            source=file,
        )
    given = Path(file)
    if given.is_absolute() or file == "~" or file.startswith("~/"):
        candidates = [_resolve(given, file)]
    else:
        candidates = [_resolve(root / given, file) for root in roots]
        # prefer the first root where the file exists, else report against the first
        candidates.sort(key=lambda path: not _exists(path))
    resolved = candidates[0]
    root = next((r for r in roots if resolved.is_relative_to(r)), None)
    if root is None:
        raise FileSourceError(
            f"{file} is outside the folders this tool may read ({allowed}); "
            "use a file inside them or an http(s) URL.",
            source=file,
        )
    if any(part.startswith(".") for part in resolved.relative_to(root).parts):
        raise FileSourceError(f"{file} is a hidden file; it may not be read.", source=file)
    if not _exists(resolved):
        raise FileSourceError(
            f"File not found: {file} (looked in {allowed}); check the file name.", source=file
        )
    if not resolved.is_file():
        raise FileSourceError(f"{file} is not a regular file; name a file.", source=file)
    check_supported(resolved.name)
    return root, resolved


def open_confined(
    file: str, roots: Sequence[Path], *, allow_hardlinks: bool = False
) -> str | PreparedFile:
    """What an LLM named, made safe to send: an http(s) URL (checked), or the local file
    inside ``roots`` opened once (nothing is sent yet; close the ``PreparedFile``).

    The one confinement of every LLM-facing entry (``VLMRunAgentTool``, the toolkit's
    tools, ``VLMRunExtractor.as_tool``): the path is checked (inside a root, no hidden
    parts, a supported regular file), then opened beneath its root one component at a
    time without following any link (``prepare_file(root=...)``), so a folder or file
    swapped for a link meanwhile is refused, never followed; a file with other hard
    links (which may lie outside the roots) is refused unless ``allow_hardlinks``.
    Whatever is uploaded is the open descriptor, never the name again.

    Raises:
        FileSourceError: the model can fix it (the message says how).
    """
    if is_url(file):
        return check_url(file)
    root, path = allowed_file(file, roots)
    return prepare_file(path, root=root, allow_hardlinks=allow_hardlinks)
