"""The package used the way LangChain users call it, from the outside.

Each test is one real usage (an agent loop, a RAG ingestion with ``index()``, a blob
loader, ``batch``, ``as_tool``, ``astream_events``...) against the loopback emulator;
request counts come from the emulator's own counters, never from the client.

Known bugs are marked ``xfail(strict=True)`` with the finding they belong to, so a fix
turns them into XPASS failures and the marker has to go.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.document_loaders import BaseBlobParser
from langchain_core.documents.base import Blob
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.indexing import InMemoryRecordManager, index
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel

from langchain_vlmrun import (
    AsyncVLMRunClient,
    FileByteStore,
    FileSourceError,
    LoaderError,
    PollSchedule,
    ResultCache,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunExtractor,
    VLMRunLoader,
    VLMRunParser,
)
from tests.emulator import Emulator
from tests.emulator.content import schema_response
from tests.fake_chat_model import ToolCallingModel

KEY = "sk-test-user-patterns"
PROMPT = "Transcribe this document as markdown."
#: Test data, not a real VLM Run agent: the emulator accepts any name.
FIXTURE_AGENT = "test-fixture-reader:v1"
IMMEDIATE = PollSchedule.immediate()
PDF_HEADER = b"%PDF-1.4\n"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
SPLITTER = RecursiveCharacterTextSplitter(chunk_size=60, chunk_overlap=0)
TOOL_NAME = "vlmrun_read_file"


class Invoice(BaseModel):
    vendor: str
    total: float


def expected_invoice(filename: str) -> Invoice:
    """What the emulator answers for ``filename`` (its schema-driven content)."""
    return Invoice.model_validate(schema_response(Invoice.model_json_schema(), filename))


# --------------------------------------------------------------------------- helpers


def sent(emu: Emulator) -> int:
    """Requests the emulator has received so far."""
    return int(emu.counters.snapshot()["requests_total"])


def error_of(action: Callable[[], object]) -> Exception:
    """The exception ``action`` raises; an AssertionError if it returns instead."""
    try:
        result = action()
    except Exception as exc:
        return exc
    raise AssertionError(f"accepted; returned {result!r:.300}")


def write_pdf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PDF_HEADER + text.encode())
    return path


def write_png(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG_HEADER + text.encode())
    return path


def make_folder(root: Path) -> Path:
    """``docs/`` with two PDFs and a PNG (each answered with 2 pages by the emulator)."""
    docs = root / "docs"
    write_pdf(docs / "a.pdf", "first report")
    write_pdf(docs / "b.pdf", "second report")
    write_png(docs / "scans" / "c.png", "a scan")
    return docs


def tool_call(file: str, call_id: str = "call-1") -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": TOOL_NAME, "args": {"file": file}}


@pytest.fixture
def emu(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """Executions complete at once: with IMMEDIATE polling a run is execute + one poll."""
    return emulator_factory(queue_time=0.0, processing_time=0.0)


@pytest.fixture
def json_emu(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """Answers with an object filled from the request's JSON schema."""
    return emulator_factory(queue_time=0.0, processing_time=0.0, response_mode="json")


def fast_client(emu: Emulator) -> VLMRunClient:
    return VLMRunClient(KEY, base_url=emu.base_url, poll=IMMEDIATE)


@pytest.fixture
def client(emu: Emulator) -> Iterator[VLMRunClient]:
    with fast_client(emu) as c:
        yield c


@pytest.fixture
def json_client(json_emu: Emulator) -> Iterator[VLMRunClient]:
    with fast_client(json_emu) as c:
        yield c


# ------------------------------------------- 1. one component, two asyncio.run calls


def test_tool_serves_two_asyncio_runs(emu: Emulator, tmp_path: Path) -> None:
    write_pdf(tmp_path / "a.pdf", "report")
    write_pdf(tmp_path / "b.pdf", "another report")
    tool = VLMRunAgentTool(prompt=PROMPT, api_key=KEY, base_url=emu.base_url, root_dir=tmp_path)
    first = asyncio.run(tool.ainvoke(tool_call("a.pdf")))
    second = asyncio.run(tool.ainvoke(tool_call("b.pdf")))  # new loop, new connections
    again = asyncio.run(tool.ainvoke(tool_call("a.pdf")))  # the tool's own cache
    assert first.status == second.status == again.status == "success"
    assert emu.counters.executions_created == 2


def test_extractor_serves_two_asyncio_runs(json_emu: Emulator, tmp_path: Path) -> None:
    path = str(write_pdf(tmp_path / "a.pdf", "invoice"))
    extractor = VLMRunExtractor(response_model=Invoice, api_key=KEY, base_url=json_emu.base_url)
    first = asyncio.run(extractor.ainvoke(path))
    second = asyncio.run(extractor.ainvoke(path))
    assert first == second == expected_invoice("a.pdf")


# -------------------------------------- 2. an agent issuing parallel tool calls at once


PARALLEL_FILES = ["a.pdf", "scans/c.png", "../outside.pdf", "b.pdf"]


def check_parallel_answer(emu: Emulator, messages: list[BaseMessage]) -> None:
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    assert set(results) == {f"call-{i}" for i in range(len(PARALLEL_FILES))}
    for i, file in enumerate(PARALLEL_FILES):
        message = results[f"call-{i}"]
        if file.startswith(".."):
            assert message.status == "error" and "outside the folders" in str(message.content)
        else:
            assert message.status == "success"
            # each answer belongs to its own call's file
            assert str(message.content).startswith(f"# {Path(file).name}: page 1")
            assert message.artifact.source == file
    assert len({results[f"call-{i}"].artifact.execution_id for i in (0, 1, 3)}) == 3
    assert emu.counters.executions_created == 3  # the refused path cost nothing
    final = str(messages[-1].content)
    assert "[call-0] According to the file: # a.pdf: page 1" in final
    assert "[call-2] I could not read the file:" in final


def test_agent_parallel_tool_calls_sync(
    emu: Emulator, client: VLMRunClient, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path)
    write_pdf(tmp_path / "outside.pdf", "not for the agent")
    tool = VLMRunAgentTool(prompt=PROMPT, root_dir=folder, client=client)
    agent = create_agent(ToolCallingModel(files=PARALLEL_FILES), tools=[tool])
    result = agent.invoke({"messages": [HumanMessage("Read these files")]})
    check_parallel_answer(emu, result["messages"])


async def test_agent_parallel_tool_calls_async(emu: Emulator, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write_pdf(tmp_path / "outside.pdf", "not for the agent")
    async with AsyncVLMRunClient(KEY, base_url=emu.base_url, poll=IMMEDIATE) as async_client:
        tool = VLMRunAgentTool(prompt=PROMPT, root_dir=folder, async_client=async_client)
        agent = create_agent(ToolCallingModel(files=PARALLEL_FILES), tools=[tool])
        result = await agent.ainvoke({"messages": [HumanMessage("Read these files")]})
    check_parallel_answer(emu, result["messages"])


# ---------------------------------------- 3. GenericLoader + FileSystemBlobLoader + parser


def generic_loader(folder: Path, parser: BaseBlobParser) -> Any:
    with warnings.catch_warnings():  # langchain-community announces its sunset on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.document_loaders.blob_loaders import FileSystemBlobLoader
        from langchain_community.document_loaders.generic import GenericLoader
    blobs = FileSystemBlobLoader(str(folder), glob="**/*", suffixes=[".pdf", ".png"])
    return GenericLoader(blobs, parser)


def test_generic_loader_over_a_folder(emu: Emulator, client: VLMRunClient, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "README.txt").write_text("not a document for VLM Run")
    docs = generic_loader(folder, VLMRunParser(prompt=PROMPT, client=client)).load()

    files = [folder / "a.pdf", folder / "b.pdf", folder / "scans" / "c.png"]
    assert Counter(d.metadata["source"] for d in docs) == {str(f): 2 for f in files}
    for doc in docs:
        name = Path(doc.metadata["source"]).name
        page = doc.metadata["page"]
        assert doc.page_content.startswith(f"# {name}: page {page + 1}")
        assert doc.metadata["total_pages"] == 2
    assert len({d.id for d in docs}) == len(docs) and None not in {d.id for d in docs}
    counters = emu.counters.snapshot()
    assert counters["executions_created"] == 3 and counters["uploads"] == 3


# ------------------------------------------------------------ 4. langchain index()


def index_folder(
    loader: VLMRunLoader, records: InMemoryRecordManager, store: InMemoryVectorStore
) -> dict[str, int]:
    chunks = SPLITTER.split_documents(loader.load())
    result = index(
        chunks,
        records,
        store,
        cleanup="incremental",
        source_id_key="source",
        key_encoder="sha256",
    )
    return dict(result)


def ids_by_source(store: InMemoryVectorStore) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, entry in store.store.items():
        out.setdefault(Path(entry["metadata"]["source"]).name, set()).add(key)
    return out


def new_index() -> tuple[InMemoryRecordManager, InMemoryVectorStore]:
    records = InMemoryRecordManager("vlmrun-user-patterns")
    records.create_schema()
    return records, InMemoryVectorStore(DeterministicFakeEmbedding(size=8))


def test_index_reingest_adds_nothing_and_a_changed_file_replaces_only_its_chunks(
    emu: Emulator, client: VLMRunClient, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path)
    records, store = new_index()
    loader = VLMRunLoader(str(folder), prompt=PROMPT, client=client)

    first = index_folder(loader, records, store)
    chunks = len(store.store)
    assert first == {"num_added": chunks, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}
    assert chunks > 6  # the pages were really split

    before = sent(emu)
    second = index_folder(loader, records, store)
    assert second == {"num_added": 0, "num_updated": 0, "num_skipped": chunks, "num_deleted": 0}
    assert sent(emu) == before  # the same loader instance pays nothing again

    old = ids_by_source(store)
    write_pdf(folder / "b.pdf", "second report, revised")
    executions = emu.counters.executions_created
    third = index_folder(loader, records, store)
    new = ids_by_source(store)
    assert third["num_deleted"] == len(old["b.pdf"]) and third["num_added"] == len(new["b.pdf"])
    assert third["num_skipped"] == chunks - len(old["b.pdf"])
    assert new["a.pdf"] == old["a.pdf"] and new["c.png"] == old["c.png"]
    assert not new["b.pdf"] & old["b.pdf"]
    assert emu.counters.executions_created == executions + 1  # only b.pdf ran again


def test_index_reingest_from_a_fresh_loader_adds_nothing(
    client: VLMRunClient, tmp_path: Path
) -> None:
    # across processes, results live in a persistent cache (the default one is per loader)
    folder = make_folder(tmp_path)
    records, store = new_index()
    cache = ResultCache(FileByteStore(tmp_path / "cache"))

    def fresh_loader() -> VLMRunLoader:
        return VLMRunLoader(str(folder), prompt=PROMPT, client=client, cache=cache)

    first = index_folder(fresh_loader(), records, store)
    again = index_folder(fresh_loader(), records, store)
    assert again == {
        "num_added": 0,
        "num_updated": 0,
        "num_skipped": first["num_added"],
        "num_deleted": 0,
    }


# ------------------------------------------------- 5. splitter → vector store upserts


def test_split_chunks_upserted_twice_do_not_double(client: VLMRunClient, tmp_path: Path) -> None:
    loader = VLMRunLoader(str(make_folder(tmp_path)), prompt=PROMPT, client=client)
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=8))
    chunks = loader.load_and_split(SPLITTER)
    store.add_documents(chunks)
    store.add_documents(loader.load_and_split(SPLITTER))
    assert len(store.store) == len(chunks)


def test_identical_files_at_two_paths_stay_distinct(client: VLMRunClient, tmp_path: Path) -> None:
    first = write_pdf(tmp_path / "2024" / "report.pdf", "same bytes")
    second = write_pdf(tmp_path / "2025" / "report.pdf", "same bytes")
    docs = VLMRunLoader(
        [str(first), str(second)], prompt=PROMPT, client=client, max_concurrency=1
    ).load()
    assert len(docs) == 4
    assert len({d.id for d in docs}) == 4
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=8))
    store.add_documents(docs)
    sources = Counter(entry["metadata"]["source"] for entry in store.store.values())
    assert sources == {str(first): 2, str(second): 2}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_identical_files_in_one_concurrent_load_are_paid_once(
    emu: Emulator, client: VLMRunClient, tmp_path: Path, use_async: bool
) -> None:
    paths = [str(write_pdf(tmp_path / f"copy-{i}" / "report.pdf", "same bytes")) for i in range(4)]
    if use_async:
        async_client = AsyncVLMRunClient("k", base_url=emu.base_url)
        loader = VLMRunLoader(paths, prompt=PROMPT, async_client=async_client, max_concurrency=4)
        docs = asyncio.run(loader.aload())
    else:
        docs = VLMRunLoader(paths, prompt=PROMPT, client=client, max_concurrency=4).load()
    assert [d.metadata["source"] for d in docs] == [p for p in paths for _ in range(2)]
    assert len({d.id for d in docs}) == 8  # four sources, four sets of ids
    assert emu.counters.executions_created == 1  # the content was paid for once
    assert emu.counters.uploads == 1


# ------------------------------------------------- 6. batch with return_exceptions


def batch_inputs(tmp_path: Path) -> list[str]:
    return [
        str(write_pdf(tmp_path / "a.pdf", "invoice a")),
        str(tmp_path / "missing.pdf"),
        str(write_png(tmp_path / "b.png", "invoice b")),
    ]


def check_batch(emu: Emulator, results: list[Any]) -> None:
    first, bad, last = results
    assert first == expected_invoice("a.pdf") and last == expected_invoice("b.png")
    assert first != last  # each result belongs to its own input
    assert type(bad) is FileSourceError and "missing.pdf" in bad.message
    assert emu.counters.executions_created == 2


def test_extractor_batch_return_exceptions(
    json_emu: Emulator, json_client: VLMRunClient, tmp_path: Path
) -> None:
    extractor = VLMRunExtractor(response_model=Invoice, client=json_client)
    results = extractor.batch(
        batch_inputs(tmp_path), config={"max_concurrency": 2}, return_exceptions=True
    )
    check_batch(json_emu, results)


async def test_extractor_abatch_return_exceptions(json_emu: Emulator, tmp_path: Path) -> None:
    async with AsyncVLMRunClient(KEY, base_url=json_emu.base_url, poll=IMMEDIATE) as c:
        extractor = VLMRunExtractor(response_model=Invoice, async_client=c)
        results = await extractor.abatch(batch_inputs(tmp_path), return_exceptions=True)
    check_batch(json_emu, results)


# -------------------------------------------------------------- 7. extractor.as_tool


def test_extractor_as_tool_can_be_invoked(
    json_emu: Emulator, json_client: VLMRunClient, tmp_path: Path
) -> None:
    write_pdf(tmp_path / "a.pdf", "invoice")
    write_pdf(tmp_path.parent / f"{tmp_path.name}-secret.pdf", "private")
    extractor = VLMRunExtractor(response_model=Invoice, client=json_client)
    tool = extractor.as_tool(
        name="extract_invoice", description="Read an invoice file.", root_dir=tmp_path
    )
    # the model reads the fields as JSON (capped); the object is the message's artifact
    expected = expected_invoice("a.pdf").model_dump(mode="json")
    assert json.loads(tool.invoke({"file": "a.pdf"})) == expected
    # what a model gets back for a path outside the folder: an error message, no request
    before = sent(json_emu)
    call = {"type": "tool_call", "id": "c", "name": "extract_invoice", "args": {}}
    refused = tool.invoke({**call, "args": {"file": f"../{tmp_path.name}-secret.pdf"}})
    assert isinstance(refused, ToolMessage) and refused.status == "error"
    assert sent(json_emu) == before and json_emu.counters.executions_created == 1


# ------------------------------------------------------- 8. astream_events over a chain


async def test_astream_events_over_a_chain_with_the_extractor(
    json_emu: Emulator, tmp_path: Path
) -> None:
    path = write_pdf(tmp_path / "a.pdf", "invoice")
    async with AsyncVLMRunClient(KEY, base_url=json_emu.base_url, poll=IMMEDIATE) as c:
        extractor = VLMRunExtractor(response_model=Invoice, async_client=c)
        chain = RunnableLambda(str) | extractor | RunnableLambda(lambda inv: inv.total * 2)
        events = [event async for event in chain.astream_events(path, version="v2")]

    mine = [e for e in events if e["name"] == "VLMRunExtractor"]
    kinds = [e["event"].rsplit("_", 1)[-1] for e in mine]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert mine[0]["data"]["input"] == str(path)
    assert mine[-1]["data"]["output"] == expected_invoice("a.pdf")
    final = events[-1]
    assert final["event"] == "on_chain_end"
    assert final["data"]["output"] == expected_invoice("a.pdf").total * 2
    assert json_emu.counters.executions_created == 1


# ------------------------------------------------------- 9. the file_path keyword


def test_loader_accepts_file_path(client: VLMRunClient, tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "a.pdf", "report")
    docs = VLMRunLoader(file_path=str(path), prompt=PROMPT, client=client).load()  # type: ignore[call-arg]
    assert [d.metadata["source"] for d in docs] == [str(path)] * 2


# ----------------------------------------------------- 10. misspelled keyword arguments


def build_tool(**typo: Any) -> object:
    return VLMRunAgentTool(agent_name=FIXTURE_AGENT, api_key=KEY, **typo)


def build_extractor(**typo: Any) -> object:
    return VLMRunExtractor(response_model=Invoice, api_key=KEY, **typo)


def build_loader(**typo: Any) -> object:
    return VLMRunLoader("docs/", agent_name=FIXTURE_AGENT, api_key=KEY, **typo)


def build_parser(**typo: Any) -> object:
    return VLMRunParser(agent_name=FIXTURE_AGENT, api_key=KEY, **typo)


def typo_case(build: Callable[..., object], typo: str, meant: str, reason: str = "") -> Any:
    fails_today = pytest.mark.xfail(
        strict=True, raises=AssertionError, reason=f"issue 11 finding 10: {reason}"
    )
    component = build.__name__.removeprefix("build_")
    marks = [fails_today] if reason else []
    return pytest.param(build, typo, meant, marks=marks, id=f"{component}-{typo}")


@pytest.mark.parametrize(
    "build, typo, meant",
    [
        typo_case(build_tool, "promt", "prompt"),
        typo_case(build_tool, "max_retrys", "max_retries"),
        typo_case(build_extractor, "promt", "prompt"),
        typo_case(build_extractor, "max_retrys", "max_retries"),
        typo_case(build_loader, "promt", "prompt"),
        typo_case(build_loader, "max_retrys", "max_retries"),
        typo_case(build_parser, "promt", "prompt"),
        typo_case(build_parser, "max_retrys", "max_retries"),
    ],
)
def test_misspelled_keyword_is_refused_with_a_hint(
    build: Callable[..., object], typo: str, meant: str
) -> None:
    # TypeError (Python's own for an unknown keyword) or ValueError (pydantic)
    exc = error_of(lambda: build(**{typo: "Read it"}))
    assert isinstance(exc, (TypeError, ValueError)), repr(exc)
    assert typo in str(exc) and meant in str(exc), str(exc)


# ------------------------------------------ 11. directory expansion and symlinks


def test_directory_expansion_does_not_follow_a_file_symlink_out(
    emu: Emulator, client: VLMRunClient, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path)
    write_pdf(tmp_path / "outside" / "secret.pdf", "private")
    (folder / "link.pdf").symlink_to(Path("..") / "outside" / "secret.pdf")
    docs = VLMRunLoader(str(folder), prompt=PROMPT, client=client, on_error="skip").load()
    assert {Path(d.metadata["source"]).name for d in docs} == {"a.pdf", "b.pdf", "c.png"}
    counters = emu.counters.snapshot()
    assert counters["uploads"] == 3 and counters["executions_created"] == 3
    assert counters["requests_by_route"]["POST /files"] == 3


def test_directory_expansion_does_not_follow_a_directory_symlink_out(
    emu: Emulator, client: VLMRunClient, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path)
    write_pdf(tmp_path / "outside" / "secret.pdf", "private")
    (folder / "linked").symlink_to(Path("..") / "outside", target_is_directory=True)
    docs = VLMRunLoader(str(folder), prompt=PROMPT, client=client, on_error="skip").load()
    assert {Path(d.metadata["source"]).name for d in docs} == {"a.pdf", "b.pdf", "c.png"}
    assert emu.counters.uploads == 3


# ----------------------------- 12. unsupported types refused before any request, everywhere


@dataclass
class Entry:
    """One user-facing entry point, given a path (or bytes) to read."""

    emu: Emulator
    client: VLMRunClient
    folder: Path

    def client_run(self, source: Any) -> object:
        return self.client.run(source, prompt=PROMPT)

    def async_client_run(self, source: Any) -> object:
        async def go() -> object:
            async with AsyncVLMRunClient(KEY, base_url=self.emu.base_url, poll=IMMEDIATE) as c:
                return await c.run(source, prompt=PROMPT)

        return asyncio.run(go())

    def extractor_invoke(self, source: Any) -> object:
        return VLMRunExtractor(response_model=Invoice, client=self.client).invoke(source)

    def parser_parse(self, source: Any) -> object:
        return VLMRunParser(prompt=PROMPT, client=self.client).parse(Blob(path=source))

    def loader_load(self, source: Any) -> object:
        return VLMRunLoader(source, prompt=PROMPT, client=self.client).load()

    def tool_read(self, source: Any) -> object:
        tool = VLMRunAgentTool(prompt=PROMPT, root_dir=self.folder, client=self.client)
        message = tool.invoke(tool_call(source))
        if message.status == "error":
            raise FileSourceError(str(message.content))
        return message


def sources(folder: Path) -> dict[str, Any]:
    text = b"Meeting notes: nothing to see here.\n"
    (folder / "notes.txt").write_bytes(text)
    (folder / "x.bin").write_bytes(b"\x00\x01\x02 opaque bytes")
    (folder / "fake.pdf").write_bytes(text)  # named .pdf, but plain text inside
    return {
        "notes.txt": str(folder / "notes.txt"),
        "x.bin": str(folder / "x.bin"),
        "fake.pdf": str(folder / "fake.pdf"),
        "bytes": b"hello",
    }


def unsupported(entry: str, source: str) -> Any:
    return pytest.param(entry, source, id=f"{entry}-{source}")


@pytest.mark.parametrize(
    "entry, source",
    [
        unsupported("client_run", "notes.txt"),
        unsupported("async_client_run", "notes.txt"),
        unsupported("extractor_invoke", "bytes"),
        unsupported("parser_parse", "x.bin"),
        unsupported("loader_load", "notes.txt"),
        unsupported("tool_read", "notes.txt"),
        unsupported("client_run", "fake.pdf"),
        unsupported("extractor_invoke", "fake.pdf"),
        unsupported("parser_parse", "fake.pdf"),
        unsupported("loader_load", "fake.pdf"),
        unsupported("tool_read", "fake.pdf"),
    ],
)
def test_unsupported_type_is_refused_before_any_request(
    emu: Emulator, client: VLMRunClient, tmp_path: Path, entry: str, source: str
) -> None:
    given = sources(tmp_path)[source]
    exc = error_of(lambda: getattr(Entry(emu, client, tmp_path), entry)(given))
    if isinstance(exc, LoaderError):
        exc = exc.cause  # type: ignore[assignment]
    assert isinstance(exc, FileSourceError), repr(exc)
    assert sent(emu) == 0


# ------------------------------------------------- 13. config= against prompt=/json_schema=

SCHEMA = Invoice.model_json_schema()
OTHER_SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}}


CONFLICTS = {
    "loader-prompt": lambda c, path: VLMRunLoader(
        path, prompt=PROMPT, config={"prompt": "Only the title."}, client=c
    ).load(),
    "loader-json_schema": lambda c, path: VLMRunLoader(
        path, prompt=PROMPT, json_schema=SCHEMA, config={"json_schema": OTHER_SCHEMA}, client=c
    ).load(),
    "parser-prompt": lambda c, path: VLMRunParser(
        prompt=PROMPT, config={"prompt": "Only the title."}, client=c
    ).parse(Blob.from_path(path)),
    "client-prompt": lambda c, path: c.run(
        path, prompt=PROMPT, config={"prompt": "Only the title."}
    ),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_conflicting_config_and_argument_raise(
    emu: Emulator, client: VLMRunClient, tmp_path: Path, case: str
) -> None:
    path = str(write_pdf(tmp_path / "a.pdf", "report"))
    exc = error_of(lambda: CONFLICTS[case](client, path))
    assert type(exc) is ValueError, repr(exc)
    key = case.split("-", 1)[1]
    assert "config" in str(exc) and f"{key}=" in str(exc), str(exc)
    assert sent(emu) == 0


def test_identical_config_and_argument_are_accepted(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    bodies: list[dict[str, Any]] = []

    def answer(body: dict[str, Any], filename: str | None) -> dict[str, Any]:
        bodies.append(body)
        return {"pages": [{"content": f"# {filename}"}]}

    emu = emulator_factory(queue_time=0.0, processing_time=0.0, response_factory=answer)
    path = str(write_pdf(tmp_path / "a.pdf", "report"))
    config = {"prompt": PROMPT, "json_schema": OTHER_SCHEMA}
    with fast_client(emu) as client:
        docs = VLMRunLoader(
            path, prompt=PROMPT, json_schema=OTHER_SCHEMA, config=config, client=client
        ).load()
    assert [d.page_content for d in docs] == ["# a.pdf"]
    (body,) = bodies
    assert body["config"]["prompt"] == PROMPT and body["config"]["json_schema"] == OTHER_SCHEMA
