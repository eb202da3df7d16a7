"""The pages in docs/ run: every python block, offline on cassettes, printing what the
page says it prints (see tests/docs_runner.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cassette_config import CASSETTES
from tests.docs_runner import DOCS, ROOT, blocks, cassette_for, normalise, run_page

PAGES = sorted(DOCS.rglob("*.md"))
#: Every page LangChain expects of a partner: provider, tool, document loader, extractor.
EXPECTED = {
    "providers/vlmrun.md",
    "tools/vlmrun_agent_tool.md",
    "document_loaders/vlmrun.md",
    "extraction/vlmrun_extractor.md",
}
#: Sections of LangChain's integration page template.
SECTIONS = ("## Overview", "## Setup", "## Instantiation", "## API reference")


def test_every_integration_page_exists() -> None:
    assert {str(page.relative_to(DOCS)) for page in PAGES} >= EXPECTED


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_runs_offline_and_prints_what_it_shows(page: Path, tmp_path: Path) -> None:
    assert (CASSETTES / f"{cassette_for(page)}.yaml").exists() or not any(
        b.language == "python" for b in blocks(page)
    )
    results = run_page(page, tmp_path)
    assert results, f"{page.name} has no python block"
    for block, output in results:
        if block.expected_output is not None:
            assert normalise(output) == normalise(block.expected_output), (
                f"{page.name}, block at line {block.line} printed:\n{output}"
            )


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_follows_the_integration_template(page: Path) -> None:
    text = page.read_text()
    if page.parent.name != "providers":
        for section in SECTIONS:
            assert section in text, f"{page.name} lacks {section!r}"
    for block in blocks(page):
        assert block.language in {"python", "bash"}, f"{page.name}:{block.line}"


def test_shell_blocks_install_what_the_package_offers() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    for page in PAGES:
        for block in blocks(page):
            if block.language != "bash":
                continue
            for line in block.code.splitlines():
                if line.startswith("pip install"):
                    for name, extra in re.findall(r"(langchain-vlmrun)(?:\[(\w+)\])?", line):
                        assert name == project["name"] and (not extra or extra in extras), line
                else:
                    assert line.startswith(("export VLMRUN_", "#")) or not line.strip(), line
