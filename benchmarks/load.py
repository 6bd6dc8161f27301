"""Load: 1,000 concurrent auto conversations on a scripted model that takes 1 s per reply.

Target (issue 7): at least 90% of ideal throughput, zero errors, event-loop lag p99 under 100 ms.
Ideal = conversations / (1 s reply + the delay between turns). Runs:

1. in process, SQLite, auto mode at the default speed (5: 6 s between turns) - the target run;
2. in process at the fastest speed (10: 1 s between turns) and with no delay at all: how far one
   process goes before it saturates (a ceiling, not the target);
3. deployed, only with `--deployed`: PostgreSQL + Redis, 2 web processes and 2 job workers, driven
   over HTTP through both web processes (`thinktank loadtest --url A --url B`), at the default speed.
   It flushes Redis db 14 and starts four server processes, so `make bench` leaves it out (Redis is
   shared with the test suite on a developer's machine) and says so.

The garbage collector is tuned as `thinktank serve`, `worker` and `loadtest` tune it, on the one
path that both `make bench` and `python benchmarks/load.py` take, and given back afterwards.

`python benchmarks/load.py [--quick] [--deployed]` (quick: 200 conversations, for a smoke run).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from _common import table, write

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.server_process import running_server, running_worker

from thinktank.loadtest import LoadTestConfig, LoadTestReport, run_against_server, run_in_process
from thinktank.models.scripted import Latency
from thinktank.ops.gc_tuning import tune_gc
from thinktank.store.db import Database

CONVERSATIONS = 1000
TURNS = 6
ONE_SECOND = Latency(1.0, 1.0)
DEFAULT_SPEED_DELAY = 6.0  # speed 5: (11 - 5) s between auto turns
FASTEST_SPEED_DELAY = 1.0
POSTGRES = os.environ.get("THINKTANK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_DB = 14


def row(name: str, report: LoadTestReport) -> list[object]:
    lag = report.loop_lag_ms or {}
    return [
        name,
        report.conversations,
        report.messages,
        report.errors,
        f"{report.throughput:.1f}",
        f"{report.ideal_throughput:.1f}",
        f"{report.efficiency:.2f}",
        f"{report.reply_seconds['p50']:.2f}/{report.reply_seconds['p99']:.2f}",
        f"{lag['p99']:.0f}" if lag else "-",
    ]


async def in_process(conversations: int, delay: float) -> LoadTestReport:
    config = LoadTestConfig(conversations=conversations, turns=TURNS, latency=ONE_SECOND, turn_delay=delay)
    return await run_in_process(config)


def admin(sql: str) -> None:
    subprocess.run(["psql", POSTGRES, "-q", "-c", sql], check=True, capture_output=True)


def deployed(conversations: int) -> LoadTestReport | None:
    """Two web processes and two workers on a fresh PostgreSQL database and Redis db 14."""
    name = f"thinktank_load_{secrets.token_hex(3)}"
    try:
        admin(f'CREATE DATABASE "{name}"')
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"  deployed run skipped: PostgreSQL unavailable ({exc})")
        return None
    base = POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url, redis_url = f"{base}/{name}", f"redis://127.0.0.1:6379/{REDIS_DB}"
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"], check=True, capture_output=True)
    try:
        db = Database(url)
        asyncio.run(_upgrade(db))
        env = {"THINKTANK_REDIS_URL": redis_url, "THINKTANK_LOG_FORMAT": "json"}
        with (
            running_server(database_url=url, latency="1", extra_env=env) as web_a,
            running_server(database_url=url, latency="1", extra_env=env) as web_b,
            running_worker(database_url=url, redis_url=redis_url, latency="1"),
            running_worker(database_url=url, redis_url=redis_url, latency="1"),
        ):
            config = LoadTestConfig(
                conversations=conversations, turns=TURNS, latency=ONE_SECOND, turn_delay=DEFAULT_SPEED_DELAY
            )
            return asyncio.run(run_against_server(config, [web_a.url, web_b.url]))
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"], check=False, capture_output=True)


async def _upgrade(db: Database) -> None:
    try:
        await db.upgrade()
    finally:
        await db.dispose()


@contextlib.contextmanager
def served_gc() -> Iterator[None]:
    """The server's garbage-collector settings for the duration, the process's own afterwards (in
    `make bench` the other benchmarks share this process)."""
    thresholds = gc.get_threshold()
    tune_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def main(*, quick: bool = False, with_deployed: bool = False) -> None:
    with served_gc():
        await _main(quick=quick, with_deployed=with_deployed)


async def _main(*, quick: bool, with_deployed: bool) -> None:
    conversations = 200 if quick else CONVERSATIONS
    runs: list[tuple[str, LoadTestReport]] = []
    started = time.perf_counter()
    runs.append(("in process, speed 5 (target)", await in_process(conversations, DEFAULT_SPEED_DELAY)))
    runs.append(("in process, speed 10", await in_process(conversations, FASTEST_SPEED_DELAY)))
    runs.append(("in process, no delay", await in_process(conversations, 0.0)))
    skipped = None
    if with_deployed:
        remote = await asyncio.to_thread(deployed, conversations)
        if remote is not None:
            runs.append(("PG+Redis, 2 web + 2 workers, speed 5", remote))
    else:
        skipped = "not run: it flushes Redis db 14 and starts 4 server processes; pass --deployed"
        print(f"\n  deployed shape (PostgreSQL + Redis, 2 web + 2 workers) {skipped}")
    headers = [
        "run",
        "convs",
        "msgs",
        "errors",
        "msg/s",
        "ideal",
        "of ideal",
        "reply p50/p99 s",
        "lag p99 ms",
    ]
    table(
        f"load ({TURNS} turns each, 1 s model; {time.perf_counter() - started:.0f} s)",
        headers,
        [row(name, report) for name, report in runs],
    )
    target = runs[0][1]
    met = target.efficiency >= 0.9 and target.errors == 0 and (target.loop_lag_ms or {}).get("p99", 1e9) < 100
    print(f"  target (>= 90% of ideal, 0 errors, lag p99 < 100 ms): {'met' if met else 'missed'}")
    write(
        "load",
        {
            "turns": TURNS,
            "latency_s": 1.0,
            "target_met": met,
            "runs": {name: report.to_json() for name, report in runs},
            "deployed_skipped": skipped,
        },
    )


if __name__ == "__main__":
    asyncio.run(main(quick="--quick" in sys.argv, with_deployed="--deployed" in sys.argv))
