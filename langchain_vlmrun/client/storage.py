"""``FileByteStore``: a small file-backed LangChain ``BaseStore[str, bytes]``.

The default backing store of :class:`~langchain_vlmrun.client.cache.ResultCache`. One file per
key (key percent-encoded into the file name), written atomically (temp file +
``os.replace``), so a crash never leaves a half-written entry and concurrent writers
from threads or processes never interleave. The folder it creates is 0700 and every
file 0600 (``mkstemp``), whatever the umask.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from langchain_core.stores import BaseStore

__all__ = ["FileByteStore", "default_cache_dir"]

_SUFFIX = ".bin"
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

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        values: list[bytes | None] = []
        for key in keys:
            try:
                values.append(self._path(key).read_bytes())
            except FileNotFoundError:
                values.append(None)
        return values

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        if not self.root.is_dir():
            # private to this user whatever the umask: results can hold document text
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
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
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob(f"*{_SUFFIX}")):
            key = unquote(path.name[: -len(_SUFFIX)])
            if prefix is None or key.startswith(prefix):
                yield key
