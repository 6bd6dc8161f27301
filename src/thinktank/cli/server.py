"""`thinktank serve` and `thinktank db upgrade|current`."""

from __future__ import annotations

import ipaddress

import typer

from thinktank.cli.common import console, load_settings, on_database, reports_user_errors
from thinktank.errors import ConfigurationError
from thinktank.ops.gc_tuning import tune_gc
from thinktank.ops.logs import configure_logging
from thinktank.ops.profiles import check_profile
from thinktank.ops.sentry import init_sentry
from thinktank.store.db import Database

db_app = typer.Typer(help="Database schema migrations.")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@reports_user_errors
def serve_command(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to listen on (loopback only until sign-in exists)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
) -> None:
    """Run the web app and API: conversations keep running here even when no browser is watching."""
    settings = load_settings()
    if not is_loopback(host) and settings.auth != "multi":
        raise ConfigurationError(
            f"refusing to listen on {host} without sign-in: anyone who could reach it could use your keys; "
            "listen on 127.0.0.1, or set THINKTANK_AUTH=multi and THINKTANK_SECRET_KEY"
        )
    import uvicorn

    from thinktank.api.app import create_app
    from thinktank.web.assets import check_vendor_files

    check_vendor_files()
    check_profile(settings)
    configure_logging(log_format=settings.log_format, process=f"web:{port}")
    init_sentry(settings, process=f"web:{port}")
    app = create_app(settings)
    tune_gc()
    console.print(f"ThinkTank on http://{host}:{port}/  (API: /api/v1, docs: /docs)")
    # log_config=None: uvicorn's lines go through our structured logging too.
    uvicorn.run(app, host=host, port=port, log_config=None, log_level="info")


@reports_user_errors
def worker_command(
    max_jobs: int = typer.Option(
        2000, "--max-jobs", min=1, help="Conversations and batches this worker runs at once."
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=1, max=65535, help="Serve Prometheus metrics on this port (loopback)."
    ),
) -> None:
    """Run a job worker: drives auto-mode conversations and batch runs from the Redis queue
    (needs THINKTANK_REDIS_URL; start as many as you like, each conversation runs on exactly one)."""
    import asyncio

    from thinktank.worker import run_worker

    settings = load_settings()
    if not settings.redis_url:
        raise ConfigurationError("thinktank worker needs THINKTANK_REDIS_URL (the queue it takes jobs from)")
    check_profile(settings)
    configure_logging(log_format=settings.log_format, process="worker")
    init_sentry(settings, process="worker")

    def ready() -> None:
        where = f", metrics on :{metrics_port}/metrics" if metrics_port else ""
        console.print(f"ThinkTank worker ready (up to {max_jobs} jobs at once{where})")

    tune_gc()
    asyncio.run(run_worker(settings, max_jobs=max_jobs, metrics_port=metrics_port, on_ready=ready))


@db_app.command("upgrade")
@reports_user_errors
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database (THINKTANK_DATABASE_URL, or the default SQLite file) to the latest schema."""

    async def upgrade(db: Database) -> str | None:
        await db.upgrade(revision)
        return await db.current_revision()

    reached = on_database(load_settings(), upgrade, migrate_sqlite=False)
    console.print(f"database at revision {reached}")


@db_app.command("current")
@reports_user_errors
def db_current() -> None:
    """Show the database's schema revision and the newest one this version knows."""

    async def revisions(db: Database) -> tuple[str | None, str | None]:
        return await db.current_revision(), db.head_revision()

    current, head = on_database(load_settings(), revisions, migrate_sqlite=False)
    console.print(f"current: {current or 'empty'} · newest: {head}")


@reports_user_errors
def purge_command() -> None:
    """Delete conversations past their owners' delete-after-days (the server also does this hourly)."""
    from thinktank.accounts.retention import purge_expired

    async def purge(db: Database) -> int:
        async with db.session() as session:
            return await purge_expired(session)

    console.print(f"purged {on_database(load_settings(), purge)} conversation(s)")
