"""Outcomes of stored conversations: `thinktank memo`, `thinktank fork`, `thinktank rerun`."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from thinktank.assembly import service_from_settings
from thinktank.cli.common import (
    console,
    load_settings,
    on_database,
    reports_user_errors,
)
from thinktank.cli.discuss import parse_mode, parse_scorer, print_memo
from thinktank.errors import UserError
from thinktank.models.ids import parse_model_id
from thinktank.store.db import Database
from thinktank.store.repository import LOCAL_USER_ID
from thinktank.store.scope import scoped


@reports_user_errors
def memo_command(
    conversation_id: str = typer.Argument(..., help="A conversation stored by the server (local mode)."),
    chair: str | None = typer.Option(None, "--chair", help="Model id of the chair (default: the panel's)."),
) -> None:
    """Have a chair write the decision memo of a stored conversation, store it, and print it."""
    settings = load_settings()
    chair_id = parse_model_id(chair) if chair else None

    async def run(db: Database) -> dict[str, Any]:
        async with service_from_settings(settings, role="command", db=db) as service:
            with scoped(LOCAL_USER_ID):
                result = await service.write_memo(
                    user_id=LOCAL_USER_ID, conversation_id=conversation_id, chair=chair_id
                )
        return result

    print_memo(on_database(settings, run))


@reports_user_errors
def fork_command(
    conversation_id: str = typer.Argument(..., help="A conversation stored by the server (local mode)."),
    at: int = typer.Option(..., "--at", min=0, help="Index of the last shared message."),
    persona: list[str] = typer.Option([], "--persona", "-p", help="The fork's panel (default: the same)."),
    mode: str | None = typer.Option(None, "--mode", help="Another discussion mode."),
    model: str | None = typer.Option(None, "--model", "-m", help="Run every persona on this model id."),
    seed: int | None = typer.Option(None, "--seed", help="Another seed for the turn decisions."),
    messages: int = typer.Option(0, "--messages", "-n", min=0, help="Turns to take in the fork right away."),
) -> None:
    """Branch a stored conversation at a message, optionally take some turns, and print the fork's id."""
    settings = load_settings()
    mode_name = parse_mode(mode)
    model_id = parse_model_id(model) if model else None

    async def run(db: Database) -> tuple[str, list[str]]:
        async with service_from_settings(settings, role="command", db=db) as service:
            with scoped(LOCAL_USER_ID):
                row = await service.fork(
                    user_id=LOCAL_USER_ID,
                    conversation_id=conversation_id,
                    at_index=at,
                    persona_ids=persona,
                    mode=mode_name,
                    model=model_id,
                    seed=seed,
                )
                spoken = []
                for _ in range(messages):
                    message = await service.take_turn(
                        user_id=LOCAL_USER_ID, conversation_id=row.id, speaker=None, idempotency_key=None
                    )
                    if message is None:
                        break
                    spoken.append(f"{message.speaker_name}: {message.text}")
        return row.id, spoken

    fork_id, spoken = on_database(settings, run)
    for line in spoken:
        console.print(line, markup=False, highlight=False)
    console.print(f"fork {fork_id} shares messages 0–{at} with {conversation_id}")


@reports_user_errors
def rerun_command(
    conversation_id: str = typer.Argument(..., help="A conversation stored by the server (local mode)."),
    seed: int | None = typer.Option(None, "--seed", help="Change the seed."),
    scorer: str | None = typer.Option(None, "--scorer", help="Change the scorer: heuristic or llm."),
    persona_model: list[str] = typer.Option(
        [], "--persona-model", help="Change a persona's model: ID=MODEL (repeatable)."
    ),
) -> None:
    """Run a stored conversation again with one thing changed, then compare both side by side."""
    settings = load_settings()
    models = {}
    for item in persona_model:
        persona_id, sep, model_text = item.partition("=")
        if not sep:
            raise UserError(f"--persona-model takes ID=MODEL, not {item!r}")
        models[persona_id.strip()] = parse_model_id(model_text)
    scorer_name = parse_scorer(scorer) if scorer else None

    async def run(db: Database) -> dict[str, Any]:
        async with service_from_settings(settings, role="command", db=db) as service:
            with scoped(LOCAL_USER_ID):
                row = await service.rerun(
                    user_id=LOCAL_USER_ID,
                    conversation_id=conversation_id,
                    persona_models=models or None,
                    scorer=scorer_name,
                    seed=seed,
                )
                await service.run_ended(user_id=LOCAL_USER_ID, conversation_id=row.id)
                return await service.compare(user_id=LOCAL_USER_ID, first=conversation_id, second=row.id)

    compared = on_database(settings, run)
    table = Table(title="Original and rerun")
    table.add_column("")
    table.add_column("original")
    table.add_column("rerun")
    first, second = compared["first"], compared["second"]
    rows = [
        ("change", "-", second["change"] or "-"),
        ("messages", str(first["messages"]), str(second["messages"])),
        ("tokens in/out", _tokens(first), _tokens(second)),
        ("billed cost", _billed(first), _billed(second)),
        (
            "recommendation",
            first["memo"]["memo"]["recommendation"]["text"],
            second["memo"]["memo"]["recommendation"]["text"],
        ),
    ]
    for label, left, right in rows:
        table.add_row(label, left, right)
    console.print(table)
    console.print(f"rerun {second['id']}")


def _tokens(side: dict[str, Any]) -> str:
    return f"{side['totals']['input_tokens']}/{side['totals']['output_tokens']}"


def _billed(side: dict[str, Any]) -> str:
    billed = side["totals"]["billed_usd"]
    return "unknown" if billed is None else f"${billed}"
