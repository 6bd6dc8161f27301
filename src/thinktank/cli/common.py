"""What every command needs: settings, the library, a console, and one way to report user errors."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from thinktank.errors import ServerFault, UserError
from thinktank.library.loader import Library, load_library
from thinktank.pricing.prices import Cost, Pricer
from thinktank.settings import Settings
from thinktank.store.db import Database
from thinktank.store.scope import system_scope

P = ParamSpec("P")
R = TypeVar("R")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def reports_user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A user's mistake ends the command with one readable line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except UserError as exc:
            err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except ServerFault as exc:
            # Not the user's input: the installation (its master key) needs fixing.
            err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def load_settings() -> Settings:
    return Settings.from_env()


def on_database(
    settings: Settings, action: Callable[[Database], Awaitable[R]], *, migrate_sqlite: bool = True
) -> R:
    """Run an operator's command against the database, in the system scope (it may touch any
    user's rows), bringing a SQLite file up to date first as the server would."""

    async def run() -> R:
        db = Database(settings.resolved_database_url())
        try:
            if migrate_sqlite and db.is_sqlite:
                await db.upgrade()
            return await action(db)
        finally:
            await db.dispose()

    with system_scope():
        return asyncio.run(run())


def load_library_for(settings: Settings) -> Library:
    return load_library(user_dir=settings.library_dir)


def pricer_for(settings: Settings) -> Pricer:
    return Pricer(markup=settings.markup)


def usd(amount: Decimal | None, *, places: int = 4) -> str:
    if amount is None:
        return "unknown"
    return f"${amount:.{places}f}"


def cost_text(cost: Cost) -> str:
    if not cost.known:
        return "unknown (no price for a model)"
    return f"{usd(cost.billed)} billed ({usd(cost.raw)} raw)"
