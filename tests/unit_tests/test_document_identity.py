"""Document identity: the ids users store, what a source is, and what a spec sends.

Vector stores dedupe on ``Document.id``: re-ingesting the same file with the same agent
must upsert onto the same ids, a changed file must get new ones, and a release must
never re-key the ids users already stored. These tests pin that, the request an
:class:`AgentSpec` turns into, the artifacts a loader saves, and the metadata and text
of the Documents made from each kind of response.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from langchain_core.stores import InMemoryByteStore
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel, field_validator

from langchain_vlmrun import (
    AgentExecution,
    ExecuteOptions,
    ExecutionFailedError,
    ExecutionTimeoutError,
    FileSourceError,
    ResponseValidationError,
    VLMRunLoader,
)
from langchain_vlmrun.client.cache import ResultCache
from langchain_vlmrun.documents._documents import (
    DOCUMENT_NAMESPACE,
    SCHEMA_PROMPT,
    AgentSpec,
    SourceInfo,
    SourceUsage,
    aprocess_source,
    chunk_id,
    document_id,
    execution_to_documents,
    json_to_text,
    process_source,
    source_identity,
    split_documents,
    wait_timeout_for,
)
from langchain_vlmrun.documents._rendering import PAGE_SEPARATOR
from langchain_vlmrun.documents.builtin import DEFAULT_WAIT_TIMEOUTS, default_for
from langchain_vlmrun.files._sources import prepare_file
from tests.mock_api import ScriptedAPI, execution, json_body

AGENT = "test-fixture-markdown:v1"
PDF = b"%PDF-1.4\n% the quarterly report\n"
PAGES = {"pages": [{"content": "first page"}, {"content": "second page"}]}


def sha(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def service(
    response: Any = None,
    *,
    execution_id: str = "ex-1",
    credits: float | None = 4,
    status: str = "completed",
) -> ScriptedAPI:
    """VLM Run answering every upload with ``file-1`` and every execution with
    ``response`` at once."""
    api = ScriptedAPI()
    api.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "x.pdf"}))
    usage = {} if credits is None else {"credits_used": credits}
    body = PAGES if response is None else response
    api.on("POST", "/agent/execute", execution(execution_id, status, response=body, usage=usage))
    if status != "completed":
        api.on("GET", f"/agent/executions/{execution_id}", execution(execution_id, status))
    return api


async def run(
    api: ScriptedAPI,
    source: Any,
    spec: AgentSpec,
    use_async: bool,
    *,
    client_settings: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[list[Document], SourceUsage]:
    """``process_source`` (or ``aprocess_source``) of ``source`` against ``api``."""
    settings = client_settings or {}
    if use_async:
        return await aprocess_source(api.async_client(**settings), source, spec, **options)
    return process_source(api.client(**settings), source, spec, **options)


def sent(api: ScriptedAPI) -> dict[str, Any]:
    """The body of the (first) execute request."""
    body: dict[str, Any] = json_body(api.first("POST", "/agent/execute"))
    return body


def executes(api: ScriptedAPI) -> int:
    return api.calls("POST", "/agent/execute")


def completed(
    response: Any, *, name: str = "server-picked:v1", credits: float = 8
) -> AgentExecution:
    return AgentExecution.model_validate(
        {
            "id": "ex-1",
            "name": name,
            "status": "completed",
            "response": response,
            "usage": {"credits_used": credits},
        }
    )


INFO = SourceInfo(
    source="reports/q3.pdf",
    content_hash="sha256:" + "ab" * 32,
    mime_type="application/pdf",
    file_id="file-1",
    identity="/srv/docs/reports/q3.pdf",
)


# --- the ids users have stored ------------------------------------------------------
#
# The literal ids below are what users' vector stores hold. A change that makes any of
# them fail re-keys every Document ever stored: re-ingesting would then add a second
# copy of every page instead of upserting (stores dedupe on ids): a breaking change for
# every user with a vector store.


def test_document_id_is_pinned() -> None:
    # changing this literal breaks every stored id users have (vector stores dedupe on ids)
    assert uuid.UUID("6f1c8f0e-5b7a-4f5e-9a51-6b1f0f3c2d7e") == DOCUMENT_NAMESPACE
    content = "sha256:" + "ab" * 32
    assert document_id(content, 0, "md:v1", "/srv/docs/report.pdf") == (
        "a46c13e3-f6bf-5a0d-8303-9b6f6b7410bf"
    )
    assert document_id(content, "all", "md:v1", "/srv/docs/report.pdf") == (
        "c99dc163-a73f-55dc-a03f-2162d918e22b"
    )
    # the id is uuid5 over "<identity>\n<content hash>:<page>:<agent key>"
    name = f"/srv/docs/report.pdf\n{content}:0:md:v1"
    assert document_id(content, 0, "md:v1", "/srv/docs/report.pdf") == str(
        uuid.uuid5(DOCUMENT_NAMESPACE, name)
    )
    assert document_id(content, 0, "md:v1") == str(
        uuid.uuid5(DOCUMENT_NAMESPACE, f"\n{content}:0:md:v1")
    )


def test_agent_keys_are_pinned() -> None:
    # the agent key is part of every id: changing these re-keys every stored id
    spec = AgentSpec(agent_name="md:v1", prompt="Read it", json_schema={"type": "object"})
    assert spec.key == "md:v1|prompt:27efb7274c777c8a|schema:ff419ebbeba438f6"
    assert AgentSpec(agent_name="md:v1").key == "md:v1"
    assert AgentSpec(agent_name="md:v1", segment_seconds=30).key == "md:v1|window:30"
    assert AgentSpec(agent_name="md:v1", segment_seconds=2.5).key == "md:v1|window:2.5"
    with_model = AgentSpec(
        agent_name="md:v1", options=ExecuteOptions(model="m", service_tier="flex")
    )
    assert with_model.key == "md:v1|options:deea0f7771b9f0a5"
    # the tier changes price and routing, not the result: same ids
    tier_only = AgentSpec(agent_name="md:v1", options=ExecuteOptions(service_tier="flex"))
    assert tier_only.key == "md:v1"
    schema_only = AgentSpec(json_schema={"type": "object"}).for_medium("document")
    assert schema_only.key == f"|prompt:{_short(SCHEMA_PROMPT)}|schema:ff419ebbeba438f6"
    audio = AgentSpec().for_medium("audio")
    assert audio.key == f"default:audio:{default_for('audio').version}"


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_ids_of_a_file_source_are_pinned_in_page_and_single_mode() -> None:
    # changing these literals breaks every stored id users have (vector stores dedupe on ids)
    blob = Blob(data=PDF, path="/srv/docs/report.pdf")
    pages, _ = process_source(service().client(), blob, AgentSpec(agent_name="md:v1"))
    assert [d.id for d in pages] == [
        "5a139783-30cd-508c-be56-f5ff39f9092c",
        "a31fe884-68e3-53d9-9579-ba9525585260",
    ]
    single_spec = AgentSpec(agent_name="md:v1", mode="single")
    (single,), _ = process_source(service().client(), blob, single_spec)
    assert single.id == "185d1d17-421f-5ca3-8aad-bef6d7b5fb21"


def test_ids_of_a_url_source_are_pinned_in_page_and_single_mode() -> None:
    # changing these literals breaks every stored id users have (vector stores dedupe on ids)
    url = "https://example.test/report.pdf"
    pages, _ = process_source(service().client(), url, AgentSpec(agent_name="md:v1"))
    assert [d.id for d in pages] == [
        "82a87a58-56d9-53e1-83d7-a6da786c643f",
        "c01d57aa-34b3-597a-b810-6f5519186e81",
    ]
    single_spec = AgentSpec(agent_name="md:v1", mode="single")
    (single,), _ = process_source(service().client(), url, single_spec)
    assert single.id == "990492e7-c893-5a5c-b706-3879c9f7fd9a"


def test_url_source_info_shows_no_token_and_hashes_the_url_without_credentials() -> None:
    info = SourceInfo.for_url("https://user:secret@example.test/scans/report.PDF?sig=1")
    kept = "https://example.test/scans/report.PDF?sig=1"
    assert info.source == "https://example.test/scans/report.PDF?sig=[redacted]"
    assert info.identity == kept  # hashed into Document ids, never shown
    assert info.content_hash == f"url:{hashlib.sha256(kept.encode()).hexdigest()}"
    assert info.mime_type == "application/pdf"  # guessed from the path, not the query
    assert SourceInfo.for_url("https://example.test/clip.mp4?x=.pdf").mime_type == "video/mp4"
    assert SourceInfo.for_url("https://example.test/page").mime_type is None
    assert SourceInfo.for_url("https://example.test/a.pdf?x=1?y=2").mime_type == "application/pdf"
    assert info.file_id is None and dict(info.extra_metadata) == {}


# --- re-ingesting: upsert, or new ids ---------------------------------------------------


def test_a_changed_file_at_the_same_path_gets_new_ids(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    api = service()
    loader = VLMRunLoader([str(path)], agent_name=AGENT, client=api.client())
    before = [d.id for d in loader.load()]
    again = [d.id for d in loader.load()]
    assert again == before  # unchanged: re-ingesting upserts

    path.write_bytes(PDF + b"% an edited line\n")
    after = [d.id for d in loader.load()]
    assert len(set(after)) == 2
    assert not set(after) & set(before)  # new Documents, not an upsert over the old ones
    assert executes(api) == 2  # the edit was read again, not served from the cache
    expected = [document_id(sha(path.read_bytes()), page, AGENT, str(path)) for page in (0, 1)]
    assert after == expected


def test_same_bytes_at_two_paths_are_two_sources_paid_once(tmp_path: Path) -> None:
    """Byte-identical files at two paths stay two sets of Documents (module docstring):
    deleting one file's Documents never deletes the other's; the result cache still
    pays for the content once."""
    first, second = tmp_path / "a" / "report.pdf", tmp_path / "b" / "report.pdf"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(PDF)
    api = service()
    # one at a time: two sources of the same bytes started at once may both be paid
    # before either is recorded in the cache; one after the other, the second never is
    loader = VLMRunLoader(
        [str(first), str(second)], agent_name=AGENT, client=api.client(), max_concurrency=1
    )
    docs = loader.load()
    assert len(docs) == 4 and len({d.id for d in docs}) == 4
    assert [d.metadata["source"] for d in docs] == [str(first)] * 2 + [str(second)] * 2
    assert [d.page_content for d in docs[:2]] == [d.page_content for d in docs[2:]]
    assert executes(api) == 1
    assert [u.from_cache for u in loader.usage] == [False, True]


def test_bytes_have_no_identity_so_their_content_names_them() -> None:
    (first, _), usage = process_source(service().client(), PDF, AgentSpec(agent_name="md:v1"))
    assert first.id == document_id(sha(PDF), 0, "md:v1", "")
    assert first.metadata["source"] == usage.source
    assert usage.source.startswith("upload-") and usage.source.endswith(".pdf")


def test_source_identity_normalises_where_a_source_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert source_identity("report.pdf") == str(tmp_path / "report.pdf")
    assert source_identity(Path("sub/../report.pdf")) == str(tmp_path / "report.pdf")
    assert source_identity("~/report.pdf") == str(tmp_path / "home" / "report.pdf")
    # a symlink is named as given, not resolved: two names, two sources
    (tmp_path / "target.pdf").write_bytes(PDF)
    (tmp_path / "link.pdf").symlink_to(tmp_path / "target.pdf")
    assert source_identity("link.pdf") == str(tmp_path / "link.pdf")
    # URLs keep their form, without credentials
    assert source_identity("https://u:p@example.test/a.pdf") == "https://example.test/a.pdf"
    # bytes have no place
    assert source_identity(PDF) == ""
    assert source_identity(bytearray(PDF)) == ""  # type: ignore[arg-type]
    assert source_identity(memoryview(PDF)) == ""  # type: ignore[arg-type]
    # a Blob: its path first, else its source, else nothing
    both = Blob(data=PDF, path="/srv/a.pdf", metadata={"source": "https://example.test/b"})
    assert source_identity(both) == "/srv/a.pdf"
    assert source_identity(Blob(data=PDF, metadata={"source": "https://x:y@h.test/b"})) == (
        "https://h.test/b"
    )
    assert source_identity(Blob(data=PDF)) == ""
    # a name no path can be (a NUL byte) is named as given
    assert source_identity("~nobody\x00x") == "~nobody\x00x"


@given(st.lists(st.text(min_size=1), min_size=2, max_size=6, unique=True))
def test_every_path_is_a_source_of_its_own(paths: list[str]) -> None:
    """Any two different paths are two sources; every id is a uuid5."""
    ids = [document_id("sha256:00", 0, "k", path) for path in paths]
    assert len(set(ids)) == len(paths)
    assert {uuid.UUID(value).version for value in ids} == {5}


def test_undecodable_file_names_get_ids() -> None:
    name = os.fsdecode(b"/srv/r\xe9sum\xe9.pdf")  # carries surrogates
    expected = uuid.uuid5(DOCUMENT_NAMESPACE, "/srv/r\\xe9sum\\xe9.pdf\nsha256:00:0:k")
    assert document_id("sha256:00", 0, "k", name) == str(expected)


# --- AgentSpec: what a spec sends --------------------------------------------------------


def test_every_other_config_key_reaches_the_request() -> None:
    config = {"prompt": "Read it", "detail": "high", "temperature": 0, "pages": [1, 2]}
    spec = AgentSpec(agent_name="md:v1", config=config)
    assert spec.prompt == "Read it"  # lifted out of config
    assert spec.config == {"detail": "high", "temperature": 0, "pages": [1, 2]}
    api = service()
    process_source(api.client(), PDF, spec)
    assert sent(api)["config"] == config
    assert sent(api)["name"] == "md:v1"


def test_a_schema_given_in_config_is_the_spec_schema() -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    spec = AgentSpec(prompt="Title?", config={"json_schema": schema, "detail": "low"})
    assert spec.schema == schema and spec.config == {"detail": "low"}
    assert spec.key == AgentSpec(prompt="Title?", json_schema=schema).key
    api = service({"title": "Q3"})
    process_source(api.client(), PDF, spec)
    assert sent(api)["config"] == {"prompt": "Title?", "json_schema": schema, "detail": "low"}


def test_config_of_only_prompt_and_schema_leaves_no_config() -> None:
    spec = AgentSpec(config={"prompt": "Read it", "json_schema": {"type": "object"}})
    assert spec.config is None
    assert spec.prompt == "Read it" and spec.schema == {"type": "object"}
    assert AgentSpec(agent_name="md:v1").config is None
    assert AgentSpec(agent_name="md:v1").schema is None


def test_inputs_input_key_callback_and_options_reach_the_request() -> None:
    spec = AgentSpec(
        agent_name="md:v1",
        inputs={"language": "de"},
        input_key="document",
        callback_url="https://hooks.example.test/vlmrun",
        options=ExecuteOptions(model="vlmrun-orion-1:fast", execution_mode="program"),
    )
    api = service()
    process_source(api.client(), PDF, spec)
    body = sent(api)
    assert body["inputs"] == {
        "language": "de",
        "document": {"type": "input_file", "file_id": "file-1"},
    }
    assert body["callback_url"] == "https://hooks.example.test/vlmrun"
    assert body["model"] == "vlmrun-orion-1:fast"
    assert body["config"] == {"mode": "program"}


def test_a_schema_without_prompt_or_agent_sends_the_schema_prompt() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    spec = AgentSpec(json_schema=schema)
    assert spec.uses_defaults and spec.prompt is None
    resolved = spec.for_medium("image")
    assert resolved.prompt == SCHEMA_PROMPT and resolved.schema == schema
    assert resolved.default is None
    api = service({"total": 12})
    (doc,), _ = process_source(api.client(), PDF, spec)
    assert sent(api)["config"] == {
        "prompt": "Extract the information described by the JSON schema from this file.",
        "json_schema": schema,
    }
    assert sent(api)["name"] is None
    assert doc.metadata["structured"] == {"total": 12}


@pytest.mark.parametrize("medium", ["document", "image", "audio", "video"])
def test_without_agent_or_prompt_each_medium_gets_its_default(medium: str) -> None:
    chosen = default_for(medium)  # type: ignore[arg-type]
    resolved = AgentSpec(mode="single").for_medium(medium)  # type: ignore[arg-type]
    assert resolved.default == chosen
    assert resolved.prompt == chosen.prompt
    assert resolved.schema == chosen.request_schema()
    assert resolved.mode == "single"  # the rest of the spec is kept
    assert resolved.key == chosen.key


def test_the_default_runs_for_a_file_when_nothing_was_asked() -> None:
    api = service()
    docs, usage = process_source(api.client(), PDF, AgentSpec())
    chosen = default_for("document")
    assert sent(api)["config"] == {"prompt": chosen.prompt, "json_schema": chosen.request_schema()}
    assert [d.id for d in docs] == [document_id(sha(PDF), page, chosen.key, "") for page in (0, 1)]
    assert usage.agent == "agent:v1"  # the agent the server says ran


def test_an_agent_or_a_prompt_is_run_as_given() -> None:
    for spec in (AgentSpec(agent_name="md:v1"), AgentSpec(prompt="Read it")):
        assert not spec.uses_defaults
        assert spec.for_medium("audio") is spec
    assert not AgentSpec(agent_name="md:v1", prompt="Read it").uses_defaults


def test_spec_arguments_are_checked_before_anything_is_sent() -> None:
    with pytest.raises(TypeError, match=r"^options must be an ExecuteOptions, got dict\.$"):
        AgentSpec(agent_name="md:v1", options={"model": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^input_key must be a non-empty string, got ''\.$"):
        AgentSpec(agent_name="md:v1", input_key="")
    with pytest.raises(TypeError, match=r"^input_key must be a non-empty string, got 3\.$"):
        AgentSpec(agent_name="md:v1", input_key=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^mode must be 'page' or 'single', got 'element'\.$"):
        AgentSpec(agent_name="md:v1", mode="element")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^inputs must be a dict"):
        AgentSpec(agent_name="md:v1", inputs=["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^wait_timeout must be"):
        AgentSpec(agent_name="md:v1", wait_timeout=-1)
    with pytest.raises(ValueError, match=r"^segment_seconds must be"):
        AgentSpec(agent_name="md:v1", segment_seconds=0)
    with pytest.raises(ValueError, match="Invalid agent name"):
        AgentSpec(agent_name="not a name!")
    with pytest.raises(ValueError, match="prompt is given twice"):
        AgentSpec(prompt="A", config={"prompt": "B"})
    # a value given two ways is refused now, not after an upload
    with pytest.raises(ValueError, match="model is given twice"):
        AgentSpec(agent_name="md:v1", config={"model": "a"}, options=ExecuteOptions(model="b"))
    # the same value twice is one value
    assert AgentSpec(prompt="A", config={"prompt": "A"}).prompt == "A"
    assert AgentSpec(agent_name="md:v1", input_key="doc", inputs={"x": 1}).input_key == "doc"


def test_the_agent_name_and_inputs_are_checked_first() -> None:
    """With several arguments wrong, the error names the agent, then the inputs."""
    with pytest.raises(ValueError, match="Invalid agent name"):
        AgentSpec(agent_name="not a name!", wait_timeout=-1, mode="element")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^inputs must be a dict"):
        AgentSpec(agent_name="md:v1", inputs=["a"], mode="element")  # type: ignore[arg-type]


def test_wait_timeout_for_a_source() -> None:
    document = AgentSpec().for_medium("document")
    video = AgentSpec().for_medium("video")
    # built-in defaults wait by medium (long recordings take minutes)
    assert wait_timeout_for(None, document, "document") == DEFAULT_WAIT_TIMEOUTS["document"]
    assert wait_timeout_for(None, video, "video") == 3600.0
    assert wait_timeout_for(ScriptedAPI().client(), video, "video") == 3600.0
    # unless a timeout was set: on the spec, or on the client
    assert wait_timeout_for(None, AgentSpec(wait_timeout=5).for_medium("video"), "video") == 5
    assert wait_timeout_for(ScriptedAPI().client(wait_timeout=7), video, "video") is None
    # a user's agent waits as the client does
    assert wait_timeout_for(None, AgentSpec(agent_name="md:v1"), "video") is None
    assert wait_timeout_for(None, AgentSpec(agent_name="md:v1", wait_timeout=9), "audio") == 9


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_the_spec_wait_timeout_bounds_the_wait(use_async: bool) -> None:
    api = service(status="running")
    with pytest.raises(ExecutionTimeoutError):
        await run(api, PDF, AgentSpec(agent_name="md:v1", wait_timeout=5), use_async)
    assert 4 <= sum(api.sleeps) <= 5


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_the_client_wait_timeout_bounds_the_wait_for_the_defaults(use_async: bool) -> None:
    """A client's wait_timeout replaces the built-in defaults' (600 s for a document)."""
    api = service(status="running")
    with pytest.raises(ExecutionTimeoutError):
        await run(api, PDF, AgentSpec(), use_async, client_settings={"wait_timeout": 3})
    assert 2 <= sum(api.sleeps) <= 3


# --- usage: what each source cost ---------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_usage_counts_requests_and_credits_and_the_cache(use_async: bool) -> None:
    api = service(credits=3.5)
    cache = ResultCache(InMemoryByteStore())
    url = "https://example.test/r.pdf"
    docs, usage = await run(api, url, AgentSpec("md:v1"), use_async, cache=cache)
    assert usage.source == "https://example.test/r.pdf"
    assert (usage.requests, usage.credits_used, usage.from_cache) == (2, 3.5, False)
    assert (usage.execution_id, usage.agent) == ("ex-1", "md:v1")
    again, cached = await run(api, url, AgentSpec("md:v1"), use_async, cache=cache)
    assert (cached.requests, cached.credits_used, cached.from_cache) == (0, 0.0, True)
    assert [d.id for d in again] == [d.id for d in docs]
    assert docs[0].metadata["credits_used"] == 3.5  # the execution's, kept on the Documents


def test_usage_without_credits_reported_is_zero() -> None:
    _, usage = process_source(service(credits=None).client(), PDF, AgentSpec(prompt="Read it"))
    assert usage.credits_used == 0
    assert usage.agent == "agent:v1"  # no agent asked: the one the server ran
    assert usage.requests == 2  # upload, execute (no agent to look up)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_response_not_matching_the_model_is_neither_cached_nor_documents(
    use_async: bool,
) -> None:
    class Title(BaseModel):
        title: str

    api = service({"heading": "Q3"})
    cache = ResultCache(InMemoryByteStore())
    spec = AgentSpec(agent_name="md:v1", response_model=Title)
    for _ in range(2):
        with pytest.raises(ResponseValidationError):
            await run(api, PDF, spec, use_async, cache=cache)
    assert executes(api) == 2  # not cached: asked again


class Counted(BaseModel):
    """A model that counts how often a response is validated against it."""

    calls: ClassVar[int] = 0
    title: str

    @field_validator("title")
    @classmethod
    def count(cls, value: str) -> str:
        Counted.calls += 1
        return value


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_each_response_is_validated_once(use_async: bool) -> None:
    Counted.calls = 0
    api = service({"title": "Q3"})
    spec = AgentSpec(agent_name="md:v1", response_model=Counted)
    if use_async:
        (doc,), _ = await aprocess_source(api.async_client(), PDF, spec)
    else:
        (doc,), _ = process_source(api.client(), PDF, spec)
    assert Counted.calls == 1
    assert doc.metadata["structured"] == {"title": "Q3"}
    assert doc.page_content == "title: Q3"
    assert doc.metadata["response_type"] == "json"
    assert doc.id == document_id(sha(PDF), "all", spec.key, "")
    assert spec.key.startswith("md:v1|schema:")  # the model's schema names the ids too


class Meeting(BaseModel):
    title: str
    starts: datetime


def test_a_model_is_kept_as_json_in_the_metadata() -> None:
    spec = AgentSpec(agent_name="cal:v1", response_model=Meeting)
    response = {"title": "Review", "starts": "2026-01-02T03:04:05"}
    (doc,) = execution_to_documents(INFO, completed(response), spec)
    assert doc.metadata["structured"] == {"title": "Review", "starts": "2026-01-02T03:04:05"}
    assert doc.page_content == "title: Review\nstarts: 2026-01-02T03:04:05"
    assert doc.id == document_id(INFO.content_hash, "all", spec.key, INFO.identity)


async def test_async_twin_gives_the_same_documents_and_usage() -> None:
    spec = AgentSpec(agent_name="md:v1", mode="single")
    blob = Blob(data=PDF, path="/srv/docs/report.pdf")
    sync_docs, sync_usage = process_source(service().client(), blob, spec, label="Q3 report")
    api = service()
    docs, usage = await aprocess_source(api.async_client(), blob, spec, label="Q3 report")
    assert docs == sync_docs and usage == sync_usage
    assert docs[0].metadata["source"] == "Q3 report"
    assert docs[0].id == document_id(sha(PDF), "all", "md:v1", "/srv/docs/report.pdf")
    assert usage.requests == 3
    url_docs, url_usage = await aprocess_source(
        service().async_client(), "https://example.test/report.pdf", spec
    )
    assert url_docs[0].id == "990492e7-c893-5a5c-b706-3879c9f7fd9a"
    assert url_usage.requests == 2


# --- artifacts_dir: what a loader saves ----------------------------------------------

WITH_ARTIFACTS = {
    "pages": [
        {"content": "The chart", "figures": [{"id": "fig-1", "image": {"id": "img_1a2b3c"}}]},
        {"content": "The redacted copy: doc_9f8e7d"},
    ],
    "redacted": "doc_9f8e7d",
}


def artifact_body(request: httpx.Request) -> httpx.Response:
    """``GET /artifacts``: the bytes of the artifact asked for."""
    object_id = request.url.params["object_id"]
    kind = {"img": "image/png", "doc": "application/pdf"}[object_id.split("_")[0]]
    return httpx.Response(
        200, content=f"bytes of {object_id}".encode(), headers={"content-type": kind}
    )


def artifact_service() -> ScriptedAPI:
    return service(WITH_ARTIFACTS, execution_id="ex-7").on("GET", "/artifacts", artifact_body)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_loader_with_artifacts_dir_saves_what_the_response_references(
    tmp_path: Path, use_async: bool
) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(PDF)
    api = artifact_service()
    saved = tmp_path / "artifacts"
    loader = VLMRunLoader(
        [str(source)],
        agent_name=AGENT,
        artifacts_dir=saved,
        client=api.client(),
        async_client=api.async_client(),
    )
    docs = await loader.aload() if use_async else loader.load()
    image, pdf = saved / "ex-7" / "img_1a2b3c.png", saved / "ex-7" / "doc_9f8e7d.pdf"
    assert image.read_bytes() == b"bytes of img_1a2b3c"
    assert pdf.read_bytes() == b"bytes of doc_9f8e7d"
    assert len(docs) == 2
    for doc in docs:  # every Document of the source knows where they are
        assert doc.metadata["artifacts"] == ["img_1a2b3c", "doc_9f8e7d"]
        assert doc.metadata["artifact_files"] == [str(image), str(pdf)]
    assert api.calls("GET", "/artifacts") == 2
    asked = [r.url.params["object_id"] for r in api.requests if r.url.path == "/v1/artifacts"]
    assert asked == ["img_1a2b3c", "doc_9f8e7d"]
    assert {
        r.url.params["execution_id"] for r in api.requests if r.url.path == "/v1/artifacts"
    } == {"ex-7"}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_without_artifacts_dir_artifacts_are_named_not_downloaded(
    tmp_path: Path, use_async: bool
) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(PDF)
    api = artifact_service()
    loader = VLMRunLoader(
        [str(source)], agent_name=AGENT, client=api.client(), async_client=api.async_client()
    )
    docs = await loader.aload() if use_async else loader.load()
    assert [d.metadata["artifacts"] for d in docs] == [["img_1a2b3c", "doc_9f8e7d"]] * 2
    assert all("artifact_files" not in d.metadata for d in docs)
    assert api.calls("GET", "/artifacts") == 0


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_artifacts_dir_with_a_response_without_artifacts_saves_nothing(
    tmp_path: Path, use_async: bool
) -> None:
    api = service()
    saved = tmp_path / "artifacts"
    spec = AgentSpec(agent_name="md:v1")
    if use_async:
        docs, _ = await aprocess_source(api.async_client(), PDF, spec, artifacts_dir=saved)
    else:
        docs, _ = process_source(api.client(), PDF, spec, artifacts_dir=saved)
    assert len(docs) == 2
    assert all("artifacts" not in d.metadata and "artifact_files" not in d.metadata for d in docs)
    assert api.calls("GET", "/artifacts") == 0
    assert not saved.exists()


def test_saved_artifacts_are_reused_by_a_second_load(tmp_path: Path) -> None:
    api = artifact_service()
    saved = tmp_path / "artifacts"
    spec = AgentSpec(agent_name="md:v1", mode="single")
    (first,), _ = process_source(api.client(), PDF, spec, artifacts_dir=saved)
    (second,), _ = process_source(api.client(), PDF, spec, artifacts_dir=str(saved))
    assert first.metadata["artifact_files"] == second.metadata["artifact_files"]
    assert api.calls("GET", "/artifacts") == 2  # on disk already the second time


# --- what the Documents say ---------------------------------------------------------


def test_page_documents_carry_the_source_and_the_execution() -> None:
    info = SourceInfo(
        source="reports/q3.pdf",
        content_hash=INFO.content_hash,
        mime_type="application/pdf",
        file_id="file-1",
        extra_metadata={"author": "Ada", "reviewed": None, "tags": ("q3", "final")},
        identity=INFO.identity,
    )
    spec = AgentSpec(agent_name="md:v1")
    first, second = execution_to_documents(info, completed(PAGES, credits=8), spec)
    assert first.page_content == "first page" and second.page_content == "second page"
    assert first.metadata == {
        "author": "Ada",
        "tags": ["q3", "final"],  # JSON-safe: what a vector store gives back
        "source": "reports/q3.pdf",
        "page": 0,
        "total_pages": 2,
        "execution_id": "ex-1",
        "agent": "md:v1",
        "file_id": "file-1",
        "credits_used": 8,
        "mime_type": "application/pdf",
        "response_type": "pages",
    }
    assert second.metadata["page"] == 1
    assert [first.id, second.id] == [
        document_id(info.content_hash, page, "md:v1", info.identity) for page in (0, 1)
    ]


def test_the_source_label_wins_over_metadata_of_the_same_name() -> None:
    info = SourceInfo(
        source="q3.pdf",
        content_hash="sha256:00",
        extra_metadata={"source": "elsewhere", "execution_id": "other", "owner": "finance"},
    )
    (doc,) = execution_to_documents(info, completed("words"), AgentSpec("a:v1"))
    assert doc.metadata["source"] == "q3.pdf" and doc.metadata["execution_id"] == "ex-1"
    assert doc.metadata["owner"] == "finance"
    assert "mime_type" not in doc.metadata and "file_id" not in doc.metadata


def test_metadata_values_json_cannot_hold_become_text() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5)
    blob = Blob(data=PDF, path="/srv/q3.pdf", metadata={"modified": when, "pages": {1, 2}})
    (doc, _), _ = process_source(service().client(), blob, AgentSpec("md:v1"))
    assert doc.metadata["modified"] == "2026-01-02 03:04:05"
    assert doc.metadata["pages"] == "{1, 2}"
    assert doc.metadata["source"] == "/srv/q3.pdf"
    json.dumps(doc.metadata)


def test_a_blob_without_a_name_is_shown_by_its_upload_name() -> None:
    blob = Blob(data=PDF, metadata={"owner": "finance"})
    (doc, _), usage = process_source(service().client(), blob, AgentSpec("md:v1"))
    assert doc.metadata["owner"] == "finance"
    assert doc.metadata["source"] == usage.source and usage.source.startswith("upload-")
    (labelled, _), usage = process_source(service().client(), blob, AgentSpec("md:v1"), label="Q3")
    assert labelled.metadata["source"] == usage.source == "Q3"
    (raw, _), _ = process_source(service().client(), PDF, AgentSpec("md:v1"), label="raw bytes")
    assert raw.metadata["source"] == "raw bytes"


def test_a_blob_named_by_its_source_is_shown_and_identified_by_it() -> None:
    blob = Blob(data=PDF, metadata={"source": "s3://bucket/q3.pdf"})
    (doc, _), _ = process_source(service().client(), blob, AgentSpec("md:v1"))
    assert doc.metadata["source"] == "s3://bucket/q3.pdf"
    assert doc.id == document_id(sha(PDF), 0, "md:v1", "s3://bucket/q3.pdf")


def test_artifact_ids_are_in_the_metadata() -> None:
    (doc,) = execution_to_documents(
        INFO, completed({"chart": "img_1a2b3c", "n": 1}), AgentSpec("a:v1")
    )
    assert doc.metadata["artifacts"] == ["img_1a2b3c"]
    (plain,) = execution_to_documents(INFO, completed({"n": 1}), AgentSpec("a:v1"))
    assert "artifacts" not in plain.metadata


def test_single_mode_is_one_document_for_the_file() -> None:
    spec = AgentSpec(agent_name="md:v1", mode="single")
    (doc,) = execution_to_documents(INFO, completed(PAGES), spec)
    assert doc.page_content == "first page" + PAGE_SEPARATOR + "second page"
    assert doc.metadata["total_pages"] == 2 and doc.metadata["response_type"] == "pages"
    assert "page" not in doc.metadata
    assert doc.id == document_id(INFO.content_hash, "all", "md:v1", INFO.identity)


def test_json_and_text_responses_are_one_document() -> None:
    data = {"title": "Q3", "bars": [{"label": "EMEA", "value": 41.2}]}
    (doc,) = execution_to_documents(INFO, completed(data), AgentSpec("a:v1"))
    assert doc.page_content == "title: Q3\nbars:\n  - label: EMEA\n    value: 41.2"
    assert doc.metadata["structured"] == data and doc.metadata["response_type"] == "json"
    assert "page" not in doc.metadata and "total_pages" not in doc.metadata
    assert doc.id == document_id(INFO.content_hash, "all", "a:v1", INFO.identity)
    (text,) = execution_to_documents(INFO, completed("plain words"), AgentSpec("a:v1"))
    assert text.page_content == "plain words" and text.metadata["response_type"] == "text"
    assert "structured" not in text.metadata
    assert text.id == doc.id  # one Document per file: the same slot


def test_an_empty_response_is_logged_and_makes_no_document(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        assert execution_to_documents(INFO, completed({}), AgentSpec("a:v1")) == []
    assert caplog.messages == [
        "VLM Run execution ex-1 for reports/q3.pdf returned an empty response; no Document made."
    ]
    assert caplog.records[0].name == "langchain_vlmrun"


SPEECH = {
    "segments": [
        {"start": 0, "end": 4.5, "speaker": "Ada", "text": "Welcome."},
        {"start": 1, "end": 3, "speaker": "Ada", "text": "(aside)"},
        {"start": 4.5, "end": 9.25, "speaker": "Bo", "text": "Thanks."},
        {"start": 9.25, "end": 12, "speaker": "Bo", "text": "Numbers next."},
        {"start": 12, "end": 13, "text": "(music)"},
    ]
}


def test_segments_are_grouped_in_windows_with_their_times_and_speakers() -> None:
    spec = AgentSpec(agent_name="asr:v1", segment_seconds=8)
    first, second = execution_to_documents(INFO, completed(SPEECH), spec)
    assert first.page_content == "Ada: Welcome.\nAda: (aside)\nBo: Thanks."
    assert first.metadata["start_time"] == 0.0
    assert first.metadata["end_time"] == 9.25  # the latest end, not the last segment's
    assert first.metadata["speakers"] == ["Ada", "Bo"] and "speaker" not in first.metadata
    assert (first.metadata["segment"], first.metadata["total_segments"]) == (0, 2)
    assert first.metadata["response_type"] == "segments"
    assert first.id == document_id(
        INFO.content_hash, "0.000-9.250", "asr:v1|window:8", INFO.identity
    )
    assert second.page_content == "Bo: Numbers next.\n(music)"
    assert second.metadata["speaker"] == "Bo" and "speakers" not in second.metadata
    assert (second.metadata["start_time"], second.metadata["end_time"]) == (9.25, 13.0)
    assert (second.metadata["segment"], second.metadata["total_segments"]) == (1, 2)
    assert second.id == document_id(
        INFO.content_hash, "9.250-13.000", "asr:v1|window:8", INFO.identity
    )


def test_each_segment_is_a_document_without_a_window() -> None:
    docs = execution_to_documents(INFO, completed(SPEECH), AgentSpec(agent_name="asr:v1"))
    assert [d.metadata["segment"] for d in docs] == [0, 1, 2, 3, 4]
    assert {d.metadata["total_segments"] for d in docs} == {5}
    assert [d.metadata.get("speaker") for d in docs] == ["Ada", "Ada", "Bo", "Bo", None]
    assert all("speakers" not in d.metadata for d in docs)
    assert docs[1].metadata["end_time"] == 3.0
    assert len({d.id for d in docs}) == 5


# --- json_to_text: a readable outline of JSON ------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        ("plain", "plain"),
        ("", '""'),
        ("two\nlines", '"two\\nlines"'),
        ("été\nhiver", '"été\\nhiver"'),
        (
            {"empty": {}, "none": [], "flag": False, "blank": ""},
            'empty: {}\nnone: []\nflag: false\nblank: ""',
        ),
        ({"a": {"b": {"c": 1}}}, "a:\n  b:\n    c: 1"),
        # a key is quoted like a value when a newline (or nothing) would break the outline
        ({"two\nlines": {"": 1}, "k": "v"}, '"two\\nlines":\n  "": 1\nk: v'),
        ([1, "x", None], "- 1\n- x\n- null"),
        ([{"a": 1, "b": 2}, {"a": 3}], "- a: 1\n  b: 2\n- a: 3"),
        ([[1, 2], [3]], "- - 1\n  - 2\n- - 3"),
        ({"rows": [[1, [2, 3]]]}, "rows:\n  - - 1\n    - - 2\n      - 3"),
        ([{}, []], "- {}\n- []"),
    ],
)
def test_json_to_text(data: Any, text: str) -> None:
    assert json_to_text(data) == text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


def entries(value: Any) -> int:
    """Lines an outline of ``value`` needs: one per key and per list item (a list item
    that is a non-empty container starts on its own first line)."""
    if isinstance(value, dict):
        return sum(
            1 + (entries(v) if v and isinstance(v, (dict, list)) else 0) for v in value.values()
        )
    if isinstance(value, list):
        return sum(entries(v) if v and isinstance(v, (dict, list)) else 1 for v in value)
    return 1


@given(JSON)
def test_json_to_text_is_one_line_per_key_and_item(data: Any) -> None:
    """No key or value can break a line of the outline (newlines are quoted)."""
    text = json_to_text(data)
    assert len(text.split("\n") if text else []) == entries(data)


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), JSON, max_size=4))
def test_json_to_text_names_every_key_once_at_the_top(data: dict[str, Any]) -> None:
    top = [line for line in json_to_text(data).split("\n") if line and not line.startswith(" ")]
    assert [line.split(":", 1)[0] for line in top] == list(data)


@given(st.lists(st.text(alphabet="abc \n", max_size=6), max_size=5))
def test_json_to_text_keeps_one_line_per_string(items: list[str]) -> None:
    lines = json_to_text(items).split("\n") if items else []
    assert len(lines) == len(items)
    for line, item in zip(lines, items, strict=True):
        assert line.startswith("- ")
        shown = line[2:]
        assert (json.loads(shown) if shown.startswith('"') else shown) == item


# --- split_documents: stable chunk ids ------------------------------------------------


def test_chunk_ids_are_pinned() -> None:
    # changing this breaks every stored chunk id users have (vector stores dedupe on ids)
    assert chunk_id("p1", 0) == str(uuid.uuid5(DOCUMENT_NAMESPACE, "p1#chunk0"))
    assert chunk_id("p1", 2) == str(uuid.uuid5(DOCUMENT_NAMESPACE, "p1#chunk2"))


def test_split_documents_gives_stable_ids_under_their_page() -> None:
    splitter = RecursiveCharacterTextSplitter(chunk_size=40, chunk_overlap=0)
    pages = [
        Document("alpha " * 15, id="page-0", metadata={"source": "a.pdf", "page": 0}),
        Document("beta " * 3, id="page-1", metadata={"source": "a.pdf", "page": 1}),
    ]
    chunks = split_documents(pages, splitter)
    first = [c for c in chunks if c.metadata["parent_id"] == "page-0"]
    assert [c.metadata["chunk"] for c in first] == list(range(len(first)))
    assert len(first) > 1
    assert [c.id for c in first] == [chunk_id("page-0", i) for i in range(len(first))]
    (last,) = [c for c in chunks if c.metadata["parent_id"] == "page-1"]
    assert last.id == chunk_id("page-1", 0)
    assert last.metadata == {"source": "a.pdf", "page": 1, "parent_id": "page-1", "chunk": 0}
    assert [c.id for c in split_documents(pages, splitter)] == [c.id for c in chunks]


def test_split_documents_without_ids_derives_the_parent_from_the_content() -> None:
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=0)
    page = Document("some text", metadata={"source": "a.pdf", "page": 0})
    (chunk,) = split_documents([page], splitter)
    expected = str(
        uuid.uuid5(
            DOCUMENT_NAMESPACE,
            json.dumps(["some text", {"source": "a.pdf", "page": 0}], sort_keys=True),
        )
    )
    assert chunk.metadata["parent_id"] == expected
    assert chunk.id == chunk_id(expected, 0)
    reordered = Document("some text", metadata={"page": 0, "source": "a.pdf"})
    assert split_documents([reordered], splitter)[0].metadata["parent_id"] == expected
    other = Document("some text", metadata={"source": "b.pdf", "page": 0})
    assert split_documents([other], splitter)[0].metadata["parent_id"] != expected
    when = Document("t", metadata={"at": datetime(2026, 1, 2)})
    assert split_documents([when], splitter)[0].metadata["parent_id"] == str(
        uuid.uuid5(DOCUMENT_NAMESPACE, json.dumps(["t", {"at": "2026-01-02 00:00:00"}]))
    )


# --- opening a source -------------------------------------------------------------------


def test_a_url_gets_the_default_of_its_medium() -> None:
    api = service({"segments": [{"start": 0, "end": 2, "text": "Hello."}]})
    (doc,), _ = process_source(api.client(), "https://example.test/talk.mp3?sig=1", AgentSpec())
    chosen = default_for("audio")
    assert sent(api)["config"]["prompt"] == chosen.prompt
    assert sent(api)["inputs"]["file"]["file_url"]["url"] == "https://example.test/talk.mp3?sig=1"
    assert doc.metadata["start_time"] == 0.0 and doc.metadata["mime_type"] == "audio/mpeg"


def test_a_file_over_the_client_size_limit_is_refused_before_any_request(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    api = service()
    with pytest.raises(FileSourceError):
        process_source(api.client(max_file_size=len(PDF) - 1), str(path), AgentSpec("md:v1"))
    assert api.requests == []


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_file_is_opened_once_and_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_async: bool
) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    opened: list[Any] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        opened.append(prepare_file(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr("langchain_vlmrun.documents._documents.prepare_file", recording)
    await run(service(), str(path), AgentSpec("md:v1"), use_async)
    with pytest.raises(ExecutionFailedError):
        await run(service(status="failed"), str(path), AgentSpec("md:v1"), use_async)
    assert [p.path for p in opened] == [path, path]
    assert [p.fd for p in opened] == [None, None]  # closed, also after a failure


# --- a source confined to its folder (a loader's folder expansion) ----------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_a_file_of_a_folder_is_read_only_inside_it_and_never_through_a_hard_link(
    tmp_path: Path, use_async: bool
) -> None:
    folder, outside = tmp_path / "inbox", tmp_path / "private"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(PDF)
    (outside / "other.pdf").write_bytes(PDF + b"% other\n")
    (folder / "linked.pdf").symlink_to(outside / "secret.pdf")
    os.link(outside / "other.pdf", folder / "hard.pdf")
    (folder / "own.pdf").write_bytes(PDF + b"% own\n")
    spec = AgentSpec(prompt="p")
    api = service()
    for name in ("linked.pdf", "hard.pdf"):
        with pytest.raises(FileSourceError):
            await run(api, str(folder / name), spec, use_async, within=folder.resolve())
    assert api.calls("POST", "/files") == 0  # refused before any upload
    documents, _ = await run(api, str(folder / "own.pdf"), spec, use_async, within=folder.resolve())
    assert documents and api.calls("POST", "/files") == 1
    # named by the user (no folder to keep to), a hard-linked file is theirs to send
    documents, _ = await run(api, str(folder / "hard.pdf"), spec, use_async)
    assert documents and api.calls("POST", "/files") == 2
