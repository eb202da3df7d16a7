"""VLMRunLoader: inputs, concurrency and order, error policy, progress, cassettes."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document
from pydantic import BaseModel

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecutionFailedError,
    FileSourceError,
    PollSchedule,
    VLMRunClient,
)
from langchain_vlmrun.loaders._concurrency import map_ordered
from langchain_vlmrun.loaders.loader import Failure, LoaderError, VLMRunLoader, _expand
from tests import support
from tests.compose_loader_cassettes import (
    CHART_FILE_ID,
    CHART_PNG,
    CHART_STRUCTURED,
    REPORT_FILE_ID,
    REPORT_PDF,
    SAMPLE_URL,
    SINGLE_EXECUTION,
    STRUCTURED_EXECUTION,
    URL_EXECUTION,
)
from tests.mock_api import ScriptedAPI, found_agent

BASE = "https://api.test/v1"
#: Stands for an agent of the user's own (a fresh account has none): the unit tests
#: below run on MockTransport, where the name only has to reach the request.
AGENT = "test-fixture-markdown:v1"


#: Longest a gated request waits (only reached when the behaviour under test is broken).
GATE_TIMEOUT = 10.0


class FakeVLMRun:
    """A MockTransport backend that tracks executions in flight and completion order.

    Each uploaded file gets id ``file-<filename>``, its execution ``ex-<filename>``.
    Completion is driven by events, not by timing:

    - no execution completes before ``parallel`` executions were in flight at once
      (so a loader that runs fewer at a time is caught, not waited out);
    - an execution completes on its second poll, except a ``slow`` one, which completes
      once every other execution has, and a ``held`` one, which completes once
      ``release`` is set; one in ``fail`` ends ``failed``;
    - with ``first``, every other file's upload waits until that file's execution was
      created (a slow network for the others: whatever order the loader's threads run
      in, it holds one of the first execution slots; sync loads only, the wait blocks).
    """

    def __init__(
        self,
        *,
        total: int,
        parallel: int = 1,
        slow: frozenset[str] = frozenset(),
        held: frozenset[str] = frozenset(),
        fail: frozenset[str] = frozenset(),
        first: str | None = None,
    ) -> None:
        self.total = total
        self.first = first
        self.first_created = threading.Event()
        self.parallel = parallel
        self.slow = slow
        self.held = held
        self.fail = fail
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.executed: list[str] = []
        self.finished: list[str] = []
        self.polls: dict[str, int] = {}
        self.release = threading.Event()
        # set once, in the thread (sync) or the event loop (async) that uses this backend
        self.all_in_flight = threading.Event()
        self.others_finished = threading.Event()
        self.aall_in_flight = asyncio.Event()
        self.aothers_finished = asyncio.Event()

    def route(self, request: httpx.Request) -> httpx.Response:
        request.read()
        path = request.url.path.removeprefix("/v1")
        if request.method == "POST" and path == "/agent/lookup":
            return found_agent(request)
        if request.method == "GET" and path.startswith("/files/hash/"):
            return httpx.Response(200, json={"id": None})
        if request.method == "POST" and path == "/files":
            name = self.uploaded(request)
            assert name is not None
            return httpx.Response(201, json={"id": f"file-{name}", "filename": name})
        if request.method == "POST" and path == "/agent/execute":
            name = json.loads(request.content)["inputs"]["file"]["file_id"].removeprefix("file-")
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                self.executed.append(name)
                self.polls[name] = 0
            if name == self.first:
                self.first_created.set()
            return httpx.Response(201, json={"id": f"ex-{name}", "status": "enqueued"})
        if request.method == "GET" and path.startswith("/agent/executions/"):
            name = self.polled(request)
            assert name is not None
            with self.lock:
                self.polls[name] += 1
                done = name in self.slow or name in self.held or self.polls[name] >= 2
                if done:
                    self.in_flight -= 1
                    self.finished.append(name)
            status = ("failed" if name in self.fail else "completed") if done else "running"
            body: dict[str, Any] = {"id": f"ex-{name}", "name": AGENT, "status": status}
            if done and name not in self.fail:
                body["response"] = {"pages": [{"content": f"content of {name}"}]}
                body["usage"] = {"credits_used": 2}
            if name in self.fail:
                body["usage"] = {"message": "could not read the document"}
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"detail": f"no route {request.method} {path}"})

    @staticmethod
    def uploaded(request: httpx.Request) -> str | None:
        """The file this request uploads (None for other requests)."""
        if request.method != "POST" or not request.url.path.endswith("/files"):
            return None
        match = re.search(rb'filename="([^"]+)"', request.read())
        return None if match is None else match.group(1).decode()

    @staticmethod
    def polled(request: httpx.Request) -> str | None:
        """The file whose execution this request polls (None for other requests)."""
        if request.method != "GET" or "/agent/executions/" not in request.url.path:
            return None
        return request.url.path.rsplit("/", 1)[1].removeprefix("ex-")

    def progress(self) -> tuple[bool, bool]:
        """(``parallel`` executions were in flight at once, every other one finished)."""
        with self.lock:
            others = len(self.finished) >= self.total - len(self.slow)
            return self.max_in_flight >= self.parallel, others

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.first is not None and self.uploaded(request) not in (None, self.first):
            self.first_created.wait(GATE_TIMEOUT)
        name = self.polled(request)
        if name is not None:
            self.all_in_flight.wait(GATE_TIMEOUT)
            if name in self.slow:
                self.others_finished.wait(GATE_TIMEOUT)
            if name in self.held:
                self.release.wait(GATE_TIMEOUT)
        response = self.route(request)
        full, others = self.progress()
        if full:
            self.all_in_flight.set()
        if others:
            self.others_finished.set()
        return response

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        name = self.polled(request)
        if name is not None:
            await asyncio.wait_for(self.aall_in_flight.wait(), GATE_TIMEOUT)
            if name in self.slow:
                await asyncio.wait_for(self.aothers_finished.wait(), GATE_TIMEOUT)
        response = self.route(request)
        full, others = self.progress()
        if full:
            self.aall_in_flight.set()
        if others:
            self.aothers_finished.set()
        return response

    def client(self) -> VLMRunClient:
        transport = httpx.MockTransport(self.handler)
        return VLMRunClient(
            "k",
            base_url=BASE,
            http_client=httpx.Client(transport=transport),
            poll=PollSchedule.immediate(),
        )

    def async_client(self) -> AsyncVLMRunClient:
        transport = httpx.MockTransport(self.ahandler)
        return AsyncVLMRunClient(
            "k",
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=transport),
            poll=PollSchedule.immediate(),
        )


def make_files(tmp_path: Path, count: int) -> list[str]:
    return support.make_files(tmp_path, count, "doc{i}.pdf")


def loader_for(api: FakeVLMRun, sources: list[Any], **kwargs: Any) -> VLMRunLoader:
    return VLMRunLoader(
        sources, agent_name=AGENT, client=api.client(), async_client=api.async_client(), **kwargs
    )


async def collect(loader: VLMRunLoader) -> list[Document]:
    return [doc async for doc in loader.alazy_load()]


# --- concurrency and order ------------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_bounded_concurrency_and_input_order(tmp_path: Path, use_async: bool) -> None:
    # 6 files, within the look-ahead window (4 x max_concurrency): all may run while doc0 lags.
    files = make_files(tmp_path, 6)
    api = FakeVLMRun(total=6, parallel=3, slow=frozenset({"doc0.pdf"}))
    loader = loader_for(api, files, max_concurrency=3)
    docs = asyncio.run(collect(loader)) if use_async else list(loader.lazy_load())
    assert api.max_in_flight == 3  # ran concurrently, never above the bound
    assert api.finished[-1] == "doc0.pdf"  # the first file finished last...
    assert [d.page_content for d in docs] == [f"content of doc{i}.pdf" for i in range(6)]
    assert [d.metadata["source"] for d in docs] == [str(f) for f in files]  # ...order kept
    assert docs[0].metadata["file_id"] == "file-doc0.pdf"
    assert loader.failures == []


def test_max_concurrency_one_is_sequential(tmp_path: Path) -> None:
    api = FakeVLMRun(total=3)
    docs = loader_for(api, make_files(tmp_path, 3), max_concurrency=1).load()
    assert api.max_in_flight == 1
    assert api.finished == api.executed == ["doc0.pdf", "doc1.pdf", "doc2.pdf"]
    assert len(docs) == 3


class UploadsAhead(FakeVLMRun):
    """doc0's execution ends only once doc1's file has arrived: a loader that uploads
    the next source only after an execution ends waits out GATE_TIMEOUT and fails."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: list[str] = []
        self.next_arrived = threading.Event()
        self.anext_arrived = asyncio.Event()

    def route(self, request: httpx.Request) -> httpx.Response:
        response = super().route(request)
        name = self.polled(request)
        if request.url.path.endswith("/files"):
            self.events.append(f"upload {response.json()['filename']}")
        elif (
            name is not None
            and name in self.finished[-1:]
            and response.json()["status"] != "running"
        ):
            self.events.append(f"end {name}")
        return response

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.polled(request) == "doc0.pdf":
            self.next_arrived.wait(GATE_TIMEOUT)
        response = super().handler(request)
        if "upload doc1.pdf" in self.events:
            self.next_arrived.set()
        return response

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        if self.polled(request) == "doc0.pdf":
            await asyncio.wait_for(self.anext_arrived.wait(), GATE_TIMEOUT)
        response = await super().ahandler(request)
        if "upload doc1.pdf" in self.events:
            self.anext_arrived.set()
        return response


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_the_next_source_uploads_while_an_execution_runs(tmp_path: Path, use_async: bool) -> None:
    api = UploadsAhead(total=3)
    loader = loader_for(api, make_files(tmp_path, 3), max_concurrency=1)
    docs = asyncio.run(collect(loader)) if use_async else loader.load()
    assert api.events.index("upload doc1.pdf") < api.events.index("end doc0.pdf")
    assert api.max_in_flight == 1  # still one execution at a time, in input order
    assert api.executed == ["doc0.pdf", "doc1.pdf", "doc2.pdf"]
    assert [d.page_content for d in docs] == [f"content of doc{i}.pdf" for i in range(3)]


def test_a_load_runs_twice_max_concurrency_sources_on_as_many_threads(tmp_path: Path) -> None:
    """max_concurrency executions, and as many next sources uploading or ready: twice
    as many threads, not more (the manual's promise)."""
    api = FakeVLMRun(total=10, held=frozenset(f"doc{i}.pdf" for i in range(10)))
    docs: list[Document] = []
    consumer = threading.Thread(
        target=lambda: docs.extend(
            loader_for(api, make_files(tmp_path, 10), max_concurrency=2).lazy_load()
        )
    )
    consumer.start()
    try:
        deadline = time.monotonic() + GATE_TIMEOUT
        while len(api.executed) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the sources behind them start meanwhile
        workers = [t for t in threading.enumerate() if t.name.startswith("vlmrun_")]
        assert len(api.executed) == 2 and len(workers) == 4
    finally:
        api.release.set()
        consumer.join(GATE_TIMEOUT)
    assert len(docs) == 10


def test_map_ordered_keeps_a_bounded_window() -> None:
    pulled: list[int] = []
    both_running = threading.Barrier(2)
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def source(n: int) -> Iterator[int]:
        for i in range(n):
            pulled.append(i)
            yield i

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running)
        if i < 2:
            both_running.wait(timeout=GATE_TIMEOUT)  # 0 and 1 run at the same time
        with lock:
            running[0] -= 1
        return i * 10

    results = map_ordered(work, source(100), 2)
    assert next(results) == 0
    # 0 and 1, and the ones started while the caller waited for 0: at most 0 (taken)
    # and the 4 x max_concurrency window behind it, refilled as 0 was handed over (it
    # fills only behind a slow head, as 0 may be on a busy machine)
    taken = len(pulled)
    assert pulled == list(range(taken)) and taken <= 1 + 4 * 2
    time.sleep(0.05)
    assert len(pulled) == taken  # nothing pulled while the consumer holds its result
    results.close()
    assert len(pulled) == taken  # closing pulls nothing more
    assert running[1] == 2  # two at once, never more
    assert list(map_ordered(work, range(10), 4)) == [i * 10 for i in range(10)]
    with pytest.raises(ValueError, match="at least 1"):
        list(map_ordered(work, range(3), 0))


def test_stopping_early_finishes_running_work_and_drops_the_rest(tmp_path: Path) -> None:
    held = frozenset(f"doc{i}.pdf" for i in range(1, 6))
    # (doc0 is surely among the first two submitted: under load, the threads of doc1 and
    # doc2 could otherwise take both slots and doc0 wait for a held one)
    api = FakeVLMRun(total=6, held=held, first="doc0.pdf")
    iterator = loader_for(api, make_files(tmp_path, 6), max_concurrency=2).lazy_load()
    first = next(iterator)
    assert first.page_content == "content of doc0.pdf"
    began = time.monotonic()
    iterator.close()  # type: ignore[attr-defined]
    # close() returned without waiting for the executions still running...
    assert time.monotonic() - began < GATE_TIMEOUT / 2 and not api.release.is_set()
    submitted = set(api.executed)
    api.release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("vlmrun_"):
            thread.join(GATE_TIMEOUT)
    # ...which then finished in the background (their paid executions reach the
    # cache instead of being abandoned); none was submitted after close() returned...
    assert set(api.finished) == set(api.executed) == submitted
    # ...and the sources that had not started were dropped, not loaded in the background:
    # two executions at once and two more uploaded meanwhile; the first done, one of
    # those two may have taken the slot it freed before the close
    assert "doc0.pdf" in submitted and len(submitted) <= 3
    assert submitted <= {f"doc{i}.pdf" for i in range(4)}


# --- error policy -----------------------------------------------------------------------


def mixed_sources(tmp_path: Path) -> list[Path]:
    good1, bad, good2 = (tmp_path / n for n in ("good1.pdf", "bad.pdf", "good2.pdf"))
    for i, path in enumerate((good1, bad, good2)):
        path.write_bytes(f"%PDF-1.4 {i}\n".encode())
    return [good1, tmp_path / "missing.pdf", bad, good2]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_on_error_raise_names_the_first_failing_source(tmp_path: Path, use_async: bool) -> None:
    sources = mixed_sources(tmp_path)
    loader = loader_for(FakeVLMRun(total=3, fail=frozenset({"bad.pdf"})), sources)
    with pytest.raises(LoaderError) as caught:
        asyncio.run(collect(loader)) if use_async else loader.load()
    assert caught.value.source == str(tmp_path / "missing.pdf")
    assert isinstance(caught.value.cause, FileSourceError)
    assert caught.value.__cause__ is caught.value.cause
    assert "missing.pdf" in str(caught.value)


def test_on_error_raise_for_a_failed_execution(tmp_path: Path) -> None:
    sources = mixed_sources(tmp_path)
    loader = loader_for(FakeVLMRun(total=3, fail=frozenset({"bad.pdf"})), sources[2:])
    with pytest.raises(LoaderError, match="could not read the document") as caught:
        loader.load()
    assert caught.value.source.endswith("bad.pdf")
    assert isinstance(caught.value.cause, ExecutionFailedError)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_on_error_skip_yields_good_documents_and_reports_failures(
    tmp_path: Path, use_async: bool
) -> None:
    sources = mixed_sources(tmp_path)
    loader = loader_for(FakeVLMRun(total=3, fail=frozenset({"bad.pdf"})), sources, on_error="skip")
    docs = asyncio.run(collect(loader)) if use_async else loader.load()
    assert [d.page_content for d in docs] == ["content of good1.pdf", "content of good2.pdf"]
    assert [f.source for f in loader.failures] == [str(sources[1]), str(sources[2])]
    assert isinstance(loader.failures[0].error, FileSourceError)
    assert isinstance(loader.failures[1].error, ExecutionFailedError)
    assert isinstance(loader.failures[0], Failure)


# --- inputs -------------------------------------------------------------------------------


def test_directories_expand_recursively_to_supported_files_sorted(tmp_path: Path) -> None:
    for name in ("b.pdf", "a.png", "notes.txt", "sub/c.JPG", ".hidden/d.pdf", "sub/.e.pdf"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert [i.source for i in _expand(tmp_path)] == [
        str(tmp_path / n) for n in ("a.png", "b.pdf", "sub/c.JPG")
    ]
    assert [i.source for i in _expand(str(tmp_path / "**" / "*.pdf"))] == [str(tmp_path / "b.pdf")]
    assert _expand(SAMPLE_URL)[0].source == SAMPLE_URL
    (nothing,) = _expand(str(tmp_path / "*.docx"))
    assert nothing.problem and "no file matches" in nothing.problem
    (tmp_path / "empty").mkdir()
    (empty,) = _expand(tmp_path / "empty")
    assert empty.problem and "no supported file" in empty.problem


def test_a_glob_matching_nothing_is_a_failure(tmp_path: Path) -> None:
    loader = loader_for(FakeVLMRun(total=0), [str(tmp_path / "*.pdf")], on_error="skip")
    assert loader.load() == []
    assert "no file matches" in str(loader.failures[0].error)


def test_constructor_validation() -> None:
    # no agent, no prompt: defaults
    assert VLMRunLoader("a.pdf", api_key="test-key").spec.uses_defaults
    with pytest.raises(ValueError, match="max_concurrency"):
        VLMRunLoader("a.pdf", agent_name=AGENT, max_concurrency=0)
    with pytest.raises(ValueError, match="on_error"):
        VLMRunLoader("a.pdf", agent_name=AGENT, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        VLMRunLoader([], agent_name=AGENT)
    loader = VLMRunLoader("a.pdf", agent_name=AGENT, api_key="test-key")
    assert f"agent_name='{AGENT}'" in repr(loader)


# --- progress -----------------------------------------------------------------------------


def test_show_progress_uses_tqdm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    loader = loader_for(FakeVLMRun(total=2), make_files(tmp_path, 2), show_progress=True)
    assert len(loader.load()) == 2
    err = capsys.readouterr().err
    assert "2/2" in err and "credits=4" in err and "failed=0" in err


def test_show_progress_without_tqdm_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    loader = loader_for(FakeVLMRun(total=1), make_files(tmp_path, 1), show_progress=True)
    with pytest.raises(ImportError, match=r"langchain-vlmrun\[progress\]"):
        loader.load()


# --- cassettes (max_concurrency=1: POST /files and /agent/execute share one URI) ------------
# No agent and no prompt, as on a fresh account: each file gets its medium's default.


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_single_mode.yaml")
def test_single_mode_reuses_an_uploaded_file(cassette_client_kwargs: dict[str, Any]) -> None:
    loader = VLMRunLoader(
        REPORT_PDF,
        mode="single",
        max_concurrency=1,
        client_kwargs=cassette_client_kwargs,
    )
    (doc,) = loader.load()
    assert doc.metadata["execution_id"] == SINGLE_EXECUTION
    assert doc.metadata["file_id"] == REPORT_FILE_ID
    assert doc.metadata["total_pages"] == 2
    assert "\n\n---\n\n# Outlook" in doc.page_content


class Bar(BaseModel):
    label: str
    value: int


class Chart(BaseModel):
    title: str
    bars: list[Bar]


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_structured.yaml")
async def test_structured_response_async(cassette_client_kwargs: dict[str, Any]) -> None:
    loader = VLMRunLoader(
        str(CHART_PNG),
        response_model=Chart,  # its JSON schema says what to extract
        max_concurrency=1,
        client_kwargs=cassette_client_kwargs,
    )
    (doc,) = await loader.aload()
    assert doc.metadata["structured"] == CHART_STRUCTURED
    assert doc.metadata["execution_id"] == STRUCTURED_EXECUTION
    assert doc.metadata["file_id"] == CHART_FILE_ID
    assert doc.metadata["mime_type"] == "image/png"
    assert "- label: Q2\n    value: 1850" in doc.page_content


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_url_source.yaml")
def test_url_sources_are_not_uploaded(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    loader = VLMRunLoader(SAMPLE_URL, client_kwargs=cassette_client_kwargs)
    (doc,) = loader.load()
    assert doc.metadata["source"] == SAMPLE_URL
    assert doc.metadata["mime_type"] == "image/jpeg"
    assert "file_id" not in doc.metadata
    assert doc.metadata["execution_id"] == URL_EXECUTION
    assert "/files" not in " ".join(r.path for r in vcr.requests)


@pytest.mark.parametrize("missing", ["reports/", "reports", "no/such/folder/"])
def test_a_missing_folder_is_reported_as_missing_before_any_request(
    missing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    api = ScriptedAPI()
    loader = VLMRunLoader(missing, prompt="p", client=api.client(), on_error="skip")
    assert loader.load() == []
    (failure,) = loader.failures
    assert str(failure.error) == (
        f"No such file or folder: {missing} (relative paths resolve against {tmp_path}); "
        "check the path."
    )
    assert api.requests == []
