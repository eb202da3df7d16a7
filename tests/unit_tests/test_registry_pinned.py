"""Agents, execution history and artifacts through the client, pinned down: each
request as sent, the refusals word for word, paging that cannot loop or repeat, agent
names looked up once and unknown ones remembered for 30 s, the suggestions of an
unknown name, and where and how an artifact is written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from langchain_vlmrun import AgentNotFoundError, AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client import _registry
from langchain_vlmrun.client._registry import KnownAgents, SavedArtifact
from langchain_vlmrun.core.errors import (
    APIStatusError,
    InternalServerError,
    NotFoundError,
    UnreadableResponseError,
)
from tests.mock_api import Reply, ScriptedAPI, agent_info, json_body

NOT_FOUND = httpx.Response(404, json={"detail": "Agent not found"})
EXECUTION = "ex-1"


def listing(*names: str) -> httpx.Response:
    """One page of ``GET /agent``."""
    return httpx.Response(200, json=[agent_info(name) for name in names])


def history(*ids: str) -> httpx.Response:
    """One page of ``GET /agent/executions``."""
    body = [{"id": i, "status": "completed", "usage": {}} for i in ids]
    return httpx.Response(200, json=body)


def params(api: ScriptedAPI, path: str) -> list[dict[str, str]]:
    return [dict(r.url.params) for r in api.requests if r.url.path == f"/v1{path}"]


# --- looking agents up -------------------------------------------------------------------


def test_lookup_by_name_id_or_prompt_sends_exactly_that() -> None:
    api = ScriptedAPI()
    client = api.client()
    info = client.lookup_agent("invoices")
    assert info.name == "invoices:v1" and info.id == "agent-invoices:v1"
    assert json_body(api.requests[-1]) == {"name": "invoices"}
    api.on("POST", "/agent/lookup", httpx.Response(200, json=agent_info("by-id")))
    assert client.lookup_agent(agent_id="agent-7").name == "by-id:v1"
    assert json_body(api.requests[-1]) == {"id": "agent-7"}
    assert client.lookup_agent(prompt="Read invoices").name == "by-id:v1"
    assert json_body(api.requests[-1]) == {"prompt": "Read invoices"}


def test_a_name_looked_up_is_not_looked_up_again() -> None:
    api = ScriptedAPI()
    client = api.client()
    client.lookup_agent("invoices")  # bare: the latest version
    assert client.require_agent("invoices").name == "invoices:v1"
    assert client.require_agent("invoices:v1").name == "invoices:v1"
    assert api.calls("POST", "/agent/lookup") == 1


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"name": "a", "agent_id": "b"}, {"agent_id": "b", "prompt": "c"}],
    ids=["none", "name-and-id", "id-and-prompt"],
)
def test_a_lookup_needs_exactly_one_key(kwargs: dict[str, Any]) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError) as caught:
        api.client().lookup_agent(**kwargs)
    assert str(caught.value) == (
        "Look an agent up by exactly one of name=..., agent_id=... or prompt=..."
    )
    assert api.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"agent_id": ""}, "id must be a non-empty string, got ''."),
        ({"agent_id": 7}, "id must be a non-empty string, got 7."),
        ({"prompt": "  "}, "prompt must be a non-empty string, got '  '."),
        (
            {"name": "no such name!"},
            "Invalid agent name 'no such name!': use 'name' or 'name:version' (letters, "
            "digits, '.', '_', '-').",
        ),
    ],
)
def test_an_unusable_lookup_key_is_refused_before_any_request(
    kwargs: dict[str, Any], message: str
) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError) as caught:
        api.client().lookup_agent(**kwargs)
    assert str(caught.value) == message
    assert api.requests == []


def test_an_unknown_lookup_is_a_not_found_error() -> None:
    api = ScriptedAPI().on("POST", "/agent/lookup", NOT_FOUND)
    with pytest.raises(NotFoundError):
        api.client().lookup_agent(agent_id="agent-404")


def test_get_agent_by_id() -> None:
    api = ScriptedAPI().on("GET", "/agents/a/b", httpx.Response(200, json=agent_info("x")))
    assert api.client().get_agent("a/b").name == "x:v1"  # the id is one path segment
    assert api.requests[0].url.raw_path == b"/v1/agents/a%2Fb"
    for bad in ("", None):
        with pytest.raises(ValueError) as caught:
            api.client().get_agent(bad)  # type: ignore[arg-type]
        assert str(caught.value) == f"agent_id must be a non-empty string, got {bad!r}."
    assert len(api.requests) == 1


# --- listing agents and executions: paging ---------------------------------------------


def test_list_agents_walks_the_pages_and_drops_repeats() -> None:
    # a new agent arriving between pages shifts 'b' onto the second page again
    api = ScriptedAPI().on("GET", "/agent", listing("a", "b"), listing("b", "c"), listing("d"))
    client = api.client()
    agents = client.list_agents(page_size=2)
    assert [a.name for a in agents] == ["a:v1", "b:v1", "c:v1", "d:v1"]
    assert params(api, "/agent") == [
        {"skip": "0", "limit": "2"},
        {"skip": "2", "limit": "2"},
        {"skip": "4", "limit": "2"},
    ]
    assert client.require_agent("c:v1").name == "c:v1"  # remembered: no lookup
    assert api.calls("POST", "/agent/lookup") == 0


def test_an_unreadable_agent_is_skipped_with_where_it_went_wrong(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = [agent_info("a"), "oops", {"id": "x"}, {**agent_info("b"), "status": {"k": 1}}]
    api = ScriptedAPI().on("GET", "/agent", httpx.Response(200, json=page))
    with caplog.at_level(logging.WARNING, logger="langchain_vlmrun"):
        agents = api.client().list_agents()
    assert [a.name for a in agents] == ["a:v1"]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping an unreadable item of GET /v1/agent (item: Input should be a valid "
        "dictionary or instance of AgentInfo)",
        "skipping an unreadable item of GET /v1/agent (name: Field required)",
        "skipping an unreadable item of GET /v1/agent (status: Input should be a valid string)",
    ]


class Nested(BaseModel):
    inner: dict[str, int]


def test_the_first_problem_says_where_in_a_nested_item_in_200_characters() -> None:
    with pytest.raises(ValidationError) as caught:
        Nested.model_validate({"inner": {"k": "x"}})
    assert _registry._first_problem(caught.value) == (
        "inner.k: Input should be a valid integer, unable to parse string as an integer"
    )
    with pytest.raises(ValidationError) as caught:
        Nested.model_validate({"inner": {"k" * 300: "x"}})
    assert _registry._first_problem(caught.value) == f"inner.{'k' * 194}"


def test_list_agents_stops_when_the_server_ignores_paging() -> None:
    same = ScriptedAPI().on("GET", "/agent", listing("a", "b"))  # skip ignored
    assert [a.name for a in same.client().list_agents(page_size=2)] == ["a:v1", "b:v1"]
    assert same.calls("GET", "/agent") == 2
    everything = ScriptedAPI().on("GET", "/agent", listing("a", "b", "c"))  # limit ignored
    assert len(everything.client().list_agents(page_size=2)) == 3
    assert everything.calls("GET", "/agent") == 1


def test_list_agents_pages_of_one_and_by_default_of_100() -> None:
    api = ScriptedAPI().on("GET", "/agent", listing("a"), listing())
    assert [a.name for a in api.client().list_agents(page_size=1)] == ["a:v1"]
    assert params(api, "/agent") == [{"skip": "0", "limit": "1"}, {"skip": "1", "limit": "1"}]
    api = ScriptedAPI().on("GET", "/agent", listing())
    assert api.client().list_agents() == []
    assert params(api, "/agent") == [{"skip": "0", "limit": "100"}]


@pytest.mark.parametrize(
    ("page_size", "error", "message"),
    [
        (0, ValueError, "page_size must be an integer >= 1, got 0."),
        (1.5, TypeError, "page_size must be an integer >= 1, got float 1.5."),
        (None, TypeError, "page_size must be an integer >= 1, got NoneType None."),
    ],
)
def test_list_agents_refuses_a_page_size(
    page_size: Any, error: type[Exception], message: str
) -> None:
    api = ScriptedAPI()
    with pytest.raises(error) as caught:
        api.client().list_agents(page_size=page_size)
    assert str(caught.value) == message
    assert api.requests == []


def test_list_executions_sends_skip_and_limit() -> None:
    api = ScriptedAPI().on("GET", "/agent/executions", history("ex-3", "ex-2"))
    client = api.client()
    assert [e.id for e in client.list_executions()] == ["ex-3", "ex-2"]
    client.list_executions(skip=0, limit=1)
    client.list_executions(skip=5, limit=1000)  # the API's maximum
    assert params(api, "/agent/executions") == [
        {"skip": "0", "limit": "10"},
        {"skip": "0", "limit": "1"},
        {"skip": "5", "limit": "1000"},
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"skip": -1}, ValueError, "skip must be an integer >= 0, got -1."),
        ({"skip": 0.5}, TypeError, "skip must be an integer >= 0, got float 0.5."),
        ({"skip": None}, TypeError, "skip must be an integer >= 0, got NoneType None."),
        ({"limit": 0}, ValueError, "limit must be an integer >= 1, got 0."),
        ({"limit": 2.5}, TypeError, "limit must be an integer >= 1, got float 2.5."),
        ({"limit": None}, TypeError, "limit must be an integer >= 1, got NoneType None."),
        (
            {"limit": 1001},
            ValueError,
            "limit must be at most 1000 (the API's maximum), got 1001.",
        ),
    ],
)
def test_list_executions_refuses(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    api = ScriptedAPI()
    with pytest.raises(error) as caught:
        api.client().list_executions(**kwargs)
    assert str(caught.value) == message
    assert api.requests == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"items": []},
            "Unreadable response from GET /v1/agent/executions (HTTP 200): expected a JSON "
            "array. This is a service-side problem: try again later, and report it if it "
            "persists.",
        ),
        (
            [{"status": "completed"}],
            "Unreadable item in GET /v1/agent/executions: 1 validation error for "
            "AgentExecution\nid\n  Field required",
        ),
    ],
    ids=["not-a-list", "bad-item"],
)
def test_an_unreadable_listing_says_what_was_wrong(body: Any, message: str) -> None:
    api = ScriptedAPI().on("GET", "/agent/executions", httpx.Response(200, json=body))
    with pytest.raises(UnreadableResponseError) as caught:
        api.client().list_executions()
    assert str(caught.value).startswith(message)
    assert caught.value.request is not None
    assert caught.value.request.url.path == "/v1/agent/executions"


def test_a_body_that_is_not_json_is_unreadable() -> None:
    api = ScriptedAPI().on("GET", "/agent", httpx.Response(200, content=b"<html>"))
    with pytest.raises(UnreadableResponseError, match="expected a JSON array"):
        api.client().list_agents()


# --- creating agents ---------------------------------------------------------------------


class Invoice(BaseModel):
    total: float


CREATED = httpx.Response(200, json={"id": "agent-9", "name": "invoices:v1", "status": "pending"})


def test_create_agent_sends_name_inputs_and_config() -> None:
    api = ScriptedAPI().on("POST", "/agent/create", CREATED)
    created = api.client().create_agent(
        "Extract the total",
        name="invoices",
        response_model=Invoice,
        config={"detail": "high", "unset": None},
        inputs={"currency": "EUR"},
        callback_url="https://hooks.test/agents",
    )
    assert (created.id, created.name, created.status) == ("agent-9", "invoices:v1", "pending")
    assert json_body(api.requests[0]) == {
        "name": "invoices",
        "inputs": {"currency": "EUR"},
        "config": {
            "detail": "high",
            "prompt": "Extract the total",
            "json_schema": {
                "properties": {"total": {"title": "Total", "type": "number"}},
                "required": ["total"],
                "title": "Invoice",
                "type": "object",
            },
        },
        "callback_url": "https://hooks.test/agents",
    }


def test_create_agent_with_a_prompt_only() -> None:
    api = ScriptedAPI().on("POST", "/agent/create", CREATED)
    api.client().create_agent("Extract the total")
    assert json_body(api.requests[0]) == {
        "name": None,
        "inputs": None,
        "config": {"prompt": "Extract the total"},
    }


@pytest.mark.parametrize("prompt", ["", "   "])
def test_create_agent_needs_a_prompt(prompt: str) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError) as caught:
        api.client().create_agent(prompt)
    assert str(caught.value) == "An agent needs a prompt: create_agent('Extract ...')."
    assert api.requests == []


def test_create_agent_refuses_bad_names_and_inputs() -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match="Invalid agent name 'a b'"):
        api.client().create_agent("p", name="a b")
    with pytest.raises(TypeError, match="inputs must be a dict with string keys"):
        api.client().create_agent("p", inputs=[1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prompt is given twice"):
        api.client().create_agent("p", config={"prompt": "q"})
    assert api.requests == []


def test_a_create_that_may_have_happened_is_not_sent_again() -> None:
    api = ScriptedAPI().on("POST", "/agent/create", httpx.Response(503), CREATED)
    with pytest.raises(InternalServerError):
        api.client().create_agent("p")
    assert api.calls("POST", "/agent/create") == 1
    # a 429 was not acted on: sent again
    api = ScriptedAPI().on("POST", "/agent/create", httpx.Response(429), CREATED)
    assert api.client().create_agent("p").id == "agent-9"
    assert api.calls("POST", "/agent/create") == 2


# --- require_agent: unknown names, suggestions and memory --------------------------------


def unknown(*existing: str) -> ScriptedAPI:
    return (
        ScriptedAPI().on("POST", "/agent/lookup", NOT_FOUND).on("GET", "/agent", listing(*existing))
    )


ADVICE = (
    " List them with client.list_agents(), create one with client.create_agent(...), "
    "or run by prompt='...' without an agent name."
)


@pytest.mark.parametrize(
    ("asked", "existing", "suggested", "said"),
    [
        (  # the name is right, the version is not: its versions only
            "Invoices:v3",
            ["invoices:v1", "receipts:v1", "INVOICES:v2", "invoicex:v1"],
            ["invoices:v1", "INVOICES:v2"],
            " Closest names: 'invoices:v1', 'INVOICES:v2'.",
        ),
        ("Inv:v3", ["inv:v1", "other:v1"], ["inv:v1"], " Closest names: 'inv:v1'."),
        (
            "invoice-extractr",
            ["invoice-extractors:v1", "other:v1", "invoice-extractor:v1"],
            ["invoice-extractor:v1", "invoice-extractors:v1"],
            " Closest names: 'invoice-extractor:v1', 'invoice-extractors:v1'.",
        ),
        ("abcde", ["abcdf:v1"], ["abcdf:v1"], " Closest names: 'abcdf:v1'."),  # ratio 0.8
        ("abcde", ["abcfg:v1", "zzz:v1"], [], " None of its 2 agents has a similar name."),
        ("abcde", [], [], " The workspace has no agents yet."),
    ],
    ids=[
        "other-versions",
        "short-name",
        "closest-first",
        "at-the-threshold",
        "none-similar",
        "no-agents",
    ],
)
def test_an_unknown_name_says_what_exists(
    asked: str, existing: list[str], suggested: list[str], said: str
) -> None:
    api = unknown(*existing)
    with pytest.raises(AgentNotFoundError) as caught:
        api.client().require_agent(asked)
    assert caught.value.name == asked and caught.value.suggestions == suggested
    assert str(caught.value) == f"No VLM Run agent named {asked!r} in this workspace.{said}{ADVICE}"
    assert [r.url.path for r in api.requests] == ["/v1/agent/lookup", "/v1/agent"]


def test_at_most_five_versions_are_suggested() -> None:
    versions = [f"invoices:v{i}" for i in range(1, 8)]
    with pytest.raises(AgentNotFoundError) as caught:
        unknown(*versions).client().require_agent("invoices:v9")
    assert caught.value.suggestions == versions[:5]


def test_when_agents_cannot_be_listed_the_404_is_the_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    forbidden = httpx.Response(403, json={"detail": "listing forbidden"})
    api = ScriptedAPI().on("POST", "/agent/lookup", NOT_FOUND).on("GET", "/agent", forbidden)
    with (
        caplog.at_level(logging.DEBUG, logger="langchain_vlmrun"),
        pytest.raises(AgentNotFoundError) as caught,
    ):
        api.client().require_agent("invoices")
    assert str(caught.value) == f"No VLM Run agent named 'invoices' in this workspace.{ADVICE}"
    assert caught.value.suggestions == []
    (said,) = [m for m in caplog.messages if m.startswith("could not list agents")]
    assert said.startswith("could not list agents for suggestions: ")
    assert "listing forbidden" in said


def test_a_name_is_checked_before_any_request() -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError, match="Invalid agent name 'a b'"):
        api.client().require_agent("a b")
    assert api.requests == []


def fake_clock(api: ScriptedAPI, client: VLMRunClient) -> None:
    client.known_agents = KnownAgents(clock=api.clock)


def test_an_unknown_name_is_answered_from_memory_for_30_seconds() -> None:
    api = unknown("receipts:v1")
    client = api.client()
    fake_clock(api, client)
    with pytest.raises(AgentNotFoundError) as first:
        client.require_agent("invoices")
    api.now += 29.9
    with pytest.raises(AgentNotFoundError) as again:
        client.require_agent("invoices")
    assert again.value is not first.value  # a fresh copy per caller
    assert str(again.value) == str(first.value) and again.value.name == "invoices"
    assert api.calls("POST", "/agent/lookup") == 1 and api.calls("GET", "/agent") == 1
    api.now += 0.1  # 30 s: asked again
    with pytest.raises(AgentNotFoundError):
        client.require_agent("invoices")
    assert api.calls("POST", "/agent/lookup") == 2


def test_an_agent_seen_since_is_no_longer_missing() -> None:
    api = unknown()
    client = api.client()
    fake_clock(api, client)
    with pytest.raises(AgentNotFoundError):
        client.require_agent("invoices")
    with pytest.raises(AgentNotFoundError):
        client.require_agent("other")
    # a version of it shows up in a listing: the bare name is looked up again
    api.routes[("GET", "/agent")].clear()
    api.on("GET", "/agent", listing("invoices:v2"))
    client.list_agents()
    api.routes[("POST", "/agent/lookup")].clear()  # now found
    assert client.require_agent("invoices").name == "invoices:v1"
    with pytest.raises(AgentNotFoundError):  # still remembered missing
        client.require_agent("other")
    assert api.calls("POST", "/agent/lookup") == 3


def test_creating_an_agent_forgets_the_missing_names() -> None:
    api = unknown().on("POST", "/agent/create", CREATED)
    client = api.client()
    with pytest.raises(AgentNotFoundError):
        client.require_agent("invoices")
    client.create_agent("p", name="invoices")
    api.routes[("POST", "/agent/lookup")].clear()
    assert client.require_agent("invoices").name == "invoices:v1"


def test_lookups_of_different_names_do_not_wait_for_each_other() -> None:
    b_arrived = threading.Event()
    a_saw_b: list[bool] = []

    def lookup(request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content)["name"]
        if name == "a":
            a_saw_b.append(b_arrived.wait(5))
        else:
            b_arrived.set()
        return httpx.Response(200, json=agent_info(name))

    api = ScriptedAPI().on("POST", "/agent/lookup", lookup)
    client = api.client()
    first = threading.Thread(target=client.require_agent, args=("a",))
    first.start()
    client.require_agent("b")
    first.join(10)
    assert a_saw_b == [True]


def test_concurrent_first_uses_of_a_name_send_one_lookup() -> None:
    api = ScriptedAPI()

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # the other task runs up to the name's lock
        return api.handler(request)

    async def main() -> list[str]:
        client = AsyncVLMRunClient(
            "sk-test",
            base_url="https://api.test/v1",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        )
        found = await asyncio.gather(*(client.require_agent("invoices") for _ in range(3)))
        return [info.name for info in found]

    assert asyncio.run(main()) == ["invoices:v1"] * 3
    assert api.calls("POST", "/agent/lookup") == 1


# --- artifacts ---------------------------------------------------------------------------


def test_list_artifacts() -> None:
    body = {"namespace_id": "ns", "items": [{"object_id": "img_1a2b3c", "filename": "a.png"}]}
    api = ScriptedAPI().on("GET", "/artifacts/list", httpx.Response(200, json=body))
    listed = api.client().list_artifacts(EXECUTION)
    assert listed.namespace_id == "ns" and [i.object_id for i in listed.items] == ["img_1a2b3c"]
    assert params(api, "/artifacts/list") == [{"execution_id": EXECUTION}]
    for bad in ("", None):
        with pytest.raises(ValueError) as caught:
            api.client().list_artifacts(bad)  # type: ignore[arg-type]
        assert str(caught.value) == f"execution_id must be a non-empty string, got {bad!r}."
    assert len(api.requests) == 1


def body(content_type: str | None, data: bytes = b"artifact bytes") -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return httpx.Response(200, headers=headers, content=data)


@pytest.mark.parametrize(
    ("object_id", "content_type", "name", "mime"),
    [
        ("img_1a2b3c", "image/jpeg", "img_1a2b3c.jpg", "image/jpeg"),
        ("img_1a2b3c", "Image/PNG; charset=binary; q=1", "img_1a2b3c.png", "image/png"),
        ("img_1a2b3c", None, "img_1a2b3c.png", "image/png"),
        ("img_1a2b3c", " ; q=1", "img_1a2b3c.png", "image/png"),
        ("img_1a2b3c", "image/jpeg;charset=binary", "img_1a2b3c.jpg", "image/jpeg"),
        ("img_1a2b3c", "image/jpeg; a=1; b=2", "img_1a2b3c.jpg", "image/jpeg"),
        (
            "recon_1a2b3c",
            "application/octet-stream",
            "recon_1a2b3c.spz",
            "application/octet-stream",
        ),
        # the type of the (safe) extension saved under, never the server's text as sent
        ("doc_1a2b3c", "application/x-unknown", "doc_1a2b3c.pdf", "application/pdf"),
    ],
)
def test_an_artifact_is_saved_under_its_id_and_type(
    tmp_path: Path, object_id: str, content_type: str | None, name: str, mime: str
) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", body(content_type))
    saved = api.client().download_artifact(EXECUTION, object_id, tmp_path)
    path = tmp_path / EXECUTION / name
    assert saved == SavedArtifact(object_id, EXECUTION, path, mime, 14)
    assert path.read_bytes() == b"artifact bytes"
    assert os.listdir(tmp_path / EXECUTION) == [name]
    assert params(api, "/artifacts") == [{"object_id": object_id, "execution_id": EXECUTION}]


def test_the_body_goes_to_a_hidden_file_in_a_private_folder_first(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(os.listdir(tmp_path / EXECUTION))
        return body("image/png")

    api = ScriptedAPI().on("GET", "/artifacts", answer)
    saved = api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    ((partial,),) = seen
    assert partial.startswith(".img_1a2b3c.") and partial.endswith(".part")
    assert os.listdir(tmp_path / EXECUTION) == ["img_1a2b3c.png"] == [saved.path.name]
    assert stat.S_IMODE((tmp_path / EXECUTION).stat().st_mode) == 0o700


def test_a_failed_download_leaves_nothing_behind(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", httpx.Response(404, json={"detail": "gone"}))
    with pytest.raises(APIStatusError):
        api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    assert os.listdir(tmp_path / EXECUTION) == []


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("img_1a2b3c.jpg", "image/jpeg"),
        ("recon_1a2b3c.spz", "application/octet-stream"),
        ("img_1a2b3c.png", "image/png"),
    ],
)
def test_a_file_already_there_is_reused_without_a_request(
    tmp_path: Path, name: str, mime: str
) -> None:
    path = tmp_path / EXECUTION / name
    path.parent.mkdir()
    path.write_bytes(b"12345")
    api = ScriptedAPI()
    object_id = name.split(".")[0]
    saved = api.client().download_artifact(EXECUTION, object_id, tmp_path)
    assert saved == SavedArtifact(object_id, EXECUTION, path, mime, 5)
    assert api.requests == []


def test_a_link_or_folder_under_the_artifacts_name_is_not_reused(tmp_path: Path) -> None:
    folder = tmp_path / EXECUTION
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(b"not the artifact")
    (folder / "img_1a2b3c.png").symlink_to(elsewhere)
    (folder / "img_1a2b3c.jpg").mkdir()
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"))
    saved = api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    assert api.calls("GET", "/artifacts") == 1
    assert saved.path == folder / "img_1a2b3c.png" and not saved.path.is_symlink()
    assert saved.path.read_bytes() == b"artifact bytes"
    assert elsewhere.read_bytes() == b"not the artifact"


def url_artifact(url: str, reply: httpx.Response, path: str) -> ScriptedAPI:
    answer = httpx.Response(200, headers={"content-type": "text/plain"}, text=f" {url}\n")
    return ScriptedAPI().on("GET", "/artifacts", answer).on("GET", path, reply)


@pytest.mark.parametrize(
    ("object_id", "url", "content_type", "name", "mime"),
    [
        (
            "url_1a2b3c",
            "https://cdn.test/out/Clip.MP4",
            "application/octet-stream",
            "url_1a2b3c.mp4",
            "video/mp4",
        ),
        (
            "url_1a2b3c",
            "https://cdn.test/out/clip",
            None,
            "url_1a2b3c.bin",
            "application/octet-stream",
        ),
        ("url_1a2b3c", "https://cdn.test/out/clip", "video/mp4", "url_1a2b3c.mp4", "video/mp4"),
        (
            "url_a_b_cd",
            "https://cdn.test/out/page.pdf",
            "text/html",
            "url_a_b_cd.pdf",
            "application/pdf",
        ),
    ],
)
def test_a_url_artifact_is_fetched_from_its_url_without_the_key(
    tmp_path: Path, object_id: str, url: str, content_type: str | None, name: str, mime: str | None
) -> None:
    path = httpx.URL(url).path
    api = url_artifact(url, body(content_type), path)
    saved = api.client().download_artifact(EXECUTION, object_id, tmp_path)
    assert saved == SavedArtifact(object_id, EXECUTION, tmp_path / EXECUTION / name, mime, 14)
    assert saved.path.read_bytes() == b"artifact bytes"
    asked, fetched = api.requests
    assert asked.url.path == "/v1/artifacts"
    assert dict(asked.url.params) == {"object_id": object_id, "execution_id": EXECUTION}
    assert asked.headers["authorization"] == "Bearer sk-test-SECRET-0123456789"
    assert (fetched.method, str(fetched.url)) == ("GET", url)
    assert "authorization" not in fetched.headers


@pytest.mark.parametrize(
    ("object_id", "message"),
    [
        (
            "img_123",
            "Not an artifact id: 'img_123' (expected <kind>_<6 characters>, kind one of img, "
            "vid, aud, doc, recon, arr, url).",
        ),
        (
            None,
            "Not an artifact id: None (expected <kind>_<6 characters>, kind one of img, "
            "vid, aud, doc, recon, arr, url).",
        ),
    ],
)
def test_an_artifact_id_is_checked_first(tmp_path: Path, object_id: Any, message: str) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError) as caught:
        api.client().download_artifact(EXECUTION, object_id, tmp_path)
    assert str(caught.value) == message
    assert api.requests == [] and os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("execution_id", "message"),
    [
        (5, "execution_id must be a non-empty string, got 5."),
        ("  ", "execution_id must be a non-empty string, got '  '."),
        (".", "Unusable execution id for a folder name: '.'."),
        ("..", "Unusable execution id for a folder name: '..'."),
        ("e" * 201, f"Unusable execution id for a folder name: '{'e' * 201}'."),
    ],
)
def test_an_execution_id_must_make_a_folder_name(
    tmp_path: Path, execution_id: Any, message: str
) -> None:
    api = ScriptedAPI()
    with pytest.raises(ValueError) as caught:
        api.client().download_artifact(execution_id, "img_1a2b3c", tmp_path)
    assert str(caught.value) == message
    assert api.requests == [] and os.listdir(tmp_path) == []


def test_an_execution_id_of_200_characters_is_a_folder(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"))
    saved = api.client().download_artifact("e" * 200, "img_1a2b3c", tmp_path)
    assert saved.path == tmp_path / ("e" * 200) / "img_1a2b3c.png"
    slashed = api.client().download_artifact("a/b", "img_1a2b3c", tmp_path)
    assert slashed.path == tmp_path / "a%2Fb" / "img_1a2b3c.png"  # one folder, escaped


def test_a_chats_artifact_is_fetched_by_its_session(tmp_path: Path) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"))
    client = api.client()
    saved = client.download_artifact(None, "img_1a2b3c", tmp_path, session_id="sess-1")
    assert saved.path == tmp_path / "sess-1" / "img_1a2b3c.png"
    assert params(api, "/artifacts") == [{"object_id": "img_1a2b3c", "session_id": "sess-1"}]
    for owners in [("ex-1", "sess-1"), (None, None)]:
        with pytest.raises(ValueError) as caught:
            client.download_artifact(owners[0], "img_1a2b3c", tmp_path, session_id=owners[1])
        assert str(caught.value) == "Give an execution_id or a session_id= (of a chat), not both."


# --- where an artifact lands: private, never through a planted link ----------------------

LINKED_FOLDER = (
    "{} is not a folder of its own (a symbolic link?); artifacts are not written through "
    "it. Remove it, or choose another artifacts folder."
)


@pytest.fixture(params=["openat", "by-name"])
def landing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a download lands: relative to the open folder (POSIX), and by name (a
    platform without openat, e.g. Windows)."""
    if request.param == "by-name":
        monkeypatch.setattr(_registry, "_AT_FUNCTIONS", False)
    return str(request.param)


@pytest.fixture
def no_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def predictable_names(monkeypatch: pytest.MonkeyPatch) -> str:
    """The hidden file's random part made known, as a neighbour who guessed it: the name
    of ``img_1a2b3c``'s hidden file then."""
    monkeypatch.setattr(os, "urandom", lambda n: bytes(n))
    return ".img_1a2b3c.000000000000.part"


@pytest.mark.usefixtures("no_umask")
def test_artifacts_land_private_whatever_the_umask(tmp_path: Path, landing: str) -> None:
    artifacts = tmp_path / "new" / "artifacts"  # two folders to make
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"), body("application/pdf"))
    client = api.client()
    png = client.download_artifact(EXECUTION, "img_1a2b3c", artifacts)
    pdf = client.download_artifact(EXECUTION, "doc_1a2b3c", artifacts)  # folder exists
    assert sorted(os.listdir(artifacts / EXECUTION)) == ["doc_1a2b3c.pdf", "img_1a2b3c.png"]
    assert png.path.read_bytes() == pdf.path.read_bytes() == b"artifact bytes"
    for folder in (artifacts, artifacts / EXECUTION):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for saved in (png, pdf):
        assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600


def test_the_hidden_file_is_named_after_the_id_with_12_random_hex_digits(
    tmp_path: Path, landing: str
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.extend(os.listdir(tmp_path / EXECUTION))
        return body("image/png")

    ScriptedAPI().on("GET", "/artifacts", answer).client().download_artifact(
        EXECUTION, "img_1a2b3c", tmp_path
    )
    (partial,) = seen
    assert re.fullmatch(r"\.img_1a2b3c\.[0-9a-f]{12}\.part", partial)


def test_a_failed_download_leaves_nothing_behind_either_way(tmp_path: Path, landing: str) -> None:
    api = ScriptedAPI().on("GET", "/artifacts", httpx.Response(404, json={"detail": "gone"}))
    with pytest.raises(NotFoundError):
        api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    assert os.listdir(tmp_path / EXECUTION) == []


def test_a_hidden_file_swept_away_meanwhile_leaves_the_real_error(
    tmp_path: Path, landing: str
) -> None:
    def sweep_then_fail(request: httpx.Request) -> httpx.Response:
        for name in os.listdir(tmp_path / EXECUTION):  # a cleaner of *.part files
            os.unlink(tmp_path / EXECUTION / name)
        return httpx.Response(404, json={"detail": "gone"})

    api = ScriptedAPI().on("GET", "/artifacts", sweep_then_fail)
    with pytest.raises(NotFoundError):
        api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    assert os.listdir(tmp_path / EXECUTION) == []


@pytest.mark.parametrize("planted", ["link", "file"])
def test_an_execution_folder_that_is_a_link_or_a_file_is_refused(
    tmp_path: Path, planted: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "artifacts" / EXECUTION
    folder.parent.mkdir()
    if planted == "link":
        folder.symlink_to(outside, target_is_directory=True)
    else:
        folder.write_bytes(b"a file of the user's")
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"))
    with pytest.raises(ValueError) as caught:
        api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path / "artifacts")
    assert str(caught.value) == LINKED_FOLDER.format(folder)
    assert api.requests == [] and os.listdir(outside) == []
    assert planted == "link" or folder.read_bytes() == b"a file of the user's"


def test_without_openat_an_execution_folder_that_is_a_link_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_registry, "_AT_FUNCTIONS", False)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / EXECUTION).symlink_to(outside, target_is_directory=True)
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"))
    with pytest.raises(ValueError) as caught:
        api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    folder = tmp_path / EXECUTION
    assert str(caught.value) == f"{folder} is not a folder of its own; choose another."
    assert api.requests == [] and os.listdir(outside) == []


@pytest.mark.parametrize("planted", ["link", "file"])
def test_nothing_under_the_hidden_name_is_written_through_or_over(
    tmp_path: Path, landing: str, predictable_names: str, planted: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"the neighbour's")
    hidden = tmp_path / EXECUTION / predictable_names
    hidden.parent.mkdir()
    if planted == "link":
        hidden.symlink_to(outside)
    else:
        hidden.write_bytes(b"the neighbour's")
    api = ScriptedAPI().on("GET", "/artifacts", body("image/png"))
    with pytest.raises(FileExistsError):
        api.client().download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
    assert api.requests == []
    assert outside.read_bytes() == b"the neighbour's"
    assert os.listdir(hidden.parent) == [predictable_names]
    assert planted == "link" or hidden.read_bytes() == b"the neighbour's"


def swap_for_link(folder: Path, moved: Path, outside: Path, reply: httpx.Response) -> Reply:
    """An answer sent after a neighbour moved ``folder`` to ``moved`` and linked its
    name to ``outside``, mid-download."""

    def answer(request: httpx.Request) -> httpx.Response:
        folder.rename(moved)
        folder.symlink_to(outside, target_is_directory=True)
        return reply

    return answer


@pytest.mark.parametrize("status", [200, 404])
def test_a_folder_swapped_for_a_link_mid_download_sends_nothing_outside(
    tmp_path: Path, status: int
) -> None:
    folder, moved, outside = tmp_path / EXECUTION, tmp_path / "moved", tmp_path / "outside"
    outside.mkdir()
    reply = body("image/png") if status == 200 else httpx.Response(404, json={"detail": "x"})
    api = ScriptedAPI().on("GET", "/artifacts", swap_for_link(folder, moved, outside, reply))
    client = api.client()
    if status == 200:  # the file lands (and is renamed) in the folder it was opened in
        client.download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
        assert os.listdir(moved) == ["img_1a2b3c.png"]
    else:  # and a failed download is cleaned up there
        with pytest.raises(NotFoundError):
            client.download_artifact(EXECUTION, "img_1a2b3c", tmp_path)
        assert os.listdir(moved) == []
    assert os.listdir(outside) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_downloads_leave_no_descriptor_open(tmp_path: Path, landing: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:  # images only
        if request.url.params["object_id"].startswith("img_"):
            return body("image/png")
        return httpx.Response(404, json={"detail": "gone"})

    client = ScriptedAPI().on("GET", "/artifacts", answer).client()
    client.download_artifact(EXECUTION, "img_1a2b3c", tmp_path)  # warms the client up
    before = len(os.listdir("/proc/self/fd"))
    for object_id in ("doc_1a2b3c", "doc_2a2b3c", "img_2a2b3c", "img_3a2b3c"):
        with contextlib.suppress(NotFoundError):
            client.download_artifact(EXECUTION, object_id, tmp_path)
    assert sorted(os.listdir(tmp_path / EXECUTION)) == [
        "img_1a2b3c.png",
        "img_2a2b3c.png",
        "img_3a2b3c.png",
    ]
    assert len(os.listdir("/proc/self/fd")) == before
