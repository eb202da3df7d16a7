"""The redaction helpers, each pinned down as the rest of the package relies on it.

``safe_url`` (messages and logs) drops credentials and the query; ``redact_url`` (what is
kept of a file URL) drops credentials and the values of signature-like query parameters
and leaves the rest untouched;
``redact_request`` (the copy an error carries) hides the key, proxy credentials, cookies
and signature-like query values; the filter on the ``httpx`` logger hides presigned
signatures in httpx's own log lines and leaves every other record as it was.
(``test_redaction.py`` follows a credential in a file URL through the components.)
"""

from __future__ import annotations

import logging
import string

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_vlmrun import AuthenticationError, VLMRunClient
from langchain_vlmrun.core import _redaction
from langchain_vlmrun.core._redaction import (
    REDACTED,
    install_log_filter,
    redact_request,
    redact_url,
    safe_url,
    url_without_credentials,
)

KEY = "sk-live-KEY-0123456789"

# --- safe_url -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h.test/a.pdf?x=1", "https://h.test/a.pdf"),
        ("https://tok3n@h.test/a.pdf", "https://h.test/a.pdf"),  # a user name alone
        ("https://:pa55@h.test/a.pdf", "https://h.test/a.pdf"),  # a password alone
        ("https://h.test/up/f-1?X-Amz-Signature=abc&x=1", "https://h.test/up/f-1"),
        ("http://h.test:8080/a/b?x#page=2", "http://h.test:8080/a/b#page=2"),
        ("https://api.test/v1/files", "https://api.test/v1/files"),
    ],
)
def test_safe_url_shows_where_without_credentials_or_query(url: str, shown: str) -> None:
    assert safe_url(url) == shown
    assert safe_url(httpx.URL(url)) == shown


def test_an_unreachable_base_url_is_named_without_its_credentials() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = VLMRunClient(
        KEY,
        base_url="https://proxyuser:proxypass@api.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
        retry=None,
        retry_timeout=0,
    )
    with pytest.raises(Exception) as raised:
        client.get_execution("ex-1")
    message = str(raised.value)
    assert "https://api.test/v1/agent/executions/ex-1" in message
    assert "proxyuser" not in message and "proxypass" not in message and KEY not in message


# --- redact_url -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://tok@/a.pdf", "https:///a.pdf"),  # no host: nothing is put in its place
        ("https://tok@:8443/a.pdf", "https://:8443/a.pdf"),
        ("https://u:p@Files.Example.COM/A.pdf", "https://files.example.com/A.pdf"),
    ],
)
def test_redact_url_of_odd_authorities(url: str, shown: str) -> None:
    assert redact_url(url) == shown


plain_urls = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTPS", "s3", "gs"]),
    st.text(alphabet=string.ascii_letters + string.digits + ".-", min_size=1, max_size=20),
    st.sampled_from(["", ":", ":8443", ":0"]),
    st.from_regex(r"(/[A-Za-z0-9._%~-]{0,12}){0,3}", fullmatch=True),
    st.sampled_from(["", "?x=1", "?Sig=A&b=%20", "#p=2", "?token=t#frag"]),
)


@given(url=plain_urls)
def test_a_url_without_credentials_is_kept_character_for_character(url: str) -> None:
    assert url_without_credentials(url) == url
    # what is shown loses the values of signature-like parameters, and only those
    expected = url.replace("Sig=A", "Sig=[redacted]").replace("token=t", "token=[redacted]")
    assert redact_url(url) == expected


# --- redact_request -------------------------------------------------------------------


def test_redact_request_hides_every_credential_and_keeps_the_rest() -> None:
    sent = httpx.Request(
        "POST",
        "https://api.test/v1/files?token=T0K&Sig=S1G&x=1&mykey=visible",
        headers={
            "Authorization": f"Bearer {KEY}",
            "Proxy-Authorization": "Basic cHJveHk6cHc=",
            "Cookie": "session=C00KIE",
            "X-Request-Id": "req-1",
        },
        content=b"{}",
    )
    copy = redact_request(sent)
    assert copy.method == "POST"
    assert str(copy.url) == (
        "https://api.test/v1/files?token=%5Bredacted%5D&Sig=%5Bredacted%5D&x=1&mykey=visible"
    )
    assert copy.headers["authorization"] == REDACTED
    assert copy.headers["proxy-authorization"] == REDACTED
    assert copy.headers["cookie"] == REDACTED
    assert copy.headers["x-request-id"] == "req-1"
    shown = repr(copy.headers.raw) + str(copy.url)
    for secret in (KEY, "cHJveHk6cHc=", "C00KIE", "T0K", "S1G"):
        assert secret not in shown
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # the sent request is untouched


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", ""),
        ("?x=1&page=2", "?x=1&page=2"),
        ("?X-Amz-Signature=abc&x=1", "?X-Amz-Signature=%5Bredacted%5D&x=1"),
        (
            "?X-Amz-Credential=AKIA&X-Amz-Date=1",
            "?X-Amz-Credential=%5Bredacted%5D&X-Amz-Date=%5Bredacted%5D",
        ),
        ("?X-Goog-Signature=g&alt=media", "?X-Goog-Signature=%5Bredacted%5D&alt=media"),
        (
            "?sig=1&signature=2&SECRET=3",
            "?sig=%5Bredacted%5D&signature=%5Bredacted%5D&SECRET=%5Bredacted%5D",
        ),
        (
            "?api_key=1&access.token=2&my-credential=3",
            "?api_key=%5Bredacted%5D&access.token=%5Bredacted%5D&my-credential=%5Bredacted%5D",
        ),
        ("?mykey=1&keyring=2&tokens=3&signed=4", "?mykey=1&keyring=2&tokens=3&signed=4"),
        ("?token=a&token=b&x=1", "?token=%5Bredacted%5D&token=%5Bredacted%5D&x=1"),
    ],
)
def test_signature_like_query_values_are_redacted_by_name(query: str, shown: str) -> None:
    copy = redact_request(httpx.Request("GET", f"https://s.test/o/f-1{query}"))
    assert str(copy.url) == f"https://s.test/o/f-1{shown}"


def test_an_error_holds_none_of_the_users_proxy_credentials_or_cookies() -> None:
    def deny(request: httpx.Request) -> httpx.Response:
        # what was sent carried them all
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["proxy-authorization"] == "Basic UFJPWFk="
        assert "C00KIE" in request.headers["cookie"]
        return httpx.Response(401, json={"detail": "bad key"})

    user_http = httpx.Client(
        transport=httpx.MockTransport(deny),
        headers={"Proxy-Authorization": "Basic UFJPWFk="},
        cookies={"session": "C00KIE"},
    )
    client = VLMRunClient(
        KEY, base_url="https://api.test/v1", http_client=user_http, retry=None, retry_timeout=0
    )
    with pytest.raises(AuthenticationError) as raised:
        client.get_execution("ex-1")
    error = raised.value
    for request in (error.request, error.response.request):
        assert request is not None
        assert request.headers["authorization"] == REDACTED
        assert request.headers["proxy-authorization"] == REDACTED
        assert request.headers["cookie"] == REDACTED
        assert request.url.path == "/v1/agent/executions/ex-1"
        held = repr(request.headers.raw)
        assert KEY not in held and "UFJPWFk=" not in held and "C00KIE" not in held


# --- the httpx log filter -------------------------------------------------------------


@pytest.fixture
def httpx_logger(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The ``httpx`` logger with no filter yet (as in a fresh process)."""
    logger = logging.getLogger("httpx")
    monkeypatch.setattr(logger, "filters", [])
    return logger


def test_the_filter_is_installed_on_the_httpx_logger_once(httpx_logger: logging.Logger) -> None:
    install_log_filter()
    install_log_filter()
    assert httpx_logger.filters == [_redaction._FILTER]
    VLMRunClient(KEY, base_url="https://api.test/v1")  # a client installs it too, once
    assert httpx_logger.filters == [_redaction._FILTER]


def test_a_client_installs_the_filter(httpx_logger: logging.Logger) -> None:
    VLMRunClient(KEY, base_url="https://api.test/v1")
    assert httpx_logger.filters == [_redaction._FILTER]


def test_httpx_request_lines_keep_all_but_the_signature(
    httpx_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_filter()
    caplog.set_level(logging.INFO, logger="httpx")
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as http:
        http.put("https://storage.test/up/f-9?X-Amz-Signature=deadbeef&part=2", content=b"x")
        http.get("https://storage.test/plain?part=3")
    assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
        "HTTP Request: PUT https://storage.test/up/f-9?X-Amz-Signature=%5Bredacted%5D&part=2"
        ' "HTTP/1.1 200 OK"',
        'HTTP Request: GET https://storage.test/plain?part=3 "HTTP/1.1 200 OK"',
    ]


def test_other_httpx_records_pass_unchanged(
    httpx_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_filter()
    caplog.set_level(logging.INFO, logger="httpx")
    httpx_logger.info("%(who)s closed %(what)s", {"who": "pool", "what": "a connection"})
    httpx_logger.info("no arguments at all")
    httpx_logger.info("%s of %s", "part", "x")
    records = [r for r in caplog.records if r.name == "httpx"]
    assert [r.getMessage() for r in records] == [
        "pool closed a connection",
        "no arguments at all",
        "part of x",
    ]
    assert records[0].args == {"who": "pool", "what": "a connection"}


def test_a_relayed_record_without_arguments_passes(
    httpx_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """A record relayed by a SocketHandler arrives formatted, with ``args`` None."""
    install_log_filter()
    caplog.set_level(logging.INFO, logger="httpx")
    relayed = logging.makeLogRecord(
        {
            "name": "httpx",
            "msg": 'HTTP Request: GET https://api.test/v1/health "HTTP/1.1 200 OK"',
            "args": None,
            "levelno": logging.INFO,
            "levelname": "INFO",
        }
    )
    httpx_logger.handle(relayed)
    assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
        'HTTP Request: GET https://api.test/v1/health "HTTP/1.1 200 OK"'
    ]
