"""The model chooses the path: only files inside root_dir, of types VLM Run reads.

Every refusal happens before any request: the transport must see nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError

from langchain_vlmrun import FileSourceError
from langchain_vlmrun.files._confinement import normalise_roots, open_confined, resolve_allowed_file
from langchain_vlmrun.tools.agent_tool import VLMRunAgentTool, VLMRunToolError
from tests.mock_api import ScriptedAPI


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "inbox"
    root.mkdir()
    (root / "scan.png").write_bytes(b"\x89PNG fake")
    (root / ".env").write_text("VLMRUN_API_KEY=sk-secret")
    (root / "notes.py").write_text("print('hi')")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.png").write_bytes(b"\x89PNG")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(b"%PDF secret")
    os.symlink(outside / "secret.pdf", root / "link.pdf")
    os.symlink(root / "loop.pdf", root / "loop.pdf")  # a symlink loop
    os.symlink(root / ".env", root / "env.pdf")  # a harmless name for a secret
    (root / "folder.pdf").mkdir()
    return {"root": root, "outside": outside}


def call(tool: VLMRunAgentTool, file: str) -> ToolMessage:
    message = tool.invoke(
        {"type": "tool_call", "id": "c1", "name": tool.name, "args": {"file": file}}
    )
    assert isinstance(message, ToolMessage)
    return message


REFUSED = [
    ("../private/secret.pdf", "outside the folders"),
    ("{outside}/secret.pdf", "outside the folders"),
    ("link.pdf", "outside the folders"),  # symlink pointing out of the root
    ("{root}/../private/secret.pdf", "outside the folders"),
    (".env", "hidden file"),
    (".hidden/x.png", "hidden file"),
    ("notes.py", "Unsupported file type '.py'"),
    ("missing.pdf", "File not found"),
    ("file:///etc/passwd", "Unsupported URL scheme 'file'"),
    ("ftp://example.com/a.pdf", "Unsupported URL scheme 'ftp'"),
    ("https://", "Malformed URL"),
    ("/etc/passwd", "outside the folders"),
    ("env.pdf", "hidden file"),  # the symlink's target is checked, not its name
    ("~/secret.pdf", "outside the folders"),
    # inputs that would crash a naive resolver: each is a ToolException instead
    ("scan\x00.png", "not a usable file path"),
    ("~no-such-user-xyz/scan.png", "File not found"),  # a relative name, not a home
    ("loop.pdf", "not a usable file path"),
    ("x" * 5000 + ".png", "File not found"),
    ("folder.pdf", "not a regular file"),
    ("", "No file given"),
    ("   ", "No file given"),
    ("https://[::1/a.pdf", "Malformed URL"),
]


@pytest.mark.parametrize(("file", "message"), REFUSED)
def test_refused_before_any_request(layout: dict[str, Path], file: str, message: str) -> None:
    api = ScriptedAPI()
    tool = VLMRunAgentTool(prompt="read", root_dir=layout["root"], client=api.client())
    result = call(tool, file.format(root=layout["root"], outside=layout["outside"]))
    assert result.status == "error"
    assert message in str(result.content)
    assert api.requests == []


def test_no_root_means_no_local_files(layout: dict[str, Path]) -> None:
    api = ScriptedAPI()
    tool = VLMRunAgentTool(prompt="read", client=api.client())
    result = call(tool, str(layout["root"] / "scan.png"))
    assert result.status == "error"
    assert "root_dir" in str(result.content)  # says how to allow it
    assert api.requests == []


def test_refusal_is_a_tool_exception_when_not_handled(layout: dict[str, Path]) -> None:
    tool = VLMRunAgentTool(
        prompt="read",
        root_dir=layout["root"],
        client=ScriptedAPI().client(),
        handle_tool_error=False,
    )
    with pytest.raises(VLMRunToolError, match="outside the folders"):
        tool.invoke({"file": "../private/secret.pdf"})


async def test_async_refusals_send_nothing(layout: dict[str, Path]) -> None:
    api = ScriptedAPI()
    tool = VLMRunAgentTool(
        prompt="read", root_dir=[layout["root"]], async_client=api.async_client()
    )
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "c1", "name": tool.name, "args": {"file": "link.pdf"}}
    )
    assert message.status == "error" and api.requests == []


def test_relative_paths_are_looked_up_in_every_root(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "only-here.png").write_bytes(b"\x89PNG")
    roots = normalise_roots([first, second])
    assert resolve_allowed_file("only-here.png", roots) == (second / "only-here.png").resolve()
    with pytest.raises(FileSourceError, match="File not found"):
        resolve_allowed_file("nowhere.png", roots)


def test_description_tells_the_model_which_paths_work(layout: dict[str, Path]) -> None:
    no_root = VLMRunAgentTool(prompt="read", api_key="k")
    assert "Local files are not available" in no_root.description
    rooted = VLMRunAgentTool(prompt="read", api_key="k", root_dir=layout["root"])
    assert str(layout["root"].resolve()) in rooted.description
    custom = VLMRunAgentTool(prompt="read", api_key="k", description="Reads receipts.")
    assert custom.description == "Reads receipts."


def test_root_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an existing directory"):
        VLMRunAgentTool(prompt="read", root_dir=tmp_path / "nope")


def test_root_dir_none_means_no_folder_and_a_wrong_type_is_a_validation_error() -> None:
    assert VLMRunAgentTool(prompt="read", root_dir=None, api_key="k").root_dir == []
    with pytest.raises(ValidationError, match="root_dir"):
        VLMRunAgentTool(prompt="read", root_dir=5, api_key="k")  # type: ignore[arg-type]


# --- refusal messages: exact advice, the allowed folders, the refused source -------------


@pytest.fixture
def two_roots(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "folder.pdf").mkdir(parents=True)
    second.mkdir()
    (tmp_path / "elsewhere").mkdir()
    return normalise_roots([first, second])


REFUSAL_MESSAGES = [
    ("", "No file given: pass an http(s) URL or the path of a file in {allowed}."),
    (
        "../elsewhere/x.pdf",
        "../elsewhere/x.pdf is outside the folders this tool may read ({allowed}); "
        "use a file inside them or an http(s) URL.",
    ),
    (".secret.pdf", ".secret.pdf is a hidden file; it may not be read."),
    ("missing.pdf", "File not found: missing.pdf (looked in {allowed}); check the file name."),
    ("folder.pdf", "folder.pdf is not a regular file; name a file."),
    (
        "scan\x00.png",
        "'scan\\x00.png' is not a usable file path (embedded null byte); name a file by its path.",
    ),
    (
        "{first}/scan\x00.png",
        "'{first}/scan\\x00.png' is not a usable file path (embedded null byte); "
        "name a file by its path.",
    ),
]


@pytest.mark.parametrize(("file", "message"), REFUSAL_MESSAGES)
def test_refusals_name_the_allowed_folders_and_the_source(
    two_roots: list[Path], file: str, message: str
) -> None:
    file = file.format(first=two_roots[0])
    allowed = f"{two_roots[0]}, {two_roots[1]}"
    with pytest.raises(FileSourceError) as raised:
        resolve_allowed_file(file, two_roots)
    assert str(raised.value) == message.format(allowed=allowed, first=two_roots[0])
    assert raised.value.source == file


def test_without_roots_local_files_are_disabled() -> None:
    with pytest.raises(FileSourceError) as raised:
        resolve_allowed_file("scan.png", [])
    assert str(raised.value) == (
        "Reading local files is disabled for this tool: pass an http(s) URL instead. "
        "(Developers: allow a folder with root_dir=...)"
    )
    assert raised.value.source == "scan.png"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(36, "File name too long"), "File name too long"),  # not "[Errno 36] ..."
        (RuntimeError("Symlink loop from 'x'"), "Symlink loop from 'x'"),
        (ValueError(), "ValueError"),  # no text at all: the error's kind
    ],
)
def test_an_unusable_path_says_why(
    two_roots: list[Path], monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str
) -> None:
    def refuse(self: Path, strict: bool = False) -> Path:
        raise error

    monkeypatch.setattr(Path, "resolve", refuse)
    with pytest.raises(FileSourceError) as raised:
        resolve_allowed_file("scan.png", two_roots)
    assert str(raised.value) == (
        f"'scan.png' is not a usable file path ({reason}); name a file by its path."
    )
    assert raised.value.source == "scan.png"


def test_a_file_that_cannot_be_opened_says_why(
    two_roots: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    (two_roots[1] / "scan.png").write_bytes(b"\x89PNG fake")
    real_open = os.open

    def refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("scan.png"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(FileSourceError) as raised:
        open_confined("scan.png", two_roots)
    assert str(raised.value) == (
        f"Permission denied reading {two_roots[1] / 'scan.png'}; make it readable by this process."
    )


def test_home_paths_expand_to_the_home_folder(
    two_roots: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(two_roots[1]))
    (two_roots[1] / "scan.png").write_bytes(b"\x89PNG fake")
    assert resolve_allowed_file("~/scan.png", two_roots) == two_roots[1] / "scan.png"
    with pytest.raises(FileSourceError) as raised:  # "~" alone is the home folder itself
        resolve_allowed_file("~", two_roots)
    assert str(raised.value) == "~ is not a regular file; name a file."
    assert raised.value.source == "~"
