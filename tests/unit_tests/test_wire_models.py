"""What the wire models make of the server's answers, as a user reads them.

Timestamps are instants (a naive one is UTC, an offset is kept); a failed execution
explains itself from every field the server may use; agent names split into base and
version; presigned URLs stay out of reprs. Hostile bodies (unknown fields, nulls, wrong
types, huge values) are read tolerantly or refused with pydantic's ``ValidationError``,
which the client turns into an ``UnreadableResponseError``: never another exception.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_vlmrun import AgentExecution, ExecutionFailedError, UnreadableResponseError
from langchain_vlmrun.core.models import (
    AgentCreated,
    AgentInfo,
    ArtifactItem,
    ArtifactList,
    CreditUsage,
    FileResponse,
    PresignedUpload,
)
from tests.mock_api import ScriptedAPI

# --- timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "offset"),
    [
        ("2026-07-20T18:02:11", timedelta(0)),  # naive: UTC
        ("2026-07-20T18:02:11Z", timedelta(0)),
        ("2026-07-20T20:02:11+02:00", timedelta(hours=2)),  # an offset is kept
        ("2026-07-20T13:02:11-05:00", timedelta(hours=-5)),
    ],
)
def test_a_timestamp_is_the_instant_the_server_meant(sent: str, offset: timedelta) -> None:
    instant = datetime(2026, 7, 20, 18, 2, 11, tzinfo=timezone.utc)
    for model, body in [
        (AgentExecution, {"id": "e", "created_at": sent, "completed_at": sent}),
        (FileResponse, {"created_at": sent}),
        (PresignedUpload, {"id": "p", "url": "https://s.test/u", "created_at": sent}),
        (AgentInfo, {"id": "a", "name": "n", "created_at": sent, "updated_at": sent}),
        (AgentCreated, {"id": "a", "name": "n", "created_at": sent, "updated_at": sent}),
    ]:
        parsed = model.model_validate(body)
        for field in ("created_at", "completed_at", "updated_at"):
            if field not in model.model_fields:
                continue
            value = getattr(parsed, field)
            assert value == instant, (model, field)
            assert value.utcoffset() == offset, (model, field)


# --- execution status and failure -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "terminal", "failed"),
    [
        ("pending", False, False),
        ("enqueued", False, False),
        ("running", False, False),
        ("warming-up", False, False),  # unknown statuses are accepted, not terminal
        ("completed", True, False),
        ("failed", True, True),
        ("cancelled", True, True),
        ("Completed", False, False),  # statuses are compared as sent
    ],
)
def test_terminal_and_failed_statuses(status: str, terminal: bool, failed: bool) -> None:
    execution = AgentExecution(id="e", status=status)
    assert (execution.is_terminal, execution.is_failed) == (terminal, failed)


def test_an_execution_with_only_an_id_is_pending_with_empty_usage() -> None:
    execution = AgentExecution.model_validate({"id": "e"})
    assert execution.status == "pending" and not execution.is_terminal
    assert execution.usage == CreditUsage() and execution.response is None
    assert execution.name is None and execution.execution_mode is None


def failed(response: Any = None, message: str | None = None) -> AgentExecution:
    return AgentExecution.model_validate(
        {"id": "ex-9", "status": "failed", "response": response, "usage": {"message": message}}
    )


@pytest.mark.parametrize(
    ("response", "message", "reason"),
    [
        (None, None, "the server gave no reason"),
        ({}, None, "the server gave no reason"),
        ("a plain string response", None, "the server gave no reason"),
        (["error"], None, "the server gave no reason"),
        ({"error": "", "detail": None, "message": 0}, "", "the server gave no reason"),
        (None, "Out of memory", "Out of memory"),
        ({"error": "bad page"}, None, "bad page"),
        ({"detail": "unsupported codec"}, None, "unsupported codec"),
        ({"message": "timed out"}, None, "timed out"),
        ({"Error": "x", "DETAIL": "y", "MESSAGE": "z"}, None, "the server gave no reason"),
        ({"error": {"code": 7}}, None, "{'code': 7}"),  # not a str: its repr
        ({"detail": [{"loc": ["file"]}]}, None, "[{'loc': ['file']}]"),
        ({"message": 42}, None, "42"),
        (
            {"message": "c", "detail": "b", "error": "a", "other": "ignored"},
            "usage note",
            "usage note; a; b; c",
        ),
    ],
)
def test_failure_message_gathers_what_the_server_said(
    response: Any, message: str | None, reason: str
) -> None:
    execution = failed(response, message)
    assert execution.failure_message() == reason
    error = ExecutionFailedError(execution)
    assert error.server_message == reason
    assert str(error) == (
        f"VLM Run execution ex-9 failed: {reason} (check the input file and the agent's "
        "instructions; credits used: 0)"
    )


# --- agents ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "base", "version"),
    [
        ("invoice-reader:v2", "invoice-reader", "v2"),
        ("invoice-reader", "invoice-reader", None),
        ("a:b:c", "a", "b:c"),  # only the first ':' separates the version
        ("a:", "a", ""),
    ],
)
def test_agent_name_splits_into_base_and_version(name: str, base: str, version: str | None) -> None:
    agent = AgentInfo.model_validate({"id": "ag-1", "name": name})
    assert (agent.base_name, agent.version) == (base, version)


def test_agent_bodies_keep_their_schema_and_fields() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    info = AgentInfo.model_validate(
        {"id": "ag-1", "name": "n:v1", "json_schema": schema, "tier": "gold"}
    )
    assert info.json_schema == schema and info.json_sample is None
    assert info.model_extra == {"tier": "gold"}
    created = AgentCreated.model_validate({"id": "ag-2", "name": "n:v1", "status": "pending"})
    assert created.status == "pending" and created.created_at is None


# --- files, uploads, artifacts ------------------------------------------------------


def test_defaults_of_files_and_uploads() -> None:
    assert FileResponse().object == "file"
    assert FileResponse.model_validate({"object": None}).object is None
    upload = PresignedUpload.model_validate({"id": "p", "url": "https://s.test/put"})
    assert upload.upload_method == "PUT" and upload.public_url is None
    assert ArtifactList().items == [] and ArtifactList().namespace_id is None


def test_presigned_urls_stay_out_of_reprs() -> None:
    upload = PresignedUpload(
        id="p-1",
        url="https://s.test/put?X-Amz-Signature=UPSIG",
        public_url="https://s.test/get?X-Amz-Signature=GETSIG",
        filename="a.pdf",
    )
    shown = repr(upload) + str(upload)
    assert "p-1" in shown and "a.pdf" in shown
    assert "UPSIG" not in shown and "GETSIG" not in shown
    stored = FileResponse(id="f-1", public_url="https://s.test/get?sig=GETSIG")
    assert "GETSIG" not in repr(stored) + str(stored) and "f-1" in repr(stored)
    # the URL is still there for the code that needs it
    assert upload.url.endswith("UPSIG") and stored.public_url is not None


def test_artifact_list_reads_its_items() -> None:
    listed = ArtifactList.model_validate(
        {
            "namespace_id": "ns-1",
            "items": [
                {"object_id": "o-1", "filename": "page-1.png", "source": "store"},
                {"object_id": "o-2", "size": 12},
            ],
        }
    )
    assert [item.object_id for item in listed.items] == ["o-1", "o-2"]
    assert listed.items[0] == ArtifactItem(object_id="o-1", filename="page-1.png", source="store")
    assert listed.items[1].model_extra == {"size": 12} and listed.items[1].source is None


def test_huge_and_numeric_string_values_are_read() -> None:
    huge = 10**30
    assert FileResponse.model_validate({"bytes": huge}).bytes == huge
    assert FileResponse.model_validate({"bytes": "12"}).bytes == 12
    usage = CreditUsage.model_validate({"credits_used": 1e308, "steps": huge})
    assert usage.credits_used == 1e308 and usage.steps == huge
    assert CreditUsage.model_validate({"credits_used": 3}).credits_used == 3


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (AgentExecution, {"id": "e", "usage": None}),
        (AgentExecution, {"id": "e", "status": None}),
        (AgentExecution, {"id": None}),
        (AgentExecution, {}),
        (FileResponse, {"bytes": 1.5}),
        (FileResponse, {"bytes": "many"}),
        (PresignedUpload, {"id": "p"}),  # no URL to upload to
        (AgentInfo, {"id": "a"}),
        (ArtifactList, {"items": [{"filename": "no-id.png"}]}),
        (ArtifactList, {"items": None}),
        (AgentExecution, {"id": "e", "created_at": "yesterday"}),
    ],
)
def test_unusable_bodies_are_a_validation_error(model: type[pydantic.BaseModel], body: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        model.model_validate(body)


# --- hostile bodies -------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

MINIMAL: list[tuple[type[pydantic.BaseModel], dict[str, Any]]] = [
    (AgentExecution, {"id": "e"}),
    (FileResponse, {}),
    (PresignedUpload, {"id": "p", "url": "https://s.test/u"}),
    (CreditUsage, {}),
    (AgentInfo, {"id": "a", "name": "n:v1"}),
    (AgentCreated, {"id": "a", "name": "n:v1"}),
    (ArtifactItem, {"object_id": "o"}),
    (ArtifactList, {}),
]


@given(
    which=st.sampled_from(MINIMAL),
    extra=st.dictionaries(st.from_regex(r"zz_[a-z]{1,8}", fullmatch=True), json_values),
)
def test_unknown_fields_are_kept_as_sent(
    which: tuple[type[pydantic.BaseModel], dict[str, Any]], extra: dict[str, Any]
) -> None:
    model, minimal = which
    parsed = model.model_validate({**minimal, **extra})
    assert parsed.model_extra == extra


@given(which=st.sampled_from(MINIMAL), data=st.data())
def test_any_value_in_a_known_field_is_read_or_refused_as_invalid(
    which: tuple[type[pydantic.BaseModel], dict[str, Any]], data: st.DataObject
) -> None:
    model, minimal = which
    field = data.draw(st.sampled_from(sorted(model.model_fields)))
    value = data.draw(json_values)
    try:
        parsed = model.model_validate({**minimal, field: value})
    except pydantic.ValidationError:
        return
    kept = getattr(parsed, field)
    if isinstance(value, str) and model.model_fields[field].annotation in (str, str | None):
        assert kept == value  # strings (ids, statuses, names) are kept as sent
    if model is AgentExecution and field == "response":
        assert kept == value  # the response is handed over untouched
    if isinstance(parsed, AgentExecution):
        assert isinstance(parsed.failure_message(), str)


@settings(max_examples=30)
@given(field=st.sampled_from(["id", "status", "usage", "created_at"]), value=json_values)
def test_an_unreadable_execution_is_a_typed_error_of_the_client(field: str, value: Any) -> None:
    body = {"id": "ex-1", "status": "running", "usage": {}, field: value}
    api = ScriptedAPI().on("GET", "/agent/executions/ex-1", httpx.Response(200, json=body))
    with api.client() as client:
        try:
            execution = client.get_execution("ex-1")
        except UnreadableResponseError as error:
            assert str(error).startswith(
                "Unreadable response from GET /v1/agent/executions/ex-1 (HTTP 200): "
            )
            assert "sk-test-SECRET" not in str(error)
        else:
            assert execution.id == (value if field == "id" else "ex-1")
