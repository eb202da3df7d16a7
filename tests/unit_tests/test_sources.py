"""files._sources: what a user hands over (path, bytes, Blob, URL) made uploadable.

A local file is opened once (never a FIFO, device or directory; optionally never a
symlink or a hard-linked file), typed by the gate, hashed in chunks and read back
through that one descriptor; a URL is checked before it is sent; every refusal is a
FileSourceError that says what to do, and leaves no descriptor open.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents.base import Blob

from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.core.errors import FileSourceError
from langchain_vlmrun.files import _sources
from langchain_vlmrun.files._sources import (
    CHUNK_SIZE,
    PreparedFile,
    _digest,
    check_url,
    is_url,
    medium_of_source,
    prepare_file,
    safe_filename,
)
from langchain_vlmrun.files._types import SNIFF_BYTES

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
TEXT = b"just some text, no known format"
NOT_REGULAR = "is not a regular file (a device, pipe or socket); name a file."
FD_DIR = Path("/proc/self/fd")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def open_fds() -> int:
    return len(os.listdir(FD_DIR))


def refusal(source: Any, **kwargs: Any) -> FileSourceError:
    with pytest.raises(FileSourceError) as caught:
        prepare_file(source, **kwargs)
    return caught.value


@pytest.fixture
def prepared_files() -> Iterator[list[PreparedFile]]:
    """Prepared files a test opened: closed at the end whatever happens."""
    opened: list[PreparedFile] = []
    yield opened
    for prepared in opened:
        prepared.close()


def prepared_path(opened: list[PreparedFile], source: Any, **kwargs: Any) -> PreparedFile:
    prepared = prepare_file(source, **kwargs)
    opened.append(prepared)
    return prepared


# --- is_url / check_url -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/a.pdf", True),
        ("http://example.com/a.pdf", True),
        ("ftp://example.com/a.pdf", True),  # URL-shaped: check_url refuses its scheme
        ("https://[::1", True),  # malformed, but a URL (check_url says why)
        ("://example.com/a.pdf", False),  # no scheme
        ("report.pdf", False),
        ("dir/report.pdf", False),
        ("C:\\docs\\report.pdf", False),
        ("", False),
        (b"https://example.com/a.pdf", False),
        (Path("https://example.com/a.pdf"), False),
        (None, False),
        (42, False),
    ],
)
def test_is_url_tells_urls_from_paths(value: object, expected: bool) -> None:
    assert is_url(value) is expected


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.text(max_size=40).filter(lambda s: "://" not in s))
def test_text_without_a_scheme_separator_is_never_a_url(value: str) -> None:
    assert is_url(value) is False


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/file.pdf",  # plain http is accepted
        "https://example.com/file.pdf",
        "HTTPS://EXAMPLE.COM/FILE.PDF",  # the scheme is case-insensitive
        "HtTp://example.com/a.pdf",
        "https://user:secret@example.com/a.pdf?x=1#p=2",  # kept for the request
        "https://[2001:db8::1]:8443/a.pdf",
        "https://example.com:8080",
        "https://example.com/caf%C3%A9%20menu.pdf",
        "https://example.com/café.pdf",  # printable non-ASCII is not a control character
        "https://example.com/a~b_c-d.pdf",
    ],
)
def test_check_url_returns_fetchable_urls_unchanged(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "bad",
    [
        *(" ", "\t", "\n", "\r", "\x0b", "\x0c"),
        *("\x00", "\x01", "\x08", "\x1b", "\x1f", "\x7f"),  # C0 controls and DEL
        *("\x85", "\xa0", "\u2028", "\u3000"),  # Unicode whitespace
    ],
)
def test_check_url_refuses_whitespace_and_control_characters(bad: str) -> None:
    for url in (
        f"https://example.com/my{bad}file.pdf",
        f"https://user:secret@example.com/my{bad}file.pdf",
    ):
        with pytest.raises(FileSourceError) as caught:
            check_url(url)
        # without its credentials (urlsplit also drops a tab or line break then)
        shown = redact_url(url)
        assert "secret" not in shown and shown.startswith("https://example.com/my")
        assert str(caught.value) == (
            f"URL {shown!r} contains whitespace or control characters; "
            "percent-encode them (e.g. %20 for a space)."
        )
        assert caught.value.source == shown


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    path=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="#?[]@:"),
        max_size=20,
    ),
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
)
def test_check_url_accepts_exactly_the_urls_without_space_or_controls(
    path: str, scheme: str
) -> None:
    url = f"{scheme}://files.example.com/{path}"
    unsafe = [ch for ch in path if ch.isspace() or ord(ch) < 32 or ord(ch) == 127]
    if unsafe:
        with pytest.raises(FileSourceError, match="whitespace or control characters"):
            check_url(url)
    else:
        assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("ftp://example.com/a.pdf", "ftp"),
        ("file:///etc/passwd", "file"),
        ("s3://bucket/a.pdf", "s3"),
        ("gs://user:secret@bucket/a.pdf", "gs"),
        ("javascript://example.com/%0Aalert(1)", "javascript"),
    ],
)
def test_check_url_refuses_other_schemes(url: str, scheme: str) -> None:
    with pytest.raises(FileSourceError) as caught:
        check_url(url)
    shown = url.replace("user:secret@", "")
    assert str(caught.value) == (
        f"Unsupported URL scheme {scheme!r} in {shown!r}: only http:// and https:// URLs "
        "can be passed to VLM Run; upload local files by path instead."
    )
    assert caught.value.source == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https:///a.pdf", "https:///a.pdf"),
        ("http://:8080/a.pdf", "http://:8080/a.pdf"),
        ("https://user:secret@/a.pdf", "https:///a.pdf"),
        ("https://", "https://"),
    ],
)
def test_check_url_refuses_a_url_without_a_host(url: str, shown: str) -> None:
    with pytest.raises(FileSourceError) as caught:
        check_url(url)
    assert str(caught.value) == (
        f"Malformed URL {shown!r}: it has no host. Use a full URL such as "
        "https://example.com/file.pdf."
    )
    assert caught.value.source == shown


@pytest.mark.parametrize(
    ("url", "shown", "why"),
    [
        ("https://[::1/a.pdf", "https://[::1/a.pdf", "Invalid IPv6 URL"),
        ("https://tok@[::1/a.pdf", "https://[::1/a.pdf", "Invalid IPv6 URL"),
    ],
)
def test_check_url_refuses_a_malformed_url(url: str, shown: str, why: str) -> None:
    with pytest.raises(FileSourceError) as caught:
        check_url(url)
    message = str(caught.value)
    assert message.startswith(f"Malformed URL {shown!r} (")
    assert message.endswith("). Use a full URL such as https://example.com/file.pdf.")
    assert f"({why})" in message
    assert caught.value.source == shown
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- bytes and Blobs ----------------------------------------------------------------


def test_bytes_without_a_name_are_named_from_their_hash_and_content() -> None:
    prepared = prepare_file(PDF)
    assert prepared == PreparedFile(
        filename=f"upload-{sha256(PDF)[:12]}.pdf",
        size=len(PDF),
        sha256=sha256(PDF),
        md5=md5(PDF),
        mime_type="application/pdf",
        data=PDF,
    )
    assert prepared.path is None and prepared.fd is None and prepared.data is PDF
    assert prepared.open().read() == PDF
    assert b"".join(prepared.iter_chunks()) == PDF


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_bytes_like_sources_keep_the_name_given(wrap: Callable[[bytes], Any]) -> None:
    prepared = prepare_file(wrap(PNG), filename="scan.png")
    assert (prepared.filename, prepared.mime_type, prepared.size) == (
        "scan.png",
        "image/png",
        len(PNG),
    )
    assert (prepared.sha256, prepared.md5) == (sha256(PNG), md5(PNG))
    assert prepared.data == PNG and type(prepared.data) is bytes
    assert prepared.open().read() == PNG


def test_empty_bytes_are_refused() -> None:
    for empty in (b"", bytearray(), Blob.from_data(b"", path="a.pdf")):
        error = refusal(empty)
        assert str(error) == "The data is empty (0 bytes); pass the file's content."
        assert error.source is None


def test_bytes_over_max_size_are_refused_at_the_limit_not_before() -> None:
    assert prepare_file(PDF, max_size=len(PDF)).size == len(PDF)
    error = refusal(PDF, max_size=len(PDF) - 1)
    assert str(error) == (
        f"the data is {len(PDF):,} bytes, over the {len(PDF) - 1:,}-byte limit "
        "(max_file_size); split or compress it, or raise max_file_size."
    )
    assert error.source == "the data"
    named = refusal(PDF, filename="big.pdf", max_size=1000)
    assert str(named).startswith("big.pdf is 1,033 bytes, over the 1,000-byte limit")
    assert named.source == "big.pdf"


def test_bytes_of_an_unsupported_kind_are_refused() -> None:
    unnamed = refusal(TEXT)  # named as what the user gave, not a name made up for it
    assert str(unnamed).startswith("Cannot tell what kind of file the data is: ")
    assert unnamed.source is None
    assert "does not look like a .pdf file" in str(refusal(TEXT, filename="a.pdf"))


def test_an_empty_filename_is_a_name_without_extension() -> None:
    assert prepare_file(PDF, filename="").filename == "upload.pdf"


def test_a_blob_in_memory_takes_its_name_from_its_path_unless_one_is_given() -> None:
    blob = Blob.from_data(PDF, path="some/dir/report.pdf")
    prepared = prepare_file(blob)
    assert (prepared.filename, prepared.data, prepared.fd) == ("report.pdf", PDF, None)
    assert prepared.path is None  # the bytes are in memory: nothing is read from the path
    assert prepare_file(blob, filename="renamed.pdf").filename == "renamed.pdf"
    unnamed = prepare_file(Blob.from_data(PDF))
    assert unnamed.filename == f"upload-{sha256(PDF)[:12]}.pdf"


def test_a_blob_is_refused_when_its_bytes_are_not_its_mimetype() -> None:
    prepared = prepare_file(Blob.from_data(PDF, mime_type="application/pdf"))
    assert prepared.mime_type == "application/pdf"
    assert prepared.filename == f"upload-{sha256(PDF)[:12]}.pdf"
    for lying in (TEXT, b"hello", PNG):
        with pytest.raises(FileSourceError, match="declared as application/pdf but"):
            prepare_file(Blob.from_data(lying, mime_type="application/pdf"))
    with pytest.raises(FileSourceError, match="Cannot tell what kind of file"):
        prepare_file(Blob.from_data(TEXT, mime_type="text/plain"))


def test_a_blob_in_memory_is_size_checked() -> None:
    error = refusal(Blob.from_data(PDF, path="r.pdf"), max_size=10)
    assert str(error).startswith(f"r.pdf is {len(PDF):,} bytes, over the 10-byte limit")


def test_a_blob_of_a_path_is_opened_once_not_loaded(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / "report.pdf", PDF)
    prepared = prepared_path(prepared_files, Blob.from_path(path))
    assert (prepared.filename, prepared.path, prepared.data) == ("report.pdf", path, None)
    assert prepared.fd is not None and prepared.open().read() == PDF
    renamed = prepared_path(prepared_files, Blob.from_path(path), filename="other.pdf")
    assert renamed.filename == "other.pdf"
    error = refusal(Blob.from_path(path), max_size=100)
    assert str(error).startswith(f"{path} is {len(PDF):,} bytes, over the 100-byte limit")


def test_a_blob_of_a_path_passes_its_mimetype_and_the_file_options(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / "scan", PDF)  # no extension: the mimetype names it
    prepared = prepared_path(prepared_files, Blob.from_path(path, mime_type="application/pdf"))
    assert (prepared.filename, prepared.mime_type) == ("scan.pdf", "application/pdf")
    text = write(tmp_path / "notes", TEXT)  # content not recognised
    assert "Cannot tell what kind of file notes is" in str(refusal(Blob.from_path(text)))
    lying = refusal(Blob.from_path(text, mime_type="application/pdf"))
    assert "notes is declared as application/pdf but" in str(lying)
    pdf = write(tmp_path / "a.pdf", PDF)
    os.link(pdf, tmp_path / "b.pdf")
    assert "has other hard links" in str(refusal(Blob.from_path(pdf), allow_hardlinks=False))


# --- paths --------------------------------------------------------------------------


def test_a_path_is_opened_once_typed_and_hashed(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / "report.pdf", PDF)
    for source in (path, str(path)):
        prepared = prepared_path(prepared_files, source)
        assert (prepared.filename, prepared.size, prepared.mime_type) == (
            "report.pdf",
            len(PDF),
            "application/pdf",
        )
        assert (prepared.sha256, prepared.md5) == (sha256(PDF), md5(PDF))
        assert prepared.path == path and prepared.data is None
        assert prepared.fd is not None and os.fstat(prepared.fd).st_ino == path.stat().st_ino
        assert prepared.open().read() == PDF


def test_a_path_may_be_uploaded_under_another_name(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / "download.bin", PDF)
    prepared = prepared_path(prepared_files, path, filename="invoice.pdf")
    assert (prepared.filename, prepared.path) == ("invoice.pdf", path)
    unnamed = prepared_path(prepared_files, write(tmp_path / "scan", PNG))
    assert (unnamed.filename, unnamed.mime_type) == ("scan.png", "image/png")


def test_a_home_relative_path_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prepared_files: list[PreparedFile]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "report.pdf", PDF)
    prepared = prepared_path(prepared_files, "~/report.pdf")
    assert prepared.path == tmp_path / "report.pdf"


def test_a_missing_path_says_where_relative_paths_resolve(tmp_path: Path) -> None:
    path = tmp_path / "missing.pdf"
    error = refusal(path)
    assert str(error) == (
        f"File not found: {path}. Check the path (relative paths resolve against {Path.cwd()})."
    )
    assert error.source == str(path)
    assert error.__cause__ is None and error.__suppress_context__


def test_a_directory_is_refused_with_what_to_use_instead(tmp_path: Path) -> None:
    error = refusal(tmp_path)
    assert str(error) == (
        f"{tmp_path} is a directory, not a file. Pass a file, or use VLMRunLoader to "
        "load every file in a directory."
    )
    assert error.source == str(tmp_path)


def test_a_device_is_not_a_regular_file() -> None:
    error = refusal("/dev/null")
    assert str(error) == f"/dev/null {NOT_REGULAR}"
    assert error.source == "/dev/null"


@pytest.mark.parametrize("confined", [False, True])
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path, confined: bool) -> None:
    """Opening a FIFO without O_NONBLOCK waits for a writer, forever."""
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            prepare_file(fifo, root=tmp_path if confined else None)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=2)
    if thread.is_alive():  # stuck in open(): release it with a writer, then fail
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        thread.join(timeout=5)
        os.close(writer)
        pytest.fail("opening a FIFO blocked, waiting for a writer")
    (error,) = outcome
    assert isinstance(error, FileSourceError)
    assert str(error) == f"{fifo} {NOT_REGULAR}"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.pdf", b"")
    error = refusal(path)
    assert str(error) == f"{path} is empty (0 bytes); check it was written completely."
    assert error.source == str(path)


def test_a_one_byte_file_is_not_empty(tmp_path: Path) -> None:
    # one byte is no known format: the type gate, not the empty check, refuses it
    error = refusal(write(tmp_path / "one.pdf", b"%"))
    assert "does not look like a .pdf file" in str(error)


def test_a_file_over_max_size_is_refused_at_the_limit_not_before(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / "report.pdf", PDF)
    assert prepared_path(prepared_files, path, max_size=len(PDF)).size == len(PDF)
    error = refusal(path, max_size=len(PDF) - 1)
    assert str(error) == (
        f"{path} is {len(PDF):,} bytes, over the {len(PDF) - 1:,}-byte limit "
        "(max_file_size); split or compress it, or raise max_file_size."
    )
    assert error.source == str(path)


def test_a_file_of_the_wrong_type_is_refused_by_the_gate(tmp_path: Path) -> None:
    assert "Unsupported file type '.txt'" in str(refusal(write(tmp_path / "a.txt", PDF)))
    assert "does not look like a .pdf file" in str(refusal(write(tmp_path / "b.pdf", TEXT)))
    assert "is named as image but its content is application/pdf" in str(
        refusal(write(tmp_path / "c.png", PDF))
    )


def test_an_unreadable_file_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "secret.pdf", PDF)

    def denied(*args: Any, **kwargs: Any) -> int:  # the tests run as root: chmod won't do
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", denied)
    error = refusal(path)
    assert str(error) == f"Permission denied reading {path}; make it readable by this process."
    assert error.source == str(path)
    assert error.__cause__ is None and error.__suppress_context__


def test_other_open_errors_name_the_reason(tmp_path: Path) -> None:
    loop_a, loop_b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    error = refusal(loop_a)  # followed: a loop, not "a symbolic link"
    assert str(error) == f"Cannot open {loop_a}: Too many levels of symbolic links."
    assert error.source == str(loop_a)
    long = tmp_path / ("x" * 300 + ".pdf")
    assert str(refusal(long)) == f"Cannot open {long}: File name too long."
    notdir = write(tmp_path / "file.pdf", PDF) / "inner.pdf"
    assert str(refusal(notdir)) == f"Cannot open {notdir}: Not a directory."
    assert str(refusal(notdir, root=tmp_path)) == (
        f"Cannot open {notdir}: a part of its path is not a folder, or is a symbolic link, "
        f"which is not followed in {tmp_path}."
    )


def test_an_open_error_without_a_reason_names_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.pdf", PDF)

    def fails(*args: Any, **kwargs: Any) -> int:
        raise BlockingIOError

    monkeypatch.setattr(os, "open", fails)
    error = refusal(path)
    assert str(error) == f"Cannot open {path}: BlockingIOError."
    assert error.__cause__ is None and error.__suppress_context__


def test_a_path_with_a_nul_byte_is_a_typed_refusal() -> None:
    error = refusal("bad\x00name.pdf")
    assert str(error) == "'bad\\x00name.pdf' is not a usable path (embedded null byte)."
    assert error.source == "bad\x00name.pdf"
    assert error.__cause__ is None and error.__suppress_context__


def test_an_unknown_home_is_a_typed_refusal() -> None:
    error = refusal("~no-such-user-here/a.pdf")
    assert str(error).startswith("'~no-such-user-here/a.pdf' is not a usable path (")


@pytest.mark.parametrize("source", [42, 1.5, None, ["a.pdf"], {"path": "a.pdf"}])
def test_an_unsupported_source_type_says_what_to_pass(source: Any) -> None:
    error = refusal(source)
    assert str(error) == (
        f"Unsupported file source of type {type(source).__name__}; pass a path (str or "
        "pathlib.Path), bytes, an http(s) URL or a langchain_core Blob."
    )


@pytest.mark.parametrize("url", ["https://example.com/x.pdf", "ftp://example.com/x.pdf"])
def test_a_url_is_not_uploaded(url: str) -> None:
    error = refusal(url)
    assert str(error) == (
        f"{url!r} is a URL; pass it to run()/execute() as an input instead of uploading it."
    )
    assert error.source == url


# --- symlinks, hard links, identity -------------------------------------------------


def test_symlinks_are_followed_by_default_and_confined_beneath_a_root(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    target = write(root / "sub" / "target.pdf", PDF)
    secret = write(outside / "secret.pdf", PDF)
    link = root / "link.pdf"
    link.symlink_to(target)
    prepared = prepared_path(prepared_files, link)
    assert prepared.open().read() == PDF and prepared.filename == "link.pdf"
    # beneath a root: a link to a file inside it is fine (the real path is opened)...
    assert prepared_path(prepared_files, link, root=root).size == len(PDF)
    # ...a link leading outside is not
    away = root / "away.pdf"
    away.symlink_to(secret)
    error = refusal(away, root=root)
    assert (
        str(error)
        == f"{away} leads outside {root} (a symbolic link?); it may not be read from there."
    )
    assert error.source == str(away)
    (root / "door").symlink_to(outside, target_is_directory=True)
    assert "leads outside" in str(refusal(root / "door" / "secret.pdf", root=root))


def test_hard_links_are_allowed_by_default_and_refused_when_asked(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    single = write(tmp_path / "single.pdf", PDF)
    assert prepared_path(prepared_files, single, allow_hardlinks=False).size == len(PDF)
    linked = write(tmp_path / "linked.pdf", PDF)
    os.link(linked, tmp_path / "elsewhere.pdf")
    assert prepared_path(prepared_files, linked).open().read() == PDF
    for links in (2, 3):
        if links == 3:
            os.link(linked, tmp_path / "third.pdf")
        error = refusal(linked, allow_hardlinks=False)
        assert str(error) == (
            f"{linked} has other hard links (possibly to a file outside the allowed "
            "folders); it may not be read."
        )
        assert error.source == str(linked)


def test_a_file_beneath_a_root_is_opened_without_following_links_on_the_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What was resolved is opened one component at a time: a component swapped for a
    link after the resolution (simulated: resolution sees the old layout) is refused."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    write(root / "sub" / "f.pdf", PDF)
    write(outside / "f.pdf", b"%PDF-1.4 SECRET")
    resolved = (root / "sub" / "f.pdf").resolve()
    (root / "sub").rename(root / "old")
    (root / "sub").symlink_to(outside, target_is_directory=True)
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: resolved)
    error = refusal(root / "sub" / "f.pdf", root=root)
    assert str(error) == (
        f"Cannot open {root / 'sub' / 'f.pdf'}: a part of its path is not a folder, or is a "
        f"symbolic link, which is not followed in {root}."
    )
    (root / "sub").unlink()
    (root / "sub").mkdir()
    (root / "sub" / "f.pdf").symlink_to(outside / "f.pdf")
    error = refusal(root / "sub" / "f.pdf", root=root)
    assert str(error) == (
        f"Cannot open {root / 'sub' / 'f.pdf'}: it is a symbolic link, which is not "
        f"followed in {root}."
    )


# --- reading: errors, descriptors, chunks -------------------------------------------


def test_a_read_error_is_typed_and_closes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.pdf", PDF)
    real_pread = os.pread
    before = open_fds()

    def failing_when(sniffing: bool, error: OSError) -> Callable[[int, int, int], bytes]:
        def pread(fd: int, n: int, offset: int) -> bytes:
            if (n == SNIFF_BYTES and offset == 0) is sniffing:
                raise error
            return real_pread(fd, n, offset)

        return pread

    cases = [
        (True, OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (False, OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (False, OSError("disk gone"), "disk gone"),
    ]
    for sniffing, oserror, reason in cases:
        monkeypatch.setattr(os, "pread", failing_when(sniffing, oserror))
        error = refusal(path)
        assert str(error) == f"Cannot read {path}: {reason}."
        assert error.source == str(path)
        assert error.__cause__ is None and error.__suppress_context__
    assert open_fds() == before


def test_refusals_leave_no_descriptor_open(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    pdf = write(tmp_path / "a.pdf", PDF)
    linked = write(tmp_path / "linked.pdf", PDF)
    os.link(linked, tmp_path / "other.pdf")
    symlink = tmp_path / "link.pdf"
    symlink.symlink_to(pdf)
    cases: list[tuple[Any, dict[str, Any]]] = [
        (tmp_path, {}),  # a directory
        (fifo, {}),
        ("/dev/null", {}),
        (write(tmp_path / "empty.pdf", b""), {}),
        (pdf, {"max_size": 10}),
        (write(tmp_path / "a.txt", PDF), {}),  # unsupported extension
        (write(tmp_path / "b.pdf", TEXT), {}),  # content of another kind
        (linked, {"allow_hardlinks": False}),
        (symlink, {"root": tmp_path / "elsewhere"}),
        (tmp_path / "x" / "a.pdf", {"root": tmp_path}),
        (tmp_path / "missing.pdf", {}),
    ]

    def refuse_all() -> None:
        for source, kwargs in cases:
            refusal(source, **kwargs)

    refuse_all()  # warm up (imports, caches)
    before = open_fds()
    for _ in range(5):
        refuse_all()
    assert open_fds() == before


def test_close_releases_the_descriptor_once(tmp_path: Path) -> None:
    path = write(tmp_path / "a.pdf", PDF)
    before = open_fds()
    prepared = prepare_file(path)
    fd = prepared.fd
    assert fd is not None and open_fds() == before + 1
    assert not os.get_inheritable(fd)  # a child process does not get the file
    prepared.close()
    assert prepared.fd is None and open_fds() == before
    with pytest.raises(OSError):
        os.fstat(fd)
    prepared.close()  # idempotent
    assert prepared.fd is None and open_fds() == before
    in_memory = prepare_file(PDF)
    in_memory.close()  # nothing to close
    assert in_memory.open().read() == PDF


def test_close_tolerates_a_descriptor_already_closed(tmp_path: Path) -> None:
    prepared = prepare_file(write(tmp_path / "a.pdf", PDF))
    assert prepared.fd is not None
    os.close(prepared.fd)
    prepared.close()  # EBADF is swallowed
    assert prepared.fd is None


def big_content(size: int, seed: int = 0) -> bytes:
    """``size`` bytes of a PDF whose every chunk differs from the others."""
    return (b"%PDF-1.7\n" + random.Random(seed).randbytes(size))[:size]


def test_a_file_of_several_chunks_is_hashed_and_read_back_whole(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    data = big_content(CHUNK_SIZE * 5 // 2)
    path = write(tmp_path / "big.pdf", data)
    prepared = prepared_path(prepared_files, path)
    assert (prepared.size, prepared.sha256, prepared.md5) == (len(data), sha256(data), md5(data))
    chunks = list(prepared.iter_chunks())
    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE // 2]
    assert b"".join(chunks) == data
    assert prepared.open().read() == data
    in_memory = prepare_file(data, filename="big.pdf")
    assert (in_memory.sha256, in_memory.md5) == (sha256(data), md5(data))
    assert [len(c) for c in in_memory.iter_chunks()] == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE // 2]


def test_every_stream_reads_from_the_start_on_its_own(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    data = big_content(3 * 1000 + 7)
    prepared = prepared_path(prepared_files, write(tmp_path / "a.pdf", data))
    first, second = prepared.open(), prepared.open()
    assert first.readable() and first.read(1000) == data[:1000]
    assert second.read(10) == data[:10]  # not where the first one stopped
    assert first.read(1000) == data[1000:2000]
    assert first.read() == data[2000:] and first.read() == b""
    raw = prepared.open().raw  # type: ignore[attr-defined]
    assert raw.readable()
    buffer = bytearray(1000)
    assert raw.readinto(buffer) == 1000 and bytes(buffer) == data[:1000]
    assert raw.readinto(buffer) == 1000 and bytes(buffer) == data[1000:2000]
    assert raw.readinto(buffer) == 1000 and bytes(buffer) == data[2000:3000]
    assert raw.readinto(buffer) == 7 and bytes(buffer[:7]) == data[3000:]
    assert raw.readinto(buffer) == 0 and raw.readinto(bytearray(1)) == 0


def test_a_file_that_grows_after_opening_is_read_at_its_checked_size(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / "a.pdf", PDF)
    prepared = prepared_path(prepared_files, path)
    with path.open("ab") as appending:
        appending.write(b"appended later")
    assert prepared.open().read() == PDF
    assert b"".join(prepared.iter_chunks()) == PDF
    raw = prepared.open().raw  # type: ignore[attr-defined]
    buffer = bytearray(len(PDF) + 100)
    assert raw.readinto(buffer) == len(PDF) and raw.readinto(buffer) == 0


def test_the_disk_is_read_in_whole_chunks_whatever_the_reader_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prepared_files: list[PreparedFile]
) -> None:
    data = big_content(CHUNK_SIZE * 5 // 2)
    prepared = prepared_path(prepared_files, write(tmp_path / "big.pdf", data))
    reads: list[tuple[int, int]] = []
    real_pread = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        reads.append((n, offset))
        return real_pread(fd, n, offset)

    monkeypatch.setattr(os, "pread", pread)
    three_reads = [(CHUNK_SIZE, 0), (CHUNK_SIZE, CHUNK_SIZE), (CHUNK_SIZE // 2, 2 * CHUNK_SIZE)]
    stream = prepared.open()
    assert b"".join(iter(lambda: stream.read(65536), b"")) == data  # httpx's read size
    assert reads == three_reads  # and none at the end of the file
    reads.clear()
    assert b"".join(prepared.iter_chunks()) == data
    assert reads == three_reads


def test_md5_is_asked_for_as_not_for_security(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prepared_files: list[PreparedFile]
) -> None:
    """On a FIPS build md5 is refused unless it is declared not for security."""
    real_md5 = hashlib.md5

    def fips_md5(*args: Any, usedforsecurity: bool = True) -> Any:
        if usedforsecurity is not False:
            raise ValueError("[digital envelope routines] unsupported")
        return real_md5(*args, usedforsecurity=False)

    monkeypatch.setattr(hashlib, "md5", fips_md5)
    assert prepare_file(PDF).md5 == real_md5(PDF).hexdigest()
    from_path = prepared_path(prepared_files, write(tmp_path / "a.pdf", PDF))
    assert from_path.md5 == real_md5(PDF).hexdigest()


def test_an_empty_in_memory_file_reads_empty() -> None:
    prepared = PreparedFile("a.pdf", 0, sha256(b""), md5(b""), "application/pdf", data=b"")
    stream = prepared.open()
    assert isinstance(stream, io.BytesIO) and stream.read() == b""
    assert list(prepared.iter_chunks()) == []


def test_digest_hashes_exactly_size_bytes_in_chunks() -> None:
    data = big_content(CHUNK_SIZE * 2 + 3)
    asked: list[tuple[int, int]] = []

    def read(n: int, at: int) -> bytes:
        asked.append((n, at))
        return data[at : at + n]

    size = CHUNK_SIZE + 10  # the source holds more (a file that grew since its stat)
    assert _digest(read, size) == (sha256(data[:size]), md5(data[:size]))
    assert asked == [(CHUNK_SIZE, 0), (10, CHUNK_SIZE)]


def test_digest_stops_at_the_end_of_a_source_shorter_than_its_size() -> None:
    data = b"%PDF-" + bytes(range(200))
    calls: list[int] = []

    def read(n: int, at: int) -> bytes:
        calls.append(at)
        return data[at : at + min(n, 50)]  # short reads, then nothing

    assert _digest(read, len(data) + 1000) == (sha256(data), md5(data))
    assert calls == [0, 50, 100, 150, 200, 205]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    body=st.binary(max_size=120),
    chunk=st.sampled_from([1, 2, 7, 16, 64]),
)
def test_hashes_and_reads_agree_with_hashlib_around_chunk_boundaries(
    body: bytes, chunk: int
) -> None:
    data = b"%PDF-" + body
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(_sources, "CHUNK_SIZE", chunk)
        path = write(Path(folder) / "a.pdf", data)
        from_path = prepare_file(path)
        try:
            for prepared in (from_path, prepare_file(data, filename="a.pdf")):
                assert (prepared.size, prepared.sha256, prepared.md5) == (
                    len(data),
                    sha256(data),
                    md5(data),
                )
                chunks = list(prepared.iter_chunks())
                assert b"".join(chunks) == data
                assert all(0 < len(c) <= chunk for c in chunks)
                assert prepared.open().read() == data
        finally:
            from_path.close()


@pytest.mark.parametrize("size", [CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 1])
def test_files_at_the_chunk_boundary_hash_and_read_back_whole(size: int, tmp_path: Path) -> None:
    data = big_content(size, seed=size)
    prepared = prepare_file(write(tmp_path / "a.pdf", data))
    try:
        assert (prepared.sha256, prepared.md5) == (sha256(data), md5(data))
        assert b"".join(prepared.iter_chunks()) == data
    finally:
        prepared.close()


# --- names and media ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("résumé.pdf", "résumé.pdf"),
        ("bad\udcff.pdf", "bad_.pdf"),
        ("\udce9\udce9.png", "__.png"),
        ("plain.pdf", "plain.pdf"),
    ],
)
def test_safe_filename_replaces_only_what_utf8_cannot_carry(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_an_undecodable_file_name_is_uploaded_under_a_safe_name(
    tmp_path: Path, prepared_files: list[PreparedFile]
) -> None:
    path = write(tmp_path / os.fsdecode(b"caf\xe9.pdf"), PDF)
    prepared = prepared_path(prepared_files, path)
    assert prepared.filename == "caf_.pdf" and prepared.path == path


@pytest.mark.parametrize(
    ("mime_type", "medium"),
    [
        ("application/pdf", "document"),
        ("image/png", "image"),
        ("audio/mpeg", "audio"),
        ("video/mp4", "video"),
        ("text/plain", "document"),  # unknown counts as a document
    ],
)
def test_the_medium_of_a_prepared_file_is_its_sniffed_type(mime_type: str, medium: str) -> None:
    prepared = PreparedFile("x", 1, "s", "m", mime_type, data=b"x")
    assert medium_of_source(prepared) == medium


@pytest.mark.parametrize(
    ("url", "medium"),
    [
        ("https://example.com/clip.mp4?token=x", "video"),
        ("https://example.com/clip.mp4?next=a.png?b", "video"),
        ("https://example.com/clip.mp4#t=10", "video"),  # a media fragment
        ("https://example.com/photo.png?size=2#top", "image"),
        ("https://example.com/clip.mp4/page", "document"),
        ("https://[::1/clip.mp4", "document"),  # malformed: unknown
        ("https://example.com/photo.JPG", "image"),
        ("https://example.com/song.mp3", "audio"),
        ("https://example.com/page", "document"),
        ("https://example.com/notes.txt", "document"),
    ],
)
def test_the_medium_of_a_url_is_its_extension(url: str, medium: str) -> None:
    assert medium_of_source(url) == medium


# --- confinement: the folder itself, another file system, no walking beneath ---------------


def test_the_folder_itself_is_no_file_of_it(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    with pytest.raises(FileSourceError) as refused:
        prepare_file(str(root), root=root)
    assert str(refused.value) == f"{root} is a directory, not a file."
    assert refused.value.source == str(root)


def test_a_file_on_another_file_system_inside_the_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path.resolve()
    path = root / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:  # folders read as on another device: a mount
        found = real_fstat(fd)
        if not os.path.isdir(f"/proc/self/fd/{fd}"):
            return found
        fields = list(found)
        fields[2] += 1  # st_dev
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", fstat)
    with pytest.raises(FileSourceError) as refused:
        prepare_file(str(path), root=root)
    assert str(refused.value) == (
        f"{path} is on another file system mounted inside {root}; it may not be read from there."
    )
    assert refused.value.source == str(path)


def test_where_the_system_cannot_walk_beneath_a_folder_its_files_open_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sources, "WALKS_BENEATH", False)
    root = tmp_path.resolve()
    (root / "a.pdf").write_bytes(b"%PDF-1.4\n")
    prepared = prepare_file(str(root / "a.pdf"), root=root)
    try:
        with prepared.open() as stream:
            assert stream.read() == b"%PDF-1.4\n"
    finally:
        prepared.close()
    os.mkfifo(root / "pipe.pdf")  # opened without blocking, then refused
    with pytest.raises(FileSourceError, match="not a regular file"):
        prepare_file(str(root / "pipe.pdf"), root=root)
