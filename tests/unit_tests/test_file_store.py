"""FileByteStore, the default store of the result cache: where it lives, how keys become
file names, and what a crash or a concurrent writer leaves behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_vlmrun.client.storage import FileByteStore, default_cache_dir


@pytest.fixture
def no_cache_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("VLMRUN_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_cache_folder_follows_vlmrun_cache_dir_then_xdg_then_home(
    no_cache_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert default_cache_dir() == no_cache_env / ".cache" / "langchain-vlmrun"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty means unset (XDG spec)
    assert default_cache_dir() == no_cache_env / ".cache" / "langchain-vlmrun"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "langchain-vlmrun"
    monkeypatch.setenv("VLMRUN_CACHE_DIR", "~/results")
    assert default_cache_dir() == no_cache_env / "results"  # taken as given, ~ expanded
    assert FileByteStore().root == no_cache_env / "results"


def test_repr_names_the_folder(tmp_path: Path) -> None:
    assert repr(FileByteStore(tmp_path / "s")) == f"FileByteStore({str(tmp_path / 's')!r})"


@given(key=st.text(min_size=1, max_size=20))  # at most 12 bytes each once encoded
def test_any_key_is_one_file_inside_the_folder(key: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "store"
        store = FileByteStore(root)
        store.mset([(key, b"v")])
        (only,) = list(Path(folder).rglob("*.bin"))  # no key escapes or nests
        assert only.parent == root
        assert store.mget([key]) == [b"v"] and list(store.yield_keys()) == [key]


def test_a_key_too_long_for_a_file_name_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    store = FileByteStore(tmp_path / "store")
    store.mset([("k" * 251, b"v")])  # 251 + ".bin": the longest name there is
    with pytest.raises(ValueError, match=r"encodes to a 256-byte file name \(at most 255\); use"):
        store.mset([("k" * 252, b"v")])
    with pytest.raises(ValueError, match="encodes to a 604-byte"):
        store.mget(["\U0001f600" * 50])
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["k" * 251 + ".bin"]


def test_a_key_with_slashes_does_not_leave_the_folder(tmp_path: Path) -> None:
    store = FileByteStore(tmp_path / "store")
    store.mset([("../../escaped/x", b"v")])
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["..%2F..%2Fescaped%2Fx.bin"]
    assert not (tmp_path / "escaped").exists()


def test_the_folder_and_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = FileByteStore(tmp_path / "a" / "b" / "store")  # parents created too
        store.mset([("k", b"secret text")])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "b" / "store").stat().st_mode) == 0o700
    (entry,) = (tmp_path / "a" / "b" / "store").iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_a_write_that_fails_leaves_the_old_value_and_no_stray_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileByteStore(tmp_path / "store")
    store.mset([("k", b"old")])
    moves: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        moves.append((src, dst))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):  # the real cause, not a cleanup's
        store.mset([("k", b"new")])
    monkeypatch.setattr(os, "replace", real_replace)
    ((src, dst),) = moves
    # written next to its destination (an atomic rename), as a hidden temporary file
    assert Path(src).parent == tmp_path / "store" and Path(src).name.startswith(".tmp-")
    assert Path(dst) == tmp_path / "store" / "k.bin"
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["k.bin"]
    assert store.mget(["k"]) == [b"old"]


def test_an_empty_or_missing_folder_has_no_keys(tmp_path: Path) -> None:
    store = FileByteStore(tmp_path / "never-written")
    assert list(store.yield_keys()) == [] and store.mget(["k"]) == [None]
    store.mdelete(["k"])  # deleting what is not there is fine
    (tmp_path / "never-written").mkdir()
    (tmp_path / "never-written" / "notes.txt").write_text("not ours")
    assert list(store.yield_keys()) == []
