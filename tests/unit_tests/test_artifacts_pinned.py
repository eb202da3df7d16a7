"""Artifacts word for word: which ids a response references (to a bounded depth), the
blob for one (its path under ``directory/<execution id>/``, MIME type and metadata
before a request), fetching once with the sync or async client (or saying which to
use), what a copy keeps, and the loader Document's and ``save_artifacts``' downloads."""

from __future__ import annotations

import asyncio
import errno
import os
import pickle
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document

from langchain_vlmrun import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client import artifacts
from langchain_vlmrun.client.artifacts import (
    ArtifactBlob,
    SavedArtifact,
    artifact_blobs,
    artifact_ids,
    asave_artifacts,
    default_artifacts_dir,
    document_artifacts,
    save_artifacts,
)
from tests.mock_api import Reply, ScriptedAPI

EXECUTION = "ex-1"


def JPEG(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "image/jpeg"}, content=b"\xff\xd8jpeg")


def PNG(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "image/png"}, content=b"\x89PNG-bytes")


def artifact_api(*replies: Reply) -> ScriptedAPI:
    return ScriptedAPI().on("GET", "/artifacts", *(replies or (PNG,)))


# --- artifact_ids ------------------------------------------------------------------------


def test_ids_in_order_of_appearance_each_once() -> None:
    response = {
        "b": ["img_000002", {"id": "doc_000001"}],
        "a": ("vid_000003", "img_000002"),
        "text": "see img_000004 here",  # not exactly an id
        "img_000005": "key, not a value",
        "set": {"aud_000006"},  # only mappings, lists and tuples are walked
        "n": 3,
    }
    assert artifact_ids(response) == ["img_000002", "doc_000001", "vid_000003"]


def test_ids_of_every_kind_and_only_whole_ids() -> None:
    kinds = ["img", "aud", "vid", "doc", "recon", "arr", "url"]
    ids = [f"{kind}_a1B2c3" for kind in kinds]
    assert artifact_ids(ids) == ids
    assert artifact_ids(["img_12345", "img_1234567", "xmg_123456", " img_123456"]) == []
    assert artifact_ids("img_123456") == ["img_123456"]
    assert artifact_ids(None) == [] and artifact_ids({}) == []


def nested(value: Any, depth: int, *, mapping: bool = False) -> Any:
    for _ in range(depth):
        value = {"x": value} if mapping else [value]
    return value


@pytest.mark.parametrize("mapping", [False, True])
def test_ids_are_found_down_to_depth_32_not_below(mapping: bool) -> None:
    assert artifact_ids(nested("img_000032", 32, mapping=mapping)) == ["img_000032"]
    assert artifact_ids(nested("img_000033", 33, mapping=mapping)) == []
    both = [nested("img_000033", 32), "img_000001"]  # the too-deep one is skipped
    assert artifact_ids(both) == ["img_000001"]


def test_a_deep_container_is_skipped_but_its_siblings_are_not() -> None:
    response = [nested(["img_aaaaaa", "img_bbbbbb"], 32), "doc_cccccc"]
    assert artifact_ids(response) == ["doc_cccccc"]
    response = [nested(("img_aaaaaa",), 30), "doc_cccccc"]
    assert artifact_ids(response) == ["img_aaaaaa", "doc_cccccc"]


# --- the default folder ------------------------------------------------------------------


def test_default_folder_is_private_made_once_per_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(artifacts, "_default_dir", None)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder = default_artifacts_dir()
    assert folder.parent == tmp_path and folder.is_dir()
    assert folder.name.startswith("langchain-vlmrun-artifacts-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert default_artifacts_dir() == folder
    assert list(tmp_path.iterdir()) == [folder]


def test_a_blob_without_a_folder_goes_to_the_default_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(artifacts, "_default_dir", tmp_path / "default")
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c")
    assert blob.path == tmp_path / "default" / EXECUTION / "img_1a2b3c.png"


# --- the blob ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_id", "mimetype", "name"),
    [
        ("img_1a2b3c", "image/png", "img_1a2b3c.png"),
        ("doc_1a2b3c", "application/pdf", "doc_1a2b3c.pdf"),
        ("vid_1a2b3c", "video/mp4", "vid_1a2b3c.mp4"),
        ("url_1a2b3c", None, "url_1a2b3c.bin"),
    ],
)
def test_a_blob_before_any_request(
    tmp_path: Path, object_id: str, mimetype: str | None, name: str
) -> None:
    blob = ArtifactBlob.create(EXECUTION, object_id, directory=tmp_path)
    kind = object_id.split("_")[0]
    assert blob.path == tmp_path / EXECUTION / name
    assert blob.mimetype == mimetype and blob.data is None
    assert (blob.object_id, blob.execution_id, blob.kind) == (object_id, EXECUTION, kind)
    assert blob.metadata == {"object_id": object_id, "execution_id": EXECUTION, "kind": kind}
    assert blob.fetched is False
    assert not (tmp_path / EXECUTION).exists()  # nothing written yet


def test_an_unusable_id_is_refused_when_the_blob_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Not an artifact id: 'pic_123456'"):
        ArtifactBlob.create(EXECUTION, "pic_123456", directory=tmp_path)
    with pytest.raises(ValueError, match="Unusable execution id"):
        ArtifactBlob.create("..", "img_123456", directory=tmp_path)


def test_fetch_downloads_once_then_reads_the_file(tmp_path: Path) -> None:
    api = artifact_api(JPEG)
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=api.client())
    assert blob.fetch() is blob
    assert blob.fetched is True
    assert blob.path == tmp_path / EXECUTION / "img_1a2b3c.jpg"  # the server's type
    assert blob.mimetype == "image/jpeg"
    assert blob.fetch() is blob and blob.as_bytes() == b"\xff\xd8jpeg"
    assert api.calls("GET", "/artifacts") == 1
    request = api.first("GET", "/artifacts")
    assert dict(request.url.params) == {"object_id": "img_1a2b3c", "execution_id": EXECUTION}


def test_a_server_without_content_type_keeps_the_kinds_type(tmp_path: Path) -> None:
    api = artifact_api(httpx.Response(200, content=b"%PDF"))
    blob = ArtifactBlob.create(EXECUTION, "doc_1a2b3c", directory=tmp_path, client=api.client())
    assert blob.as_bytes() == b"%PDF"
    assert (
        blob.mimetype == "application/pdf" and blob.path == tmp_path / EXECUTION / "doc_1a2b3c.pdf"
    )


def test_settle_keeps_the_known_type_when_the_saved_one_is_unknown(tmp_path: Path) -> None:
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path)
    saved = SavedArtifact("img_1a2b3c", EXECUTION, tmp_path / "x.bin", None, 3)
    blob._settle(saved)
    assert blob.path == tmp_path / "x.bin" and blob.mimetype == "image/png"


def read_stream(blob: ArtifactBlob) -> bytes:
    with blob.as_bytes_io() as stream:
        return stream.read()


def test_each_read_fetches_first(tmp_path: Path) -> None:
    for read in (
        lambda blob: blob.as_bytes(),
        lambda blob: blob.as_string(),
        read_stream,
    ):
        api = artifact_api(
            httpx.Response(200, headers={"content-type": "image/png"}, content=b"abc")
        )
        folder = tmp_path / str(id(read))
        blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=folder, client=api.client())
        assert read(blob) in (b"abc", "abc")
        assert api.calls("GET", "/artifacts") == 1


def test_as_bytes_io_reads_the_file_after_fetching(tmp_path: Path) -> None:
    api = artifact_api(PNG)
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=api.client())
    with blob.as_bytes_io() as stream:
        assert stream.read() == b"\x89PNG-bytes"


def test_a_file_already_on_disk_is_read_without_a_request(tmp_path: Path) -> None:
    (tmp_path / EXECUTION).mkdir()
    (tmp_path / EXECUTION / "img_1a2b3c.png").write_bytes(b"on disk")
    api = artifact_api()
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=api.client())
    assert blob.fetched is True and blob.as_bytes() == b"on disk"
    assert api.requests == []
    bare = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path)  # no client needed
    assert bare.fetch() is bare and bare.as_string() == "on disk"


def test_a_folder_where_the_file_should_be_is_not_fetched(tmp_path: Path) -> None:
    (tmp_path / EXECUTION / "img_1a2b3c.png").mkdir(parents=True)
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path)
    assert blob.fetched is False


def test_a_blob_with_no_path_is_not_fetched(tmp_path: Path) -> None:
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path)
    object.__setattr__(blob, "path", None)
    assert blob.fetched is False


def test_the_client_may_be_a_function_called_only_when_read(tmp_path: Path) -> None:
    api = artifact_api()
    made: list[VLMRunClient] = []

    def client() -> VLMRunClient:
        made.append(api.client())
        return made[-1]

    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=client)
    assert made == []
    assert blob.as_bytes() == b"\x89PNG-bytes" and len(made) == 1


def test_without_a_sync_client_the_message_says_what_to_do(tmp_path: Path) -> None:
    api = artifact_api()
    blob = ArtifactBlob.create(
        EXECUTION, "img_1a2b3c", directory=tmp_path, async_client=api.async_client()
    )
    with pytest.raises(RuntimeError) as raised:
        blob.as_bytes()
    assert str(raised.value) == (
        "Artifact img_1a2b3c of execution ex-1 is not downloaded and this blob has no a sync "
        "client to fetch it with; use await blob.afetch(), or "
        "client.download_artifact('ex-1', 'img_1a2b3c', folder)."
    )
    assert api.requests == []


def test_without_an_async_client_the_message_says_what_to_do(tmp_path: Path) -> None:
    api = artifact_api()
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=api.client())
    with pytest.raises(RuntimeError) as raised:
        asyncio.run(blob.afetch())
    assert str(raised.value) == (
        "Artifact img_1a2b3c of execution ex-1 is not downloaded and this blob has no an async "
        "client to fetch it with; use blob.fetch(), or "
        "client.download_artifact('ex-1', 'img_1a2b3c', folder)."
    )
    assert api.requests == []


@pytest.mark.parametrize("as_function", [False, True])
def test_afetch_downloads_once_with_the_async_client(tmp_path: Path, as_function: bool) -> None:
    api = artifact_api(JPEG)
    client: AsyncVLMRunClient = api.async_client()
    blob = ArtifactBlob.create(
        EXECUTION,
        "img_1a2b3c",
        directory=tmp_path,
        async_client=(lambda: client) if as_function else client,
    )

    async def twice() -> None:
        assert await blob.afetch() is blob
        assert await blob.afetch() is blob

    asyncio.run(twice())
    assert blob.mimetype == "image/jpeg" and blob.path == tmp_path / EXECUTION / "img_1a2b3c.jpg"
    assert blob.as_bytes() == b"\xff\xd8jpeg"
    assert api.calls("GET", "/artifacts") == 1


def test_a_fetched_async_blob_reads_without_a_sync_client(tmp_path: Path) -> None:
    api = artifact_api()
    blob = ArtifactBlob.create(
        EXECUTION, "img_1a2b3c", directory=tmp_path, async_client=api.async_client()
    )
    asyncio.run(blob.afetch())
    assert blob.fetch() is blob and blob.as_bytes() == b"\x89PNG-bytes"


def test_a_pickled_blob_keeps_the_reference_not_the_client(tmp_path: Path) -> None:
    api = artifact_api()
    blob = ArtifactBlob.create(
        EXECUTION,
        "img_1a2b3c",
        directory=tmp_path,
        client=api.client(),
        async_client=api.async_client(),
    )
    copied = pickle.loads(pickle.dumps(blob))
    assert (copied.object_id, copied.execution_id, copied.path) == (
        "img_1a2b3c",
        EXECUTION,
        blob.path,
    )
    assert copied.metadata == blob.metadata
    with pytest.raises(RuntimeError, match="has no a sync client"):
        copied.fetch()
    with pytest.raises(RuntimeError, match="has no an async client"):
        asyncio.run(copied.afetch())
    assert blob.as_bytes() == b"\x89PNG-bytes"  # the original still fetches


# --- blobs of a response and of a Document -----------------------------------------------


def test_artifact_blobs_one_per_id_sending_nothing(tmp_path: Path) -> None:
    api = artifact_api()
    blobs = artifact_blobs(
        EXECUTION,
        {"a": "img_1a2b3c", "b": ["doc_9f8e7d", "img_1a2b3c"]},
        directory=tmp_path,
        client=api.client(),
    )
    assert [blob.object_id for blob in blobs] == ["img_1a2b3c", "doc_9f8e7d"]
    assert [blob.path for blob in blobs] == [
        tmp_path / EXECUTION / "img_1a2b3c.png",
        tmp_path / EXECUTION / "doc_9f8e7d.pdf",
    ]
    assert api.requests == []
    assert blobs[0].as_bytes() == b"\x89PNG-bytes"


def test_artifact_blobs_with_the_async_client(tmp_path: Path) -> None:
    api = artifact_api()
    (blob,) = artifact_blobs(
        EXECUTION, ["img_1a2b3c"], directory=tmp_path, async_client=api.async_client()
    )
    asyncio.run(blob.afetch())
    assert blob.fetched


def test_document_artifacts(tmp_path: Path) -> None:
    api = artifact_api()
    document = Document(
        page_content="x",
        metadata={
            "execution_id": EXECUTION,
            "artifacts": ["img_1a2b3c", "not-an-id", 7, "doc_9f8e7d"],
        },
    )
    blobs = document_artifacts(document, directory=tmp_path, client=api.client())
    assert [(b.object_id, b.execution_id) for b in blobs] == [
        ("img_1a2b3c", EXECUTION),
        ("doc_9f8e7d", EXECUTION),
    ]
    assert blobs[0].path == tmp_path / EXECUTION / "img_1a2b3c.png"
    assert blobs[0].as_bytes() == b"\x89PNG-bytes"
    (async_blob,) = document_artifacts(
        Document(page_content="x", metadata={"execution_id": "ex-2", "artifacts": ["img_1a2b3c"]}),
        directory=tmp_path,
        async_client=api.async_client(),
    )
    asyncio.run(async_blob.afetch())
    assert async_blob.path == tmp_path / "ex-2" / "img_1a2b3c.png"


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"execution_id": EXECUTION},
        {"artifacts": ["img_1a2b3c"]},
        {"execution_id": 5, "artifacts": ["img_1a2b3c"]},
        {"execution_id": EXECUTION, "artifacts": "img_1a2b3c"},
        {"execution_id": EXECUTION, "artifacts": ("img_1a2b3c",)},
        {"execution_id": EXECUTION, "artifacts": None},
    ],
)
def test_a_document_without_usable_references_has_no_artifacts(metadata: dict[str, Any]) -> None:
    assert document_artifacts(Document(page_content="x", metadata=metadata)) == []


# --- save_artifacts ----------------------------------------------------------------------


def test_save_artifacts_downloads_each_to_the_execution_folder(tmp_path: Path) -> None:
    api = artifact_api(PNG, JPEG)
    saved = save_artifacts(api.client(), EXECUTION, ["img_aaaaaa", "img_bbbbbb"], tmp_path)
    assert [(s.object_id, s.execution_id, s.path, s.mime_type) for s in saved] == [
        ("img_aaaaaa", EXECUTION, tmp_path / EXECUTION / "img_aaaaaa.png", "image/png"),
        ("img_bbbbbb", EXECUTION, tmp_path / EXECUTION / "img_bbbbbb.jpg", "image/jpeg"),
    ]
    assert [s.size for s in saved] == [len(b"\x89PNG-bytes"), len(b"\xff\xd8jpeg")]
    again = save_artifacts(api.client(), EXECUTION, ["img_aaaaaa"], tmp_path)
    assert again[0].path == saved[0].path and api.calls("GET", "/artifacts") == 2  # reused
    assert save_artifacts(api.client(), EXECUTION, [], tmp_path) == []


def test_asave_artifacts_downloads_each_in_order(tmp_path: Path) -> None:
    api = artifact_api(PNG, JPEG)
    saved = asyncio.run(
        asave_artifacts(api.async_client(), EXECUTION, ["img_aaaaaa", "img_bbbbbb"], tmp_path)
    )
    assert [s.path.name for s in saved] == ["img_aaaaaa.png", "img_bbbbbb.jpg"]
    assert [r.url.params["object_id"] for r in api.requests] == ["img_aaaaaa", "img_bbbbbb"]


# --- reading: only the downloaded file, never what a neighbour swapped in ----------------


@pytest.mark.parametrize(("execution_id", "session_id"), [("ex-1", "sess-1"), (None, None)])
def test_a_blob_belongs_to_an_execution_or_a_chat_not_both(
    tmp_path: Path, execution_id: str | None, session_id: str | None
) -> None:
    with pytest.raises(ValueError) as caught:
        ArtifactBlob.create(execution_id, "img_1a2b3c", directory=tmp_path, session_id=session_id)
    assert str(caught.value) == "Give an execution_id or a session_id= (of a chat), not both."


def swapped_after_download(
    monkeypatch: pytest.MonkeyPatch, api: ScriptedAPI, plant: Callable[[Path], None]
) -> VLMRunClient:
    """A client whose download is followed, before the blob reads it, by a neighbour
    replacing the file with what ``plant`` makes at its path."""
    client = api.client()
    download = client.download_artifact

    def download_then_swap(*args: Any, **kwargs: Any) -> SavedArtifact:
        saved = download(*args, **kwargs)
        saved.path.unlink()
        plant(saved.path)
        return saved

    monkeypatch.setattr(client, "download_artifact", download_then_swap)
    return client


def test_a_link_swapped_in_after_the_download_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not the artifact")
    client = swapped_after_download(monkeypatch, artifact_api(), lambda p: p.symlink_to(secret))
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=client)
    with pytest.raises(OSError) as caught:
        blob.as_bytes()
    assert caught.value.errno == errno.ELOOP


def test_a_folder_swapped_in_after_the_download_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = swapped_after_download(monkeypatch, artifact_api(), Path.mkdir)
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=client)
    with pytest.raises(OSError) as caught:
        blob.as_bytes()
    assert str(caught.value) == f"{blob.path} is not a regular file; delete it and fetch again."


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_swapped_in_after_the_download_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = swapped_after_download(monkeypatch, artifact_api(), os.mkfifo)
    blob = ArtifactBlob.create(EXECUTION, "img_1a2b3c", directory=tmp_path, client=client)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            blob.as_bytes()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)  # a deadlock guard: the read needs no writer, so it ends at once
    waited = reader.is_alive()
    if waited:  # release a reader stuck opening the FIFO, so the test ends
        os.close(os.open(str(blob.path), os.O_WRONLY | os.O_NONBLOCK))
        reader.join()
    assert not waited, "reading the blob waited for a writer to the FIFO"
    assert [str(e) for e in errors] == [
        f"{blob.path} is not a regular file; delete it and fetch again."
    ]
