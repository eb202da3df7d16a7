"""A loopback HTTP emulator of the VLM Run API (stdlib only).

Used by tests and benchmarks; it is not part of the shipped package. It follows the
VLM Run API reference (and the official SDK where the reference is silent; see
README.md here): FastAPI-style error bodies, 201 on upload/execute,
200 ``{"id": null}`` on a hash miss, a presigned PUT that refuses Authorization,
executions that move ``enqueued -> running -> completed|failed`` by wall clock.

Typical use::

    with running_emulator(processing_time=0.2) as emu:
        client = httpx.Client(base_url=emu.base_url, headers={"Authorization": "Bearer k"})
        ...
        assert emu.counters.executions_created == 1
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import mimetypes
import posixpath
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from .callbacks import CallbackDispatcher, DeliveryPolicy
from .chat import ChatInvalid, answer_chat
from .content import Inputs, markdown_response, schema_content, schema_response
from .faults import (
    AFTER_PROCESSING_KINDS,
    BAD_GATEWAY_HTML,
    BODY_KINDS,
    FAULT_KINDS,
    GATEWAY_TIMEOUT_HTML,
    HOSTILE_ERROR_KINDS,
    FaultInjector,
    OutageWindows,
    SlidingWindowLimiter,
    path_matches,
    validate_kinds,
)
from .registry import (
    ARTIFACT_KINDS,
    HOSTILE_TEXT,
    AgentRegistry,
    ArtifactStore,
    Invalid,
    NotFound,
    artifact_id,
    hostile_agent_listing,
)

JSONDict = dict[str, Any]
ProcessingTime = float | Callable[[JSONDict], float]
ResponseFactory = Callable[[JSONDict, "str | None"], JSONDict]
FailPredicate = Callable[[JSONDict, "str | None"], bool]

_CHUNK = 64 * 1024
_TIMESTAMP_MODES = ("accurate", "naive", "lazy", "missing", "early", "late")
FILE_PURPOSES = frozenset(
    {"assistants", "assistants_output", "batch", "batch_output", "fine-tune", "vision", "datasets"}
)


# --------------------------------------------------------------------------- config


@dataclass
class EmulatorConfig:
    """Behaviour of the emulator. Fields may be changed while it runs (between phases)."""

    # --- network / lifetime
    host: str = "127.0.0.1"
    port: int = 0
    max_lifetime: float | None = 600.0
    """Watchdog: the server stops itself after this many seconds (None = never)."""
    idle_timeout: float = 120.0
    """Keep-alive connections idle for longer than this are closed by the server."""
    latency: float = 0.0
    """Extra seconds slept before answering every (non-admin) request."""

    # --- auth
    api_key: str | None = None
    """None: any ``Authorization: Bearer <token>`` passes. Else the token must equal it."""

    # --- executions
    clock: Callable[[], float] = time.monotonic
    queue_time: float = 0.5
    processing_time: ProcessingTime = 2.0
    """Seconds from creation to completion, or callable(execution_body) -> seconds."""
    response_mode: Literal["markdown", "json"] = "markdown"
    """Without a ``config.json_schema``: markdown pages, or ``{"text": ...}`` for json."""
    pages_per_file: int = 2
    follow_json_schema: bool = True
    """With a ``config.json_schema`` (any response_mode): realistic content conforming to
    it, shaped by the input's media type (see ``content.py``)."""
    segments_per_file: int = 4
    """Segments per audio/video file in schema-driven content."""
    response_factory: ResponseFactory | None = None
    """Override: callable(execution_body, first_filename) -> response object."""
    fail_rate: float = 0.0
    fail_predicate: FailPredicate | None = None
    failure_message: str = "Emulated failure while processing '{filename}'"
    failure_message_size: int = 0
    """Hostile mode: when > 0, every failure message is this many characters long (the
    message, then escape codes, direction overrides and "SYSTEM:" text repeated)."""
    pause_executions: bool = False
    """New executions go ``enqueued -> paused`` and never finish."""
    hostile_agents: bool = False
    """Hostile mode: ``GET /agent`` also lists ``registry.hostile_agent_listing()`` (huge
    descriptions and schema field names, escape codes, U+202E, "SYSTEM:" text, an agent
    named ``send_email``, invalid and clashing names), after the created agents."""
    known_agents: Collection[str] | None = None
    """None: any agent name exists. Else names (with or without ``:version``) that exist.
    Created agents always exist. ``POST /agent/lookup`` by name agrees with execute: a
    name that exists only through this setting answers with an implied AgentInfo (not
    listed by ``GET /agent``); ``known_agents=()`` leaves only created agents."""
    credits_per_page: int = 1
    agent_creation_time: float = 0.0
    """Seconds (emulator clock) an agent made by ``POST /agent/create`` stays ``pending``."""
    artifact_kinds: Collection[str] = ()
    """Artifacts every execution produces, one per kind (``img``, ``vid``, ``aud``, ``doc``,
    ``recon``, ``arr``, ``url``), listed in its response under ``"artifacts"`` (schema-driven
    responses reference artifacts where a string's ``pattern`` asks for ``img_\\w{6}`` etc.)."""
    refuse_chunked: bool = False
    """A gateway in front that needs a length: a request body sent ``Transfer-Encoding:
    chunked`` (no ``Content-Length``) is answered 411 before it is read (counter
    ``refused_chunked``)."""
    ignore_request_ids: bool = False
    """Ignore the client's execute ``id``: every execute creates a new execution under a
    server uuid, so ``GET /agent/executions/{client id}`` is 404 and a re-send pays twice
    (see ``Counters.paid_twice``)."""

    # --- timestamps of executions
    timestamp_mode: Literal["accurate", "naive", "lazy", "missing", "early", "late"] = "naive"
    """``naive`` (default, as the real service): ``created_at`` without UTC offset,
    ``completed_at`` with one, at the true finish. ``accurate``: both with offsets.
    ``lazy``: like naive, plus ``lazy_completed_at``. ``missing``: ``completed_at`` stays
    null when finished. ``early``: ``completed_at`` ``timestamp_skew`` seconds *before*
    ``created_at``. ``late``: ``completed_at`` ``timestamp_skew`` seconds after the finish."""
    lazy_completed_at: bool = False
    """Stamp ``completed_at`` when a poll (GET, list, duplicate execute) first observes the
    finished execution, not at the true finish (emulator clock)."""
    timestamp_skew: float = 86400.0

    # --- files
    generate_public_url: bool = True
    hash_miss_404: bool = False
    """Answer a hash miss with 404 instead of the documented 200 ``{"id": null}``."""
    rename_uploads: bool = False
    """Prefix returned filenames (the real server may return a different name)."""
    store_file_bytes: bool = False
    """Keep uploaded bytes so ``GET /storage/<id>`` (public_url) can serve them."""
    strict_put_content_type: bool = True
    """Presigned PUT must carry the Content-Type returned by /files/presigned-url (else 403)."""

    # --- faults (all off by default)
    seed: int = 0
    fault_rate: float = 0.0
    fault_kinds: Collection[str] = ("500", "502", "503", "429", "drop")
    fault_paths: str | None = None
    """Regex (``re.search`` on the URL path) restricting faults; None = every path."""
    retry_after: float | str = 1
    """Retry-After sent with injected 429s: seconds, or any text sent as it is (a hostile
    server's ``"inf"``, ``"nan"``, ``"864000"``)."""
    slow_seconds: float = 1.0
    fault_after_processing: float = 0.0
    """Fraction of state-changing requests (POST/PUT/DELETE) that are processed
    (execution/file created) and then answered with a fault: the ambiguous failure."""
    fault_after_processing_kinds: Collection[str] = ("500", "drop")
    fault_burst_length: int = 0
    """Correlated faults: once a fault fires (before or after processing), the next N
    requests matching ``fault_paths`` fail with the same kind."""
    fault_burst_rate: float = 1.0
    """Probability that a fired fault starts a burst (when ``fault_burst_length`` > 0)."""
    outages: Collection[tuple[float, float]] = ()
    """``(start, seconds)`` pairs, emulator-clock seconds after start(): every request
    (any path, auth or not) fails with ``outage_kind``. See also ``Emulator.start_outage``."""
    outage_kind: str = "503"
    slow_body_seconds: float = 1.0
    """Time over which a ``slow_body`` answer trickles out."""
    slow_body_chunks: int = 10
    huge_body_bytes: int = 64 * 1024 * 1024
    """Length of a ``huge_body`` / ``huge_error`` answer's body (sent in full, honest
    Content-Length)."""
    rate_limit_per_minute: int | None = None
    rate_limit_window: float = 60.0
    """Seconds of the sliding window in which ``rate_limit_per_minute`` requests are
    allowed (shorter windows scale a benchmark's time down; the count stays the same)."""

    # --- webhooks (``callback_url``)
    webhook_secret: str | None = None
    """Sign deliveries with ``X-VLMRun-Signature: sha256=<HMAC-SHA256 hex>`` (None: unsigned)."""
    callback_delay: float = 0.0
    """Seconds (emulator clock) between an execution's end and its delivery."""
    callback_retries: int = 2
    """Re-deliveries after a non-2xx answer or none: 1, 2, 4... x ``callback_backoff`` s apart."""
    callback_backoff: float = 1.0
    callback_timeout: float = 30.0
    callback_on_failure: bool = True
    """Also deliver executions that end ``failed`` (the real service: unknown)."""
    callback_drop_rate: float = 0.0
    """Share of delivery attempts silently lost: not sent, not retried (the emulator acts
    as if it had been delivered), counted as ``callbacks_dropped``. 1.0 drops every one.
    Drawn from a generator seeded with ``seed + 2``, in the order deliveries fall due."""

    def __post_init__(self) -> None:
        validate_kinds(self.fault_kinds, FAULT_KINDS, "fault_kinds")
        validate_kinds([self.outage_kind], FAULT_KINDS, "outage_kind")
        validate_kinds(self.artifact_kinds, frozenset(ARTIFACT_KINDS), "artifact_kinds")
        if self.timestamp_mode not in _TIMESTAMP_MODES:
            raise ValueError(
                f"timestamp_mode must be one of {_TIMESTAMP_MODES}: {self.timestamp_mode!r}"
            )
        validate_kinds(
            self.fault_after_processing_kinds,
            AFTER_PROCESSING_KINDS,
            "fault_after_processing_kinds",
        )
        if self.response_mode not in ("markdown", "json"):
            raise ValueError(f"response_mode must be 'markdown' or 'json': {self.response_mode!r}")
        if not 0.0 <= self.callback_drop_rate <= 1.0:
            raise ValueError(f"callback_drop_rate must be in [0, 1]: {self.callback_drop_rate!r}")


class ManualClock:
    """A settable clock for deterministic tests: ``EmulatorConfig(clock=clk)``."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


# --------------------------------------------------------------------------- counters


_SCALARS = (
    "requests_total",
    "executions_created",
    "duplicate_execute_ids",
    "uploads",
    "presigned_urls",
    "hash_hits",
    "hash_misses",
    "bytes_received",
    "concurrent_requests",
    "max_concurrent_requests",
    "rate_limited",
    "refused_chunked",
    "callbacks_sent",
    "callbacks_delivered",
    "callbacks_failed",
    "callbacks_dropped",
)
_MAPS = (
    "requests_by_route",
    "responses_by_status",
    "executions_by_request_id",
    "executions_by_input",
    "polls_per_execution",
    "faults_injected",
    "creation_time",
    "completion_time",
    "completion_observed_time",
)


@dataclass
class Counters:
    """Thread-safe request/execution counters. Read attributes directly or use snapshot()."""

    requests_total: int = 0
    requests_by_route: dict[str, int] = field(default_factory=dict)
    responses_by_status: dict[str, int] = field(default_factory=dict)
    executions_created: int = 0
    executions_by_request_id: dict[str, int] = field(default_factory=dict)
    """Client-supplied execute ``id`` -> number of execute requests carrying it (>1: resent)."""
    duplicate_execute_ids: int = 0
    """Execute requests carrying an ``id`` the server had already seen (client re-sends)."""
    executions_by_input: dict[str, int] = field(default_factory=dict)
    """Input (``file_id`` or URL) -> executions *created* on it; see ``paid_twice``."""
    polls_per_execution: dict[str, int] = field(default_factory=dict)
    """Execution id -> number of ``GET /agent/executions/{id}`` (unknown ids included)."""
    uploads: int = 0
    """Files created: direct uploads plus completed presigned PUTs."""
    presigned_urls: int = 0
    hash_hits: int = 0
    hash_misses: int = 0
    bytes_received: int = 0
    concurrent_requests: int = 0
    max_concurrent_requests: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    """Kind -> count; after-processing faults are keyed ``after_processing_<kind>``."""
    rate_limited: int = 0
    refused_chunked: int = 0
    """Request bodies refused 411 for being chunked (``refuse_chunked``)."""
    callbacks_sent: int = 0
    """Webhook delivery attempts (POSTs to a ``callback_url``), retries included."""
    callbacks_delivered: int = 0
    """Deliveries answered with a 2xx."""
    callbacks_failed: int = 0
    """Deliveries given up after every retry."""
    callbacks_dropped: int = 0
    """Delivery attempts silently lost (``callback_drop_rate``): never sent nor retried."""
    creation_time: dict[str, float] = field(default_factory=dict)
    """Execution id -> clock() at creation."""
    completion_time: dict[str, float] = field(default_factory=dict)
    """Execution id -> clock() instant it completes/fails (creation + processing_time).
    Paused executions have none."""
    completion_observed_time: dict[str, float] = field(default_factory=dict)
    """Execution id -> clock() when a poll first saw it finished (the lazy ``completed_at``)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def incr_key(self, name: str, key: str, n: int = 1) -> int:
        """Add `n` to ``name[key]``; return the new value."""
        with self._lock:
            mapping: dict[str, int] = getattr(self, name)
            mapping[key] = mapping.get(key, 0) + n
            return mapping[key]

    def set_key(self, name: str, key: str, value: float) -> None:
        with self._lock:
            mapping: dict[str, float] = getattr(self, name)
            mapping[key] = value

    def set_key_once(self, name: str, key: str, value: float) -> float:
        """Set `key` unless present; return the stored value."""
        with self._lock:
            mapping: dict[str, float] = getattr(self, name)
            return mapping.setdefault(key, value)

    @property
    def paid_twice(self) -> int:
        """Executions beyond the first on the same input: sum over inputs of (count - 1)."""
        with self._lock:
            return sum(n - 1 for n in self.executions_by_input.values() if n > 1)

    def enter_request(self) -> None:
        with self._lock:
            self.concurrent_requests += 1
            self.max_concurrent_requests = max(
                self.max_concurrent_requests, self.concurrent_requests
            )

    def exit_request(self) -> None:
        with self._lock:
            self.concurrent_requests -= 1

    def _max_concurrent_executions_locked(self) -> int:
        events: list[tuple[float, int]] = []
        for eid, start in self.creation_time.items():
            events.append((start, 1))
            end = self.completion_time.get(eid)
            if end is not None:
                events.append((end, -1))
        events.sort()  # at equal instants, -1 sorts first: completion frees a slot
        best = current = 0
        for _, delta in events:
            current += delta
            best = max(best, current)
        return best

    @property
    def max_concurrent_executions(self) -> int:
        """Max number of executions created but not yet at their completion time."""
        with self._lock:
            return self._max_concurrent_executions_locked()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            snap: dict[str, Any] = {name: getattr(self, name) for name in _SCALARS}
            for name in _MAPS:
                snap[name] = dict(getattr(self, name))
            snap["max_concurrent_executions"] = self._max_concurrent_executions_locked()
            snap["paid_twice"] = sum(n - 1 for n in self.executions_by_input.values() if n > 1)
            return snap

    def reset(self) -> None:
        with self._lock:
            for name in _SCALARS:
                if name != "concurrent_requests":  # in-flight requests are still in flight
                    setattr(self, name, 0)
            self.max_concurrent_requests = self.concurrent_requests
            for name in _MAPS:
                getattr(self, name).clear()


# --------------------------------------------------------------------------- state


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    created_at: datetime
    size: int = 0
    md5: str | None = None
    content_type: str = "application/octet-stream"
    uploaded: bool = False
    data: bytes | None = None


@dataclass
class _Execution:
    id: str
    name: str
    body: JSONDict
    created_wall: datetime
    created_clock: float
    queue_time: float
    processing_time: float
    filenames: list[str]
    will_fail: bool
    paused: bool
    response: Any
    pages: int
    failure_message: str
    observed_done: float | None = None
    """clock() when a poll first saw the execution finished (lazy ``completed_at``)."""

    @property
    def completes_at(self) -> float:
        return self.created_clock + self.processing_time


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    body_size: int
    body_md5: str | None
    params: dict[str, str] = field(default_factory=dict)

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    mangle: str | None = None
    """A BODY_KINDS fault applied when sending (truncated_json, short_body, slow_body,
    huge_body, endless_body), or a hostile error body (huge_error, endless_error)."""


_RouteHandler = Callable[[_Request], _Response]


class HTTPError(Exception):
    def __init__(self, status: int, detail: Any, headers: list[tuple[str, str]] | None = None):
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.headers = headers or []


def _retry_after(value: float | str) -> str:
    """A Retry-After header value: whole seconds as an integer, anything else as it is."""
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _json(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> _Response:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return _Response(status, body, "application/json", headers or [])


def _detail(status: int, detail: Any, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _json(status, {"detail": detail}, headers)


def _validation_error(loc: list[str | int], msg: str, typ: str) -> HTTPError:
    return HTTPError(422, [{"loc": loc, "msg": msg, "type": typ}])


def _naive_iso(dt: datetime) -> str:
    return dt.replace(tzinfo=None).isoformat(timespec="microseconds")


def _aware_iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- multipart


@dataclass
class MultipartPart:
    name: str | None
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[MultipartPart]:
    """Minimal, byte-exact multipart/form-data parser (RFC 7578)."""
    header = BytesHeaderParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    )
    if header.get_content_type() != "multipart/form-data":
        raise ValueError("not multipart/form-data")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart boundary missing")
    delim = b"--" + boundary.encode("latin-1")
    start = body.find(delim)
    if start < 0:
        raise ValueError("multipart boundary not found in body")
    pos = start + len(delim)
    parts: list[MultipartPart] = []
    while True:
        if body[pos : pos + 2] == b"--":
            return parts
        if body[pos : pos + 2] != b"\r\n":
            raise ValueError("malformed multipart delimiter")
        pos += 2
        end = body.find(b"\r\n" + delim, pos)
        if end < 0:
            raise ValueError("unterminated multipart body")
        raw = body[pos:end]
        if raw.startswith(b"\r\n"):
            raw_headers, data = b"", raw[2:]
        else:
            sep = raw.find(b"\r\n\r\n")
            if sep < 0:
                raise ValueError("multipart part without header terminator")
            raw_headers, data = raw[:sep], raw[sep + 4 :]
        msg = BytesHeaderParser(policy=HTTP).parsebytes(raw_headers + b"\r\n\r\n")
        name = msg.get_param("name", header="content-disposition")
        parts.append(
            MultipartPart(
                name=name if isinstance(name, str) else None,
                filename=msg.get_filename(),
                content_type=msg.get("content-type"),
                data=data,
            )
        )
        pos = end + 2 + len(delim)


# --------------------------------------------------------------------------- emulator


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    block_on_close = False

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which may block on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Emulator:
    """The VLM Run API on 127.0.0.1. ``start()`` / ``stop()`` or use as a context manager."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.counters = Counters()
        self._state_lock = threading.RLock()
        self._files: dict[str, _File] = {}
        self._md5_index: dict[str, str] = {}
        self._executions: dict[str, _Execution] = {}
        self._order: list[str] = []
        self.agents = AgentRegistry()
        self.artifacts = ArtifactStore()
        self._faults = FaultInjector(self.config.seed)
        self._outcomes = FaultInjector(self.config.seed + 1)
        self._limiter = SlidingWindowLimiter(self._clock)
        self._outages = OutageWindows(self._clock)
        self._started_clock = 0.0
        self._server: _Server | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Timer | None = None
        self._stop_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._callbacks = CallbackDispatcher(
            self._clock,
            self._delivery_body,
            self._delivery_policy,
            self.counters.incr,
            self._stopping,
            seed=self.config.seed + 2,
        )

    # ----------------------------------------------------------------- lifecycle

    def _clock(self) -> float:
        return self.config.clock()

    def start(self) -> Emulator:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = _Server((self.config.host, self.config.port), self)
        self._server = server
        self._port = server.server_port
        self._stopping.clear()
        self._stopped.clear()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"vlmrun-emulator-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        self._started_clock = self._clock()
        self._install_outages()
        if self.config.max_lifetime is not None:
            self._watchdog = threading.Timer(self.config.max_lifetime, self.stop)
            self._watchdog.daemon = True
            self._watchdog.start()
        return self

    def _install_outages(self) -> None:
        self._outages.clear()
        for start, seconds in self.config.outages:
            begin = self._started_clock + start
            self._outages.add(begin, begin + seconds, self.config.outage_kind)

    def stop(self) -> None:
        """Stop serving and close every open connection. Idempotent, thread-safe."""
        with self._stop_lock:
            server, self._server = self._server, None
            watchdog, self._watchdog = self._watchdog, None
            if server is None:
                return
            self._stopping.set()
            self._callbacks.stop()
            if watchdog is not None and watchdog is not threading.current_thread():
                watchdog.cancel()
            server.shutdown()
            server.server_close()
            server.close_connections()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=5)
            self._stopped.set()

    @property
    def running(self) -> bool:
        """True from start() until stop() has finished (watchdog included)."""
        return self._server is not None or (self._stopping.is_set() and not self._stopped.is_set())

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait_stopping(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (early) if the emulator is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until stop() has completed (e.g. by the max_lifetime watchdog)."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> Emulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (still readable after stop())."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def reset(self, state: bool = False) -> None:
        """Zero the counters; with ``state=True`` also forget files, executions, rate window,
        outages started since (the configured ``outages`` stay), and reseed the faults."""
        self.counters.reset()
        if state:
            with self._state_lock:
                self._files.clear()
                self._md5_index.clear()
                self._executions.clear()
                self._order.clear()
            self.agents.clear()
            self.artifacts.clear()
            self._limiter.reset()
            self._callbacks.clear()
            self._callbacks.reseed(self.config.seed + 2)
            self._install_outages()
            self._faults.reseed(self.config.seed)
            self._outcomes.reseed(self.config.seed + 1)
            restart = getattr(self.config.processing_time, "reset", None)
            if callable(restart):  # e.g. tests/emulator/durations.py: count from 1 again
                restart()

    # ----------------------------------------------------------------- introspection

    def execution_ids(self) -> list[str]:
        with self._state_lock:
            return list(self._order)

    def execution(self, execution_id: str) -> JSONDict | None:
        """The execution as GET would return it now (without counting a poll)."""
        with self._state_lock:
            execution = self._executions.get(execution_id)
        return None if execution is None else self._render_execution(execution)

    def file_ids(self) -> list[str]:
        with self._state_lock:
            return [f.id for f in self._files.values() if f.uploaded]

    # ----------------------------------------------------------------- request pipeline

    def handle(self, req: _Request) -> _Response:
        """Outages, faults, auth, rate limit, routing. Called once the body is read."""
        cfg = self.config
        route_key, handler, needs_auth, params = self._route(req)
        req.params = params
        counters = self.counters
        counters.incr("requests_total")
        counters.incr_key("requests_by_route", route_key)
        if cfg.latency > 0:
            self.wait_stopping(cfg.latency)

        outage = self._outages.active()
        if outage is not None:
            kind = outage[0]
            counters.incr_key("faults_injected", f"outage_{kind}")
            return self._fault_response(kind, lambda: self._process(req, handler, needs_auth))

        fault_here = path_matches(cfg.fault_paths, req.path)
        if fault_here:
            drawn = self._faults.next_fault(
                cfg.fault_rate, cfg.fault_kinds, cfg.fault_burst_length, cfg.fault_burst_rate
            )
            if drawn is not None:
                kind, in_burst = drawn
                counters.incr_key("faults_injected", f"burst_{kind}" if in_burst else kind)
                if kind == "slow":
                    self.wait_stopping(cfg.slow_seconds)
                else:
                    return self._fault_response(
                        kind, lambda: self._process(req, handler, needs_auth)
                    )

        response = self._process(req, handler, needs_auth)
        if (
            fault_here
            and req.method in ("POST", "PUT", "DELETE", "PATCH")
            and 200 <= response.status < 300
        ):
            after = self._faults.draw(cfg.fault_after_processing, cfg.fault_after_processing_kinds)
            if after is not None:
                counters.incr_key("faults_injected", f"after_processing_{after}")
                self._faults.maybe_burst(after, cfg.fault_burst_length, cfg.fault_burst_rate)
                return self._fault_response(after, lambda: response)
        return response

    def _process(self, req: _Request, handler: _RouteHandler, needs_auth: bool) -> _Response:
        try:
            if needs_auth:
                self._authenticate(req)
                retry_after = self._limiter.acquire(
                    self.config.rate_limit_per_minute, self.config.rate_limit_window
                )
                if retry_after is not None:
                    self.counters.incr("rate_limited")
                    return _detail(429, "Rate limit exceeded", [("Retry-After", str(retry_after))])
            return handler(req)
        except HTTPError as exc:
            return _detail(exc.status, exc.detail, exc.headers)

    def _fault_response(self, kind: str, answer: Callable[[], _Response]) -> _Response:
        """The faulty answer; body-mangling kinds call `answer()` (the server acts)."""
        if kind in BODY_KINDS:
            real = answer()
            real.mangle = kind
            return real
        if kind == "drop":
            return _Response(0, drop=True)
        if kind == "429":
            return _detail(
                429, "Rate limit exceeded", [("Retry-After", _retry_after(self.config.retry_after))]
            )
        if kind in HOSTILE_ERROR_KINDS:
            return _Response(500, b"", "text/plain; charset=utf-8", mangle=kind)
        if kind == "502":
            return _Response(502, BAD_GATEWAY_HTML, "text/html")
        if kind == "504":
            return _Response(504, GATEWAY_TIMEOUT_HTML, "text/html")
        if kind == "503":
            return _detail(503, "Service temporarily unavailable")
        if kind == "slow":  # only reachable for outages: a hung gateway, then 504
            self.wait_stopping(self.config.slow_seconds)
            return _Response(504, GATEWAY_TIMEOUT_HTML, "text/html")
        return _Response(500, b"Internal Server Error", "text/plain; charset=utf-8")

    def start_outage(self, seconds: float, kind: str | None = None) -> None:
        """Every request fails with `kind` (default ``outage_kind``) for the next `seconds`
        of the emulator clock. Also ``POST /_admin/outage?seconds=S&kind=503``."""
        now = self._clock()
        self._outages.add(now, now + seconds, kind or self.config.outage_kind)

    def end_outages(self) -> None:
        """Cancel every outage (including the configured ``outages``)."""
        self._outages.clear()

    def _authenticate(self, req: _Request) -> None:
        auth = req.headers.get("authorization")
        if not auth:
            raise HTTPError(401, "Not authenticated", [("WWW-Authenticate", "Bearer")])
        scheme, _, token = str(auth).strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HTTPError(
                401, "Invalid authentication credentials", [("WWW-Authenticate", "Bearer")]
            )
        if self.config.api_key is not None and token != self.config.api_key:
            raise HTTPError(401, "Invalid API key", [("WWW-Authenticate", "Bearer")])

    def _route(self, req: _Request) -> tuple[str, _RouteHandler, bool, dict[str, str]]:
        path = req.path.rstrip("/") or "/"
        allowed: list[str] = []
        for method, pattern, key, attr, auth in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            handler: _RouteHandler = getattr(self, attr)
            return key, handler, auth, params
        if allowed:
            return f"{req.method} <405>", _method_not_allowed, path.startswith("/v1"), {}
        return f"{req.method} <404>", _not_found, path.startswith("/v1"), {}

    # ----------------------------------------------------------------- endpoints

    def _health(self, req: _Request) -> _Response:
        return _json(200, {"status": "ok"})

    def _file_response(self, f: _File, req: _Request | None = None) -> JSONDict:
        public = self.config.generate_public_url
        if req is not None and req.q("generate_public_url") is not None:
            flag = req.q("generate_public_url") or "true"
            public = flag.lower() not in ("false", "0", "no")
        return {
            "id": f.id,
            "filename": f.filename,
            "bytes": f.size,
            "purpose": f.purpose,
            "created_at": _naive_iso(f.created_at),
            "object": "file",
            "public_url": f"{self.root_url}/storage/{f.id}?sig=x" if public else None,
        }

    def _get_uploaded(self, file_id: str) -> _File:
        with self._state_lock:
            f = self._files.get(file_id)
        if f is None or not f.uploaded:
            raise HTTPError(404, "File not found")
        return f

    def _file_hash(self, req: _Request) -> _Response:
        md5 = req.params["md5"].lower()
        with self._state_lock:
            file_id = self._md5_index.get(md5)
            f = self._files.get(file_id) if file_id else None
        if f is not None:
            self.counters.incr("hash_hits")
            return _json(200, self._file_response(f, req))
        self.counters.incr("hash_misses")
        if self.config.hash_miss_404:
            raise HTTPError(404, "File not found")
        return _json(
            200,
            {
                "id": None,
                "filename": None,
                "bytes": 0,
                "purpose": "assistants",
                "created_at": _naive_iso(_utcnow()),
                "object": "file",
                "public_url": None,
            },
        )

    def _purpose(self, value: str | None) -> str:
        purpose = value or "assistants"
        if purpose not in FILE_PURPOSES:
            raise _validation_error(
                ["query", "purpose"], f"Input should be one of {sorted(FILE_PURPOSES)}", "enum"
            )
        return purpose

    def _display_name(self, filename: str) -> str:
        if self.config.rename_uploads:
            return f"{uuid.uuid4().hex[:8]}_{filename}"
        return filename

    def _file_upload(self, req: _Request) -> _Response:
        purpose = self._purpose(req.q("purpose"))
        content_type = str(req.headers.get("content-type") or "")
        try:
            parts = parse_multipart(req.body, content_type)
        except ValueError as exc:
            raise _validation_error(
                ["body", "file"], f"Invalid multipart body: {exc}", "missing"
            ) from None
        part = next((p for p in parts if p.name == "file"), None)
        if part is None:
            raise _validation_error(["body", "file"], "Field required", "missing")
        filename = posixpath.basename((part.filename or "upload").replace("\\", "/")) or "upload"
        f = _File(
            id=str(uuid.uuid4()),
            filename=self._display_name(filename),
            purpose=purpose,
            created_at=_utcnow(),
            size=len(part.data),
            md5=hashlib.md5(part.data).hexdigest(),
            content_type=part.content_type or _guess_type(filename),
            uploaded=True,
            data=part.data if self.config.store_file_bytes else None,
        )
        self._register_file(f)
        self.counters.incr("uploads")
        return _json(201, self._file_response(f, req))

    def _register_file(self, f: _File) -> None:
        with self._state_lock:
            self._files[f.id] = f
            if f.md5 is not None:
                self._md5_index.setdefault(f.md5, f.id)

    def _presigned_url(self, req: _Request) -> _Response:
        body = _json_object(req.body)
        filename = body.get("filename")
        if not isinstance(filename, str) or not filename:
            raise _validation_error(["body", "filename"], "Field required", "missing")
        purpose = body.get("purpose")
        purpose = self._purpose(purpose if isinstance(purpose, str) else None)
        expiration = body.get("expiration", 86400)
        if not isinstance(expiration, int) or isinstance(expiration, bool) or expiration <= 0:
            raise _validation_error(
                ["body", "expiration"], "Input should be a positive integer", "int_type"
            )
        base = posixpath.basename(filename.replace("\\", "/")) or "upload"
        f = _File(
            id=str(uuid.uuid4()),
            filename=self._display_name(base),
            purpose=purpose,
            created_at=_utcnow(),
            content_type=_guess_type(base),
        )
        with self._state_lock:
            self._files[f.id] = f
        self.counters.incr("presigned_urls")
        return _json(
            200,
            {
                "id": f.id,
                "url": f"{self.root_url}/storage/upload/{f.id}",
                "filename": f.filename,
                "content_type": f.content_type,
                "upload_method": "PUT",
                "public_url": f"{self.root_url}/storage/{f.id}?sig=x",
                "created_at": _naive_iso(f.created_at),
            },
        )

    def _storage_put(self, req: _Request) -> _Response:
        if req.headers.get("authorization") is not None:
            return _Response(
                400,
                b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidArgument</Code>"
                b"<Message>Multiple authentication mechanisms are not allowed: "
                b"signed URL and Authorization header.</Message></Error>",
                "application/xml; charset=UTF-8",
            )
        with self._state_lock:
            f = self._files.get(req.params["id"])
        if f is None:
            return _Response(404, b"<Error><Code>NoSuchUpload</Code></Error>", "application/xml")
        sent_type = str(req.headers.get("content-type") or "")
        if self.config.strict_put_content_type and sent_type.split(";")[0].strip() != (
            f.content_type
        ):
            return _Response(
                403,
                b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch"
                b"</Code><Message>Content-Type does not match the signed URL.</Message></Error>",
                "application/xml; charset=UTF-8",
            )
        with self._state_lock:
            first = not f.uploaded
            f.size = req.body_size
            f.md5 = req.body_md5
            f.uploaded = True
            f.data = req.body if self.config.store_file_bytes else None
            if f.md5 is not None:
                self._md5_index.setdefault(f.md5, f.id)
        if first:
            self.counters.incr("uploads")
        return _Response(200, b"", "text/plain", [("ETag", f'"{f.md5}"')])

    def _storage_get(self, req: _Request) -> _Response:
        with self._state_lock:
            f = self._files.get(req.params["id"])
        if f is None or not f.uploaded:
            return _Response(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        if f.data is None:
            return _Response(
                410, b"<Error><Code>ContentNotRetained</Code></Error>", "application/xml"
            )
        return _Response(200, f.data, f.content_type)

    def _verify_upload(self, req: _Request) -> _Response:
        with self._state_lock:
            f = self._files.get(req.params["id"])
        if f is None:
            raise HTTPError(404, "File not found")
        if not f.uploaded:
            raise HTTPError(404, "Upload not found: the file was never PUT to the presigned URL")
        return _json(200, self._file_response(f, req))

    def _file_get(self, req: _Request) -> _Response:
        return _json(200, self._file_response(self._get_uploaded(req.params["id"]), req))

    def _file_delete(self, req: _Request) -> _Response:
        f = self._get_uploaded(req.params["id"])
        with self._state_lock:
            self._files.pop(f.id, None)
            if f.md5 is not None and self._md5_index.get(f.md5) == f.id:
                del self._md5_index[f.md5]
        return _json(200, self._file_response(f, req))

    def _file_list(self, req: _Request) -> _Response:
        skip, limit = _paging(req)
        with self._state_lock:
            files = [f for f in self._files.values() if f.uploaded]
        files.reverse()
        return _json(200, [self._file_response(f, req) for f in files[skip : skip + limit]])

    # ----------------------------------------------------------------- executions

    def _collect_filenames(
        self, value: Any, out: list[str], depth: int = 0, keys: list[str] | None = None
    ) -> None:
        """Append the input files' names to `out` and their file_id/URL to `keys`."""
        keys = [] if keys is None else keys
        if depth > 8:
            return
        if isinstance(value, str):
            if value.startswith(("http://", "https://")):
                out.append(self._filename_from_url(value))
                keys.append(value)
            return
        if isinstance(value, list):
            for item in value:
                self._collect_filenames(item, out, depth + 1, keys)
            return
        if not isinstance(value, dict):
            return
        typ = value.get("type")
        if typ == "input_file" and "file_id" in value:
            file_id = value["file_id"]
            with self._state_lock:
                f = self._files.get(file_id) if isinstance(file_id, str) else None
            if f is None or not f.uploaded:
                raise HTTPError(400, f"File not found: {file_id}")
            out.append(f.filename)
            keys.append(f.id)
            return
        if isinstance(typ, str):
            inner = value.get(typ)
            url = inner.get("url") if isinstance(inner, dict) else inner
            if not isinstance(url, str):
                url = value.get("file_url") or value.get("url")
                if isinstance(url, dict):
                    url = url.get("url")
            if isinstance(url, str):
                out.append(self._filename_from_url(url))
                keys.append(url)
            return
        for item in value.values():
            self._collect_filenames(item, out, depth + 1, keys)

    def _filename_from_url(self, url: str) -> str:
        path = urlsplit(url).path
        match = re.fullmatch(r"/storage/(?:upload/)?([^/]+)", path)
        if match and url.startswith(self.root_url):
            with self._state_lock:
                f = self._files.get(match.group(1))
            if f is not None:
                return f.filename
        return unquote(posixpath.basename(path)) or "remote-file"

    def _execute(self, req: _Request) -> _Response:
        cfg = self.config
        body = _json_object(req.body)
        request_id = body.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise _validation_error(["body", "id"], "Input should be a valid string", "string_type")
        inputs = body.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            raise _validation_error(
                ["body", "inputs"], "Input should be a valid dictionary", "dict_type"
            )
        config = body.get("config")
        if config is not None and not isinstance(config, dict):
            raise _validation_error(
                ["body", "config"], "Input should be a valid dictionary", "dict_type"
            )
        config = config or {}
        schema = config.get("json_schema")
        if schema is not None and not isinstance(schema, dict):
            raise _validation_error(
                ["body", "config", "json_schema"], "Input should be a valid dictionary", "dict_type"
            )
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise _validation_error(
                ["body", "name"], "Input should be a valid string", "string_type"
            )
        if body.get("batch") is False:
            raise HTTPError(400, "Agent executions only support batch=true")
        if not name and not config.get("prompt"):
            raise HTTPError(400, "Either `name` or `config.prompt` must be provided")
        agent = self.agents.by_name(name) if name else None
        if name and agent is None and not self._implied_agent_exists(name):
            raise HTTPError(404, f"Agent '{name}' not found")
        if agent is not None:  # a created agent answers with its own schema
            schema = schema or agent.json_schema

        if request_id is not None:
            seen = self.counters.incr_key("executions_by_request_id", request_id)
            if cfg.ignore_request_ids:
                if seen > 1:
                    self.counters.incr("duplicate_execute_ids")
                request_id = None
            else:
                with self._state_lock:
                    existing = self._executions.get(request_id)
                if existing is not None:
                    self.counters.incr("duplicate_execute_ids")
                    return _json(201, self._render_execution(existing, observe=True))

        filenames: list[str] = []
        input_keys: list[str] = []
        self._collect_filenames(inputs or {}, filenames, keys=input_keys)
        first = filenames[0] if filenames else None
        processing = cfg.processing_time
        processing_time = float(processing(body) if callable(processing) else processing)
        will_fail = (
            cfg.fail_predicate(body, first) if cfg.fail_predicate is not None else False
        ) or self._outcomes.chance(cfg.fail_rate)
        response: Any = None
        pages = max(1, len(filenames)) * cfg.pages_per_file
        execution_id = request_id or str(uuid.uuid4())
        artifact_kinds: list[str] = []  # stored once the execution is registered

        def new_artifact(kind: str) -> str:
            artifact_kinds.append(kind)
            return artifact_id(execution_id, kind, len(artifact_kinds) - 1)

        if not will_fail:
            if cfg.response_factory is not None:
                response = cfg.response_factory(body, first)
            elif schema and cfg.follow_json_schema:
                response = schema_content(
                    schema,
                    Inputs(filenames, cfg.pages_per_file, cfg.segments_per_file, new_artifact),
                )
            elif cfg.response_mode == "json":
                if schema:
                    response = schema_response(schema, first)
                else:
                    prompt = config.get("prompt") or name
                    response = {"text": f"Emulated answer about {first or 'the input'}: {prompt}"}
            else:
                response = markdown_response(filenames, cfg.pages_per_file)
            listed = [new_artifact(kind) for kind in cfg.artifact_kinds]
            if listed and isinstance(response, dict) and not (schema and cfg.follow_json_schema):
                response["artifacts"] = listed
        execution = _Execution(
            id=execution_id,
            name=name or "prompt-agent:latest",
            body=body,
            created_wall=_utcnow(),
            created_clock=self._clock(),
            queue_time=float(cfg.queue_time),
            processing_time=processing_time,
            filenames=filenames,
            will_fail=bool(will_fail),
            paused=cfg.pause_executions,
            response=response,
            pages=pages,
            failure_message=_sized(
                cfg.failure_message.format(filename=first or "input"), cfg.failure_message_size
            ),
        )
        with self._state_lock:
            existing = self._executions.get(execution.id)
            if existing is None:
                self._executions[execution.id] = execution
                self._order.append(execution.id)
        if existing is not None:  # lost a race with a concurrent duplicate
            self.counters.incr("duplicate_execute_ids")
            return _json(201, self._render_execution(existing, observe=True))
        self.counters.incr("executions_created")
        for kind in artifact_kinds:
            self.artifacts.add(execution.id, kind, self.root_url)
        for key in dict.fromkeys(input_keys):
            self.counters.incr_key("executions_by_input", key)
        self.counters.set_key("creation_time", execution.id, execution.created_clock)
        if not execution.paused:
            self.counters.set_key("completion_time", execution.id, execution.completes_at)
            callback_url = body.get("callback_url")
            if isinstance(callback_url, str) and callback_url:
                self._callbacks.schedule(
                    execution.id, callback_url, execution.completes_at + cfg.callback_delay
                )
        return _json(201, self._render_execution(execution, status="enqueued"))

    # ----------------------------------------------------------------- webhooks

    def _delivery_body(self, execution_id: str) -> bytes | None:
        """The execution as delivered to its ``callback_url`` (None: not delivered)."""
        with self._state_lock:
            execution = self._executions.get(execution_id)
        if execution is None:
            return None
        rendered = self._render_execution(execution, observe=True)
        if rendered["status"] == "failed" and not self.config.callback_on_failure:
            return None
        return json.dumps(rendered, separators=(",", ":")).encode()

    def _delivery_policy(self) -> DeliveryPolicy:
        cfg = self.config
        return DeliveryPolicy(
            cfg.webhook_secret,
            cfg.callback_retries,
            cfg.callback_backoff,
            cfg.callback_timeout,
            cfg.callback_drop_rate,
        )

    # ----------------------------------------------------------------- agents, artifacts

    def _implied_agent_exists(self, name: str) -> bool:
        """Whether ``known_agents`` makes an agent ``name`` exist (created ones aside)."""
        known = self.config.known_agents
        return known is None or name in known or name.split(":", 1)[0] in known

    def _implied_agent(self, body: JSONDict | None) -> JSONDict | None:
        """AgentInfo of a name looked up that exists only through ``known_agents``."""
        name = (body or {}).get("name")
        if set(body or {}) != {"name"} or not isinstance(name, str):
            return None
        if not self._implied_agent_exists(name):
            return None
        full = name if ":" in name else f"{name}:v1"
        created = _aware_iso(datetime(2026, 1, 1, tzinfo=timezone.utc))
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"emulator-agent:{full}")),
            "name": full,
            "description": f"Emulated agent {full} (exists through known_agents)",
            "prompt": f"Emulated agent {full}",
            "json_schema": None,
            "json_sample": None,
            "created_at": created,
            "updated_at": created,
            "status": "completed",
        }

    def _agent_info(self, agent_id: str | None = None, body: JSONDict | None = None) -> JSONDict:
        try:
            agent = self.agents.get(agent_id) if agent_id else self.agents.lookup(body or {})
        except NotFound as exc:
            implied = None if agent_id else self._implied_agent(body)
            if implied is not None:
                return implied
            raise HTTPError(404, str(exc)) from None
        except Invalid as exc:
            raise HTTPError(400, str(exc)) from None
        return agent.info(self._clock(), _aware_iso)

    def _agent_create(self, req: _Request) -> _Response:
        body = _json_object(req.body)
        config = body.get("config")
        if not isinstance(config, dict):
            raise _validation_error(["body", "config"], "Field required", "missing")
        prompt = config.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise HTTPError(400, "`config.prompt` is required to create an agent")
        schema = config.get("json_schema")
        if schema is not None and not isinstance(schema, dict):
            raise _validation_error(
                ["body", "config", "json_schema"], "Input should be a valid dictionary", "dict_type"
            )
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise _validation_error(
                ["body", "name"], "Input should be a valid string", "string_type"
            )
        sample = schema_content(schema) if schema else None
        try:
            agent = self.agents.create(
                name,
                prompt,
                schema,
                sample if isinstance(sample, dict) else None,
                _utcnow(),
                self._clock(),
                self.config.agent_creation_time,
            )
        except Invalid as exc:
            raise HTTPError(400, str(exc)) from None
        info = agent.info(self._clock(), _aware_iso)
        keys = ("id", "name", "created_at", "updated_at")
        return _json(201, {**{k: info[k] for k in keys}, "status": "pending"})

    def _agent_lookup(self, req: _Request) -> _Response:
        return _json(200, self._agent_info(body=_json_object(req.body)))

    def _agent_get(self, req: _Request) -> _Response:
        return _json(200, self._agent_info(req.params["id"]))

    def _agent_list(self, req: _Request) -> _Response:
        skip, limit = _paging(req, default_limit=1000)
        now = self._clock()
        listed = [a.info(now, _aware_iso) for a in self.agents.newest_first()]
        if self.config.hostile_agents:
            created = _aware_iso(datetime(2026, 1, 1, tzinfo=timezone.utc))
            listed += hostile_agent_listing(created)
        return _json(200, listed[skip : skip + limit])

    def _artifact_namespace(self, req: _Request) -> str:
        """The execution whose artifacts are asked for (they exist once it completed)."""
        execution_id, session_id = req.q("execution_id"), req.q("session_id")
        if (execution_id is None) == (session_id is None):
            raise HTTPError(400, "Exactly one of `execution_id` or `session_id` is required")
        namespace = execution_id or session_id or ""
        with self._state_lock:
            execution = self._executions.get(namespace)
        if execution is None or self._status(execution, self._clock()) != "completed":
            raise HTTPError(404, "Artifact not found")
        return namespace

    def _artifact_get(self, req: _Request) -> _Response:
        object_id, filename = req.q("object_id"), req.q("filename")
        if (object_id is None) == (filename is None):
            raise HTTPError(400, "Exactly one of `object_id` or `filename` is required")
        namespace = self._artifact_namespace(req)
        try:
            item = self.artifacts.find(namespace, object_id, filename)
        except NotFound as exc:
            raise HTTPError(404, str(exc)) from None
        return _Response(200, item.data, item.content_type)

    def _chat_completions(self, req: _Request) -> _Response:
        """``POST /openai/chat/completions`` (``chat.py``): JSON or SSE."""

        def file_name(file_id: str) -> str | None:
            with self._state_lock:
                f = self._files.get(file_id)
            return f.filename if f is not None and f.uploaded else None

        try:
            status, body, content_type = answer_chat(req.body, file_name)
        except ChatInvalid as exc:
            raise HTTPError(exc.status, exc.detail) from None
        return _Response(status, body, content_type)

    def _artifact_list(self, req: _Request) -> _Response:
        namespace = self._artifact_namespace(req)
        items = [
            {"object_id": a.object_id, "filename": a.filename, "source": "store"}
            for a in self.artifacts.items(namespace)
        ]
        return _json(200, {"namespace_id": namespace, "items": items})

    def _completed_at(self, e: _Execution, now: float, observe: bool) -> str | None:
        cfg = self.config
        mode = cfg.timestamp_mode
        if mode == "missing":
            return None
        if mode == "early":
            return _aware_iso(e.created_wall - timedelta(seconds=cfg.timestamp_skew))
        finished_after = e.processing_time
        if cfg.lazy_completed_at or mode == "lazy":
            if e.observed_done is None and observe:
                with self._state_lock:
                    if e.observed_done is None:
                        e.observed_done = now
                self.counters.set_key_once("completion_observed_time", e.id, e.observed_done)
            # Not observed yet (introspection only): what a poll right now would stamp.
            seen = e.observed_done if e.observed_done is not None else now
            finished_after = max(e.processing_time, seen - e.created_clock)
        if mode == "late":
            finished_after += cfg.timestamp_skew
        return _aware_iso(e.created_wall + timedelta(seconds=finished_after))

    @staticmethod
    def _status(e: _Execution, now: float) -> str:
        elapsed = now - e.created_clock
        if elapsed < min(e.queue_time, e.processing_time) or (e.paused and elapsed < e.queue_time):
            return "enqueued"
        if e.paused:
            return "paused"
        if elapsed < e.processing_time:
            return "running"
        return "failed" if e.will_fail else "completed"

    def _render_execution(
        self, e: _Execution, status: str | None = None, observe: bool = False
    ) -> JSONDict:
        """The execution as the API shows it now; `observe`: a client sees this answer."""
        now = self._clock()
        elapsed = now - e.created_clock
        status = status or self._status(e, now)
        usage: JSONDict = {
            "elements_processed": None,
            "element_type": None,
            "credits_used": None,
            "steps": None,
            "message": None,
            "duration_seconds": 0,
        }
        out: JSONDict = {
            "id": e.id,
            "name": e.name,
            "created_at": (
                _aware_iso(e.created_wall)
                if self.config.timestamp_mode == "accurate"
                else _naive_iso(e.created_wall)
            ),
            "completed_at": None,
            "response": None,
            "status": status,
            "usage": usage,
        }
        if status in ("running", "paused"):
            usage["steps"] = 1
            usage["duration_seconds"] = int(max(0.0, elapsed - e.queue_time))
        elif status in ("completed", "failed"):
            out["completed_at"] = self._completed_at(e, now, observe)
            usage["duration_seconds"] = int(e.processing_time)
            usage["element_type"] = "page"
            if status == "completed":
                out["response"] = copy.deepcopy(e.response)
                out["execution_mode"] = "program"
                usage.update(
                    elements_processed=e.pages,
                    credits_used=e.pages * self.config.credits_per_page,
                    steps=3,
                )
            else:
                usage.update(
                    elements_processed=0, credits_used=0, steps=1, message=e.failure_message
                )
        return out

    def _execution_get(self, req: _Request) -> _Response:
        execution_id = req.params["id"]
        self.counters.incr_key("polls_per_execution", execution_id)
        with self._state_lock:
            execution = self._executions.get(execution_id)
        if execution is None:
            raise HTTPError(404, "Execution not found")
        return _json(200, self._render_execution(execution, observe=True))

    def _execution_list(self, req: _Request) -> _Response:
        skip, limit = _paging(req)
        with self._state_lock:
            ids = list(reversed(self._order))[skip : skip + limit]
            executions = [self._executions[i] for i in ids]
        return _json(200, [self._render_execution(e, observe=True) for e in executions])


def _method_not_allowed(req: _Request) -> _Response:
    return _detail(405, "Method Not Allowed")


def _not_found(req: _Request) -> _Response:
    return _detail(404, "Not Found")


def _guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _json_object(body: bytes) -> JSONDict:
    try:
        value = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _validation_error(["body", 0], f"JSON decode error: {exc}", "json_invalid") from None
    if not isinstance(value, dict):
        raise _validation_error(
            ["body"],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
        )
    return value


def _sized(message: str, size: int) -> str:
    """``message`` made ``size`` characters long with hostile text (``size`` 0: as is)."""
    if size <= 0:
        return message
    padding = " " + HOSTILE_TEXT
    return (message + padding * (size // len(padding) + 1))[:size]


def _paging(req: _Request, default_limit: int = 10) -> tuple[int, int]:
    out: list[int] = []
    for name, default, low, high in (("skip", 0, 0, None), ("limit", default_limit, 1, 1000)):
        raw = req.q(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError:
            raise _validation_error(
                ["query", name], "Input should be a valid integer", "int_parsing"
            ) from None
        if value < low or (high is not None and value > high):
            raise _validation_error(["query", name], f"Input out of range [{low}, {high}]", "range")
        out.append(value)
    return out[0], out[1]


_ROUTES: list[tuple[str, re.Pattern[str], str, str, bool]] = [
    (method, re.compile(pattern), key, attr, auth)
    for method, pattern, key, attr, auth in [
        ("GET", r"^/v1/health$", "GET /health", "_health", True),
        ("GET", r"^/v1/files/hash/(?P<md5>[^/]+)$", "GET /files/hash/{md5}", "_file_hash", True),
        ("POST", r"^/v1/files/presigned-url$", "POST /files/presigned-url", "_presigned_url", True),
        (
            "GET",
            r"^/v1/files/verify-upload/(?P<id>[^/]+)$",
            "GET /files/verify-upload/{id}",
            "_verify_upload",
            True,
        ),
        ("GET", r"^/v1/files/(?P<id>[^/]+)$", "GET /files/{id}", "_file_get", True),
        ("DELETE", r"^/v1/files/(?P<id>[^/]+)$", "DELETE /files/{id}", "_file_delete", True),
        ("GET", r"^/v1/files$", "GET /files", "_file_list", True),
        ("POST", r"^/v1/files$", "POST /files", "_file_upload", True),
        ("POST", r"^/v1/agent/execute$", "POST /agent/execute", "_execute", True),
        (
            "GET",
            r"^/v1/agent/executions/(?P<id>[^/]+)$",
            "GET /agent/executions/{id}",
            "_execution_get",
            True,
        ),
        ("GET", r"^/v1/agent/executions$", "GET /agent/executions", "_execution_list", True),
        ("POST", r"^/v1/agent/create$", "POST /agent/create", "_agent_create", True),
        ("POST", r"^/v1/agent/lookup$", "POST /agent/lookup", "_agent_lookup", True),
        ("GET", r"^/v1/agent$", "GET /agent", "_agent_list", True),
        ("GET", r"^/v1/agents/(?P<id>[^/]+)$", "GET /agents/{id}", "_agent_get", True),
        ("GET", r"^/v1/artifacts$", "GET /artifacts", "_artifact_get", True),
        ("GET", r"^/v1/artifacts/list$", "GET /artifacts/list", "_artifact_list", True),
        (
            "POST",
            r"^/v1/openai/chat/completions$",
            "POST /openai/chat/completions",
            "_chat_completions",
            True,
        ),
        (
            "PUT",
            r"^/storage/upload/(?P<id>[^/]+)$",
            "PUT /storage/upload/{id}",
            "_storage_put",
            False,
        ),
        ("GET", r"^/storage/(?P<id>[^/]+)$", "GET /storage/{id}", "_storage_get", False),
    ]
]


# --------------------------------------------------------------------------- HTTP handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vlmrun-emulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.emulator.config.idle_timeout)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    # ----------------------------------------------------------------- body

    def _read_body(self, sink: Callable[[bytes], None]) -> int:
        """Stream the request body into `sink` in chunks; return its size."""
        counters = self.server.emulator.counters
        total = 0
        if "chunked" in str(self.headers.get("transfer-encoding", "")).lower():
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed mid-body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return total
                remaining = size
                while remaining:
                    chunk = self.rfile.read(min(_CHUNK, remaining))
                    if not chunk:
                        raise ConnectionError("client closed mid-body")
                    remaining -= len(chunk)
                    total += len(chunk)
                    counters.incr("bytes_received", len(chunk))
                    sink(chunk)
                self.rfile.readline(65537)  # CRLF after the chunk
        length = int(self.headers.get("content-length") or 0)
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(_CHUNK, remaining))
            if not chunk:
                raise ConnectionError("client closed mid-body")
            remaining -= len(chunk)
            total += len(chunk)
            counters.incr("bytes_received", len(chunk))
            sink(chunk)
        return total

    # ----------------------------------------------------------------- dispatch

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        if emulator.stopping:  # a request on a kept-alive connection during stop()
            self._send(_Response(0, drop=True))
            return
        split = urlsplit(self.path)
        path = split.path
        if path.startswith("/_admin/"):
            self._admin(path)
            return
        chunked = "chunked" in str(self.headers.get("transfer-encoding", "")).lower()
        if chunked and emulator.config.refuse_chunked:
            # a gateway in front that needs a length: it answers before reading the body
            emulator.counters.incr("refused_chunked")
            self.close_connection = True
            self._send(_detail(411, "Length Required"))
            return
        emulator.counters.enter_request()
        try:
            is_put = self.command == "PUT" and path.startswith("/storage/upload/")
            chunks: list[bytes] = []
            md5 = hashlib.md5() if is_put else None
            keep = (not is_put) or emulator.config.store_file_bytes

            def sink(chunk: bytes) -> None:
                if md5 is not None:
                    md5.update(chunk)
                if keep:
                    chunks.append(chunk)

            try:
                size = self._read_body(sink)
            except (ValueError, ConnectionError, TimeoutError, OSError):
                self.close_connection = True
                return
            req = _Request(
                method=self.command,
                path=path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers=self.headers,
                body=b"".join(chunks),
                body_size=size,
                body_md5=md5.hexdigest() if md5 is not None else None,
            )
            try:
                response = emulator.handle(req)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                response = _detail(500, f"Internal emulator error: {exc!r}")
            self._send(response)
        finally:
            emulator.counters.exit_request()

    def _admin(self, path: str) -> None:
        with contextlib.suppress(ValueError, ConnectionError, OSError):
            self._read_body(lambda chunk: None)
        emulator = self.server.emulator
        if self.command == "GET" and path == "/_admin/counters":
            self._send(_json(200, emulator.counters.snapshot()))
        elif self.command == "POST" and path == "/_admin/reset":
            state = "state=1" in (urlsplit(self.path).query or "")
            emulator.reset(state=state)
            self._send(_json(200, {"status": "reset", "state": state}))
        elif self.command == "POST" and path == "/_admin/outage":
            query = parse_qs(urlsplit(self.path).query)
            try:
                seconds = float(query.get("seconds", ["0"])[-1])
                kind = query.get("kind", [emulator.config.outage_kind])[-1]
                emulator.start_outage(seconds, kind)
            except ValueError as exc:
                self._send(_detail(422, str(exc)))
                return
            self._send(_json(200, {"status": "outage", "seconds": seconds, "kind": kind}))
        elif self.command == "DELETE" and path == "/_admin/outage":
            emulator.end_outages()
            self._send(_json(200, {"status": "outages ended"}))
        else:
            self._send(_detail(404, "Not Found"))

    def _send(self, response: _Response) -> None:
        emulator = self.server.emulator
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if not self.path.startswith("/_admin/"):
            emulator.counters.incr_key("responses_by_status", str(response.status))
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        body = response.body
        declared = len(body)
        if response.mangle == "truncated_json":
            body = body[: len(body) // 2]  # an object/array cut short is never valid JSON
            declared = len(body)
        elif response.mangle == "short_body":
            body = body[: len(body) // 2]
            declared = max(declared, 1)  # promise at least one byte more than is sent
            self.close_connection = True
        elif response.mangle in ("huge_body", "huge_error"):
            declared = emulator.config.huge_body_bytes
        endless = response.mangle in ("endless_body", "endless_error")
        if endless:  # a body delimited by the connection's end, which never comes
            self.close_connection = True
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            *([] if endless else [f"Content-Length: {declared}"]),
        ]
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        if self.close_connection or emulator.stopping:
            self.close_connection = True
            lines.append("Connection: close")
        else:
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command == "HEAD":
            body = b""
        try:
            if response.mangle == "slow_body":
                self._trickle(head, body)
            elif response.mangle in ("huge_body", "huge_error") or endless:
                self._flood(head, None if endless else declared)
            else:
                self.wfile.write(head + body)
            if response.mangle == "short_body":
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            self.close_connection = True

    def _flood(self, head: bytes, size: int | None) -> None:
        """Send the head, then ``size`` bytes (None: until the client hangs up or the
        emulator stops), as fast as the client reads them."""
        emulator = self.server.emulator
        self.wfile.write(head)
        block = b"A" * _CHUNK
        sent = 0
        while size is None or sent < size:
            if emulator.stopping:
                self.close_connection = True
                return
            piece = block if size is None else block[: size - sent]
            self.wfile.write(piece)
            sent += len(piece)
        self.wfile.flush()

    def _trickle(self, head: bytes, body: bytes) -> None:
        """Send the head, then the body in ``slow_body_chunks`` pieces spread over
        ``slow_body_seconds`` (stops early, closing the connection, if the emulator stops)."""
        emulator = self.server.emulator
        cfg = emulator.config
        self.wfile.write(head)
        self.wfile.flush()
        chunks = max(1, min(cfg.slow_body_chunks, len(body)))
        size = -(-len(body) // chunks) if body else 0
        pause = cfg.slow_body_seconds / chunks
        for start in range(0, len(body), max(size, 1)):
            if emulator.stopping or emulator.wait_stopping(pause):
                self.close_connection = True
                return
            self.wfile.write(body[start : start + size])
            self.wfile.flush()


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def running_emulator(**config_kwargs: Any) -> Iterator[Emulator]:
    """``with running_emulator(processing_time=0.1) as emu: ...`` (stopped on exit)."""
    emulator = Emulator(EmulatorConfig(**config_kwargs)).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


__all__ = [
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "ManualClock",
    "MultipartPart",
    "markdown_response",
    "parse_multipart",
    "running_emulator",
    "schema_response",
    "wait_until",
]
