"""The live view of `thinktank discuss`: the engine's events rendered as they happen."""

from __future__ import annotations

from rich.table import Table

from thinktank.cli.common import console, usd
from thinktank.domain import Persona
from thinktank.domain.vocabulary import SETTLED
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import (
    ErrorOccurred,
    Event,
    MessageCompleted,
    ProviderRetrying,
    StateChanged,
    TokenDelta,
    TurnDecided,
)
from thinktank.engine.totals import Line
from thinktank.models.ids import LOCAL_DEFAULT
from thinktank.settings import Settings


class TerminalView:
    """Renders engine events as they happen."""

    def __init__(self) -> None:
        self.engine: ConversationEngine | None = None

    def header(self, settings: Settings) -> None:
        engine = self._engine
        config = engine.config
        console.print(f"[bold]{config.topic}[/bold]")
        console.print(
            f"[dim]mode {config.mode} · scorer {engine.orchestrator.scorer.name} · seed {config.seed} "
            f"(replay with --seed {config.seed}) · up to {config.max_messages} messages"
            + (f" · cap {usd(config.max_cost, places=2)}" if config.max_cost is not None else "")
            + "[/dim]"
        )
        substituted = [m for m in engine.members if m.substituted]
        if substituted:
            names = ", ".join(f"{m.persona.name} ({m.persona.model})" for m in substituted)
            console.print(f"[yellow]No API key for: {names} — running on {LOCAL_DEFAULT} instead.[/yellow]")
        for member in engine.members:
            p = member.persona
            console.print(f"  {p.avatar.emoji} [{p.avatar.color}]{p.name}[/] · {p.role} · {member.models[0]}")
        console.print()

    @property
    def _engine(self) -> ConversationEngine:
        assert self.engine is not None
        return self.engine

    def _persona(self, persona_id: str) -> Persona | None:
        return next((m.persona for m in self._engine.members if m.persona.id == persona_id), None)

    async def show(self, event: Event) -> None:
        if isinstance(event, TurnDecided):
            persona = self._persona(event.decision.persona_id)
            color = persona.avatar.color if persona else "white"
            emoji = persona.avatar.emoji if persona else ""
            console.print(f"{emoji} [bold {color}]{event.speaker_name}[/] [dim]· {event.speaker_role}[/dim]")
        elif isinstance(event, TokenDelta):
            console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
        elif isinstance(event, MessageCompleted):
            message = event.message
            if message.kind == "user" and message.index > 0:
                console.print(f"🗣  You: {message.text}", markup=False)
            elif message.kind == "persona":
                decision = message.decision
                why = f"why: {decision.reason} (confidence {decision.confidence:.2f})" if decision else ""
                answered = f" · answered by {message.model_id}" if message.model_id else ""
                flag = " · incomplete" if message.incomplete else ""
                console.print()
                console.print(f"{why}{answered}{flag}", style="dim", markup=False, highlight=False)
                console.print()
        elif isinstance(event, StateChanged) and event.status in SETTLED:
            console.print(f"— {event.reason}", style="dim", markup=False)
        elif isinstance(event, ProviderRetrying):
            # Said on a line of its own: the reply may already have begun on this one.
            console.print(f"\n{event.message}", style="yellow", markup=False, highlight=False)
        elif isinstance(event, ErrorOccurred):
            console.print(f"\n{event.message}", style="red", markup=False, highlight=False)

    def footer(self) -> None:
        totals = self._engine.totals
        table = Table(title="Tokens and cost")
        for column in ("", "input tokens", "output tokens", "raw", "billed"):
            table.add_column(column, justify="left" if not column else "right")

        def row(label: str, line: Line) -> None:
            table.add_row(
                label,
                str(line.usage.input_tokens),
                str(line.usage.output_tokens),
                usd(line.cost.raw, places=6),
                usd(line.cost.billed, places=6),
            )

        names = {m.persona.id: m.persona.name for m in self._engine.members}
        for who, line in totals.by_persona.items():
            row(names.get(who, who), line)
        table.add_section()
        for provider, line in totals.by_provider.items():
            row(f"provider: {provider}", line)
        table.add_section()
        row("total", totals.total)
        console.print(table)
