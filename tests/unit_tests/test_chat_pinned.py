"""ChatVLMRun pinned down (``chat/_content.py``, ``chat/chat_model.py``), from their
mutation runs.

As a user calls it (``invoke``/``stream`` on a fake VLM Run API, no network): which
part each content block becomes, what is uploaded and under which file name, each
refusal of a block word for word, and what the settings put on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

pytest.importorskip("langchain_openai")

import openai
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import LLMResult
from pydantic import BaseModel, SecretStr

from langchain_vlmrun import AsyncVLMRunClient, FileSourceError, MissingAPIKeyError, VLMRunClient
from langchain_vlmrun._version import __version__
from langchain_vlmrun.chat import ChatVLMRun, vlmrun_response_format
from tests.chat_support import wav_bytes
from tests.unit_tests.test_chat_model import (
    BASE,
    CHAT,
    DATA,
    FakeVLMRun,
    Invoice,
    InvoiceDict,
    WithArtifacts,
    make_chat,
)

PNG = (DATA / "receipt.png").read_bytes()
PDF = (DATA / "report.pdf").read_bytes()
MP3 = (DATA / "meeting.mp3").read_bytes()
MP4 = (DATA / "demo.mp4").read_bytes()


WAV = wav_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def uploaded_names(fake: FakeVLMRun) -> list[str]:
    """The file names of the uploads, in order."""
    names = []
    for request in fake.requests:
        if request.url.path == "/v1/files" and request.method == "POST":
            found = re.search(rb'filename="([^"]*)"', request.content)
            assert found is not None
            names.append(found.group(1).decode())
    return names


def sent_parts(fake: FakeVLMRun, message: int = 0) -> Any:
    """The content of message ``message`` of the (first) chat request."""
    return fake.chat_bodies()[0]["messages"][message]["content"]


def chat_with(content: list[Any], **kwargs: Any) -> FakeVLMRun:
    """Invoke a chat model on one human message of ``content``; the fake API."""
    fake = FakeVLMRun()
    make_chat(fake, **kwargs).invoke([HumanMessage(content=content)])
    return fake


# --- which part each block becomes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "part"),
    [
        (
            {"type": "image", "url": "https://e.com/i.png", "extras": {"detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://e.com/i.png", "detail": "low"}},
        ),
        (  # only an image has a detail
            {"type": "video", "url": "https://e.com/v.mp4", "extras": {"detail": "low"}},
            {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}},
        ),
        (
            {"type": "file", "url": "https://e.com/r.pdf"},
            {"type": "file_url", "file_url": {"url": "https://e.com/r.pdf"}},
        ),
        (
            {"type": "image_url", "image_url": "https://e.com/j.png"},  # the url as a string
            {"type": "image_url", "image_url": {"url": "https://e.com/j.png"}},
        ),
        (
            {"type": "audio_url", "audio_url": {"url": "https://e.com/a.mp3", "detail": "x"}},
            {"type": "audio_url", "audio_url": {"url": "https://e.com/a.mp3"}},
        ),
        (
            {"type": "file_url", "file_url": {"url": "https://e.com/f.pdf"}},
            {"type": "file_url", "file_url": {"url": "https://e.com/f.pdf"}},
        ),
        (
            {"type": "file", "file": {"file_id": "f-openai"}},  # OpenAI's shape
            {"type": "input_file", "file_id": "f-openai"},
        ),
        ({"type": "input_file", "file_id": "f-9"}, {"type": "input_file", "file_id": "f-9"}),
        (  # LangChain's v0 blocks
            {"type": "image", "source_type": "id", "id": "f-v0"},
            {"type": "input_file", "file_id": "f-v0"},
        ),
        (  # "data" is the payload of a base64 block only
            {"type": "image", "url": "https://e.com/i.png", "data": "aGk="},
            {"type": "image_url", "image_url": {"url": "https://e.com/i.png"}},
        ),
        ({"type": "text", "text": "hello", "id": "t-1"}, {"type": "text", "text": "hello"}),
        (  # a text key on an image block (a caption) does not make it text
            {"type": "image", "url": "https://e.com/i.png", "text": "caption"},
            {"type": "image_url", "image_url": {"url": "https://e.com/i.png"}},
        ),
        (
            {"type": "text-plain", "text": "notes", "mime_type": "text/plain"},
            {"type": "text", "text": "notes"},
        ),
        (
            {"type": "text-plain", "url": "https://e.com/n.txt", "mime_type": "text/plain"},
            {"type": "file_url", "file_url": {"url": "https://e.com/n.txt"}},
        ),
    ],
)
@pytest.mark.parametrize("how", ["invoke", "upload_files"])
def test_each_block_becomes_its_vlmrun_part(
    block: dict[str, Any], part: dict[str, Any], how: str
) -> None:
    fake = FakeVLMRun()
    chat = make_chat(fake)
    if how == "invoke":  # LangChain normalises the blocks first
        chat.invoke([HumanMessage(content=[block])])
        assert sent_parts(fake) == [part]
    else:  # as given
        (message,) = chat.upload_files([HumanMessage(content=[block])])
        assert message.content == [part]
    assert fake.uploads == 0


def test_an_unknown_block_is_sent_as_it_is() -> None:
    block = {"type": "reasoning", "reasoning": "because", "id": "r-1"}
    fake = chat_with([{"type": "text", "text": "hi"}, block])
    assert sent_parts(fake) == [{"type": "text", "text": "hi"}, block]


def test_ai_messages_and_plain_text_are_not_rewritten() -> None:
    fake = FakeVLMRun()
    image = {"type": "image_url", "image_url": {"url": "https://e.com/j.png"}}
    history = [
        SystemMessage("Be brief."),
        HumanMessage(content=[{"type": "image", "url": "https://e.com/i.png"}]),
        AIMessage(content=[{"type": "text", "text": "a receipt"}]),
        HumanMessage("and the total?"),
    ]
    make_chat(fake).invoke(history)
    messages = fake.chat_bodies()[0]["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1]["content"] == [image | {"image_url": {"url": "https://e.com/i.png"}}]
    assert messages[3] == {"role": "user", "content": "and the total?"}


# --- uploads: what is uploaded, once, under which name -----------------------------------------


@pytest.mark.parametrize(
    ("block", "name"),
    [
        ({"type": "image", "base64": b64(PNG), "mime_type": "image/png"}, "image.png"),
        ({"type": "audio", "base64": b64(WAV), "mime_type": "audio/wav"}, "audio.wav"),
        ({"type": "audio", "base64": b64(WAV), "mime_type": "audio/x-wav"}, "audio.wav"),
        ({"type": "audio", "base64": b64(MP3), "mime_type": "audio/mpeg"}, "audio.mp3"),
        ({"type": "video", "base64": b64(MP4), "mime_type": "video/mp4"}, "video.mp4"),
        ({"type": "file", "base64": b64(PDF), "mime_type": "application/pdf"}, "document.pdf"),
        (
            {
                "type": "file",
                "base64": b64(PDF),
                "mime_type": "application/pdf",
                "filename": " a/q3.pdf ",
            },
            "q3.pdf",
        ),
        (
            {
                "type": "file",
                "base64": b64(PDF),
                "mime_type": "application/pdf",
                "extras": {"filename": "from-extras.pdf"},
            },
            "from-extras.pdf",
        ),
        (
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}},
            "image.png",
        ),
        (
            {"type": "file_url", "file_url": {"url": f"data:application/pdf;base64,{b64(PDF)}"}},
            "document.pdf",
        ),
        (
            {"type": "image", "url": f"data:image/png;base64,{b64(PNG)}"},
            "image.png",
        ),
        (  # OpenAI's file shape: a data: URL, or bare base64 (a PDF)
            {
                "type": "file",
                "file": {
                    "file_data": f"data:application/pdf;base64,{b64(PDF)}",
                    "filename": "r.pdf",
                },
            },
            "r.pdf",
        ),
        ({"type": "file", "file": {"file_data": b64(PDF)}}, "document.pdf"),
        (
            {"type": "file", "url": f"data:application/pdf;base64,{b64(PDF)}", "filename": "x.pdf"},
            "x.pdf",
        ),
        (  # LangChain's v0 blocks
            {"type": "image", "source_type": "base64", "data": b64(PNG), "mime_type": "image/png"},
            "image.png",
        ),
        (
            {
                "type": "file",
                "source_type": "base64",
                "data": b64(PDF),
                "mime_type": "application/pdf",
                "metadata": {"filename": "m.pdf"},
            },
            "m.pdf",
        ),
        (
            {
                "type": "file",
                "source_type": "base64",
                "data": b64(PDF),
                "mime_type": "application/pdf",
                "metadata": {"name": "n.pdf"},
            },
            "n.pdf",
        ),
        (  # no type: the client names it from its content
            {"type": "image_url", "image_url": {"url": f"data:;base64,{b64(PNG)}"}},
            "image.png",
        ),
        (
            {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{b64(MP4)}"}},
            "document.mp4",
        ),
        ({"type": "input_audio", "input_audio": {"data": b64(MP3), "format": "mp3"}}, "audio.mp3"),
        ({"type": "input_audio", "input_audio": {"data": b64(WAV)}}, "audio.wav"),
    ],
)
@pytest.mark.parametrize("how", ["invoke", "upload_files"])
def test_inline_data_is_uploaded_under_a_name_of_its_type(
    block: dict[str, Any], name: str, how: str
) -> None:
    # invoke: as LangChain normalises the blocks first; upload_files: as given
    fake = FakeVLMRun()
    chat = make_chat(fake)
    if how == "invoke":
        chat.invoke([HumanMessage(content=[block])])
        assert sent_parts(fake) == [{"type": "input_file", "file_id": "file-1"}]
    else:
        (message,) = chat.upload_files([HumanMessage(content=[block])])
        assert message.content == [{"type": "input_file", "file_id": "file-1"}]
    assert uploaded_names(fake) == [name]


def test_the_same_bytes_under_another_name_are_another_upload() -> None:
    pdf = {"type": "file", "base64": b64(PDF), "mime_type": "application/pdf"}
    fake = chat_with([pdf, pdf | {"filename": "b.pdf"}, pdf])
    assert uploaded_names(fake) == ["document.pdf", "b.pdf"]
    assert sent_parts(fake) == [
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "file_id": "file-2"},
        {"type": "input_file", "file_id": "file-1"},
    ]


@pytest.mark.parametrize(
    "url",
    [
        "{path}",
        "file://{path}",
        "FILE://{path}",
        "file://localhost{path}",
    ],
)
def test_a_local_path_or_file_url_is_uploaded_from_disk(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "with space"
    folder.mkdir()
    path = folder / "receipt.png"
    path.write_bytes(PNG)
    spelled = str(path) if url == "{path}" else url.format(path=str(path).replace(" ", "%20"))
    fake = chat_with([{"type": "image", "url": spelled}])
    assert uploaded_names(fake) == ["receipt.png"]
    assert sent_parts(fake) == [{"type": "input_file", "file_id": "file-1"}]


def test_a_path_under_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "r.pdf").write_bytes(PDF)
    fake = chat_with([{"type": "file", "path": "~/r.pdf"}, {"type": "file", "url": "~/r.pdf"}])
    assert uploaded_names(fake) == ["r.pdf"]  # one file, one upload


def test_a_path_object_is_uploaded(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(PDF)
    fake = FakeVLMRun()
    chat = make_chat(fake)
    messages = chat.upload_files([HumanMessage(content=[{"type": "file", "path": path}])])
    assert messages[0].content == [{"type": "input_file", "file_id": "file-1"}]
    assert uploaded_names(fake) == ["r.pdf"]


def test_a_changed_file_is_uploaded_again(tmp_path: Path) -> None:
    path = tmp_path / "r.png"
    path.write_bytes(PNG)
    fake = FakeVLMRun()
    chat = make_chat(fake)
    block = {"type": "image", "path": str(path)}
    chat.invoke([HumanMessage(content=[block])])
    chat.invoke([HumanMessage(content=[block])])
    assert fake.uploads == 1
    path.write_bytes(PNG + b"\x00")  # another size: another file
    chat.invoke([HumanMessage(content=[block])])
    assert fake.uploads == 2


def test_uploads_happen_in_order_of_appearance(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(PDF)
    (tmp_path / "b.png").write_bytes(PNG)
    fake = FakeVLMRun()
    make_chat(fake).invoke(
        [
            HumanMessage(content=[{"type": "file", "path": str(tmp_path / "a.pdf")}]),
            AIMessage("ok"),
            HumanMessage(
                content=[
                    "and",
                    {"type": "image", "path": str(tmp_path / "b.png")},
                    {"type": "file", "path": str(tmp_path / "a.pdf")},
                ]
            ),
        ]
    )
    assert uploaded_names(fake) == ["a.pdf", "b.png"]
    assert sent_parts(fake, 2) == [
        {"type": "text", "text": "and"},
        {"type": "input_file", "file_id": "file-2"},
        {"type": "input_file", "file_id": "file-1"},
    ]


def test_a_missing_file_is_refused_before_the_chat_request(tmp_path: Path) -> None:
    fake = FakeVLMRun()
    missing = tmp_path / "gone.pdf"
    with pytest.raises(FileSourceError, match=r"gone\.pdf"):
        make_chat(fake).invoke([HumanMessage(content=[{"type": "file", "path": str(missing)}])])
    assert [r.url.path for r in fake.requests if r.url.path == CHAT] == []


# --- refusals, word for word ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {"type": "image", "url": "file://fileserver/share/r.png"},
            "Only local file:// URLs are supported, got 'file://fileserver/share/r.png'.",
        ),
        (
            {"type": "image", "base64": "not base64!", "mime_type": "image/png"},
            "The base64 data of a image block is not valid base64.",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}},
            "Only base64 data: URLs are supported in chat content.",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:image/png;base64"}},
            "Only base64 data: URLs are supported in chat content.",
        ),
        (  # the first comma ends the header: the rest is the (broken) data
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,ab,cd"}},
            "The base64 data of a data: URL block is not valid base64.",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:;base64,@@@"}},
            "The base64 data of a data: URL block is not valid base64.",
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}},
            "The base64 data of a input_audio block is not valid base64.",
        ),
        (
            {"type": "video_url", "video_url": {"detail": "high"}},
            "A video_url part needs a url, got {'detail': 'high'}.",
        ),
        (
            {"type": "input_audio", "input_audio": {"format": "wav"}},
            "The data is empty (0 bytes); pass the file's content.",
        ),
        (
            {"type": "image", "base64": "", "mime_type": "image/png"},
            "A image block needs one of url, base64, file_id or path; got keys "
            "['base64', 'mime_type', 'type'].",
        ),
        (  # base64 is text, not bytes
            {"type": "image", "base64": b"iVBORw0K", "mime_type": "image/png"},
            "A image block needs one of url, base64, file_id or path; got keys "
            "['base64', 'mime_type', 'type'].",
        ),
        (
            {"type": "image", "url": ""},
            "A image block needs one of url, base64, file_id or path; got keys ['type', 'url'].",
        ),
        (
            {"type": "image", "text": "a caption alone"},
            "A image block needs one of url, base64, file_id or path; got keys ['text', 'type'].",
        ),
        (
            {"type": "file", "file": {"filename": "x.pdf"}},
            "A file block needs one of url, base64, file_id or path; got keys ['file', 'type'].",
        ),
    ],
)
def test_a_block_that_cannot_be_sent_is_refused_word_for_word(
    block: dict[str, Any], message: str
) -> None:
    fake = FakeVLMRun()
    with pytest.raises(FileSourceError) as raised:
        make_chat(fake).upload_files([HumanMessage(content=[block])])  # blocks as given
    assert str(raised.value) == message
    assert fake.requests == []  # refused before any request


# --- chat_model.py: settings on the wire -----------------------------------------------------


def test_the_defaults_of_a_chat_model() -> None:
    chat = ChatVLMRun(api_key="k")
    assert str(chat.root_client.base_url) == "https://api.vlm.run/v1/openai/"
    assert chat.root_client.timeout == chat.root_async_client.timeout == 600.0
    assert chat.root_client.default_headers["X-Client-Id"] == f"langchain-vlmrun-{__version__}"
    assert chat.stream_usage is True
    assert chat._llm_type == "chat-vlmrun"
    assert ChatVLMRun.is_lc_serializable() is False
    assert chat._get_ls_params()["ls_provider"] == "vlmrun"
    profile = chat._resolve_model_profile()
    assert profile is not None and profile["max_output_tokens"] == 32768
    assert all(
        profile[name]  # type: ignore[literal-required]
        for name in (
            "text_inputs",
            "image_inputs",
            "image_url_inputs",
            "pdf_inputs",
            "audio_inputs",
            "video_inputs",
            "text_outputs",
            "structured_output",
            "temperature",
        )
    )


def test_headers_query_timeout_and_retries_reach_both_openai_clients() -> None:
    chat = ChatVLMRun(
        api_key="k",
        base_url="https://vlm.test/v1/",
        default_headers={"X-Team": "ops"},
        default_query={"region": "eu"},
        timeout=30,
        max_retries=2,
    )
    for client in (chat.root_client, chat.root_async_client):
        assert str(client.base_url) == "https://vlm.test/v1/openai/"
        assert client.default_headers["X-Client-Id"] == f"langchain-vlmrun-{__version__}"
        assert client.default_headers["X-Team"] == "ops"
        assert client._custom_query == {"region": "eu"}
        assert client.timeout == 30
        assert client.max_retries == 2


def test_the_upload_clients_follow_the_chat_settings() -> None:
    chat = ChatVLMRun(api_key="k", base_url=BASE, timeout=30, max_retries=2, requests_per_minute=60)
    settings = chat._client_settings()
    assert (settings.request_timeout, settings.max_retries, settings.requests_per_minute) == (
        30.0,
        2,
        60.0,
    )
    client = settings._sync_client()
    assert client.base_url == BASE and client.api_key is not None
    assert client.api_key.get_secret_value() == "k"
    plain = ChatVLMRun(api_key="k")._client_settings()
    assert (plain.request_timeout, plain.max_retries, plain.requests_per_minute) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be at least 1."),
        ({"n": 2, "streaming": True}, "n must be 1 when streaming."),
    ],
)
def test_n_is_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ChatVLMRun(api_key="k", **kwargs)
    assert ChatVLMRun(api_key="k", n=2).n == 2
    assert ChatVLMRun(api_key="k", n=1, streaming=True).n == 1


def test_an_empty_key_takes_the_given_clients_key_and_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    monkeypatch.delenv("VLMRUN_BASE_URL", raising=False)
    given = AsyncVLMRunClient(api_key="from-client", base_url="https://c.test/v1")
    chat = ChatVLMRun(api_key="", vlmrun_async_client=given)
    assert chat.root_client.api_key == "from-client"
    assert str(chat.root_client.base_url) == "https://c.test/v1/openai/"
    with pytest.raises(MissingAPIKeyError, match="ChatVLMRun needs a VLM Run API key"):
        ChatVLMRun(api_key="")


def test_a_given_key_wins_over_the_given_clients() -> None:
    given = VLMRunClient(api_key="from-client", base_url="https://c.test/v1")
    chat = ChatVLMRun(api_key="mine", vlmrun_client=given)
    assert chat.root_client.api_key == "mine"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"temprature": 0.1}, TypeError, "did you mean 'temperature'"),
        (
            {"base_url": "https://a.test", "vlmrun_base_url": "https://b.test"},
            TypeError,
            "ChatVLMRun: pass base_url= or vlmrun_base_url=, not both (they are one setting).",
        ),
        (
            {"api_key": 1.5},
            TypeError,
            "ChatVLMRun: api_key must be a str or SecretStr, not float (its value is not shown).",
        ),
        (
            {"vlmrun_api_key": ["k"]},
            TypeError,
            "ChatVLMRun: api_key must be a str or SecretStr, not list (its value is not shown).",
        ),
    ],
)
def test_wrong_arguments_are_refused_word_for_word(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    if "vlmrun_api_key" not in kwargs:
        kwargs.setdefault("api_key", "k")
    with pytest.raises(error, match=re.escape(message)):
        ChatVLMRun(**kwargs)


def test_aliases_and_field_names_are_both_accepted() -> None:
    chat = ChatVLMRun(vlmrun_api_key=SecretStr("k"), vlmrun_base_url="https://a.test/v1", model="m")
    assert chat.model_name == "m" and str(chat.root_client.base_url) == "https://a.test/v1/openai/"
    assert ChatVLMRun(api_key="k", model_name="m2").model_name == "m2"


# --- chat_model.py: errors, answers and streams -------------------------------------------


def refusing_chat(body: Any, status: int = 422) -> ChatVLMRun:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return ChatVLMRun(
        api_key="vlm-secret-key",
        base_url=BASE,
        max_retries=0,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )


async def _astream_all(chat: ChatVLMRun) -> None:
    async for _ in chat.astream("hi"):
        pass


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"detail": [{"loc": ["body", "messages", 0], "msg": "bad"}, "plain", {"msg": "x"}]},
            "Error code: 422 - detail: body.messages.0: bad; plain; : x",
        ),
        ({"detail": "Not allowed"}, "Error code: 422 - detail: Not allowed"),
        ({"detail": "x" * 3000}, "Error code: 422 - detail: " + "x" * 2000),
        (
            {"detail": [f"e{i}" for i in range(12)]},
            "Error code: 422 - detail: " + "; ".join(f"e{i}" for i in range(10)),
        ),
        (
            {"error": {"message": "the detail is already here"}, "detail": "d"},
            "Error code: 422 - the detail is already here",
        ),
        (["not", "a", "mapping"], "Error code: 422"),
        ({"message": "no detail"}, "Error code: 422 - no detail"),
        (  # shown once: a message that names the detail already is left as it is
            {"message": "bad input, see detail", "detail": "messages.0: bad"},
            "Error code: 422 - bad input, see detail",
        ),
    ],
)
@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
def test_fastapis_detail_is_in_the_error_message(body: Any, message: str, how: str) -> None:
    chat = refusing_chat(body)
    with pytest.raises(openai.APIStatusError) as raised:
        if how == "invoke":
            chat.invoke("hi")
        elif how == "ainvoke":
            asyncio.run(chat.ainvoke("hi"))
        elif how == "stream":
            list(chat.stream("hi"))
        else:
            asyncio.run(_astream_all(chat))
    assert str(raised.value) == message
    assert raised.value.args[0] == message


class Streaming(FakeVLMRun):
    """The fake, streaming its own events: ``session_id`` and credits as scripted."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.events = events

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        lines = [
            "data: "
            + json.dumps(
                {"id": "c-1", "object": "chat.completion.chunk", "created": 1, "model": "m", **e}
            )
            + "\n\n"
            for e in self.events
        ]
        lines.append("data: [DONE]\n\n")
        return httpx.Response(
            200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
        )


def _delta(text: str, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}], **extra}


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_stream_carries_the_first_session_and_the_last_credits_once(how: str) -> None:
    fake = Streaming(
        [
            _delta("a", session_id=""),
            _delta("b", session_id="s-1", usage=None),
            _delta("c", session_id="s-2"),
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": 1,
                    "total_tokens": 2,
                    "credits_used": 1.0,
                },
            },
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": 1,
                    "total_tokens": 2,
                    "credits": 3.0,
                },
            },
        ]
    )
    chat = make_chat(fake)
    if how == "stream":
        chunks = list(chat.stream("hi"))
    else:

        async def collect() -> list[Any]:
            return [chunk async for chunk in chat.astream("hi")]

        chunks = asyncio.run(collect())
    with_session = [c for c in chunks if "session_id" in c.response_metadata]
    with_credits = [c for c in chunks if "credits_used" in c.response_metadata]
    assert len(with_session) == len(with_credits) == 1
    (last,) = with_session  # after every chunk of text and usage
    assert last.content == "" and chunks.index(last) > 4
    assert last.response_metadata == {
        "session_id": "s-1",
        "credits_used": 3.0,
        "model_provider": "vlmrun",
    }
    assert all(c.response_metadata.get("model_provider") == "vlmrun" for c in chunks[:-1])


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_stream_without_session_or_credits_ends_with_no_extra_chunk(how: str) -> None:
    fake = Streaming([_delta("a"), _delta("b")])
    chat = make_chat(fake, stream_usage=False)
    if how == "stream":
        chunks = list(chat.stream("hi"))
    else:

        async def collect() -> list[Any]:
            return [chunk async for chunk in chat.astream("hi")]

        chunks = asyncio.run(collect())
    assert [c.content for c in chunks if c.content] == ["a", "b"]
    assert not any("session_id" in c.response_metadata for c in chunks)
    assert not any("credits_used" in c.response_metadata for c in chunks)


class Answering(FakeVLMRun):
    """The fake, answering a chat request with ``extra`` merged into its JSON."""

    def __init__(self, **extra: Any) -> None:
        super().__init__()
        self.extra = extra

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        if request.url.path != CHAT:
            return response
        body = json.loads(response.content)
        body.update(self.extra)
        return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {"session_id": "sess-1", "credits_used": 2.5}),
        ({"session_id": ""}, {"credits_used": 2.5}),
        ({"session_id": None}, {"credits_used": 2.5}),
        (
            {"usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
            {"session_id": "sess-1"},
        ),
        (
            {
                "usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": 1,
                    "total_tokens": 2,
                    "credits_used": 0,
                    "credits": 9,
                }
            },
            {"session_id": "sess-1", "credits_used": 0},
        ),
    ],
)
def test_an_answers_session_and_credits_land_in_its_metadata(
    extra: dict[str, Any], expected: dict[str, Any]
) -> None:
    fake = Answering(**extra)
    tracer = Tracer()
    message = make_chat(fake).invoke("hi", config={"callbacks": [tracer]})
    metadata = message.response_metadata
    shown = {key: metadata[key] for key in ("session_id", "credits_used") if key in metadata}
    assert shown == expected
    assert metadata["model_provider"] == "vlmrun"
    (output,) = tracer.outputs  # what a tracer is handed: the same
    assert {k: output[k] for k in ("session_id", "credits_used") if k in output} == expected
    assert output["model_provider"] == "vlmrun"


class Tracer(BaseCallbackHandler):
    """Records the ``llm_output`` of each chat call, as a tracer is handed it."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        assert response.llm_output is not None
        self.outputs.append(response.llm_output)


# --- chat_model.py: request bodies, structured output, uploads, artifacts -------------------


class Skill(BaseModel):
    type: str = "skill_reference"
    skill_name: str
    skill_id: UUID = UUID(int=7)  # JSON has no UUID: sent as its text
    version: str | None = None


def test_extra_fields_go_in_the_body_as_json_per_call_or_per_model() -> None:
    fake = FakeVLMRun()
    chat = make_chat(
        fake,
        skills=[Skill(skill_name="a")],
        model_kwargs={"response_format": {"type": "json_object"}},
        extra_body={"x": 1},
    )
    chat.invoke("hi")
    chat.invoke("hi", skills=(Skill(skill_name="b"), {"raw": 1}), request_metadata={"k": "v"})
    first, second = fake.chat_bodies()
    seven = "00000000-0000-0000-0000-000000000007"
    assert first["skills"] == [  # no None
        {"type": "skill_reference", "skill_name": "a", "skill_id": seven}
    ]
    assert first["x"] == 1  # the model's own extra_body kept
    assert first["response_format"] == {"type": "json_schema", "schema": {"type": "object"}}
    assert "metadata" not in first and "session_id" not in first and "toolsets" not in first
    assert second["skills"] == [
        {"type": "skill_reference", "skill_name": "b", "skill_id": seven},
        {"raw": 1},
    ]
    assert second["metadata"] == {"k": "v"}
    assert second["x"] == 1


def test_a_plain_request_has_no_extra_body_fields() -> None:
    fake = FakeVLMRun()
    make_chat(fake).invoke("hi")
    assert set(fake.chat_bodies()[0]) == {"model", "stream", "messages"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schema": None}, "schema must be given for method='json_schema'."),
        (
            {"schema": Invoice, "tools": [{"type": "function"}]},
            "ChatVLMRun.with_structured_output(method='json_schema') takes no tools.",
        ),
    ],
)
def test_structured_output_refusals_word_for_word(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_chat(FakeVLMRun()).with_structured_output(**kwargs)


def test_json_mode_asks_for_any_json_object() -> None:
    fake = FakeVLMRun()
    result = make_chat(fake).with_structured_output(method="json_mode").invoke("Extract")
    assert fake.chat_bodies()[0]["response_format"] == {
        "type": "json_schema",
        "schema": {"type": "object"},
    }
    assert result == {"invoice_id": "INV-000001", "total": 12.5}


def test_the_structured_output_format_is_traced() -> None:
    seen: list[Any] = []

    class Starts(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            seen.append(kwargs["options"])

    chat = make_chat(FakeVLMRun())
    chat.with_structured_output(Invoice, strict=True).invoke("x", config={"callbacks": [Starts()]})
    (options,) = seen
    assert options["ls_structured_output_format"]["kwargs"] == {
        "method": "json_schema",
        "strict": True,
    }
    assert set(options["ls_structured_output_format"]["schema"]["properties"]) == {
        "invoice_id",
        "total",
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"type": "json_schema"}, "response_format of type json_schema needs a 'schema'"),
        ({"type": "json_schema", "json_schema": {"name": "X"}}, "(or OpenAI's 'json_schema'"),
    ],
)
def test_a_json_schema_format_without_a_schema_is_refused(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        vlmrun_response_format(given)
    assert vlmrun_response_format(None) is None
    converted = vlmrun_response_format(Invoice)
    assert converted is not None and set(converted) == {"type", "schema"}
    assert converted["type"] == "json_schema"
    assert converted["schema"]["title"] == "Invoice"
    assert set(converted["schema"]["properties"]) == {"invoice_id", "total"}


def test_an_upload_without_a_file_id_is_an_error(tmp_path: Path) -> None:
    class NoId(FakeVLMRun):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/files" and request.method == "POST":
                self.requests.append(request)
                return httpx.Response(201, json={"id": "", "filename": "x", "bytes": 1})
            return super().__call__(request)

    path = tmp_path / "r.pdf"
    path.write_bytes(PDF)
    with pytest.raises(ValueError, match=re.escape(f"The upload of {path} returned no file id.")):
        make_chat(NoId()).invoke([HumanMessage(content=[{"type": "file", "path": str(path)}])])
    block = {"type": "file", "base64": b64(PDF), "mime_type": "application/pdf"}
    with pytest.raises(ValueError, match=r"The upload of document\.pdf returned no file id\."):
        make_chat(NoId()).invoke([HumanMessage(content=[block])])


def test_the_oldest_upload_is_forgotten_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_vlmrun.chat import chat_model

    monkeypatch.setattr(chat_model, "_FILE_ID_ENTRIES", 2)
    fake = FakeVLMRun()
    chat = make_chat(fake)

    def send(name: str) -> None:
        block = {"type": "file", "base64": b64(PDF), "mime_type": "application/pdf"}
        chat.invoke([HumanMessage(content=[block | {"filename": name}])])

    for name in ("a.pdf", "b.pdf", "c.pdf", "c.pdf", "b.pdf", "a.pdf"):
        send(name)
    # c evicts a; b and c are remembered; a again evicts b
    assert uploaded_names(fake) == ["a.pdf", "b.pdf", "c.pdf", "a.pdf"]


@pytest.mark.parametrize("how", ["invoke", "ainvoke"])
def test_root_dir_confines_local_files_sync_and_async(tmp_path: Path, how: str) -> None:
    inside = tmp_path / "in" / "r.png"
    inside.parent.mkdir()
    inside.write_bytes(PNG)
    outside = tmp_path / "out.png"
    outside.write_bytes(PNG)
    fake = FakeVLMRun()
    chat = make_chat(fake, root_dir=[str(inside.parent)])

    def call(path: Path) -> Any:
        message = [HumanMessage(content=[{"type": "image", "path": str(path)}])]
        return chat.invoke(message) if how == "invoke" else asyncio.run(chat.ainvoke(message))

    with pytest.raises(FileSourceError):
        call(outside)
    call(inside)
    assert uploaded_names(fake) == ["r.png"]
    assert sent_parts(fake) == [{"type": "input_file", "file_id": "file-1"}]


async def test_inline_data_and_paths_are_uploaded_once_by_the_async_client(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(PDF)
    fake = FakeVLMRun()
    chat = make_chat(fake)
    content = [
        {"type": "file", "path": str(path)},
        {"type": "image", "base64": b64(PNG), "mime_type": "image/png"},
    ]
    await chat.ainvoke([HumanMessage(content=content)])
    await chat.ainvoke([HumanMessage(content=content)])
    assert uploaded_names(fake) == ["r.pdf", "image.png"]


def test_requests_per_minute_throttles_async_chat_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_vlmrun.chat import chat_model

    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: Any) -> Any:
        waits.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr(chat_model.asyncio, "sleep", sleep)
    monkeypatch.setattr(
        chat_model.httpx, "AsyncHTTPTransport", lambda: httpx.MockTransport(FakeVLMRun())
    )
    chat = ChatVLMRun(api_key="k", base_url=BASE, requests_per_minute=120)

    async def twice() -> None:
        await chat.ainvoke("one")
        await chat.ainvoke("two")

    asyncio.run(twice())
    assert len(waits) == 1 and 0 < waits[0] < 1  # the second waits about half a second


def test_the_artifacts_named_in_an_answers_parts(tmp_path: Path) -> None:
    chat = make_chat(FakeVLMRun())
    answer = AIMessage(
        content=[
            {"type": "text", "text": "the chart img_1a2b3c"},
            "and the report doc_abcdef (img_1a2b3c again)",
            {"type": "image", "url": "https://e.com/x.png"},
        ],
        response_metadata={"session_id": "s-9"},
    )
    answer.content.append({"type": "image", "id": "img_9f8e7d"})  # type: ignore[union-attr]
    blobs = chat.artifacts(answer, directory=tmp_path)
    assert [blob.metadata["object_id"] for blob in blobs] == [
        "img_1a2b3c",
        "doc_abcdef",
        "img_9f8e7d",  # a ref object, not in any text
    ]
    assert {blob.metadata["session_id"] for blob in blobs} == {"s-9"}


@pytest.mark.parametrize("session_id", [None, "", 5])
def test_artifacts_need_an_answer_of_vlmrun(session_id: Any) -> None:
    message = AIMessage(content="img_1a2b3c", response_metadata={"session_id": session_id})
    with pytest.raises(ValueError) as raised:
        make_chat(FakeVLMRun()).artifacts(message)
    assert str(raised.value) == (
        "This message has no session_id in response_metadata: pass an answer of ChatVLMRun "
        "(AIMessage), not one built by hand or from another model."
    )


def test_close_closes_the_upload_clients_it_made_and_not_given_ones() -> None:
    chat = ChatVLMRun(api_key="k", base_url=BASE)
    made = chat._client_settings()._sync_client()
    chat.close()
    assert made._http.is_closed
    given = VLMRunClient(api_key="k", base_url=BASE)
    chat = ChatVLMRun(api_key="k", base_url=BASE, vlmrun_client=given)
    chat.close()
    assert not given._http.is_closed


def test_aclose_closes_the_async_upload_client_it_made() -> None:
    async def scenario() -> tuple[bool, bool]:
        chat = ChatVLMRun(api_key="k", base_url=BASE)
        made = chat._client_settings()._async_client()
        pool = await made._pool()
        await chat.aclose()
        given = AsyncVLMRunClient(api_key="k", base_url=BASE)
        other = ChatVLMRun(api_key="k", base_url=BASE, vlmrun_async_client=given)
        given_pool = await given._pool()
        await other.aclose()
        return pool.is_closed, given_pool.is_closed

    assert asyncio.run(scenario()) == (True, False)


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_tracer_is_handed_the_final_chunk_too(how: str) -> None:
    # (an event of the SDK's beta helpers, content.delta, makes no chunk)
    fake = Streaming(
        [_delta("a", session_id="s-1"), _delta("x", type="content.delta"), _delta("b")]
    )
    tokens: list[Any] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(kwargs["chunk"])

    chat = make_chat(fake, stream_usage=False)
    config: Any = {"callbacks": [Tokens()]}
    if how == "stream":
        list(chat.stream("hi", config=config))
    else:

        async def collect() -> None:
            async for _ in chat.astream("hi", config=config):
                pass

        asyncio.run(collect())
    assert [t.message.content for t in tokens if t.message.content] == ["a", "b"]
    (tail,) = [t for t in tokens if "session_id" in t.message.response_metadata]
    texts = [i for i, t in enumerate(tokens) if t.message.content]
    assert tokens.index(tail) > max(texts)  # after the text
    assert tail.message.response_metadata == {
        "session_id": "s-1",
        "model_provider": "vlmrun",
    }


def test_a_confined_file_is_closed_after_its_upload(
    tmp_path: Path, closed_files: list[str]
) -> None:
    path = tmp_path / "r.png"
    path.write_bytes(PNG)
    chat = make_chat(FakeVLMRun(), root_dir=str(tmp_path))
    chat.invoke([HumanMessage(content=[{"type": "image", "path": str(path)}])])
    assert closed_files[-1:] == ["r.png"]
    asyncio.run(chat.ainvoke([HumanMessage(content=[{"type": "image", "path": str(path)}])]))
    path.write_bytes(PNG + b"\x00")  # another file now: uploaded again, by the async client
    asyncio.run(chat.ainvoke([HumanMessage(content=[{"type": "image", "path": str(path)}])]))
    assert closed_files[-1:] == ["r.png"] and len(closed_files) >= 2


def test_with_one_client_given_the_other_follows_the_chat_settings() -> None:
    given = VLMRunClient(api_key="k", base_url=BASE)
    chat = ChatVLMRun(api_key="k", base_url=BASE, vlmrun_client=given, timeout=30, max_retries=1)
    settings = chat._client_settings()
    assert (settings.request_timeout, settings.max_retries) == (30.0, 1)
    both = ChatVLMRun(
        api_key="k",
        base_url=BASE,
        vlmrun_client=given,
        vlmrun_async_client=AsyncVLMRunClient(api_key="k", base_url=BASE),
        timeout=30,
    )
    assert both._client_settings().request_timeout is None  # the given clients' own


def test_the_budget_transports_close_what_they_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_vlmrun.chat import chat_model

    closed: list[str] = []

    class Spy(httpx.MockTransport):
        def close(self) -> None:
            closed.append("sync")

        async def aclose(self) -> None:
            closed.append("async")

    monkeypatch.setattr(chat_model.httpx, "HTTPTransport", lambda: Spy(FakeVLMRun()))
    monkeypatch.setattr(chat_model.httpx, "AsyncHTTPTransport", lambda: Spy(FakeVLMRun()))
    chat = ChatVLMRun(api_key="k", base_url=BASE, requests_per_minute=600)
    chat.root_client.close()
    asyncio.run(chat.root_async_client.close())
    assert closed == ["sync", "async"]


class Trickled:
    """The fake's streamed answers sent one event at a time (as a server sends them),
    counting the events that went out."""

    def __init__(self, fake: FakeVLMRun) -> None:
        self.fake = fake
        self.sent = 0
        self.events = 0

    def _events(self, request: httpx.Request) -> list[bytes] | httpx.Response:
        answer = self.fake(request)
        if answer.headers.get("content-type") != "text/event-stream":
            return answer
        events = [event + b"\n\n" for event in answer.content.split(b"\n\n") if event]
        self.events = len(events)
        return events

    def __call__(self, request: httpx.Request) -> httpx.Response:
        events = self._events(request)
        if isinstance(events, httpx.Response):
            return events

        def body() -> Any:
            for event in events:
                self.sent += 1
                yield event

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        events = self._events(request)
        if isinstance(events, httpx.Response):
            return events

        async def body() -> Any:
            for event in events:
                self.sent += 1
                yield event

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_budget_on_the_users_client_leaves_a_stream_streaming(how: str) -> None:
    # the user's client sends, after the budget's wait: it must hand the answer on as it
    # arrives, not read it whole first (the first tokens would come with the last)
    trickled = Trickled(FakeVLMRun(content="Hello from Orion, one piece at a time."))
    chat = ChatVLMRun(
        api_key="k",
        base_url=BASE,
        http_client=httpx.Client(transport=httpx.MockTransport(trickled)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(trickled.handle_async)),
        requests_per_minute=600,
    )

    async def first_piece() -> int:
        async for chunk in chat.astream("hi"):
            if chunk.content:
                return trickled.sent
        raise AssertionError("no content streamed")

    if how == "stream":
        sent = next(trickled.sent for chunk in chat.stream("hi") if chunk.content)
    else:
        sent = asyncio.run(first_piece())
    assert trickled.events > 8 and sent <= 2  # the first of 8 pieces, not all of them


def test_a_budget_wraps_the_users_client_in_a_client_of_its_own_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # newer openai releases bring their own copy of httpx (``httpx2``), whose clients
    # take no httpx transport: the budget's client must come from the user's library
    import sys
    import types

    from langchain_vlmrun.chat import chat_model

    httpx2 = types.ModuleType("httpx2")
    monkeypatch.setitem(sys.modules, "httpx2", httpx2)
    unloaded = types.ModuleType("httpx3")  # a library of that name never imported

    def client_of(module: str) -> object:
        return type("Client", (), {"__module__": module})()

    assert chat_model._same_library(client_of("httpx2._client")) is httpx2
    assert chat_model._same_library(client_of(unloaded.__name__ + "._client")) is httpx
    assert chat_model._same_library(httpx.Client()) is httpx
    assert chat_model._same_library(None) is httpx  # no client of the user's


def test_an_ai_messages_inline_image_is_left_to_langchain() -> None:
    fake = FakeVLMRun()
    image = {"type": "image", "base64": b64(PNG), "mime_type": "image/png"}
    make_chat(fake).invoke(
        [HumanMessage("draw"), AIMessage(content=[image]), HumanMessage("again")]
    )
    assert fake.uploads == 0  # an answer's content is not uploaded
    (part,) = fake.chat_bodies()[0]["messages"][1]["content"]
    assert part["type"] == "image_url"
    assert part["image_url"]["url"].startswith("data:image/png;base64,")


async def test_ainvoke_uploads_with_the_async_client_only(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    path.write_bytes(PDF)
    sync_side, async_side = FakeVLMRun(), FakeVLMRun()
    chat = ChatVLMRun(
        api_key="k",
        base_url=BASE,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(async_side)),
        vlmrun_client=VLMRunClient(
            api_key="k",
            base_url=BASE,
            http_client=httpx.Client(transport=httpx.MockTransport(sync_side)),
        ),
        vlmrun_async_client=AsyncVLMRunClient(
            api_key="k",
            base_url=BASE,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(async_side)),
        ),
    )
    content = [
        {"type": "file", "path": str(path)},
        {"type": "image", "base64": b64(PNG), "mime_type": "image/png"},
    ]
    await chat.ainvoke([HumanMessage("first"), AIMessage("ok"), HumanMessage(content=content)])
    assert uploaded_names(async_side) == ["r.pdf", "image.png"]
    assert sync_side.requests == []  # no blocking upload inside the event loop


def test_requests_per_minute_waits_even_under_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_vlmrun.chat import chat_model

    waits: list[float] = []
    monkeypatch.setattr(chat_model.time, "sleep", waits.append)
    monkeypatch.setattr(
        chat_model.httpx, "HTTPTransport", lambda: httpx.MockTransport(FakeVLMRun())
    )
    chat = ChatVLMRun(api_key="k", base_url=BASE, requests_per_minute=120)
    chat.invoke("one")
    chat.invoke("two")
    assert len(waits) == 1 and 0 < waits[0] < 1


class Recorder(BaseCallbackHandler):
    """The tokens and run metadata a tracer is handed."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.metadata: list[dict[str, Any]] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.metadata.append(kwargs["metadata"])


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
def test_stop_words_reach_the_body_and_the_trace(how: str) -> None:
    fake = FakeVLMRun()
    recorder = Recorder()
    chat = make_chat(fake)
    config: Any = {"callbacks": [recorder]}
    if how == "invoke":
        chat.invoke("hi", config=config, stop=["END"])
    elif how == "ainvoke":
        asyncio.run(chat.ainvoke("hi", config=config, stop=["END"]))
    elif how == "stream":
        list(chat.stream("hi", config=config, stop=["END"]))
    else:

        async def collect() -> None:
            async for _ in chat.astream("hi", config=config, stop=["END"]):
                pass

        asyncio.run(collect())
    assert fake.chat_bodies()[0]["stop"] == ["END"]
    (metadata,) = recorder.metadata
    assert metadata["ls_stop"] == ["END"] and metadata["ls_provider"] == "vlmrun"


@pytest.mark.parametrize("how", ["invoke", "ainvoke"])
def test_a_streaming_model_hands_its_tokens_to_tracers(how: str) -> None:
    recorder = Recorder()
    chat = make_chat(FakeVLMRun(), streaming=True)
    config: Any = {"callbacks": [recorder]}
    if how == "invoke":
        message = chat.invoke("hi", config=config)
    else:
        message = asyncio.run(chat.ainvoke("hi", config=config))
    assert "".join(recorder.tokens) == "Hello from Orion."
    assert message.response_metadata["session_id"] == "sess-1"


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream"])
def test_response_headers_when_asked(how: str) -> None:
    chat = make_chat(FakeVLMRun(), include_response_headers=True)
    if how == "invoke":
        metadata = chat.invoke("hi").response_metadata
    elif how == "ainvoke":
        metadata = asyncio.run(chat.ainvoke("hi")).response_metadata
    else:
        metadata = next(iter(chat.stream("hi"))).response_metadata
    assert metadata["headers"]["content-type"] in ("application/json", "text/event-stream")


def test_function_calling_and_json_mode_go_through_langchain_openai() -> None:
    fake = FakeVLMRun()
    chat = make_chat(fake)
    chat.with_structured_output(Invoice, method="function_calling", strict=True).invoke("x")
    (tool,) = fake.chat_bodies()[0]["tools"]
    assert tool["function"]["name"] == "Invoice" and tool["function"]["strict"] is True
    assert fake.chat_bodies()[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "Invoice"},
    }
    out = chat.with_structured_output(method="json_mode", include_raw=True).invoke("x")
    assert out["parsed"] == {"invoice_id": "INV-000001", "total": 12.5}
    assert isinstance(out["raw"], AIMessage) and out["parsing_error"] is None


def test_an_artifact_blob_is_fetched_with_the_async_client_too(tmp_path: Path) -> None:
    fake = WithArtifacts("the chart: img_1a2b3c")
    fake.served = []
    chat = make_chat(fake)
    answer = chat.invoke("Draw the chart.")
    (blob,) = chat.artifacts(answer, directory=tmp_path)
    asyncio.run(blob.afetch())
    assert blob.as_bytes() == b"\x89PNG"
    assert fake.served == [{"object_id": "img_1a2b3c", "session_id": "sess-1"}]


def test_an_upload_evicted_within_one_call_is_uploaded_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_vlmrun.chat import chat_model

    monkeypatch.setattr(chat_model, "_FILE_ID_ENTRIES", 2)
    fake = FakeVLMRun()
    pdf = {"type": "file", "base64": b64(PDF), "mime_type": "application/pdf"}
    names = ["a.pdf", "b.pdf", "c.pdf"]
    make_chat(fake).invoke([HumanMessage(content=[pdf | {"filename": n} for n in names])])
    # (each one read again evicts the next: more files in a message than remembered)
    assert uploaded_names(fake) == ["a.pdf", "b.pdf", "c.pdf", "a.pdf", "b.pdf", "c.pdf"]
    assert [part["file_id"] for part in sent_parts(fake)] == ["file-4", "file-5", "file-6"]


def test_inline_plain_text_is_named_file_txt_and_refused_by_the_type_gate() -> None:
    fake = FakeVLMRun()
    block = {"type": "text-plain", "base64": b64(b"notes\n"), "mime_type": "text/plain"}
    with pytest.raises(FileSourceError, match=r"^Unsupported file type '\.txt' for file\.txt: "):
        make_chat(fake).invoke([HumanMessage(content=[block])])
    assert fake.requests == []


def test_different_bytes_under_the_same_name_are_different_uploads() -> None:
    first = {"type": "image", "base64": b64(PNG), "mime_type": "image/png"}
    second = {
        "type": "image",
        "base64": b64((DATA / "chart.png").read_bytes()),
        "mime_type": "image/png",
    }
    fake = chat_with([first, second])
    assert uploaded_names(fake) == ["image.png", "image.png"]
    assert sent_parts(fake) == [
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "file_id": "file-2"},
    ]


def test_audio_mpeg_is_an_mp3_whatever_the_systems_mime_types_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mimetypes

    guess = mimetypes.guess_extension
    # some systems' mime.types list .mpga first for audio/mpeg
    monkeypatch.setattr(
        mimetypes,
        "guess_extension",
        lambda mime, strict=True: ".mpga" if mime == "audio/mpeg" else guess(mime, strict),
    )
    fake = chat_with([{"type": "audio", "base64": b64(MP3), "mime_type": "audio/mpeg"}])
    assert uploaded_names(fake) == ["audio.mp3"]


@pytest.mark.filterwarnings("ignore:The method .* is in beta")  # LangChain's v3 events
@pytest.mark.parametrize("how", ["stream_events", "astream_events"])
def test_the_v3_event_stream_hands_tracers_the_tokens_and_the_final_chunk(how: str) -> None:
    tokens: list[tuple[str, dict[str, Any], Any]] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            message = kwargs["chunk"].message
            tokens.append((token, dict(message.response_metadata), message.usage_metadata))

    chat = make_chat(FakeVLMRun())
    config: Any = {"callbacks": [Tokens()]}
    if how == "stream_events":
        list(chat.stream_events("hi", version="v3", config=config))
    else:

        async def collect() -> None:
            events = await chat.astream_events("hi", version="v3", config=config)
            async for _ in events:
                pass

        asyncio.run(collect())
    assert "".join(token for token, _, _ in tokens) == "Hello from Orion."
    assert tokens[-2][2] is not None  # the usage chunk, then ours: session and credits
    assert tokens[-1] == (
        "",
        {"session_id": "sess-1", "credits_used": 2.5, "model_provider": "vlmrun"},
        None,
    )


async def test_structured_output_with_ainvoke() -> None:
    fake = FakeVLMRun()
    result = await make_chat(fake).with_structured_output(Invoice).ainvoke("Extract")
    assert result == Invoice(invoice_id="INV-000001", total=12.5)
    assert fake.chat_bodies()[0]["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_structured_output_keeps_the_other_arguments(method: str) -> None:
    fake = FakeVLMRun()
    schema = Invoice if method == "json_schema" else None
    make_chat(fake).with_structured_output(schema, method=method, temperature=0.25).invoke("x")  # type: ignore[arg-type]
    assert fake.chat_bodies()[0]["temperature"] == 0.25


async def test_structured_output_with_astream() -> None:
    fake = FakeVLMRun()
    chunks = [c async for c in make_chat(fake).with_structured_output(InvoiceDict).astream("x")]
    assert chunks[-1] == {"invoice_id": "INV-000001", "total": 12.5}
    assert fake.chat_bodies()[0]["response_format"]["type"] == "json_schema"


def test_a_pydantic_response_format_in_model_kwargs_goes_out_in_vlmruns_shape() -> None:
    # left in OpenAI's place, it would route the call through the SDK's parse helper
    fake = FakeVLMRun()
    message = make_chat(fake, model_kwargs={"response_format": Invoice}).invoke("x")
    assert "parsed" not in message.additional_kwargs
    assert json.loads(str(message.content)) == {"invoice_id": "INV-000001", "total": 12.5}
    sent = fake.chat_bodies()[0]["response_format"]
    assert set(sent) == {"type", "schema"} and sent["type"] == "json_schema"
    assert sent["schema"]["title"] == "Invoice"
