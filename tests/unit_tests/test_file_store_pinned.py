"""FileByteStore pinned down (issue 23): the warnings a user reads when a record is
ignored, word for word; values read back whole however many chunks they take; the
folder checked at every use, not once; a folder a neighbour creates meanwhile used."""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from langchain_vlmrun import FileByteStore
from langchain_vlmrun.client import storage


@pytest.fixture
def store(tmp_path: Path) -> FileByteStore:
    made = FileByteStore(tmp_path / "store")
    made.mset([("k", b"value")])
    return made


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_value_of_many_chunks_is_read_back_whole(store: FileByteStore) -> None:
    value = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB: three reads of 1 MiB
    store.mset([("big", value)])
    assert store.mget(["big"]) == [value]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_ignored_as_not_a_file(
    store: FileByteStore, caplog: pytest.LogCaptureFixture
) -> None:
    path = store._path("k")
    path.unlink()
    os.mkfifo(path)
    assert store.mget(["k"]) == [None]
    assert warnings(caplog) == [f"cache: ignoring {path.name}: not a file"]


def test_a_link_is_ignored_with_the_reason_the_system_gives(
    store: FileByteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = store._path("k")
    path.unlink()
    (tmp_path / "elsewhere").write_bytes(b"planted")
    path.symlink_to(tmp_path / "elsewhere")
    assert store.mget(["k"]) == [None]
    assert warnings(caplog) == [f"cache: ignoring {path.name}: {os.strerror(errno.ELOOP)}"]


def test_a_value_over_the_limit_is_ignored(
    store: FileByteStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(storage, "MAX_VALUE", 4)
    assert store.mget(["k"]) == [None]
    assert warnings(caplog) == [f"cache: ignoring {store._path('k').name}: over the size limit"]


@pytest.mark.parametrize(("limit", "size"), [(10, 40), (3 * 2**19, 3 * 2**20)])
def test_a_value_that_grows_while_it_is_read_is_ignored(
    store: FileByteStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    limit: int,
    size: int,
) -> None:
    """Small when looked at, over the limit by the time it is read (in the first chunk
    of 1 MiB, or only in a later one): still refused."""
    store.mset([("k", b"x" * size)])
    real_fstat = os.fstat

    def small_when_looked_at(fd: int) -> Any:
        info = real_fstat(fd)
        return os.stat_result((info.st_mode, *info[1:6], 3, *info[7:]))

    monkeypatch.setattr(storage, "MAX_VALUE", limit)
    monkeypatch.setattr(os, "fstat", small_when_looked_at)
    assert store.mget(["k"]) == [None]
    assert warnings(caplog) == [f"cache: ignoring {store._path('k').name}: over the size limit"]
    store.mset([("k", b"x" * limit)])
    assert store.mget(["k"]) == [b"x" * limit]  # at the limit: read


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.EIO, os.strerror(errno.EIO)), os.strerror(errno.EIO)),
        (OSError("gone"), "gone"),
    ],
)
def test_a_read_error_is_a_miss_with_its_reason(
    store: FileByteStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: OSError,
    said: str,
) -> None:
    def failing(fd: int, size: int) -> bytes:
        raise error

    monkeypatch.setattr(os, "read", failing)
    assert store.mget(["k"]) == [None]
    assert warnings(caplog) == [f"cache: ignoring {store._path('k').name}: {said}"]


def test_a_file_in_place_of_the_folder_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a folder")
    with pytest.raises(PermissionError) as info:
        FileByteStore(tmp_path / "store").mget(["k"])
    assert str(info.value) == (
        f"The cache folder {tmp_path / 'store'} is not a folder; choose another with "
        "VLMRUN_CACHE_DIR or FileByteStore(root=...)."
    )


def test_someone_elses_open_folder_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    folder.chmod(0o770)  # their group can write: as unsafe as everyone
    monkeypatch.setattr(os, "getuid", lambda: folder.stat().st_uid + 1, raising=False)
    with pytest.raises(PermissionError) as info:
        FileByteStore(folder).mset([("k", b"v")])
    assert str(info.value) == (
        f"The cache folder {folder} belongs to another user and others can write to it, "
        "so its records cannot be trusted; choose a folder of your own with "
        "VLMRUN_CACHE_DIR or FileByteStore(root=...)."
    )
    assert list(folder.iterdir()) == []


def test_our_folder_opened_up_later_is_made_private_again_at_its_next_use(
    store: FileByteStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.mget(["k"]) == [b"value"] and warnings(caplog) == []
    store.root.chmod(0o777)  # a neighbour (or a careless chmod) opens it after first use
    assert store.mget(["k"]) == [b"value"]
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert warnings(caplog) == [
        f"the cache folder {store.root} was writable by other users; made it private (0700)"
    ]


def test_a_folder_others_may_only_enter_is_left_as_it_is(
    store: FileByteStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.root.chmod(0o711)  # others can traverse, not write: nothing to fix
    assert store.mget(["k"]) == [b"value"]
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o711 and warnings(caplog) == []


def test_a_folder_a_neighbour_creates_between_the_look_and_the_mkdir_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    real_stat = os.stat
    raced = []

    def not_there_yet(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if Path(path) == root and not raced:
            raced.append(True)
            root.mkdir()  # the other process wins the race just after our look
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", not_there_yet)
    store = FileByteStore(root)
    store.mset([("k", b"v")])
    assert raced and store.mget(["k"]) == [b"v"]
    assert stat.S_IMODE(real_stat(root).st_mode) == 0o700


def test_a_new_folder_is_private_from_its_creation_not_only_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Created 0700, not created open and then closed: nobody can plant a record in
    between."""
    root = tmp_path / "new" / "store"
    seen: list[int] = []
    real_chmod = os.chmod

    def chmod(path: Any, mode: int, **kwargs: Any) -> None:
        if Path(path) == root:
            seen.append(stat.S_IMODE(os.stat(root).st_mode))
        real_chmod(path, mode, **kwargs)

    monkeypatch.setattr(os, "chmod", chmod)
    FileByteStore(root).mset([("k", b"v")])  # (the process umask is left alone: it is
    assert seen and seen[0] == 0o700  # shared with any thread still running)


def test_a_failed_write_raises_its_cause_even_if_its_temporary_file_is_gone(
    store: FileByteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def replace(src: str, dst: str) -> None:
        Path(src).unlink()  # a neighbour cleaned the folder meanwhile
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError) as info:
        store.mset([("k", b"new")])
    assert info.value.errno == errno.ENOSPC  # the cause, not the cleanup's FileNotFoundError
