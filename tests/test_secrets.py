"""The API key never shows: not in repr, exceptions, logs or cassettes."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from langchain_vlmrun import APIStatusError, VLMRunError
from tests.cassette_config import CASSETTES
from tests.mock_api import ScriptedAPI

KEY = "sk-test-SECRET-0123456789"
KEY_PATTERNS = [
    re.compile(r"Bearer\s+(?!REDACTED)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(
        r"(?i)(api[_-]?key|authorization)[\"':= ]+(?!REDACTED|PLACEHOLDER)[A-Za-z0-9._\-]{16,}"
    ),
    re.compile(r"(?i)x-(amz|goog)-signature=(?!REDACTED)[0-9a-f]{16,}"),
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
    for execution_id in ("x", "y"):
        with pytest.raises(VLMRunError) as info:
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
