"""`thinktank keys`: platform keys and the master key. Keys are read from a prompt, never argv."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx2
import typer
from rich.table import Table

from thinktank.accounts.keys import KeyStore
from thinktank.accounts.rotation import rotate_master
from thinktank.assembly import open_keystore
from thinktank.cli.common import console, load_settings, on_database, reports_user_errors
from thinktank.errors import ConfigurationError
from thinktank.store.db import Database

app = typer.Typer(help="API keys stored encrypted in the database, and the master key that protects them.")
T = TypeVar("T")


def _with_store(action: Callable[[KeyStore], Awaitable[T]]) -> T:
    settings = load_settings()

    async def run(db: Database) -> T:
        async with httpx2.AsyncClient(timeout=30.0) as client:
            return await action(open_keystore(settings, db, http_client=client))

    return on_database(settings, run)


def _read_key(provider: str) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(f"{provider} API key", hide_input=True))
    return sys.stdin.readline().strip()


@app.command("set-platform")
@reports_user_errors
def set_platform(
    provider: str = typer.Argument(..., help="anthropic, openai or google"),
    no_validate: bool = typer.Option(False, "--no-validate", help="Store it without a test call."),
) -> None:
    """Store the platform key for a provider (read from a hidden prompt or standard input)."""
    api_key = _read_key(provider)
    info = _with_store(
        lambda store: store.set_platform_key(provider=provider, api_key=api_key, validate=not no_validate)
    )
    console.print(f"stored the {info.provider} platform key ending in {info.last4}")


@app.command("rotate-master")
@reports_user_errors
def rotate() -> None:
    """Re-encrypt every stored key under a new master key; safe to interrupt and run again."""
    settings = load_settings()
    if settings.env.get("THINKTANK_MASTER_KEY"):
        raise ConfigurationError(
            "the master key comes from THINKTANK_MASTER_KEY; rotation manages the key file in the data "
            "directory, so unset THINKTANK_MASTER_KEY (its key stays readable) or rotate it by hand"
        )
    moved = _with_store(lambda store: rotate_master(store, key_dir=settings.resolved_data_dir()))
    console.print(f"re-encrypted {moved} key(s) under the new master key")


@app.command("list")
@reports_user_errors
def list_platform() -> None:
    """Which providers have a platform key (last four characters only)."""
    infos = _with_store(lambda store: store.list_platform_keys())
    table = Table(title="Platform keys")
    table.add_column("provider")
    table.add_column("key")
    for info in infos:
        table.add_row(info.provider, f"…{info.last4}")
    console.print(table)
