"""Turning what a user hands us (path, bytes, Blob, URL) into something uploadable.

A local file is opened once; hashing and every upload attempt read that descriptor in
chunks, never the whole file into memory, and never the path again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any, BinaryIO, TypeAlias
from urllib.parse import urlparse, urlsplit

from langchain_core.documents.base import Blob

from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.core.errors import FileSourceError
from langchain_vlmrun.files._types import (
    SNIFF_BYTES,
    SUPPORTED_EXTENSIONS,
    Medium,
    check_supported,
    gate,
    medium_of,
)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "FileSource",
    "PreparedFile",
    "check_supported",
    "check_url",
    "is_url",
    "medium_of_source",
    "prepare_file",
    "safe_filename",
]

CHUNK_SIZE = 1024 * 1024

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
    """The URL if VLM Run can fetch it (http or https with a host, no whitespace or
    control characters), else FileSourceError. Credentials in it are kept for the
    request only: everything stored or shown uses :func:`redact_url`."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise FileSourceError(
            f"URL {redact_url(url)!r} contains whitespace or control characters; "
            "percent-encode them (e.g. %20 for a space).",
            source=redact_url(url),
        )
    try:
        parsed = urlparse(url)
        hostname = parsed.hostname
    except ValueError as exc:
        raise FileSourceError(
            f"Malformed URL {redact_url(url)!r} ({exc}). Use a full URL such as "
            "https://example.com/file.pdf.",
            source=redact_url(url),
        ) from None
    if parsed.scheme.lower() not in {"http", "https"}:
        raise FileSourceError(
            f"Unsupported URL scheme {parsed.scheme!r} in {redact_url(url)!r}: only http:// "
            "and https:// URLs can be passed to VLM Run; upload local files by path instead.",
            source=redact_url(url),
        )
    if not hostname:
        raise FileSourceError(
            f"Malformed URL {redact_url(url)!r}: it has no host. Use a full URL such as "
            "https://example.com/file.pdf.",
            source=redact_url(url),
        )
    return url


class _DescriptorReader(io.RawIOBase):
    """Reads an open descriptor from offset 0 with ``pread``: every reader has its own
    position, and the file is never opened again by name.

    It reads exactly ``size`` bytes (the size that was hashed) and can seek within
    them, so an HTTP client can size a body from it (``Content-Length``, not a chunked
    body that some gateways refuse); it has no ``fileno()``, which would size the body
    from the file as it is now. A file that shrank since it was hashed is an error, not
    a short upload.
    """

    def __init__(self, fd: int, size: int, shown: str) -> None:
        self._fd, self._size, self._offset, self._shown = fd, size, 0, shown

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._offset, io.SEEK_END: self._size}[whence]
        self._offset = max(0, base + offset)
        return self._offset

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._offset)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._offset)
        if not data:
            raise FileSourceError(
                f"{self._shown} shrank to {self._offset:,} bytes while it was being read "
                f"(it had {self._size:,}); upload it again once it is no longer changing.",
                source=self._shown,
            )
        buffer[: len(data)] = data
        self._offset += len(data)
        return len(data)


@dataclass(frozen=True)
class PreparedFile:
    """A file ready to upload: name, size, hashes and its open bytes.

    A local file is opened **once** (see :func:`prepare_file`) and every read (hashing,
    each upload attempt) goes through that descriptor from offset 0; ``close()`` it
    when done. ``sha256`` identifies the content on our side (cache keys, Document
    ids); ``md5`` only serves the server's hash lookup.
    """

    filename: str
    size: int
    sha256: str
    md5: str
    mime_type: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    fd: int | None = field(default=None, repr=False)

    def open(self) -> BinaryIO:
        """A fresh binary stream positioned at the start (each retry gets its own)."""
        if self.fd is not None:
            raw = _DescriptorReader(self.fd, self.size, self.filename)
            return io.BufferedReader(raw, CHUNK_SIZE)
        if self.path is not None:  # a file's descriptor, closed: never an empty upload
            raise FileSourceError(
                f"{self.path} was already closed (PreparedFile.close()); prepare it again.",
                source=str(self.path),
            )
        return io.BytesIO(self.data or b"")

    def iter_chunks(self) -> Iterator[bytes]:
        with self.open() as stream:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk

    def close(self) -> None:
        """Close the file's descriptor (idempotent; in-memory data needs nothing)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            object.__setattr__(self, "fd", None)


def _check_size(size: int, max_size: int | None, shown: str) -> None:
    if max_size is not None and size > max_size:
        raise FileSourceError(
            f"{shown} is {size:,} bytes, over the {max_size:,}-byte limit (max_file_size); "
            "split or compress it, or raise max_file_size.",
            source=shown,
        )


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_DIRECTORY", 0)
#: Whether a path can be opened one component at a time from a folder's descriptor,
#: following no link (POSIX: Linux, macOS). Elsewhere (Windows) a confined path is
#: checked by name, then opened without following a final link.
WALKS_BENEATH = bool(_NOFOLLOW) and hasattr(os, "O_DIRECTORY") and os.open in os.supports_dir_fd


def _walk_beneath(root: Path, parts: tuple[str, ...]) -> tuple[int, int]:
    """Open ``root/parts...`` from a descriptor on ``root``, one component at a time,
    following no link: a folder or file swapped for a link while this runs is refused,
    never followed. Returns the file's descriptor and the root's device."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        device = os.fstat(fd).st_dev
        for part in parts[:-1]:
            inner = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], _FILE_FLAGS | _NOFOLLOW, dir_fd=fd), device
    finally:
        os.close(fd)


def _open_confined(path: Path, root: Path) -> tuple[int, int]:
    """Open ``path`` only as a file inside ``root`` (resolved), following no link below it.

    The path is resolved first (a link inside the folder to another file inside it is
    fine), then opened beneath ``root`` by :func:`_walk_beneath`, so nothing swapped in
    between can lead outside. Returns the descriptor and the root's device.
    """
    shown = str(path)
    real = path.resolve()
    try:
        parts = real.relative_to(root).parts
    except ValueError:
        raise FileSourceError(
            f"{shown} leads outside {root} (a symbolic link?); it may not be read from there.",
            source=shown,
        ) from None
    if not parts:
        raise FileSourceError(f"{shown} is a directory, not a file.", source=shown)
    if WALKS_BENEATH:
        return _walk_beneath(root, parts)
    return os.open(real, _FILE_FLAGS | _NOFOLLOW), os.stat(root).st_dev


def _open_once(
    path: Path, *, root: Path | None, allow_hardlinks: bool
) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only and check what was opened (not what the name points to now).

    With ``root``, only a file inside that folder is opened (see :func:`_open_confined`),
    on the folder's own file system.
    """
    shown = str(path)
    device = None
    try:
        if root is None:
            fd = os.open(path, _FILE_FLAGS)
        else:
            fd, device = _open_confined(path, root)
    except FileSourceError:
        raise
    except FileNotFoundError:
        raise FileSourceError(
            f"File not found: {shown}. Check the path (relative paths resolve against "
            f"{Path.cwd()}).",
            source=shown,
        ) from None
    except PermissionError:
        raise FileSourceError(
            f"Permission denied reading {shown}; make it readable by this process.",
            source=shown,
        ) from None
    except (ValueError, RuntimeError) as exc:  # an embedded NUL byte, a link loop
        raise FileSourceError(f"{shown!r} is not a usable path ({exc}).", source=shown) from None
    except OSError as exc:
        if root is not None and exc.errno == errno.ELOOP:
            reason = f"it is a symbolic link, which is not followed in {root}"
        elif root is not None and exc.errno == errno.ENOTDIR:
            reason = (
                f"a part of its path is not a folder, or is a symbolic link, which is not "
                f"followed in {root}"
            )
        else:
            reason = exc.strerror or type(exc).__name__
        raise FileSourceError(f"Cannot open {shown}: {reason}.", source=shown) from None
    try:
        stat = os.fstat(fd)
        if S_ISDIR(stat.st_mode):
            raise FileSourceError(
                f"{shown} is a directory, not a file. Pass a file, or use VLMRunLoader to "
                "load every file in a directory.",
                source=shown,
            )
        if not S_ISREG(stat.st_mode):
            raise FileSourceError(
                f"{shown} is not a regular file (a device, pipe or socket); name a file.",
                source=shown,
            )
        if device is not None and stat.st_dev != device:
            raise FileSourceError(
                f"{shown} is on another file system mounted inside {root}; it may not be "
                "read from there.",
                source=shown,
            )
        if not allow_hardlinks and stat.st_nlink > 1:
            raise FileSourceError(
                f"{shown} has other hard links (possibly to a file outside the allowed "
                "folders); it may not be read.",
                source=shown,
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, stat


def _digest(read: Callable[[int, int], bytes], size: int) -> tuple[str, str]:
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    offset = 0
    while offset < size:
        chunk = read(min(CHUNK_SIZE, size - offset), offset)
        if not chunk:
            break
        sha256.update(chunk)
        md5.update(chunk)
        offset += len(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def _prepare_path(
    path: Path,
    filename: str | None,
    mime_type: str | None,
    max_size: int | None,
    *,
    root: Path | None,
    allow_hardlinks: bool,
) -> PreparedFile:
    shown = str(path)
    fd, stat = _open_once(path, root=root, allow_hardlinks=allow_hardlinks)
    try:
        if stat.st_size == 0:
            raise FileSourceError(
                f"{shown} is empty (0 bytes); check it was written completely.", source=shown
            )
        _check_size(stat.st_size, max_size, shown)
        try:  # a read error (EIO...) while sniffing or hashing is the user's to see, typed
            head = os.pread(fd, SNIFF_BYTES, 0)
            name, media_type = gate(filename or path.name, head, declared=mime_type)
            sha256, md5 = _digest(lambda n, at: os.pread(fd, n, at), stat.st_size)
        except OSError as exc:
            raise FileSourceError(
                f"Cannot read {shown}: {exc.strerror or exc}.", source=shown
            ) from None
    except BaseException:
        os.close(fd)
        raise
    return PreparedFile(
        filename=safe_filename(name),
        size=stat.st_size,
        sha256=sha256,
        md5=md5,
        mime_type=media_type,
        path=path,
        fd=fd,
    )


def _prepare_bytes(
    data: bytes, filename: str | None, mime_type: str | None, max_size: int | None = None
) -> PreparedFile:
    if not data:
        raise FileSourceError("The data is empty (0 bytes); pass the file's content.")
    _check_size(len(data), max_size, filename or "the data")
    name, media_type = gate(filename, data[:SNIFF_BYTES], declared=mime_type)
    sha256, md5 = _digest(lambda n, at: data[at : at + n], len(data))
    if filename is None:  # gate named it upload.<ext>; the hash tells such uploads apart
        name = f"upload-{sha256[:12]}{Path(name).suffix}"
    return PreparedFile(
        filename=safe_filename(name),
        size=len(data),
        sha256=sha256,
        md5=md5,
        mime_type=media_type,
        data=data,
    )


def safe_filename(name: str) -> str:
    """``name`` as it can travel in a multipart header: a name that is not valid UTF-8
    (undecodable bytes from the file system) becomes an ASCII stand-in.

    Example:
        >>> safe_filename("résumé.pdf")
        'résumé.pdf'
        >>> safe_filename("bad\\udcff.pdf")
        'bad_.pdf'
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "replace").decode("utf-8").replace("?", "_")
    return name


def prepare_file(
    source: FileSource,
    *,
    filename: str | None = None,
    max_size: int | None = None,
    root: Path | None = None,
    allow_hardlinks: bool = True,
) -> PreparedFile:
    """Validate a source, open it once, check its type and hash it (sha256 + md5).

    The type gate runs here, before any request: a supported extension whose content
    looks like a supported format (or, without a name, recognised content). Local
    files are opened once and read through that descriptor from then on; close the
    result when done.

    ``root`` (a resolved folder) confines a path to it, as tools and folder expansion
    need: only a regular file inside it, on its file system, is opened, and no link
    below it is followed while opening (see :func:`_open_confined`).
    ``allow_hardlinks=False`` also refuses a file with other hard links.

    Raises:
        FileSourceError: missing path, directory, empty, unreadable or unsupported
            file, or a URL (URLs are passed to the agent directly, not uploaded).
    """
    options: dict[str, Any] = {"root": root, "allow_hardlinks": allow_hardlinks}
    if isinstance(source, Blob):
        if source.data is None and source.path is not None:
            path = Path(source.path)
            return _prepare_path(path, filename or path.name, source.mimetype, max_size, **options)
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
        try:
            path = Path(source).expanduser()
        except (RuntimeError, TypeError, ValueError) as exc:
            raise FileSourceError(f"{source!r} is not a usable path ({exc}).") from None
        return _prepare_path(path, filename, None, max_size, **options)
    raise FileSourceError(
        f"Unsupported file source of type {type(source).__name__}; pass a path (str or "
        "pathlib.Path), bytes, an http(s) URL or a langchain_core Blob."
    )


def medium_of_source(source: str | PreparedFile) -> Medium:
    """The medium of what will be sent (the one detector every component uses): an
    opened file's sniffed type, or a URL's extension; unknown counts as a document.

    Example:
        >>> medium_of_source("https://example.com/clip.mp4?token=x")
        'video'
        >>> medium_of_source("https://example.com/page")
        'document'
    """
    if isinstance(source, PreparedFile):
        return medium_of(source.mime_type) or "document"
    try:
        path = urlsplit(source).path  # without the query or a fragment (clip.mp4#t=5)
    except ValueError:  # malformed (check_url refuses it): its kind is unknown
        return "document"
    return medium_of(mimetypes.guess_type(path)[0]) or "document"
