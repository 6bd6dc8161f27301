"""`thinktank personas list|show`."""

from __future__ import annotations

import typer
from rich.panel import Panel
from rich.table import Table

from thinktank.cli.common import console, load_library_for, load_settings, reports_user_errors
from thinktank.domain.suggest import closest
from thinktank.errors import UnknownIdError

app = typer.Typer(help="Browse the persona library (built-in and yours, from THINKTANK_LIBRARY_DIR).")


@app.command("list")
@reports_user_errors
def list_personas(
    category: str | None = typer.Option(
        None, "--category", "-c", help="Only this category (case-insensitive)."
    ),
) -> None:
    """List personas with their role, category and model."""
    library = load_library_for(load_settings())
    personas = list(library.personas.values())
    if category:
        categories = {c.lower(): c for c in library.categories()}
        if category.lower() not in categories:
            raise UnknownIdError("category", category, suggestions=closest(category, library.categories()))
        personas = [p for p in personas if p.category == categories[category.lower()]]
    table = Table(title=f"{len(personas)} personas")
    for column in ("id", "name", "role", "category", "model"):
        table.add_column(column)
    for p in personas:
        table.add_row(p.id, f"{p.avatar.emoji} {p.name}", p.role, p.category, p.model)
    console.print(table)


@app.command("show")
@reports_user_errors
def show_persona(
    persona_id: str = typer.Argument(..., metavar="ID", help="A persona id, e.g. senior-engineer."),
) -> None:
    """Show every field of one persona, including its system prompt."""
    p = load_library_for(load_settings()).persona(persona_id)
    d, character = p.demographics, p.personality
    lines = [
        f"[bold]{p.role}[/bold] · {p.category} · {p.experience_level} · attitude: {p.attitude}",
        p.description,
        "",
        f"model: {p.model}" + (f"  (fallbacks: {', '.join(p.fallbacks)})" if p.fallbacks else ""),
    ]
    if d is not None:
        lines.append(f"age {d.age} · {d.education} · {d.location}")
    if character is not None:
        lines += [
            f"traits: {', '.join(character.traits)}",
            f"communication: {character.communication}",
            f"decision making: {character.decision_making}",
        ]
    if p.expertise:
        lines.append(f"expertise: {', '.join(p.expertise)}")
    lines += ["", "[bold]system prompt[/bold]", p.system_prompt]
    title = f"{p.avatar.emoji} {p.name} ({p.id})"
    console.print(Panel("\n".join(lines), title=title, border_style=p.avatar.color, expand=False))
