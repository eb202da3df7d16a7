"""What callback handlers, ``astream_events`` and LangSmith see of VLM Run work.

- The tool and the extractor run each execution as a child run named
  :data:`EXECUTION_RUN` whose outputs are the execution id, agent, status and credits.
- The loader and the parser are runs of their own (``VLMRunLoader``/``VLMRunParser``)
  that dispatch one :data:`SOURCE_EVENT` custom event per source (``on_custom_event``
  in handlers, ``"on_custom_event"`` in ``astream_events``).

Runs attach to the chain they are called from (LangChain's context), plus the
component's own ``callbacks``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForChainRun,
    BaseCallbackHandler,
    BaseCallbackManager,
    CallbackManager,
    CallbackManagerForChainRun,
    Callbacks,
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.callbacks.manager import AsyncParentRunManager, ParentRunManager
from langchain_core.runnables.config import ensure_config

from langchain_vlmrun.client._operations import ProcessedSource
from langchain_vlmrun.core.models import AgentExecution

__all__ = [
    "EXECUTION_RUN",
    "SOURCE_EVENT",
    "SourceEvents",
    "aexecution_run",
    "asource_run",
    "execution_run",
    "execution_summary",
    "source_run",
]

#: Name of the child run holding one execution (tool and extractor).
EXECUTION_RUN = "vlmrun_execution"
#: Name of the custom event the loader and parser dispatch once per source.
SOURCE_EVENT = "vlmrun_source"


def execution_summary(
    done: ProcessedSource | AgentExecution, agent: str | None = None
) -> dict[str, Any]:
    """The execution id, agent, status, credits and usage of a finished execution."""
    execution = done.execution if isinstance(done, ProcessedSource) else done
    summary: dict[str, Any] = {
        "execution_id": execution.id,
        "agent": agent or execution.name,
        "status": execution.status,
        "credits_used": execution.usage.credits_used,
        "usage": execution.usage.model_dump(exclude_none=True),
    }
    if isinstance(done, ProcessedSource):
        summary["from_cache"] = done.from_cache
    return summary


@dataclass
class _Outputs:
    """What the child run reports when it ends (set by the code inside it)."""

    values: dict[str, Any] = field(default_factory=dict)

    def record(self, done: ProcessedSource | AgentExecution, agent: str | None) -> None:
        self.values = execution_summary(done, agent)


@contextmanager
def execution_run(parent: ParentRunManager | None, inputs: dict[str, Any]) -> Iterator[_Outputs]:
    """A child run of ``parent`` (a tool or chain run) around one execution."""
    run = None
    if parent is not None:
        run = parent.get_child().on_chain_start(None, inputs, name=EXECUTION_RUN)
    outputs = _Outputs()
    try:
        yield outputs
    except BaseException as exc:
        if run is not None:
            run.on_chain_error(exc)
        raise
    if run is not None:
        run.on_chain_end(outputs.values)


@asynccontextmanager
async def aexecution_run(
    parent: AsyncParentRunManager | None, inputs: dict[str, Any]
) -> AsyncIterator[_Outputs]:
    """Async twin of :func:`execution_run`."""
    run = None
    if parent is not None:
        run = await parent.get_child().on_chain_start(None, inputs, name=EXECUTION_RUN)
    outputs = _Outputs()
    try:
        yield outputs
    except BaseException as exc:
        if run is not None:
            await run.on_chain_error(exc)
        raise
    if run is not None:
        await run.on_chain_end(outputs.values)


# -- loader and parser runs ---------------------------------------------------------------


def _handlers(callbacks: Callbacks) -> list[BaseCallbackHandler]:
    if isinstance(callbacks, BaseCallbackManager):
        return list(callbacks.handlers)
    return list(callbacks or [])


def _manager(callbacks: Callbacks) -> CallbackManager:
    """The context's callbacks (the chain this runs inside, tracing) plus ``callbacks``,
    all inherited by the run's events."""
    # inside a chain, the context's callbacks are its run manager, which carries the
    # chain's tags and metadata to this run
    manager = CallbackManager.configure(inheritable_callbacks=ensure_config().get("callbacks"))
    for handler in _handlers(callbacks):
        if handler not in manager.handlers:
            manager.add_handler(handler)  # inherited by the run's events
    return manager


def _amanager(callbacks: Callbacks) -> AsyncCallbackManager:
    """Async twin of :func:`_manager`."""
    # inside a chain, the context's callbacks are its run manager, which carries the
    # chain's tags and metadata to this run
    manager = AsyncCallbackManager.configure(inheritable_callbacks=ensure_config().get("callbacks"))
    for handler in _handlers(callbacks):
        if handler not in manager.handlers:
            manager.add_handler(handler)  # inherited by the run's events
    return manager


class SourceEvents:
    """Counts sources as they finish and builds each :data:`SOURCE_EVENT` payload."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.documents = 0
        self.credits_used = 0.0

    def payload(
        self,
        source: str,
        *,
        documents: int,
        usage: Any = None,
        error: BaseException | None = None,
    ) -> dict[str, Any]:
        self.done += 1
        self.failed += error is not None
        self.documents += documents
        credits = float(getattr(usage, "credits_used", 0.0) or 0.0)
        self.credits_used += credits
        return {
            "source": source,
            "status": "failed" if error is not None else "loaded",
            "documents": documents,
            "execution_id": getattr(usage, "execution_id", None)
            or getattr(error, "execution_id", None),
            "agent": getattr(usage, "agent", None),
            "credits_used": credits,
            "requests": getattr(usage, "requests", None),
            "from_cache": getattr(usage, "from_cache", None),
            "error": None if error is None else (getattr(error, "message", None) or str(error)),
            "error_type": None if error is None else type(error).__name__,
            "done": self.done,
            "total": self.total,
        }

    def summary(self, **extra: Any) -> dict[str, Any]:
        return {
            "sources": self.done,
            "failed": self.failed,
            "documents": self.documents,
            "credits_used": self.credits_used,
            **extra,
        }


@dataclass
class _SourceRun:
    """A started loader/parser run: dispatches per-source events on it."""

    run: CallbackManagerForChainRun
    events: SourceEvents

    def emit(self, source: str, **details: Any) -> None:
        data = self.events.payload(source, **details)
        dispatch_custom_event(SOURCE_EVENT, data, config={"callbacks": self.run.get_child()})


@dataclass
class _AsyncSourceRun:
    run: AsyncCallbackManagerForChainRun
    events: SourceEvents

    async def emit(self, source: str, **details: Any) -> None:
        data = self.events.payload(source, **details)
        await adispatch_custom_event(SOURCE_EVENT, data, config={"callbacks": self.run.get_child()})


@contextmanager
def source_run(name: str, callbacks: Callbacks, sources: list[str]) -> Iterator[_SourceRun]:
    """A run named ``name`` over ``sources``: ends with a summary (documents, failures,
    credits), or the error; a consumer that stops early ends it with ``stopped=True``."""
    manager = _manager(callbacks)
    run = manager.on_chain_start(None, {"sources": sources}, name=name)
    handle = _SourceRun(run, SourceEvents(len(sources)))
    try:
        yield handle
    except GeneratorExit:
        run.on_chain_end(handle.events.summary(stopped=True))
        raise
    except BaseException as exc:
        run.on_chain_error(exc)
        raise
    run.on_chain_end(handle.events.summary())


@asynccontextmanager
async def asource_run(
    name: str, callbacks: Callbacks, sources: list[str]
) -> AsyncIterator[_AsyncSourceRun]:
    """Async twin of :func:`source_run`."""
    manager = _amanager(callbacks)
    run = await manager.on_chain_start(None, {"sources": sources}, name=name)
    handle = _AsyncSourceRun(run, SourceEvents(len(sources)))
    try:
        yield handle
    except GeneratorExit:
        await run.on_chain_end(handle.events.summary(stopped=True))
        raise
    except BaseException as exc:
        await run.on_chain_error(exc)
        raise
    await run.on_chain_end(handle.events.summary())
