"""upload_file: hash dedupe, multipart streamed from disk, presigned flow, bad sources."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from langchain_core.documents.base import Blob

from langchain_vlmrun import AuthenticationError, FileSourceError
from langchain_vlmrun._sources import prepare_file
from tests.mock_api import ScriptedAPI

DATA = b"%PDF-1.4 upload test" * 1000
MD5 = hashlib.md5(DATA).hexdigest()
MP4 = b"\x00\x00\x00\x18ftypmp42" + DATA  # an ISO media header, then filler
FILE = {"id": "file-1", "filename": "doc.pdf", "bytes": len(DATA), "purpose": "assistants"}


def new_file_api() -> ScriptedAPI:
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(404))
    return api.on("POST", "/files", httpx.Response(201, json=FILE))


def test_multipart_upload_from_path(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(DATA)
    api = new_file_api()
    assert api.client().upload_file(path).id == "file-1"
    post = api.requests[-1]
    assert post.url.params["purpose"] == "assistants"
    assert post.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="doc.pdf"' in post.content
    assert DATA in post.content


def test_path_files_are_streamed_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    path.write_bytes(DATA)
    prepared = prepare_file(path)
    assert prepared.data is None and prepared.path == path  # bytes stay on disk
    assert prepared.md5 == MD5 and prepared.size == len(DATA)
    assert b"".join(prepared.iter_chunks()) == DATA


def test_hash_hit_sends_no_bytes() -> None:
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json=FILE))
    assert api.client(hash_lookup_min_size=0).upload_file(DATA).id == "file-1"
    assert api.calls("POST", "/files") == 0


def test_small_files_are_uploaded_without_a_hash_lookup() -> None:
    api = new_file_api()
    assert api.client().upload_file(DATA).id == "file-1"  # DATA is far below 8 MiB
    assert [r.method for r in api.requests] == ["POST"]


def test_a_hash_hit_of_another_size_is_not_reused() -> None:
    api = new_file_api()  # e.g. an md5 collision: same md5, different file
    api.routes[("GET", f"/files/hash/{MD5}")].appendleft(
        httpx.Response(200, json={**FILE, "bytes": len(DATA) + 1})
    )
    assert api.client(hash_lookup_min_size=0).upload_file(DATA).id == "file-1"
    assert api.calls("POST", "/files") == 1


def test_hash_lookup_does_not_swallow_auth_errors() -> None:
    api = ScriptedAPI().on(
        "GET", f"/files/hash/{MD5}", httpx.Response(401, json={"detail": "bad key"})
    )
    with pytest.raises(AuthenticationError):
        api.client(hash_lookup_min_size=0).upload_file(DATA)
    assert api.calls("POST", "/files") == 0


def test_retried_multipart_upload_resends_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(DATA)
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    api.on("POST", "/files", httpx.Response(503), httpx.Response(201, json=FILE))
    api.client().upload_file(path)
    posts = [r for r in api.requests if r.method == "POST"]
    assert len(posts) == 2 and all(DATA in p.content for p in posts)  # never an empty part


def test_presigned_flow_above_threshold(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    api.on(
        "POST",
        "/files/presigned-url",
        httpx.Response(
            200,
            json={
                "id": "file-9",
                "url": "https://storage.test/up/file-9?sig=abc",
                "content_type": "video/mp4",
                "upload_method": "PUT",
            },
        ),
    )
    api.on("PUT", "/up/file-9", httpx.Response(200))
    api.on("GET", "/files/verify-upload/file-9", httpx.Response(200, json={**FILE, "id": "file-9"}))
    result = api.client(presigned_threshold=1024).upload_file(path)
    assert result.id == "file-9"
    put = next(r for r in api.requests if r.method == "PUT")
    assert "authorization" not in put.headers
    assert put.headers["content-type"] == "video/mp4"
    assert put.headers["content-length"] == str(len(MP4))
    assert put.content == MP4
    assert api.calls("POST", "/files") == 0
    asked = next(r for r in api.requests if r.url.path.endswith("/files/presigned-url"))
    assert json.loads(asked.content) == {
        "filename": "clip.mp4",
        "purpose": "assistants",
        "expiration": 86400,  # a day to finish the upload
    }


@pytest.mark.parametrize(("upload_method", "sent"), [(None, "PUT"), ("post", "POST")])
def test_presigned_upload_uses_the_method_the_server_names(
    tmp_path: Path, upload_method: str | None, sent: str
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    target = {
        "id": "file-9",
        "url": "https://storage.test/up/file-9",
        "upload_method": upload_method,
    }
    api.on("POST", "/files/presigned-url", httpx.Response(200, json=target))
    api.on(sent, "/up/file-9", httpx.Response(200))
    api.on("GET", "/files/verify-upload/file-9", httpx.Response(200, json={**FILE, "id": "file-9"}))
    assert api.client(presigned_threshold=1024).upload_file(path).id == "file-9"
    assert [r.method for r in api.requests if r.url.host == "storage.test"] == [sent]


def test_blob_from_memory_and_path(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json=FILE))
    client = api.client(hash_lookup_min_size=0)
    assert client.upload_file(Blob.from_data(DATA, path="in-memory.pdf")).id == "file-1"
    path = tmp_path / "doc.pdf"
    path.write_bytes(DATA)
    assert client.upload_file(Blob.from_path(path)).id == "file-1"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.pdf", "File not found"),
        (lambda p: p, "is a directory"),
        (lambda p: (p / "empty.pdf").write_bytes(b"") or p / "empty.pdf", "empty"),
        (lambda p: "https://example.com/x.pdf", "is a URL"),
        (lambda p: b"", "empty"),
    ],
)
def test_bad_sources_fail_before_any_request(tmp_path: Path, make: object, message: str) -> None:
    api = ScriptedAPI()
    with pytest.raises(FileSourceError, match=message):
        api.client().upload_file(make(tmp_path))  # type: ignore[operator]
    assert api.requests == []


async def test_async_multipart_upload(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(DATA)
    api = new_file_api()
    async with api.async_client() as client:
        assert (await client.upload_file(path)).id == "file-1"
    assert DATA in api.requests[-1].content


async def test_async_presigned_flow(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    api.on(
        "POST",
        "/files/presigned-url",
        httpx.Response(200, json={"id": "f9", "url": "https://s.test/f9"}),
    )
    api.on("PUT", "/f9", httpx.Response(200))
    api.on("GET", "/files/verify-upload/f9", httpx.Response(200, json={"id": "f9"}))
    async with api.async_client(presigned_threshold=10) as client:
        assert (await client.upload_file(path)).id == "f9"
    assert next(r for r in api.requests if r.method == "PUT").content == MP4


def test_an_upload_whose_answer_was_lost_is_adopted_not_sent_twice() -> None:
    api = ScriptedAPI().on(
        "GET",
        f"/files/hash/{MD5}",
        httpx.Response(200, json=FILE),  # after the lost answer: it was stored
    )
    api.on("POST", "/files", httpx.ReadTimeout("answer lost"))
    assert api.client().upload_file(DATA, filename="doc.pdf").id == "file-1"
    assert api.calls("POST", "/files") == 1


def test_an_upload_the_server_never_stored_is_sent_again() -> None:
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    api.on("POST", "/files", httpx.Response(502), httpx.Response(201, json=FILE))
    assert api.client().upload_file(DATA, filename="doc.pdf").id == "file-1"
    assert api.calls("POST", "/files") == 2
    assert api.calls("GET", f"/files/hash/{MD5}") == 1  # checked before re-sending
