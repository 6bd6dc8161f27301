"""Pick up a conversation from its JSON transcript (`engine/export.py`), so a discussion that stopped
short of its target (a stall, a provider outage, a budget) can be continued where it ended."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from thinktank.domain import Message, Persona
from thinktank.engine.context import Summary
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.events import EventSink
from thinktank.engine.export import SCHEMA
from thinktank.engine.members import Member
from thinktank.engine.setup import ConversationSpec, ScorerName, start_conversation
from thinktank.engine.totals import CostTotals
from thinktank.errors import UserError
from thinktank.library.loader import Library
from thinktank.models.ids import parse_model_id
from thinktank.models.stack import ModelFactory


def restore_conversation(
    data: dict[str, Any],
    *,
    library: Library,
    factory: ModelFactory,
    sink: EventSink,
    custom_personas: Sequence[Persona] = (),
    max_messages: int | None = None,
) -> ConversationEngine:
    """An engine holding the transcript's messages, books and summary, ready for its next turn.

    Custom personas (not in the library) must be given again; `max_messages` raises the target."""
    if data.get("schema") != SCHEMA:
        raise UserError(f"not a ThinkTank transcript (schema {data.get('schema')!r}, expected {SCHEMA!r})")
    conversation = data["conversation"]
    custom = {p.id: p for p in custom_personas}
    personas = []
    for member in data["members"]:
        if member["id"] in custom:
            personas.append(custom[member["id"]])
        elif member["id"] in library.personas:
            personas.append(library.persona(member["id"]))
        else:
            raise UserError(
                f"{member['name']} ({member['id']}) is a custom persona: pass its file with --persona"
            )
    scorer: ScorerName = "llm" if conversation.get("scorer") == "llm" else "heuristic"
    cap = conversation.get("max_cost_usd")
    spec = ConversationSpec(
        topic=conversation["topic"],
        custom_personas=personas,
        mode=conversation["mode"],
        scorer=scorer,
        seed=conversation["seed"],
        turn_delay=0.0,
        max_messages=max_messages or conversation.get("max_messages"),
        max_cost=None if cap is None else Decimal(cap),
    )
    engine = start_conversation(spec, library=library, factory=factory, sink=sink)
    models = {m["id"]: tuple(parse_model_id(x) for x in m["models"]) for m in data["members"]}
    engine.members = [
        Member(m.persona, models[m.persona.id], factory.build_exact(models[m.persona.id]), m.substituted)
        for m in engine.members
    ]
    engine.messages = [Message.from_json(m) for m in data["messages"]]
    engine.totals = CostTotals.from_json(data["totals"])
    engine.context.summary = Summary(data.get("summary") or "", int(data.get("summary_covers_upto") or 0))
    return engine
