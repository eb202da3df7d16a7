"""A hostile VLM Run (the emulator's hostile modes, real HTTP on 127.0.0.1), and a shared
Redis budget written by a hostile or broken client (issue 24).

- ``Retry-After: 864000`` / ``inf`` on 30 % of the requests: a 10-file load completes,
  no pause is longer than the 60 s cap, the shared budget is not frozen (the emulator
  and the client share one virtual clock: nothing really sleeps);
- huge and endless artifacts are refused at ``max_download_bytes`` and nothing is
  saved; huge and endless error answers are read only as far as their first 64 KiB;
  a trickled answer ends at about ``request_timeout``; a cut artifact is never saved;
- the Redis budget's script clamps what it reads and is given (inf, NaN, ten days).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from langchain_vlmrun import (
    APIConnectionError,
    APITimeoutError,
    AsyncVLMRunClient,
    InternalServerError,
    PollSchedule,
    ResponseRefusedError,
    RetryPolicy,
    VLMRunClient,
    VLMRunLoader,
)
from langchain_vlmrun.client._boundary import MAX_ERROR_BODY_BYTES
from langchain_vlmrun.client._budget import MAX_HOLD
from langchain_vlmrun.client._client import ClientHooks
from langchain_vlmrun.scaleout.redis_budget import RedisRequestBudget
from tests.emulator import Emulator, ManualClock

KEY = "sk-hostile-test-0123456789"
MODES = ["sync", "async"]
N_FILES = 10


def files(tmp_path: Path) -> list[str]:
    paths = []
    for i in range(N_FILES):
        path = tmp_path / f"scan-{i:02d}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + f"emulated scan number {i}".encode())
        paths.append(str(path))
    return paths


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def client_for(emu: Emulator, mode: str, **settings: Any) -> VLMRunClient | AsyncVLMRunClient:
    settings.setdefault("retry", RetryPolicy(max_retries=0))
    cls = VLMRunClient if mode == "sync" else AsyncVLMRunClient
    return cls(KEY, base_url=emu.base_url, poll=PollSchedule.immediate(), **settings)


def run(client: VLMRunClient | AsyncVLMRunClient, method: str, *args: Any, **kw: Any) -> Any:
    async def awaited() -> Any:
        async with client:  # type: ignore[union-attr]
            return await getattr(client, method)(*args, **kw)

    if isinstance(client, AsyncVLMRunClient):
        return asyncio.run(awaited())
    with client:
        return getattr(client, method)(*args, **kw)


def completed_execution(emu: Emulator) -> str:
    """The id of an execution that produced one ``img`` artifact (no faults yet)."""
    with VLMRunClient(KEY, base_url=emu.base_url, poll=PollSchedule.immediate()) as client:
        return client.run("https://example.com/a.pdf", prompt="Draw it").id


# --- Retry-After under faults ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("retry_after", [864000, "inf"])
def test_a_hostile_retry_after_on_30_percent_of_requests_freezes_nobody(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, mode: str, retry_after: Any
) -> None:
    clock = ManualClock(1_000_000.0)
    emu = emulator_factory(
        clock=clock,
        queue_time=0.5,
        processing_time=2.0,
        fault_rate=0.3,
        fault_kinds=("429",),
        retry_after=retry_after,
        seed=24,
    )
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)

    async def asleep(seconds: float) -> None:
        sleep(seconds)

    hooks = ClientHooks(clock=clock, sleep=sleep if mode == "sync" else asleep)
    settings: dict[str, Any] = {
        "base_url": emu.base_url,
        "requests_per_minute": 6000,  # a shared budget, as the workers had
        "retry": RetryPolicy(retry_timeout=3600),  # faults do not end the load
        "poll": PollSchedule(initial=1.0, maximum=5.0),
        "_hooks": hooks,
    }
    if mode == "sync":
        client: VLMRunClient | AsyncVLMRunClient = VLMRunClient(KEY, **settings)
        loader = VLMRunLoader(files(tmp_path), prompt="Describe", client=client)
        documents = loader.load()
    else:
        client = AsyncVLMRunClient(KEY, **settings)
        loader = VLMRunLoader(files(tmp_path), prompt="Describe", async_client=client)
        documents = asyncio.run(loader.aload())
    assert {d.metadata["source"] for d in documents} == set(files(tmp_path))
    assert emu.counters.snapshot()["faults_injected"].get("429", 0) > 10
    assert pauses and max(pauses) <= MAX_HOLD + 1.0  # the cap (and a few queued slots)
    if retry_after == 864000:
        assert MAX_HOLD in pauses  # the server's ten days, waited as the cap
    assert client.budget is not None and client.budget.backlog() <= MAX_HOLD


# --- huge, endless and trickled bodies ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["huge_body", "endless_body"])
def test_a_huge_or_endless_artifact_is_refused_and_nothing_is_saved(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, mode: str, kind: str
) -> None:
    emu = emulator_factory(artifact_kinds=("img",), huge_body_bytes=3_000_000)
    execution_id = completed_execution(emu)
    (artifact,) = emu.artifacts.items(execution_id)
    emu.config.fault_paths, emu.config.fault_kinds, emu.config.fault_rate = (
        "^/v1/artifacts$",
        (kind,),
        1.0,
    )
    client = client_for(emu, mode, max_download_bytes=1_000_000)
    with pytest.raises(ResponseRefusedError, match="over the limit of 1,000,000 bytes"):
        run(client, "download_artifact", execution_id, artifact.object_id, tmp_path)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_artifact_cut_short_is_never_saved(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, mode: str
) -> None:
    emu = emulator_factory(artifact_kinds=("doc",))
    execution_id = completed_execution(emu)
    (artifact,) = emu.artifacts.items(execution_id)
    emu.config.fault_paths, emu.config.fault_kinds, emu.config.fault_rate = (
        "^/v1/artifacts$",
        ("short_body",),
        1.0,
    )
    with pytest.raises(APIConnectionError):
        run(client_for(emu, mode), "download_artifact", execution_id, artifact.object_id, tmp_path)
    assert files_in(tmp_path) == []
    emu.config.fault_rate = 0.0  # the next try, whole, is saved
    saved = run(
        client_for(emu, mode), "download_artifact", execution_id, artifact.object_id, tmp_path
    )
    assert saved.path.read_bytes() == artifact.data


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["huge_error", "endless_error"])
def test_only_the_start_of_a_huge_or_endless_error_answer_is_read(
    emulator_factory: Callable[..., Emulator], mode: str, kind: str
) -> None:
    emu = emulator_factory(
        fault_rate=1.0,
        fault_kinds=(kind,),
        fault_paths="^/v1/agent/executions/",
        huge_body_bytes=50_000_000,
    )
    with pytest.raises(InternalServerError) as raised:
        run(client_for(emu, mode), "get_execution", "ex-1")
    assert len(raised.value.response.content) == MAX_ERROR_BODY_BYTES
    assert len(raised.value.message) < 500


@pytest.mark.parametrize("mode", MODES)
def test_a_trickled_answer_ends_at_about_request_timeout(
    emulator_factory: Callable[..., Emulator], mode: str
) -> None:
    emu = emulator_factory()
    execution_id = completed_execution(emu)
    # each chunk within the read timeout, the whole far beyond request_timeout
    emu.config.fault_paths, emu.config.fault_kinds, emu.config.fault_rate = (
        "^/v1/agent/executions/",
        ("slow_body",),
        1.0,
    )
    emu.config.slow_body_seconds, emu.config.slow_body_chunks = 60.0, 600
    client = client_for(emu, mode, request_timeout=1.0)
    with pytest.raises(APITimeoutError, match="still arriving after"):
        run(client, "get_execution", execution_id)


# --- the Redis budget's script ----------------------------------------------------------------


@pytest.fixture
def shared(redis_url: str) -> Iterator[tuple[RedisRequestBudget, redis.Redis]]:
    budget = RedisRequestBudget(60, redis=redis_url, key="hostile")
    connection = redis.Redis.from_url(redis_url)
    try:
        yield budget, connection
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("hold", "factor"),
    [("inf", "1"), ("nan", "nan"), ("1e300", "inf"), ("99999999999", "-3"), ("junk", "junk")],
)
def test_the_redis_script_clamps_a_state_written_by_anyone(
    shared: tuple[RedisRequestBudget, redis.Redis], hold: str, factor: str
) -> None:
    budget, connection = shared
    connection.hset("{hostile}:state", mapping={"hold": hold, "factor": factor})
    slot = budget.reserve_slot()
    assert slot.delay <= MAX_HOLD
    assert 1.0 <= slot.factor <= budget.max_slowdown


@pytest.mark.parametrize("retry_after", ["inf", "nan", "864000", "-inf"])
def test_the_redis_script_clamps_the_hold_it_is_given(
    shared: tuple[RedisRequestBudget, redis.Redis], retry_after: str
) -> None:
    budget, _ = shared
    args = ["penalize", budget.limit, repr(budget.window), "1.5", "4.0", retry_after, "60.0"]
    now, until, _factor = (float(v) for v in budget._script(keys=budget._keys, args=args))
    assert 0 <= until - now <= MAX_HOLD
    assert budget.reserve() <= MAX_HOLD
