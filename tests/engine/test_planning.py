"""What a turn is planned from: a member's system prompt, written once and rewritten when something in
it changes (the panel, the summary of earlier turns); its prompt, whose earlier turns are reused;
and the plan a budget that checks turns is given."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from pydantic_ai.messages import ModelMessage

from tests.engine.helpers import scripted_engine
from thinktank.domain.vocabulary import ENDED
from thinktank.engine.budget import Budget, Reservation
from thinktank.engine.context import Summary
from thinktank.engine.engine import ConversationEngine
from thinktank.engine.members import Member
from thinktank.engine.planning import Panel
from thinktank.engine.prompts import build_messages
from thinktank.models.chat import approximate_tokens
from thinktank.models.ids import parse_model_id


def system_of(engine: ConversationEngine, member: Member) -> str:
    return engine._panel().system_for(member).text


async def test_the_same_prompt_object_serves_until_something_in_it_changes() -> None:
    engine, _ = scripted_engine(messages=4)
    first = engine.members[0]
    assert system_of(engine, first) is system_of(engine, first)

    engine.context.summary = Summary("They agreed on usage tiers.", 1)
    assert "They agreed on usage tiers." in system_of(engine, first)


async def test_an_edited_member_and_the_rest_of_the_panel_see_the_edit() -> None:
    engine, _ = scripted_engine(messages=4)
    first, second = engine.members[0], engine.members[1]
    before = system_of(engine, second)
    renamed = first.persona.model_copy(update={"name": "Zelda Quinn"})
    await engine.replace_member(replace(first, persona=renamed))
    assert "Zelda Quinn" in system_of(engine, engine.members[0])
    after = system_of(engine, second)
    assert after != before
    assert "Zelda Quinn" in after, "the others' roster names the edited member"


async def test_a_member_who_left_is_off_the_roster_of_those_who_stay() -> None:
    engine, _ = scripted_engine(messages=4)
    leaving, staying = engine.members[0], engine.members[1]
    assert leaving.persona.name in system_of(engine, staying)
    await engine.remove_member(leaving.persona.id)
    assert leaving.persona.name not in system_of(engine, staying)


async def test_a_restored_panel_in_a_new_list_is_read_again() -> None:
    engine, _ = scripted_engine(messages=4)
    gone, staying = engine.members[0], engine.members[1]
    assert gone.persona.name in system_of(engine, staying)
    engine.members = [m for m in engine.members if m is not gone]
    assert gone.persona.name not in system_of(engine, staying)


async def test_the_speaker_share_is_the_costliest_member_on_any_model() -> None:
    """Priced once per model (its longest prompt), the reservation is still what pricing every member
    would give: the largest of their shares."""
    engine, _ = scripted_engine(messages=4)
    models = [parse_model_id(m) for m in ("openai:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4o")]
    engine.members = [replace(m, models=(models[i % 3],)) for i, m in enumerate(engine.members)]
    engine.members[2] = replace(
        engine.members[2],
        persona=engine.members[2].persona.model_copy(update={"description": "A long-winded " * 200}),
    )
    panel = engine._panel()
    shares = panel.plan_turn(engine.orchestrator, speaker=None, summarizer=None)
    each = [
        engine.pricer.price(
            m.models[0],
            input_tokens=approximate_tokens(system_of(engine, m))
            + engine.context.text_tokens(engine.context.window(engine.messages)),
            output_tokens=engine.config.reply_tokens,
        ).billed
        for m in engine.members
    ]
    assert shares["speaker"].cost == max(each)
    assert shares["speaker"].cost > 0


def turns_of(prompt: list[ModelMessage]) -> list[tuple[str, list[tuple[str, object]]]]:
    """A prompt's turns and their parts' content (not their timestamps: a reused turn keeps its own)."""
    return [
        (
            type(message).__name__,
            [(type(part).__name__, getattr(part, "content", None)) for part in message.parts],
        )
        for message in prompt
    ]


class CountingBudget(Budget):
    """A budget that checks turns, and notes what each one planned to use."""

    checks_turns = True

    def __init__(self) -> None:
        self.reserved: list[int] = []

    async def reserve(self, *, tokens: int, cost: Decimal) -> Reservation:
        self.reserved.append(tokens)
        return Reservation(tokens, cost)


async def test_a_budget_that_checks_turns_is_asked_with_each_turns_plan() -> None:
    engine, _ = scripted_engine(messages=3)
    engine.budget = CountingBudget()
    await engine.take_turn()
    assert len(engine.budget.reserved) == 1
    assert engine.budget.reserved[0] > engine.config.reply_tokens, "the speaker's prompt and reply"


async def test_the_default_budget_is_not_given_a_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """It refuses nothing, so pricing every member's prompt for it is work for nobody."""
    engine, _ = scripted_engine(messages=3)
    planned: list[object] = []
    monkeypatch.setattr(Panel, "plan_turn", lambda *args, **kwargs: planned.append(args))
    message = await engine.take_turn()
    assert message is not None
    assert not planned


async def test_each_prompt_is_the_window_built_afresh_through_folds_and_edits() -> None:
    """The turns kept from a member's earlier prompts are reused; what goes out is still exactly
    what building the whole window again gives, however the window moved (folds, a new summary, an
    interjection, an edited member)."""
    engine, _ = scripted_engine(messages=60, budget=400)
    for turn in range(60):
        if turn == 20:
            await engine.interject("Alex, what would you cut first?")
        if turn == 30:
            first = engine.members[0]
            await engine.replace_member(
                replace(first, persona=first.persona.model_copy(update={"name": "Zelda Quinn"}))
            )
        if engine.status in ENDED:
            break
        for member in engine.members:
            panel = engine._panel()
            system = panel.system_for(member).text
            window = engine.context.window(engine.messages)
            built = build_messages(member.persona, system=system, window=window, style="full")
            assert turns_of(panel.prompt_for(member)[0]) == turns_of(built)
        await engine.take_turn()
    assert engine.context.summary.covers_upto > 0, "the window moved on at least once"
