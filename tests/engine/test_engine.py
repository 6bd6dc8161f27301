"""The engine as a user drives it: turns, steering, caps and the books."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Collection
from decimal import Decimal

import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.engine.helpers import library, scripted_engine
from tests.fakes import FakeClock, FakeServer
from tests.models.test_providers import KEYS, openai_stream
from thinktank.domain import Message, TurnDecision
from thinktank.engine.engine import ConversationEngine, Persistence
from thinktank.engine.events import (
    CostsUpdated,
    ErrorOccurred,
    Event,
    MembersChanged,
    StateChanged,
    TokenDelta,
    TurnDecided,
)
from thinktank.engine.members import Member, seat
from thinktank.errors import ConversationBusy, ConversationOver, UnknownIdError, UserError
from thinktank.models.ids import SCRIPTED, parse_model_id
from thinktank.models.stack import ModelFactory
from thinktank.orchestration.scoring import SelectionContext


def hold_turns(engine: ConversationEngine) -> asyncio.Event:
    """Make the next turn wait (mid-generation) until the returned event is set."""
    gate = asyncio.Event()
    original = engine.orchestrator.decide

    async def slow_decide(
        context: SelectionContext, *, requested: str | None = None, passed_over: Collection[str] = ()
    ) -> TurnDecision:
        await gate.wait()
        return await original(context, requested=requested, passed_over=passed_over)

    engine.orchestrator.decide = slow_decide  # type: ignore[method-assign]
    return gate


async def run_to_end(engine: ConversationEngine) -> None:
    while engine.status not in ("finished", "stopped"):
        await engine.take_turn()


@pytest.mark.parametrize("template", ["security-review", "fundraising-pitch-review"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_every_member_of_a_three_persona_panel_speaks_within_five_turns(
    template: str, seed: int
) -> None:
    engine, _ = scripted_engine(template=template, messages=5, seed=seed)
    await run_to_end(engine)
    speakers = [m.speaker_id for m in engine.messages if m.kind == "persona"]
    assert len(speakers) == 5
    assert set(speakers) == {m.persona.id for m in engine.members}


async def test_same_seed_replays_exactly_and_another_seed_may_differ() -> None:
    first, _ = scripted_engine(messages=8, seed=42)
    second, _ = scripted_engine(messages=8, seed=42)
    await run_to_end(first)
    await run_to_end(second)
    assert [(m.speaker_id, m.text) for m in first.messages] == [
        (m.speaker_id, m.text) for m in second.messages
    ]


async def test_every_message_records_model_tokens_cost_latency_and_decision() -> None:
    engine, recorder = scripted_engine(messages=3)
    await run_to_end(engine)
    replies = [m for m in engine.messages if m.kind == "persona"]
    assert len(replies) == 3
    for message in replies:
        assert message.model_id == "scripted"
        assert message.usage.input_tokens > 0
        assert message.usage.output_tokens > 0
        assert message.cost.raw == 0
        assert message.latency_s is not None
        assert message.time_to_first_token_s is not None
        assert message.decision is not None
        assert message.decision.reason
        assert 0 <= message.decision.confidence <= 1
    kinds = [e.type for e in recorder.events]
    assert kinds.count("turn.decided") == 3
    assert kinds.count("token.delta") > 3
    assert kinds.count("costs.updated") == 3
    assert kinds[-1] == "state.changed"
    deltas = "".join(e.text for e in recorder.of(TokenDelta) if e.persona_id == replies[0].speaker_id)
    assert replies[0].text in deltas


async def test_a_second_turn_while_one_is_in_flight_is_refused_as_busy() -> None:
    engine, _ = scripted_engine(messages=5)
    gate = hold_turns(engine)
    first = asyncio.create_task(engine.take_turn())
    await asyncio.sleep(0)
    assert engine.busy
    with pytest.raises(ConversationBusy):
        await engine.take_turn()
    gate.set()
    assert (await first) is not None
    assert engine.persona_message_count() == 1


async def test_an_interjection_during_generation_is_queued_and_answered_next() -> None:
    engine, _ = scripted_engine(messages=5)
    gate = hold_turns(engine)
    turn = asyncio.create_task(engine.take_turn())
    await asyncio.sleep(0)
    assert await engine.interject("What about accessibility for screen reader users?") is None
    gate.set()
    await turn
    assert engine.messages[-1].kind == "user"
    assert "screen reader" in engine.messages[-1].text
    reply = await engine.take_turn()
    assert reply is not None
    assert "You asked about" in reply.text or "your question" in reply.text or "raising" in reply.text


async def test_the_user_can_name_the_next_speaker_and_the_orchestrator_obeys_once() -> None:
    engine, _ = scripted_engine(messages=5)
    reply = await engine.take_turn(speaker="end-user")
    assert reply is not None
    assert reply.speaker_id == "end-user"
    assert reply.decision is not None
    assert reply.decision.chosen_by == "user"
    with pytest.raises(UnknownIdError, match="senior-engineer"):
        await engine.take_turn(speaker="senior-enginer")


async def test_members_can_join_leave_and_change_and_the_transcript_keeps_who_said_what() -> None:
    engine, recorder = scripted_engine(messages=20)
    factory = ModelFactory(keys=KEYS)
    await engine.take_turn(speaker="end-user")
    for _ in range(4):
        await engine.take_turn()
    await engine.add_member(seat(library().persona("cfo"), factory, override=SCRIPTED))
    after_joining = [await engine.take_turn() for _ in range(2)]
    joined = next((m for m in after_joining if m is not None and m.speaker_id == "cfo"), None)
    assert joined is not None, "a newcomer is heard within two turns"
    await engine.remove_member("end-user")
    for _ in range(6):
        message = await engine.take_turn()
        assert message is not None
        assert message.speaker_id != "end-user"
    renamed = library().persona("cfo").model_copy(update={"role": "Chief Money Officer"})
    await engine.replace_member(seat(renamed, factory, override=SCRIPTED))
    spoken = await engine.take_turn(speaker="cfo")
    assert spoken is not None
    assert spoken.speaker_role == "Chief Money Officer"
    assert joined.speaker_role == "Chief Financial Officer"
    assert engine.messages[1].speaker_id == "end-user"
    assert engine.messages[1].speaker_name == "Jamie Rivera"
    assert [e.change for e in recorder.of(MembersChanged)] == [
        "added cfo",
        "removed end-user",
        "edited cfo",
    ]
    with pytest.raises(UserError, match="already in this conversation"):
        await engine.add_member(seat(renamed, factory, override=SCRIPTED))


async def test_stop_ends_the_conversation_and_refuses_more_turns() -> None:
    engine, recorder = scripted_engine(messages=20)
    await engine.take_turn()
    await engine.stop()
    assert engine.status == "stopped"
    with pytest.raises(ConversationOver):
        await engine.take_turn()
    with pytest.raises(ConversationOver):
        await engine.interject("hello?")
    assert recorder.of(StateChanged)[-1].status == "stopped"


async def test_auto_mode_runs_until_the_message_limit_and_pause_stops_it() -> None:
    engine, _ = scripted_engine(messages=6)
    await engine.run_auto()
    assert engine.status == "finished"
    assert engine.persona_message_count() == 6

    paused, recorder = scripted_engine(messages=50)

    async def pause_after_three(event: Event) -> None:
        await recorder(event)
        if event.type == "message.completed" and paused.persona_message_count() == 3:
            await paused.pause()

    paused.sink = pause_after_three
    await paused.run_auto()
    assert paused.status == "paused"
    assert paused.persona_message_count() == 3
    await paused.resume()
    await paused.take_turn()
    assert paused.persona_message_count() == 4


async def test_speed_sets_the_pause_between_auto_turns() -> None:
    engine, _ = scripted_engine(messages=3)
    engine.config.turn_delay = None
    for speed, delay in [(1, 10.0), (5, 6.0), (10, 1.0)]:
        engine.set_speed(speed)
        assert engine.config.delay() == delay
    with pytest.raises(UserError):
        engine.set_speed(11)


async def test_the_pause_between_auto_turns_runs_from_the_end_of_the_reply_not_of_its_commit() -> None:
    engine, _ = scripted_engine(messages=3)
    engine.config.turn_delay = 6.0
    clock = FakeClock()
    engine.clock = clock
    saved: list[int] = []

    class SlowCommit(Persistence):
        async def message_saved(self, message: Message) -> None:
            clock.advance(2.5)  # a group commit under load
            saved.append(message.index)

    engine.persistence = SlowCommit()
    await engine.run_auto()
    assert clock.sleeps == [3.5, 3.5]
    assert saved == [1, 2, 3], "every message is still committed before the turn ends"


async def test_the_cost_cap_is_checked_before_and_after_each_turn(server: FakeServer) -> None:
    # gpt-4.1-mini at 1000 input + 500 output tokens a reply costs $0.0012 raw, $0.00144 billed.
    server.queue(*[openai_stream(f"Reply number {i}.") for i in range(20)])
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    cap = Decimal("0.005")
    engine, recorder = scripted_engine(
        template="security-review",
        messages=20,
        factory=factory,
        model=parse_model_id("openai:gpt-4.1-mini"),
        max_cost=cap,
    )
    await run_to_end(engine)
    spent = engine.totals.total.cost.billed
    assert spent is not None
    assert spent <= cap, "the estimate before each turn keeps the total under the cap"
    assert engine.persona_message_count() == 3
    assert engine.status == "finished"
    assert "cost cap" in engine.stop_reason
    assert recorder.of(CostsUpdated)


async def test_a_provider_failure_after_fallbacks_pauses_auto_mode_with_an_error_event(
    server: FakeServer,
) -> None:
    import httpx2

    server.queue(*[httpx2.Response(401, json={"error": {"message": "bad key"}})] * 5)
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    engine, recorder = scripted_engine(
        messages=5, factory=factory, model=parse_model_id("openai:gpt-4.1-mini")
    )
    await engine.run_auto()
    assert engine.status == "paused"
    errors = recorder.of(ErrorOccurred)
    assert errors
    assert "Unauthorized" in errors[0].message
    assert engine.persona_message_count() == 0


async def test_a_provider_error_body_that_echoes_the_key_never_reaches_the_user(server: FakeServer) -> None:
    """Users see a message made from the failure's kind, not the provider's text, which here
    repeats the (platform's) key and would reach another user's SSE stream."""
    import httpx2

    echoed = "Incorrect API key provided: plat-KEY-0f9e8d7c6b5a"
    server.queue(*[httpx2.Response(401, json={"error": {"message": echoed}})] * 5)
    factory = ModelFactory(keys=KEYS, http_client=server.client())
    engine, recorder = scripted_engine(
        messages=5, factory=factory, model=parse_model_id("openai:gpt-4.1-mini")
    )
    await engine.take_turn()
    shown = [e.to_json() for e in recorder.events]
    assert "plat-KEY" not in repr(shown)
    error = recorder.of(ErrorOccurred)[0].message
    assert error.endswith("Unauthorized: openai rejected the API key (missing, wrong or revoked) (HTTP 401)")


async def test_invalid_setup_is_a_user_error() -> None:
    with pytest.raises(UserError, match="topic"):
        scripted_engine(template=None, topic="  ", personas=["cfo"])
    with pytest.raises(UserError, match="on the panel twice"):
        scripted_engine(personas=["end-user"])
    engine, _ = scripted_engine()
    with pytest.raises(UserError, match="empty"):
        await engine.interject("   ")
    with pytest.raises(UserError, match="limited to 4000"):
        await engine.interject("x" * 4001)


def always_cut_model(label: str) -> FunctionModel:
    """A model whose every reply opens by speaking as someone else, so the guard cuts all of it."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for piece in (label, "\n", "We should wait for the data."):
            yield piece

    return FunctionModel(stream_function=stream)


async def test_after_a_guard_cut_someone_else_speaks_and_the_run_reaches_its_target() -> None:
    engine, recorder = scripted_engine(messages=4)
    first = (await engine.orchestrator.decide(engine._selection_context())).persona_id
    other = next(m.persona for m in engine.members if m.persona.id != first)
    cut = engine.member(first)
    engine.members[engine.members.index(cut)] = Member(
        cut.persona, cut.models, always_cut_model(f"{other.name} ({other.role})")
    )
    await engine.run_auto()
    assert engine.status == "finished", engine.stop_reason
    assert engine.persona_message_count() == 4
    chosen = [e.decision.persona_id for e in recorder.of(TurnDecided)]
    assert chosen[0] == first
    assert chosen[1] != first, "the persona whose reply was cut is not asked again at once"
    assert all(m.speaker_id != first for m in engine.messages)


async def test_an_interjection_that_cannot_be_stored_is_not_kept_in_memory_either() -> None:
    """Kept but not stored, it would leave a gap in the stored transcript once more is said."""
    from thinktank.engine.engine import Persistence

    class Failing(Persistence):
        async def message_saved(self, message: Message) -> None:
            raise RuntimeError("the database refused the row")

    engine, _ = scripted_engine()
    engine.persistence = Failing()
    with pytest.raises(RuntimeError):
        await engine.interject("hello")
    assert [m.index for m in engine.messages] == [0]


async def test_the_persona_count_follows_the_transcript_when_it_shrinks_or_is_replaced() -> None:
    engine, _ = scripted_engine(messages=3)
    await engine.take_turn()
    await engine.take_turn()
    assert engine.persona_message_count() == 2
    said = engine.messages.pop()
    engine.messages.append(dataclasses.replace(said, kind="user"))
    assert engine.persona_message_count() == 1, "a message swapped at the same place is counted again"
    engine.messages = engine.messages[:1]
    assert engine.persona_message_count() == 0
    await engine.take_turn()
    assert engine.persona_message_count() == 1
