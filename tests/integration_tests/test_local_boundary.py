"""The local boundary under attack: a neighbour swapping a folder for a link to an
outside folder, in a loop, while the tool and the loader read files "inside" it.

The swap is the atomic ``renameat2(RENAME_EXCHANGE)`` where libc has it (Linux), else
two renames. Nothing outside may ever be read: the proof-of-concept leaked the outside
file in about 8 % of attempts before files were opened beneath their folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import ToolMessage

from langchain_vlmrun import FileSourceError, VLMRunAgentTool, VLMRunLoader
from langchain_vlmrun.files._confinement import normalise_roots, open_confined
from tests.mock_api import ScriptedAPI, execution, json_body

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and renames")

INSIDE = b"%PDF-1.4 inside the folder"
OUTSIDE = b"%PDF-1.4 OUTSIDE SECRET"
#: Seconds each swap loop runs (the issue's proof of concept leaked within 3 s).
SWAP_SECONDS = float(os.environ.get("VLMRUN_SWAP_SECONDS", "4"))


def _exchange() -> Callable[[Path, Path], None]:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # pragma: no cover - not Linux

        def two_renames(a: Path, b: Path) -> None:
            spare = a.with_name(a.name + ".swap")
            os.rename(a, spare)
            os.rename(b, a)
            os.rename(spare, b)

        return two_renames
    at_fdcwd, rename_exchange = -100, 2

    def atomic(a: Path, b: Path) -> None:
        renameat2(at_fdcwd, bytes(a), at_fdcwd, bytes(b), rename_exchange)

    return atomic


@contextmanager
def swapping(real: Path, link: Path) -> Iterator[list[int]]:
    """Exchange ``real`` (a folder) and ``link`` (a link to an outside folder) as fast
    as possible until the block ends; yields a one-item list counting the swaps."""
    exchange, stop, count = _exchange(), threading.Event(), [0]

    def loop() -> None:
        while not stop.is_set():
            exchange(real, link)
            count[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield count
    finally:
        stop.set()
        thread.join(timeout=5)


def uploading_service() -> ScriptedAPI:
    """VLM Run taking uploads and executes; every execution (id ``req``: clients use
    ``request_id_factory=lambda: "req"``) is completed when first polled."""
    api = ScriptedAPI()
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "f.pdf"}))
    api.on(
        "POST",
        "/agent/execute",
        lambda request: httpx.Response(201, json={"id": json_body(request)["id"], "status": "x"}),
    )
    api.on("GET", "/agent/executions/req", execution("req", "completed", response={"t": 1}))
    return api


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """``root/sub/secret.pdf`` (inside) and ``root/link`` -> ``outside`` (which holds a
    ``secret.pdf`` of its own)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "secret.pdf").write_bytes(INSIDE)
    (outside / "secret.pdf").write_bytes(OUTSIDE)
    (root / "link").symlink_to(outside, target_is_directory=True)
    return root, root / "sub", root / "link"


def test_the_confinement_never_reads_outside_while_a_folder_is_swapped(
    layout: tuple[Path, Path, Path],
) -> None:
    root, sub, link = layout
    roots = normalise_roots(root)
    read, refused = [], 0
    deadline = time.monotonic() + SWAP_SECONDS
    with swapping(sub, link) as swaps:
        while time.monotonic() < deadline:
            try:
                prepared = open_confined("sub/secret.pdf", roots)
            except FileSourceError:
                refused += 1
                continue
            assert not isinstance(prepared, str)
            try:
                read.append(prepared.open().read())
            finally:
                prepared.close()
    assert swaps[0] > 100 and read  # the race did run, and reads did get through
    assert OUTSIDE not in read, f"read the outside file {read.count(OUTSIDE)} times"
    assert set(read) == {INSIDE}


def test_the_tool_never_uploads_an_outside_file_while_a_folder_is_swapped(
    layout: tuple[Path, Path, Path],
) -> None:
    root, sub, link = layout
    api = uploading_service()
    tool = VLMRunAgentTool(
        prompt="p", root_dir=root, client=api.client(request_id_factory=lambda: "req")
    )
    calls = 0
    deadline = time.monotonic() + SWAP_SECONDS
    with swapping(sub, link):
        while time.monotonic() < deadline:
            message = tool.invoke(
                {
                    "type": "tool_call",
                    "id": "c",
                    "name": tool.name,
                    "args": {"file": "sub/secret.pdf"},
                }
            )
            assert isinstance(message, ToolMessage)
            calls += 1
    uploads = [r.content for r in api.requests if r.url.path.endswith("/files")]
    assert calls > 10 and uploads
    assert not any(OUTSIDE in body for body in uploads)


def test_folder_expansion_never_loads_an_outside_file_while_a_folder_is_swapped(
    layout: tuple[Path, Path, Path],
) -> None:
    root, sub, link = layout
    (root / "top.pdf").write_bytes(INSIDE)
    api = uploading_service()
    client = api.client(request_id_factory=lambda: "req")
    loads = 0
    deadline = time.monotonic() + SWAP_SECONDS
    with swapping(sub, link):
        while time.monotonic() < deadline:
            VLMRunLoader(str(root), prompt="p", client=client, cache=False, on_error="skip").load()
            loads += 1
    uploads = [r.content for r in api.requests if r.url.path.endswith("/files")]
    assert loads > 5 and uploads
    assert not any(OUTSIDE in body for body in uploads)


def test_folder_expansion_skips_a_hard_link_to_an_outside_file(tmp_path: Path) -> None:
    folder, outside = tmp_path / "folder", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(OUTSIDE)
    os.link(outside / "secret.pdf", folder / "secret.pdf")
    (folder / "ok.pdf").write_bytes(INSIDE)
    api = uploading_service()
    loader = VLMRunLoader(
        str(folder),
        prompt="p",
        client=api.client(request_id_factory=lambda: "req"),
        cache=False,
        on_error="skip",
    )
    docs = loader.load()
    assert [Path(d.metadata["source"]).name for d in docs] == ["ok.pdf"]
    assert [Path(f.source).name for f in loader.failures] == ["secret.pdf"]
    assert "other hard links" in str(loader.failures[0].error)
    uploads = [r.content for r in api.requests if r.url.path.endswith("/files")]
    assert not any(OUTSIDE in body for body in uploads)
    # named directly, the same file is the user's choice and loads
    direct = VLMRunLoader(
        str(folder / "secret.pdf"),
        prompt="p",
        client=api.client(request_id_factory=lambda: "req"),
        cache=False,
    )
    assert len(direct.load()) == 1


# --- the artifacts folder ----------------------------------------------------------------


def artifact_api() -> ScriptedAPI:
    png = httpx.Response(200, headers={"content-type": "image/png"}, content=b"\x89PNG art")
    return ScriptedAPI().on("GET", "/artifacts", png)


def test_an_execution_folder_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    artifacts, outside = tmp_path / "artifacts", tmp_path / "outside"
    artifacts.mkdir()
    outside.mkdir()
    (artifacts / "ex-1").symlink_to(outside, target_is_directory=True)
    api = artifact_api()
    with pytest.raises(ValueError, match="not a folder of its own"):
        api.client().download_artifact("ex-1", "img_1a2b3c", artifacts)
    assert list(outside.iterdir()) == []


def test_downloads_never_land_outside_while_the_execution_folder_is_swapped(
    tmp_path: Path,
) -> None:
    artifacts, outside = tmp_path / "artifacts", tmp_path / "outside"
    (artifacts / "ex-1").mkdir(parents=True)
    outside.mkdir()
    (artifacts / "link").symlink_to(outside, target_is_directory=True)
    client = artifact_api().client()
    saved = refused = 0
    deadline = time.monotonic() + SWAP_SECONDS
    with swapping(artifacts / "ex-1", artifacts / "link"):
        while time.monotonic() < deadline:
            for artifact in list((artifacts / "ex-1").glob("img_*")):
                with contextlib.suppress(OSError):
                    artifact.unlink()  # so that each round downloads again
            try:
                client.download_artifact("ex-1", "img_1a2b3c", artifacts)
                saved += 1
            except (ValueError, OSError):
                refused += 1
    assert saved + refused > 10 and saved
    assert list(outside.iterdir()) == [], "an artifact was written outside"


def test_a_link_planted_under_an_artifacts_name_is_not_read(tmp_path: Path) -> None:
    from langchain_vlmrun.client.artifacts import ArtifactBlob

    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"OUTSIDE SECRET")
    client = artifact_api().client()
    blob = ArtifactBlob.create("ex-1", "img_1a2b3c", directory=tmp_path / "art", client=client)
    assert blob.as_bytes() == b"\x89PNG art"
    assert blob.mimetype == "image/png"
    saved = Path(str(blob.path))
    saved.unlink()
    saved.symlink_to(secret)  # a neighbour plants a link under the artifact's name
    assert not blob.fetched
    assert blob.as_bytes() == b"\x89PNG art"  # fetched again, over the link
    assert not saved.is_symlink()
    orphan = ArtifactBlob.create("ex-1", "img_1a2b3c", directory=tmp_path / "art")
    saved.unlink()
    saved.symlink_to(secret)
    with pytest.raises(RuntimeError, match="not downloaded"):
        orphan.as_bytes()  # no client: refused, the link is never followed


# --- a cache whose records were replaced -------------------------------------------------


def test_a_cache_of_planted_records_still_loads_every_file_as_misses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_vlmrun import FileByteStore, ResultCache

    folder, records = tmp_path / "docs", tmp_path / "cache"
    folder.mkdir()
    for i in range(6):
        (folder / f"doc{i}.pdf").write_bytes(INSIDE + bytes([i]))
    api = uploading_service()

    def load() -> int:
        loader = VLMRunLoader(
            str(folder),
            prompt="p",
            client=api.client(request_id_factory=lambda: "req"),
            cache=ResultCache(FileByteStore(records)),
        )
        return len(loader.load())

    assert load() == 6
    planted = sorted(records.glob("*.bin"))
    assert len(planted) == 6
    for i, record in enumerate(planted):  # a neighbour replaces every record
        record.unlink()
        if i % 2:
            os.mkfifo(record)
        else:
            record.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    executed = api.calls("POST", "/agent/execute")
    assert load() == 6  # every file loads again, as a miss (a FIFO read would hang)
    assert api.calls("POST", "/agent/execute") == executed + 6
    assert "cache: ignoring" in caplog.text
