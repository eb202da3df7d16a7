"""LangChain content blocks as VLM Run chat content parts (no I/O here).

VLM Run's chat API takes the parts ``text``, ``image_url``, ``video_url``,
``audio_url``, ``file_url`` (each ``{"url": ...}``) and ``input_file`` (``file_id``
from the files API). LangChain's standard blocks map onto them:

==========================================  =========================================
block                                       part sent
==========================================  =========================================
``text``                                    ``text``
``image`` / ``video`` / ``audio`` / ``file``  ``image_url`` / ``video_url`` /
with an http(s) ``url``                     ``audio_url`` / ``file_url``
any of them with ``file_id`` (v0: ``id``)   ``input_file`` with that ``file_id``
any of them with ``base64`` (or a           uploaded (files API), then ``input_file``
``data:`` URL), or a local ``path``         by ``file_id``; never inlined
(or a ``url`` that is a local path or
``file://``)
``image_url`` (the older OpenAI part),      kept; a local path or ``data:`` URL in it
``video_url``, ``audio_url``, ``file_url``  is uploaded as above
``input_file``                              kept
``text-plain`` with ``text``                ``text``
==========================================  =========================================

Uploads are planned first (:func:`planned_uploads`), carried out by the chat model
with the project's client (streamed, md5 reuse, type gate), and the parts then built
with the file ids they got (:func:`to_vlmrun_content`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from langchain_core.messages import AIMessage, BaseMessage

from langchain_vlmrun.core.errors import FileSourceError
from langchain_vlmrun.files._sources import is_url

__all__ = [
    "Upload",
    "planned_uploads",
    "to_vlmrun_content",
    "translate_messages",
]

#: LangChain block type -> VLM Run URL part type.
URL_PARTS = {
    "image": "image_url",
    "video": "video_url",
    "audio": "audio_url",
    "file": "file_url",
    "text-plain": "file_url",
}
#: VLM Run's own URL parts (and the older OpenAI ``image_url``), kept as they are.
NATIVE_URL_PARTS = frozenset(URL_PARTS.values())
#: Default file names for uploaded inline data without one (the type gate needs a
#: name or recognisable content).
_DEFAULT_STEM = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
#: Extensions ``mimetypes`` does not know (``audio/wav``) or may spell otherwise (a
#: system's mime.types can list ``.mpga`` first for ``audio/mpeg``).
_EXTENSIONS = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3"}


@dataclass(frozen=True)
class Upload:
    """A file a message refers to that must be uploaded before the chat request.

    ``key`` identifies it (a local path with its size and mtime, or the sha256 of
    inline bytes): the same key is uploaded once.
    """

    key: str
    path: Path | None = None
    data: bytes | None = None
    filename: str | None = None


# -- recognising the source of a block ---------------------------------------------------


def _local_path(url: str) -> Path | None:
    """The local path a ``url`` (not a ``data:`` URL) names (a bare path, or
    ``file://``), else None."""
    if url.lower().startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise FileSourceError(f"Only local file:// URLs are supported, got {url!r}.")
        return Path(unquote(parts.path))
    if is_url(url):
        return None
    return Path(url).expanduser()


def _decode(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FileSourceError(f"The base64 data of a {what} block is not valid base64.") from exc


def _data_url(url: str) -> tuple[bytes, str | None] | None:
    """The bytes and MIME type of a ``data:`` URL (base64 only), else None."""
    if not url.startswith("data:"):
        return None
    header, sep, payload = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        raise FileSourceError("Only base64 data: URLs are supported in chat content.")
    mime = header[: -len(";base64")] or None
    return _decode(payload, "data: URL"), mime


def _filename(kind: str, mime: str | None, given: Any) -> str:
    if isinstance(given, str) and given.strip():
        return os.path.basename(given.strip())
    extension = (_EXTENSIONS.get(mime) or mimetypes.guess_extension(mime)) if mime else None
    return f"{_DEFAULT_STEM.get(kind, 'file')}{extension or ''}"


def _path_upload(path: Path) -> Upload:
    try:
        info = path.stat()
        key = f"path:{path.resolve()}:{info.st_size}:{info.st_mtime_ns}"
    except OSError:
        key = f"path:{path}"  # the upload names what is wrong
    return Upload(key=key, path=path)


def _bytes_upload(data: bytes, filename: str) -> Upload:
    digest = hashlib.sha256(data).hexdigest()
    return Upload(key=f"bytes:{digest}:{filename}", data=data, filename=filename)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class _Source:
    """Where a block's content is: at most one of these is set."""

    url: str | None = None
    file_id: str | None = None
    upload: Upload | None = None
    text: str | None = None
    detail: Any = None


def _url_source(url: str, kind: str, filename: Any = None) -> _Source:
    inline = _data_url(url)
    if inline is not None:
        data, mime = inline
        return _Source(upload=_bytes_upload(data, _filename(kind, mime, filename)))
    path = _local_path(url)
    if path is not None:
        return _Source(upload=_path_upload(path))
    return _Source(url=url)


def _source_of(block: Mapping[str, Any]) -> _Source | None:
    """The source of a LangChain data block (v1 or v0) or a VLM Run URL part."""
    kind = block.get("type")
    if kind in NATIVE_URL_PARTS:
        inner = block.get(str(kind))
        url = inner.get("url") if isinstance(inner, Mapping) else inner
        if not isinstance(url, str):
            raise FileSourceError(f"A {kind} part needs a url, got {inner!r}.")
        detail = inner.get("detail") if isinstance(inner, Mapping) else None
        source = _url_source(url, "image" if kind == "image_url" else "file")
        return _Source(url=source.url, upload=source.upload, detail=detail)
    if kind == "input_audio":  # OpenAI's shape, when not normalised by LangChain
        inner = block.get("input_audio") or {}
        audio_format = inner.get("format") or "wav"
        data = _decode(str(inner.get("data", "")), "input_audio")
        return _Source(upload=_bytes_upload(data, f"audio.{audio_format}"))
    if kind == "file" and isinstance(block.get("file"), Mapping):  # OpenAI's shape
        inner = block["file"]
        if inner.get("file_id"):
            return _Source(file_id=str(inner["file_id"]))
        if isinstance(inner.get("file_data"), str):
            return _url_source(
                inner["file_data"]
                if inner["file_data"].startswith("data:")
                else f"data:application/pdf;base64,{inner['file_data']}",
                "file",
                inner.get("filename"),
            )
    if kind not in URL_PARTS:
        return None
    extras = _mapping(block.get("extras"))
    # a v0 block's metadata, which LangChain moves into extras when it normalises it
    metadata = _mapping(block.get("metadata") or extras.get("metadata"))
    filename = (
        block.get("filename")
        or extras.get("filename")
        or metadata.get("filename")
        or metadata.get("name")
    )
    mime = block.get("mime_type")
    source_type = block.get("source_type")  # LangChain's v0 blocks
    if isinstance(block.get("path"), (str, os.PathLike)):
        return _Source(upload=_path_upload(Path(block["path"]).expanduser()))
    if block.get("file_id") or (source_type == "id" and block.get("id")):
        return _Source(file_id=str(block.get("file_id") or block.get("id")))
    encoded = block.get("base64") or (block.get("data") if source_type == "base64" else None)
    if isinstance(encoded, str) and encoded:
        return _Source(
            upload=_bytes_upload(_decode(encoded, str(kind)), _filename(kind, mime, filename))
        )
    url = block.get("url")
    if isinstance(url, str) and url:
        return _url_source(url, str(kind), filename)
    if kind == "text-plain" and isinstance(block.get("text"), str):
        return _Source(text=block["text"])
    raise FileSourceError(
        f"A {kind} block needs one of url, base64, file_id or path; got keys {sorted(block)}."
    )


# -- the two passes ----------------------------------------------------------------------


def _blocks(messages: Sequence[BaseMessage]) -> Iterable[Mapping[str, Any]]:
    for message in messages:
        if isinstance(message, AIMessage) or not isinstance(message.content, list):
            continue
        for block in message.content:
            if isinstance(block, Mapping):
                yield block


def planned_uploads(messages: Sequence[BaseMessage]) -> list[Upload]:
    """The uploads ``messages`` need, each key once, in order of appearance."""
    found: dict[str, Upload] = {}
    for block in _blocks(messages):
        source = _source_of(block)
        if source is not None and source.upload is not None:
            found.setdefault(source.upload.key, source.upload)
    return list(found.values())


def _part(block: Mapping[str, Any], file_id: Callable[[Upload], str]) -> Any:
    kind = block.get("type")
    if kind == "text" and "text" in block:
        return {"type": "text", "text": block["text"]}
    source = _source_of(block)
    if source is None:
        return dict(block)
    if source.text is not None:
        return {"type": "text", "text": source.text}
    if source.upload is not None:
        return {"type": "input_file", "file_id": file_id(source.upload)}
    if source.file_id is not None:
        return {"type": "input_file", "file_id": source.file_id}
    part_type = kind if kind in NATIVE_URL_PARTS else URL_PARTS[str(kind)]
    inner: dict[str, Any] = {"url": source.url}
    detail = source.detail or _mapping(block.get("extras")).get("detail")
    if part_type == "image_url" and detail:
        inner["detail"] = detail
    return {"type": part_type, part_type: inner}


def to_vlmrun_content(
    content: Sequence[str | Mapping[str, Any]], file_id: Callable[[Upload], str]
) -> list[Any]:
    """A message's content blocks as VLM Run parts.

    ``file_id`` gives the id of an upload (carried out before, or now)."""
    return [
        {"type": "text", "text": block} if isinstance(block, str) else _part(block, file_id)
        for block in content
    ]


def translate_messages(
    messages: Sequence[BaseMessage], file_id: Callable[[Upload], str]
) -> list[BaseMessage]:
    """Copies of ``messages`` whose content is in VLM Run's parts (AI messages, whose
    content LangChain itself formats, are kept)."""
    translated: list[BaseMessage] = []
    for message in messages:
        if isinstance(message, AIMessage) or not isinstance(message.content, list):
            translated.append(message)
            continue
        content = to_vlmrun_content(message.content, file_id)
        translated.append(message.model_copy(update={"content": content}))
    return translated
