"""Turning what a user hands us (path, bytes, Blob, URL) into something uploadable.

Files are hashed and streamed in chunks, never read whole into memory.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeAlias
from urllib.parse import urlparse

from langchain_core.documents.base import Blob

from langchain_vlmrun._exceptions import FileSourceError

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "FileSource",
    "check_supported",
    "check_url",
    "PreparedFile",
    "is_url",
    "mime_type_for",
    "prepare_file",
]

CHUNK_SIZE = 1024 * 1024

#: File types VLM Run accepts (the SDK's list), with their media types.
SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tiff": "image/tiff",
    ".tif": "image/tiff",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
}

#: Anything a user can hand to ``upload_file``/``run``.
FileSource: TypeAlias = str | os.PathLike[str] | bytes | Blob


def is_url(value: object) -> bool:
    """True for strings that look like a URL with a scheme (``https://…``, ``ftp://…``)."""
    if not isinstance(value, str) or "://" not in value:
        return False
    try:
        return bool(urlparse(value).scheme)
    except ValueError:  # e.g. "https://[::1": URL-shaped but malformed (check_url says so)
        return True


def check_url(url: str) -> str:
    """The URL if VLM Run can fetch it (http or https with a host), else FileSourceError."""
    try:
        parsed = urlparse(url)
        hostname = parsed.hostname
    except ValueError as exc:
        raise FileSourceError(
            f"Malformed URL {url!r} ({exc}). Use a full URL such as https://example.com/file.pdf.",
            source=url,
        ) from None
    if parsed.scheme.lower() not in {"http", "https"}:
        raise FileSourceError(
            f"Unsupported URL scheme {parsed.scheme!r} in {url!r}: only http:// and https:// "
            "URLs can be passed to VLM Run; upload local files by path instead.",
            source=url,
        )
    if not hostname:
        raise FileSourceError(
            f"Malformed URL {url!r}: it has no host. Use a full URL such as "
            "https://example.com/file.pdf.",
            source=url,
        )
    return url


def check_supported(filename: str) -> str:
    """The media type of ``filename`` if VLM Run accepts it, else FileSourceError."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise FileSourceError(
            f"Unsupported file type {suffix or '(no extension)'!r} for {filename}: VLM Run "
            f"reads {', '.join(sorted(SUPPORTED_EXTENSIONS))}.",
            source=filename,
        )
    return SUPPORTED_EXTENSIONS[suffix]


def mime_type_for(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return (
        SUPPORTED_EXTENSIONS.get(suffix)
        or mimetypes.guess_type(filename)[0]
        or "application/octet-stream"
    )


@dataclass(frozen=True)
class PreparedFile:
    """A file ready to upload: name, size, md5 and a way to (re)open its bytes."""

    filename: str
    size: int
    md5: str
    mime_type: str
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO:
        """A fresh binary stream positioned at the start (each retry gets its own)."""
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self.data or b"")

    def iter_chunks(self) -> Iterator[bytes]:
        with self.open() as stream:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk


def _check_size(size: int, max_size: int | None, shown: str) -> None:
    if max_size is not None and size > max_size:
        raise FileSourceError(
            f"{shown} is {size:,} bytes, over the {max_size:,}-byte limit (max_file_size); "
            "split or compress it, or raise max_file_size.",
            source=shown,
        )


def _prepare_path(
    path: Path, filename: str | None, mime_type: str | None, max_size: int | None = None
) -> PreparedFile:
    shown = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileSourceError(
            f"File not found: {shown}. Check the path (relative paths resolve against "
            f"{Path.cwd()}).",
            source=shown,
        ) from None
    except OSError as exc:
        raise FileSourceError(f"Cannot access {shown}: {exc.strerror}.", source=shown) from None
    if path.is_dir():
        raise FileSourceError(
            f"{shown} is a directory, not a file. Pass a file, or use VLMRunLoader to "
            "load every file in a directory.",
            source=shown,
        )
    if stat.st_size == 0:
        raise FileSourceError(
            f"{shown} is empty (0 bytes); check it was written completely.", source=shown
        )
    _check_size(stat.st_size, max_size, shown)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
    except PermissionError:
        raise FileSourceError(
            f"Permission denied reading {shown}; make it readable by this process.",
            source=shown,
        ) from None
    name = filename or path.name
    return PreparedFile(
        filename=name,
        size=stat.st_size,
        md5=digest.hexdigest(),
        mime_type=mime_type or mime_type_for(name),
        path=path,
    )


def _prepare_bytes(
    data: bytes, filename: str | None, mime_type: str | None, max_size: int | None = None
) -> PreparedFile:
    if not data:
        raise FileSourceError("The data is empty (0 bytes); pass the file's content.")
    _check_size(len(data), max_size, filename or "the data")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if filename is None:
        extension = mimetypes.guess_extension(mime_type) if mime_type else None
        filename = f"upload-{md5[:12]}{extension or ''}"
    return PreparedFile(
        filename=filename,
        size=len(data),
        md5=md5,
        mime_type=mime_type or mime_type_for(filename),
        data=data,
    )


def prepare_file(
    source: FileSource, *, filename: str | None = None, max_size: int | None = None
) -> PreparedFile:
    """Validate a source and compute its size and md5, streaming from disk.

    Raises:
        FileSourceError: missing path, directory, empty or unreadable file, or a URL
            (URLs are passed to the agent directly, not uploaded).
    """
    if isinstance(source, Blob):
        if source.data is None and source.path is not None:
            path = Path(source.path)
            return _prepare_path(path, filename or path.name, source.mimetype, max_size)
        blob_name = filename or (Path(str(source.path)).name if source.path else None)
        return _prepare_bytes(source.as_bytes(), blob_name, source.mimetype, max_size)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _prepare_bytes(bytes(source), filename, None, max_size)
    if isinstance(source, str) and is_url(source):
        raise FileSourceError(
            f"{source!r} is a URL; pass it to run()/execute() as an input instead of uploading it.",
            source=source,
        )
    if isinstance(source, (str, os.PathLike)):
        return _prepare_path(Path(source).expanduser(), filename, None, max_size)
    raise FileSourceError(
        f"Unsupported file source of type {type(source).__name__}; pass a path, bytes or a "
        "langchain_core Blob."
    )
