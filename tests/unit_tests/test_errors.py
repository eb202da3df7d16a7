"""Every error class, both error body shapes and non-JSON bodies (MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from langchain_vlmrun import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncVLMRunClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UnreadableResponseError,
    VLMRunClient,
    VLMRunError,
)
from tests.mock_api import ScriptedAPI


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (413, RequestTooLargeError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
def test_status_maps_to_typed_error(status: int, error_class: type[APIStatusError]) -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/x",
        httpx.Response(
            status, json={"detail": "the server says no"}, headers={"x-request-id": "req-9"}
        ),
    )
    with pytest.raises(error_class) as info:
        api.client(retry=None, max_retries=0).get_execution("x")
    err = info.value
    assert isinstance(err, VLMRunError)
    assert err.status_code == status
    assert err.request_id == "req-9"
    assert "the server says no" in str(err)


def test_openai_style_error_body() -> None:
    body = {"error": {"message": "Agent is archived", "type": "invalid_request", "id": "e-1"}}
    api = ScriptedAPI().on("GET", "/agent/executions/x", httpx.Response(400, json=body))
    with pytest.raises(BadRequestError) as info:
        api.client().get_execution("x")
    assert "Agent is archived" in str(info.value)
    assert info.value.type == "invalid_request"
    assert info.value.request_id == "e-1"


def test_fastapi_validation_list_is_readable() -> None:
    detail = [
        {
            "loc": ["body", "inputs"],
            "msg": "Input should be a valid dictionary",
            "type": "dict_type",
        }
    ]
    api = ScriptedAPI().on(
        "GET", "/agent/executions/x", httpx.Response(422, json={"detail": detail})
    )
    with pytest.raises(BadRequestError, match=r"inputs: Input should be a valid dictionary"):
        api.client().get_execution("x")


def test_html_502_page_gives_readable_message() -> None:
    html = "<html><head><title>502</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/x",
        httpx.Response(502, text=html, headers={"content-type": "text/html"}),
    )
    with pytest.raises(InternalServerError) as info:
        api.client(max_retries=0, retry=None).get_execution("x")
    assert "502 Bad Gateway" in str(info.value)
    assert "<h1>" not in str(info.value)


def test_malformed_json_success_body_is_a_typed_error() -> None:
    api = ScriptedAPI().on(
        "GET",
        "/agent/executions/x",
        httpx.Response(200, text="{not json", headers={"content-type": "application/json"}),
    )
    with pytest.raises(UnreadableResponseError, match="Unreadable response") as raised:
        api.client().get_execution("x")
    assert raised.value.request is not None and raised.value.request.url.path.endswith("/x")


def test_connection_and_timeout_errors_are_typed() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions/a", httpx.ConnectError("refused"))
    api.on("GET", "/agent/executions/b", httpx.ReadTimeout("slow"))
    client = api.client(max_retries=0, retry=None)
    with pytest.raises(APIConnectionError) as refused:
        client.get_execution("a")
    assert refused.value.request_sent is False
    with pytest.raises(APITimeoutError) as slow:
        client.get_execution("b")
    assert slow.value.request_sent is True


def test_missing_key_is_clear_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    with pytest.raises(MissingAPIKeyError, match=r"VLMRunClient needs .*VLMRUN_API_KEY"):
        VLMRunClient(http_client=httpx.Client(transport=transport))
    with pytest.raises(MissingAPIKeyError, match="AsyncVLMRunClient needs"):
        AsyncVLMRunClient(api_key="")  # an empty key is no key


def test_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    monkeypatch.setenv("VLMRUN_API_KEY", "env-key")
    monkeypatch.setenv("VLMRUN_BASE_URL", "https://example.test/v9/")
    client = VLMRunClient(http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert client.health() is True
    assert str(seen[0].url) == "https://example.test/v9/health"
    assert seen[0].headers["authorization"] == "Bearer env-key"
    assert seen[0].headers["x-client-id"].startswith("langchain-vlmrun-")
