"""We send what the official SDK sends (tests/sdk_wire.json is its capture), except where
docs/wire.md says why not; and the wire details a gateway or the service relies on."""

from __future__ import annotations

import asyncio
import copy
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_vlmrun import (
    ExecuteOptions,
    FileSourceError,
    InlineSkill,
    SkillReference,
    UnreadableResponseError,
)
from langchain_vlmrun.files._sources import prepare_file
from tests.mock_api import ScriptedAPI, execution, json_body
from tests.sdk_wire import CALLS, CAPTURE, capture_ours

SDK: dict[str, list[dict[str, Any]]] = json.loads(CAPTURE.read_text(encoding="utf-8"))
FILE = {"id": "file-1", "filename": "doc.pdf", "bytes": 10, "purpose": "assistants"}


def documented_differences(call: str, sdk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SDK's requests with what docs/wire.md says we do differently applied."""
    expected = copy.deepcopy(sdk)
    if call in ("upload", "presigned"):
        # the md5 lookup is only sent for files of 8 MiB and more (a saving below that)
        expected = [r for r in expected if not r["path"].startswith("/v1/files/hash/")]
    for record in expected:
        for part in record.get("parts", []):
            part["content_type"] = "application/pdf"  # the type the file's bytes show
        if record["path"] == "/v1/agent/execute":
            # our client request id (re-sent calls are never paid twice) and the
            # training opt-out, which the SDK leaves to the server's default (on)
            record["json"]["metadata"] = {"allow_training": False}
    return expected


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records less what differs on every run (request ids, JSON spacing's length)."""
    out = copy.deepcopy(records)
    for record in out:
        record.get("json", {}).pop("id", None)
        if "json" in record:
            record["headers"].pop("content-length", None)
    return out


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return capture_ours(tmp_path_factory.mktemp("wire"))


@pytest.mark.parametrize("call", sorted(CALLS))
def test_each_call_sends_what_the_official_sdk_sends(
    call: str, ours: dict[str, list[dict[str, Any]]]
) -> None:
    assert comparable(ours[call]) == comparable(documented_differences(call, SDK[call]))


def test_the_execute_body_always_names_a_model_and_keeps_the_users(
    ours: dict[str, list[dict[str, Any]]],
) -> None:
    assert ours["execute"][0]["json"]["model"] == "vlmrun-orion-1:auto"
    api = ScriptedAPI().on("POST", "/agent/execute", execution("ex-1", "enqueued"))
    with api.client() as client:
        client.execute(prompt="p", options=ExecuteOptions(model="vlmrun-orion-1:pro"))
        client.execute(prompt="p", model="vlmrun-orion-1:fast")
    sent = [json_body(r)["model"] for r in api.requests if r.url.path.endswith("/execute")]
    assert sent == ["vlmrun-orion-1:pro", "vlmrun-orion-1:fast"]


def test_skills_are_sent_in_the_sdks_shape_with_a_version() -> None:
    inline = InlineSkill(name="csv", description="CSV files.", bundle="UEsFBg==")
    dumped = ExecuteOptions(skills=[SkillReference(skill_id="s"), inline]).config_fields()
    assert dumped["skills"] == [
        {"type": "skill_reference", "skill_id": "s", "skill_version": "latest"},
        {
            "type": "inline",
            "name": "csv",
            "description": "CSV files.",
            "skill_version": "latest",
            "source": {"type": "base64", "media_type": "application/zip", "data": "UEsFBg=="},
        },
    ]
    assert "bundle" not in dumped["skills"][1]  # deprecated on the server side
    assert "UEsFBg" not in repr(inline)  # the bundle can be megabytes: not in reprs
    pinned = SkillReference(skill_id="s", skill_version="3").model_dump()
    assert pinned["skill_version"] == "3"


# --- a gateway that refuses chunked bodies --------------------------------------------


def refuses_chunked(answer: httpx.Response) -> Any:
    """A gateway that answers 411 to a body without Content-Length, and checks that the
    length it was told is the length it got."""

    def handler(request: httpx.Request) -> httpx.Response:
        if "content-length" not in request.headers:
            return httpx.Response(411, json={"detail": "Length Required"})
        body = request.read()
        assert int(request.headers["content-length"]) == len(body)
        return answer

    return handler


def upload_api() -> ScriptedAPI:
    """Direct and presigned uploads behind that gateway."""
    presigned = {"id": "p-1", "url": "https://uploads.example/put?sig=s"}
    api = ScriptedAPI()
    api.on("POST", "/files", refuses_chunked(httpx.Response(201, json=FILE)))
    api.on("POST", "/files/presigned-url", httpx.Response(200, json=presigned))
    api.on("PUT", "/put", refuses_chunked(httpx.Response(200)))
    api.on("GET", "/files/verify-upload/p-1", httpx.Response(200, json=FILE))
    return api


@pytest.mark.parametrize("presigned_threshold", [0, 2**30], ids=["presigned", "multipart"])
def test_path_uploads_pass_a_gateway_that_refuses_chunked_bodies(
    tmp_path: Path, presigned_threshold: int
) -> None:
    paths = [tmp_path / f"doc{i}.pdf" for i in range(3)]
    for i, path in enumerate(paths):
        path.write_bytes(b"%PDF-1.4\n" + bytes([i]) * (3 * 1024 * 1024 + i))
    api = upload_api()
    with api.client(presigned_threshold=presigned_threshold) as client:
        uploaded = [client.upload_file(path) for path in paths]
    assert [f.id for f in uploaded] == ["file-1"] * 3
    assert not [r for r in api.requests if "transfer-encoding" in r.headers]


def test_async_path_uploads_pass_a_gateway_that_refuses_chunked_bodies(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"x" * (2 * 1024 * 1024 + 5))

    async def main() -> list[str]:
        ids = []
        for threshold in (0, 2**30):
            async with upload_api().async_client(presigned_threshold=threshold) as client:
                ids.append((await client.upload_file(path)).id)
        return ids

    assert asyncio.run(main()) == ["file-1", "file-1"]


def test_a_file_that_grew_after_hashing_uploads_the_hashed_bytes(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"a" * 5000)
    prepared = prepare_file(path)
    try:
        with path.open("ab") as file:
            file.write(b"appended by a neighbour")
        with prepared.open() as stream:
            assert stream.read() == b"%PDF-1.4\n" + b"a" * 5000
    finally:
        prepared.close()


def test_a_file_that_shrank_after_hashing_is_refused_not_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"a" * 5000)
    api = upload_api()
    prepared = prepare_file(path)
    try:
        os.truncate(path, 100)
        with api.client() as client, pytest.raises(FileSourceError) as shrank:
            client.upload_file(prepared)
    finally:
        prepared.close()
    assert str(shrank.value).startswith("doc.pdf shrank to 100 bytes while it was being read")
    assert shrank.value.source == "doc.pdf"
    assert api.calls("POST", "/files") == 0  # nothing reached the server


def test_a_closed_prepared_file_cannot_be_uploaded_as_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"a" * 100)
    prepared = prepare_file(path)
    prepared.close()
    with pytest.raises(FileSourceError, match="already closed") as closed:
        prepared.open()
    assert closed.value.source == str(path)


# --- the md5 lookup is a saving, not a gate ---------------------------------------------------


def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"b" * (8 * 1024 * 1024))
    return path


@pytest.mark.parametrize(
    "lookup",
    [httpx.Response(503, json={"detail": "down"}), httpx.Response(200, text="<html>oops")],
    ids=["5xx", "unreadable"],
)
def test_a_failed_md5_lookup_uploads_the_file(
    tmp_path: Path, lookup: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    api = upload_api()
    path = big_file(tmp_path)
    prepared = prepare_file(path)
    prepared.close()
    api.on("GET", f"/files/hash/{prepared.md5}", lookup)
    with api.client() as client:
        assert client.upload_file(path).id == "file-1"
    assert api.calls("POST", "/files") == 1
    assert "md5 lookup for big.pdf failed" in caplog.text


def test_a_refused_key_on_the_md5_lookup_still_stops_the_upload(tmp_path: Path) -> None:
    from langchain_vlmrun import AuthenticationError

    path = big_file(tmp_path)
    prepared = prepare_file(path)
    prepared.close()
    api = upload_api()
    api.on("GET", f"/files/hash/{prepared.md5}", httpx.Response(401, json={"detail": "bad key"}))
    with api.client() as client, pytest.raises(AuthenticationError):
        client.upload_file(path)
    assert api.calls("POST", "/files") == 0


# --- what is asked of and read from the server -----------------------------------------------


def test_json_is_asked_for_only_where_json_is_read(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"a" * 100)
    api = upload_api()
    with api.client(presigned_threshold=0) as client:
        client.upload_file(path)
    accepts = {r.url.path: r.headers.get("accept") for r in api.requests}
    assert accepts["/v1/files/presigned-url"] == "application/json"
    assert accepts["/put"] != "application/json"


def test_an_unreadable_execution_body_during_a_wait_is_reported_as_such() -> None:
    api = upload_api()
    api.on("POST", "/agent/execute", execution("ex-1", "enqueued"))
    api.on("GET", "/agent/executions/ex-1", httpx.Response(200, json={"status": None}))
    with api.client() as client, pytest.raises(UnreadableResponseError) as caught:
        client.run(b"%PDF-1.4 doc", prompt="p")
    assert caught.value.execution_id == "ex-1"  # client.wait("ex-1") resumes it
    assert "Unreadable response" in str(caught.value)
