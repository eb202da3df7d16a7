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
import time
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from langchain_core.stores import BaseStore, InMemoryByteStore

from langchain_vlmrun._models import AgentExecution
from langchain_vlmrun.storage import FileByteStore

__all__ = ["CacheOption", "CacheRecord", "ResultCache", "resolve_cache"]


@dataclass(frozen=True)
class CacheRecord:
    state: Literal["submitted", "completed"]
    execution_id: str
    file_id: str | None = None
    execution: AgentExecution | None = None


class ResultCache:
    """Completed executions and in-flight submissions, keyed by content + configuration.

    Example:
        >>> from langchain_core.stores import InMemoryByteStore
        >>> from langchain_vlmrun import VLMRunLoader
        >>> cache = ResultCache(InMemoryByteStore())
        >>> loader = VLMRunLoader("docs/", prompt="Transcribe the pages", cache=cache)

    Args:
        store: where records live; default a :class:`FileByteStore` under
            ``$VLMRUN_CACHE_DIR`` (or ``~/.cache/langchain-vlmrun``).
        namespace: key prefix, to share one store between applications.
    """

    def __init__(
        self, store: BaseStore[str, bytes] | None = None, *, namespace: str = "vlmrun"
    ) -> None:
        self.store: BaseStore[str, bytes] = store if store is not None else FileByteStore()
        self.namespace = namespace

    def __repr__(self) -> str:
        return f"ResultCache({self.store!r}, namespace={self.namespace!r})"

    def key(self, content_hash: str, request_fields: dict[str, Any]) -> str:
        """A stable key for this content under this execute configuration."""
        canonical = json.dumps(request_fields, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(f"{content_hash}\n{canonical}".encode()).hexdigest()
        return f"{self.namespace}:{digest}"

    def get(self, key: str) -> CacheRecord | None:
        (raw,) = self.store.mget([key])
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            execution = data.get("execution")
            return CacheRecord(
                state=data["state"],
                execution_id=data["execution_id"],
                file_id=data.get("file_id"),
                execution=AgentExecution.model_validate(execution) if execution else None,
            )
        except (ValueError, KeyError, TypeError):
            return None  # unreadable record: behave as a miss

    def _put(self, key: str, record: dict[str, Any]) -> None:
        record["written_at"] = time.time()
        self.store.mset([(key, json.dumps(record, default=str).encode())])

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

    def clear(self) -> None:
        """Remove every record of this namespace."""
        self.store.mdelete(list(self.store.yield_keys(prefix=f"{self.namespace}:")))


#: What loaders and parsers accept as ``cache``: a cache, ``None`` for a private
#: in-memory one (the default), or ``False`` for none.
CacheOption: TypeAlias = ResultCache | Literal[False] | None


def resolve_cache(option: CacheOption) -> ResultCache | None:
    """The cache a loader or parser uses: by default an in-memory one of its own.

    Example:
        >>> resolve_cache(False) is None
        True
        >>> resolve_cache(None)
        ResultCache(<langchain_core.stores.InMemoryByteStore object at ...>, namespace='vlmrun')
    """
    if option is False:
        return None
    if option is None:
        return ResultCache(InMemoryByteStore())
    if not isinstance(option, ResultCache):
        raise TypeError(
            f"cache must be a ResultCache, None (in-memory) or False (none), got "
            f"{type(option).__name__}; wrap a LangChain store as ResultCache(store)."
        )
    return option
