"""The server boundary: what a faulty or hostile server sends is trusted for nothing.

Issue 24, as a user meets it through the clients (sync and async), the loader and the
tool, with scripted answers (``httpx.MockTransport``, no network, no real time):

- a ``Retry-After`` holds the shared request budget only when the API itself sent it,
  and never beyond the cap;
- every body is read within bounds: JSON answers and error answers (a prefix only),
  artifacts (``max_download_bytes``, by Content-Length and while streaming), a body cut
  short of its Content-Length is never saved, a trickled body ends at about
  ``request_timeout`` (the test's clock advances per byte);
- server-named URLs (a ``url_`` artifact's, an upload target, every redirect hop) are
  https on public hosts only, or on the API's own origin; saved extensions come from a
  fixed list;
- no error object reachable from a call holds the key (a recursive search of its
  attributes, causes, requests, responses, redirect history and pickle);
- the HTML-stripping of error text is linear; ids ``.``/``..`` stay one path segment;
  URL tokens stay out of Document metadata, traces and ``vlmrun_source`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_vlmrun import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncVLMRunClient,
    InternalServerError,
    RequestBudget,
    ResponseRefusedError,
    RetryPolicy,
    UnreadableResponseError,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunLoader,
)
from langchain_vlmrun.client import _boundary
from langchain_vlmrun.client._client import ClientHooks
from langchain_vlmrun.core.errors import status_error_from_response
from tests.mock_api import BASE, ScriptedAPI, execution, one_execution
from tests.support import TraceRecorder

KEY = "sk-test-SECRET-0123456789"
EXECUTION = "ex-1"
MODES = ["sync", "async"]


# --- helpers ------------------------------------------------------------------------


def client_of(
    api: ScriptedAPI, mode: str, *, follow: bool = True, base_url: str = BASE, **kwargs: Any
) -> VLMRunClient | AsyncVLMRunClient:
    """A client on ``api`` (its clock, no real sleeps; no retries unless given) whose
    HTTP client follows redirects, as the clients' own do."""
    kwargs.setdefault("retry", RetryPolicy(max_retries=0, jitter=lambda: 1.0))
    transport = httpx.MockTransport(api.handler)
    if mode == "sync":
        return VLMRunClient(
            KEY,
            base_url=base_url,
            http_client=httpx.Client(transport=transport, follow_redirects=follow),
            _hooks=ClientHooks(clock=api.clock, sleep=api.sleep),
            **kwargs,
        )
    return AsyncVLMRunClient(
        KEY,
        base_url=base_url,
        http_client=httpx.AsyncClient(transport=transport, follow_redirects=follow),
        _hooks=ClientHooks(clock=api.clock, sleep=api.asleep),
        **kwargs,
    )


def run(client: VLMRunClient | AsyncVLMRunClient, method: str, *args: Any) -> Any:
    """``client.method(*args)``, awaited for the async client."""
    result = getattr(client, method)(*args)
    return asyncio.run(result) if isinstance(client, AsyncVLMRunClient) else result


class Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body of ``chunk`` repeated ``count`` times (None: endless), for both clients;
    ``on_chunk`` runs before each chunk (e.g. to advance the test's clock)."""

    def __init__(
        self,
        chunk: bytes = b"A" * 4096,
        count: int | None = None,
        on_chunk: Callable[[], None] | None = None,
    ) -> None:
        self.chunk, self.count, self.on_chunk = chunk, count, on_chunk
        self.sent = 0

    def _next(self) -> bool:
        # an endless body still ends after 100,000 chunks: a broken cap fails, not hangs
        if self.sent >= (self.count if self.count is not None else 100_000):
            return False
        if self.on_chunk is not None:
            self.on_chunk()
        self.sent += 1
        return True

    def __iter__(self) -> Iterator[bytes]:
        while self._next():
            yield self.chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self._next():
            yield self.chunk


def files_in(folder: Path) -> list[str]:
    """Every file under ``folder`` (hidden temporary files included)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def url_artifact(url: str) -> ScriptedAPI:
    """VLM Run answering that artifact ``url_abcdef`` is at ``url``."""
    return ScriptedAPI().on("GET", "/artifacts", httpx.Response(200, text=url))


class SpyBudget:
    """A request budget that records what it is told."""

    def __init__(self) -> None:
        self.penalties: list[float | None] = []

    def reserve(self) -> float:
        return 0.0

    def backlog(self) -> float:
        return 0.0

    def penalize(self, retry_after: float | None) -> None:
        self.penalties.append(retry_after)

    def succeeded(self) -> None:
        pass


# --- 1. Retry-After -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_429_from_an_artifact_host_does_not_hold_the_request_budget(
    tmp_path: Path, mode: str
) -> None:
    api = url_artifact("https://cdn.example.com/out/a.mp4")
    api.on(
        "GET",
        "/out/a.mp4",
        httpx.Response(429, headers={"Retry-After": "864000"}),
        httpx.Response(200, content=b"MP4"),
    )
    budget = SpyBudget()
    client = client_of(api, mode, budget=budget, retry=RetryPolicy(max_retries=2))
    saved = run(client, "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert saved.path.read_bytes() == b"MP4"
    assert budget.penalties == []  # a storage host has no say over the account's budget
    assert api.sleeps == [60.0]  # the retry waited the cap, not ten days


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("header", ["864000", "inf", "nan", "-5"])
def test_the_apis_own_429_holds_the_budget_for_at_most_the_cap(mode: str, header: str) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        httpx.Response(429, headers={"Retry-After": header}),
        execution("ex-1", "completed"),
    )
    budget = RequestBudget(60, clock=api.clock)
    client = client_of(api, mode, budget=budget, retry=RetryPolicy(max_retries=2))
    assert run(client, "get_execution", "ex-1").status == "completed"
    assert budget.penalties == 1
    assert budget.backlog() <= 60.0  # the next request waits the cap at most
    assert all(0 <= pause <= 60.0 for pause in api.sleeps)


# --- 2. bounded bodies ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_json_answer_announced_too_large_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(_boundary, "MAX_ANSWER_BYTES", 1000)
    body = Stream(count=1)
    answer = httpx.Response(200, headers={"Content-Length": "5000000000"}, stream=body)
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", lambda request: answer)
    with pytest.raises(ResponseRefusedError, match="Content-Length 5,000,000,000"):
        run(client_of(api, mode), "get_execution", "ex-1")
    assert body.sent == 0


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_json_answer_is_cut_at_the_cap(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(_boundary, "MAX_ANSWER_BYTES", 100_000)
    body = Stream()
    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", lambda r: httpx.Response(200, stream=body)
    )
    with pytest.raises(ResponseRefusedError, match="more than 100,000 bytes arrived"):
        run(client_of(api, mode, retry=RetryPolicy(max_retries=3)), "get_execution", "ex-1")
    assert body.sent == 100_000 // 4096 + 1  # not retried: the same answer would come back
    assert api.calls("GET", "/agent/executions/ex-1") == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("count", [None, 1_000])  # endless, and 4 MB with a length
def test_only_the_start_of_an_error_answer_is_read(mode: str, count: int | None) -> None:
    body = Stream(chunk=b"<p>Internal failure</p>" * 100, count=count)
    headers = {} if count is None else {"Content-Length": str(len(body.chunk) * count)}
    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", lambda r: httpx.Response(500, headers=headers, stream=body)
    )
    with pytest.raises(InternalServerError) as raised:
        run(client_of(api, mode), "get_execution", "ex-1")
    assert len(raised.value.response.content) == _boundary.MAX_ERROR_BODY_BYTES
    assert body.sent <= _boundary.MAX_ERROR_BODY_BYTES // len(body.chunk) + 1
    assert raised.value.message.startswith("500 Internal Server Error: Internal failure ")
    assert len(raised.value.message) < 500  # 300 characters of the text, and advice


@pytest.mark.parametrize("mode", MODES)
def test_an_artifact_announced_over_max_download_bytes_is_refused_and_not_saved(
    tmp_path: Path, mode: str
) -> None:
    body = Stream(count=1)
    answer = httpx.Response(
        200, headers={"Content-Length": str(2 * 1024**3), "Content-Type": "image/png"}, stream=body
    )
    api = ScriptedAPI().on("GET", "/artifacts", lambda r: answer)
    client = client_of(api, mode)
    assert client.max_download_bytes == 1024**3  # the default: 1 GiB
    with pytest.raises(ResponseRefusedError, match=r"max_download_bytes=\.\.\.") as raised:
        run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path)
    assert "Content-Length 2,147,483,648, over the limit of 1,073,741,824" in str(raised.value)
    assert body.sent == 0 and files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_artifact_is_cut_at_max_download_bytes_and_not_saved(
    tmp_path: Path, mode: str
) -> None:
    body = Stream()
    api = url_artifact("https://cdn.example.com/out/a.png")
    api.on("GET", "/out/a.png", lambda r: httpx.Response(200, stream=body))
    client = client_of(api, mode, max_download_bytes=100_000)
    with pytest.raises(ResponseRefusedError, match="more than 100,000 bytes arrived"):
        run(client, "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert body.sent == 100_000 // 4096 + 1
    assert files_in(tmp_path) == []  # no partial file, no temporary file


@pytest.mark.parametrize("mode", MODES)
def test_an_artifact_cut_short_of_its_content_length_is_never_saved(
    tmp_path: Path, mode: str
) -> None:
    short = httpx.Response(200, headers={"Content-Length": "100"}, content=b"0123456789")
    api = ScriptedAPI().on("GET", "/artifacts", lambda r: short)
    client = client_of(api, mode, retry=RetryPolicy(max_retries=1, jitter=lambda: 1.0))
    with pytest.raises(APIConnectionError, match="ended after 10 of the 100 bytes"):
        run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path)
    assert api.calls("GET", "/artifacts") == 2  # a cut connection is retried
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_cut_short_is_a_connection_error_not_a_parse_error(mode: str) -> None:
    whole = json.dumps({"id": "ex-1", "status": "completed", "usage": {}}).encode()
    cut = httpx.Response(200, headers={"Content-Length": str(len(whole) + 5)}, content=whole)
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", lambda r: cut)
    with pytest.raises(APIConnectionError, match="connection was cut short") as raised:
        run(client_of(api, mode), "get_execution", "ex-1")
    assert raised.value.request_sent


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("what", ["answer", "artifact"])
def test_a_body_trickled_a_byte_a_second_ends_at_about_request_timeout(
    tmp_path: Path, mode: str, what: str
) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 1.0  # each byte arrives a second after the one before

    body = Stream(chunk=b"x", count=1000, on_chunk=tick)
    route = "/artifacts" if what == "artifact" else "/agent/executions/ex-1"
    api.on("GET", route, lambda r: httpx.Response(200, stream=body))
    client = client_of(api, mode, request_timeout=2.0)
    with pytest.raises(APITimeoutError, match=r"raise request_timeout=\.\.\."):
        if what == "artifact":
            run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path)
        else:
            run(client, "get_execution", "ex-1")
    assert body.sent == 3  # about request_timeout's worth of bytes, not the 1000 s of them
    assert files_in(tmp_path) == []


def test_a_large_body_on_a_working_link_is_not_cut_by_the_deadline(tmp_path: Path) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 1.0  # 64 KiB a second, for ten seconds

    body = Stream(chunk=b"x" * _boundary.MIN_BODY_RATE, count=10, on_chunk=tick)
    api.on("GET", "/artifacts", lambda r: httpx.Response(200, stream=body))
    client = client_of(api, "sync", request_timeout=2.0)
    saved = client.download_artifact(EXECUTION, "img_abcdef", tmp_path)
    assert saved.size == 10 * _boundary.MIN_BODY_RATE  # 2 s, plus a second per 64 KiB


def test_max_download_bytes_is_one_setting_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="max_download_bytes must be an integer > 0"):
        VLMRunClient(KEY, max_download_bytes=0)
    with pytest.raises(TypeError, match="max_download_bytes must be an integer"):
        VLMRunClient(KEY, max_download_bytes=1.5)  # type: ignore[arg-type]
    client = VLMRunClient(KEY, max_download_bytes=5)
    assert AsyncVLMRunClient(**client.sibling_settings()).max_download_bytes == 5
    from langchain_vlmrun.client._settings import ClientSettings

    settings = ClientSettings(api_key=KEY, max_download_bytes=7)
    assert settings.new_client().max_download_bytes == 7
    assert settings.new_async_client().max_download_bytes == 7


# --- 3. URLs the server names -------------------------------------------------------------


REFUSED_URLS = [
    ("http://169.254.169.254/latest/meta-data", "it is http, not https"),
    ("https://169.254.169.254/latest/meta-data", "not a public address"),
    ("https://10.0.0.7/a.png", "not a public address"),
    ("https://192.168.1.1/a.png", "not a public address"),
    ("https://100.64.0.1/a.png", "not a public address"),
    ("https://127.0.0.1:8443/a.png", "not a public address"),
    ("https://0.0.0.0/a.png", "not a public address"),
    ("https://[::1]/a.png", "not a public address"),
    ("https://[fe80::1]/a.png", "not a public address"),
    ("https://[::ffff:127.0.0.1]/a.png", "not a public address"),
    ("https://2130706433/a.png", "not a public address"),  # 127.0.0.1 as one number
    ("https://0x7f.1/a.png", "not a public address"),
    ("https://localhost/a.png", "names this machine or a local network"),
    ("https://LOCALHOST./a.png", "names this machine or a local network"),
    ("https://api.localhost/a.png", "names this machine or a local network"),
    ("https://metadata.google.internal/a.png", "names this machine or a local network"),
    ("https://printer.local/a.png", "names this machine or a local network"),
    ("https://intranet/a.png", "not a fully qualified name"),
    ("http://cdn.example.com/a.png", "it is http, not https"),
]


@pytest.mark.parametrize(("url", "problem"), REFUSED_URLS)
def test_a_url_artifact_is_fetched_only_from_a_public_https_host(
    tmp_path: Path, url: str, problem: str
) -> None:
    api = url_artifact(url)
    with pytest.raises(ResponseRefusedError, match=problem) as raised:
        client_of(api, "sync").download_artifact(EXECUTION, "url_abcdef", tmp_path)
    assert "set base_url to it" in str(raised.value)  # the fix for a private deployment
    assert [r.url.path for r in api.requests] == ["/v1/artifacts"]  # nothing fetched
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_every_redirect_hop_of_an_artifact_url_is_checked(tmp_path: Path, mode: str) -> None:
    api = url_artifact("https://cdn.example.com/out/a.png")
    to_metadata = {"Location": "https://169.254.169.254/latest/meta-data/iam"}
    api.on("GET", "/out/a.png", httpx.Response(302, headers=to_metadata))
    api.on("GET", "/latest/meta-data/iam", httpx.Response(200, content=b"SECRET ROLE"))
    with pytest.raises(ResponseRefusedError, match=r"redirect of the URL .*169\.254\.169\.254"):
        run(client_of(api, mode), "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert [r.url.host for r in api.requests] == ["api.test", "cdn.example.com"]
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_to_another_public_https_host_is_followed(tmp_path: Path, mode: str) -> None:
    api = url_artifact("https://cdn.example.com/out/a.png")
    api.on(
        "GET", "/out/a.png", httpx.Response(302, headers={"Location": "https://s3.example.net/b"})
    )
    api.on("GET", "/b", httpx.Response(200, content=b"PNG", headers={"Content-Type": "image/png"}))
    saved = run(client_of(api, mode), "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert saved.path.name == "url_abcdef.png" and saved.path.read_bytes() == b"PNG"


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_is_refused_after_the_http_clients_limit(tmp_path: Path, mode: str) -> None:
    api = url_artifact("https://cdn.example.com/loop")
    api.on(
        "GET", "/loop", httpx.Response(302, headers={"Location": "https://cdn.example.com/loop"})
    )
    with pytest.raises(ResponseRefusedError, match="more than 20 redirects"):
        run(client_of(api, mode), "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert sum(1 for r in api.requests if r.url.path == "/loop") == 21
    assert files_in(tmp_path) == []


def test_urls_on_the_apis_own_origin_are_trusted_as_the_api_is(tmp_path: Path) -> None:
    # a local deployment (or the test emulator): base_url is http on loopback
    local = "http://127.0.0.1:8000"
    api = url_artifact(f"{local}/storage/out.png")
    api.on("GET", "/storage/out.png", httpx.Response(200, content=b"PNG"))
    client = client_of(api, "sync", base_url=f"{local}/v1")
    assert client.download_artifact(EXECUTION, "url_abcdef", tmp_path).size == 3
    other_port = url_artifact("http://127.0.0.1:9000/storage/out.png")
    with pytest.raises(ResponseRefusedError, match=r"API's own origin, http://127\.0\.0\.1:8000/"):
        client_of(other_port, "sync", base_url=f"{local}/v1").download_artifact(
            EXECUTION, "url_abcdef", tmp_path / "other"
        )


PRESIGNED = {"id": "file-9", "content_type": "video/mp4", "upload_method": "PUT"}
FILE = {"id": "file-9", "filename": "clip.mp4", "bytes": 2048, "purpose": "assistants"}


def presigned_api(target: str) -> ScriptedAPI:
    api = ScriptedAPI()
    api.on("POST", "/files/presigned-url", httpx.Response(200, json={**PRESIGNED, "url": target}))
    api.on("GET", "/files/verify-upload/file-9", httpx.Response(200, json=FILE))
    return api


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "target", ["http://storage.example.com/up", "https://10.1.2.3/up", "https://localhost/up"]
)
def test_a_presigned_upload_goes_only_to_a_public_https_host(
    tmp_path: Path, mode: str, target: str
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2036)
    api = presigned_api(target)
    client = client_of(api, mode, presigned_threshold=1024)
    with pytest.raises(ResponseRefusedError, match="Refused to fetch the upload URL"):
        run(client, "upload_file", path)
    assert [r.method for r in api.requests if r.url.path == "/up"] == []  # the file stayed


@pytest.mark.parametrize("mode", MODES)
def test_a_presigned_upload_is_never_redirected(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2036)
    api = presigned_api("https://storage.example.com/up")
    elsewhere = {"Location": "https://attacker.example.org/collect"}
    api.on("PUT", "/up", httpx.Response(307, headers=elsewhere))
    with pytest.raises(APIStatusError, match="307"):
        run(client_of(api, mode, presigned_threshold=1024), "upload_file", path)
    assert [r.url.host for r in api.requests if r.method == "PUT"] == ["storage.example.com"]


@pytest.mark.parametrize(
    ("object_id", "content_type", "url", "name"),
    [
        ("img_abcdef", "application/x-msdownload", None, "img_abcdef.png"),
        ("doc_abcdef", "text/html", None, "doc_abcdef.pdf"),
        ("url_abcdef", "text/html", "https://cdn.example.com/x/run.html", "url_abcdef.bin"),
        ("url_abcdef", None, "https://cdn.example.com/x/setup.exe", "url_abcdef.bin"),
        (
            "url_abcdef",
            "application/x-sh",
            "https://cdn.example.com/x/install.sh",
            "url_abcdef.bin",
        ),
        ("url_abcdef", None, "https://cdn.example.com/x/clip.MP4", "url_abcdef.mp4"),
        ("url_abcdef", "image/webp", "https://cdn.example.com/x/y.exe", "url_abcdef.webp"),
    ],
)
def test_saved_extensions_come_from_a_fixed_list(
    tmp_path: Path, object_id: str, content_type: str | None, url: str | None, name: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    api = url_artifact(url) if url else ScriptedAPI()
    route = httpx.URL(url).path if url else "/artifacts"
    api.on("GET", route, httpx.Response(200, headers=headers, content=b"x"))
    saved = client_of(api, "sync").download_artifact(EXECUTION, object_id, tmp_path)
    assert saved.path.name == name
    assert files_in(tmp_path) == [f"{EXECUTION}/{name}"]


# --- 4. the key is never reachable from an error --------------------------------------


def key_paths(value: Any, key: str = KEY) -> list[str]:
    """Where ``key`` can be found from ``value``: a recursive search of exceptions (args,
    attributes, ``__cause__``, ``__context__``), requests (URL, headers, body read),
    responses (request, headers, body read, ``history``, ``next_request``), mappings,
    sequences and plain objects' attributes."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(obj: Any, where: str, depth: int) -> None:
        if obj is None or isinstance(obj, (bool, int, float)) or depth > 12:
            return
        if isinstance(obj, str):
            if key in obj:
                found.append(where)
            return
        if isinstance(obj, (bytes, bytearray)):
            if key.encode() in obj:
                found.append(where)
            return
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, httpx.URL):
            walk(str(obj), where, depth)
        elif isinstance(obj, httpx.Headers):
            walk(list(obj.raw), f"{where}.headers", depth + 1)
        elif isinstance(obj, httpx.Request):
            walk(obj.url, f"{where}.url", depth + 1)
            walk(obj.headers, where, depth + 1)
            walk(getattr(obj, "_content", None), f"{where}.content", depth + 1)
        elif isinstance(obj, httpx.Response):
            with contextlib.suppress(RuntimeError):  # a response without a request
                walk(obj.request, f"{where}.request", depth + 1)
            walk(obj.headers, where, depth + 1)
            walk(getattr(obj, "_content", None), f"{where}.content", depth + 1)
            walk(obj.next_request, f"{where}.next_request", depth + 1)
            for i, hop in enumerate(obj.history):
                walk(hop, f"{where}.history[{i}]", depth + 1)
        elif isinstance(obj, BaseException):
            walk(obj.args, f"{where}.args", depth + 1)
            walk(obj.__cause__, f"{where}.__cause__", depth + 1)
            walk(obj.__context__, f"{where}.__context__", depth + 1)
            walk(vars(obj), where, depth + 1)
        elif isinstance(obj, dict):
            for name, item in obj.items():
                walk(name, f"{where}[{name!r}]", depth + 1)
                walk(item, f"{where}.{name}", depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for i, item in enumerate(obj):
                walk(item, f"{where}[{i}]", depth + 1)
        elif hasattr(obj, "__dict__"):
            walk(vars(obj), where, depth + 1)

    walk(value, "error", 0)
    return found


def held_request(error: APIError) -> httpx.Request:
    """The request ``error`` holds, checked to carry no key (for the checks of its URL)."""
    request = error.request
    assert request is not None and request.headers["authorization"] == "[redacted]"
    return request


def raises(exc: type[httpx.HTTPError], text: str = "boom") -> Callable[[httpx.Request], Any]:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc(text, request=request)

    return reply


def bare_http_error(request: httpx.Request) -> httpx.Response:
    error = httpx.HTTPError(f"failed with {request.headers['authorization']}")
    error.request = request
    raise error


def gzip_garbage(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip at all")


def to_same_origin_failure(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/ex-1"):
        return httpx.Response(302, headers={"Location": f"{BASE}/agent/executions/ex-2"})
    return httpx.Response(401, json={"detail": "Invalid API key"})


FAILURES: dict[str, tuple[Callable[[httpx.Request], httpx.Response], type[APIError], bool]] = {
    # name: (answer to every request, error expected, whether the client follows redirects)
    "too many redirects": (raises(httpx.TooManyRedirects), ResponseRefusedError, True),
    "decoding error": (raises(httpx.DecodingError), UnreadableResponseError, True),
    "read timeout": (raises(httpx.ReadTimeout), APITimeoutError, True),
    "connect error": (raises(httpx.ConnectError), APIConnectionError, True),
    "remote protocol": (raises(httpx.RemoteProtocolError), APIConnectionError, True),
    "proxy error": (raises(httpx.ProxyError), APIConnectionError, True),
    "unsupported protocol": (raises(httpx.UnsupportedProtocol), APIConnectionError, True),
    "key in the message": (
        raises(httpx.LocalProtocolError, f"Illegal header value b'Bearer {KEY}'"),
        APIConnectionError,
        True,
    ),
    "bare HTTPError": (bare_http_error, APIConnectionError, True),
    "gzip garbage": (gzip_garbage, UnreadableResponseError, True),
    "401": (lambda r: httpx.Response(401, json={"detail": "no"}), APIStatusError, True),
    "401 after a redirect": (to_same_origin_failure, APIStatusError, True),
    "redirect not followed": (to_same_origin_failure, APIStatusError, False),
    "redirect loop": (
        lambda r: httpx.Response(302, headers={"Location": str(r.url)}),
        ResponseRefusedError,
        True,
    ),
    "cut short": (
        lambda r: httpx.Response(200, headers={"Content-Length": "99"}, content=b"{}"),
        APIConnectionError,
        True,
    ),
    "endless error": (lambda r: httpx.Response(500, stream=Stream()), APIStatusError, True),
    "unreadable json": (
        lambda r: httpx.Response(200, text="<html>"),
        UnreadableResponseError,
        True,
    ),
    "429": (
        lambda r: httpx.Response(429, headers={"Retry-After": "inf"}),
        APIStatusError,
        True,
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", list(FAILURES))
def test_no_error_holds_the_key_anywhere(mode: str, failure: str) -> None:
    answer, expected, follow = FAILURES[failure]
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", answer)
    api.on("GET", "/agent/executions/ex-2", answer)
    with pytest.raises(expected) as raised:
        run(client_of(api, mode, follow=follow), "get_execution", "ex-1")
    error = raised.value
    assert api.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    assert key_paths(error) == []
    assert KEY not in repr(error) and KEY not in str(error)
    assert KEY.encode() not in pickle.dumps(error)
    if failure == "401 after a redirect":
        (hop,) = error.response.history  # type: ignore[attr-defined]
        assert hop.request.headers["authorization"] == "[redacted]"
    if failure == "redirect not followed":
        assert error.response.next_request.headers["authorization"] == "[redacted]"  # type: ignore[attr-defined]


# --- 5. linear HTML stripping -------------------------------------------------------------


def test_stripping_tags_from_a_megabyte_of_angle_brackets_is_linear() -> None:
    # a quadratic pattern takes minutes on this: the test's timeout is the judge
    hostile = "<" * 1_000_000 + "<b>the real message</b>"
    error = status_error_from_response(
        httpx.Response(502, text=hostile, request=httpx.Request("GET", BASE))
    )
    assert error.message == "502 Bad Gateway: " + "<" * 300
    tags = "<a<b<c>" * 150_000 + " <i>gateway</i> down"
    error = status_error_from_response(
        httpx.Response(502, text=tags[-40:], request=httpx.Request("GET", BASE))
    )
    assert "gateway down" in error.message
    assert status_error_from_response(
        httpx.Response(502, text=tags, request=httpx.Request("GET", BASE))
    ).message.startswith("502 Bad Gateway: <a<b <a<b")


# --- 6. ids and URL tokens ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("execution_id", "sent"), [("..", "%2E%2E"), (".", "%2E"), ("a/../b", "a%2F..%2Fb")]
)
def test_an_execution_id_stays_one_path_segment(mode: str, execution_id: str, sent: str) -> None:
    api = ScriptedAPI()
    with pytest.raises(APIStatusError):  # whatever the server answers, it was asked right
        run(client_of(api, mode), "get_execution", execution_id)
    assert api.requests[0].url.raw_path.decode() == f"/v1/agent/executions/{sent}"


@pytest.mark.parametrize("execution_id", ["..", ".", " .. "])
def test_an_execution_id_cannot_name_a_folder_outside_the_artifacts(
    tmp_path: Path, execution_id: str
) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match="execution id"):
        client_of(api, "sync").download_artifact(execution_id, "img_abcdef", tmp_path / "a")
    assert api.requests == [] and files_in(tmp_path) == []


SIGNED = (
    "https://files.example.com/q3.pdf?page=2&token=T0K3N&sig=S1G"
    "&X-Amz-Signature=AMZS1G&X-Amz-Credential=AKIA%2F1&access_token=ACC3SS"
)
SHOWN = (
    "https://files.example.com/q3.pdf?page=2&token=[redacted]&sig=[redacted]"
    "&X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&access_token=[redacted]"
)
SECRETS = ["T0K3N", "S1G", "AMZS1G", "AKIA", "ACC3SS"]


def secrets_in(*parts: Any) -> list[str]:
    text = json.dumps(parts, default=repr)
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("mode", MODES)
def test_url_tokens_stay_out_of_metadata_events_and_traces(mode: str) -> None:
    api = one_execution({"text": "Q3 revenue grew."})
    recorder = TraceRecorder()
    loader = VLMRunLoader(
        SIGNED,
        prompt="Summarise",
        client=api.client(),
        async_client=api.async_client(),
        callbacks=[recorder],
    )
    docs = loader.load() if mode == "sync" else asyncio.run(loader.aload())
    assert docs and {d.metadata["source"] for d in docs} == {SHOWN}
    events = [seen for seen in recorder.seen if isinstance(seen, dict) and "source" in seen]
    assert events and all(event["source"] == SHOWN for event in events)
    assert secrets_in([d.metadata for d in docs], recorder.seen) == []
    (sent,) = [r for r in api.requests if r.url.path.endswith("/agent/execute")]
    assert "T0K3N" in sent.content.decode()  # VLM Run needs the URL whole to fetch it


@pytest.mark.parametrize("mode", MODES)
def test_url_tokens_stay_out_of_the_tools_trace_and_artifact(mode: str) -> None:
    api = one_execution({"text": "Q3 revenue grew."})
    recorder = TraceRecorder()
    tool = VLMRunAgentTool(prompt="Summarise", client=api.client(), async_client=api.async_client())
    call = {"type": "tool_call", "id": "call-0", "name": tool.name, "args": {"file": SIGNED}}
    config: Any = {"callbacks": [recorder]}
    message = (
        tool.invoke(call, config) if mode == "sync" else asyncio.run(tool.ainvoke(call, config))
    )
    assert message.status == "success" and message.artifact.source == SHOWN
    traced = [seen for seen in recorder.seen if seen not in ({"file": SIGNED}, SIGNED)]
    assert traced and secrets_in(traced, message.content, message.artifact.model_dump()) == []
