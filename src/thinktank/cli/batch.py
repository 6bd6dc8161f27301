"""`thinktank batch run FILE`: many conversations (templates × topics) under one cost cap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from thinktank.assembly import service_from_settings
from thinktank.batches import BatchPublic, parse_spec
from thinktank.cli.common import console, load_settings, on_database, reports_user_errors
from thinktank.errors import UserError
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import scoped

app = typer.Typer(help="Batch runs: every template on every topic, with progress and a cost cap.")

EXAMPLE = """name: pricing
topics: ["Should we raise prices by 10%?", "Should we open a free tier?"]
templates: [startup-product-planning, security-architecture-review]   # or: all
max_cost: 0.50        # USD for the whole batch
messages: 6           # per run (default: each template's)
model: scripted       # optional: every persona on this model
concurrency: 4"""


def read_batch_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no batch file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"{path} is not valid YAML or JSON{where}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping like:\n{EXAMPLE}")
    return data


@app.command("run")
@reports_user_errors
def run_command(
    file: Path = typer.Argument(..., help="A YAML or JSON batch file (see `thinktank batch run --help`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the finished batch as JSON."),
) -> None:
    """Run a batch file here, to its end: progress while it runs, then each run's result and the
    total cost. Example file:

    name: pricing · topics: [...] · templates: [startup-product-planning] or all · max_cost: 0.50
    · messages: 6 · model: scripted · concurrency: 4
    """
    spec = parse_spec(read_batch_file(file))
    settings = load_settings()

    async def run(db: Database) -> dict[str, Any]:
        async with service_from_settings(settings, role="command", db=db) as service:
            with scoped(LOCAL_USER_ID):
                batch = await service.batches.create(user_id=LOCAL_USER_ID, spec=spec)
                total = batch.progress["total"]
                with Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[cost]}"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=as_json,
                    disable=as_json,
                ) as progress:
                    task = progress.add_task(spec.name, total=total, cost="$0")

                    def show(current: BatchPublic) -> None:
                        progress.update(
                            task,
                            completed=current.progress["done"],
                            cost=f"${current.total_cost_usd} of ${current.max_cost_usd}",
                        )

                    await service.batches.run(user_id=LOCAL_USER_ID, batch_id=batch.id, on_progress=show)
                # The same JSON the API answers with.
                return (await service.batches.get(user_id=LOCAL_USER_ID, batch_id=batch.id)).shown()

    result = on_database(settings, run)
    if as_json:
        console.print_json(json.dumps(result))
        return
    table = Table(title=f"{result['name']}: {result['status']}")
    for column in ("template", "topic", "status", "messages", "cost", "recommendation"):
        table.add_column(column, overflow="fold")
    for entry in result["runs"]:
        table.add_row(
            entry["template_id"],
            entry["topic"][:60],
            entry["status"] + (f" ({entry['reason']})" if entry.get("reason") else ""),
            str(entry.get("messages", "")),
            f"${entry.get('cost_usd', '0')}",
            (entry.get("recommendation") or "")[:120],
        )
    console.print(table)
    console.print(
        f"total cost ${result['total_cost_usd']} (cap ${result['max_cost_usd']}) · batch {result['id']}"
    )
