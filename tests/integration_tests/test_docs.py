"""The pages in docs/ and the README's quickstarts run: every python block not marked
``no-run``, offline on cassettes, printing what the page says it prints (see
tests/docs_runner.py)."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

from tests.cassette_config import CASSETTES
from tests.docs_runner import DOCS, README, ROOT, blocks, cassette_for, normalise, run_page

PAGES = sorted(DOCS.rglob("*.md"))
#: Every page LangChain expects of a partner: provider, tool, document loader, extractor.
EXPECTED = {
    "providers/vlmrun.md",
    "tools/vlmrun_agent_tool.md",
    "document_loaders/vlmrun.md",
    "extraction/vlmrun_extractor.md",
}
#: The guides the README links to (what the README was before it became a door).
GUIDES = {
    "guides/errors.md",
    "guides/safety.md",
    "guides/caching-and-resume.md",
    "guides/scale-out.md",
    "guides/webhooks.md",
    "guides/client.md",
}
#: Sections of LangChain's integration page template (the four integration pages only;
#: the provider page has its own shape).
SECTIONS = ("## Overview", "## Setup", "## Instantiation", "## API reference")
#: The README is a door, not a manual.
README_MAX_LINES = 200
#: Linked from the README, written by a separate change.
PENDING_LINKS: set[Path] = set()


def page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


def assert_prints_what_it_shows(page: Path, results: list) -> None:
    for block, output in results:
        if block.expected_output is not None:
            assert normalise(output) == normalise(block.expected_output), (
                f"{page.name}, block at line {block.line} printed:\n{output}"
            )


def test_every_integration_page_and_guide_exists() -> None:
    assert {page_id(page) for page in PAGES} >= EXPECTED | GUIDES


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_runs_offline_and_prints_what_it_shows(page: Path, tmp_path: Path) -> None:
    results = run_page(page, tmp_path)
    if page_id(page) in EXPECTED:
        assert results, f"{page.name} has no python block that runs"
    assert_prints_what_it_shows(page, results)


def test_every_docs_cassette_belongs_to_a_page_with_requests() -> None:
    """A page that sends requests has its cassette (the runner refuses a request
    without one); a cassette no page replays is stale."""
    pages = {cassette_for(page) for page in [*PAGES, README]}
    cassettes = {path.stem for path in CASSETTES.glob("docs_*.yaml")}
    assert cassettes <= pages, f"cassettes of no page: {sorted(cassettes - pages)}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_follows_the_integration_template(page: Path) -> None:
    text = page.read_text()
    if page_id(page) in EXPECTED and page.parent.name != "providers":
        for section in SECTIONS:
            assert section in text, f"{page.name} lacks {section!r}"
    for block in blocks(page):
        assert block.language in {"python", "bash"}, f"{page.name}:{block.line}"


def test_shell_blocks_install_what_the_package_offers() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    for page in [*PAGES, README]:
        for block in blocks(page):
            if block.language != "bash":
                continue
            for line in block.code.splitlines():
                if line.startswith("pip install"):
                    for name, extra in re.findall(r"(langchain-vlmrun)(?:\[(\w+)\])?", line):
                        assert name == project["name"] and (not extra or extra in extras), line
                elif page != README:
                    assert line.startswith(("export VLMRUN_", "#")) or not line.strip(), line
    # the extras the README names in prose exist too
    for extra in re.findall(r"`(?:langchain-vlmrun)?\[(\w+)\]`", README.read_text()):
        assert extra in extras, extra


# --- the README: a door whose quickstarts run as pasted ---------------------------------------


def test_readme_is_a_door_not_a_manual() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_readme_quickstarts_run_offline(tmp_path: Path) -> None:
    """Each quickstart runs as pasted, from a checkout's root (the sample files under
    examples/data), on cassettes/docs_README.yaml, and prints what the README shows."""
    results = run_page(README, tmp_path)
    assert len(results) >= 4, "the README has four quickstarts"
    assert all(block.expected_output is not None for block, _ in results)
    assert_prints_what_it_shows(README, results)


def names_used_but_not_defined(code: str) -> set[str]:
    """Names a snippet reads that neither it nor Python defines (a coarse check: any
    binding anywhere in the snippet counts)."""
    tree = ast.parse(code)
    defined = set(dir(builtins))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return used - defined


def test_readme_quickstarts_stand_alone() -> None:
    """Each quickstart runs as pasted on its own: it defines or imports every name it
    uses, and imports the package from its top level only."""
    for block in blocks(README):
        if not block.runs:
            continue
        where = f"README.md:{block.line}"
        assert not names_used_but_not_defined(block.code), where
        imports = re.findall(r"^from (langchain_vlmrun\S*) import", block.code, re.M)
        assert imports and set(imports) == {"langchain_vlmrun"}, where
        assert "import langchain_vlmrun" not in block.code, where


def test_links_point_at_files_that_exist() -> None:
    for page in [*PAGES, README, ROOT / "CONTRIBUTING.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            path = (page.parent / target).resolve()
            assert path.exists() or path in PENDING_LINKS, f"{page.name} links to {target}"
