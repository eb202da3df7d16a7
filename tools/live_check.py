"""``make live``: every example against the live VLM Run service, each response checked.

    VLMRUN_API_KEY=... make live            # run every example live and check the shapes
    VLMRUN_API_KEY=... make live RECORD=1   # ... and re-record each example's cassette

Without ``VLMRUN_API_KEY`` it says so and exits 0: nothing is sent.

Each example's ``main()`` runs in this process (live, or live and recording into its
cassette when ``VLMRUN_RECORD=1``) and is timed. Every execution it completes with a
built-in default (seen at ``VLMRunClient.process``, whatever the example then does with
it) is checked: the raw response must validate against its medium's default JSON schema
and be rendered by the package as that medium's kind (``pages`` for documents, ``text``
for images, ``segments`` for audio and video). Documents the example returns from those
executions must say so in ``response_type``, and timed ones have ``start_time <=
end_time``. Other results (a validated model, a string) only have to come back without
an error.

Exit status 1 when an example failed or a response had another shape.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

SKIP_MESSAGE = (
    "make live: VLMRUN_API_KEY is not set, so nothing was run and no request was sent.\n"
    "Set it to run every example against the live VLM Run service (and RECORD=1 to "
    "re-record their cassettes): VLMRUN_API_KEY=... make live [RECORD=1]"
)

#: What the package renders each medium's default response as.
EXPECTED_KIND = {"document": "pages", "image": "text", "audio": "segments", "video": "segments"}


@dataclass
class Outcome:
    example: str
    seconds: float = 0.0
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def example_paths() -> list[Path]:
    return sorted(EXAMPLES.glob("[a-z]*.py"))


def _load(path: Path) -> Any:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # the examples import their _offline helper
    spec = importlib.util.spec_from_file_location(f"live_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the example's annotations there
    spec.loader.exec_module(module)
    return module


@contextmanager
def observed_defaults() -> Iterator[list[tuple[str, Any]]]:
    """Every execution completed through a client while inside, that ran a built-in
    default: ``(medium, ProcessedSource)``, whatever the example then does with it."""
    from langchain_vlmrun import AsyncVLMRunClient, VLMRunClient

    seen: list[tuple[str, Any]] = []
    sync_process, async_process = VLMRunClient.process, AsyncVLMRunClient.process

    def keep(options: dict[str, Any], processed: Any) -> Any:
        medium = default_medium(options.get("json_schema"))
        if medium is not None:
            seen.append((medium, processed))
        return processed

    def process(self: Any, source: Any, **options: Any) -> Any:
        return keep(options, sync_process(self, source, **options))

    async def aprocess(self: Any, source: Any, **options: Any) -> Any:
        return keep(options, await async_process(self, source, **options))

    VLMRunClient.process = process  # type: ignore[method-assign]
    AsyncVLMRunClient.process = aprocess  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        VLMRunClient.process = sync_process  # type: ignore[method-assign]
        AsyncVLMRunClient.process = async_process  # type: ignore[method-assign]


def default_medium(schema: Any) -> str | None:
    """The medium whose built-in default ``schema`` is (as sent), else None."""
    from langchain_vlmrun.documents.builtin import default_for

    comment = schema.get("$comment") if isinstance(schema, dict) else None
    for medium in EXPECTED_KIND:
        if comment == default_for(medium).request_schema()["$comment"]:  # type: ignore[arg-type]
            return medium
    return None


def check_response(medium: str, response: Any) -> list[str]:
    """Problems with one raw response for ``medium``'s default (none: it fits)."""
    from jsonschema import Draft202012Validator

    from langchain_vlmrun.documents._rendering import render_response
    from langchain_vlmrun.documents.builtin import default_for

    validator = Draft202012Validator(default_for(medium).schema)  # type: ignore[arg-type]
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or 'response'}: {error.message}"
        for error in validator.iter_errors(response)
    ]
    kind = render_response(response).kind
    if kind != EXPECTED_KIND[medium]:
        problems.append(f"rendered as {kind!r}, not {EXPECTED_KIND[medium]!r}")
    return problems


def check_document(medium: str, document: Any) -> list[str]:
    meta = document.metadata
    problems = []
    if meta.get("response_type") != EXPECTED_KIND[medium]:
        problems.append(f"response_type {meta.get('response_type')!r}")
    if EXPECTED_KIND[medium] == "segments" and not meta["start_time"] <= meta["end_time"]:
        problems.append(f"segment ends before it starts ({meta['start_time']}, {meta['end_time']})")
    return problems


def check(executions: list[tuple[str, Any]], result: Any) -> tuple[list[str], list[str]]:
    """(what was checked, problems): each default execution's response, then the
    Documents the example returned from them."""
    from langchain_core.documents import Document
    from pydantic import BaseModel

    checked: list[str] = []
    problems: list[str] = []
    media: dict[str, str] = {}
    for medium, processed in executions:
        execution = processed.execution
        if execution.id in media:
            continue  # the same execution again (from a cache)
        media[execution.id] = medium
        label = Path(processed.filename or processed.url or "?").name
        found = check_response(medium, execution.response)
        problems += [f"{label} (execution {execution.id}): {p}" for p in found]
        checked.append(f"{label}: {medium} -> {EXPECTED_KIND[medium]}")
    for item in result if isinstance(result, list) else []:
        if isinstance(item, Document) and item.metadata.get("execution_id") in media:
            medium = media[item.metadata["execution_id"]]
            name = Path(str(item.metadata.get("source"))).name
            problems += [f"{name}: {p}" for p in check_document(medium, item)]
    if isinstance(result, BaseModel):
        checked.append(f"a validated {type(result).__name__}")
    return checked, problems


def run(paths: Iterable[Path]) -> list[Outcome]:
    outcomes = []
    for path in paths:
        outcome = Outcome(path.name)
        print(f"\n===== {path.name} =====", flush=True)
        result = None
        start = time.perf_counter()
        with observed_defaults() as executions:
            try:
                result = _load(path).main()
            except Exception as exc:  # report every example, then fail
                traceback.print_exc()
                outcome.problems.append(f"raised {type(exc).__name__}: {exc}")
        outcome.seconds = time.perf_counter() - start
        checked, problems = check(executions, result)
        outcome.checked, outcome.problems = checked, outcome.problems + problems
        outcomes.append(outcome)
    return outcomes


def report(outcomes: list[Outcome], recording: bool) -> int:
    print("\n===== make live =====")
    for outcome in outcomes:
        status = "FAIL" if outcome.problems else "ok"
        what = "; ".join(outcome.checked) or "ran without error"
        print(f"{status:4}  {outcome.example:28} {outcome.seconds:6.1f} s  {what}")
        for problem in outcome.problems:
            print(f"        - {problem}")
    failed = [o.example for o in outcomes if o.problems]
    if recording:
        print(
            "\nRe-recorded the examples' cassettes (cassettes/*_example.yaml, quickstart.yaml): "
            "they no longer carry the COMPOSED header. Check `git diff cassettes/`, then "
            "`make test` (tests/integration_tests/test_examples.py checks only the structure "
            "of recorded cassettes' output)."
        )
    print(
        f"\n{len(outcomes) - len(failed)} of {len(outcomes)} examples ok"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    if not os.environ.get("VLMRUN_API_KEY"):
        print(SKIP_MESSAGE)
        return 0
    names = set(argv or [])
    paths = [p for p in example_paths() if not names or p.stem in names or p.name in names]
    recording = os.environ.get("VLMRUN_RECORD", "") not in ("", "0")
    base = os.environ.get("VLMRUN_BASE_URL") or "https://api.vlm.run/v1"
    print(
        f"make live: {len(paths)} examples against {base}"
        + (" (recording their cassettes)" if recording else "")
    )
    return report(run(paths), recording)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
