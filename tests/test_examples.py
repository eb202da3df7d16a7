"""The examples run offline on cassettes, as `make demo` promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"VLMRUN_API_KEY", "VLMRUN_BASE_URL"}}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quickstart_runs_offline() -> None:
    out = run_example("quickstart.py")
    assert "[offline]" in out
    assert "completed; credits used: 6" in out
    assert '"total_amount": 2338.35' in out


def test_rag_ingestion_runs_offline() -> None:
    out = run_example("rag_ingestion.py")
    assert "[offline]" in out
    assert "best chunk: report.pdf, page 1" in out
    assert "Lisbon warehouse to open in September 2024" in out


def test_agent_tool_example_runs_offline() -> None:
    out = run_example("agent_tool.py")
    assert "[offline]" in out
    assert "| Latte | 5.25 |" in out.split("agent answer:")[1]  # the answer uses the tool output
    assert "credits used 6" in out


def test_structured_extraction_example_runs_offline() -> None:
    out = run_example("structured_extraction.py")
    assert "validated Receipt -> 2026-07-20: 9.75 USD at Blue Bottle Coffee" in out


def test_agent_toolkit_example_chooses_between_two_agents_offline() -> None:
    out = run_example("agent_toolkit.py")
    assert "[offline]" in out
    assert "tool langchain-example-invoices: Extracts the invoice number" in out
    assert "tool langchain-example-receipts: Reads shop receipts" in out
    assert "the model chose: langchain-example-receipts" in out
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
