"""``VLMRunLoader`` word for word, from its mutation run: what each argument sends, its
defaults, the errors for bad sources (with their advice), and what a stopped load
records."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from langchain_vlmrun import ExecuteOptions, PollSchedule, VLMRunLoader
from tests.mock_api import ScriptedAPI, json_body, one_execution

URL = "https://files.example.com/report.pdf"


class Total(BaseModel):
    total: float


def api() -> ScriptedAPI:
    return one_execution({"total": 12.5}, credits_used=1)


def loader(service: ScriptedAPI, sources: Any = URL, **options: Any) -> VLMRunLoader:
    return VLMRunLoader(
        sources,
        client=service.client(poll=PollSchedule.immediate()),
        async_client=service.async_client(poll=PollSchedule.immediate()),
        **options,
    )


@pytest.mark.parametrize("how", ["load", "aload"])
def test_every_argument_of_the_agent_reaches_the_execute_request(how: str) -> None:
    service = api()
    options = ExecuteOptions(model="vlmrun-orion-1:fast")
    load = loader(
        service,
        prompt="Total it.",
        response_model=Total,
        inputs={"lang": "en"},
        config={"detail": "hi"},
        options=options,
        cache=False,
    )
    docs = load.load() if how == "load" else asyncio.run(load.aload())
    assert [d.page_content for d in docs] == ["total: 12.5"]
    body = json_body(service.first("POST", "/agent/execute"))
    assert body["config"]["prompt"] == "Total it."
    assert body["config"]["json_schema"]["properties"]["total"]["type"] == "number"
    assert body["config"]["detail"] == "hi" and body["inputs"]["lang"] == "en"
    assert body["model"] == "vlmrun-orion-1:fast"
    assert load.failures == [] and [u.credits_used for u in load.usage] == [1]


def test_a_json_schema_and_segments_reach_the_request() -> None:
    service = api()
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    loader(service, json_schema=schema, segment_seconds=30.0, cache=False).load()
    body = json_body(service.first("POST", "/agent/execute"))
    assert body["config"]["json_schema"] == schema


def test_the_defaults_of_a_loader() -> None:
    load = loader(api())
    assert (load.max_concurrency, load.show_progress, load.on_error) == (8, False, "raise")
    assert load.failures == [] and load.usage == []
    assert repr(load) == (
        "VLMRunLoader(sources=1, agent_name=None, mode='page', max_concurrency=8, on_error='raise')"
    )


def test_a_cache_given_as_false_is_none_and_a_wait_timeout_reaches_the_spec() -> None:
    load = loader(api(), cache=False, wait_timeout=12)
    assert load.cache is None and load.spec.wait_timeout == 12


def test_sources_and_file_path_together_are_refused() -> None:
    with pytest.raises(TypeError) as refused:
        VLMRunLoader([URL], file_path=URL, api_key="k")
    assert str(refused.value) == "Pass the files as sources or as file_path, not both."
    assert VLMRunLoader(file_path=URL, api_key="k").sources == [URL]


@pytest.mark.parametrize("wrong", [0, 2.5, "8"])
def test_max_concurrency_is_a_whole_number_of_at_least_one(wrong: Any) -> None:
    with pytest.raises((TypeError, ValueError)) as refused:
        VLMRunLoader(URL, api_key="k", max_concurrency=wrong)
    assert str(refused.value).startswith("max_concurrency must be an integer >= 1")


def test_a_source_of_the_wrong_kind_is_refused_with_the_advice() -> None:
    with pytest.raises(TypeError) as refused:
        VLMRunLoader(b"%PDF-1.4", api_key="k")  # type: ignore[arg-type]
    assert str(refused.value).endswith(
        "Pass a path, directory, glob or http(s) URL (str or pathlib.Path), or a list of "
        "them; for bytes in memory use VLMRunParser with Blob.from_data(...)."
    )


def test_a_stopped_load_records_no_failure_for_sources_it_did_not_start(
    tmp_path: Path,
) -> None:
    service = api()
    service.on("POST", "/files", httpx.Response(201, json={"id": "file-1", "filename": "a.pdf"}))
    paths = []
    for i in range(4):
        path = tmp_path / f"d{i}.pdf"
        path.write_bytes(b"%PDF-1.4\n% " + bytes(str(i), "ascii") + b"\n")
        paths.append(str(path))
    load = loader(service, paths, max_concurrency=1, mode="single", cache=False)
    documents = load.lazy_load()
    first = next(documents)
    documents.close()  # type: ignore[attr-defined]
    assert first.metadata["source"] == paths[0]
    assert all(failure.source in paths for failure in load.failures)
