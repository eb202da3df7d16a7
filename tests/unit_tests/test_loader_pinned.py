"""VLMRunLoader pinned down as a user sees it: what expanding folders and globs keeps
and says, each failure's source and message, the warnings word for word, the progress
bar, the clients it closes, its cache in both modes, and ``load_and_split``."""

from __future__ import annotations

import asyncio
import logging
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from langchain_core.documents import Document
from langchain_text_splitters import CharacterTextSplitter

from langchain_vlmrun import AsyncVLMRunClient, FileSourceError, PollSchedule, VLMRunClient
from langchain_vlmrun.loaders.loader import LoaderError, VLMRunLoader
from tests.mock_api import ScriptedAPI, one_execution

PDF = b"%PDF-1.4 loader test\n"


def scripted(content: str = "hello", credits: float = 1.234) -> ScriptedAPI:
    """Every upload is ``file-1``; every execution completes with one page ``content``."""
    api = one_execution({"pages": [{"content": content}]}, credits_used=credits)
    return api.on("POST", "/files", httpx.Response(201, json={"id": "file-1"}))


def pdf(path: Path, data: bytes = PDF) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def loader(api: ScriptedAPI, sources: Any, **kwargs: Any) -> VLMRunLoader:
    return VLMRunLoader(
        sources, prompt="p", client=api.client(), async_client=api.async_client(), **kwargs
    )


async def collect(loaded: VLMRunLoader) -> list[Document]:
    return [doc async for doc in loaded.alazy_load()]


def load(loaded: VLMRunLoader, use_async: bool) -> list[Document]:
    return asyncio.run(collect(loaded)) if use_async else loaded.load()


both = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


# --- expanding folders and globs ------------------------------------------------------


def outside_link(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp/in`` with ``kept.pdf`` and ``link.pdf`` -> ``tmp/out/secret.pdf``."""
    folder = tmp_path / "in"
    pdf(folder / "kept.pdf")
    secret = pdf(tmp_path / "out" / "secret.pdf", b"%PDF-1.4 secret\n")
    (folder / "link.pdf").symlink_to(secret)
    return folder, folder / "link.pdf"


def skipped_link_warning(link: Path, folder: Path) -> str:
    return (
        f"Skipping {link}: it is a symbolic link to a file outside {folder} (expanding a "
        "folder or glob never leaves it; name the file directly to load it)."
    )


@pytest.mark.parametrize("as_glob", [False, True], ids=["folder", "glob"])
def test_a_link_leading_out_of_a_folder_or_glob_is_skipped_with_a_warning(
    tmp_path: Path, as_glob: bool, caplog: pytest.LogCaptureFixture
) -> None:
    folder, link = outside_link(tmp_path)
    api = scripted()
    source = str(folder / "*.pdf") if as_glob else str(folder)
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        docs = loader(api, source).load()
    assert [d.metadata["source"] for d in docs] == [str(folder / "kept.pdf")]
    assert caplog.messages == [skipped_link_warning(link, folder)]
    assert api.calls("POST", "/files") == 1  # the secret was never uploaded


def test_a_relative_glob_searches_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pdf(tmp_path / "b.pdf")
    pdf(tmp_path / "a.pdf", b"%PDF-1.4 a\n")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        docs = loader(scripted(), "*.pdf").load()
    assert [d.metadata["source"] for d in docs] == ["a.pdf", "b.pdf"]
    assert caplog.messages == []


@both
def test_a_glob_matching_nothing_fails_under_its_own_name(tmp_path: Path, use_async: bool) -> None:
    pattern = str(tmp_path / "*.pdf")
    api = scripted()
    loaded = loader(api, pattern, on_error="skip")
    assert load(loaded, use_async) == []
    (failure,) = loaded.failures
    assert failure.source == pattern
    assert isinstance(failure.error, FileSourceError)
    assert failure.error.message == f"no file matches {pattern!r}"
    assert failure.error.source == pattern
    assert api.requests == []


def test_a_folder_without_supported_files_says_which_files_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "readme.txt").write_text("text")
    loaded = loader(scripted(), folder, on_error="skip")
    assert loaded.load() == []
    (failure,) = loaded.failures
    assert failure.source == str(folder)
    assert isinstance(failure.error, FileSourceError) and failure.error.source == str(folder)
    assert failure.error.message == (
        f"directory {folder} holds no supported file (.jpg, .jpeg, .png, .gif, .bmp, .tiff, "
        ".tif, .webp, .pdf, .doc, .docx, .mp4, .mov, .avi, .mkv, .webm, .mp3, .wav, .m4a, "
        ".flac, .ogg)"
    )


def test_a_missing_file_is_reported_missing_not_as_a_glob(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"
    loaded = loader(scripted(), missing, on_error="skip")
    assert loaded.load() == []
    (failure,) = loaded.failures
    assert str(failure.error).startswith(f"File not found: {missing}. Check the path")


def test_a_file_named_like_a_glob_is_loaded_as_named(tmp_path: Path) -> None:
    named = pdf(tmp_path / "report [draft].pdf")
    (doc,) = loader(scripted(), named).load()
    assert doc.metadata["source"] == str(named)


# --- failures -------------------------------------------------------------------------


class SDKError(Exception):
    """An error of another library that keeps its short text in ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message} (request 42, see the SDK's logs)")
        self.message = message


@pytest.mark.parametrize(
    ("raised", "detail"),
    [
        (RuntimeError("proxy refused"), "proxy refused"),
        (RuntimeError(), "RuntimeError"),
        (SDKError("quota exceeded"), "quota exceeded"),
    ],
    ids=["message", "empty", "message-attribute"],
)
def test_a_loader_error_names_the_source_and_the_cause(
    tmp_path: Path, raised: Exception, detail: str
) -> None:
    # e.g. a custom httpx transport (a proxy, a signing layer) raising its own error
    path = pdf(tmp_path / "a.pdf")
    api = scripted().on("POST", "/files", raised)
    api.routes[("POST", "/files")].popleft()  # only the error
    with pytest.raises(LoaderError) as caught:
        loader(api, path).load()
    assert str(caught.value) == f"Could not load {path}: {detail}"
    assert caught.value.source == str(path) and caught.value.cause is raised


@both
def test_a_skipped_source_is_logged_word_for_word(
    tmp_path: Path, use_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "missing.pdf"
    loaded = loader(scripted(), [pdf(tmp_path / "a.pdf"), missing], on_error="skip")
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        assert len(load(loaded, use_async)) == 1
    (failure,) = loaded.failures
    assert caplog.messages == [f"Skipping {missing}: {failure.error}"]


def test_the_repr_names_the_settings() -> None:
    loaded = VLMRunLoader(
        ["a.pdf", "b/"], prompt="p", mode="single", max_concurrency=3, api_key="k"
    )
    assert repr(loaded) == (
        "VLMRunLoader(sources=2, agent_name=None, mode='single', max_concurrency=3, "
        "on_error='raise')"
    )


# --- progress -------------------------------------------------------------------------


class Bar:
    made: ClassVar[list[Bar]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.updates: list[int] = []
        self.postfixes: list[dict[str, Any]] = []
        self.closed = 0
        Bar.made.append(self)

    def update(self, n: int = 1) -> None:
        self.updates.append(n)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        self.postfixes.append(kwargs)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[Bar]:
    """tqdm stands in by a recorder: the bars made, in order."""
    module = types.ModuleType("tqdm.auto")
    module.tqdm = Bar  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    monkeypatch.setattr(Bar, "made", [])
    return Bar.made


@both
def test_the_progress_bar_counts_files_failures_and_credits(
    tmp_path: Path, use_async: bool, bars: list[Bar]
) -> None:
    sources = [
        pdf(tmp_path / "a.pdf"),
        tmp_path / "missing.pdf",
        pdf(tmp_path / "b.pdf", b"%PDF-1.4 b\n"),
    ]
    loaded = loader(scripted(credits=1.234), sources, on_error="skip", show_progress=True)
    assert len(load(loaded, use_async)) == 2
    (bar,) = bars
    assert bar.kwargs == {"total": 3, "desc": "VLM Run", "unit": "file"}
    assert bar.updates == [1, 1, 1]
    assert bar.postfixes == [
        {"failed": 0, "credits": 1.23},
        {"failed": 1, "credits": 1.23},
        {"failed": 1, "credits": 2.47},
    ]
    assert bar.closed == 1


def test_show_progress_without_tqdm_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    loaded = loader(scripted(), pdf(tmp_path / "a.pdf"), show_progress=True)
    with pytest.raises(ImportError) as caught:
        loaded.load()
    assert str(caught.value) == (
        "show_progress=True needs tqdm: pip install 'langchain-vlmrun[progress]' "
        "(or pip install tqdm), or pass show_progress=False."
    )


# --- clients and cache ----------------------------------------------------------------


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The clients closed during the test (sync ``close`` and async ``aclose``)."""
    seen: list[object] = []
    close, aclose = VLMRunClient.close, AsyncVLMRunClient.aclose

    def spy(self: VLMRunClient) -> None:
        seen.append(self)
        close(self)

    async def aspy(self: AsyncVLMRunClient) -> None:
        seen.append(self)
        await aclose(self)

    monkeypatch.setattr(VLMRunClient, "close", spy)
    monkeypatch.setattr(AsyncVLMRunClient, "aclose", aspy)
    return seen


@both
def test_the_loader_closes_the_clients_it_made_and_no_other(
    tmp_path: Path, use_async: bool, closed: list[object]
) -> None:
    path = pdf(tmp_path / "a.pdf")
    api = scripted()
    given = loader(api, path)
    assert len(load(given, use_async)) == 1
    assert closed == []  # a client passed in is the caller's to close
    transport = httpx.MockTransport(api.handler)
    http: httpx.Client | httpx.AsyncClient = (
        httpx.AsyncClient(transport=transport) if use_async else httpx.Client(transport=transport)
    )
    own = VLMRunLoader(
        path,
        prompt="p",
        cache=False,
        api_key="sk-test",
        client_kwargs={"http_client": http, "poll": PollSchedule.immediate()},
    )
    assert len(load(own, use_async)) == 1
    (made,) = closed
    assert isinstance(made, AsyncVLMRunClient if use_async else VLMRunClient)
    assert made is not own.client and made is not own.async_client


@both
def test_a_second_load_is_paid_once_by_default(tmp_path: Path, use_async: bool) -> None:
    path = pdf(tmp_path / "a.pdf")
    api = scripted()
    loaded = loader(api, path)
    first, again = load(loaded, use_async), load(loaded, use_async)
    assert first == again and api.calls("POST", "/agent/execute") == 1
    (usage,) = loaded.usage  # of the last load only
    assert usage.from_cache and usage.requests == 0


# --- load_and_split -------------------------------------------------------------------


def test_load_and_split_uses_the_recursive_splitter_by_default(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(1000))  # ~7.9 kB
    chunks = loader(scripted(words), pdf(tmp_path / "a.pdf")).load_and_split()
    # its defaults: chunks of at most 4000 characters overlapping by at most 200
    assert all(3800 < len(c.page_content) <= 4000 for c in chunks[:-1])
    assert [c.metadata["chunk"] for c in chunks] == [0, 1, 2]
    assert chunks[0].page_content.startswith("word0 word1 ")
    assert chunks[2].page_content.endswith(" word999")


def test_load_and_split_uses_the_splitter_given(tmp_path: Path) -> None:
    loaded = loader(scripted("one\n\ntwo\n\nthree"), pdf(tmp_path / "a.pdf"))
    (page,) = loaded.load()
    splitter = CharacterTextSplitter(separator="\n\n", chunk_size=5, chunk_overlap=0)
    chunks = loaded.load_and_split(splitter)
    assert [c.page_content for c in chunks] == ["one", "two", "three"]
    assert {c.metadata["parent_id"] for c in chunks} == {page.id}
    assert all(c.metadata["source"] == str(tmp_path / "a.pdf") for c in chunks)


def test_load_and_split_without_text_splitters_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_text_splitters", None)
    with pytest.raises(ImportError) as caught:
        loader(scripted(), pdf(tmp_path / "a.pdf")).load_and_split()
    assert str(caught.value) == (
        "load_and_split needs langchain-text-splitters: pip install "
        "langchain-text-splitters, or pass text_splitter=..."
    )
