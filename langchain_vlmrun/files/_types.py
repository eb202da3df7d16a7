"""Which files VLM Run reads: extensions, media types, and sniffing the bytes.

One type gate for every entry point: a file passes when its name has a supported
extension **and** its first bytes look like a supported format (a ``.pdf`` that holds
text is refused before anything is uploaded). Bytes without a name pass when their
content is recognised, and get a name from it.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

from langchain_vlmrun.core.errors import FileSourceError

__all__ = [
    "SNIFF_BYTES",
    "SUPPORTED_EXTENSIONS",
    "Medium",
    "check_supported",
    "medium_of",
    "sniff",
]

Medium = Literal["document", "image", "audio", "video"]

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

#: How many leading bytes :func:`sniff` looks at.
SNIFF_BYTES = 64

_DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
)

# (offset, magic, media type). ZIP and OLE containers are taken as Word documents,
# Matroska/EBML as video/x-matroska unless the extension says webm; ISO-BMFF (ftyp) by
# its brand, below.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x1a\x45\xdf\xa3", "video/x-matroska"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
    (
        0,
        b"PK\x03\x04",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
# ISO-BMFF major brands (bytes 8-12) that are not an MP4 video: MPEG-4 audio, QuickTime,
# and HEIF/AVIF still images, which VLM Run does not read. Any other brand is MP4 video
# (the extension still decides between mp4, m4a and mov).
_FTYP_BRANDS: dict[bytes, str | None] = {
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"qt  ": "video/quicktime",
    **dict.fromkeys(
        (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"),
        None,
    ),
}


def sniff(head: bytes) -> str | None:
    """The media type the leading bytes ``head`` show, or None when not recognised.

    Example:
        >>> sniff(b"%PDF-1.7 ...")
        'application/pdf'
        >>> sniff(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")
        'audio/wav'
        >>> sniff(b"hello, world") is None
        True
    """
    for offset, magic, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF":
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MPEG audio frame without an ID3 tag
    return None


def medium_of(media_type: str | None) -> Medium | None:
    """``document``, ``image``, ``audio`` or ``video`` for a media type VLM Run reads."""
    if media_type is None:
        return None
    if media_type in _DOCUMENT_TYPES:
        return "document"
    kind = media_type.split("/", 1)[0]
    return kind if kind in ("image", "audio", "video") else None  # type: ignore[return-value]


def _extension_for(media_type: str) -> str:
    return next(ext for ext, mime in SUPPORTED_EXTENSIONS.items() if mime == media_type)


def _supported_list() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def check_supported(filename: str) -> str:
    """The media type of ``filename`` if VLM Run accepts its extension, else FileSourceError."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise FileSourceError(
            f"Unsupported file type {suffix or '(no extension)'!r} for {filename}: VLM Run "
            f"reads {_supported_list()}.",
            source=filename,
        )
    return SUPPORTED_EXTENSIONS[suffix]


def gate(filename: str | None, head: bytes, declared: str | None = None) -> tuple[str, str]:
    """The (filename, media type) to upload, after checking name and content agree.

    ``declared`` is a media type the caller stated (a Blob's ``mimetype``). Without a
    name, the content decides and names the file; unrecognised bytes are refused.

    Raises:
        FileSourceError: unsupported extension, or content that is not a supported
            format (with what to do).
    """
    found = sniff(head)
    if filename is None or not PurePath(filename).suffix:
        if declared is not None and declared in SUPPORTED_EXTENSIONS.values():
            # a stated type is held to the content as an extension is
            stated = _declared(filename or "the data", found, declared)
            return f"{filename or 'upload'}{_extension_for(stated)}", stated
        media_type = found
        if media_type is None:
            shown = filename or "the data"
            raise FileSourceError(
                f"Cannot tell what kind of file {shown} is: its content is not a format "
                f"VLM Run reads ({_supported_list()}). Pass filename='name.ext' (or a Blob "
                "with a path or mimetype) if it is one.",
                source=filename,
            )
        base = filename or "upload"
        return f"{base}{_extension_for(media_type)}", media_type
    by_name = check_supported(filename)
    if found is None:
        raise FileSourceError(
            f"{filename} does not look like a {PurePath(filename).suffix.lower()} file: its "
            "first bytes match no format VLM Run reads (is it text, or damaged?). Check "
            "the file; nothing was uploaded.",
            source=filename,
        )
    if medium_of(found) != medium_of(by_name) and not _same_container(found, by_name):
        raise FileSourceError(
            f"{filename} is named as {medium_of(by_name)} but its content is {found}; "
            "rename it with the right extension.",
            source=filename,
        )
    # the name decides between formats sharing a container (mp4/m4a/mov, mkv/webm)
    return filename, by_name if _same_container(found, by_name) else found


def _declared(shown: str, found: str | None, declared: str) -> str:
    """The media type to send for content ``found`` stated to be ``declared`` (a
    Blob's ``mimetype``), refusing content that is not what was stated."""
    if found is None:
        raise FileSourceError(
            f"{shown} is declared as {declared} but its first bytes match no format VLM "
            "Run reads (is it text, or damaged?). Check the bytes and the Blob's mime_type; "
            "nothing was uploaded.",
        )
    if medium_of(found) != medium_of(declared) and not _same_container(found, declared):
        raise FileSourceError(
            f"{shown} is declared as {declared} but its content is {found}; pass "
            f"mime_type={found!r} (or the right bytes).",
        )
    return declared if _same_container(found, declared) else found


def _same_container(found: str, by_name: str) -> bool:
    containers = (
        {"video/mp4", "video/quicktime", "audio/mp4"},
        {"video/x-matroska", "video/webm"},
        {
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        },
    )
    return found == by_name or any(found in c and by_name in c for c in containers)
