"""Run `thinktank serve` as a real process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_SECONDS = 90
"""Importing the app takes a few seconds alone and far longer on a machine busy with other runs."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    process: subprocess.Popen[bytes], url: str, *, logged: Callable[[], str], timeout: float
) -> None:
    """Until `url` answers 200; RuntimeError if the process exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {logged()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not start within {timeout:.0f} s")
        time.sleep(0.1)


def end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Callable[[], str] = lambda: ""
    """What the server has written to stderr so far."""

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, as in a crash or a pulled plug."""
        self.process.kill()
        self.process.wait(timeout=10)


@contextmanager
def running_server(
    *,
    database_url: str,
    latency: str = "0",
    port: int | None = None,
    data_dir: str | None = None,
    extra_env: dict[str, str] | None = None,
    start_seconds: float = START_SECONDS,
) -> Iterator[ServerProcess]:
    """`start_seconds`: how long to wait for /healthz (benchmarks on a busy machine wait longer)."""
    port = port or free_port()
    scratch = None if data_dir else tempfile.mkdtemp(prefix="thinktank-data-")
    env = {
        **os.environ,
        "THINKTANK_DATABASE_URL": database_url,
        "THINKTANK_SCRIPTED_LATENCY": latency,
        "PYTHONUNBUFFERED": "1",
        "THINKTANK_DATA_DIR": data_dir or scratch or "",
        **(extra_env or {}),
    }
    # A file, not a pipe: nobody reads it while the server runs, and a full pipe would stall it.
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [sys.executable, "-m", "thinktank", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )

    def logged() -> str:
        log_file.seek(0)
        return log_file.read().decode(errors="replace")

    server = ServerProcess(process, f"http://127.0.0.1:{port}", logged)

    try:
        wait_until_up(process, f"{server.url}/healthz", logged=logged, timeout=start_seconds)
        yield server
    finally:
        end(process)
        log_file.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@contextmanager
def running_worker(
    *, database_url: str, redis_url: str, latency: str = "0", extra_env: dict[str, str] | None = None
) -> Iterator[WorkerProcess]:
    """`thinktank worker` as a real process, returned once it takes jobs."""
    scratch = tempfile.mkdtemp(prefix="thinktank-worker-")
    env = {
        **os.environ,
        "THINKTANK_DATABASE_URL": database_url,
        "THINKTANK_REDIS_URL": redis_url,
        "THINKTANK_SCRIPTED_LATENCY": latency,
        "THINKTANK_DATA_DIR": scratch,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = Path(scratch) / "worker.log"
    log_file = log_path.open("wb")  # a file, not a pipe: nobody reads it while the worker runs
    process = subprocess.Popen(
        [sys.executable, "-m", "thinktank", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_file,
    )
    worker = WorkerProcess(process, log_path)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()  # blocks until ready, or EOF when it fails
        if "ready" not in line:
            process.wait(timeout=10)
            raise RuntimeError(f"worker did not start: {line}{log_path.read_text()}")
        yield worker
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        log_file.close()
        shutil.rmtree(scratch, ignore_errors=True)
