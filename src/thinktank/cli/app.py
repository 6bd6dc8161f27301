"""The `thinktank` command."""

from __future__ import annotations

import typer

from thinktank.cli import batch, discuss, keys, loadtest, models, outcomes, personas, server, templates, users

app = typer.Typer(
    name="thinktank",
    help="ThinkTank: a panel of AI personas, each on its own model, discusses your question.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(personas.app, name="personas")
app.add_typer(templates.app, name="templates")
app.command("models")(models.models_command)
app.command("discuss")(discuss.discuss_command)
app.command("serve")(server.serve_command)
app.command("worker")(server.worker_command)
app.command("loadtest")(loadtest.loadtest_command)
app.command("purge")(server.purge_command)
app.command("memo")(outcomes.memo_command)
app.command("fork")(outcomes.fork_command)
app.command("rerun")(outcomes.rerun_command)
app.add_typer(server.db_app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(batch.app, name="batch")
app.add_typer(users.app, name="users")


def main() -> None:
    app(prog_name="thinktank")
