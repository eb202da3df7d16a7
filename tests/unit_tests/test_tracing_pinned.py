"""What a loader or parser run shows a tracer: each source's event payload exactly, the
run's summary, and the tags, metadata and callbacks of the chain it runs inside."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler, CallbackManager
from langchain_core.runnables import RunnableLambda

from langchain_vlmrun.core.errors import ExecutionFailedError
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.documents._tracing import SourceEvents, asource_run, source_run


def test_each_payload_says_what_happened_to_its_source() -> None:
    events = SourceEvents(total=3)
    usage = SimpleNamespace(
        execution_id="ex-1", agent="invoices:v1", credits_used=2.5, requests=3, from_cache=False
    )
    assert events.payload("a.pdf", documents=2, usage=usage) == {
        "source": "a.pdf",
        "status": "loaded",
        "documents": 2,
        "execution_id": "ex-1",
        "agent": "invoices:v1",
        "credits_used": 2.5,
        "requests": 3,
        "from_cache": False,
        "error": None,
        "error_type": None,
        "done": 1,
        "total": 3,
    }
    failed = AgentExecution(id="ex-2", status="failed", error="bad scan")
    failure = ExecutionFailedError(failed)
    assert events.payload("b.pdf", documents=0, error=failure) == {
        "source": "b.pdf",
        "status": "failed",
        "documents": 0,
        "execution_id": "ex-2",
        "agent": None,
        "credits_used": 0.0,
        "requests": None,
        "from_cache": None,
        "error": failure.message,
        "error_type": "ExecutionFailedError",
        "done": 2,
        "total": 3,
    }
    unpriced = SimpleNamespace(execution_id=None, credits_used=None)
    plain = events.payload("c.pdf", documents=1, usage=unpriced, error=ValueError("odd"))
    assert (plain["credits_used"], plain["error"], plain["execution_id"]) == (0.0, "odd", None)
    assert events.summary(stopped=True) == {
        "sources": 3,
        "failed": 2,
        "documents": 3,
        "credits_used": 2.5,
        "stopped": True,
    }


class Seen(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[tuple[str, list[str], dict[str, Any]]] = []
        self.events: list[str] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.starts.append((kw.get("name"), kw.get("tags") or [], kw.get("metadata") or {}))

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.events.append(data["source"])


class ASeen(AsyncCallbackHandler, Seen):
    async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        Seen.on_chain_start(self, serialized, inputs, **kw)

    async def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        Seen.on_custom_event(self, name, data, **kw)


def run_sources(_: Any, own: Any = None) -> str:
    with source_run("VLMRunLoader", own, ["a.pdf"]) as run:
        run.emit("a.pdf", documents=1)
    return "done"


async def arun_sources(_: Any, own: Any = None) -> str:
    async with asource_run("VLMRunLoader", own, ["a.pdf"]) as run:
        await run.emit("a.pdf", documents=1)
    return "done"


def test_a_run_inside_a_chain_inherits_its_callbacks_tags_and_metadata() -> None:
    chain_handler, own_handler = Seen(), Seen()
    config: Any = {
        "callbacks": [chain_handler],
        "tags": ["nightly"],
        "metadata": {"tenant": "acme"},
    }
    RunnableLambda(lambda x: run_sources(x, [own_handler])).invoke(None, config=config)
    (loader_start,) = [s for s in chain_handler.starts if s[0] == "VLMRunLoader"]
    assert "nightly" in loader_start[1] and loader_start[2]["tenant"] == "acme"
    assert chain_handler.events == ["a.pdf"]  # the chain's handler sees the events too
    assert [s[0] for s in own_handler.starts] == ["VLMRunLoader"] and own_handler.events == [
        "a.pdf"
    ]


def test_an_async_run_inside_a_chain_inherits_the_same() -> None:
    chain_handler, own_handler = ASeen(), ASeen()
    config: Any = {
        "callbacks": [chain_handler],
        "tags": ["nightly"],
        "metadata": {"tenant": "acme"},
    }

    async def step(x: Any) -> str:
        return await arun_sources(x, [own_handler])

    async def main() -> None:
        await RunnableLambda(step).ainvoke(None, config=config)

    asyncio.run(main())
    (loader_start,) = [s for s in chain_handler.starts if s[0] == "VLMRunLoader"]
    assert "nightly" in loader_start[1] and loader_start[2]["tenant"] == "acme"
    assert chain_handler.events == ["a.pdf"] and own_handler.events == ["a.pdf"]


def test_a_callback_manager_is_taken_as_its_handlers_and_none_twice() -> None:
    handler = Seen()
    manager = CallbackManager(handlers=[handler])
    run_sources(None, manager)
    config: Any = {"callbacks": [handler]}
    RunnableLambda(lambda x: run_sources(x, [handler])).invoke(None, config=config)
    # the handler given both ways sees the loader's run and event once each time
    assert [s[0] for s in handler.starts].count("VLMRunLoader") == 2
    assert handler.events == ["a.pdf", "a.pdf"]
