"""``FileByteStore``: a small file-backed LangChain ``BaseStore[str, bytes]``.

The default backing store of :class:`~langchain_vlmrun.client.cache.ResultCache`. One file per
key (key percent-encoded into the file name), written atomically (temp file +
``os.replace``), so a crash never leaves a half-written entry and concurrent writers
from threads or processes never interleave. The folder it creates is 0700 and every
file 0600 (``mkstemp``), whatever the umask.

It trusts the folder no more than it must: an existing folder writable by others is
made private (ours) or refused (someone else's) before use, and a value is read without
following links, only from a regular file, and only up to ``MAX_VALUE`` bytes; anything
else (a FIFO, a link, a device, a huge file) reads as missing, with a warning.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from langchain_core.stores import BaseStore

__all__ = ["MAX_VALUE", "FileByteStore", "default_cache_dir"]

logger = logging.getLogger("langchain_vlmrun")

_SUFFIX = ".bin"
#: The largest value read back (bytes): a record is one execution as JSON.
MAX_VALUE = 64 * 1024 * 1024
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
#: The longest file name most file systems take (bytes); a key must encode within it.
NAME_MAX = 255


def default_cache_dir() -> Path:
    """``$VLMRUN_CACHE_DIR``, else ``$XDG_CACHE_HOME/langchain-vlmrun`` (``~/.cache``)."""
    explicit = os.environ.get("VLMRUN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "langchain-vlmrun"


class FileByteStore(BaseStore[str, bytes]):
    """Bytes values in files under ``root``.

    Example:
        >>> import tempfile
        >>> store = FileByteStore(tempfile.mkdtemp())
        >>> store.mset([("a:1", b"x")])
        >>> store.mget(["a:1", "missing"])
        [b'x', None]
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"FileByteStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        name = quote(key, safe="") + _SUFFIX
        if len(name) > NAME_MAX:
            raise ValueError(
                f"FileByteStore key too long: it encodes to a {len(name)}-byte file name "
                f"(at most {NAME_MAX}); use shorter keys, e.g. a hash (ResultCache's are)."
            )
        return self.root / name

    def _usable_root(self) -> bool:
        """Whether the folder exists, after checking that only we can write it (at each
        use: a folder a neighbour opens up or swaps meanwhile is caught at the next).

        Raises:
            PermissionError: the folder belongs to another user and others can write
                it, or it is not a folder.
        """
        try:
            info = os.stat(self.root)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            raise PermissionError(
                f"The cache folder {self.root} is not a folder; choose another with "
                "VLMRUN_CACHE_DIR or FileByteStore(root=...)."
            )
        if info.st_mode & 0o022:  # others can plant or replace records
            mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
            if not mine:
                raise PermissionError(
                    f"The cache folder {self.root} belongs to another user and others can "
                    "write to it, so its records cannot be trusted; choose a folder of your "
                    "own with VLMRUN_CACHE_DIR or FileByteStore(root=...)."
                )
            os.chmod(self.root, 0o700)
            logger.warning(
                "the cache folder %s was writable by other users; made it private (0700)",
                self.root,
            )
        return True

    def _read(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a link (ELOOP), a FIFO without writer (ENXIO), ...
            logger.warning("cache: ignoring %s: %s", path.name, exc.strerror or exc)
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_VALUE:
                what = "over the size limit" if stat.S_ISREG(info.st_mode) else "not a file"
                logger.warning("cache: ignoring %s: %s", path.name, what)
                return None
            chunks, size = [], 0
            while chunk := os.read(fd, min(1024 * 1024, MAX_VALUE + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_VALUE:  # grew while read
                    logger.warning("cache: ignoring %s: over the size limit", path.name)
                    return None
            return b"".join(chunks)
        except OSError as exc:
            logger.warning("cache: ignoring %s: %s", path.name, exc.strerror or exc)
            return None
        finally:
            os.close(fd)

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        if not self._usable_root():
            return [None] * len(keys)
        return [self._read(key) for key in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        if not self._usable_root():
            # private to this user whatever the umask: results can hold document text
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            self._usable_root()
        for key, value in key_value_pairs:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(value)
                os.replace(tmp, self._path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def mdelete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        if not self._usable_root():
            return
        for path in sorted(self.root.glob(f"*{_SUFFIX}")):
            key = unquote(path.name[: -len(_SUFFIX)])
            if prefix is None or key.startswith(prefix):
                yield key
