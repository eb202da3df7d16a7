"""Execution → Documents mapping and Document ids (pure, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from langchain_vlmrun import AgentExecution, ResponseValidationError
from langchain_vlmrun.documents._documents import (
    AgentSpec,
    SourceInfo,
    document_id,
    execution_to_documents,
    json_to_text,
)
from langchain_vlmrun.documents._rendering import PAGE_SEPARATOR
from tests.compose_loader_cassettes import CHART_STRUCTURED, REPORT_PAGES

INFO = SourceInfo(
    source="examples/data/report.pdf",
    content_hash="0123456789abcdef0123456789abcdef",
    mime_type="application/pdf",
    file_id="file-1",
)


#: The execution's ``name`` as the server reports it (a test-only value).
SERVER_NAME = "test-fixture-server-picked:v1"


def done(response: Any, credits: float | None = 8) -> AgentExecution:
    return AgentExecution.model_validate(
        {
            "id": "ex-1",
            "name": SERVER_NAME,
            "status": "completed",
            "response": response,
            "usage": {"credits_used": credits},
        }
    )


class Bar(BaseModel):
    label: str
    value: int


class Chart(BaseModel):
    title: str
    bars: list[Bar]


def test_pages_become_one_document_per_page_with_tables_and_figures_rendered() -> None:
    docs = execution_to_documents(INFO, done(REPORT_PAGES), AgentSpec(agent_name="md:v1"))
    assert [d.metadata["page"] for d in docs] == [0, 1]
    first, second = docs
    assert "| Region | Revenue (USD m) |" in first.page_content
    assert "| EMEA | 41.2 |" in first.page_content
    assert "**Revenue by region**" in first.page_content
    assert "<Table" not in first.page_content
    assert "Figure 1: Delivery times" in second.page_content
    assert "fell from 5.1 to 3.2 days" in second.page_content
    assert "<Figure" not in second.page_content
    assert first.metadata == {
        "source": "examples/data/report.pdf",
        "page": 0,
        "total_pages": 2,
        "execution_id": "ex-1",
        "agent": "md:v1",
        "file_id": "file-1",
        "credits_used": 8,
        "mime_type": "application/pdf",
        "response_type": "pages",
    }


def test_single_mode_joins_pages_with_the_separator() -> None:
    spec = AgentSpec(agent_name="md:v1", mode="single")
    (doc,) = execution_to_documents(INFO, done(REPORT_PAGES), spec)
    assert PAGE_SEPARATOR in doc.page_content
    assert doc.page_content.index("Quarterly") < doc.page_content.index("Outlook")
    assert doc.metadata["total_pages"] == 2
    assert "page" not in doc.metadata


def test_structured_response_with_model_is_readable_and_kept_in_metadata() -> None:
    spec = AgentSpec(agent_name="chart:v1", response_model=Chart)
    (doc,) = execution_to_documents(INFO, done(CHART_STRUCTURED), spec)
    assert doc.metadata["structured"] == Chart.model_validate(CHART_STRUCTURED).model_dump(
        mode="json"
    )
    assert doc.metadata["response_type"] == "json"
    assert "title: Units shipped per quarter" in doc.page_content
    assert "- label: Q3\n    value: 2400" in doc.page_content
    json.dumps(doc.metadata)  # JSON-serialisable: survives vector-store round trips


def test_structured_response_without_model_uses_the_raw_json() -> None:
    spec = AgentSpec(prompt="Extract the chart", json_schema={"type": "object"})
    (doc,) = execution_to_documents(INFO, done(CHART_STRUCTURED), spec)
    assert doc.metadata["structured"] == CHART_STRUCTURED
    assert doc.metadata["agent"] == SERVER_NAME  # the agent the server picked


def test_response_not_matching_the_model_raises() -> None:
    spec = AgentSpec(agent_name="chart:v1", response_model=Chart)
    with pytest.raises(ResponseValidationError):
        execution_to_documents(INFO, done({"title": 3}), spec)


def test_text_response_is_one_document() -> None:
    (doc,) = execution_to_documents(INFO, done("plain words"), AgentSpec(agent_name="a:v1"))
    assert doc.page_content == "plain words"
    assert doc.metadata["response_type"] == "text"


def test_empty_response_gives_no_document_and_none_values_are_dropped() -> None:
    assert execution_to_documents(INFO, done(None), AgentSpec(agent_name="a:v1")) == []
    info = SourceInfo(source="https://x.test/a.png", content_hash="url:abc")
    (doc,) = execution_to_documents(info, done("t", credits=None), AgentSpec(agent_name="a:v1"))
    assert None not in doc.metadata.values()
    assert "file_id" not in doc.metadata


def test_ids_are_stable_and_depend_on_content_page_and_agent() -> None:
    spec = AgentSpec(agent_name="md:v1")
    ids = [d.id for d in execution_to_documents(INFO, done(REPORT_PAGES), spec)]
    again = [d.id for d in execution_to_documents(INFO, done(REPORT_PAGES, 99), spec)]
    assert ids == again and len(set(ids)) == 2
    other_agent = execution_to_documents(INFO, done(REPORT_PAGES), AgentSpec(agent_name="x:v1"))
    other_schema = execution_to_documents(
        INFO, done(REPORT_PAGES), AgentSpec(agent_name="md:v1", json_schema={"type": "object"})
    )
    other_prompt = execution_to_documents(
        INFO, done(REPORT_PAGES), AgentSpec(agent_name="md:v1", prompt="tables only")
    )
    single = execution_to_documents(INFO, done(REPORT_PAGES), AgentSpec("md:v1", mode="single"))
    for docs in (other_agent, other_schema, other_prompt, single):
        assert not {d.id for d in docs} & set(ids)
    assert document_id("abc", 0, "k") == document_id("abc", 0, "k") != document_id("abd", 0, "k")


def test_spec_validation() -> None:
    assert AgentSpec().uses_defaults  # neither agent nor prompt: built-in defaults
    assert AgentSpec().for_medium("audio").default is not None
    with pytest.raises(ValueError, match="mode"):
        AgentSpec(agent_name="a:v1", mode="element")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        AgentSpec(agent_name="a:v1", response_model=Chart, json_schema={"type": "object"})


def test_json_to_text_outline() -> None:
    text = json_to_text({"a": 1, "b": {"c": None, "d": [1, "x"]}, "e": [], "f": "two\nlines"})
    assert text == 'a: 1\nb:\n  c: null\n  d:\n    - 1\n    - x\ne: []\nf: "two\\nlines"'
