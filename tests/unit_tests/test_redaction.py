"""Credentials in a file URL reach the request that fetches the file, and nothing else.

A URL such as ``https://token@host/file.pdf`` carries its credential as a user name
alone; what the package keeps of the URL (Document metadata, trace inputs and events,
tool artifacts, log lines, error messages) is the URL without it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_vlmrun import FileSourceError, VLMRunAgentTool, VLMRunLoader
from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.loaders.loader import LoaderError
from tests.mock_api import one_execution
from tests.support import TraceRecorder

TOKEN = "tok3n-S3CRET-77"
URL = f"https://{TOKEN}@files.example.com/reports/q3.pdf?v=2"
SHOWN = "https://files.example.com/reports/q3.pdf?v=2"
DONE = {"text": "Q3 revenue grew."}  # what VLM Run read from the file


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, SHOWN),  # a user name alone is a credential
        ("https://u:p@h.test/a.pdf?x=1", "https://h.test/a.pdf?x=1"),
        ("https://:p@h.test/a.pdf", "https://h.test/a.pdf"),  # a password alone
        ("https://tok@h.test:8443/a.pdf", "https://h.test:8443/a.pdf"),  # the port stays
        ("https://tok@[2001:db8::1]:8443/a.pdf", "https://[2001:db8::1]:8443/a.pdf"),
        ("https://tok@[2001:db8::1]/a.pdf", "https://[2001:db8::1]/a.pdf"),
        ("https://tok@[::1/a.pdf", "https://[::1/a.pdf"),  # malformed: still stripped
        ("https://h.test/a@b.pdf", "https://h.test/a@b.pdf"),  # an @ in the path is kept
        ("http://h.test/a.pdf#p=2", "http://h.test/a.pdf#p=2"),
    ],
)
def test_redact_url_drops_credentials_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown


userinfo = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="/?#@[]\\ \t\r\n"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.isprintable())


@given(user=userinfo, path=st.from_regex(r"/[a-z0-9/]{0,20}\.pdf", fullmatch=True))
def test_no_credential_survives_redaction(user: str, path: str) -> None:
    shown = redact_url(f"https://{user}@host.example{path}")
    assert "@" not in shown.split("/", 3)[2]
    assert shown.endswith(f"host.example{path}") or shown.endswith(path)


def everything(*parts: Any) -> str:
    return json.dumps(parts, default=repr)


def test_a_token_in_a_loaded_url_reaches_only_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = one_execution(DONE)
    recorder = TraceRecorder()
    loader = VLMRunLoader(URL, prompt="Summarise", client=api.client(), callbacks=[recorder])
    with caplog.at_level(logging.DEBUG):
        docs = loader.load()
    assert docs and all(d.metadata["source"] == SHOWN for d in docs)
    (sent,) = [r for r in api.requests if r.url.path.endswith("/agent/execute")]
    assert TOKEN in sent.content.decode()  # the service needs it to fetch the file
    kept = everything([d.metadata for d in docs], [d.id for d in docs], recorder.seen)
    assert recorder.seen and SHOWN in kept and TOKEN not in kept
    assert TOKEN not in caplog.text


def test_a_token_in_a_failing_url_stays_out_of_the_error_and_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = one_execution(DONE, "failed")
    loader = VLMRunLoader(URL, prompt="p", client=api.client(), on_error="skip")
    with caplog.at_level(logging.DEBUG):
        assert loader.load() == []
    (failure,) = loader.failures
    assert failure.source == SHOWN
    assert TOKEN not in everything(failure.source, str(failure.error)) + caplog.text
    with pytest.raises(LoaderError) as refused:
        VLMRunLoader(f"ftp://{TOKEN}@h.test/a.pdf", client=api.client()).load()
    assert isinstance(refused.value.cause, FileSourceError)
    assert TOKEN not in everything(
        str(refused.value), refused.value.source, refused.value.cause.source
    )


def test_a_token_in_a_url_the_tool_reads_stays_out_of_its_answer_and_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = one_execution(DONE)
    recorder = TraceRecorder()
    tool = VLMRunAgentTool(prompt="Summarise", client=api.client())
    call = {"type": "tool_call", "id": "call-0", "name": tool.name, "args": {"file": URL}}
    with caplog.at_level(logging.DEBUG):
        message = tool.invoke(call, config={"callbacks": [recorder]})
    assert message.status == "success" and message.artifact.source == SHOWN
    assert TOKEN not in everything(message.content, message.artifact.model_dump(mode="json"))
    # the tool's own input is the caller's; everything the tool adds to the trace is clean
    traced = [seen for seen in recorder.seen if seen != {"file": URL} and seen != URL]
    assert traced and TOKEN not in everything(traced)
    assert TOKEN not in caplog.text


def test_a_password_in_base_url_is_not_in_any_repr() -> None:
    from langchain_vlmrun import VLMRunAgentTool, VLMRunClient, VLMRunToolkit

    url = "https://user:pa55w0rd@api.example/v1"
    client = VLMRunClient(api_key="k", base_url=url)
    components = [client, VLMRunAgentTool(api_key="k", base_url=url)]
    components.append(VLMRunToolkit(api_key="k", base_url=url))
    from langchain_vlmrun.chat import ChatVLMRun

    components.append(ChatVLMRun(api_key="k", base_url=url))
    for component in components:
        assert "pa55w0rd" not in repr(component) and "pa55w0rd" not in str(component)
        assert "api.example/v1" in repr(component)  # still says which service
    assert client.base_url == url  # the requests still carry it
