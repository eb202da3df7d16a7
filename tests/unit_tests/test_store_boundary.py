"""Stores that fail closed: records a neighbour planted or broke are misses (with a
warning), never an exception or a hang; a folder others can write is not used as is;
namespaces never prefix each other; with a signing key, only signed records count."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import AgentExecution, FileByteStore, ResultCache
from langchain_vlmrun.client import storage

DONE = AgentExecution.model_validate({"id": "ex-1", "status": "completed", "response": {"n": 1}})


def cache_in(folder: Path, **options: object) -> ResultCache:
    return ResultCache(FileByteStore(folder), **options)  # type: ignore[arg-type]


def record_file(cache: ResultCache, key: str) -> Path:
    store = cache.store
    assert isinstance(store, FileByteStore)
    return store._path(key)


@pytest.fixture
def filled(tmp_path: Path) -> tuple[ResultCache, str]:
    cache = cache_in(tmp_path / "cache")
    key = cache.key("sha256:aa", {"prompt": "p"})
    cache.mark_completed(key, DONE, None)
    assert cache.get(key) is not None
    return cache, key


def test_a_deeply_nested_record_is_a_miss_with_a_warning(
    filled: tuple[ResultCache, str], caplog: pytest.LogCaptureFixture
) -> None:
    cache, key = filled
    record_file(cache, key).write_bytes(b"[" * 200_000 + b"]" * 200_000)
    assert cache.get(key) is None
    assert f"ignoring record {key}" in caplog.text
    assert cache.prune() == 1  # and prune removes it instead of crashing


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_place_of_a_record_is_a_miss_not_a_hang(
    filled: tuple[ResultCache, str], caplog: pytest.LogCaptureFixture
) -> None:
    cache, key = filled
    path = record_file(cache, key)
    path.unlink()
    os.mkfifo(path)
    assert cache.get(key) is None  # returns at once: the FIFO is never opened for reading
    assert "not a file" in caplog.text or "No such device" in caplog.text
    cache.mark_completed(key, DONE, None)  # a write replaces it
    assert cache.get(key) is not None


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_link_to_an_endless_file_is_a_miss(
    filled: tuple[ResultCache, str], caplog: pytest.LogCaptureFixture
) -> None:
    cache, key = filled
    path = record_file(cache, key)
    path.unlink()
    path.symlink_to("/dev/zero")
    assert cache.get(key) is None
    assert f"ignoring {path.name}" in caplog.text


def test_a_record_over_the_size_limit_is_a_miss(
    filled: tuple[ResultCache, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, key = filled
    size = record_file(cache, key).stat().st_size
    monkeypatch.setattr(storage, "MAX_VALUE", size - 1)
    assert cache.store.mget([key]) == [None]
    monkeypatch.setattr(storage, "MAX_VALUE", size)
    assert cache.get(key) is not None


def test_a_cache_folder_others_can_write_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    cache = cache_in(folder)
    assert cache.get(cache.key("sha256:aa", {})) is None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "was writable by other users; made it private" in caplog.text


def test_someone_elses_open_cache_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setattr(os, "getuid", lambda: folder.stat().st_uid + 1, raising=False)
    cache = cache_in(folder)
    with pytest.raises(PermissionError, match=r"belongs to another user.*VLMRUN_CACHE_DIR"):
        cache.get(cache.key("sha256:aa", {}))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777  # not touched


def test_clearing_a_namespace_leaves_the_namespaces_it_prefixes() -> None:
    store = InMemoryByteStore()
    app, tenant = ResultCache(store, namespace="app"), ResultCache(store, namespace="app:tenant2")
    app_key, tenant_key = app.key("sha256:aa", {}), tenant.key("sha256:aa", {})
    app.mark_completed(app_key, DONE, None)
    tenant.mark_completed(tenant_key, DONE, None)
    app.clear()
    assert app.get(app_key) is None and tenant.get(tenant_key) is not None
    app.mark_completed(app_key, DONE, None)
    assert ResultCache(store, namespace="app", max_entries=0).prune() == 1
    assert tenant.get(tenant_key) is not None


def test_with_a_signing_key_only_signed_records_are_trusted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryByteStore()
    cache = ResultCache(store, signing_key="k" * 32)
    key, other = cache.key("sha256:aa", {}), cache.key("sha256:bb", {})
    cache.mark_completed(key, DONE, None)
    assert cache.get(key) is not None
    # a record planted by someone without the key, even a well-formed one
    ResultCache(store).mark_completed(other, DONE, None)
    assert cache.get(other) is None
    # a signed record moved to another key (another document's)
    store.mset([(other, store.mget([key])[0] or b"")])
    assert cache.get(other) is None
    assert ResultCache(store, signing_key="another key!").get(key) is None
    assert "not signed with signing_key" in caplog.text
    assert "k" * 32 not in repr(cache) and "k" * 32 not in caplog.text


def test_a_blank_signing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="signing_key must not be blank"):
        ResultCache(InMemoryByteStore(), signing_key="  ")


def test_warnings_name_the_record_but_never_its_content(
    filled: tuple[ResultCache, str], caplog: pytest.LogCaptureFixture
) -> None:
    cache, key = filled
    record_file(cache, key).write_bytes(b'{"state": "completed", "secret-text": 1}')
    caplog.set_level(logging.WARNING)
    assert cache.get(key) is None
    assert "secret-text" not in caplog.text


# --- the seal itself (core/_signing.py) ------------------------------------------------------


def test_the_seal_is_the_documented_hmac_so_other_versions_can_open_it() -> None:
    import hashlib
    import hmac

    from pydantic import SecretStr

    from langchain_vlmrun.core._signing import seal, unseal

    key = SecretStr("a long random secret")
    body = b'{"state": "completed",\n"n": 1}'  # a body may hold newlines
    expected = hmac.new(b"a long random secret", b"vlmrun:ab\n" + body, hashlib.sha256)
    sealed = seal(key, "vlmrun:ab", body)
    assert sealed == expected.hexdigest().encode() + b"\n" + body
    assert unseal(key, "vlmrun:ab", sealed) == body


def test_a_signing_key_may_be_a_secret_str_and_opens_what_the_plain_one_sealed() -> None:
    from pydantic import SecretStr

    store = InMemoryByteStore()
    plain = ResultCache(store, signing_key="k" * 32)
    key = plain.key("sha256:aa", {})
    plain.mark_completed(key, DONE, None)
    assert ResultCache(store, signing_key=SecretStr("k" * 32)).get(key) is not None


def test_a_blank_signing_key_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError) as refused:
        ResultCache(InMemoryByteStore(), signing_key="")
    assert str(refused.value) == "signing_key must not be blank; pass a long random secret."
