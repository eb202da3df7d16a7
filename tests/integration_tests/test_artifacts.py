"""Artifacts an execution references (images, documents, clips): found in the response,
exposed as Blobs fetched on first read, streamed to disk, saved by the loader."""

from __future__ import annotations

import asyncio
import pickle
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob
from langchain_core.messages import ToolMessage

from langchain_vlmrun import (
    AsyncVLMRunClient,
    NotFoundError,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunLoader,
)
from langchain_vlmrun.client._registry import artifact_folder
from langchain_vlmrun.client.artifacts import (
    ArtifactBlob,
    artifact_blobs,
    artifact_ids,
    document_artifacts,
)
from tests.emulator import Emulator
from tests.emulator.registry import PNG_1X1
from tests.mock_api import ScriptedAPI
from tests.support import emulator_client_settings, make_files

EXECUTION = "ex-1"
URL = "https://example.com/scan.pdf"


def test_artifact_ids_finds_every_reference_once_in_order() -> None:
    response = {
        "pages": [{"content": "see img_1a2b3c", "figure": "img_1a2b3c"}],
        "redacted": {"id": "doc_9f8e7d"},  # an SDK DocumentRef
        "clips": ["vid_000001", "vid_000001", "aud_abcdef"],
        "not_ids": ["img_12345", "img_1234567", "pic_123456", 3, None],
    }
    assert artifact_ids(response) == ["img_1a2b3c", "doc_9f8e7d", "vid_000001", "aud_abcdef"]
    assert artifact_ids(None) == [] and artifact_ids("url_abcdef") == ["url_abcdef"]


# --- the tool's artifact ---------------------------------------------------------------


def tool_call(tool: VLMRunAgentTool) -> ToolMessage:
    message = tool.invoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"file": URL}}
    )
    assert isinstance(message, ToolMessage)
    return message


def artifact_gets(emu: Emulator) -> int:
    return emu.counters.requests_by_route.get("GET /artifacts", 0)


def test_tool_artifact_holds_blobs_fetched_when_read(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(artifact_kinds=("img", "doc"))
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        tool = VLMRunAgentTool(prompt="Read it", client=client, artifacts_dir=tmp_path)
        message = tool_call(tool)
        image, document = message.artifact.artifacts
        assert isinstance(image, ArtifactBlob) and isinstance(image, Blob)
        assert image.execution_id == message.artifact.execution_id
        assert (image.kind, document.kind) == ("img", "doc")
        assert artifact_gets(emu) == 0  # nothing fetched until read
        assert not image.fetched

        assert image.as_bytes() == PNG_1X1
        assert image.mimetype == "image/png"
        assert document.as_bytes().startswith(b"%PDF-1.4")
        assert document.mimetype == "application/pdf"
        assert artifact_gets(emu) == 2
        assert image.as_bytes() == PNG_1X1  # read again: from the file
        with image.as_bytes_io() as stream:
            assert stream.read() == PNG_1X1
        assert artifact_gets(emu) == 2
        assert Path(str(image.path)).parent == tmp_path / message.artifact.execution_id
        assert PNG_1X1.decode("latin-1") not in message.content  # ids only reach the model


def test_async_tool_blobs_fetch_with_the_async_client(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(artifact_kinds=("img",))

    async def main() -> bytes:
        async with AsyncVLMRunClient("k", **emulator_client_settings(emu)) as client:
            tool = VLMRunAgentTool(prompt="Read it", async_client=client, artifacts_dir=tmp_path)
            message = await tool.ainvoke(
                {"type": "tool_call", "id": "1", "name": tool.name, "args": {"file": URL}}
            )
            (image,) = message.artifact.artifacts
            await image.afetch()
            return image.as_bytes()  # on disk now: no sync client needed

    assert asyncio.run(main()) == PNG_1X1


def test_schema_refs_point_at_real_artifacts(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """A schema field shaped like the SDK's ImageRef is filled with a real image id."""
    emu = emulator_factory()
    schema = {
        "type": "object",
        "properties": {
            "merchant": {"type": "string"},
            "photo": {"type": "string", "pattern": r"^img_\w{6}$"},
        },
        "required": ["merchant", "photo"],
    }
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        tool = VLMRunAgentTool(
            prompt="Read it", json_schema=schema, client=client, artifacts_dir=tmp_path
        )
        artifact = tool_call(tool).artifact
        (photo,) = artifact.artifacts
        assert photo.object_id == artifact.response["photo"]
        assert photo.as_bytes() == PNG_1X1


# --- downloads: streamed, retried, typed ------------------------------------------------

SIZE = 16 * 1024 * 1024
CHUNK = 64 * 1024


def chunks() -> Iterator[bytes]:
    for i in range(SIZE // CHUNK):
        yield bytes([i % 251]) * CHUNK


async def achunks() -> AsyncIterator[bytes]:
    for chunk in chunks():
        yield chunk


def expected_file_ok(path: Path) -> None:
    assert path.stat().st_size == SIZE
    with path.open("rb") as file:
        for i in range(SIZE // CHUNK):
            assert file.read(CHUNK) == bytes([i % 251]) * CHUNK


def big_video(content: Any) -> Callable[[httpx.Request], httpx.Response]:
    def reply(request: httpx.Request) -> httpx.Response:
        assert dict(request.url.params) == {"object_id": "vid_abcdef", "execution_id": EXECUTION}
        return httpx.Response(200, headers={"content-type": "video/mp4"}, content=content())

    return reply


def test_a_large_artifact_is_streamed_to_disk_not_held_in_memory(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", big_video(chunks))
    client = api.client()
    tracemalloc.start()
    try:
        saved = client.download_artifact(EXECUTION, "vid_abcdef", tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SIZE / 3, f"peak {peak} bytes for a {SIZE}-byte download"
    assert saved.path == tmp_path / EXECUTION / "vid_abcdef.mp4"
    assert (saved.mime_type, saved.size) == ("video/mp4", SIZE)
    expected_file_ok(saved.path)


def test_async_download_streams_too(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", big_video(achunks))

    async def main() -> Any:
        tracemalloc.start()
        try:
            saved = await api.async_client().download_artifact(EXECUTION, "vid_abcdef", tmp_path)
            return saved, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    saved, peak = asyncio.run(main())
    assert peak < SIZE / 3, f"peak {peak} bytes for a {SIZE}-byte download"
    expected_file_ok(saved.path)


def test_a_body_cut_short_is_fetched_again_and_never_left_half_written(tmp_path: Path) -> None:
    def cut() -> Iterator[bytes]:
        yield b"\x89PNG first half"
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "image/png"}, content=cut())

    api = ScriptedAPI().on(
        "GET",
        "/artifacts",
        broken,
        httpx.Response(200, headers={"content-type": "image/png"}, content=PNG_1X1),
    )
    saved = api.client().download_artifact(EXECUTION, "img_abcdef", tmp_path)
    assert saved.path.read_bytes() == PNG_1X1
    assert api.calls("GET", "/artifacts") == 2
    assert sorted(p.name for p in (tmp_path / EXECUTION).iterdir()) == ["img_abcdef.png"]


def test_a_missing_artifact_is_not_found_and_leaves_no_file(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", httpx.Response(404, json={"detail": "gone"}))
    with pytest.raises(NotFoundError):
        api.client().download_artifact(EXECUTION, "img_abcdef", tmp_path)
    assert list((tmp_path / EXECUTION).iterdir()) == []


def test_the_server_content_type_decides_mime_type_and_extension(tmp_path: Path) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/artifacts",
        httpx.Response(200, headers={"content-type": "image/jpeg"}, content=b"J"),
    )
    client = api.client()
    (blob,) = artifact_blobs(EXECUTION, {"photo": "img_abcdef"}, directory=tmp_path, client=client)
    assert (blob.mimetype, Path(str(blob.path)).suffix) == ("image/png", ".png")  # a guess
    assert blob.as_bytes() == b"J"
    assert (blob.mimetype, Path(str(blob.path)).name) == ("image/jpeg", "img_abcdef.jpg")


def test_a_url_artifact_is_downloaded_from_its_url_without_the_key(tmp_path: Path) -> None:
    api = (
        ScriptedAPI()
        .on("GET", "/artifacts", httpx.Response(200, text="https://cdn.example/out/clip.mp4?sig=1"))
        .on("GET", "/out/clip.mp4", httpx.Response(200, content=b"MP4"))
    )
    saved = api.client().download_artifact(EXECUTION, "url_abcdef", tmp_path)
    assert saved.path.name == "url_abcdef.mp4" and saved.path.read_bytes() == b"MP4"
    fetched = api.requests[-1]
    assert fetched.url.host == "cdn.example" and "authorization" not in fetched.headers


def test_a_url_artifact_that_is_not_http_is_refused(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", httpx.Response(200, text="file:///etc/passwd"))
    with pytest.raises(ValueError, match="http"):
        api.client().download_artifact(EXECUTION, "url_abcdef", tmp_path)
    assert len(api.requests) == 1


@pytest.mark.parametrize("bad", ["..", ".", ""])
def test_execution_ids_cannot_escape_the_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        artifact_folder(tmp_path, bad)
    assert artifact_folder(tmp_path, "../../etc") == tmp_path / "..%2F..%2Fetc"


def test_not_an_artifact_id_is_refused_before_any_request(tmp_path: Path) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match="Not an artifact id"):
        api.client().download_artifact(EXECUTION, "../img_abcdef", tmp_path)
    assert api.requests == []


def test_a_copied_blob_keeps_the_reference_but_not_the_client(tmp_path: Path) -> None:
    api = ScriptedAPI()
    (blob,) = artifact_blobs(EXECUTION, ["img_abcdef"], directory=tmp_path, client=api.client())
    copy = pickle.loads(pickle.dumps(blob))
    assert (copy.object_id, copy.execution_id, copy.path) == (
        "img_abcdef",
        EXECUTION,
        blob.path,
    )
    with pytest.raises(RuntimeError, match=r"client\.download_artifact\('ex-1', 'img_abcdef'"):
        copy.as_bytes()


def test_list_artifacts(emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(artifact_kinds=("img", "vid"))
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        done = client.run(URL, prompt="Read it")
        listed = client.list_artifacts(done.id)
    assert listed.namespace_id == done.id
    assert [item.object_id for item in listed.items] == artifact_ids(done.response)


# --- the loader ------------------------------------------------------------------------


def test_loader_references_artifacts_and_saves_them_when_asked(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(artifact_kinds=("img", "doc"))
    sources = make_files(tmp_path / "in", 2)
    out = tmp_path / "artifacts"
    with VLMRunClient("k", **emulator_client_settings(emu)) as client:
        loader = VLMRunLoader(
            sources, prompt="Read it", mode="single", client=client, artifacts_dir=out
        )
        documents = loader.load()
        assert artifact_gets(emu) == 4  # two per source
        for document in documents:
            ids = document.metadata["artifacts"]
            files = [Path(p) for p in document.metadata["artifact_files"]]
            assert [f.stem for f in files] == ids
            assert files[0].read_bytes() == PNG_1X1 and files[0].suffix == ".png"
            assert files[0].parent == out / document.metadata["execution_id"]
            # the same references, as blobs, from the Document alone
            blobs = document_artifacts(document, directory=out, client=client)
            assert [b.as_bytes()[:4] for b in blobs] == [PNG_1X1[:4], b"%PDF"]
        again = loader.load()  # cached results, files already saved: no request
        assert artifact_gets(emu) == 4
        assert [d.metadata["artifact_files"] for d in again] == [
            d.metadata["artifact_files"] for d in documents
        ]

        plain = VLMRunLoader(sources[:1], prompt="Read it", mode="single", client=client).load()
        assert "artifact_files" not in plain[0].metadata and plain[0].metadata["artifacts"]


def test_async_loader_saves_artifacts(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(artifact_kinds=("img",))
    sources = make_files(tmp_path / "in", 2)

    async def main() -> list[Any]:
        async with AsyncVLMRunClient("k", **emulator_client_settings(emu)) as client:
            loader = VLMRunLoader(
                sources,
                prompt="Read it",
                mode="single",
                async_client=client,
                artifacts_dir=tmp_path / "out",
            )
            return [d async for d in loader.alazy_load()]

    for document in asyncio.run(main()):
        (path,) = document.metadata["artifact_files"]
        assert Path(path).read_bytes() == PNG_1X1
