"""The server boundary pinned down (``client/_boundary.py``), from its mutation run.

What a user reads and holds when the clients refuse what a server sent: each refusal's
message word for word (the URL without its query, the reason, the fix) and the request
it carries (the one refused, redacted: no key, no URL signature); the bounds at their
exact edges (a body of exactly its limit, a Content-Length of exactly the limit, a body
arriving exactly at its deadline); a gzip answer, a 204 and a hostile Content-Length;
the trailing dot of a fully qualified name. The sans-IO pieces (:class:`BodyMeter`,
:class:`Hops`) are checked directly only where no call of the clients reaches: their
contracts for any chunking of a body (``hypothesis``), and the methods a server-named
URL is never sent.
"""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_vlmrun import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ResponseRefusedError,
    UnreadableResponseError,
)
from langchain_vlmrun.client import _boundary
from langchain_vlmrun.client._boundary import BodyMeter, Hops, url_problem
from tests.mock_api import ScriptedAPI
from tests.unit_tests.test_server_boundary import (
    EXECUTION,
    KEY,
    MODES,
    Stream,
    client_of,
    files_in,
    held_request,
    presigned_api,
    run,
    url_artifact,
)

FIX = (
    "Server-named URLs are fetched only over https from public hosts (or from the API's "
    "own origin, https://api.test/); for your own deployment on a private network, set "
    "base_url to it."
)
SIGNED = "X-Amz-Signature=S1GN4TURE"
EXECUTION_URL = "https://api.test/v1/agent/executions/ex-1"
COMPLETED = {"id": "ex-1", "status": "completed", "usage": {}}


def holds_no_secret(error: Exception) -> None:
    """Neither the API key nor the URL's signature is anywhere in ``error``."""
    for secret in (KEY, "S1GN4TURE"):
        assert secret not in repr(error) and secret not in str(error)
        assert secret.encode() not in pickle.dumps(error)


# --- refused URLs: the message, and the request refused ------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_download_url_says_why_and_holds_the_refused_get(
    tmp_path: Path, mode: str
) -> None:
    api = url_artifact(f"https://10.0.0.7/a.png?{SIGNED}")
    with pytest.raises(ResponseRefusedError) as raised:
        run(client_of(api, mode), "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert str(raised.value) == (
        "Refused to fetch the download URL the server named, https://10.0.0.7/a.png: its "
        f"host 10.0.0.7 is not a public address. {FIX}"
    )
    refused = raised.value.request
    assert refused is not None and refused.method == "GET"
    assert refused.url.copy_with(query=None) == httpx.URL("https://10.0.0.7/a.png")
    assert refused.url.params["X-Amz-Signature"] == "[redacted]"
    holds_no_secret(raised.value)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_upload_url_says_why_and_holds_the_refused_put(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2036)
    api = presigned_api(f"https://10.1.2.3/up?{SIGNED}")
    with pytest.raises(ResponseRefusedError) as raised:
        run(client_of(api, mode, presigned_threshold=1024), "upload_file", path)
    assert str(raised.value) == (
        "Refused to fetch the upload URL the server named, https://10.1.2.3/up: its host "
        f"10.1.2.3 is not a public address. {FIX}"
    )
    refused = raised.value.request
    assert refused is not None and refused.method == "PUT"  # what would have been sent
    assert refused.url.copy_with(query=None) == httpx.URL("https://10.1.2.3/up")
    assert refused.url.params["X-Amz-Signature"] == "[redacted]"
    holds_no_secret(raised.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_redirect_hop_says_why_and_holds_the_hop(tmp_path: Path, mode: str) -> None:
    api = url_artifact("https://cdn.example.com/out/a.png")
    hop = f"https://169.254.169.254/latest/meta-data/iam?{SIGNED}"
    api.on("GET", "/out/a.png", httpx.Response(302, headers={"Location": hop}))
    with pytest.raises(ResponseRefusedError) as raised:
        run(client_of(api, mode), "download_artifact", EXECUTION, "url_abcdef", tmp_path)
    assert str(raised.value) == (
        "Refused to fetch the redirect of the URL the server named, "
        "https://169.254.169.254/latest/meta-data/iam: its host 169.254.169.254 is not a "
        f"public address. {FIX}"
    )
    refused = raised.value.request
    assert refused is not None and refused.method == "GET"
    assert refused.url.host == "169.254.169.254"
    holds_no_secret(raised.value)


def test_a_url_artifact_with_no_host_is_refused(tmp_path: Path) -> None:
    api = url_artifact("https://./a.png")  # a host of dots only: nothing to trust
    with pytest.raises(ResponseRefusedError) as raised:
        client_of(api, "sync").download_artifact(EXECUTION, "url_abcdef", tmp_path)
    assert str(raised.value) == (
        "Refused to fetch the download URL the server named, https://./a.png: it has no "
        f"host. {FIX}"
    )
    assert [r.url.path for r in api.requests] == ["/v1/artifacts"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("//cdn.example.com/a.png", "it is schemeless, not https"),
        ("ftp://cdn.example.com/a.png", "it is ftp, not https"),
        ("https:///a.png", "it has no host"),
        ("https://.../a.png", "it has no host"),
        ("https://cdn.example.com./a.png", None),  # a fully qualified name, root dot
        (
            "https://printer.local./a.png",
            "its host printer.local names this machine or a local network",
        ),
        ("https://intranet./a.png", "its host intranet is not a fully qualified name"),
        ("https://[::ffff:10.0.0.1]/a.png", "its host ::ffff:10.0.0.1 is not a public address"),
        ("https://[ff02::1]/a.png", "its host ff02::1 is not a public address"),  # multicast
        ("https://[2606:4700::1111]/a.png", None),
        ("https://1.1.1.1/a.png", None),
    ],
)
def test_url_problem_names_the_reason(url: str, problem: str | None) -> None:
    assert url_problem(httpx.URL(url)) == problem


@pytest.mark.parametrize("mode", MODES)
def test_a_trailing_dot_names_the_apis_own_host(tmp_path: Path, mode: str) -> None:
    # a private deployment: its own URLs are trusted, spelled with the root dot or not
    base = "http://vlmrun.internal:8000/v1"
    api = url_artifact("http://vlmrun.internal.:8000/storage/out.png")
    api.on("GET", "/storage/out.png", httpx.Response(200, content=b"PNG"))
    saved = run(
        client_of(api, mode, base_url=base), "download_artifact", EXECUTION, "url_abcdef", tmp_path
    )
    assert saved.path.read_bytes() == b"PNG"


def test_another_port_or_scheme_of_the_apis_host_is_not_its_origin(tmp_path: Path) -> None:
    base = "http://vlmrun.internal:8000/v1"
    for url in ("http://vlmrun.internal:8001/out.png", "https://vlmrun.internal:8000/out.png"):
        api = url_artifact(url)
        with pytest.raises(
            ResponseRefusedError, match=r"API's own origin, http://vlmrun\.internal:8000/"
        ):
            client_of(api, "sync", base_url=base).download_artifact(
                EXECUTION, "url_abcdef", tmp_path
            )


# --- redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_of_the_api_says_where_and_holds_the_request_without_the_key(
    mode: str,
) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        lambda r: httpx.Response(302, headers={"Location": str(r.url)}),
    )
    with pytest.raises(ResponseRefusedError) as raised:
        run(client_of(api, mode), "get_execution", "ex-1")
    assert str(raised.value) == (
        f"Refused to follow more than 20 redirects from {EXECUTION_URL}: the server "
        "redirects in a loop. Check VLMRUN_BASE_URL (base_url=...)."
    )
    assert held_request(raised.value).url == httpx.URL(EXECUTION_URL)
    assert api.calls("GET", "/agent/executions/ex-1") == 21


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_no_method_but_get_and_put_is_sent_to_a_server_named_url(method: str) -> None:
    # the clients only ever build GET and PUT for such URLs (whatever verb an answer
    # names): the guard holds if that changes
    hops = Hops(
        server_named=True, follow=True, max_redirects=20, trusted=httpx.URL("https://api.test/v1")
    )
    request = httpx.Request(
        method,
        f"https://storage.example.com/up?{SIGNED}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    with pytest.raises(ResponseRefusedError) as raised:
        hops.start(request)
    assert str(raised.value) == (
        f"Refused to send {method} to the URL the server named, https://storage.example.com/up: "
        "only GET (downloads) and PUT (uploads) are sent to server-named URLs."
    )
    assert held_request(raised.value).method == method
    holds_no_secret(raised.value)
    # the API's own calls (not server-named) use any method
    own = Hops(
        server_named=False, follow=True, max_redirects=20, trusted=httpx.URL("https://api.test/v1")
    )
    own.start(httpx.Request(method, "https://api.test/v1/files"))


# --- bounded bodies: the edges and the messages ----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_download_of_exactly_max_download_bytes_is_saved(tmp_path: Path, mode: str) -> None:
    announced = httpx.Response(200, headers={"Content-Length": "10"}, content=b"0123456789")
    streamed = Stream(chunk=b"01234", count=2)  # no Content-Length
    api = ScriptedAPI().on(
        "GET", "/artifacts", announced, lambda r: httpx.Response(200, stream=streamed)
    )
    client = client_of(api, mode, max_download_bytes=10)
    assert run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path / "a").size == 10
    assert run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path / "b").size == 10


@pytest.mark.parametrize("mode", MODES)
def test_a_download_announced_one_byte_over_is_refused_word_for_word(
    tmp_path: Path, mode: str
) -> None:
    body = Stream(chunk=b"x" * 11, count=1)
    api = ScriptedAPI().on(
        "GET",
        "/artifacts",
        lambda r: httpx.Response(200, headers={"Content-Length": "11"}, stream=body),
    )
    with pytest.raises(ResponseRefusedError) as raised:
        run(
            client_of(api, mode, max_download_bytes=10),
            "download_artifact",
            EXECUTION,
            "img_abcdef",
            tmp_path,
        )
    assert str(raised.value) == (
        "Refused the download from https://api.test/v1/artifacts: Content-Length 11, over the "
        "limit of 10 bytes. Pass max_download_bytes=... (to the client or the component) to "
        "accept larger files."
    )
    assert body.sent == 0
    assert held_request(raised.value).url.path == "/v1/artifacts"
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_download_streamed_one_byte_over_is_refused_word_for_word(
    tmp_path: Path, mode: str
) -> None:
    body = Stream(chunk=b"0123456789", count=2)
    api = ScriptedAPI().on("GET", "/artifacts", lambda r: httpx.Response(200, stream=body))
    with pytest.raises(ResponseRefusedError) as raised:
        run(
            client_of(api, mode, max_download_bytes=19),
            "download_artifact",
            EXECUTION,
            "img_abcdef",
            tmp_path,
        )
    assert str(raised.value) == (
        "Refused the download from https://api.test/v1/artifacts: more than 19 bytes arrived, "
        "over the limit of 19 bytes. Pass max_download_bytes=... (to the client or the "
        "component) to accept larger files."
    )
    held_request(raised.value)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_answer_over_the_cap_says_it_is_a_service_side_problem(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(_boundary, "MAX_ANSWER_BYTES", 100)
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/ex-1",
        httpx.Response(200, headers={"Content-Length": "101"}, content=b"x" * 101),
    )
    with pytest.raises(ResponseRefusedError) as raised:
        run(client_of(api, mode), "get_execution", "ex-1")
    assert str(raised.value) == (
        f"Refused the answer from {EXECUTION_URL}: Content-Length 101, over the limit of 100 "
        "bytes. That is more than an answer of the API can be: a service-side problem."
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_trickled_answer_is_refused_word_for_word(mode: str) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 1.0  # a byte a second (the test's clock starts at 1,000,000 s)

    body = Stream(chunk=b"x", count=1000, on_chunk=tick)
    api.on("GET", "/agent/executions/ex-1", lambda r: httpx.Response(200, stream=body))
    with pytest.raises(APITimeoutError) as raised:
        run(client_of(api, mode, request_timeout=2.0), "get_execution", "ex-1")
    assert str(raised.value).startswith(  # (then the retry policy's note)
        f"The answer from {EXECUTION_URL} was still arriving after 3.0s (3 bytes): the body "
        "is too slow for request_timeout; raise request_timeout=... if the network is slow."
    )
    assert held_request(raised.value).url == httpx.URL(EXECUTION_URL)


@pytest.mark.parametrize("mode", MODES)
def test_a_body_arriving_exactly_at_its_deadline_is_kept(tmp_path: Path, mode: str) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 3.0  # request_timeout, plus one second for the 64 KiB received

    body = Stream(chunk=b"x" * _boundary.MIN_BODY_RATE, count=1, on_chunk=tick)
    api.on("GET", "/artifacts", lambda r: httpx.Response(200, stream=body))
    client = client_of(api, mode, request_timeout=2.0)
    saved = run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path)
    assert saved.size == _boundary.MIN_BODY_RATE


@pytest.mark.parametrize("mode", MODES)
def test_without_a_read_timeout_a_slow_body_is_read_whole(tmp_path: Path, mode: str) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 60.0

    body = Stream(chunk=b"x", count=50, on_chunk=tick)
    api.on("GET", "/artifacts", lambda r: httpx.Response(200, stream=body))
    client = client_of(api, mode, request_timeout=httpx.Timeout(5.0, read=None))
    saved = run(client, "download_artifact", EXECUTION, "img_abcdef", tmp_path)
    assert saved.size == 50


@pytest.mark.parametrize("mode", MODES)
def test_a_body_cut_short_is_reported_word_for_word(tmp_path: Path, mode: str) -> None:
    short = httpx.Response(200, headers={"Content-Length": "100"}, content=b"0123456789")
    api = ScriptedAPI().on("GET", "/artifacts", short)
    with pytest.raises(APIConnectionError) as raised:
        run(client_of(api, mode), "download_artifact", EXECUTION, "img_abcdef", tmp_path)
    assert str(raised.value).startswith(  # (then the retry policy's note)
        "The download from https://api.test/v1/artifacts ended after 10 of the 100 bytes its "
        "Content-Length announced: the connection was cut short. Check the network (it is "
        "retried)."
    )
    assert raised.value.request_sent
    assert held_request(raised.value).url.path == "/v1/artifacts"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("encoding", ["gzip", " GZIP ", "deflate"])
def test_a_compressed_answer_shorter_decoded_than_on_the_wire_is_read_whole(
    mode: str, encoding: str
) -> None:
    raw = json.dumps(COMPLETED).encode()
    wire = gzip.compress(raw) if "gzip" in encoding.lower() else _deflate(raw)
    assert len(wire) > len(raw)  # its Content-Length is no measure of what is read
    answer = httpx.Response(
        200, headers={"Content-Encoding": encoding, "Content-Length": str(len(wire))}, content=wire
    )
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", answer)
    assert run(client_of(api, mode), "get_execution", "ex-1").status == "completed"


def _deflate(raw: bytes) -> bytes:
    import zlib

    return zlib.compress(raw)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("encoding", ["identity", " Identity "])
def test_an_identity_encoded_answer_cut_short_is_a_connection_error(
    mode: str, encoding: str
) -> None:
    whole = json.dumps(COMPLETED).encode()
    cut = httpx.Response(
        200,
        headers={"Content-Encoding": encoding, "Content-Length": str(len(whole) + 1)},
        content=whole,
    )
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", cut)
    with pytest.raises(APIConnectionError, match="connection was cut short"):
        run(client_of(api, mode), "get_execution", "ex-1")


@pytest.mark.parametrize("mode", MODES)
def test_a_204_has_no_body_whatever_its_content_length_says(mode: str) -> None:
    # not a connection cut short (retried): an answer with no content, refused as such
    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", httpx.Response(204, headers={"Content-Length": "10"})
    )
    with pytest.raises(UnreadableResponseError, match=r"\(HTTP 204\)"):
        run(client_of(api, mode), "get_execution", "ex-1")
    assert api.calls("GET", "/agent/executions/ex-1") == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "length", [b"\xb2", b"\xb9\xb2", b"9" * 5000, b"9" * 21, b"-1", b"0x10", b"1e3", b"10, 10"]
)
def test_a_content_length_that_is_no_number_is_ignored(mode: str, length: bytes) -> None:
    # (before: a superscript digit or 5000 digits escaped the client as a ValueError)
    answer = httpx.Response(200, headers=[(b"Content-Length", length)], json=COMPLETED)
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", answer)
    assert run(client_of(api, mode), "get_execution", "ex-1").status == "completed"


@pytest.mark.parametrize("mode", MODES)
def test_a_padded_content_length_is_read(mode: str) -> None:
    answer = httpx.Response(200, headers=[(b"Content-Length", b" 99 ")], content=b"{}")
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", answer)
    with pytest.raises(APIConnectionError, match="ended after 2 of the 99 bytes"):
        run(client_of(api, mode), "get_execution", "ex-1")


# --- error answers: only their start is read -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_error_answer_keeps_exactly_its_first_bytes_whatever_the_chunks(mode: str) -> None:
    limit = _boundary.MAX_ERROR_BODY_BYTES
    chunks = [b"a" * (limit - 1), b"bcd", b"efg"]

    class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from chunks

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for chunk in chunks:
                yield chunk

    api = ScriptedAPI().on(
        "GET", "/agent/executions/ex-1", lambda r: httpx.Response(500, stream=Chunks())
    )
    with pytest.raises(APIStatusError) as raised:
        run(client_of(api, mode), "get_execution", "ex-1")
    assert raised.value.response.content == b"a" * (limit - 1) + b"b"


@pytest.mark.parametrize("mode", MODES)
def test_a_trickled_error_answer_is_read_until_its_deadline_only(mode: str) -> None:
    api = ScriptedAPI()

    def tick() -> None:
        api.now += 1.0

    body = Stream(chunk=b"x", count=100, on_chunk=tick)
    api.on("GET", "/agent/executions/ex-1", lambda r: httpx.Response(500, stream=body))
    with pytest.raises(APIStatusError) as raised:
        run(client_of(api, mode, request_timeout=2.0), "get_execution", "ex-1")
    assert raised.value.status_code == 500
    assert raised.value.response.content == b"xx"  # the third byte came after 2 s
    assert body.sent == 3


# --- the sans-IO contracts, for any chunking --------------------------------------------------


def _response(headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, headers=headers, request=httpx.Request("GET", EXECUTION_URL))


chunkings = st.lists(st.binary(max_size=40), max_size=12)


@given(chunks=chunkings, limit=st.integers(min_value=1, max_value=200))
def test_feed_refuses_at_the_first_chunk_over_the_limit(chunks: list[bytes], limit: int) -> None:
    meter = BodyMeter(_response(), limit, None, lambda: 0.0)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            with pytest.raises(ResponseRefusedError, match=f"more than {limit:,} bytes arrived"):
                meter.feed(chunk)
            return
        meter.feed(chunk)
    meter.finish()  # no Content-Length: whatever arrived is the body
    assert meter.received == total


@given(chunks=chunkings, limit=st.integers(min_value=1, max_value=200))
def test_prefix_keeps_exactly_the_first_limit_bytes(chunks: list[bytes], limit: int) -> None:
    meter = BodyMeter(_response(), limit, None, lambda: 0.0, truncate=True)
    kept = b""
    for chunk in chunks:  # as the clients read an error answer
        part = meter.prefix(chunk)
        assert part is not None  # only a complete prefix (or a late one) ends the reading
        kept += part
        if meter.full:
            break
    assert kept == b"".join(chunks)[:limit]
    assert meter.full == (len(b"".join(chunks)) >= limit)
    if meter.full:
        assert meter.prefix(b"more") is None  # complete: nothing more is kept
    meter.finish()  # an error answer is never "cut short"


@given(value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF)))
def test_any_content_length_is_read_as_a_length_or_ignored(value: str) -> None:
    response = _response()
    response.headers = httpx.Headers([(b"Content-Length", value.encode("latin-1"))])
    meter = BodyMeter(response, 10**30, None, lambda: 0.0)  # never a ValueError
    shown = response.headers["content-length"].strip()
    digits = shown.isascii() and shown.isdigit() and len(shown) <= 20
    assert meter.expected == (int(shown) if digits else None)


@given(length=st.integers(min_value=0, max_value=10**20 - 1))
def test_every_length_of_up_to_20_digits_is_read(length: int) -> None:
    meter = BodyMeter(_response({"Content-Length": str(length)}), 10**30, None, lambda: 0.0)
    assert meter.expected == length
