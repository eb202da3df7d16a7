"""``VLMRunLoader`` word for word, from its mutation run: what each argument sends, its
defaults, the errors for bad sources (with their advice), and what a stopped load
records."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel

from langchain_vlmrun import (
    AsyncVLMRunClient,
    ExecuteOptions,
    FileSourceError,
    PollSchedule,
    VLMRunClient,
    VLMRunLoader,
)
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.files._sources import SUPPORTED_EXTENSIONS
from langchain_vlmrun.loaders.loader import LoaderError
from tests.mock_api import BASE, ScriptedAPI, json_body, one_execution

URL = "https://files.example.com/report.pdf"


class Total(BaseModel):
    total: float


def api() -> ScriptedAPI:
    return one_execution({"total": 12.5}, credits_used=1)


def loader(service: ScriptedAPI, sources: Any = URL, **options: Any) -> VLMRunLoader:
    return VLMRunLoader(
        sources,
        client=service.client(poll=PollSchedule.immediate()),
        async_client=service.async_client(poll=PollSchedule.immediate()),
        **options,
    )


@pytest.mark.parametrize("how", ["load", "aload"])
def test_every_argument_of_the_agent_reaches_the_execute_request(how: str) -> None:
    service = api()
    options = ExecuteOptions(model="vlmrun-orion-1:fast")
    load = loader(
        service,
        prompt="Total it.",
        response_model=Total,
        inputs={"lang": "en"},
        config={"detail": "hi"},
        options=options,
        cache=False,
    )
    docs = load.load() if how == "load" else asyncio.run(load.aload())
    assert [d.page_content for d in docs] == ["total: 12.5"]
    body = json_body(service.first("POST", "/agent/execute"))
    assert body["config"]["prompt"] == "Total it."
    assert body["config"]["json_schema"]["properties"]["total"]["type"] == "number"
    assert body["config"]["detail"] == "hi" and body["inputs"]["lang"] == "en"
    assert body["model"] == "vlmrun-orion-1:fast"
    assert load.failures == [] and [u.credits_used for u in load.usage] == [1]


def test_a_json_schema_and_segments_reach_the_request() -> None:
    service = api()
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    loader(service, json_schema=schema, segment_seconds=30.0, cache=False).load()
    body = json_body(service.first("POST", "/agent/execute"))
    assert body["config"]["json_schema"] == schema


def test_the_defaults_of_a_loader() -> None:
    load = loader(api())
    assert (load.max_concurrency, load.show_progress, load.on_error) == (8, False, "raise")
    assert load.failures == [] and load.usage == []
    assert repr(load) == (
        "VLMRunLoader(sources=1, agent_name=None, mode='page', max_concurrency=8, on_error='raise')"
    )


def test_a_cache_given_as_false_is_none_and_a_wait_timeout_reaches_the_spec() -> None:
    load = loader(api(), cache=False, wait_timeout=12)
    assert load.cache is None and load.spec.wait_timeout == 12


def test_sources_and_file_path_together_are_refused() -> None:
    with pytest.raises(TypeError) as refused:
        VLMRunLoader([URL], file_path=URL, api_key="k")
    assert str(refused.value) == "Pass the files as sources or as file_path, not both."
    assert VLMRunLoader(file_path=URL, api_key="k").sources == [URL]


@pytest.mark.parametrize("wrong", [0, 2.5, "8"])
def test_max_concurrency_is_a_whole_number_of_at_least_one(wrong: Any) -> None:
    with pytest.raises((TypeError, ValueError)) as refused:
        VLMRunLoader(URL, api_key="k", max_concurrency=wrong)
    assert str(refused.value).startswith("max_concurrency must be an integer >= 1")


def test_a_source_of_the_wrong_kind_is_refused_with_the_advice() -> None:
    with pytest.raises(TypeError) as refused:
        VLMRunLoader(b"%PDF-1.4", api_key="k")  # type: ignore[arg-type]
    assert str(refused.value).endswith(
        "Pass a path, directory, glob or http(s) URL (str or pathlib.Path), or a list of "
        "them; for bytes in memory use VLMRunParser with Blob.from_data(...)."
    )


def test_a_stopped_load_records_no_failure_for_sources_it_did_not_start(
    tmp_path: Path,
) -> None:
    service = api()
    service.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "a.pdf"}))
    paths = []
    for i in range(4):
        path = tmp_path / f"d{i}.pdf"
        path.write_bytes(b"%PDF-1.4\n% " + bytes(str(i), "ascii") + b"\n")
        paths.append(str(path))
    load = loader(service, paths, max_concurrency=1, mode="single", cache=False)
    documents = load.lazy_load()
    first = next(documents)
    documents.close()  # type: ignore[attr-defined]
    assert first.metadata["source"] == paths[0]
    assert all(failure.source in paths for failure in load.failures)


# --- the error a user reads ---------------------------------------------------------


class _Coded(Exception):
    message = "the service's message"


@pytest.mark.parametrize(
    ("cause", "detail"),
    [
        (_Coded("str of it"), "the service's message"),
        (ValueError("boom"), "boom"),
        (ValueError(), "ValueError"),
    ],
)
def test_a_loader_error_names_the_source_and_the_best_description_of_its_cause(
    cause: BaseException, detail: str
) -> None:
    error = LoaderError("scans/a.pdf", cause)
    assert str(error) == f"Could not load scans/a.pdf: {detail}"
    assert (error.source, error.cause) == ("scans/a.pdf", cause)


def _pdf(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4\n% " + text.encode() + b"\n")
    return path


def _file_api() -> ScriptedAPI:
    service = api()
    service.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "a.pdf"}))
    return service


def test_an_empty_folder_is_a_failure_naming_the_folder_and_the_types_read(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    load = loader(api(), folder, on_error="skip")
    assert load.load() == []
    (failure,) = load.failures
    assert failure.source == str(folder)
    assert isinstance(failure.error, FileSourceError) and failure.error.source == str(folder)
    assert str(failure.error) == (
        f"directory {folder} holds no supported file ({', '.join(SUPPORTED_EXTENSIONS)})"
    )


def test_an_existing_file_of_another_type_is_refused_as_unsupported_not_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    load = loader(api(), ["notes.txt", "scan.pdf"], on_error="skip")
    assert load.load() == []
    unsupported, missing = (str(f.error) for f in load.failures)
    assert unsupported.startswith("Unsupported file type '.txt' for notes.txt: VLM Run reads ")
    assert missing == (
        f"File not found: scan.pdf. Check the path (relative paths resolve against {tmp_path})."
    )


def test_a_glob_of_the_current_folder_loads_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _pdf(tmp_path / "a.pdf")
    service = _file_api()
    docs = loader(service, "*.pdf", cache=False).load()
    assert [d.metadata["source"] for d in docs] == ["a.pdf"]


def test_a_skipped_source_is_logged_with_its_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "scan.pdf")
    load = loader(api(), missing, on_error="skip")
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        load.load()
    (failure,) = load.failures
    assert f"Skipping {missing}: {failure.error}" in caplog.messages


# --- a folder's expansion never leaves it -------------------------------------------


@pytest.mark.parametrize("how", ["load", "aload"])
def test_a_file_of_a_folder_hard_linked_elsewhere_is_not_read_but_named_it_is(
    tmp_path: Path, how: str
) -> None:
    folder = tmp_path / "reports"
    _pdf(folder / "a.pdf")
    secret = _pdf(tmp_path / "private" / "secret.pdf", "secret")
    os.link(secret, folder / "b.pdf")
    service = _file_api()
    load = loader(service, folder, on_error="skip", cache=False)
    docs = load.load() if how == "load" else asyncio.run(load.aload())
    assert [d.metadata["source"] for d in docs] == [str(folder / "a.pdf")]
    (failure,) = load.failures
    assert failure.source == str(folder / "b.pdf")
    assert "has other hard links" in str(failure.error)
    assert service.calls("POST", "/files") == 1
    named = loader(_file_api(), folder / "b.pdf", cache=False)
    assert len(named.load()) == 1 and named.failures == []


def test_a_symlink_out_of_a_folder_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "reports"
    _pdf(folder / "a.pdf")
    secret = _pdf(tmp_path / "private" / "secret.pdf", "secret")
    (folder / "b.pdf").symlink_to(secret)
    service = _file_api()
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        docs = loader(service, folder, cache=False).load()
    assert [d.metadata["source"] for d in docs] == [str(folder / "a.pdf")]
    assert (
        f"Skipping {folder / 'b.pdf'}: it is a symbolic link to a file outside {folder} "
        "(expanding a folder or glob never leaves it; name the file directly to load it)."
    ) in caplog.messages


# --- the progress bar -----------------------------------------------------------------


class _Bar:
    """Stands for ``tqdm.auto.tqdm``: records what the loader shows on it."""

    made: ClassVar[list[_Bar]] = []
    written: ClassVar[list[str]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.updates: list[int] = []
        self.postfixes: list[dict[str, Any]] = []
        self.closed = False
        _Bar.made.append(self)

    def update(self, n: int = 1) -> None:
        self.updates.append(n)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        self.postfixes.append(kwargs)

    def close(self) -> None:
        self.closed = True

    @classmethod
    def write(cls, s: str, file: Any = None, end: str = "\n", nolock: bool = False) -> None:
        cls.written.append(s)


@pytest.fixture
def bar(monkeypatch: pytest.MonkeyPatch) -> type[_Bar]:
    module = types.ModuleType("tqdm.auto")
    module.tqdm = _Bar  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    monkeypatch.setattr(_Bar, "made", [])
    monkeypatch.setattr(_Bar, "written", [])
    return _Bar


@pytest.mark.parametrize("how", ["load", "aload"])
def test_the_progress_bar_counts_files_failures_and_credits_to_the_cent(
    bar: type[_Bar], how: str
) -> None:
    service = one_execution({"total": 12.5}, credits_used=1.234)
    sources = [URL, "https://files.example.com/other.pdf"]
    load = loader(service, sources, show_progress=True, cache=False)
    docs = load.load() if how == "load" else asyncio.run(load.aload())
    assert len(docs) == 2
    (shown,) = bar.made
    assert shown.kwargs == {"total": 2, "desc": "VLM Run", "unit": "file"}
    assert shown.updates == [1, 1]
    assert shown.postfixes == [{"failed": 0, "credits": 1.23}, {"failed": 0, "credits": 2.47}]
    assert shown.closed


def test_show_progress_without_tqdm_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError) as refused:
        loader(api(), show_progress=True).load()
    assert str(refused.value) == (
        "show_progress=True needs tqdm: pip install 'langchain-vlmrun[progress]' "
        "(or pip install tqdm), or pass show_progress=False."
    )


@pytest.mark.parametrize("how", ["load", "aload"])
@pytest.mark.parametrize("console", [True, False], ids=["console", "file"])
def test_while_a_bar_is_shown_console_log_lines_are_written_above_it(
    bar: type[_Bar], tmp_path: Path, how: str, console: bool
) -> None:
    stream: Any = sys.stderr if console else io.StringIO()
    handler = logging.StreamHandler(stream)
    ours = logging.getLogger("langchain_vlmrun")
    ours.addHandler(handler)
    try:
        load = loader(api(), str(tmp_path / "scan.pdf"), show_progress=True, on_error="skip")
        assert (load.load() if how == "load" else asyncio.run(load.aload())) == []
    finally:
        ours.removeHandler(handler)
    above = [line for line in bar.written if line.startswith("Skipping ")]
    if console:  # through tqdm.write, not across the bar
        assert len(above) == 1 and str(tmp_path / "scan.pdf") in above[0]
    else:  # a file is no console: its handler writes it as ever
        assert above == []
        assert "Skipping " in stream.getvalue()


# --- clients ------------------------------------------------------------------------


@pytest.mark.parametrize("given", [True, False], ids=["given", "its-own"])
def test_a_load_closes_the_client_it_made_and_never_the_one_it_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: bool
) -> None:
    closed: list[Any] = []
    monkeypatch.setattr(VLMRunClient, "close", lambda self: closed.append(self))
    mine = api().client() if given else None
    load = VLMRunLoader(str(tmp_path / "scan.pdf"), client=mine, api_key="k", on_error="skip")
    assert load.load() == []
    if given:
        assert closed == []
    else:
        assert len(closed) == 1 and isinstance(closed[0], VLMRunClient)


@pytest.mark.parametrize("given", [True, False], ids=["given", "its-own"])
def test_an_async_load_closes_the_client_it_made_and_never_the_one_it_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: bool
) -> None:
    closed: list[Any] = []

    async def record(self: AsyncVLMRunClient) -> None:
        closed.append(self)

    monkeypatch.setattr(AsyncVLMRunClient, "aclose", record)
    mine = api().async_client() if given else None
    load = VLMRunLoader(str(tmp_path / "scan.pdf"), async_client=mine, api_key="k", on_error="skip")
    assert asyncio.run(load.aload()) == []
    if given:
        assert closed == []
    else:
        assert len(closed) == 1 and isinstance(closed[0], AsyncVLMRunClient)


# --- splitting ------------------------------------------------------------------------


def test_load_and_split_uses_the_recursive_splitter_by_default_and_keeps_page_ids() -> None:
    (page,) = loader(api(), cache=False).load()
    (chunk,) = loader(api(), cache=False).load_and_split()
    assert chunk.page_content == page.page_content == "total: 12.5"
    assert chunk.metadata["parent_id"] == page.id and chunk.metadata["chunk"] == 0
    assert chunk.id and chunk.id != page.id


def test_load_and_split_splits_with_the_splitter_given() -> None:
    from langchain_text_splitters import CharacterTextSplitter

    splitter = CharacterTextSplitter(separator=" ", chunk_size=6, chunk_overlap=0)
    chunks = loader(api(), cache=False).load_and_split(splitter)
    assert [c.page_content for c in chunks] == ["total:", "12.5"]
    assert [c.metadata["chunk"] for c in chunks] == [0, 1]


def test_load_and_split_without_text_splitters_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_text_splitters", None)
    service = api()
    with pytest.raises(ImportError) as refused:
        loader(service, cache=False).load_and_split()
    assert str(refused.value) == (
        "load_and_split needs langchain-text-splitters: pip install "
        "langchain-text-splitters, or pass text_splitter=..."
    )


# --- async specifics -------------------------------------------------------------------


def test_an_async_load_reuses_the_cache_and_pays_nothing_the_second_time() -> None:
    service = api()
    cache = ResultCache(InMemoryByteStore())
    first = asyncio.run(loader(service, cache=cache).aload())
    again = asyncio.run(loader(service, cache=cache).aload())
    assert [d.page_content for d in again] == [d.page_content for d in first] == ["total: 12.5"]
    assert service.calls("POST", "/agent/execute") == 1


def test_an_async_load_stopped_by_a_failure_submits_nothing_more(
    tmp_path: Path,
) -> None:
    service = _file_api()
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/files":
            await release.wait()  # held until the load has stopped
        return service.handler(request)

    async def run() -> None:
        client = AsyncVLMRunClient(
            "k",
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
            poll=PollSchedule.immediate(),
        )
        load = VLMRunLoader(
            [tmp_path / "no-such-folder", _pdf(tmp_path / "b.pdf")],
            prompt="p",
            async_client=client,
            max_concurrency=2,
            cache=False,
        )
        with pytest.raises(LoaderError, match="no-such-folder"):
            await load.aload()
        release.set()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*others, return_exceptions=True)

    asyncio.run(run())
    assert service.calls("POST", "/agent/execute") == 0  # nothing paid after the failure


def test_a_file_whose_location_cannot_be_resolved_is_skipped_when_expanding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "reports"
    _pdf(folder / "a.pdf")
    _pdf(folder / "b.pdf")
    resolve = Path.resolve

    def looping(self: Path, strict: bool = False) -> Path:
        if self.name == "b.pdf":  # as for a symlink loop
            raise RuntimeError(f"Symlink loop from {str(self)!r}")
        return resolve(self, strict)

    monkeypatch.setattr(Path, "resolve", looping)
    service = _file_api()
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        docs = loader(service, folder, on_error="skip", cache=False).load()
    assert [d.metadata["source"] for d in docs] == [str(folder / "a.pdf")]
    assert service.calls("POST", "/files") == 1
    assert any(
        m.startswith(f"Skipping {folder / 'b.pdf'}: it is a symbolic link") for m in caplog.messages
    )


# --- refused inputs -----------------------------------------------------------------

ADVICE = (
    "Pass a path, directory, glob or http(s) URL (str or pathlib.Path), or a list of "
    "them; for bytes in memory use VLMRunParser with Blob.from_data(...)."
)


class _BytesPath:
    def __fspath__(self) -> bytes:
        return b"scan.pdf"


@pytest.mark.parametrize(
    ("sources", "error", "message"),
    [
        (None, TypeError, f"VLMRunLoader needs files to load. {ADVICE}"),
        (42, TypeError, f"Unsupported source 42. {ADVICE}"),
        ([URL, 42], TypeError, f"Unsupported source of type int. {ADVICE}"),
        ([b"scan.pdf"], TypeError, f"Unsupported source of type bytes. {ADVICE}"),
        ([], ValueError, "VLMRunLoader needs at least one path, directory, glob or URL."),
    ],
)
def test_sources_that_are_not_paths_globs_or_urls_are_refused_with_advice(
    sources: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        VLMRunLoader(sources, api_key="k")
    assert str(refused.value) == message


def test_a_path_giving_bytes_is_refused_with_advice() -> None:
    with pytest.raises(TypeError) as refused:
        VLMRunLoader(_BytesPath(), api_key="k")  # type: ignore[arg-type]
    assert str(refused.value).startswith("Unsupported bytes path <")
    assert str(refused.value).endswith(f". {ADVICE}")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("scan\x00.pdf", "embedded null byte"),
        ("x" * 5000 + ".pdf", "File name too long"),
        ("~no-such-user-vlmrun/scan.pdf", "Could not determine home directory."),
    ],
)
def test_a_path_the_system_cannot_use_is_a_failure_saying_why(name: str, reason: str) -> None:
    load = loader(api(), name, on_error="skip")
    assert load.load() == []
    (failure,) = load.failures
    assert failure.source == name
    assert str(failure.error).startswith(f"{name!r} is not a usable path ({reason})")


def test_a_misspelt_argument_is_refused_with_the_loader_argument_it_resembles() -> None:
    with pytest.raises(TypeError) as refused:
        VLMRunLoader(URL, api_key="k", agent_nme="x")
    assert str(refused.value) == (
        "VLMRunLoader got an unexpected keyword argument 'agent_nme' (did you mean 'agent_name'?)."
    )


def test_a_bad_mode_is_reported_before_a_missing_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    with pytest.raises(ValueError) as refused:
        VLMRunLoader(URL, mode="bogus")  # type: ignore[arg-type]
    assert str(refused.value) == "mode must be 'page' or 'single', got 'bogus'."


def test_the_input_key_and_segment_length_reach_the_execution() -> None:
    service = api()
    load = loader(service, input_key="document", segment_seconds=30.0, cache=False)
    load.load()
    body = json_body(service.first("POST", "/agent/execute"))
    assert body["inputs"] == {"document": {"type": "file_url", "file_url": {"url": URL}}}
    assert load.spec.segment_seconds == 30.0
