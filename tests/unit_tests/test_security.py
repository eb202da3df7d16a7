"""The security review's nine findings, each reproduced and shown fixed.

1. check-then-open race  2. md5 as content identity  3. webhook verification
4. cache integrity  5. key on objects  6. URLs  7. hard links  8. logs  9. cassettes
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.stores import InMemoryByteStore
from pydantic import SecretStr

from langchain_vlmrun import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    FileByteStore,
    FileSourceError,
    ResultCache,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunError,
    VLMRunLoader,
)
from langchain_vlmrun.client._client import ClientHooks
from langchain_vlmrun.files import _confinement as paths_module
from langchain_vlmrun.files._confinement import allowed_file
from langchain_vlmrun.files._sources import PreparedFile, prepare_file
from langchain_vlmrun.webhooks import verify_webhook_signature
from tests.mock_api import BASE, ScriptedAPI, execution, json_body

KEY = "sk-test-SECRET-0123456789"
PDF = b"%PDF-1.4 inside the root"
OUTSIDE = b"%PDF-1.4 SECRET OUTSIDE THE ROOT"


def started(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": json_body(request)["id"], "status": "enqueued"})


def document_api() -> ScriptedAPI:
    api = ScriptedAPI()
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "f.pdf"}))
    api.on("POST", "/agent/execute", started)
    api.on("GET", "/agent/executions/req-1", execution("req-1", "completed", response={"t": 1}))
    return api


def tool_call(tool: VLMRunAgentTool, file: str) -> ToolMessage:
    message = tool.invoke(
        {"type": "tool_call", "id": "c1", "name": tool.name, "args": {"file": file}}
    )
    assert isinstance(message, ToolMessage)
    return message


def uploaded_bytes(api: ScriptedAPI) -> bytes:
    return b"".join(r.content for r in api.requests if r.method == "POST" and "files" in str(r.url))


# --- 1. check-then-open race -------------------------------------------------------------


@pytest.fixture
def root_and_outside(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "f.pdf").write_bytes(PDF)
    (root / "sub" / "f.pdf").write_bytes(PDF)
    (outside / "f.pdf").write_bytes(OUTSIDE)
    return root, outside


def _swap_after_check(monkeypatch: pytest.MonkeyPatch, swap: Any) -> None:
    """Run ``swap`` right after the tool's path check and before it opens the file."""

    def check_then_swap(file: str, roots: Any) -> Any:
        result = allowed_file(file, roots)
        swap()
        return result

    monkeypatch.setattr(paths_module, "allowed_file", check_then_swap)


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_read(
    root_and_outside: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = root_and_outside

    def swap() -> None:
        (root / "f.pdf").unlink()
        (root / "f.pdf").symlink_to(outside / "f.pdf")

    _swap_after_check(monkeypatch, swap)
    api = document_api()
    message = tool_call(VLMRunAgentTool(prompt="p", root_dir=root, client=api.client()), "f.pdf")
    assert message.status == "error" and "symbolic link" in str(message.content)
    assert api.requests == []  # nothing uploaded, nothing paid


def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_read(
    root_and_outside: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = root_and_outside

    def swap() -> None:
        (root / "sub").rename(root / "old-sub")
        (root / "sub").symlink_to(outside, target_is_directory=True)

    _swap_after_check(monkeypatch, swap)
    api = document_api()
    message = tool_call(
        VLMRunAgentTool(prompt="p", root_dir=root, client=api.client()), "sub/f.pdf"
    )
    assert message.status == "error" and "symbolic link" in str(message.content)
    assert api.requests == []


def test_the_bytes_uploaded_are_those_of_the_file_opened_once(tmp_path: Path) -> None:
    path = tmp_path / "f.pdf"
    path.write_bytes(PDF)
    prepared = prepare_file(path)
    path.unlink()  # the name is gone; the open descriptor still reads the checked file
    path.write_bytes(OUTSIDE)
    try:
        assert b"".join(prepared.iter_chunks()) == PDF
        assert b"".join(prepared.iter_chunks()) == PDF  # every attempt re-reads from 0
    finally:
        prepared.close()


# --- 2. md5 is not content identity ------------------------------------------------------

# A public md5 collision pair (Wang et al., 2004): different bytes, same md5, same size.
COLLISION_A = bytes.fromhex(
    "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f89"
    "55ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b"
    "d8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0"
    "e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70"
)
COLLISION_B = bytes.fromhex(
    "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f89"
    "55ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5b"
    "d8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0"
    "e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70"
)


def _prepared(data: bytes) -> PreparedFile:
    """The fixture bytes as an upload (the collision blocks are no real document type,
    so they bypass the type gate here; the identity logic is what is under test)."""
    return PreparedFile(
        filename="scan.pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        mime_type="application/pdf",
        data=data,
    )


def test_the_fixture_is_a_real_md5_collision() -> None:
    assert COLLISION_A != COLLISION_B and len(COLLISION_A) == len(COLLISION_B)
    assert hashlib.md5(COLLISION_A).digest() == hashlib.md5(COLLISION_B).digest()


def test_colliding_files_get_their_own_results_from_the_cache() -> None:
    ids = iter(["req-a", "req-b"])
    api = ScriptedAPI()
    api.on(
        "POST", "/files", lambda r: httpx.Response(201, json={"id": f"file-{len(api.requests)}"})
    )
    api.on("POST", "/agent/execute", started)
    for name in ("req-a", "req-b"):
        api.on("GET", f"/agent/executions/{name}", execution(name, "completed", response={}))
    client = api.client(request_id_factory=lambda: next(ids))
    cache = ResultCache(InMemoryByteStore())
    first = client.process(_prepared(COLLISION_A), prompt="p", cache=cache)
    second = client.process(_prepared(COLLISION_B), prompt="p", cache=cache)
    assert not second.from_cache  # not the other file's result
    assert (first.execution.id, second.execution.id) == ("req-a", "req-b")
    assert uploaded_bytes(api).count(COLLISION_B) == 1  # its own bytes were processed


def test_small_files_are_never_matched_by_md5_on_the_server() -> None:
    api = document_api()
    api.on(
        "GET",
        f"/files/hash/{hashlib.md5(COLLISION_B).hexdigest()}",
        httpx.Response(200, json={"id": "file-of-A", "bytes": 128}),
    )
    client = api.client(request_id_factory=lambda: "req-1")
    processed = client.process(_prepared(COLLISION_B), prompt="p")
    assert processed.file_id == "file-1"  # uploaded, not the other file's upload
    assert api.calls("GET", f"/files/hash/{hashlib.md5(COLLISION_B).hexdigest()}") == 0


# --- 3. webhook verification -------------------------------------------------------------

BODY = b'{"id": "ex-1", "status": "completed"}'
GOOD = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("secret", ["", SecretStr("")])
def test_an_empty_webhook_secret_is_refused(secret: str | SecretStr) -> None:
    forged = "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()  # anyone can
    with pytest.raises(ValueError, match="secret is empty"):
        verify_webhook_signature(BODY, forged, secret)


@pytest.mark.parametrize(
    "header",
    [
        GOOD[:-1] + "é",  # non-ASCII
        "sha256=" + "\uff10" * 64,  # full-width digits
        GOOD.encode(),  # bytes instead of str
        GOOD[:-2],  # wrong length
        "md5=" + GOOD[7:],  # wrong scheme
        "sha256" + GOOD[7:],  # no '='
        None,
        "",
        12345,
    ],
)
def test_malformed_signature_headers_are_false_never_an_error(header: Any) -> None:
    assert verify_webhook_signature(BODY, header, "s3cret") is False


def test_a_good_signature_still_verifies() -> None:
    assert verify_webhook_signature(BODY, GOOD, SecretStr("s3cret")) is True
    assert verify_webhook_signature(BODY, GOOD.upper().replace("SHA256", "sha256"), "s3cret")


# --- 4. cache integrity ------------------------------------------------------------------


def _key_for(cache: ResultCache, data: bytes, **fields: Any) -> str:
    from langchain_vlmrun.client._operations import ExecuteRequest

    request_fields = ExecuteRequest(prompt="p", **fields).cache_fields("file")
    return cache.scoped(BASE).key(f"sha256:{hashlib.sha256(data).hexdigest()}", request_fields)


def test_a_planted_record_with_a_path_for_an_id_sends_no_request_there() -> None:
    cache = ResultCache(InMemoryByteStore())
    planted = {"state": "submitted", "execution_id": "../../files/hash/" + "0" * 32}
    cache.store.mset([(_key_for(cache, PDF), json.dumps(planted).encode())])
    api = document_api()
    api.client(request_id_factory=lambda: "req-1").process(
        PDF, prompt="p", filename="f.pdf", cache=cache
    )
    assert all("/files/hash" not in str(r.url) for r in api.requests)
    assert api.calls("POST", "/agent/execute") == 1  # the plant was ignored: a normal run


@pytest.mark.parametrize(
    "record",
    [
        {"state": "completed", "execution_id": "ex-1"},  # no execution
        {
            "state": "completed",
            "execution_id": "ex-1",
            "execution": {"id": "ex-2", "status": "completed"},
        },
        {
            "state": "completed",
            "execution_id": "ex-1",
            "execution": {"id": "ex-1", "status": "running"},
        },
        {"state": "done", "execution_id": "ex-1"},
        {"state": "submitted", "execution_id": "ex 1?x=1"},
        {"state": "submitted", "execution_id": "ex-1", "file_id": "../x"},
        {"state": "submitted", "execution_id": "ex-1", "written_at": "yesterday"},
    ],
)
def test_records_that_are_not_ours_are_misses(record: dict[str, Any]) -> None:
    cache = ResultCache(InMemoryByteStore())
    cache.store.mset([("vlmrun:k", json.dumps(record).encode())])
    assert cache.get("vlmrun:k") is None


def test_the_cache_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = FileByteStore(tmp_path / "cache" / "vlmrun")
        store.mset([("k", b"v")])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "cache" / "vlmrun").stat().st_mode) == 0o700
    (entry,) = (tmp_path / "cache" / "vlmrun").glob("*.bin")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_records_expire_and_are_pruned() -> None:
    now = [1000.0]
    cache = ResultCache(InMemoryByteStore(), max_age=60, clock=lambda: now[0])
    cache.mark_submitted("vlmrun:a", "ex-1", None)
    now[0] += 30
    cache.mark_submitted("vlmrun:b", "ex-2", None)
    assert cache.get("vlmrun:a") is not None
    now[0] += 31  # a is 61 s old, b 31 s
    assert cache.get("vlmrun:a") is None
    assert cache.prune() == 0  # a was already removed when read as expired
    assert list(cache.store.yield_keys()) == ["vlmrun:b"]


def test_max_entries_keeps_the_newest() -> None:
    now = [0.0]
    cache = ResultCache(InMemoryByteStore(), max_entries=2, prune_every=1, clock=lambda: now[0])
    for name in ("a", "b", "c"):
        now[0] += 1
        cache.mark_submitted(f"vlmrun:{name}", f"ex-{name}", None)
    assert sorted(cache.store.yield_keys()) == ["vlmrun:b", "vlmrun:c"]


def test_keys_differ_by_service_and_by_allow_training() -> None:
    cache = ResultCache(InMemoryByteStore())
    fields = {"prompt": "p"}
    assert cache.scoped("https://a.test/v1").key("h", fields) != cache.scoped(
        "https://b.test/v1"
    ).key("h", fields)
    assert _key_for(cache, PDF) != _key_for(cache, PDF, allow_training=True)


def test_a_client_for_another_service_gets_no_hit() -> None:
    cache = ResultCache(InMemoryByteStore())
    api = document_api()
    api.client(request_id_factory=lambda: "req-1").process(
        PDF, prompt="p", filename="f.pdf", cache=cache
    )
    other = document_api()
    other_client = VLMRunClient(
        KEY,
        base_url="https://other.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(other.handler)),
        _hooks=ClientHooks(request_id_factory=lambda: "req-1"),
    )
    result = other_client.process(PDF, prompt="p", filename="f.pdf", cache=cache)
    assert not result.from_cache


# --- 5. the key on objects ---------------------------------------------------------------


def _errors(api: ScriptedAPI) -> list[VLMRunError]:
    api.on("GET", "/agent/executions/x", httpx.Response(401, json={"detail": "bad key"}))
    api.on("GET", "/agent/executions/y", httpx.ConnectError("refused"))
    client = api.client(retry=None, retry_timeout=0)
    errors = []
    for execution_id, expected in (("x", AuthenticationError), ("y", APIConnectionError)):
        with pytest.raises(expected) as raised:
            client.get_execution(execution_id)
        errors.append(raised.value)
    return errors


def test_errors_hold_no_key_anywhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status_error, transport_error = _errors(ScriptedAPI())
    assert isinstance(status_error, AuthenticationError)
    assert isinstance(status_error, APIStatusError)
    assert status_error.request is not None
    assert status_error.request.headers["authorization"] == "[redacted]"
    assert status_error.response.request.headers["authorization"] == "[redacted]"
    assert transport_error.__context__ is None  # no httpx error (and its request) inside
    for err in (status_error, transport_error):
        assert KEY.encode() not in pickle.dumps(err)
        assert KEY not in repr(err) and KEY not in str(vars(err))
    assert KEY not in caplog.text


def test_objects_hold_the_key_only_as_a_secret(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(PDF)
    loader = VLMRunLoader(str(tmp_path), prompt="p", api_key=KEY)
    tool = VLMRunAgentTool(prompt="p", api_key=KEY)
    client = ScriptedAPI().client()
    for thing in (loader, tool, client):
        assert KEY not in repr(thing)
        assert KEY not in repr(vars(thing))


# --- 6. URLs -----------------------------------------------------------------------------


def test_credentials_in_a_url_are_not_stored_or_returned() -> None:
    api = document_api()
    url = "https://user:pa55word@example.com/scan.pdf"
    tool = VLMRunAgentTool(prompt="p", client=api.client(request_id_factory=lambda: "req-1"))
    message = tool_call(tool, url)
    assert message.artifact.source == "https://example.com/scan.pdf"
    assert "pa55word" not in str(message.content)
    body = json_body(next(r for r in api.requests if r.url.path.endswith("/agent/execute")))
    assert body["inputs"]["file"]["file_url"]["url"] == url  # used for the request only
    loader = VLMRunLoader(url, prompt="p", client=api.client(request_id_factory=lambda: "req-1"))
    (doc,) = loader.load()
    assert doc.metadata["source"] == "https://example.com/scan.pdf"


@pytest.mark.parametrize(
    "url", ["https://example.com/a.pdf\r\nX-Evil: 1", "https://example.com/a b.pdf"]
)
def test_urls_with_control_characters_or_spaces_are_refused_before_any_request(url: str) -> None:
    api = document_api()
    with pytest.raises(FileSourceError, match="whitespace or control characters"):
        api.client().run(url, prompt="p")
    assert api.requests == []


# --- 7. hard links -----------------------------------------------------------------------


def test_a_hard_link_inside_the_root_to_a_file_outside_is_refused(
    root_and_outside: tuple[Path, Path],
) -> None:
    root, outside = root_and_outside
    os.link(outside / "f.pdf", root / "linked.pdf")
    api = document_api()
    message = tool_call(
        VLMRunAgentTool(prompt="p", root_dir=root, client=api.client()), "linked.pdf"
    )
    assert message.status == "error" and "hard links" in str(message.content)
    assert api.requests == []
    allowed = VLMRunAgentTool(
        prompt="p",
        root_dir=root,
        allow_hard_links=True,
        client=document_api().client(request_id_factory=lambda: "req-1"),
    )
    assert tool_call(allowed, "linked.pdf").status == "success"  # the developer's choice


def test_the_extractor_as_a_tool_refuses_the_same_hard_link_before_any_request(
    root_and_outside: tuple[Path, Path],
) -> None:
    from pydantic import BaseModel

    from langchain_vlmrun import VLMRunExtractor

    class Invoice(BaseModel):
        total: float

    root, outside = root_and_outside
    os.link(outside / "f.pdf", root / "linked.pdf")
    api = document_api()
    tool = VLMRunExtractor(response_model=Invoice, client=api.client()).as_tool(root_dir=root)
    message = tool_call(tool, "linked.pdf")
    assert message.status == "error" and "hard links" in str(message.content)
    assert api.requests == []


# --- 8. logs -----------------------------------------------------------------------------


def test_presigned_signatures_stay_out_of_httpx_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = ScriptedAPI()
    api.on(
        "POST",
        "/files/presigned-url",
        httpx.Response(
            200,
            json={
                "id": "f-9",
                "url": "https://storage.test/up/f-9?X-Amz-Signature=deadbeef0123&X-Amz-Credential=AKIAX",
                "content_type": "application/pdf",
            },
        ),
    )
    api.on("PUT", "/up/f-9", httpx.Response(200))
    api.on("GET", "/files/verify-upload/f-9", httpx.Response(200, json={"id": "f-9"}))
    path = tmp_path / "big.pdf"
    path.write_bytes(PDF * 100)
    api.client(presigned_threshold=10).upload_file(path)
    logging.getLogger("httpx").info(
        "HTTP Request: %s %s",
        "PUT",
        httpx.URL("https://storage.test/up/f-9?X-Amz-Signature=deadbeef0123"),
    )
    assert "deadbeef0123" not in caplog.text and "AKIAX" not in caplog.text
    assert KEY not in caplog.text


# --- 9. cassettes ------------------------------------------------------------------------
# covered in test_secrets.py: test_scanner_and_scrubber_agree_on_presigned_parameters and
# test_recording_scrubs_request_uris_and_location_headers
