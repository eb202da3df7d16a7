"""The API key never shows: not in repr, exceptions, logs or cassettes."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from langchain_vlmrun import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    VLMRunError,
)
from tests.cassette_config import CASSETTES
from tests.mock_api import ScriptedAPI

KEY = "sk-test-SECRET-0123456789"
KEY_PATTERNS = [
    re.compile(r"Bearer\s+(?!REDACTED)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(
        r"(?i)(api[_-]?key|authorization)[\"':= ]+(?!REDACTED|PLACEHOLDER)[A-Za-z0-9._\-]{16,}"
    ),
    re.compile(
        r"(?i)\b((x-amz-|x-goog-)?(signature|sig|credential|security-token|token))"
        r"=(?!REDACTED)[^&\"\s]+"
    ),
]


def test_key_not_in_repr() -> None:
    client = ScriptedAPI().client()
    assert KEY not in repr(client)
    assert KEY not in repr(client.api_key)
    assert KEY not in str(vars(client).get("api_key"))


def test_key_not_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = ScriptedAPI().on(
        "GET", "/agent/executions/x", httpx.Response(401, json={"detail": "invalid key"})
    )
    api.on("GET", "/agent/executions/y", httpx.ConnectError("refused"))
    client = api.client(max_retries=1, retry=None)
    errors: list[VLMRunError] = []
    for execution_id, expected in (("x", AuthenticationError), ("y", APIConnectionError)):
        with pytest.raises(expected) as info:
            client.get_execution(execution_id)
        errors.append(info.value)
    for err in errors:
        assert KEY not in str(err) and KEY not in repr(err) and KEY not in repr(err.args)
    assert isinstance(errors[0], APIStatusError)
    assert KEY not in caplog.text
    assert "/agent/executions/x" in caplog.text  # requests are logged, without headers


def test_no_secret_in_any_cassette() -> None:
    files = sorted(CASSETTES.rglob("*.yaml"))
    assert files, "cassettes/ should hold the recorded interactions"
    for path in files:
        text = path.read_text()
        for pattern in KEY_PATTERNS:
            match = pattern.search(text)
            assert match is None, f"{path.name} may hold a secret: {match.group(0)[:20]}..."
        for line in text.splitlines():
            if "authorization" in line.lower() and ":" in line and "REDACTED" not in line:
                assert line.strip().lower().rstrip(":") == "authorization", f"{path.name}: {line}"


def test_scanner_catches_a_leaked_key(tmp_path: Path) -> None:
    leaked = "headers:\n  Authorization:\n  - Bearer abcdefgh12345678\n"
    assert any(p.search(leaked) for p in KEY_PATTERNS)


@pytest.mark.parametrize(
    "leak",
    [
        "uri: https://storage.test/up/f?sig=abc123",
        "uri: https://s3.test/b/k?X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=deadbeef",
        "location: https://storage.test/up/f?Signature=abc&token=xyz",
    ],
)
def test_scanner_and_scrubber_agree_on_presigned_parameters(leak: str) -> None:
    from tests.cassette_config import scrub

    assert any(p.search(leak) for p in KEY_PATTERNS)  # the scan would fail on it
    assert not any(p.search(scrub(leak)) for p in KEY_PATTERNS)  # the recorder removes it


def test_recording_scrubs_request_uris_and_location_headers() -> None:
    from tests.cassette_config import vcr_settings

    settings = vcr_settings()

    class Recorded:
        uri = "https://storage.test/up/f-1?X-Amz-Signature=abc&X-Amz-Credential=AKIA&x=1"

    request = settings["before_record_request"](Recorded())
    assert request.uri == (
        "https://storage.test/up/f-1?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&x=1"
    )
    response = settings["before_record_response"](
        {
            "headers": {"Location": ["https://s.test/a?sig=abc"], "Set-Cookie": ["s=1"]},
            "body": {"string": b'{"url": "https://s.test/a?token=xyz"}'},
        }
    )
    assert response["headers"] == {"Location": ["https://s.test/a?sig=REDACTED"]}
    assert response["body"]["string"] == b'{"url": "https://s.test/a?token=REDACTED"}'
