"""The examples run offline on their cassettes, as `make demo` and `make examples` promise.

Each runs as a user would (a subprocess, no key). The structure of what it prints is
checked always; the exact content only while its cassette is the composed one (after
``make live RECORD=1`` the cassettes hold what the service really said).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cassette_config import is_composed
from tests.compose_media_cassettes import EXECUTIONS, MEETING_MP3, RAG_EXECUTIONS, REPORT_PDF

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: ``[m:ss.s-m:ss.s]``: a segment's start and end.
SPAN = r"\[(\d+):(\d\d\.\d)-(\d+):(\d\d\.\d)\]"


def run_example(name: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VLMRUN_API_KEY", "VLMRUN_BASE_URL", "VLMRUN_RECORD"}
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[offline]" in done.stdout  # says it replays, and from which cassette
    return done.stdout


def spans(text: str) -> list[tuple[float, float]]:
    return [
        (int(m1) * 60 + float(s1), int(m2) * 60 + float(s2))
        for m1, s1, m2, s2 in re.findall(SPAN, text)
    ]


def test_quickstart_runs_offline() -> None:
    out = run_example("quickstart.py")
    assert re.search(r"execution \S+ completed; credits used: ", out)
    assert '"total_amount": ' in out
    if is_composed("quickstart"):
        assert "completed; credits used: 6" in out
        assert '"total_amount": 2338.35' in out


def test_document_example_prints_one_document_per_page() -> None:
    out = run_example("document_pages.py")
    pages = re.findall(r"--- report\.pdf, page (\d+) \((\d+) of (\d+)\)", out)
    assert pages and [int(p) for p, _, _ in pages] == list(range(len(pages)))
    assert {int(total) for _, _, total in pages} == {len(pages)}
    if is_composed("document_example"):
        assert len(pages) == 2 and f"execution {EXECUTIONS[REPORT_PDF]}" in out
        assert "| EMEA | 41.2 |" in out and "The Lisbon warehouse opens in September 2024." in out


def test_image_example_prints_the_text_then_what_it_shows() -> None:
    out = run_example("image_text.py")
    assert "--- receipt.png (image/png), execution " in out
    if is_composed("image_example"):
        text, description = out.split("execution", 1)[1].rstrip().rsplit("\n\n", 1)
        assert "TOTAL USD 9.75" in text and "Latte 5.25" in text
        assert description.startswith("A printed till receipt from Blue Bottle Coffee")


def test_audio_example_prints_timed_segments_then_windows() -> None:
    out = run_example("audio_segments.py")
    segments_part, windows_part = out.split("merged into windows of about 8 s")
    segments, windows = spans(segments_part), spans(windows_part)
    assert len(segments) >= 2 and segments == sorted(segments)
    assert all(start <= end for start, end in segments)
    assert 1 <= len(windows) < len(segments)  # merged, from the cache: no second execution
    assert windows[0][0] == segments[0][0] and windows[-1][1] == segments[-1][1]
    if is_composed("audio_example"):
        assert "[0:06.4-0:09.0] Speaker 1: The new warehouse in Denver opens in March." in out
        assert len(segments) == 4 and len(windows) == 2


def test_video_example_prints_what_is_said_and_shown() -> None:
    out = run_example("video_segments.py")
    assert len(spans(out)) >= 1 and "[shown] " in out
    if is_composed("video_example"):
        assert spans(out) == [(0.0, 1.9), (2.3, 6.0), (6.4, 8.0)]
        assert "Revenue grew 12% to $4.2 million.\n[shown] The same test pattern" in out


def test_rag_example_answers_from_a_moment_of_the_recording() -> None:
    out = run_example("rag_ingestion.py")
    assert re.search(r"report\.pdf page 0 ", out) and re.search(r"meeting\.mp3 " + SPAN, out)
    answer = out.split("Q: When does the Denver warehouse open?")[1]
    assert re.search(r"A: from meeting\.mp3 " + SPAN, answer)  # where the answer was said
    assert "Denver" in answer and "March" in answer
    if is_composed("rag_example"):
        assert "A: from meeting.mp3 [0:06.4-0:09.0]" in answer
        assert f"execution {RAG_EXECUTIONS[MEETING_MP3]}" in out
        assert "indexed 6 chunks (6 in the store after 2 ingests)" in out


def test_agent_tool_example_runs_offline() -> None:
    out = run_example("agent_tool.py")
    assert "1st tool call (error, nothing sent)" in out and "2nd tool call (success)" in out
    if is_composed("tool_agent_example"):
        assert "Latte 5.25" in out.split("agent answer:")[1]  # the answer uses the tool output
        assert "credits used 6" in out


def test_structured_extraction_example_runs_offline() -> None:
    out = run_example("structured_extraction.py")
    assert "validated Receipt -> " in out
    if is_composed("extractor_example"):
        assert "validated Receipt -> 2026-07-20: 9.75 USD at Blue Bottle Coffee" in out


def test_agent_toolkit_example_chooses_between_two_agents_offline() -> None:
    out = run_example("agent_toolkit.py")
    assert "[offline]" in out
    # tools are named vlmrun_<agent> and quote the agent's description
    assert (
        "tool vlmrun_langchain-example-invoices: Runs the VLM Run agent "
        'langchain-example-invoices:v1, described in its workspace as: "Extracts the invoice number'
    ) in out
    assert "tool vlmrun_langchain-example-receipts: Runs the VLM Run agent " in out
    assert 'as: "Reads shop receipts' in out
    assert "the model chose: vlmrun_langchain-example-receipts" in out
    assert '"merchant": "Blue Bottle Coffee"' in out.split("agent answer:")[1]
    assert "artifact img_7c41e2: image/png, 3959 bytes" in out


@pytest.mark.live
def test_quickstart_runs_live() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[live]" in done.stdout


def test_chat_example_asks_about_an_image_and_a_recording() -> None:
    pytest.importorskip("langchain_openai")
    out = run_example("chat_multimodal.py")
    turns = re.findall(r"\[session (\S+), credits (\S+), tokens (\d+)\]", out)
    assert len(turns) == 2 and turns[0][0] == turns[1][0]  # one conversation, one session
    if is_composed("chat_multimodal_example"):
        assert "total USD 9.75" in out and "$4.2 million" in out
