"""``make live`` (tools/live_check.py): skips cleanly without a key; with one, runs every
example, checks each response's shape, and re-records cassettes that replay offline.

"Live" here is the loopback emulator (tests/emulator) standing in for the service:
``VLMRUN_BASE_URL`` points the examples at it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import tests.cassette_config
from tests.cassette_config import COMPOSED_MARKER, UPLOAD_BODY_PLACEHOLDER
from tests.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "live_check.py"
KEY = "emulator-key-not-a-secret"


def without_key() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"VLMRUN_API_KEY", "VLMRUN_RECORD"}}


def load_live_check() -> Any:
    spec = importlib.util.spec_from_file_location("live_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def live(emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator as "the live service": key and base URL set as a user would."""
    emu = emulator_factory(queue_time=0.0, processing_time=0.02)
    monkeypatch.setenv("VLMRUN_API_KEY", KEY)
    monkeypatch.setenv("VLMRUN_BASE_URL", emu.base_url)
    monkeypatch.delenv("VLMRUN_RECORD", raising=False)
    return emu


def test_script_without_a_key_says_so_and_exits_0() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=without_key(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "VLMRUN_API_KEY is not set, so nothing was run" in done.stdout
    assert "make live" in done.stdout and done.stderr == ""


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_live_with_an_empty_key_skips_without_installing() -> None:
    done = subprocess.run(
        ["make", "-s", "live", f"PYTHON={sys.executable}", "VENV=/nonexistent-venv"],
        cwd=ROOT,
        env={**without_key(), "VLMRUN_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "VLMRUN_API_KEY is not set, so nothing was run" in done.stdout
    assert not Path("/nonexistent-venv").exists()  # nothing was installed


def test_every_example_runs_live_and_every_response_has_its_mediums_shape(
    live: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_live_check().main([]) == 0
    out = capsys.readouterr().out
    summary = out.split("===== make live =====")[1]
    for example, checked in {
        "document_pages.py": "report.pdf: document -> pages",
        "image_text.py": "receipt.png: image -> text",
        "audio_segments.py": "meeting.mp3: audio -> segments",
        "video_segments.py": "demo.mp4: video -> segments",
        "rag_ingestion.py": "meeting.mp3: audio -> segments",
        "agent_tool.py": "receipt.png: image -> text",
        "quickstart.py": "a validated Invoice",
        "structured_extraction.py": "ran without error",
    }.items():
        (line,) = [line for line in summary.splitlines() if example in line]
        assert line.startswith("ok") and checked in line
    count = len(list((ROOT / "examples").glob("[a-z]*.py")))
    assert f"{count} of {count} examples ok" in summary


def test_a_response_of_another_shape_fails_the_check(
    live: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    live.config.response_factory = lambda body, filename: {"segments": [{"start": 0, "text": "x"}]}
    assert load_live_check().main(["audio_segments"]) == 1
    summary = capsys.readouterr().out.split("===== make live =====")[1]
    assert "FAIL  audio_segments.py" in summary
    assert "segments/0: 'end' is a required property" in summary
    assert "rendered as 'json', not 'segments'" in summary


def test_recording_replaces_the_composed_cassette_and_replays_offline(
    live: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tests.cassette_config, "CASSETTES", tmp_path)
    shutil.copy(ROOT / "cassettes" / "audio_example.yaml", tmp_path)
    monkeypatch.setenv("VLMRUN_RECORD", "1")
    live_check = load_live_check()

    assert live_check.main(["audio_segments"]) == 0
    recorded = (tmp_path / "audio_example.yaml").read_text()
    assert not recorded.startswith(COMPOSED_MARKER)  # recorded, not composed
    assert KEY not in recorded and "REDACTED" in recorded  # Authorization scrubbed
    (upload,) = [
        i["request"]["body"]
        for i in yaml.safe_load(recorded)["interactions"]
        if i["request"]["uri"].endswith("/files?purpose=assistants")
    ]
    assert 'filename="meeting.mp3"' in upload  # the part headers are kept
    assert UPLOAD_BODY_PLACEHOLDER.decode() in upload and len(upload) < 1000  # not the bytes
    assert "/agent/execute" in recorded
    live_out = capsys.readouterr().out.split("===== make live =====")[0].rstrip()

    live.stop()  # offline now: a request that reached the network would fail
    monkeypatch.delenv("VLMRUN_API_KEY")
    monkeypatch.delenv("VLMRUN_RECORD")
    example = live_check._load(ROOT / "examples" / "audio_segments.py")
    replayed = example.main()
    replay_out = capsys.readouterr().out.rstrip()
    assert "replaying cassettes/audio_example.yaml (recorded live)" in replay_out
    assert len(replayed) >= 2 and all(d.metadata["response_type"] == "segments" for d in replayed)
    # the same Documents as the recording run printed
    assert replay_out.split("segments, execution")[1] == live_out.split("segments, execution")[1]
