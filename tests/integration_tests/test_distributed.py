"""Components shipped to Dask worker processes, and their connections, against the emulator.

A loader per file, an extractor and a tool are pickled to a ``distributed``
LocalCluster with worker processes (which lack ``VLMRUN_API_KEY``: the key travels in
the pickle) and run there against the loopback emulator. Then, in this process, with
``ResourceWarning`` an error: the extractor used across two ``asyncio.run`` calls,
the tool sync and async, and components closed by ``with``/``async with``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.documents.base import Blob
from pydantic import BaseModel

from langchain_vlmrun import VLMRunAgentTool, VLMRunExtractor, VLMRunLoader, VLMRunParser
from tests.emulator import Emulator
from tests.support import EMULATOR_POLL, make_files

KEY = "sk-emulated-key-0123456789"


class Invoice(BaseModel):
    invoice_id: str
    total_amount: float


def settings(emu: Emulator) -> dict[str, object]:
    return {
        "api_key": KEY,
        "base_url": emu.base_url,
        "request_timeout": 10,
        "client_kwargs": {"poll": EMULATOR_POLL},
    }


@pytest.mark.processes
def test_loaders_extractor_and_tool_run_on_dask_worker_processes(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    emu = emulator_factory(api_key=KEY)
    paths = make_files(tmp_path / "inbox", 4)
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)  # the workers have no key either
    loaders = [VLMRunLoader(path, cache=False, **settings(emu)) for path in paths]
    extract = VLMRunExtractor(response_model=Invoice, **settings(emu))
    tool = VLMRunAgentTool(prompt="Read it.", root_dir=tmp_path / "inbox", **settings(emu))
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as dask,
    ):
        loaded = dask.gather(dask.map(VLMRunLoader.load, loaders))
        extracted = dask.submit(extract.invoke, paths[0]).result()
        message = dask.submit(tool.invoke, {"file": Path(paths[1]).name}).result()
        pids = dask.run(os.getpid)
    assert os.getpid() not in pids.values()
    assert all(loaded) and [{d.metadata["source"] for d in docs} for docs in loaded] == [
        {path} for path in paths
    ]
    assert isinstance(extracted, Invoice)
    assert "VLM Run" not in message  # a result, not an error message
    # one execution per file for the loaders, one for the extractor, one for the tool
    assert emu.counters.snapshot()["executions_created"] == 6


def no_resource_warnings(run: Callable[[], object]) -> None:
    """``run`` and a full collection leave no unclosed socket or transport behind: with
    ``ResourceWarning`` an error, as ``python -W error`` makes it (raised in a finalizer,
    it reaches ``sys.unraisablehook``, which records it here)."""
    gc.collect()  # what earlier tests left behind is finalized before, not counted here
    unraisable: list[BaseException | None] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda raised: unraisable.append(raised.exc_value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            run()
            gc.collect()
    finally:
        sys.unraisablehook = hook
    assert [error for error in unraisable if isinstance(error, ResourceWarning)] == []


def test_the_extractor_across_two_asyncio_runs_leaves_no_resource_warning(
    emulator: Emulator, tmp_path: Path
) -> None:
    (path,) = make_files(tmp_path, 1)

    def use() -> None:
        extract = VLMRunExtractor(response_model=Invoice, cache=None, **settings(emulator))
        first = asyncio.run(extract.ainvoke(path))
        second = asyncio.run(extract.ainvoke(make_files(tmp_path / "b", 1, tag="second")[0]))
        third = extract.invoke(make_files(tmp_path / "c", 1, tag="third")[0])
        assert all(isinstance(r, Invoice) for r in (first, second, third))
        del extract  # never closed: dropping it closes what it opened

    no_resource_warnings(use)
    assert emulator.counters.snapshot()["executions_created"] == 3


def test_tools_and_closed_components_leave_no_resource_warning(
    emulator: Emulator, tmp_path: Path
) -> None:
    (path,) = make_files(tmp_path, 1)

    async def use_async() -> None:
        async with VLMRunAgentTool(prompt="Read it.", root_dir=tmp_path, **settings(emulator)) as t:
            await t.ainvoke({"file": path})
        tool = VLMRunAgentTool(prompt="Again.", root_dir=tmp_path, **settings(emulator))
        await tool.ainvoke({"file": path})  # never closed: its loop's end closes it

    def use() -> None:
        with VLMRunAgentTool(prompt="Read it.", root_dir=tmp_path, **settings(emulator)) as tool:
            tool.invoke({"file": path})
        with VLMRunParser(prompt="Read it.", cache=False, **settings(emulator)) as parser:
            parser.parse(Blob.from_path(path))
        asyncio.run(use_async())
        loader = VLMRunLoader(path, prompt="Loaded.", cache=False, **settings(emulator))
        shipped = pickle.loads(pickle.dumps(loader))
        assert shipped.load()
        assert asyncio.run(_aload(shipped))

    no_resource_warnings(use)


async def _aload(loader: VLMRunLoader) -> list[object]:
    return [document async for document in loader.alazy_load()]
