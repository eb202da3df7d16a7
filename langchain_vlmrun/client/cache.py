"""``ResultCache``: never pay twice for the same document.

Two kinds of record, in any LangChain ``BaseStore[str, bytes]``:

- **completed**: the finished execution for (content hash, agent or prompt, schema,
  model, inputs). A later run over the same bytes with the same configuration is
  answered from the store: no upload, no execution, no credits.
- **submitted**: written just *before* ``POST /agent/execute``, under the client
  request id (and rewritten with the server's id if it chose another). If the process
  dies while the request is in flight or while waiting, the next run looks the
  recorded execution up and waits on it instead of submitting (and paying) again; an
  execution the server never received (404), or one that failed, is submitted again
  once, with a warning.

The output ``mode`` is not part of the key on purpose: the cache keeps the execution,
and page/single rendering happens locally, so switching modes costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from langchain_core.stores import BaseStore
from pydantic import SecretStr

from langchain_vlmrun.client.storage import MAX_VALUE, FileByteStore
from langchain_vlmrun.core._signing import seal, unseal
from langchain_vlmrun.core._signing import signing_key as signing_key_of
from langchain_vlmrun.core.models import AgentExecution

__all__ = ["CacheOption", "CacheRecord", "ResultCache", "resolve_cache"]

logger = logging.getLogger("langchain_vlmrun")


@dataclass(frozen=True)
class CacheRecord:
    state: Literal["submitted", "completed"]
    execution_id: str
    file_id: str | None = None
    execution: AgentExecution | None = None
    written_at: float | None = None


#: What an execution or file id read back from a store may look like (uuids and the
#: like): no ``/``, ``.``, ``?`` or spaces, so a planted record cannot steer a request.
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class ResultCache:
    """Completed executions and in-flight submissions, keyed by content + configuration.

    Example:
        >>> from langchain_core.stores import InMemoryByteStore
        >>> cache = ResultCache(InMemoryByteStore(), max_age=7 * 24 * 3600)
        >>> key = cache.key("sha256:ab12", {"prompt": "Read it"})
        >>> cache.mark_submitted(key, "ex-1", file_id=None)
        >>> cache.get(key).state, cache.get(key).execution_id
        ('submitted', 'ex-1')
        >>> cache.mark_submitted(key, "../../files/hash/0", file_id=None)  # planted
        >>> cache.get(key) is None  # an id that is not an id is not trusted
        True

    Records read back are checked before they are used: at most ``MAX_VALUE`` bytes,
    states known, ids shaped like ids, a completed record's execution complete and of
    the recorded id. Anything else (too deep, too big, another shape) is a miss, with a
    warning. Keys include the service (base URL) a client talks to, so two accounts or
    services never share results.

    In a store others can write (a shared folder, Redis), ``signing_key`` signs every
    record with an HMAC over its key and content: a record planted or moved to another
    key by someone without the key is a miss.

    Args:
        store: where records live; default a :class:`FileByteStore` under
            ``$VLMRUN_CACHE_DIR`` (or ``~/.cache/langchain-vlmrun``; folder 0700, files
            0600).
        namespace: key prefix, to share one store between applications (``clear`` and
            ``prune`` touch only this namespace's records, never those of a namespace
            it prefixes, such as ``app:tenant2`` for ``app``).
        max_age: seconds a record stays valid (None: forever); older ones are misses
            and are removed by :meth:`prune`.
        max_entries: keep at most this many records (oldest pruned first; checked every
            ``prune_every`` writes, counted over every view :meth:`scoped` gives of this
            cache). A check reads every record of the namespace, so make ``prune_every``
            a tenth of ``max_entries`` or so for a large bound: ten reads a write.
        signing_key: sign records, and trust only records signed with it.
    """

    def __init__(
        self,
        store: BaseStore[str, bytes] | None = None,
        *,
        namespace: str = "vlmrun",
        max_age: float | None = None,
        max_entries: int | None = None,
        prune_every: int = 100,
        service: str = "",
        signing_key: str | SecretStr | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store: BaseStore[str, bytes] = store if store is not None else FileByteStore()
        self.namespace = namespace
        self.max_age = max_age
        self.max_entries = max_entries
        self.prune_every = prune_every
        self.service = service
        self.signing_key = signing_key_of(signing_key)
        self.clock = clock
        # one count for this cache and every scoped view of it: a client scopes the cache
        # for each source, and a count per view would never reach ``prune_every``
        self._writes = _WriteCount()
        self._own_key = re.compile(re.escape(namespace) + ":[^:]+")

    def __repr__(self) -> str:
        return f"ResultCache({self.store!r}, namespace={self.namespace!r})"

    def scoped(self, service: str) -> ResultCache:
        """The same store and settings, with keys for the service at ``service``."""
        return replace_cache(self, service=service)

    def key(self, content_hash: str, request_fields: dict[str, Any]) -> str:
        """A stable key for this content under this execute configuration and service."""
        canonical = json.dumps(
            {"service": self.service, "request": request_fields},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        digest = hashlib.sha256(f"{content_hash}\n{canonical}".encode()).hexdigest()
        return f"{self.namespace}:{digest}"

    def _open(self, key: str, raw: bytes) -> CacheRecord | None:
        """The record stored under ``key``, if it is one of ours (None: a miss)."""
        if self.signing_key is not None:
            opened = unseal(self.signing_key, key, raw)
            if opened is None:
                logger.warning("cache: ignoring record %s: not signed with signing_key", key)
                return None
            raw = opened
        record = _read(raw)
        if record is None:
            logger.warning("cache: ignoring record %s: not a record this cache wrote", key)
        return record

    def get(self, key: str) -> CacheRecord | None:
        (raw,) = self.store.mget([key])
        if raw is None:
            return None
        record = self._open(key, raw)
        if record is None:
            return None  # unreadable or untrustworthy: behave as a miss
        if self._expired(record):
            self.store.mdelete([key])
            return None
        return record

    def _expired(self, record: CacheRecord) -> bool:
        if self.max_age is None:
            return False
        return record.written_at is None or self.clock() - record.written_at > self.max_age

    def _put(self, key: str, record: dict[str, Any]) -> None:
        record["written_at"] = self.clock()
        body = json.dumps(record, default=str).encode()
        if self.signing_key is not None:
            body = seal(self.signing_key, key, body)
        self.store.mset([(key, body)])
        written = self._writes.next()
        if self.max_entries is not None and written % self.prune_every == 0:
            self.prune()

    def mark_submitted(self, key: str, execution_id: str, file_id: str | None) -> None:
        self._put(key, {"state": "submitted", "execution_id": execution_id, "file_id": file_id})

    def mark_completed(self, key: str, execution: AgentExecution, file_id: str | None) -> None:
        self._put(
            key,
            {
                "state": "completed",
                "execution_id": execution.id,
                "file_id": file_id,
                "execution": execution.model_dump(mode="json"),
            },
        )

    def forget(self, key: str) -> None:
        self.store.mdelete([key])

    def _keys(self) -> list[str]:
        """This namespace's keys (``app:<digest>``, never ``app:tenant2:<digest>``)."""
        keys = self.store.yield_keys(prefix=f"{self.namespace}:")
        return [key for key in keys if self._own_key.fullmatch(key)]

    def clear(self) -> None:
        """Remove every record of this namespace."""
        self.store.mdelete(self._keys())

    def prune(self) -> int:
        """Remove expired, unreadable and (beyond ``max_entries``) the oldest records of
        this namespace; returns how many were removed."""
        keys = self._keys()
        dated: list[tuple[float, str]] = []
        doomed: list[str] = []
        for key, raw in zip(keys, self.store.mget(keys), strict=True):
            record = self._open(key, raw) if raw is not None else None
            if record is None or self._expired(record):
                doomed.append(key)
            else:
                dated.append((record.written_at or 0.0, key))
        if self.max_entries is not None and len(dated) > self.max_entries:
            dated.sort()
            doomed.extend(key for _, key in dated[: len(dated) - self.max_entries])
        self.store.mdelete(doomed)
        return len(doomed)


class _WriteCount:
    """The writes through a cache and its scoped views (thread-safe; a pickle, for a
    loader shipped to a worker, carries the count, as itertools.count no longer may)."""

    def __init__(self, count: int = 0) -> None:
        self._lock = threading.Lock()
        self._count = count

    def next(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def __reduce__(self) -> tuple[type[_WriteCount], tuple[int]]:
        return _WriteCount, (self._count,)


def replace_cache(cache: ResultCache, **changes: Any) -> ResultCache:
    copy = object.__new__(ResultCache)
    copy.__dict__.update(cache.__dict__)
    copy.__dict__.update(changes)
    return copy


def _read(raw: bytes) -> CacheRecord | None:
    """The record in ``raw`` if every field is what a record of ours holds, else None."""
    if len(raw) > MAX_VALUE:
        return None
    try:
        data = json.loads(raw)
        state = data["state"]
        execution_id = data["execution_id"]
        file_id = data.get("file_id")
        written_at = data.get("written_at")
        if state not in ("submitted", "completed") or not _is_id(execution_id):
            return None
        if file_id is not None and not _is_id(file_id):
            return None
        if written_at is not None and not isinstance(written_at, (int, float)):
            return None
        execution = None
        if data.get("execution") is not None:
            execution = AgentExecution.model_validate(data["execution"])
            if execution.id != execution_id:
                return None
        if state == "completed" and (execution is None or execution.status != "completed"):
            return None
        return CacheRecord(state, execution_id, file_id, execution, written_at)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _is_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


#: What loaders and parsers accept as ``cache``: a cache, ``None`` for the default
#: persistent one, or ``False`` for none.
CacheOption: TypeAlias = ResultCache | Literal[False] | None

#: The default cache's bounds: records older than this are misses and pruned...
DEFAULT_MAX_AGE = 30 * 24 * 3600.0
#: ...and at most this many are kept (oldest pruned first), checked every tenth of that
#: many writes (a check reads every record: ten reads a write).
DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_PRUNE_EVERY = DEFAULT_MAX_ENTRIES // 10


def default_cache() -> ResultCache:
    """The cache loaders and parsers use unless told otherwise: persistent, in the user
    cache folder (``$VLMRUN_CACHE_DIR``, else ``~/.cache/langchain-vlmrun``; 0700),
    records kept 30 days, at most 20,000 of them (checked every 2,000 writes). A re-run
    over unchanged files pays nothing and yields the same Documents."""
    # (the store: ResultCache's default, a FileByteStore)
    return ResultCache(
        max_age=DEFAULT_MAX_AGE,
        max_entries=DEFAULT_MAX_ENTRIES,
        prune_every=DEFAULT_PRUNE_EVERY,
    )


def resolve_cache(option: CacheOption) -> ResultCache | None:
    """The cache a loader or parser uses: by default the persistent :func:`default_cache`.

    Example:
        >>> resolve_cache(False) is None
        True
        >>> resolve_cache(None)  # doctest: +ELLIPSIS
        ResultCache(FileByteStore(...), namespace='vlmrun')
    """
    if option is False:
        return None
    if option is None:
        return default_cache()
    if not isinstance(option, ResultCache):
        raise TypeError(
            f"cache must be a ResultCache, None (the default, persistent) or False (none), "
            f"got {type(option).__name__}; wrap a LangChain store as ResultCache(store)."
        )
    return option
