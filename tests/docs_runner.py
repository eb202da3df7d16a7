"""Run the ```python blocks of the pages in ``docs/`` and of README.md offline, in order,
like a notebook.

Each page runs in one namespace, in a fresh folder holding the sample files of
``examples/data``, both at its top (so ``"report.pdf"`` in a page is a real file) and
under ``examples/data/`` (as in a checkout's root, where the README's quickstarts run),
with a placeholder ``VLMRUN_API_KEY`` and every HTTP request answered from
``cassettes/docs_<folder>_<page>.yaml`` (``cassettes/docs_README.yaml`` for the README;
vcrpy, replay only: nothing reaches the network). A page without a cassette may make no
request. Top-level ``await`` works, as in a notebook. A block followed by an ```output
block must print exactly that text.

Blocks that are not run: a fence whose info string has the word ``no-run`` after the
language, e.g.

    ```python no-run
    from langchain_vlmrun.scaleout import RedisRequestBudget
    ```

is shown as python but never executed (nor may it have an ```output block). Use it for
code that needs what a test cannot have offline: the live service, a Redis server, a
web server, a process that crashes.

Only what cannot run offline is stood in for, the same way for every page:

- the chat model: ``init_chat_model(...)`` returns the suite's one stand-in LLM,
  :class:`tests.fake_chat_model.ToolCallingModel`, which calls the first tool it is
  given on the file named in the user's message, then answers with the start of what
  the tool returned;
- waiting: replayed executions are polled without sleeping (as in the examples).

Print what each block of a page outputs (to write its ```output blocks)::

    python -m tests.docs_runner docs/tools/vlmrun_agent_tool.md
    python -m tests.docs_runner README.md
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fake_chat_model import ToolCallingModel

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
DATA = ROOT / "examples" / "data"
#: The key a page sees: a placeholder, so the cassettes stand for the service.
PLACEHOLDER_KEY = "docs-offline-placeholder-key"

_FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```\s*$", re.S | re.M)
#: The info-string word that marks a block as shown, not run.
NO_RUN = "no-run"


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its text, the line it starts on, whether it is
    run (a python block without ``no-run``), and the ```output block after it."""

    language: str
    code: str
    line: int
    expected_output: str | None = None
    no_run: bool = False

    @property
    def runs(self) -> bool:
        return self.language == "python" and not self.no_run


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks; an ```output block is attached to the block before it."""
    text = page.read_text()
    found: list[Block] = []
    for match in _FENCE.finditer(text):
        language, info, code = match.group(1), match.group(2), match.group(3)
        line = text.count("\n", 0, match.start()) + 1
        if language == "output":
            if not found or not found[-1].runs or found[-1].expected_output is not None:
                raise ValueError(f"{page}:{line}: an output block must follow a run python block")
            previous = found.pop()
            found.append(Block(previous.language, previous.code, previous.line, code))
        else:
            found.append(Block(language, code, line, no_run=NO_RUN in info.split()))
    return found


def cassette_for(page: Path) -> str:
    """``cassettes/docs_<folder>_<page>.yaml``; ``docs_README`` for README.md."""
    if page.resolve() == README:
        return "docs_README"
    return f"docs_{page.parent.name}_{page.stem}"


# --- the stand-in chat model -----------------------------------------------------------------


def scripted_init_chat_model(*args: Any, **kwargs: Any) -> ToolCallingModel:
    return ToolCallingModel()


# --- replay --------------------------------------------------------------------------------


def input_key(request: Any) -> str | None:
    """Which file an upload or execute is about (so concurrent requests replay right)."""
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    path = request.path
    if request.method == "POST" and path.endswith("/files"):
        match = re.search(rb'filename="([^"]+)"', body)
        return match.group(1).decode() if match else None
    if request.method == "POST" and path.endswith("/agent/execute"):
        file = json.loads(body or b"{}").get("inputs", {}).get("file", {})
        return str(file.get("file_id") or (file.get("file_url") or {}).get("url"))
    return None


def same_input(r1: Any, r2: Any) -> None:
    assert input_key(r1) == input_key(r2)


@contextlib.contextmanager
def offline(page: Path, workdir: Path) -> Iterator[None]:
    """The page's folder, key, cassette, chat model and poll schedule (restored after)."""
    import langchain.chat_models
    import vcr
    from langchain.chat_models import base as chat_models_base

    from langchain_vlmrun import PollSchedule, VLMRunClient
    from tests.cassette_config import vcr_settings

    # wherever the package keeps its client, replayed polls do not sleep there
    client_module = sys.modules[VLMRunClient.__module__]
    (workdir / "examples").mkdir()
    shutil.copytree(DATA, workdir / "examples" / "data")
    for sample in DATA.iterdir():
        shutil.copy(sample, workdir / sample.name)
    saved_env = {k: os.environ.get(k) for k in ("VLMRUN_API_KEY", "VLMRUN_BASE_URL")}
    saved_cwd = Path.cwd()
    patches = [
        (langchain.chat_models, "init_chat_model", scripted_init_chat_model),
        (chat_models_base, "init_chat_model", scripted_init_chat_model),
        (client_module, "PollSchedule", PollSchedule.immediate),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    settings = vcr_settings()
    settings["match_on"] = [*settings["match_on"], "same_input"]
    recorder = vcr.VCR()
    recorder.register_matcher("same_input", same_input)
    try:
        os.environ["VLMRUN_API_KEY"] = PLACEHOLDER_KEY
        os.environ.pop("VLMRUN_BASE_URL", None)
        os.chdir(workdir)
        for owner, name, value in patches:
            setattr(owner, name, value)
        with recorder.use_cassette(cassette_for(page), record_mode="none", **settings) as tape:
            yield
            assert tape.all_played, (
                f"{cassette_for(page)}: {len(tape.data) - tape.play_count} recorded "
                "interactions were not used: the page and its cassette disagree"
            )
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_block(block: Block, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> str:
    """Execute one block (top-level ``await`` allowed); what it printed."""
    code = compile(
        block.code, f"<docs block line {block.line}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = eval(code, namespace)
        if asyncio.iscoroutine(result):
            loop.run_until_complete(result)
    return out.getvalue()


def run_page(page: Path, workdir: Path) -> list[tuple[Block, str]]:
    """Every run python block of ``page`` in order, in one namespace; (block, output)
    pairs."""
    outputs: list[tuple[Block, str]] = []
    loop = asyncio.new_event_loop()
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    try:
        with offline(page, workdir):
            for block in blocks(page):
                if block.runs:
                    outputs.append((block, run_block(block, namespace, loop)))
    finally:
        loop.close()
    return outputs


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def main(argv: list[str]) -> None:
    import tempfile

    for name in argv:
        page = Path(name).resolve()
        with tempfile.TemporaryDirectory() as workdir:
            for block, output in run_page(page, Path(workdir)):
                print(f"--- line {block.line} ---")
                print(output, end="")


if __name__ == "__main__":
    main(sys.argv[1:])
