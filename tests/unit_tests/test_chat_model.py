"""ChatVLMRun against a fake VLM Run API (httpx.MockTransport): what goes on the wire
and what comes back."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr
from typing_extensions import TypedDict

pytest.importorskip("langchain_openai")

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from langchain_vlmrun import AsyncVLMRunClient, MissingAPIKeyError, VLMRunClient
from langchain_vlmrun.chat import ChatVLMRun, vlmrun_response_format

BASE = "https://vlm.test/v1"
CHAT = "/v1/openai/chat/completions"
DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


class Invoice(BaseModel):
    invoice_id: str
    total: float


class InvoiceDict(TypedDict):
    invoice_id: str
    total: float


class FakeVLMRun:
    """Answers chat completions (JSON or SSE) and file uploads; records requests."""

    def __init__(
        self,
        content: str = "Hello from Orion.",
        credits_key: str = "credits_used",
        structured: bool = True,
    ):
        self.content = content
        self.structured = structured
        self.credits_key = credits_key
        self.requests: list[httpx.Request] = []
        self.uploads = 0

    def chat_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == CHAT]

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "total_tokens": 18,
            self.credits_key: 2.5,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/files" and request.method == "POST":
            self.uploads += 1
            return httpx.Response(
                201,
                json={
                    "id": f"file-{self.uploads}",
                    "filename": "x",
                    "bytes": 1,
                    "purpose": "assistants",
                    "object": "file",
                },
            )
        if request.url.path.startswith("/v1/files/hash/"):
            return httpx.Response(200, json={"id": None, "filename": None, "bytes": 0})
        if request.url.path != CHAT:
            return httpx.Response(404, json={"detail": "Not Found"})
        body = json.loads(request.content)
        content = self.content
        if "response_format" in body and self.structured:
            content = json.dumps({"invoice_id": "INV-000001", "total": 12.5})
        if not body.get("stream"):
            return httpx.Response(
                200,
                json={
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body["model"],
                    "session_id": "sess-1",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": self.usage(),
                },
            )
        pieces = [content[i : i + 5] for i in range(0, len(content), 5)]
        events = []
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            events.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"choices": [], "usage": self.usage()})
        lines = []
        for event in events:
            event.update(
                id="chatcmpl-1",
                object="chat.completion.chunk",
                created=1,
                model=body["model"],
                session_id="sess-1",
            )
            lines.append(f"data: {json.dumps(event)}\n\n")
        lines.append("data: [DONE]\n\n")
        return httpx.Response(
            200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
        )


@pytest.fixture
def fake() -> FakeVLMRun:
    return FakeVLMRun()


def make_chat(fake: FakeVLMRun, **kwargs: Any) -> ChatVLMRun:
    transport = httpx.MockTransport(fake)
    return ChatVLMRun(
        api_key="vlm-secret-key",
        base_url=BASE,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
        vlmrun_client=VLMRunClient(
            api_key="vlm-secret-key", base_url=BASE, http_client=httpx.Client(transport=transport)
        ),
        vlmrun_async_client=AsyncVLMRunClient(
            api_key="vlm-secret-key",
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=transport),
        ),
        **kwargs,
    )


# -- the Done-when of issue 27 -------------------------------------------------------------


def test_invoke_sends_vlmrun_parts_and_reads_usage(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    message = chat.invoke(
        [
            HumanMessage(
                content=[
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image", "url": "https://example.com/receipt.png"},
                    {"type": "file", "url": "https://example.com/report.pdf"},
                ]
            )
        ]
    )
    assert [r.url.path for r in fake.requests] == [CHAT]
    request = fake.requests[0]
    assert str(request.url) == f"{BASE}/openai/chat/completions"
    assert request.headers["authorization"] == "Bearer vlm-secret-key"
    body = fake.chat_bodies()[0]
    assert body["model"] == "vlmrun-orion-1:auto"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/receipt.png"}},
                {"type": "file_url", "file_url": {"url": "https://example.com/report.pdf"}},
            ],
        }
    ]
    assert isinstance(message, AIMessage)
    assert message.content == "Hello from Orion."
    assert message.usage_metadata == {
        "input_tokens": 11,
        "output_tokens": 7,
        "total_tokens": 18,
        "input_token_details": {},
        "output_token_details": {},
    }
    assert message.response_metadata["session_id"] == "sess-1"
    assert message.response_metadata["credits_used"] == 2.5
    assert message.response_metadata["model_provider"] == "vlmrun"
    assert message.response_metadata["model_name"] == "vlmrun-orion-1:auto"


def test_stream_yields_several_chunks_with_usage_once(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    chunks = list(chat.stream("Say hello"))
    assert len([c for c in chunks if c.content]) >= 3
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert full.content == "Hello from Orion."
    assert full.usage_metadata is not None and full.usage_metadata["total_tokens"] == 18
    assert full.response_metadata["session_id"] == "sess-1"  # once, not "sess-1sess-1"
    assert full.response_metadata["credits_used"] == 2.5
    assert full.response_metadata["model_name"] == "vlmrun-orion-1:auto"
    assert fake.chat_bodies()[0]["stream_options"] == {"include_usage": True}


def test_stream_without_usage(fake: FakeVLMRun) -> None:
    chat = make_chat(fake, stream_usage=False)
    chunks = list(chat.stream("Say hello"))
    full = sum(chunks[1:], chunks[0])
    assert full.usage_metadata is None
    assert "stream_options" not in fake.chat_bodies()[0]
    assert full.response_metadata["session_id"] == "sess-1"


async def test_astream_and_ainvoke(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    chunks = [chunk async for chunk in chat.astream("Say hello")]
    assert len(chunks) > 3
    full = sum(chunks[1:], chunks[0])
    assert full.content == "Hello from Orion."
    assert full.usage_metadata is not None
    message = await chat.ainvoke("Say hello")
    assert message.response_metadata["session_id"] == "sess-1"


@pytest.mark.parametrize("schema", [Invoice, InvoiceDict, Invoice.model_json_schema()])
def test_structured_output_in_vlmrun_shape(fake: FakeVLMRun, schema: Any) -> None:
    chat = make_chat(fake)
    result = chat.with_structured_output(schema).invoke("Extract the invoice")
    body = fake.chat_bodies()[0]
    assert body["response_format"]["type"] == "json_schema"
    assert "json_schema" not in body["response_format"]  # no OpenAI name wrapper
    assert set(body["response_format"]["schema"]["properties"]) == {"invoice_id", "total"}
    if schema is Invoice:
        assert result == Invoice(invoice_id="INV-000001", total=12.5)
    else:
        assert result == {"invoice_id": "INV-000001", "total": 12.5}


def test_structured_output_include_raw_and_stream(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    out = chat.with_structured_output(Invoice, include_raw=True).invoke("Extract")
    assert out["parsing_error"] is None
    assert out["parsed"] == Invoice(invoice_id="INV-000001", total=12.5)
    assert isinstance(out["raw"], AIMessage)
    streamed = list(chat.with_structured_output(InvoiceDict).stream("Extract"))
    assert streamed[-1] == {"invoice_id": "INV-000001", "total": 12.5}
    assert all("response_format" in body for body in fake.chat_bodies())


def test_structured_output_parsing_error_with_include_raw() -> None:
    fake = FakeVLMRun(content="not json", structured=False)
    chat = make_chat(fake)
    result = chat.with_structured_output(Invoice, include_raw=True).invoke("Extract")
    assert result["parsed"] is None
    assert result["parsing_error"] is not None
    assert result["raw"].content == "not json"
    with pytest.raises(Exception, match=r"not json|Invalid json"):
        chat.with_structured_output(Invoice).invoke("Extract")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "X", "schema": {"type": "object"}}},
            {"type": "json_schema", "schema": {"type": "object"}},
        ),
        (
            {"type": "json_schema", "schema": {"type": "array"}},
            {"type": "json_schema", "schema": {"type": "array"}},
        ),
        ({"type": "json_object"}, {"type": "json_schema", "schema": {"type": "object"}}),
        ({"type": "text"}, None),
    ],
)
def test_response_format_shapes(given: dict[str, Any], expected: Any) -> None:
    assert vlmrun_response_format(given) == expected


def test_openai_shaped_response_format_kwarg_is_rewritten(fake: FakeVLMRun) -> None:
    """create_agent's provider strategy binds OpenAI's shape; it goes out as VLM Run's."""
    chat = make_chat(fake)
    rf = {
        "type": "json_schema",
        "json_schema": {"name": "Invoice", "schema": {"type": "object"}, "strict": True},
    }
    chat.invoke("x", response_format=rf)
    assert fake.chat_bodies()[0]["response_format"] == {
        "type": "json_schema",
        "schema": {"type": "object"},
    }


def test_local_file_block_is_uploaded_once_and_sent_by_id(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    receipt = str(DATA / "receipt.png")
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "image", "path": receipt},
        {"type": "file", "url": receipt},  # a url that is a local path
        {"type": "audio", "url": (DATA / "meeting.mp3").as_uri()},  # file://
    ]
    chat.invoke([HumanMessage(content=content)])
    uploads = [r for r in fake.requests if r.url.path == "/v1/files"]
    assert len(uploads) == 2  # receipt.png once, meeting.mp3 once
    assert uploads[0].headers["content-type"].startswith("multipart/form-data")
    parts = fake.chat_bodies()[0]["messages"][0]["content"]
    assert parts[1:] == [
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "file_id": "file-2"},
    ]
    # the next turn of the conversation does not upload them again
    chat.invoke([HumanMessage(content=content), AIMessage("ok"), HumanMessage("and now?")])
    assert len([r for r in fake.requests if r.url.path == "/v1/files"]) == 2


async def test_local_file_uploaded_with_the_async_client(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    await chat.ainvoke([HumanMessage(content=[{"type": "file", "path": str(DATA / "report.pdf")}])])
    assert fake.uploads == 1
    assert fake.chat_bodies()[0]["messages"][0]["content"] == [
        {"type": "input_file", "file_id": "file-1"}
    ]


def test_inline_data_is_uploaded_not_inlined(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    png = (DATA / "receipt.png").read_bytes()
    encoded = base64.b64encode(png).decode()
    chat.invoke(
        [
            HumanMessage(
                content=[
                    {"type": "image", "base64": encoded, "mime_type": "image/png"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
                ]
            )
        ]
    )
    assert fake.uploads == 1  # same bytes: one upload
    body_text = json.dumps(fake.chat_bodies()[0])
    assert encoded[:100] not in body_text
    assert fake.chat_bodies()[0]["messages"][0]["content"] == [
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "file_id": "file-1"},
    ]


def test_every_block_shape(fake: FakeVLMRun) -> None:
    chat = make_chat(fake)
    chat.invoke(
        [
            HumanMessage(
                content=[
                    "plain string",
                    {"type": "image", "file_id": "f-img"},
                    {"type": "image", "source_type": "id", "id": "f-v0"},
                    {"type": "video", "url": "https://e.com/v.mp4"},
                    {"type": "audio", "url": "https://e.com/a.mp3"},
                    {"type": "file", "file_id": "f-doc"},
                    {"type": "image", "source_type": "url", "url": "https://e.com/i.png"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://e.com/j.png", "detail": "high"},
                    },
                    {"type": "video_url", "video_url": {"url": "https://e.com/w.mp4"}},
                    {"type": "input_file", "file_id": "f-native"},
                    {"type": "text-plain", "text": "notes", "mime_type": "text/plain"},
                ]
            )
        ]
    )
    assert fake.chat_bodies()[0]["messages"][0]["content"] == [
        {"type": "text", "text": "plain string"},
        {"type": "input_file", "file_id": "f-img"},
        {"type": "input_file", "file_id": "f-v0"},
        {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}},
        {"type": "audio_url", "audio_url": {"url": "https://e.com/a.mp3"}},
        {"type": "input_file", "file_id": "f-doc"},
        {"type": "image_url", "image_url": {"url": "https://e.com/i.png"}},
        {"type": "image_url", "image_url": {"url": "https://e.com/j.png", "detail": "high"}},
        {"type": "video_url", "video_url": {"url": "https://e.com/w.mp4"}},
        {"type": "input_file", "file_id": "f-native"},
        {"type": "text", "text": "notes"},
    ]
    assert fake.uploads == 0


def test_unsupported_local_file_is_refused_before_any_request(
    fake: FakeVLMRun, tmp_path: Path
) -> None:
    from langchain_vlmrun import FileSourceError

    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ\x90\x00" * 10)
    chat = make_chat(fake)
    with pytest.raises(FileSourceError):
        chat.invoke([HumanMessage(content=[{"type": "file", "path": str(bad)}])])
    assert fake.requests == []


def test_root_dir_confines_local_files(fake: FakeVLMRun, tmp_path: Path) -> None:
    from langchain_vlmrun import FileSourceError

    chat = make_chat(fake, root_dir=str(tmp_path))
    with pytest.raises(FileSourceError):
        chat.invoke([HumanMessage(content=[{"type": "image", "path": str(DATA / "receipt.png")}])])
    inside = tmp_path / "r.png"
    inside.write_bytes((DATA / "receipt.png").read_bytes())
    chat.invoke([HumanMessage(content=[{"type": "image", "path": str(inside)}])])
    assert fake.uploads == 1


def test_extra_body_fields(fake: FakeVLMRun) -> None:
    chat = make_chat(fake, session_id="s-0", toolsets=["document"], request_metadata={"a": 1})
    chat.invoke("hi")
    chat.invoke("hi", session_id="s-1", skills=[{"type": "skill_reference", "skill_name": "x"}])
    first, second = fake.chat_bodies()
    assert (first["session_id"], first["toolsets"], first["metadata"]) == (
        "s-0",
        ["document"],
        {"a": 1},
    )
    assert second["session_id"] == "s-1"
    assert second["skills"] == [{"type": "skill_reference", "skill_name": "x"}]


def test_credits_key_variant() -> None:
    fake = FakeVLMRun(credits_key="credits")
    message = make_chat(fake).invoke("hi")
    assert message.response_metadata["credits_used"] == 2.5


def test_never_the_responses_api(fake: FakeVLMRun) -> None:
    chat = make_chat(fake, model="vlmrun-orion-1:pro")
    assert chat._use_responses_api({"tools": [{"type": "web_search"}]}) is False
    chat.invoke("hi")
    assert [r.url.path for r in fake.requests] == [CHAT]


# -- settings ------------------------------------------------------------------------------


def test_settings_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMRUN_API_KEY", "env-key-123")
    monkeypatch.setenv("VLMRUN_BASE_URL", "https://env.test/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key-never-sent")
    chat = ChatVLMRun(timeout=30, max_retries=1)
    assert isinstance(chat.vlmrun_api_key, SecretStr)
    assert chat.vlmrun_api_key.get_secret_value() == "env-key-123"
    assert str(chat.root_client.base_url) == "https://env.test/v1/openai/"
    assert chat.root_client.api_key == "env-key-123"
    assert chat.root_client.timeout == 30
    assert chat.root_client.max_retries == 1
    for text in (repr(chat), str(chat), json.dumps(chat.model_dump(), default=str)):
        assert "env-key-123" not in text
    assert chat.lc_secrets == {"vlmrun_api_key": "VLMRUN_API_KEY"}
    assert ChatVLMRun(api_key="k").root_client.timeout == 600


def test_missing_key_and_misspelled_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    with pytest.raises(MissingAPIKeyError):
        ChatVLMRun()
    with pytest.raises(TypeError, match="did you mean 'session_id'"):
        ChatVLMRun(api_key="k", sesion_id="x")
    with pytest.raises(TypeError, match="not both"):
        ChatVLMRun(api_key="k", vlmrun_api_key="k")
    with pytest.raises(TypeError, match="value is not shown"):
        ChatVLMRun(api_key=12345)


def test_key_from_a_given_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    client = VLMRunClient(api_key="client-key", base_url="https://c.test/v1")
    chat = ChatVLMRun(vlmrun_client=client)
    assert chat.root_client.api_key == "client-key"
    assert str(chat.root_client.base_url) == "https://c.test/v1/openai/"


def test_http_errors_do_not_show_the_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422, json={"detail": [{"loc": ["body", "messages"], "msg": "bad", "type": "x"}]}
        )

    chat = ChatVLMRun(
        api_key="vlm-secret-key",
        base_url=BASE,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(Exception) as info:
        chat.invoke("hi")
    assert "vlm-secret-key" not in str(info.value)
    assert "body.messages: bad" in str(info.value)  # FastAPI's detail, shown


def test_requests_per_minute_throttles_chat_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_vlmrun.chat import chat_model

    waits: list[float] = []
    monkeypatch.setattr(chat_model.time, "sleep", waits.append)

    def answer(request: httpx.Request) -> httpx.Response:
        return FakeVLMRun()(request)

    monkeypatch.setattr(chat_model.httpx, "HTTPTransport", lambda: httpx.MockTransport(answer))
    chat = ChatVLMRun(api_key="k", base_url=BASE, requests_per_minute=1)
    chat.invoke("one")
    chat.invoke("two")
    assert len(waits) == 1 and waits[0] > 30


def test_requests_per_minute_keeps_the_users_own_http_clients(
    monkeypatch: pytest.MonkeyPatch, fake: FakeVLMRun
) -> None:
    """A budget must not replace the clients the user gave (their proxy, TLS settings,
    headers and hooks): every chat request still goes out through them, throttled."""
    from langchain_vlmrun.chat import chat_model

    waits: list[float] = []
    monkeypatch.setattr(chat_model.time, "sleep", waits.append)

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(chat_model.asyncio, "sleep", no_wait)
    hooked: list[str] = []

    def hook(request: httpx.Request) -> None:
        hooked.append(request.headers["x-corp"])

    async def ahook(request: httpx.Request) -> None:
        hook(request)

    transport = httpx.MockTransport(fake)
    mine = httpx.Client(
        transport=transport, headers={"x-corp": "sync"}, event_hooks={"request": [hook]}
    )
    amine = httpx.AsyncClient(
        transport=transport, headers={"x-corp": "async"}, event_hooks={"request": [ahook]}
    )
    chat = ChatVLMRun(
        api_key="vlm-secret-key",
        base_url=BASE,
        http_client=mine,
        http_async_client=amine,
        requests_per_minute=60,
        timeout=httpx.Timeout(7.0, connect=2.0),
    )
    assert chat.invoke("one").content == "Hello from Orion."
    assert chat.invoke("two").content == "Hello from Orion."
    # the user's hook saw both requests; the second waited for the budget
    assert len(hooked) == 2 and len(waits) == 1 and 0 < waits[0] <= 1.5
    assert len(fake.chat_bodies()) == 2
    assert not mine.is_closed  # theirs to close

    import asyncio

    asyncio.run(chat.ainvoke("three"))
    assert len(fake.chat_bodies()) == 3 and hooked == ["sync", "sync", "async"]
    assert [r.extensions["timeout"]["connect"] for r in fake.requests] == [2.0, 2.0, 2.0]


def test_an_httpx_timeout_object_is_a_timeout(fake: FakeVLMRun) -> None:
    """``timeout=httpx.Timeout(...)`` (as httpx users write it) works, with or without a
    request budget: newer openai releases refuse httpx's own Timeout object."""
    timeout = httpx.Timeout(30.0, connect=3.0)
    for extra in ({}, {"requests_per_minute": 600}):
        chat = ChatVLMRun(api_key="k", base_url=BASE, timeout=timeout, **extra)
        assert chat.root_client.timeout in (timeout, (3.0, 30.0, 30.0, 30.0))
    plain = make_chat(fake, timeout=timeout)
    assert plain.invoke("hi").content == "Hello from Orion."
    sent = next(r for r in fake.requests if r.url.path == CHAT)
    assert sent.extensions["timeout"] == {"connect": 3.0, "read": 30.0, "write": 30.0, "pool": 30.0}


# -- artifacts of a chat, by its session ---------------------------------------------------


class WithArtifacts(FakeVLMRun):
    """The fake, also serving ``GET /artifacts`` (a PNG), recording what was asked."""

    served: list[dict[str, str]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/artifacts":
            self.served.append(dict(request.url.params))
            return httpx.Response(200, headers={"content-type": "image/png"}, content=b"\x89PNG")
        return super().__call__(request)


def test_the_artifacts_an_answer_names_are_blobs_of_its_session(tmp_path: Path) -> None:
    fake = WithArtifacts("Here is the chart: img_1a2b3c (img_1a2b3c4 is no id).")
    fake.served = []
    chat = make_chat(fake)
    answer = chat.invoke("Draw the chart.")
    assert answer.response_metadata["session_id"] == "sess-1"
    (blob,) = chat.artifacts(answer, directory=tmp_path)
    assert fake.served == []  # nothing fetched until read
    assert blob.as_bytes() == b"\x89PNG" and blob.mimetype == "image/png"
    assert fake.served == [{"object_id": "img_1a2b3c", "session_id": "sess-1"}]
    assert blob.path == tmp_path / "sess-1" / "img_1a2b3c.png"
    with pytest.raises(ValueError, match="no session_id"):
        chat.artifacts(HumanMessage(content="img_1a2b3c"))
