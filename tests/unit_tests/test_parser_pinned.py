"""VLMRunParser as a user configures it: every argument reaches the request, the cache
it keeps by default, the events it names each Blob by, and the client it owns."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents.base import Blob
from langchain_core.stores import InMemoryByteStore
from pydantic import BaseModel

from langchain_vlmrun import ExecuteOptions, ResultCache
from langchain_vlmrun.loaders.parser import VLMRunParser
from tests.mock_api import ScriptedAPI, execution, json_body, one_execution

PDF = b"%PDF-1.4 parser test\n"


class Total(BaseModel):
    total: float


def api(response: Any = None) -> ScriptedAPI:
    """One upload (``file-1``), then :func:`one_execution` answering ``response``."""
    scripted = one_execution(response if response is not None else {"total": 3.5})
    return scripted.on("POST", "/files", httpx.Response(201, json={"id": "file-1"}))


def sent(scripted: ScriptedAPI) -> dict[str, Any]:
    bodies = [json_body(r) for r in scripted.requests if r.url.path.endswith("/agent/execute")]
    return bodies[-1]


def test_every_argument_reaches_the_request() -> None:
    scripted = api()
    parser = VLMRunParser(
        prompt="Read the total",
        response_model=Total,
        inputs={"hint": "invoice"},
        config={"detail": "high"},
        input_key="document",
        callback_url="https://hooks.example/vlmrun",
        options=ExecuteOptions(model="vlmrun-orion-1:fast"),
        mode="single",
        client=scripted.client(),
    )
    (doc,) = parser.parse(Blob.from_data(PDF, path="a.pdf"))
    body = sent(scripted)
    assert body["config"]["prompt"] == "Read the total"
    assert body["config"]["json_schema"]["properties"] == {
        "total": {"title": "Total", "type": "number"}
    }
    assert body["config"]["detail"] == "high" and body["model"] == "vlmrun-orion-1:fast"
    assert body["inputs"] == {
        "hint": "invoice",
        "document": {"type": "input_file", "file_id": "file-1"},
    }
    assert body["callback_url"] == "https://hooks.example/vlmrun"
    assert doc.page_content == "total: 3.5" and doc.metadata["response_type"] == "json"
    assert parser.spec.mode == "single"
    assert doc.metadata["structured"] == {"total": 3.5}


def test_a_json_schema_or_an_agent_is_sent_as_given() -> None:
    scripted = api()
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    VLMRunParser(json_schema=schema, prompt="p", client=scripted.client()).parse(
        Blob.from_data(PDF, path="a.pdf")
    )
    assert sent(scripted)["config"]["json_schema"] == schema
    scripted = api()
    VLMRunParser(agent_name="invoices:v1", client=scripted.client()).parse(
        Blob.from_data(PDF, path="a.pdf")
    )
    assert sent(scripted)["name"] == "invoices:v1"


def test_segment_seconds_and_the_wait_timeout_reach_the_spec() -> None:
    parser = VLMRunParser(segment_seconds=30.0, wait_timeout=12.0, client=api().client())
    assert parser.spec.segment_seconds == 30.0 and parser.spec.wait_timeout == 12.0
    assert parser.spec.mode == "page" and parser.spec.input_key == "file"


def test_a_blob_parsed_twice_is_paid_once_unless_the_cache_is_off() -> None:
    scripted = api()
    parser = VLMRunParser(prompt="p", client=scripted.client())
    blob = Blob.from_data(PDF, path="a.pdf")
    first, again = parser.parse(blob), parser.parse(blob)
    assert first == again and scripted.calls("POST", "/agent/execute") == 1
    scripted = api()
    parser = VLMRunParser(prompt="p", cache=False, client=scripted.client())
    parser.parse(blob), parser.parse(blob)
    assert parser.cache is None and scripted.calls("POST", "/agent/execute") == 2
    shared = ResultCache(InMemoryByteStore())
    assert VLMRunParser(prompt="p", cache=shared, client=api().client()).cache is shared


class Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[Any] = []
        self.events: list[Any] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.starts.append((kw.get("name"), inputs))

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.events.append((name, data))


@pytest.mark.parametrize(
    ("blob", "label"),
    [
        (Blob.from_data(PDF, path="https://tok@h.test/a.pdf"), "https://h.test/a.pdf"),
        (Blob.from_data(PDF, mime_type="application/pdf"), "<application/pdf>"),
        (Blob.from_data(PDF), "<bytes>"),
    ],
)
def test_each_blob_is_a_run_named_by_its_source(blob: Blob, label: str) -> None:
    events = Events()
    VLMRunParser(prompt="p", client=api().client(), callbacks=[events]).parse(blob)
    assert events.starts == [("VLMRunParser", {"sources": [label]})]
    ((name, data),) = events.events
    assert name == "vlmrun_source" and data["documents"] >= 1


def test_a_failing_blob_is_reported_in_its_event_and_raised() -> None:
    scripted = api()
    scripted.routes[("GET", "/agent/executions/ex-1")].clear()
    scripted.on("GET", "/agent/executions/ex-1", execution("ex-1", "failed"))
    events = Events()
    parser = VLMRunParser(prompt="p", client=scripted.client(), callbacks=[events])
    with pytest.raises(Exception, match="failed"):
        parser.parse(Blob.from_data(PDF, path="a.pdf"))
    ((_, data),) = events.events
    assert data["source"] == "a.pdf" and data["documents"] == 0 and data["error"]


def test_the_parser_closes_only_the_client_it_made(monkeypatch: pytest.MonkeyPatch) -> None:
    given = api().client()
    parser = VLMRunParser(prompt="p", client=given)
    assert parser.client is given
    parser.close()
    assert not given._http.is_closed  # a client passed in is left open
    monkeypatch.setenv("VLMRUN_API_KEY", "sk-test-key")
    own = VLMRunParser(prompt="p")
    made = own.client
    assert own.client is made  # made once, on first use
    own.close()
    assert made._http.is_closed
    own.close()  # twice is fine
    assert repr(own) == "VLMRunParser(agent_name=None, mode='page')"


def test_a_bad_agent_is_reported_before_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLMRUN_API_KEY", raising=False)
    with pytest.raises(ValueError, match="name:version"):
        VLMRunParser(agent_name="no version")
    with pytest.raises(Exception, match="VLMRunParser needs a VLM Run API key"):
        VLMRunParser(prompt="p")
    with pytest.raises(TypeError, match="did you mean 'wait_timeout'"):
        VLMRunParser(prompt="p", wait_timout=3, api_key="k")


@pytest.mark.parametrize(
    ("typo", "hint"),
    [("promt", "prompt"), ("json_shema", "json_schema"), ("wait_timout", "wait_timeout")],
)
def test_a_misspelt_argument_is_named_with_the_parsers_own_names(typo: str, hint: str) -> None:
    """The hint covers the parser's own arguments as well as the client settings, and
    the error names the parser."""
    with pytest.raises(TypeError) as info:
        VLMRunParser(api_key="k", **{typo: "x"})
    assert str(info.value) == (
        f"VLMRunParser got an unexpected keyword argument '{typo}' (did you mean '{hint}'?)."
    )
