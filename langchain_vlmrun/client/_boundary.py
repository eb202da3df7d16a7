"""What the clients accept from a server: how much, how slowly, and which URLs they fetch.

Nothing a server sends is trusted (one that is faulty, or compromised, or in between):

- **Bodies are read within bounds.** A JSON answer is read into memory up to
  :data:`MAX_ANSWER_BYTES`; an error answer only its first :data:`MAX_ERROR_BODY_BYTES`
  (the rest is never read); an artifact streams to disk up to the client's
  ``max_download_bytes`` (:data:`DEFAULT_MAX_DOWNLOAD_BYTES`), checked against its
  Content-Length before the first byte and again while it streams. A body that ends
  short of its Content-Length is a connection error (retried), never a complete file.
- **A body has a deadline**: httpx's timeouts are per read, so a body trickled a byte at
  a time would never time out; here a body must arrive within ``request_timeout``
  seconds of its headers, plus one second per :data:`MIN_BODY_RATE` bytes received
  (a large artifact on a working link is not cut; a trickle ends at about
  ``request_timeout``).
- **URLs the server names** (a ``url_`` artifact's address, a presigned upload target,
  and every redirect on the way) are fetched only over https and never from a
  loopback, private, link-local or otherwise non-public IP address (IPv4 in any
  notation, IPv6, IPv4-mapped IPv6), nor from ``localhost``, ``*.localhost``,
  ``*.local``, ``*.internal`` or a host name without a dot. Host names are not
  resolved: a public name that resolves to a private address is not detected (an
  egress proxy is the place for that). URLs on the API's own origin (``base_url``'s
  scheme, host and port) are trusted as the API itself is. Only GET and PUT are sent to
  such URLs, and a PUT is never redirected.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from langchain_vlmrun.core._redaction import redact_request, safe_url
from langchain_vlmrun.core.errors import (
    APIConnectionError,
    APITimeoutError,
    ResponseRefusedError,
)

__all__ = [
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "MAX_ANSWER_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "MIN_BODY_RATE",
    "BodyMeter",
    "Hops",
    "body_seconds",
    "check_server_url",
    "url_problem",
]

#: Default ``max_download_bytes``: the largest artifact a client saves (1 GiB).
DEFAULT_MAX_DOWNLOAD_BYTES = 1024**3
#: The largest JSON (or text) answer read into memory.
MAX_ANSWER_BYTES = 64 * 1024**2
#: How much of an error answer is read (for its message); the rest is left unread.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: Bytes per second a body must average beyond ``request_timeout`` to keep arriving.
MIN_BODY_RATE = 64 * 1024

#: Host names that always name this machine or a private network.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
#: A Content-Length as HTTP spells it: ASCII digits only (not ``²``, which ``int``
#: refuses), and at most 20 of them (as h11 allows; ``int`` refuses over 4300).
_LENGTH = re.compile(r"[0-9]{1,20}")


def body_seconds(timeout: float | httpx.Timeout) -> float | None:
    """Seconds a body may take to arrive (before its rate allowance): the read timeout."""
    if isinstance(timeout, httpx.Timeout):
        return timeout.read
    return float(timeout)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` spells, in any notation a resolver accepts (``127.1``,
    ``0x7f.0.0.1``, ``2130706433``), else None (a host name)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # inet_aton takes the legacy shorthand forms that getaddrinfo also takes
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def url_problem(url: httpx.URL) -> str | None:
    """Why a server-named ``url`` is not fetched (None: it may be).

    Example:
        >>> url_problem(httpx.URL("https://storage.googleapis.com/bucket/f?sig=1")) is None
        True
        >>> url_problem(httpx.URL("https://169.254.169.254/latest/meta-data"))
        'its host 169.254.169.254 is not a public address'
        >>> url_problem(httpx.URL("http://cdn.example.com/a.png"))
        'it is http, not https'
    """
    if url.scheme != "https":
        return f"it is {url.scheme or 'schemeless'}, not https"
    host = url.host.rstrip(".")  # httpx lowercases the host
    if not host:
        return "it has no host"
    address = _address(host)
    if address is not None:
        if not address.is_global or address.is_multicast:
            return f"its host {host} is not a public address"
        return None
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return f"its host {host} names this machine or a local network"
    if "." not in host:
        return f"its host {host} is not a fully qualified name"
    return None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port: httpx lowercases the host and drops a default port."""
    return (url.scheme, url.host.rstrip("."), url.port)


def check_server_url(request: httpx.Request, trusted: httpx.URL, what: str) -> None:
    """Refuse (:class:`ResponseRefusedError`, holding a redacted copy of ``request``) a
    request to a server-named URL that :func:`url_problem` finds fault with, unless it
    is on ``trusted``'s origin."""
    url = request.url
    if _origin(url) == _origin(trusted):
        return
    problem = url_problem(url)
    if problem is not None:
        raise ResponseRefusedError(
            f"Refused to fetch the {what} the server named, {safe_url(url)}: {problem}. "
            "Server-named URLs are fetched only over https from public hosts (or from the "
            f"API's own origin, {safe_url(trusted.copy_with(path='/'))}); for your own "
            "deployment on a private network, set base_url to it.",
            request=redact_request(request),
        )


@dataclass
class Hops:
    """The redirects of one call, followed one hop at a time (sans-IO).

    ``server_named``: the URL came from an answer (an artifact's URL, an upload
    target), so it and every redirect hop are checked with :func:`check_server_url`,
    only GET and PUT are allowed, and only a GET is redirected. ``follow``: the HTTP
    client's own setting. More than ``max_redirects`` hops is refused.
    """

    server_named: bool
    follow: bool
    max_redirects: int
    trusted: httpx.URL
    history: list[httpx.Response] = field(default_factory=list)

    def start(self, request: httpx.Request) -> None:
        """Check the first request (before anything is sent)."""
        if not self.server_named:
            return
        if request.method not in {"GET", "PUT"}:
            raise ResponseRefusedError(
                f"Refused to send {request.method} to the URL the server named, "
                f"{safe_url(request.url)}: only GET (downloads) and PUT (uploads) are sent "
                "to server-named URLs.",
                request=redact_request(request),
            )
        check_server_url(request, self.trusted, self._what(request))

    def next(self, response: httpx.Response) -> httpx.Request | None:
        """The next hop's request after ``response``, checked; None when it is final."""
        following = response.next_request
        if following is None or not self.follow:
            return None
        if self.server_named and response.request.method != "GET":
            return None  # an upload is not re-sent elsewhere: the 3xx is the answer
        if len(self.history) >= self.max_redirects:
            raise ResponseRefusedError(
                f"Refused to follow more than {self.max_redirects} redirects from "
                f"{safe_url(response.request.url)}: the server redirects in a loop. Check "
                "VLMRUN_BASE_URL (base_url=...).",
                request=redact_request(response.request),
            )
        if self.server_named:
            check_server_url(following, self.trusted, "redirect of the URL")
        self.history.append(response)
        return following

    def finish(self, response: httpx.Response) -> httpx.Response:
        """The final response, with the hops before it as its ``history``."""
        response.history = list(self.history)
        return response

    @staticmethod
    def _what(request: httpx.Request) -> str:
        return "upload URL" if request.method == "PUT" else "download URL"


@dataclass
class BodyMeter:
    """Counts one body as it arrives and stops it at its bounds (sans-IO).

    ``limit`` bytes at most (and a Content-Length above it is refused before reading);
    ``seconds`` (None: no deadline) plus one per :data:`MIN_BODY_RATE` bytes received,
    from the moment the headers arrived (``clock``). ``truncate``: an error answer,
    whose first ``limit`` bytes are kept (:meth:`prefix`) and the rest left unread; a
    body read whole goes through :meth:`feed` and :meth:`finish`. ``fix``: what to do
    about a body over ``limit``, ending that refusal's message (a meter that can refuse
    one, not ``truncate``, is given one).
    """

    response: httpx.Response
    limit: int
    seconds: float | None
    clock: Callable[[], float]
    what: str = "answer"
    fix: str = ""
    truncate: bool = False
    received: int = 0
    started: float = 0.0
    expected: int | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.expected = _declared_length(self.response)
        if not self.truncate and self.expected is not None and self.expected > self.limit:
            raise self._too_large(f"Content-Length {self.expected:,}")

    def feed(self, chunk: bytes) -> None:
        """Count ``chunk`` of a body read whole; raises once the body breaks a bound."""
        self.received += len(chunk)
        if self.received > self.limit:
            raise self._too_large(f"more than {self.limit:,} bytes arrived")
        if self._late():
            raise APITimeoutError(
                f"The {self.what} from {self._where()} was still arriving after "
                f"{self.clock() - self.started:.1f}s ({self.received:,} bytes): the body "
                "is too slow for request_timeout; raise request_timeout=... if the network "
                "is slow.",
                request=redact_request(self.response.request),
            )

    def prefix(self, chunk: bytes) -> bytes | None:
        """The part of ``chunk`` an error answer keeps; None once its prefix is complete
        or its time is up (the rest is not read)."""
        room = self.limit - self.received
        if room <= 0 or self._late():
            return None
        self.received += min(len(chunk), room)
        return chunk[:room]

    @property
    def full(self) -> bool:
        """An error answer's prefix is complete: nothing more is read."""
        return self.received >= self.limit

    def finish(self) -> None:
        """The body ended: refuse one shorter than its Content-Length (a cut connection)."""
        if self.truncate or self.expected is None or self.received >= self.expected:
            return
        raise APIConnectionError(
            f"The {self.what} from {self._where()} ended after {self.received:,} of the "
            f"{self.expected:,} bytes its Content-Length announced: the connection was cut "
            "short. Check the network (it is retried).",
            request=redact_request(self.response.request),
            request_sent=True,
        )

    def _late(self) -> bool:
        if self.seconds is None:
            return False
        return self.clock() - self.started > self.seconds + self.received / MIN_BODY_RATE

    def _where(self) -> str:
        return safe_url(self.response.request.url)

    def _too_large(self, seen: str) -> ResponseRefusedError:
        return ResponseRefusedError(
            f"Refused the {self.what} from {self._where()}: {seen}, over the limit of "
            f"{self.limit:,} bytes. {self.fix}",
            request=redact_request(self.response.request),
        )


def _declared_length(response: httpx.Response) -> int | None:
    """The body's length as announced, when it is the length of what is read (no
    content encoding; not a 204). The clients send no HEAD, and read no more than a
    prefix of a 3xx, 4xx or 5xx answer, so its length is never checked."""
    if response.status_code == 204:
        return None
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None
    value = response.headers.get("content-length", "").strip()
    return int(value) if _LENGTH.fullmatch(value) else None
