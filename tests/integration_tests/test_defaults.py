"""A fresh account, every medium: no agent, no prompt, built-in defaults per file.

The emulator answers each default schema with realistic content (pages per document,
ordered timed segments for audio and video, text + description for images).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from langchain_vlmrun import ExecuteOptions, SkillReference, VLMRunLoader
from langchain_vlmrun.documents.builtin import DEFAULTS_VERSION, default_for
from tests.emulator import Emulator
from tests.emulator.content import Inputs, schema_content

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
MEDIA = {
    "report.pdf": "document",
    "receipt.png": "image",
    "meeting.mp3": "audio",
    "demo.mp4": "video",
}


@pytest.fixture
def media(tmp_path: Path) -> list[str]:
    paths = []
    for name in MEDIA:
        shutil.copy(DATA / name, tmp_path / name)
        paths.append(str(tmp_path / name))
    return paths


def answer(body: dict[str, Any], filename: str | None) -> Any:
    """What the emulator answers by itself: content following the request's schema."""
    return schema_content(body["config"]["json_schema"], Inputs([filename] if filename else []))


def _loader(emu: Emulator, paths: list[str], **kwargs: Any) -> VLMRunLoader:
    return VLMRunLoader(paths, api_key="k", base_url=emu.base_url, **kwargs)


def _by_source(docs: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for doc in docs:
        grouped.setdefault(Path(doc.metadata["source"]).name, []).append(doc)
    return grouped


def test_every_medium_without_agent_or_prompt(emulator_factory: Any, media: list[str]) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.02, pages_per_file=3)
    docs = _loader(emu, media).load()
    grouped = _by_source(docs)

    pages = grouped["report.pdf"]
    assert [d.metadata["page"] for d in pages] == [0, 1, 2]
    assert {d.metadata["total_pages"] for d in pages} == {3}
    assert all(d.page_content.strip() for d in pages)

    (image,) = grouped["receipt.png"]
    assert image.page_content.strip() and image.metadata["response_type"] == "text"

    for name in ("meeting.mp3", "demo.mp4"):
        segments = grouped[name]
        assert len(segments) >= 2
        starts = [d.metadata["start_time"] for d in segments]
        assert starts == sorted(starts)
        assert all(d.metadata["end_time"] >= d.metadata["start_time"] for d in segments)
        assert all(d.metadata["response_type"] == "segments" for d in segments)
    assert any("[shown]" in d.page_content for d in grouped["demo.mp4"])  # what is shown


def test_defaults_reach_the_wire_per_medium(emulator_factory: Any, media: list[str]) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.02)
    seen: list[dict[str, Any]] = []
    original = emu.config.response_factory

    def record(body: dict[str, Any], filename: str | None) -> dict[str, Any]:
        seen.append(
            {"filename": filename, "config": body.get("config") or {}, "name": body.get("name")}
        )
        assert original is None
        return answer(body, filename)

    emu.config.response_factory = record
    _loader(emu, media).load()
    by_file = {s["filename"]: s for s in seen}
    for name, medium in MEDIA.items():
        sent = next(v for k, v in by_file.items() if k and k.endswith(Path(name).suffix))
        expected = default_for(medium)  # type: ignore[arg-type]
        assert sent["name"] is None
        assert sent["config"]["prompt"] == expected.prompt
        assert sent["config"]["json_schema"]["$comment"].endswith(DEFAULTS_VERSION)


def test_segments_merge_into_windows(emulator_factory: Any, media: list[str]) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.02, segments_per_file=6)
    audio = [p for p in media if p.endswith(".mp3")]
    each = _loader(emu, audio).load()
    windows = _loader(emu, audio, segment_seconds=1e6).load()  # one window for all
    assert len(each) == 6 and len(windows) == 1
    assert windows[0].metadata["start_time"] == each[0].metadata["start_time"]
    assert windows[0].metadata["end_time"] == each[-1].metadata["end_time"]
    assert {d.id for d in windows}.isdisjoint({d.id for d in each})  # ids know the window


def test_a_users_prompt_replaces_the_default(emulator_factory: Any, media: list[str]) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.02)
    docs = asyncio.run(_loader(emu, media[:1], prompt="Summarise it").aload())
    assert docs and all(d.metadata.get("response_type") != "segments" for d in docs)


def test_execute_options_reach_the_wire(emulator_factory: Any, media: list[str]) -> None:
    emu = emulator_factory(queue_time=0.0, processing_time=0.02)
    bodies: list[dict[str, Any]] = []

    def record(body: dict[str, Any], filename: str | None) -> dict[str, Any]:
        bodies.append(body)
        return answer(body, filename)

    emu.config.response_factory = record
    options = ExecuteOptions(
        model="vlmrun-orion-1:fast",
        skills=[SkillReference(skill_id="invoices", skill_version="2")],
        service_tier="flex",
        execution_mode="agent",
        orchestration_mode=True,
        toolsets=["web"],
        environment="prod",
        session_id="s-1",
    )
    docs = _loader(emu, media[:1], options=options).load()
    assert [d.metadata["page"] for d in docs] == [0, 1]
    (body,) = bodies
    assert body["model"] == "vlmrun-orion-1:fast" and body["toolsets"] == ["web"]
    assert body["config"]["skills"] == [
        {"type": "skill_reference", "skill_id": "invoices", "skill_version": "2"}
    ]
    assert body["config"]["service_tier"] == "flex"
    assert body["config"]["mode"] == "agent" and body["config"]["orchestration_mode"] is True
    assert body["metadata"] == {"allow_training": False, "environment": "prod", "session_id": "s-1"}


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_every_medium.yaml")
def test_every_medium_offline_on_the_cassette(cassette_client_kwargs: dict[str, Any]) -> None:
    """The same four files, no agent and no prompt, replayed from a composed cassette."""
    paths = [str(DATA / name) for name in MEDIA]
    loader = VLMRunLoader(paths, client_kwargs=cassette_client_kwargs, max_concurrency=1)
    grouped = _by_source(loader.load())
    assert [d.metadata["page"] for d in grouped["report.pdf"]] == [0, 1]
    (image,) = grouped["receipt.png"]
    assert image.metadata["response_type"] == "text" and image.page_content
    for name in ("meeting.mp3", "demo.mp4"):
        times = [(d.metadata["start_time"], d.metadata["end_time"]) for d in grouped[name]]
        assert len(times) >= 2 and times == sorted(times)
    assert any("Denver" in d.page_content for d in grouped["meeting.mp3"])
    assert any("[shown]" in d.page_content for d in grouped["demo.mp4"])


def test_a_schema_is_meta_checked_once_not_once_per_document(
    emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON-Schema meta-check costs ~1.5 ms: with the defaults it ran ~4 times per
    file (3x a prompt's CPU). It runs once per distinct schema, whatever the count."""
    import jsonschema

    from langchain_vlmrun.core import _validation

    _validation._canonical_schema_problem.cache_clear()
    checked: list[int] = []
    real = jsonschema.Draft202012Validator.check_schema.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, schema: Any, *args: Any, **kwargs: Any) -> None:
        checked.append(1)
        return real(cls, schema, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", classmethod(counting))
    paths = []
    for i in range(12):
        path = tmp_path / f"scan-{i}.pdf"
        path.write_bytes(f"%PDF-1.4 scan {i}".encode())
        paths.append(str(path))
    emu = emulator_factory(queue_time=0.0, processing_time=0.0)
    docs = _loader(emu, paths, max_concurrency=4).load()
    assert len({d.metadata["source"] for d in docs}) == 12
    assert len(checked) == 1  # the document default's schema, once
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        _loader(emu, paths, prompt="p", json_schema={"type": "strnig"})
    with pytest.raises(ValueError, match="not a valid JSON Schema"):  # remembered as invalid
        _loader(emu, paths, prompt="p", json_schema={"type": "strnig"})
    assert len(checked) == 2
