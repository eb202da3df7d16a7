"""Property-based tests: every input either works or is refused before any request.

Over file names (unicode, spaces, dots, control characters, glob characters, names that
are not UTF-8, names too long for the OS), paths (``..``, ``.``, symlinks, hidden files)
and argument values (timeouts, ``max_retries``, ``max_content_chars``, ``json_schema``,
agent names), each property checks that a user-facing entry point either does its job or
raises a typed error (a ``VLMRunError``, or a ``ValueError``/``TypeError`` with a message)
*before* any request reaches the loopback emulator, read from the emulator's counters.

Runs are bounded and reproducible: ``derandomize=True``, no example database, no
deadline. Properties that fail today are strict xfails naming the finding; each is split
from a passing twin so the part that works stays checked. Failing properties skip
shrinking (the first counterexample is enough to keep them red).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from langchain_core.documents.base import Blob
from langchain_core.messages import ToolMessage
from pydantic import BaseModel

from langchain_vlmrun import (
    SUPPORTED_EXTENSIONS,
    FileSourceError,
    LoaderError,
    PollSchedule,
    VLMRunAgentTool,
    VLMRunClient,
    VLMRunError,
    VLMRunExtractor,
    VLMRunLoader,
    VLMRunParser,
)
from tests.emulator import Emulator, running_emulator

KEY = "sk-test-properties"
PROMPT = "Transcribe this document as markdown."
IMMEDIATE = PollSchedule.immediate()
TOOL_NAME = "vlmrun_read_file"

PASSING = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: For strict xfails: fewer examples, no shrinking (any counterexample keeps it red).
FAILING = settings(
    PASSING,
    max_examples=10,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)

MAGIC = {
    ".pdf": b"%PDF-1.4\n",
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff\xe0",
    ".jpeg": b"\xff\xd8\xff\xe0",
}


class Pages(BaseModel):
    """Matches the emulator's markdown answer, so the extractor can be used with it."""

    pages: list[dict[str, Any]]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running_emulator(queue_time=0.0, processing_time=0.0, max_lifetime=300) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Iterator[VLMRunClient]:
    with VLMRunClient(KEY, base_url=emu.base_url, poll=IMMEDIATE) as c:
        yield c


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One readable PDF, for properties about arguments rather than files."""
    path = tmp_path_factory.mktemp("sample") / "a.pdf"
    path.write_bytes(MAGIC[".pdf"] + b"sample")
    return path


# --------------------------------------------------------------------------- helpers


@dataclass
class Outcome:
    value: Any
    error: Exception | None
    requests: int


def attempt(emu: Emulator, action: Callable[[], Any]) -> Outcome:
    """Run ``action``; what it returned or raised, and the requests the emulator got."""
    before = emu.counters.requests_total
    try:
        value, error = action(), None
    except Exception as exc:
        value, error = None, exc
    return Outcome(value, error, emu.counters.requests_total - before)


def check_typed_and_early(outcome: Outcome) -> None:
    """A refusal: typed, with a message, and before any request."""
    error = outcome.error
    assert error is not None
    causes = [error, getattr(error, "cause", None)] if isinstance(error, LoaderError) else [error]
    for exc in causes:
        assert isinstance(exc, (VLMRunError, ValueError, TypeError)), repr(exc)
        assert str(exc).strip(), repr(exc)
    assert outcome.requests == 0, f"{outcome.requests} request(s) sent before {error!r}"


def works_or_refused_early(outcome: Outcome) -> None:
    if outcome.error is not None:
        check_typed_and_early(outcome)


def is_supported(name: str) -> bool:
    return Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def content_for(name: str) -> bytes:
    """Bytes that really are of the type the name says (text for anything else), unique
    to the name: bytes uploaded before would be reused by md5 and never sent again."""
    return MAGIC.get(Path(name).suffix.lower(), b"") + b"content of " + os.fsencode(name)


def fits(name: str) -> bool:
    return name not in {".", ".."} and len(os.fsencode(name)) <= 255


def tool_call(file: str) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call-1", "name": TOOL_NAME, "args": {"file": file}}


def folder_with(name: str) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    """A fresh folder holding one file called ``name``."""
    holder = tempfile.TemporaryDirectory()
    path = Path(holder.name) / name
    path.write_bytes(content_for(name))
    return holder, path


# --------------------------------------------------------------------------- strategies

#: Any character a UTF-8 file name may hold except "/" and NUL: unicode, spaces, dots,
#: control characters, quotes, backslashes.
NAME_CHARS = st.characters(codec="utf-8", exclude_characters="/\x00")
PLAIN_NAME_CHARS = st.characters(codec="utf-8", exclude_characters="/\x00*?[")
EXTENSIONS = st.sampled_from(
    [".pdf", ".PDF", ".png", ".jpg", ".JPEG", ".txt", ".exe", ".md", "", ".", ".pdf.", ".tar.gz"]
)
SUPPORTED = st.sampled_from([".pdf", ".PDF", ".png", ".jpg", ".Jpeg"])
UNSUPPORTED = st.sampled_from([".txt", ".exe", ".md", ".bin", "", ".pdf.", ".html", ".csv"])


def names(chars: st.SearchStrategy[str], ext: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda stem, e: stem + e, st.text(chars, min_size=1, max_size=40), ext).filter(
        fits
    )


def non_utf8_names() -> st.SearchStrategy[str]:
    """Names as ``os.listdir`` gives them for bytes that are not UTF-8 (surrogateescape)."""
    stem = st.binary(max_size=12).map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_"))
    return st.builds(lambda s, e: os.fsdecode(s + b"\xff" + e.encode()), stem, SUPPORTED)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=8), JSON, max_size=4)
JSON_NON_OBJECTS = JSON.filter(lambda v: v is not None and not isinstance(v, dict))

GOOD_TIMEOUTS = st.floats(min_value=0.5, max_value=1e9)
BAD_TIMEOUTS = st.floats(max_value=-1e-6, allow_infinity=True) | st.just(math.nan)
AGENT_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,20}:v[0-9]{1,2}", fullmatch=True)
BLANK_NAMES = st.text(st.sampled_from(" \t\n\r\u00a0\u2003"), min_size=1, max_size=4)


# ===================================================================== file names


@PASSING
@given(name=names(PLAIN_NAME_CHARS, EXTENSIONS))
def test_loader_reads_any_utf8_file_name_or_refuses_it_early(
    emu: Emulator, client: VLMRunClient, name: str
) -> None:
    holder, path = folder_with(name)
    with holder:
        outcome = attempt(emu, lambda: VLMRunLoader(str(path), prompt=PROMPT, client=client).load())
    if is_supported(name):
        assert outcome.error is None, repr(outcome.error)
        assert [d.metadata["source"] for d in outcome.value] == [str(path)] * 2
        assert outcome.requests > 0
    else:
        assert isinstance(outcome.error, LoaderError)
        assert isinstance(outcome.error.cause, FileSourceError)
        check_typed_and_early(outcome)


@FAILING
@given(
    stem=st.text(PLAIN_NAME_CHARS, min_size=1, max_size=10),
    inner=st.text("abcxyz", min_size=1, max_size=4),
    ext=SUPPORTED,
)
def test_loader_reads_a_file_whose_name_has_brackets(
    emu: Emulator, client: VLMRunClient, stem: str, inner: str, ext: str
) -> None:
    holder, path = folder_with(f"{stem}[{inner}]{ext}")
    with holder:
        outcome = attempt(emu, lambda: VLMRunLoader(str(path), prompt=PROMPT, client=client).load())
    assert outcome.error is None, repr(outcome.error)
    assert [d.metadata["source"] for d in outcome.value] == [str(path)] * 2


@FAILING
@given(name=non_utf8_names())
def test_loader_reads_a_non_utf8_file_name_or_refuses_it_early(
    emu: Emulator, client: VLMRunClient, name: str
) -> None:
    holder, path = folder_with(name)
    with holder:
        outcome = attempt(emu, lambda: VLMRunLoader(str(path), prompt=PROMPT, client=client).load())
    works_or_refused_early(outcome)


@PASSING
@given(name=non_utf8_names())
def test_tool_answers_a_non_utf8_file_name(emu: Emulator, client: VLMRunClient, name: str) -> None:
    holder, path = folder_with(name)
    with holder:
        tool = VLMRunAgentTool(prompt=PROMPT, root_dir=path.parent, client=client)
        outcome = attempt(emu, lambda: tool.invoke(tool_call(name)))
    assert outcome.error is None, repr(outcome.error)
    assert isinstance(outcome.value, ToolMessage)
    if outcome.value.status == "error":
        assert outcome.requests == 0


LONG_NAMES = st.integers(min_value=256, max_value=600).map(lambda n: "x" * (n - 4) + ".pdf")


@FAILING
@given(name=LONG_NAMES)
def test_loader_refuses_a_too_long_file_name_early(
    emu: Emulator, client: VLMRunClient, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    path = tmp_path_factory.getbasetemp() / name
    outcome = attempt(emu, lambda: VLMRunLoader(str(path), prompt=PROMPT, client=client).load())
    check_typed_and_early(outcome)


@PASSING
@given(name=LONG_NAMES)
def test_tool_and_parser_refuse_a_too_long_file_name_early(
    emu: Emulator, client: VLMRunClient, sample: Path, name: str
) -> None:
    tool = VLMRunAgentTool(prompt=PROMPT, root_dir=sample.parent, client=client)
    answered = attempt(emu, lambda: tool.invoke(tool_call(name)))
    assert answered.error is None and answered.value.status == "error"
    assert answered.requests == 0
    parser = VLMRunParser(prompt=PROMPT, client=client)
    parsed = attempt(emu, lambda: parser.parse(Blob(path=sample.parent / name)))
    assert isinstance(parsed.error, FileSourceError)
    check_typed_and_early(parsed)


@PASSING
@given(name=names(NAME_CHARS, EXTENSIONS).filter(lambda n: n == n.strip() and n[0] != "~"))
def test_tool_reads_any_allowed_file_name_or_answers_an_error_early(
    emu: Emulator, client: VLMRunClient, name: str
) -> None:
    # Names with surrounding whitespace (the tool strips the model's input) or a leading
    # "~" (taken as a home directory) are left out on purpose.
    holder, path = folder_with(name)
    with holder:
        tool = VLMRunAgentTool(prompt=PROMPT, root_dir=path.parent, client=client)
        outcome = attempt(emu, lambda: tool.invoke(tool_call(name)))
    assert outcome.error is None, repr(outcome.error)
    message = outcome.value
    assert isinstance(message, ToolMessage) and str(message.content).strip()
    if is_supported(name) and not name.startswith("."):
        assert message.status == "success", message.content
        assert message.artifact.source == name and outcome.requests > 0
    else:
        assert message.status == "error" and outcome.requests == 0


PADDING = st.text(st.sampled_from(" \t\x85\xa0\u2003"), min_size=1, max_size=2)


@PASSING
@given(
    stem=st.text("abcdefgh", min_size=1, max_size=8),
    ext=SUPPORTED,
    padding=PADDING,
)
def test_tool_reads_a_file_named_with_leading_whitespace(
    emu: Emulator, client: VLMRunClient, stem: str, ext: str, padding: str
) -> None:
    # (trailing whitespace would change the extension: such a name is refused anyway)
    name = f"{padding}{stem}{ext}"
    holder, path = folder_with(name)
    with holder:
        tool = VLMRunAgentTool(prompt=PROMPT, root_dir=path.parent, client=client)
        outcome = attempt(emu, lambda: tool.invoke(tool_call(name)))
    assert outcome.error is None and outcome.value.status == "success", outcome


@PASSING
@given(name=names(NAME_CHARS, SUPPORTED))
def test_parser_reads_a_blob_of_a_supported_type(
    emu: Emulator, client: VLMRunClient, name: str
) -> None:
    blob = Blob.from_data(content_for(name), path=name)
    parser = VLMRunParser(prompt=PROMPT, client=client)
    outcome = attempt(emu, lambda: parser.parse(blob))
    assert outcome.error is None, repr(outcome.error)
    assert [d.metadata["source"] for d in outcome.value] == [name] * 2


@PASSING
@given(name=names(NAME_CHARS, UNSUPPORTED))
def test_parser_refuses_a_blob_of_an_unsupported_type_early(
    emu: Emulator, client: VLMRunClient, name: str
) -> None:
    blob = Blob.from_data(content_for(name), path=name)
    parser = VLMRunParser(prompt=PROMPT, client=client)
    outcome = attempt(emu, lambda: parser.parse(blob))
    assert isinstance(outcome.error, FileSourceError), f"not refused: {outcome!r:.300}"
    check_typed_and_early(outcome)


# ===================================================================== paths


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/`` (what the tool may read) beside ``outside.pdf``, with symlinks both ways."""
    base = tmp_path_factory.mktemp("tree")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.pdf").write_bytes(MAGIC[".pdf"] + b"a")
    (root / "sub" / "b.png").write_bytes(MAGIC[".png"] + b"b")
    (root / "notes.txt").write_bytes(b"notes")
    (root / ".hidden.pdf").write_bytes(MAGIC[".pdf"] + b"hidden")
    (base / "outside.pdf").write_bytes(MAGIC[".pdf"] + b"outside")
    (root / "escape.pdf").symlink_to(Path("..") / "outside.pdf")
    (root / "alias.pdf").symlink_to("a.pdf")
    (root / "up").symlink_to("..", target_is_directory=True)
    return root


SEGMENTS = st.sampled_from(
    [
        *["a.pdf", "sub", "b.png", "..", ".", "", "root", "outside.pdf", "escape.pdf"],
        *["alias.pdf", "up", "notes.txt", ".hidden.pdf", "missing.pdf"],
    ]
)
PATHS = st.builds(
    lambda parts, absolute: ("/" if absolute else "") + "/".join(parts),
    st.lists(SEGMENTS, min_size=1, max_size=5),
    st.booleans(),
)


def tool_may_read(root: Path, given: str) -> bool:
    """The rule, computed with os.path alone: a real, supported, visible file in root."""
    if not given.strip():
        return False
    real = os.path.realpath(str(root) + given if given.startswith("/") else root / given)
    if not os.path.isfile(real) or os.path.commonpath([real, root]) != str(root):
        return False
    relative = Path(os.path.relpath(real, root))
    return is_supported(real) and not any(p.startswith(".") for p in relative.parts)


@PASSING
@given(given_path=PATHS)
def test_tool_reads_exactly_the_allowed_paths(
    emu: Emulator, client: VLMRunClient, tree: Path, given_path: str
) -> None:
    file = str(tree) + given_path if given_path.startswith("/") else given_path
    tool = VLMRunAgentTool(prompt=PROMPT, root_dir=tree, client=client)
    outcome = attempt(emu, lambda: tool.invoke(tool_call(file)))
    assert outcome.error is None, repr(outcome.error)
    if tool_may_read(tree, given_path):
        assert outcome.value.status == "success", outcome.value.content
        assert outcome.requests > 0
    else:
        assert outcome.value.status == "error" and outcome.requests == 0


@PASSING
@given(given_path=PATHS)
def test_loader_reads_any_path_or_refuses_it_early(
    emu: Emulator, client: VLMRunClient, tree: Path, given_path: str
) -> None:
    path = str(tree) + given_path if given_path.startswith("/") else str(tree / given_path)
    # stay in the test's own folder: "../../.." would reach other tests' files
    assume(os.path.commonpath([os.path.realpath(path), tree.parent]) == str(tree.parent))
    loader = VLMRunLoader(path, prompt=PROMPT, client=client, max_concurrency=1)
    outcome = attempt(emu, loader.load)
    works_or_refused_early(outcome)
    if outcome.error is None:
        assert outcome.value and all(Path(d.metadata["source"]).is_file() for d in outcome.value)


# ===================================================================== argument values


@dataclass
class Target:
    """What the argument properties run against: a client, its pool and a sample file."""

    client: VLMRunClient
    http: httpx.Client
    sample: Path


@pytest.fixture(scope="module")
def target(emu: Emulator, sample: Path) -> Iterator[Target]:
    with httpx.Client() as http:
        client = VLMRunClient(KEY, base_url=emu.base_url, poll=IMMEDIATE, http_client=http)
        yield Target(client, http, sample)


def run_tool(target: Target, **options: Any) -> Any:
    options.setdefault("prompt", PROMPT)
    tool = VLMRunAgentTool(root_dir=target.sample.parent, client=target.client, **options)
    message = tool.invoke(tool_call(target.sample.name))
    assert message.status == "success", message.content
    return message


def run_extractor(target: Target, **options: Any) -> Any:
    extractor = VLMRunExtractor(response_model=Pages, client=target.client, **options)
    return extractor.invoke(str(target.sample))


def run_loader(target: Target, **options: Any) -> Any:
    options.setdefault("prompt", PROMPT)
    options.setdefault("cache", False)  # every example runs: no result from an earlier one
    return VLMRunLoader(str(target.sample), client=target.client, **options).load()


def run_parser(target: Target, **options: Any) -> Any:
    options.setdefault("prompt", PROMPT)
    options.setdefault("cache", False)
    return VLMRunParser(client=target.client, **options).parse(Blob.from_path(target.sample))


def run_client(target: Target, **options: Any) -> Any:
    """A client of its own, built with ``options`` (wait_timeout, request_timeout, max_retries),
    on the shared connection pool (a new pool per example is slow)."""
    base_url = target.client.base_url
    own = VLMRunClient(KEY, base_url=base_url, poll=IMMEDIATE, http_client=target.http, **options)
    return own.run(str(target.sample), prompt=PROMPT)


def run_client_with_schema(target: Target, json_schema: Any) -> Any:
    return target.client.run(str(target.sample), prompt=PROMPT, json_schema=json_schema)


TIMEOUT_TAKERS: dict[str, tuple[Callable[..., Any], str]] = {
    "tool": (run_tool, "wait_timeout"),
    "extractor": (run_extractor, "wait_timeout"),
    "loader": (run_loader, "wait_timeout"),
    "parser": (run_parser, "wait_timeout"),
    "client": (run_client, "wait_timeout"),
}


@pytest.mark.parametrize("component", sorted(TIMEOUT_TAKERS))
@PASSING
@given(value=GOOD_TIMEOUTS)
def test_any_positive_wait_timeout_works(
    emu: Emulator, target: Target, component: str, value: float
) -> None:
    run, keyword = TIMEOUT_TAKERS[component]
    outcome = attempt(emu, lambda: run(target, **{keyword: value}))
    assert outcome.error is None, repr(outcome.error)
    assert outcome.requests > 0


def timeout_case(component: str, reason: str = "") -> Any:
    fails_today = pytest.mark.xfail(
        strict=True, raises=AssertionError, reason=f"issue 11 properties: {reason}"
    )
    return pytest.param(component, marks=[fails_today] if reason else [], id=component)


@pytest.mark.parametrize("component", sorted(TIMEOUT_TAKERS))
def test_an_infinite_wait_timeout_works_or_is_refused_early(
    emu: Emulator, target: Target, component: str
) -> None:
    run, keyword = TIMEOUT_TAKERS[component]
    works_or_refused_early(attempt(emu, lambda: run(target, **{keyword: math.inf})))


@pytest.mark.parametrize(
    "component",
    [
        timeout_case("client"),
        timeout_case("extractor"),
        timeout_case("loader"),
        timeout_case("parser"),
        timeout_case("tool"),
    ],
)
@FAILING
@given(value=BAD_TIMEOUTS)
def test_a_negative_or_nan_wait_timeout_is_refused_early(
    emu: Emulator, target: Target, component: str, value: float
) -> None:
    run, keyword = TIMEOUT_TAKERS[component]
    outcome = attempt(emu, lambda: run(target, **{keyword: value}))
    assert outcome.error is not None, f"accepted {keyword}={value!r}"
    check_typed_and_early(outcome)


@pytest.mark.parametrize(
    "component",
    [
        timeout_case("client"),
        timeout_case("loader"),
        timeout_case("parser"),
    ],
)
@FAILING
@given(value=st.text(max_size=5))
def test_a_text_wait_timeout_works_or_is_refused_early(
    emu: Emulator, target: Target, component: str, value: str
) -> None:
    run, keyword = TIMEOUT_TAKERS[component]
    works_or_refused_early(attempt(emu, lambda: run(target, **{keyword: value})))


@PASSING
@given(value=st.floats(min_value=0.5, max_value=1e9))
def test_any_reasonable_request_timeout_works(emu: Emulator, target: Target, value: float) -> None:
    outcome = attempt(emu, lambda: run_client(target, request_timeout=value))
    assert outcome.error is None, repr(outcome.error)


@FAILING
@given(value=st.floats(min_value=1e10, allow_infinity=True))
def test_a_huge_request_timeout_works_or_is_refused_early(
    emu: Emulator, target: Target, value: float
) -> None:
    works_or_refused_early(attempt(emu, lambda: run_client(target, request_timeout=value)))


@PASSING
@given(value=st.none() | st.integers(min_value=0, max_value=50))
def test_any_non_negative_max_retries_works(
    emu: Emulator, target: Target, value: int | None
) -> None:
    outcome = attempt(emu, lambda: run_client(target, max_retries=value))
    assert outcome.error is None, repr(outcome.error)


@PASSING
@given(value=st.integers(max_value=-1))
def test_a_negative_max_retries_is_refused_at_construction(value: int) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        VLMRunClient(KEY, max_retries=value)


@FAILING
@given(value=st.floats(min_value=0.01, max_value=50).filter(lambda v: not v.is_integer()))
def test_a_fractional_max_retries_is_refused_early(
    emu: Emulator, target: Target, value: float
) -> None:
    outcome = attempt(emu, lambda: run_client(target, max_retries=value))
    assert outcome.error is not None, f"accepted max_retries={value!r}"
    check_typed_and_early(outcome)
    assert "max_retries" in str(outcome.error), str(outcome.error)


@pytest.fixture(scope="module")
def full_answer(target: Target) -> str:
    return str(run_tool(target, max_content_chars=10**9).content)


@PASSING
@given(limit=st.integers(min_value=1, max_value=2000))
def test_max_content_chars_caps_what_the_model_sees(
    emu: Emulator, target: Target, full_answer: str, limit: int
) -> None:
    message = run_tool(target, max_content_chars=limit)
    content = str(message.content)
    if len(full_answer) <= limit:
        assert content == full_answer and not message.artifact.truncated
    else:  # the marker counts in the cap; a cap too small for it ends with an ellipsis
        assert len(content) <= limit and message.artifact.truncated
        shown, marker = content.partition("\n\n[... truncated: ")[::2]
        if marker:
            assert full_answer.startswith(shown)
            assert marker.startswith(f"{len(shown)} of {len(full_answer)} characters shown")
        else:
            assert content.endswith("\u2026") and full_answer.startswith(content[:-1])


@PASSING
@given(limit=st.integers(max_value=-1))
def test_a_negative_max_content_chars_is_refused_early(
    emu: Emulator, target: Target, limit: int
) -> None:
    outcome = attempt(emu, lambda: run_tool(target, max_content_chars=limit))
    assert outcome.error is not None, f"accepted max_content_chars={limit}"
    check_typed_and_early(outcome)
    assert "max_content_chars" in str(outcome.error), str(outcome.error)


SCHEMA_TAKERS: dict[str, Callable[..., Any]] = {
    "tool": run_tool,
    "loader": run_loader,
    "parser": run_parser,
    "client": run_client_with_schema,
}


@pytest.mark.parametrize("component", sorted(SCHEMA_TAKERS))
@PASSING
@given(schema=JSON_OBJECTS)
def test_any_json_object_schema_is_sent_or_refused_early(
    emu: Emulator, target: Target, component: str, schema: dict[str, Any]
) -> None:
    outcome = attempt(emu, lambda: SCHEMA_TAKERS[component](target, json_schema=schema))
    works_or_refused_early(outcome)
    if outcome.error is None:
        assert outcome.requests > 0
    else:
        assert "json_schema" in str(outcome.error), str(outcome.error)


@PASSING
@given(schema=JSON_NON_OBJECTS)
def test_tool_refuses_a_json_schema_that_is_not_an_object(schema: Any) -> None:
    with pytest.raises(ValueError, match="json_schema"):
        VLMRunAgentTool(prompt=PROMPT, json_schema=schema)


@pytest.mark.parametrize("component", ["client", "loader", "parser"])
@PASSING
@given(schema=JSON_NON_OBJECTS)
def test_a_json_schema_that_is_not_an_object_is_refused_early(
    emu: Emulator, target: Target, component: str, schema: Any
) -> None:
    outcome = attempt(emu, lambda: SCHEMA_TAKERS[component](target, json_schema=schema))
    assert outcome.error is not None, f"accepted json_schema={schema!r}"
    check_typed_and_early(outcome)
    assert "json_schema" in str(outcome.error), str(outcome.error)


AGENT_TAKERS: dict[str, Callable[..., Any]] = {
    "tool": run_tool,
    "loader": run_loader,
    "parser": run_parser,
    "extractor": run_extractor,
}


@pytest.mark.parametrize("component", sorted(AGENT_TAKERS))
@PASSING
@given(agent=AGENT_NAMES)
def test_an_agent_name_is_sent_as_given(
    emu: Emulator, target: Target, component: str, agent: str
) -> None:
    options: dict[str, Any] = {"agent_name": agent}
    if component in ("tool", "loader", "parser"):
        options["prompt"] = None
    outcome = attempt(emu, lambda: AGENT_TAKERS[component](target, **options))
    assert outcome.error is None, repr(outcome.error)
    latest = emu.execution(emu.execution_ids()[-1])
    assert latest is not None and latest["name"] == agent


@pytest.mark.parametrize("component", sorted(AGENT_TAKERS))
@PASSING
@given(agent=BLANK_NAMES)
def test_a_blank_agent_name_is_refused_early(
    emu: Emulator, target: Target, component: str, agent: str
) -> None:
    options: dict[str, Any] = {"agent_name": agent}
    if component in ("tool", "loader", "parser"):
        options["prompt"] = None
    outcome = attempt(emu, lambda: AGENT_TAKERS[component](target, **options))
    assert outcome.error is not None, f"accepted agent_name={agent!r}"
    check_typed_and_early(outcome)
    assert "agent" in str(outcome.error), str(outcome.error)


@PASSING
@given(agent=st.integers() | st.lists(st.text(max_size=3), max_size=2))
def test_tool_refuses_an_agent_name_that_is_not_text(agent: Any) -> None:
    with pytest.raises(ValueError, match="agent_name"):
        VLMRunAgentTool(agent_name=agent, api_key=KEY)


@pytest.mark.parametrize("component", ["loader", "parser"])
@PASSING
@given(agent=st.integers())
def test_an_agent_name_that_is_not_text_is_refused_early(
    emu: Emulator, target: Target, component: str, agent: int
) -> None:
    outcome = attempt(emu, lambda: AGENT_TAKERS[component](target, agent_name=agent, prompt=None))
    assert outcome.error is not None, f"accepted agent_name={agent!r}"
    check_typed_and_early(outcome)
