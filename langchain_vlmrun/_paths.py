"""Confining the files an LLM-driven tool may read to the developer's folders."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from langchain_vlmrun._exceptions import FileSourceError
from langchain_vlmrun._sources import check_supported

__all__ = ["normalise_roots", "resolve_allowed_file"]


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


def resolve_allowed_file(file: str, roots: Sequence[Path]) -> Path:
    """The real path of ``file`` if it lies inside one of ``roots`` and may be sent.

    Relative paths are taken relative to the first root. The path is fully resolved
    (``..`` and symlinks) *before* the check, so neither can escape a root. Hidden files
    and types VLM Run does not read (``.env``, keys, source code) are refused even
    inside a root.

    Raises:
        FileSourceError: with a message saying what is allowed.
    """
    if not roots:
        raise FileSourceError(
            "Reading local files is disabled for this tool: pass an http(s) URL instead. "
            "(Developers: allow a folder with VLMRunAgentTool(root_dir=...).)",
            source=file,
        )
    candidate = Path(file).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    resolved = candidate.resolve()
    root = next((r for r in roots if resolved.is_relative_to(r)), None)
    allowed = ", ".join(str(r) for r in roots)
    if root is None:
        raise FileSourceError(
            f"{file} is outside the folders this tool may read ({allowed}); "
            "use a file inside them or an http(s) URL.",
            source=file,
        )
    if any(part.startswith(".") for part in resolved.relative_to(root).parts):
        raise FileSourceError(f"{file} is a hidden file; it may not be read.", source=file)
    if not resolved.exists():
        raise FileSourceError(
            f"File not found: {file} (looked in {allowed}); check the file name.", source=file
        )
    if not resolved.is_file():
        raise FileSourceError(f"{file} is not a regular file; name a file.", source=file)
    check_supported(resolved.name)
    return resolved
