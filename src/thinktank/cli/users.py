"""`thinktank users create`: add a user in multi-user mode and print their first API token."""

from __future__ import annotations

import typer

from thinktank.accounts.tiers import load_tiers
from thinktank.accounts.tokens import create_user, issue_token
from thinktank.cli.common import console, load_settings, on_database, reports_user_errors
from thinktank.store.db import Database

app = typer.Typer(help="Users of a multi-user server.")


@app.command("create")
@reports_user_errors
def create(
    email: str = typer.Argument(..., help="The user's email address."),
    tier: str = typer.Option("free", "--tier", help="Their plan (see THINKTANK_TIERS_FILE)."),
) -> None:
    """Create a user and print a personal API token for them (shown once)."""
    settings = load_settings()
    load_tiers(settings.tiers_file)[tier]  # an unknown plan is refused before anything is written

    async def create_with_token(db: Database) -> str:
        async with db.session() as session:
            user = await create_user(session, email=email, tier=tier)
            return (await issue_token(session, user_id=user.id, name="first token")).token

    token = on_database(settings, create_with_token)
    console.print(f"created {email} on the {tier} plan; API token (shown once):")
    console.print(token, markup=False, highlight=False)
