"""`thinktank templates list|show`."""

from __future__ import annotations

import typer
from rich.panel import Panel
from rich.table import Table

from thinktank.cli.common import (
    console,
    cost_text,
    load_library_for,
    load_settings,
    pricer_for,
    reports_user_errors,
    usd,
)
from thinktank.models.ids import LOCAL_DEFAULT
from thinktank.pricing.estimate import estimate_conversation_cost

app = typer.Typer(help="Browse conversation templates and their estimated cost.")


@app.command("list")
@reports_user_errors
def list_templates() -> None:
    """List templates with mode, panel size, expected length and estimated cost."""
    settings = load_settings()
    library = load_library_for(settings)
    pricer = pricer_for(settings)
    table = Table(title=f"{len(library.templates)} templates")
    for column in ("id", "name", "industry", "mode", "personas", "messages", "est. cost"):
        table.add_column(column, justify="right" if column in ("messages", "est. cost") else "left")
    for t in library.templates.values():
        personas = library.template_personas(t)
        cost = estimate_conversation_cost(
            personas, t.estimated_messages, pricer=pricer, topic=t.initial_prompt
        )
        table.add_row(
            t.id, t.name, t.industry, t.mode, str(len(personas)), str(t.estimated_messages), usd(cost.billed)
        )
    console.print(table)


@app.command("show")
@reports_user_errors
def show_template(template_id: str = typer.Argument(..., metavar="ID", help="A template id.")) -> None:
    """Show a template: its panel, flow and estimated cost on the personas' models and on the local model."""
    settings = load_settings()
    library = load_library_for(settings)
    pricer = pricer_for(settings)
    t = library.template(template_id)
    personas = library.template_personas(t)
    own = estimate_conversation_cost(personas, t.estimated_messages, pricer=pricer, topic=t.initial_prompt)
    local = estimate_conversation_cost(
        personas, t.estimated_messages, pricer=pricer, topic=t.initial_prompt, model_override=LOCAL_DEFAULT
    )
    lines = [
        f"[bold]{t.category}[/bold] · industry: {t.industry} · mode: {t.mode}"
        f" · ~{t.estimated_messages} messages",
        t.description,
        "",
        "[bold]opening prompt[/bold]",
        t.initial_prompt,
        "",
        "[bold]panel[/bold]",
    ]
    for p in personas:
        note = settings.keys.why_not_configured(p.model_id)
        suffix = f"  [dim]({note}; runs on {LOCAL_DEFAULT} instead)[/dim]" if note else ""
        lines.append(f"  {p.avatar.emoji} {p.name}, {p.role} — {p.model}{suffix}")
    lines += ["", "[bold]suggested flow[/bold]"]
    lines += [f"  {i}. {step}" for i, step in enumerate(t.suggested_flow, 1)]
    lines += [
        "",
        "[bold]estimated cost[/bold]",
        f"  on the personas' own models: {cost_text(own)}",
        f"  on the local model ({LOCAL_DEFAULT}): {cost_text(local)}",
        f"  [dim]markup {pricer.markup}x over raw provider prices; computed from current prices[/dim]",
    ]
    console.print(Panel("\n".join(lines), title=f"{t.name} ({t.id})", expand=False))
