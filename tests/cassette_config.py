"""vcrpy settings shared by the tests and the offline examples.

Why these settings:
- ``allow_playback_repeats=False``: poll responses replay in recorded order
  (enqueued → running → completed) instead of the first one forever.
- no ``record_mode`` here: pytest-recording's ``--record-mode`` decides (default none).
- match on method + URI only: multipart boundaries and client request ids are random.
- ``Authorization`` and other credentials are filtered; response headers are reduced
  to the few the client reads; presigned-URL signatures are scrubbed.
- the bytes of uploaded files are not kept (the multipart part headers are): they are
  never matched on and would only make a recorded cassette large.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"

#: First words of every composed cassette (tests/cassette_kit.py); a cassette recorded
#: from the live service has no such header.
COMPOSED_MARKER = "# COMPOSED"


def is_composed(name: str) -> bool:
    """Whether ``cassettes/<name>.yaml`` was composed (not recorded live)."""
    path = CASSETTES / (name if name.endswith(".yaml") else f"{name}.yaml")
    with path.open(encoding="utf-8") as file:
        return file.readline().startswith(COMPOSED_MARKER)


_KEEP_RESPONSE_HEADERS = {"content-type", "retry-after", "location", "x-request-id"}
#: ``name=value`` pairs of signature, credential and token query parameters (presigned
#: URLs in response bodies, ``location`` headers and request URIs).
SIGNATURE = re.compile(
    r"(?i)\b((?:x-amz-|x-goog-)?(?:signature|sig|credential|security-token|token))"
    r"=[^&\"\s]+"
)


def scrub(text: str) -> str:
    return SIGNATURE.sub(lambda m: f"{m.group(1)}=REDACTED", text)


#: What a recorded cassette holds instead of the bytes of an uploaded file.
UPLOAD_BODY_PLACEHOLDER = b"(multipart upload: the file bytes are not recorded)"


def without_file_bytes(body: bytes) -> bytes:
    """A multipart body with each file part's bytes replaced by the placeholder; part
    headers (``filename=...``) and other fields are kept."""
    first_line = body.split(b"\r\n", 1)[0]
    if not first_line.startswith(b"--"):
        return body
    parts = body.split(first_line)
    for index, part in enumerate(parts):
        head, blank, _data = part.partition(b"\r\n\r\n")
        if blank and b"filename=" in head:
            parts[index] = head + blank + UPLOAD_BODY_PLACEHOLDER + b"\r\n"
    return first_line.join(parts)


def _scrub_request(request: Any) -> Any:
    request.uri = scrub(request.uri)
    content_type = str((getattr(request, "headers", None) or {}).get("content-type", ""))
    body = getattr(request, "body", None)
    if content_type.lower().startswith("multipart/") and isinstance(body, bytes):
        request.body = without_file_bytes(body)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {
        k: [scrub(str(item)) for item in (v if isinstance(v, list) else [v])]
        for k, v in response["headers"].items()
        if k.lower() in _KEEP_RESPONSE_HEADERS
    }
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return response  # binary (an artifact's bytes): no URL to scrub, keep it intact
        response["body"]["string"] = scrub(text).encode()
    return response


def vcr_settings() -> dict[str, Any]:
    return {
        "cassette_library_dir": str(CASSETTES),
        "filter_headers": [
            ("authorization", "REDACTED"),
            ("x-api-key", "REDACTED"),
            ("api-key", "REDACTED"),
            ("cookie", "REDACTED"),
        ],
        "filter_query_parameters": [
            ("api_key", "REDACTED"),
            ("X-Amz-Signature", "REDACTED"),
            ("X-Goog-Signature", "REDACTED"),
        ],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
        "allow_playback_repeats": False,
        "decode_compressed_response": True,
        "path_transformer": lambda path: path if path.endswith(".yaml") else f"{path}.yaml",
    }


def client_settings() -> dict[str, Any]:
    """Client settings for cassette replay (or live recording when a key is set).

    Request ids are deterministic and polling does not sleep in replay.
    """
    import itertools
    import os

    from langchain_vlmrun import PollSchedule
    from langchain_vlmrun.client._client import ClientHooks

    counter = itertools.count(1)
    settings: dict[str, Any] = {
        "api_key": os.environ.get("VLMRUN_API_KEY") or "test-key-not-a-secret",
        "base_url": CASSETTE_BASE_URL,
        # the cassettes were composed with these execute ids
        "_hooks": ClientHooks(
            request_id_factory=lambda: f"00000000-0000-4000-8000-{next(counter):012d}"
        ),
    }
    if not os.environ.get("VLMRUN_API_KEY"):
        settings["poll"] = PollSchedule.immediate()
    return settings


CASSETTE_BASE_URL = "https://api.vlm.run/v1"
