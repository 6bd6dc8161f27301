"""`thinktank worker`: takes drive and batch jobs from the arq queue in Redis.

Each drive job runs one conversation's auto mode while this process holds its lease. Every
SWEEP_SECONDS the worker also queues a drive for any conversation in auto mode that nobody holds
(its worker died, or Redis restarted and forgot the queue), so work resumes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from arq.worker import Worker, func
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from thinktank.assembly import service_from_settings
from thinktank.conversations import ConversationService
from thinktank.jobs.scale import BATCH_JOB, DRIVE_JOB, QUEUE_NAME, redis_settings
from thinktank.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from thinktank.settings import Settings
from thinktank.store.db import Database
from thinktank.store.scope import scoped

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0
DRIVE_TIMEOUT_SECONDS = 24 * 3600
"""A drive job lasts as long as its conversation runs."""
DEFAULT_MAX_JOBS = 2000


async def _sweep_forever(service: ConversationService) -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            queued = await service.sweep()
        except (RedisError, SQLAlchemyError, OSError) as exc:
            log.warning("the sweep for unheld conversations failed (%s); it runs again shortly", exc)
            continue
        if queued:
            log.info("queued %d conversation(s) in auto mode that no process held", queued)


async def serve_metrics(service: ConversationService, *, port: int) -> asyncio.Server:
    """A minimal HTTP endpoint for Prometheus on loopback: GET /metrics, nothing else."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            if request_line.startswith("GET /metrics"):
                body, status = await service.render_metrics(), "200 OK"
            else:
                body, status = b"not found\n", "404 Not Found"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {METRICS_CONTENT_TYPE}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", port)


def _jobs(service: ConversationService) -> list[Any]:
    async def drive_conversation(ctx: dict[str, Any], conversation_id: str, user_id: str) -> str:
        with scoped(user_id):
            return await service.drive(user_id=user_id, conversation_id=conversation_id)

    async def run_batch(ctx: dict[str, Any], batch_id: str, user_id: str) -> str:
        with scoped(user_id):
            return await service.batches.run(user_id=user_id, batch_id=batch_id)

    return [
        func(drive_conversation, name=DRIVE_JOB, timeout=DRIVE_TIMEOUT_SECONDS, max_tries=1),
        func(run_batch, name=BATCH_JOB, timeout=DRIVE_TIMEOUT_SECONDS, max_tries=1),
    ]


async def _take_jobs(worker: Worker) -> None:
    """arq's poll loop, restarted when Redis goes away and comes back."""
    while True:
        try:
            await worker.main()
            return
        except (RedisError, OSError) as exc:
            log.warning("the job queue (Redis) cannot be reached (%s); retrying in 1 s", type(exc).__name__)
            await asyncio.sleep(1.0)


async def run_worker(
    settings: Settings,
    *,
    max_jobs: int = DEFAULT_MAX_JOBS,
    metrics_port: int | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    if not settings.redis_url:
        raise RuntimeError("a job worker needs THINKTANK_REDIS_URL (the queue it takes jobs from)")
    db = Database(settings.resolved_database_url())
    try:
        async with service_from_settings(settings, role="worker", db=db) as service:
            worker = Worker(
                _jobs(service),
                queue_name=QUEUE_NAME,
                redis_settings=redis_settings(settings.redis_url),
                max_jobs=max_jobs,
                keep_result=0,
                poll_delay=0.05,
                handle_signals=False,
                log_results=False,
            )
            metrics_server = None
            if metrics_port is not None:
                metrics_server = await serve_metrics(service, port=metrics_port)
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stopping.set)
            tasks = [
                asyncio.create_task(_take_jobs(worker), name="arq jobs"),
                asyncio.create_task(_sweep_forever(service), name="sweep"),
                asyncio.create_task(stopping.wait(), name="signals"),
            ]
            if on_ready is not None:
                on_ready()
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Stop taking jobs, stop driving (leases are released when the service closes, so another
            # worker takes over at once), then let arq finish the jobs that have now returned.
            if metrics_server is not None:
                metrics_server.close()
            await service.close()
            for job in list(worker.tasks.values()):
                job.cancel()
            with contextlib.suppress(Exception):
                await worker.close()
    finally:
        await db.dispose()
