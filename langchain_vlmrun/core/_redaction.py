"""Keeping secrets out of everything the package hands back or writes down.

The API key travels only in the ``Authorization`` header of requests being sent.
Errors carry a copy of the request with that header redacted (and so do the responses
they hold, their redirect history included: :func:`redact_response`); a file URL kept
as a source (metadata, trace inputs, ``vlmrun_source`` events, tool artifacts) loses
its credentials and the values of signature-like query parameters
(:func:`redact_url`); URLs shown in messages and logs lose credentials and the query
string (:func:`safe_url`); httpx's own INFO log line for a presigned upload is
redacted by a logging filter installed on the ``httpx`` logger.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import httpx

__all__ = [
    "REDACTED",
    "install_log_filter",
    "redact_request",
    "redact_response",
    "redact_url",
    "url_without_credentials",
    "safe_url",
]

REDACTED = "[redacted]"

#: Query parameters that carry signatures, credentials or tokens (presigned URLs of
#: S3, GCS and Azure, ``?token=``, ``?access_token=``, ``?api_key=``...).
SENSITIVE_QUERY = re.compile(
    r"(^|[-_.])(sig|signature|token|credential|key|apikey|secret|password|passwd|auth"
    r"|authorization|policy|x-amz-[a-z-]+|x-goog-[a-z-]+)$",
    re.IGNORECASE,
)


def safe_url(url: httpx.URL | str) -> str:
    """``url`` fit for messages and logs: credentials and the query string removed.

    Example:
        >>> safe_url("https://u:p@storage.test/up/f-1?X-Amz-Signature=abc&x=1")
        'https://storage.test/up/f-1'
    """
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(query=None, username=None, password=None))


#: ``scheme://userinfo@``: what a URL that cannot be parsed loses all the same.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def redact_url(url: str) -> str:
    """``url`` as it may be kept and shown (Document metadata, trace inputs, events):
    without credentials, and with the values of signature-like query parameters
    (:data:`SENSITIVE_QUERY`: ``sig``, ``token``, ``X-Amz-Signature``...) replaced by
    ``[redacted]``; the rest is kept as it is (it names the file).

    Example:
        >>> redact_url("https://user:secret@example.com/a.pdf?x=1")
        'https://example.com/a.pdf?x=1'
        >>> redact_url("https://files.test/a.pdf?page=2&token=abc&X-Amz-Signature=f00")
        'https://files.test/a.pdf?page=2&token=[redacted]&X-Amz-Signature=[redacted]'
    """
    return _redact_params(url_without_credentials(url))


def _redact_params(url: str) -> str:
    """The values of sensitive ``name=value`` pairs of the query and fragment replaced."""
    head, hash_, fragment = url.partition("#")
    base, question, query = head.partition("?")
    if not query and not fragment:
        return url
    return f"{base}{question}{_redact_pairs(query)}{hash_}{_redact_pairs(fragment)}"


def _redact_pairs(text: str) -> str:
    pairs = []
    for pair in text.split("&"):
        name, equals, _value = pair.partition("=")
        sensitive = equals and SENSITIVE_QUERY.search(unquote_plus(name))
        pairs.append(f"{name}={REDACTED}" if sensitive else pair)
    return "&".join(pairs)


def url_without_credentials(url: str) -> str:
    """``url`` without credentials, the rest kept (for identities that are hashed).

    A user name alone is a credential too (``https://token@host``); the port and an
    IPv6 host's brackets stay. A URL too malformed to parse still loses whatever
    stands between ``://`` and the last ``@`` of its authority.

    Example:
        >>> url_without_credentials("https://token@[::1]:8443/a.pdf")
        'https://[::1]:8443/a.pdf'
        >>> url_without_credentials("https://token@[::1/a.pdf")
        'https://[::1/a.pdf'
    """
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return _USERINFO.sub(r"\1", url)


def redact_query(url: httpx.URL) -> httpx.URL:
    """``url`` with the values of signature-like query parameters replaced."""
    if not url.query:
        return url
    params = [
        (name, REDACTED if SENSITIVE_QUERY.search(name) else value)
        for name, value in url.params.multi_items()
    ]
    return url.copy_with(params=params)


def redact_request(request: httpx.Request) -> httpx.Request:
    """A copy of ``request`` (method, redacted URL, headers) without the API key.

    Example:
        >>> key = {"Authorization": "Bearer k"}
        >>> sent = httpx.Request("GET", "https://api.test/v1/x", headers=key)
        >>> redact_request(sent).headers["authorization"]
        '[redacted]'
    """
    headers = httpx.Headers(request.headers)
    for name in ("authorization", "proxy-authorization", "cookie"):
        if name in headers:
            headers[name] = REDACTED
    return httpx.Request(request.method, redact_query(request.url), headers=headers)


def redact_response(response: httpx.Response) -> httpx.Response:
    """``response`` (changed in place, and returned) holding no request with the key:
    its request, the redirect it points to (``next_request``) and, after redirects,
    every earlier response of its ``history`` are redacted copies."""
    pending, seen = [response], set()
    while pending:
        hop = pending.pop()
        if id(hop) in seen:
            continue
        seen.add(id(hop))
        with contextlib.suppress(RuntimeError):  # a response built without a request
            hop.request = redact_request(hop.request)
        if hop.next_request is not None:
            hop.next_request = redact_request(hop.next_request)
        pending.extend(hop.history)
    return response


class _PresignedLogFilter(logging.Filter):
    """Redacts signature-like query parameters in URLs that httpx logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) for arg in record.args
        ):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        return True


def _redact_arg(arg: Any) -> Any:
    return redact_query(arg) if isinstance(arg, httpx.URL) else arg


_FILTER = _PresignedLogFilter()


def install_log_filter() -> None:
    """Add the filter to the ``httpx`` logger (once)."""
    target = logging.getLogger("httpx")
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)
