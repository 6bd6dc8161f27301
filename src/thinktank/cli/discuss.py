"""`thinktank discuss`: run a panel discussion live in the terminal."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.markdown import Markdown

from thinktank.assembly import factory_from_settings
from thinktank.cli.common import (
    console,
    err_console,
    load_library_for,
    load_settings,
    reports_user_errors,
)
from thinktank.cli.live import TerminalView
from thinktank.domain import DISCUSSION_MODES, DiscussionMode
from thinktank.domain.vocabulary import ENDED, QUIT_IN_TERMINAL
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.export import memo_markdown, transcript_json, transcript_markdown
from thinktank.engine.members import seat
from thinktank.engine.restore import restore_conversation
from thinktank.engine.setup import ConversationSpec, ScorerName, start_conversation
from thinktank.errors import ConversationBusy, ConversationOver, UserError
from thinktank.library.loader import Library, parse_persona_file
from thinktank.models.ids import ModelId, parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.outcomes.memo import memo_for_conversation
from thinktank.settings import Settings

MANUAL_HELP = (
    "Enter: next turn · persona id: they speak next · text: interject · /add ID · /remove ID · /quit"
)


@reports_user_errors
def discuss_command(
    topic: str | None = typer.Argument(None, help="What the panel discusses (optional with --template)."),
    template: str | None = typer.Option(None, "--template", "-t", help="Start from a template id."),
    persona: list[str] = typer.Option(
        [], "--persona", "-p", help="A persona id, or a path to a persona YAML file. Repeatable."
    ),
    messages: int | None = typer.Option(
        None, "--messages", "-n", min=1, help="Stop after this many messages."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Run every persona on this model id."),
    mode: str | None = typer.Option(None, "--mode", help="ideation, refinement, planning, debate or review."),
    scorer: str = typer.Option("heuristic", "--scorer", help="heuristic (free) or llm (one call per turn)."),
    scorer_model: str | None = typer.Option(None, "--scorer-model", help="Model id for --scorer llm."),
    summary_model: str | None = typer.Option(None, "--summary-model", help="Model id for rolling summaries."),
    seed: int | None = typer.Option(
        None, "--seed", help="Replay a discussion exactly (printed at the start)."
    ),
    speed: int | None = typer.Option(
        None, "--speed", min=1, max=10, help="1-10: (11 - speed) s between turns. Default: no pause."
    ),
    max_cost: str | None = typer.Option(None, "--max-cost", help="Hard cap in USD (billed), e.g. 0.50."),
    manual: bool = typer.Option(False, "--manual", help="Steer between turns. " + MANUAL_HELP),
    memo: bool = typer.Option(False, "--memo", help="At the end, have a chair write the decision memo."),
    chair: str | None = typer.Option(
        None, "--chair", help="Model id of the memo's chair (default: the panel's)."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Write the transcript as JSON here."),
    markdown_path: Path | None = typer.Option(
        None, "--markdown", help="Write the transcript as Markdown here."
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        help="Continue the discussion in this JSON transcript (--messages: the new target).",
    ),
) -> None:
    """Run a discussion: stream each persona's reply, say why they were chosen, and total the cost.

    A run that stops short of its target (a stall, a provider outage, a budget) exits with code 1,
    says why, and saves the transcript so `--resume` can continue it."""
    if template is None and not persona and resume is None:
        raise UserError(
            "a discussion needs a template or personas: add --template ID or --persona ID (repeatable)"
        )
    settings = load_settings()
    library = load_library_for(settings)
    factory = factory_from_settings(settings)
    view = TerminalView()
    custom = [parse_persona_file(Path(p)) for p in persona if _is_file(p)]
    if resume is not None:
        engine = restore_conversation(
            _transcript(resume),
            library=library,
            factory=factory,
            sink=view.show,
            custom_personas=custom,
            max_messages=messages,
        )
        if speed:
            engine.set_speed(speed)
        json_path = json_path or resume
    else:
        spec = ConversationSpec(
            template_id=template,
            topic=topic,
            persona_ids=[p for p in persona if not _is_file(p)],
            custom_personas=custom,
            mode=parse_mode(mode),
            scorer=parse_scorer(scorer),
            scorer_model=parse_model_id(scorer_model) if scorer_model else None,
            summary_model=parse_model_id(summary_model) if summary_model else None,
            model_override=parse_model_id(model) if model else None,
            seed=seed,
            speed=speed or 5,
            turn_delay=None if speed else 0.0,
            max_messages=messages,
            max_cost=_money(max_cost),
        )
        engine = start_conversation(spec, library=library, factory=factory, sink=view.show)
    _run(
        engine,
        view,
        settings,
        factory,
        library,
        override=parse_model_id(model) if model else None,
        manual=manual,
        memo=memo,
        chair=chair,
        json_path=json_path,
        markdown_path=markdown_path,
    )


def _run(
    engine: ConversationEngine,
    view: TerminalView,
    settings: Settings,
    factory: ModelFactory,
    library: Library,
    *,
    override: ModelId | None,
    manual: bool,
    memo: bool,
    chair: str | None,
    json_path: Path | None,
    markdown_path: Path | None,
) -> None:
    view.engine = engine
    view.header(settings)
    steering = Steering(engine, library=library, factory=factory, override=override)
    written: dict[str, Any] | None = None
    interrupted = False
    try:
        asyncio.run(steering.drive(manual=manual))
        if memo:
            written = asyncio.run(_memo(engine, factory, chair=parse_model_id(chair) if chair else None))
    except KeyboardInterrupt:
        interrupted = True
        engine.status, engine.stop_reason = "stopped", "interrupted with Ctrl-C"
        console.print("\n[yellow]stopped (Ctrl-C)[/yellow]")
    finally:
        short = not (interrupted or steering.quit) and _stopped_short(engine)
        if short and json_path is None:
            json_path = _stall_path(settings, engine)
        _write_outputs(engine, json_path=json_path, markdown_path=markdown_path, memo=written)
    view.footer()
    if short:
        target = engine.config.max_messages
        err_console.print(
            f"error: stopped at {engine.persona_message_count()} of {target} messages: {engine.stop_reason};"
            f" continue with: thinktank discuss --resume {json_path}",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _stopped_short(engine: ConversationEngine) -> bool:
    """Paused or stopped by something other than the user, before reaching the message target."""
    target = engine.config.max_messages
    return (
        engine.status in ("paused", "stopped")
        and target is not None
        and engine.persona_message_count() < target
    )


def _stall_path(settings: Settings, engine: ConversationEngine) -> Path:
    folder = settings.resolved_data_dir() / "transcripts"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return folder / f"{stamp}-seed{engine.config.seed}.json"


def _transcript(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--resume {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"--resume {path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UserError(f"--resume {path}: not a ThinkTank transcript")
    return data


async def _memo(
    engine: ConversationEngine, factory: ModelFactory, *, chair: ModelId | None
) -> dict[str, Any]:
    console.print("[dim]the chair is writing the decision memo…[/dim]")
    written = (await memo_for_conversation(engine, factory, chair=chair)).to_json()
    print_memo(written)
    return written


def print_memo(memo: dict[str, Any]) -> None:
    console.print(Markdown("\n".join(memo_markdown(memo))))


class Steering:
    """Auto mode runs to the end; manual mode reads one command between turns."""

    def __init__(
        self, engine: ConversationEngine, *, library: Library, factory: ModelFactory, override: ModelId | None
    ) -> None:
        self.engine = engine
        self.library = library
        self.factory = factory
        self.override = override
        self.quit = False

    async def drive(self, *, manual: bool) -> None:
        if not manual:
            await self.engine.run_auto()
            return
        console.print(f"[dim]{MANUAL_HELP}[/dim]")
        while self.engine.status not in ENDED:
            line = await asyncio.to_thread(_read_line, "› ")
            if line is None or line.strip() == "/quit":
                self.quit = True
                await self.engine.stop(QUIT_IN_TERMINAL)
                break
            try:
                await self.step(line.strip())
            except (ConversationBusy, ConversationOver) as exc:
                err_console.print(str(exc), markup=False)
            except UserError as exc:
                err_console.print(f"error: {exc}", markup=False)

    async def step(self, line: str) -> None:
        engine = self.engine
        if not line:
            await engine.take_turn()
        elif line.startswith("/add "):
            persona = self.library.persona(line.removeprefix("/add ").strip())
            await engine.add_member(seat(persona, self.factory, override=self.override))
            console.print(f"[dim]{persona.name} joined the panel[/dim]")
        elif line.startswith("/remove "):
            persona_id = line.removeprefix("/remove ").strip()
            await engine.remove_member(persona_id)
            console.print(f"[dim]{persona_id} left the panel[/dim]")
        elif line.startswith("/"):
            raise UserError(f"unknown command {line.split()[0]!r}; {MANUAL_HELP}")
        elif line in {m.persona.id for m in engine.members}:
            await engine.take_turn(speaker=line)
        else:
            await engine.interject(line)
            await engine.take_turn()


def _read_line(prompt: str) -> str | None:
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    line = sys.stdin.readline()
    return None if line == "" else line.rstrip("\n")


def _write_outputs(
    engine: ConversationEngine,
    *,
    json_path: Path | None,
    markdown_path: Path | None,
    memo: dict[str, Any] | None,
) -> None:
    if json_path is not None:
        json_path.write_text(
            json.dumps(transcript_json(engine, memo=memo), indent=2) + "\n", encoding="utf-8"
        )
        console.print(f"[dim]transcript written to {json_path}[/dim]")
    if markdown_path is not None:
        markdown_path.write_text(transcript_markdown(engine, memo=memo), encoding="utf-8")
        console.print(f"[dim]transcript written to {markdown_path}[/dim]")


def _is_file(value: str) -> bool:
    return value.endswith((".yaml", ".yml")) or "/" in value


def parse_mode(value: str | None) -> DiscussionMode | None:
    if value is None:
        return None
    for known in DISCUSSION_MODES:
        if value == known:
            return known
    raise UserError(f"unknown mode {value!r}; choose one of: {', '.join(DISCUSSION_MODES)}")


def parse_scorer(value: str) -> ScorerName:
    scorers: dict[str, ScorerName] = {"heuristic": "heuristic", "llm": "llm"}
    if value in scorers:
        return scorers[value]
    raise UserError(f"unknown scorer {value!r}; choose heuristic or llm")


def _money(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.lstrip("$"))
    except InvalidOperation:
        raise UserError(f"--max-cost {value!r} is not an amount in USD, e.g. 0.50") from None
    if not amount.is_finite() or amount <= 0:
        raise UserError("--max-cost must be a positive amount in USD")
    return amount
