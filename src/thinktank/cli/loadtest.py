"""`thinktank loadtest`: many conversations at once on the scripted model (seed §4.3)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from thinktank.cli.common import console, load_settings, reports_user_errors
from thinktank.errors import UserError
from thinktank.loadtest import LoadTestConfig, LoadTestReport, run_against_server, run_in_process
from thinktank.models.scripted import Latency
from thinktank.ops.gc_tuning import tune_gc


def parse_latency(text: str) -> Latency:
    try:
        return Latency.parse(text)
    except ValueError as exc:
        raise UserError(f"--latency: {exc}") from None


@reports_user_errors
def loadtest_command(
    conversations: int = typer.Option(100, "--conversations", "-c", min=1, max=20_000, help="Run at once."),
    turns: int = typer.Option(5, "--turns", "-t", min=1, max=200, help="Messages per conversation."),
    latency: str = typer.Option("0.5-2", "--latency", help="Simulated model latency: SECONDS or LOW-HIGH."),
    personas: int = typer.Option(3, "--personas", "-p", min=1, max=12, help="Personas per conversation."),
    turn_delay: float = typer.Option(0.0, "--turn-delay", min=0, max=60, help="Seconds between turns."),
    url: list[str] = typer.Option(
        [], "--url", help="A running server to load through its API (repeat for several web processes)."
    ),
    token: str | None = typer.Option(
        None, "--token", envvar="THINKTANK_TOKEN", help="API token (multi-user)."
    ),
    database: str | None = typer.Option(
        None, "--database", help="In process: run on this database URL instead of a scratch SQLite file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run N conversations in parallel on the scripted model and report throughput, reply-time
    percentiles, errors and what the same messages would have cost on the personas' real models."""
    for address in url:
        if not address.startswith(("http://", "https://")):
            raise UserError(f"--url must start with http:// or https://, not {address!r}")
    config = LoadTestConfig(
        conversations=conversations,
        turns=turns,
        latency=parse_latency(latency),
        personas=personas,
        turn_delay=turn_delay,
    )
    settings = load_settings()
    with Progress(
        TextColumn("[bold]conversations done"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("load", total=conversations)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if url:
            report = asyncio.run(run_against_server(config, url, token=token, on_progress=show))
        else:
            tune_gc()  # as the server it stands in for does
            report = asyncio.run(
                run_in_process(config, database_url=database, markup=settings.markup, on_progress=show)
            )
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    print_report(report)


def print_report(report: LoadTestReport) -> None:
    table = Table(
        title=f"load test ({report.mode}): {report.conversations} conversations × "
        f"{report.turns_per_conversation} turns"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("messages", report.messages),
        ("errors", report.errors),
        ("wall time", f"{report.wall_seconds:.1f} s"),
        ("throughput", f"{report.throughput:.1f} msg/s"),
        ("ideal", f"{report.ideal_throughput:.1f} msg/s"),
        ("of ideal", f"{report.efficiency:.0%}"),
        *((f"reply {k}", f"{v:.2f} s") for k, v in report.reply_seconds.items()),
        *((f"loop lag {k}", f"{v:.1f} ms") for k, v in (report.loop_lag_ms or {}).items()),
        ("estimated real cost", f"${report.estimated_cost_usd}"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for model, cost in report.estimated_cost_by_model.items():
        console.print(f"  {model}: ${cost}")
    for sample in report.error_samples:
        console.print(f"  error: {sample}", markup=False)
