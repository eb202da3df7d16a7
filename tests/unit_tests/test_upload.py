"""upload_file: hash dedupe, multipart streamed from disk, presigned flow, bad sources."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.documents.base import Blob

from langchain_vlmrun import (
    AuthenticationError,
    FileSourceError,
    RetryPolicy,
    UnreadableResponseError,
)
from langchain_vlmrun.client._operations import (
    ExecuteRequest,
    UploadSettings,
    find_file_by_hash,
    get_file,
    upload_file,
    upload_prepared,
)
from langchain_vlmrun.core.models import FileResponse
from langchain_vlmrun.files._sources import prepare_file
from tests.mock_api import ScriptedAPI
from tests.support import Driver, VirtualService

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


def test_hash_hit_sends_no_bytes(caplog: pytest.LogCaptureFixture) -> None:
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json=FILE))
    with caplog.at_level(logging.DEBUG, logger="langchain_vlmrun"):
        assert api.client(hash_lookup_min_size=0).upload_file(DATA).id == "file-1"
    assert api.calls("POST", "/files") == 0
    assert f"reusing uploaded file file-1 for md5 {MD5}" in caplog.messages


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


@pytest.mark.parametrize("upload_method", [None, "post", "DELETE"])
def test_presigned_upload_always_puts_whatever_method_the_server_names(
    tmp_path: Path, upload_method: str | None
) -> None:
    # as both official SDKs do: a server's answer never chooses the verb sent elsewhere
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    api = ScriptedAPI().on("GET", f"/files/hash/{MD5}", httpx.Response(200, json={"id": None}))
    target = {
        "id": "file-9",
        "url": "https://storage.test/up/file-9",
        "upload_method": upload_method,
    }
    api.on("POST", "/files/presigned-url", httpx.Response(200, json=target))
    api.on("PUT", "/up/file-9", httpx.Response(200))
    api.on("GET", "/files/verify-upload/file-9", httpx.Response(200, json={**FILE, "id": "file-9"}))
    assert api.client(presigned_threshold=1024).upload_file(path).id == "file-9"
    assert [r.method for r in api.requests if r.url.host == "storage.test"] == ["PUT"]


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


# --- the upload operations on their own, driven effect by effect -------------------

SETTINGS = UploadSettings()  # 8 MiB lookup, 32 MiB presigned: DATA is far below both


def drive_upload(
    driver: Driver, source: Any, settings: UploadSettings = SETTINGS, **kw: Any
) -> Any:
    return driver.run(upload_file(source, settings=settings, retry=RetryPolicy(), **kw))


def test_upload_sends_the_default_purpose_and_the_name_given() -> None:
    driver = Driver(httpx.Response(201, json=FILE))
    assert drive_upload(driver, DATA, filename="named.pdf").id == "file-1"
    (call,) = driver.calls()
    assert (call.method, call.path, call.params) == ("POST", "/files", {"purpose": "assistants"})
    assert call.upload is not None and call.upload.filename == "named.pdf"

    driver = Driver(httpx.Response(201, json=FILE))
    drive_upload(driver, DATA, purpose="batch")
    assert driver.calls()[0].params == {"purpose": "batch"}


def test_an_opened_file_is_uploaded_as_given_and_left_open_for_its_owner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prepared = prepare_file(DATA, filename="doc.pdf")
    # the answer is lost (502): the md5 lookup finds it stored, so it is adopted
    driver = Driver(httpx.Response(502), httpx.Response(200, json=FILE))
    try:
        with caplog.at_level(logging.INFO, logger="langchain_vlmrun"):
            assert drive_upload(driver, prepared, purpose="batch").id == "file-1"
        checking, _adopted = caplog.records
        assert checking.getMessage().startswith("upload of doc.pdf failed ambiguously (502")
        assert checking.levelno == logging.INFO
        post, lookup = driver.calls()
        assert post.upload is prepared and post.params == {"purpose": "batch"}
        assert lookup.path == f"/files/hash/{MD5}"
        assert b"".join(prepared.iter_chunks()) == DATA  # still open: its owner closes it
    finally:
        prepared.close()


def test_max_file_size_refuses_before_any_request() -> None:
    driver = Driver()
    with pytest.raises(FileSourceError, match="over the 100-byte limit"):
        drive_upload(driver, DATA, settings=UploadSettings(max_file_size=100))
    assert driver.effects and driver.calls() == []


def test_size_thresholds_are_inclusive_for_the_lookup_and_exclusive_for_presigned() -> None:
    prepared = prepare_file(DATA, filename="doc.pdf")
    at_both = UploadSettings(hash_lookup_min_size=len(DATA), presigned_threshold=len(DATA))
    # a 404 from the md5 lookup means "not uploaded yet": multipart, not presigned
    driver = Driver(
        httpx.Response(404, json={"detail": "File not found"}), httpx.Response(201, json=FILE)
    )
    try:
        uploaded = driver.run(upload_prepared(prepared, at_both, RetryPolicy()))
    finally:
        prepared.close()
    assert uploaded.id == "file-1"
    assert [(c.method, c.path) for c in driver.calls()] == [
        ("GET", f"/files/hash/{MD5}"),
        ("POST", "/files"),
    ]
    assert driver.calls()[1].params == {"purpose": "assistants"}


def test_a_hash_hit_of_another_size_says_so_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    driver = Driver(httpx.Response(200, json={**FILE, "id": "file-9", "bytes": 5}))
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        assert driver.run(find_file_by_hash(MD5, len(DATA))) is None
    assert caplog.messages == [
        f"the server's file file-9 has md5 {MD5} but 5 bytes, not {len(DATA)}: uploading ours"
    ]


def test_get_file_reads_one_file_by_its_quoted_id() -> None:
    driver = Driver(httpx.Response(200, json={**FILE, "id": "a/b"}))
    found = driver.run(get_file("a/b"))
    assert isinstance(found, FileResponse) and (found.id, found.bytes) == ("a/b", len(DATA))
    assert [(c.method, c.path) for c in driver.calls()] == [("GET", "/files/a%2Fb")]


def test_an_unreadable_answer_names_the_request_and_what_to_do() -> None:
    request = httpx.Request("GET", "https://api.test/v1/files/f-1")
    driver = Driver(httpx.Response(200, content=b"<html>busy</html>", request=request))
    with pytest.raises(UnreadableResponseError) as raised:
        driver.run(get_file("f-1"))
    message = str(raised.value)
    assert message.startswith("Unreadable response from GET /v1/files/f-1 (HTTP 200): ")
    assert message.endswith(
        "This is a service-side problem: try again later, and report it if it persists."
    )
    assert raised.value.request is not None and raised.value.request.url == request.url
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_process_uploads_a_path_given_as_text_within_max_file_size(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(DATA)
    service = VirtualService(duration=0.0)
    result = service.process(str(path), ExecuteRequest(prompt="read"))
    assert (result.filename, result.file_id, result.url) == ("doc.pdf", "file-1", None)
    service = VirtualService(duration=0.0)
    with pytest.raises(FileSourceError, match="over the 100-byte limit"):
        service.process(
            str(path), ExecuteRequest(prompt="read"), uploads=UploadSettings(max_file_size=100)
        )
    assert service.requests == {}
