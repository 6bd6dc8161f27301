"""One conversation: members, transcript, turn taking, steering and the books.

One generation is in flight at a time (the seed's `isGenerating` guard): a second request gets
`ConversationBusy`, never a second concurrent turn. An interjection during generation is queued
and lands right after the current turn, so the next speaker answers it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from pydantic_ai.direct import model_request_stream
from pydantic_ai.messages import ModelMessage

from thinktank.domain import DiscussionMode, Message, Persona, TurnDecision, Usage
from thinktank.engine.budget import Budget
from thinktank.engine.context import ContextWindow, Summary
from thinktank.engine.events import (
    CostsUpdated,
    ErrorOccurred,
    Event,
    EventSink,
    MembersChanged,
    MessageCompleted,
    StateChanged,
    Status,
    TokenDelta,
    TurnDecided,
    discard,
)
from thinktank.engine.members import Member
from thinktank.engine.prompts import USER_NAME, USER_ROLE, build_messages, system_prompt
from thinktank.engine.speaker_guard import SpeakerGuard
from thinktank.engine.totals import CostTotals
from thinktank.errors import (
    BudgetExceeded,
    ConversationBusy,
    ConversationOver,
    ProviderFailure,
    UnknownIdError,
    UserError,
)
from thinktank.library.loader import closest
from thinktank.models.chat import approximate_tokens
from thinktank.models.clock import Clock, SystemClock
from thinktank.models.ids import parse_model_id
from thinktank.models.streaming import text_delta, thinktank_facts
from thinktank.orchestration.orchestrator import TurnOrchestrator
from thinktank.orchestration.scoring import SelectionContext
from thinktank.pricing.prices import Cost, Pricer

MAX_INTERJECTION_CHARS = 4000
DEFAULT_REPLY_TOKENS = 300
MAX_FAILED_TURNS = 3
MAX_CONTINUE = 1000


@dataclass
class EngineConfig:
    topic: str
    mode: DiscussionMode = "ideation"
    seed: int = 0
    speed: int = 5
    turn_delay: float | None = None
    """Seconds between auto turns; None means the seed's (11 - speed)."""
    max_messages: int | None = None
    max_cost: Decimal | None = None
    reply_tokens: int = DEFAULT_REPLY_TOKENS
    temperature: float = 0.8

    def delay(self) -> float:
        return self.turn_delay if self.turn_delay is not None else float(11 - self.speed)


class Persistence:
    """Where a conversation's facts go as they happen. The default keeps nothing (the engine holds
    everything in memory); the store implements it so a conversation survives a restart.

    A message is handed over only once it is complete, with its cost, so a crash mid-stream leaves
    no half-written message behind.
    """

    async def message_saved(self, message: Message) -> None:
        return None

    async def charge_saved(self, *, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        """A cost that belongs to no message: speaker selection, summaries."""
        return None

    async def state_saved(self, *, status: Status, reason: str, summary: Summary) -> None:
        return None


@dataclass
class _Turn:
    decision: TurnDecision
    member: Member
    started: float = field(default_factory=time.perf_counter)


class ConversationEngine:
    def __init__(
        self,
        config: EngineConfig,
        *,
        members: Sequence[Member],
        orchestrator: TurnOrchestrator,
        pricer: Pricer,
        context: ContextWindow | None = None,
        sink: EventSink = discard,
        persistence: Persistence | None = None,
        clock: Clock | None = None,
        summarizer: Member | None = None,
        history: Sequence[Message] = (),
        totals: CostTotals | None = None,
        budget: Budget | None = None,
    ) -> None:
        """`history` and `totals` restore a stored conversation; without them it starts from the topic."""
        if not config.topic.strip():
            raise UserError("a conversation needs a topic")
        if not 1 <= config.speed <= 10:
            raise UserError(f"speed must be from 1 to 10, not {config.speed}")
        self.config = config
        self.members: list[Member] = list(members)
        if not self.members:
            raise UserError("a conversation needs at least one persona")
        self.orchestrator = orchestrator
        self.pricer = pricer
        self.context = context or ContextWindow()
        self.sink = sink
        self.persistence = persistence or Persistence()
        self.clock = clock or SystemClock()
        self.summarizer = summarizer
        self.budget = budget or Budget()
        self.messages: list[Message] = list(history)
        self.totals = totals or CostTotals()
        self.status: Status = "idle"
        self.stop_reason = ""
        self._generating = False
        self._queued: list[str] = []
        self._wake = asyncio.Event()
        if not self.messages:
            self._append_user(config.topic.strip())

    # --- queries -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._generating

    @property
    def personas(self) -> list[Persona]:
        return [m.persona for m in self.members]

    def persona_message_count(self) -> int:
        return sum(1 for m in self.messages if m.kind == "persona")

    def member(self, persona_id: str) -> Member:
        for member in self.members:
            if member.persona.id == persona_id:
                return member
        ids = [m.persona.id for m in self.members]
        raise UnknownIdError("member", persona_id, suggestions=closest(persona_id, ids))

    # --- steering ------------------------------------------------------------------------------

    async def interject(self, text: str) -> Message | None:
        """The user speaks. During a turn it waits for the turn to end; it is never lost."""
        text = text.strip()
        if not text:
            raise UserError("an interjection cannot be empty")
        if len(text) > MAX_INTERJECTION_CHARS:
            raise UserError(f"an interjection is limited to {MAX_INTERJECTION_CHARS} characters")
        self._ensure_open()
        if self._generating:
            self._queued.append(text)
            return None
        message = self._append_user(text)
        await self._saved(message)
        return message

    async def add_member(self, member: Member) -> None:
        if any(m.persona.id == member.persona.id for m in self.members):
            raise UserError(f"{member.persona.name} ({member.persona.id}) is already in this conversation")
        self.members.append(member)
        await self._emit(MembersChanged(self._member_ids(), f"added {member.persona.id}"))

    async def remove_member(self, persona_id: str) -> None:
        member = self.member(persona_id)
        if len(self.members) == 1:
            raise UserError("the last persona cannot leave; stop the conversation instead")
        self.members.remove(member)
        await self._emit(MembersChanged(self._member_ids(), f"removed {persona_id}"))

    async def replace_member(self, member: Member) -> None:
        """Edit a persona in place: later turns use the new version, the transcript keeps the old."""
        current = self.member(member.persona.id)
        self.members[self.members.index(current)] = member
        await self._emit(MembersChanged(self._member_ids(), f"edited {member.persona.id}"))

    async def pause(self) -> None:
        await self._set_status("paused", "paused by the user")

    async def resume(self) -> None:
        self._ensure_open()
        await self._set_status("idle", "resumed")

    async def leave_auto(self) -> None:
        """Switch to manual: the auto loop ends after the turn in flight, if any."""
        if self.status == "running":
            await self._set_status("idle", "switched to manual mode")

    async def stop(self, reason: str = "stopped by the user") -> None:
        if self.status not in ("stopped", "finished"):
            await self._set_status("stopped", reason)

    async def extend(self, more: int) -> None:
        """Continue a discussion for `more` persona messages beyond those said, whether it finished,
        was stopped or is paused; it is open again (idle) and the limit moves."""
        if not 1 <= more <= MAX_CONTINUE:
            raise UserError(f"continue for 1 to {MAX_CONTINUE} more messages, not {more}")
        if self._generating:
            raise ConversationBusy("a persona is speaking; continue once the turn has ended")
        self.config.max_messages = self.persona_message_count() + more
        await self._set_status("idle", f"continued for {more} more messages")

    def set_speed(self, speed: int) -> None:
        if not 1 <= speed <= 10:
            raise UserError(f"speed must be from 1 to 10, not {speed}")
        self.config.speed = speed
        self.config.turn_delay = None
        self._wake.set()

    # --- turns ---------------------------------------------------------------------------------

    async def run_auto(self) -> None:
        """Take turns until a stop condition, a pause or a stop; wait (11 - speed) s between turns."""
        self._ensure_open()
        await self._set_status("running", "auto mode")
        failures = 0
        while self.status == "running":
            message = await self.take_turn()
            if self.status != "running":
                break
            failures = 0 if message is not None else failures + 1
            if failures >= MAX_FAILED_TURNS:
                await self._set_status("paused", f"paused after {failures} turns in a row produced no reply")
                break
            delay = self.config.delay()
            if delay > 0:
                self._wake.clear()
                sleeper = asyncio.ensure_future(self.clock.sleep(delay))
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:  # also when this run is cancelled: no task is left pending
                    sleeper.cancel()
                    waker.cancel()

    async def take_turn(self, *, speaker: str | None = None) -> Message | None:
        """One turn: decide, stream, book. Returns the message, or None if nothing was said."""
        if self._generating:
            raise ConversationBusy(
                "a persona is already speaking in this conversation; wait for the turn to end"
            )
        self._ensure_open()
        self._generating = True
        try:
            if await self._finished_before_turn():
                return None
            decision = await self.orchestrator.decide(self._selection_context(), requested=speaker)
            await self._book_selection(decision)
            return await self._speak(_Turn(decision, self.member(decision.persona_id)))
        finally:
            self._generating = False
            await self._flush_queued()

    async def _speak(self, turn: _Turn) -> Message | None:
        member = turn.member
        await self._fold_context(member)
        others = [m.persona for m in self.members if m is not member]
        system = system_prompt(
            member.persona,
            mode=self.config.mode,
            topic=self.config.topic,
            others=others,
            summary=self.context.summary.text or None,
        )
        window = self.context.window(self.messages)
        prompt = build_messages(member.persona, system=system, window=window)
        prompt_tokens = approximate_tokens(system) + sum(approximate_tokens(m.text) for m in window)
        estimate = self.pricer.price(
            member.models[0], input_tokens=prompt_tokens, output_tokens=self.config.reply_tokens
        ).billed or Decimal(0)
        if self._over_cost_cap(estimate):
            await self._set_status(
                "finished", f"cost cap of ${self.config.max_cost} would be passed by the next turn"
            )
            return None
        try:
            reservation = await self.budget.reserve(
                tokens=prompt_tokens + self.config.reply_tokens, cost=estimate
            )
        except BudgetExceeded as exceeded:
            await self._set_status("stopped", str(exceeded))
            return None
        try:
            message = await self._generate(turn, member, others, system, prompt, prompt_tokens)
        except BaseException:
            await self.budget.settle(reservation, tokens=0, cost=Decimal(0))
            raise
        spent = (message.usage.total_tokens, message.cost.billed) if message else (0, Decimal(0))
        await self.budget.settle(
            reservation, tokens=spent[0], cost=spent[1], model_id=message.model_id if message else None
        )
        return message

    async def _generate(
        self,
        turn: _Turn,
        member: Member,
        others: list[Persona],
        system: str,
        prompt: list[ModelMessage],
        prompt_tokens: int,
    ) -> Message | None:
        await self._emit(
            TurnDecided(
                turn.decision, member.persona.name, member.persona.role, tuple(map(str, member.models))
            )
        )
        guard = SpeakerGuard(own_name=member.persona.name, other_names=[p.name for p in others])
        first_token: float | None = None
        error: ProviderFailure | None = None
        stream = None
        settings = {"max_tokens": self.config.reply_tokens, "temperature": self.config.temperature}
        try:
            async with model_request_stream(member.model, prompt, model_settings=settings) as stream:  # type: ignore[arg-type]
                async for event in stream:
                    delta = text_delta(event)
                    if not delta:
                        continue
                    if first_token is None:
                        first_token = time.perf_counter()
                    if shown := guard.feed(delta):
                        await self._emit(TokenDelta(member.persona.id, shown))
        except ProviderFailure as failure:
            error = failure
        if tail := guard.finish():
            await self._emit(TokenDelta(member.persona.id, tail))
        text = guard.text
        if not text:
            if error is not None:
                reason = f"{type(error).__name__}: {error}"
            elif guard.cut:
                reason = "the reply only spoke for other people, so it was cut"
            else:
                reason = "the model's reply was empty"
            await self._emit(
                ErrorOccurred(
                    f"{member.persona.name} could not reply: {reason}",
                    member.persona.id,
                    type(error).__name__ if error else "EmptyReply",
                )
            )
            if error is not None and self.status == "running":
                await self._set_status("paused", f"paused after an error from {member.persona.name}'s model")
            return None
        response = stream.get() if stream is not None else None
        facts = thinktank_facts(response) if response is not None else {}
        usage = Usage(response.usage.input_tokens, response.usage.output_tokens, 1) if response else Usage()
        model_id = facts.get("model_id") or str(member.models[0])
        if "cost" in facts:
            cost = Cost.from_json(facts["cost"])
        else:
            # The stream broke before the provider reported usage: estimate it so the books stay honest.
            usage = Usage(prompt_tokens, approximate_tokens(text), 1)
            cost = self.pricer.price(
                parse_model_id(model_id), input_tokens=usage.input_tokens, output_tokens=usage.output_tokens
            )
        ended = time.perf_counter()
        message = Message(
            index=len(self.messages),
            kind="persona",
            speaker_id=member.persona.id,
            speaker_name=member.persona.name,
            speaker_role=member.persona.role,
            text=text,
            created_at=datetime.now(UTC),
            model_id=model_id,
            usage=usage,
            cost=cost,
            latency_s=ended - turn.started,
            time_to_first_token_s=None if first_token is None else first_token - turn.started,
            decision=turn.decision,
            incomplete=error is not None,
            error=None if error is None else f"{type(error).__name__}: {error}",
        )
        self.messages.append(message)
        self.totals.add(account=member.persona.id, model_id=model_id, usage=usage, cost=cost)
        await self._saved(message)
        await self._emit(CostsUpdated(self.totals.to_json()))
        await self._check_limits_after_turn()
        return message

    # --- internals -----------------------------------------------------------------------------

    def _selection_context(self) -> SelectionContext:
        return SelectionContext(topic=self.config.topic, members=self.personas, messages=self.messages)

    async def book(self, *, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        """A charge that belongs to the conversation but to no message (a memo, for instance)."""
        await self._charge(account, model_id, usage, cost)
        await self._emit(CostsUpdated(self.totals.to_json()))

    async def _book_selection(self, decision: TurnDecision) -> None:
        if decision.selection_usage.requests:
            await self._charge("orchestrator", None, decision.selection_usage, decision.selection_cost)

    async def _charge(self, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        self.totals.add(account=account, model_id=model_id, usage=usage, cost=cost)
        await self.persistence.charge_saved(account=account, model_id=model_id, usage=usage, cost=cost)
        await self.budget.settle(None, tokens=usage.total_tokens, cost=cost.billed, model_id=model_id)

    async def _fold_context(self, member: Member) -> None:
        summarizer = self.summarizer or member
        charge = await self.context.fold(self.messages, summarizer=summarizer.model)
        if charge is not None:
            await self._charge("summaries", charge.model_id, charge.usage, charge.cost)
            await self.persistence.state_saved(
                status=self.status, reason=self.stop_reason, summary=self.context.summary
            )

    def _over_cost_cap(self, estimate: Decimal) -> bool:
        """Would the next turn, at its estimated billed cost, pass the conversation's cap?"""
        cap = self.config.max_cost
        spent = self.totals.total.cost.billed
        if cap is None or spent is None:
            return False
        return spent + estimate > cap

    async def _finished_before_turn(self) -> bool:
        limit = self.config.max_messages
        if limit is not None and self.persona_message_count() >= limit:
            await self._set_status("finished", f"reached {limit} messages")
            return True
        return False

    async def _check_limits_after_turn(self) -> None:
        cap, spent = self.config.max_cost, self.totals.total.cost.billed
        if cap is not None and spent is not None and spent >= cap:
            await self._set_status("finished", f"cost cap of ${cap} reached (spent ${spent:.4f})")
        elif (
            self.config.max_messages is not None and self.persona_message_count() >= self.config.max_messages
        ):
            await self._set_status("finished", f"reached {self.config.max_messages} messages")

    def _append_user(self, text: str) -> Message:
        message = Message(
            index=len(self.messages),
            kind="user",
            speaker_id="user",
            speaker_name=USER_NAME,
            speaker_role=USER_ROLE,
            text=text,
            created_at=datetime.now(UTC),
        )
        self.messages.append(message)
        return message

    async def _flush_queued(self) -> None:
        while self._queued:
            message = self._append_user(self._queued.pop(0))
            await self._saved(message)

    async def _saved(self, message: Message) -> None:
        await self.persistence.message_saved(message)
        await self._emit(MessageCompleted(message))

    def _ensure_open(self) -> None:
        if self.status in ("stopped", "finished"):
            raise ConversationOver(f"this conversation has ended ({self.stop_reason})")

    async def _set_status(self, status: Status, reason: str) -> None:
        self.status = status
        self.stop_reason = reason
        self._wake.set()
        await self.persistence.state_saved(status=status, reason=reason, summary=self.context.summary)
        await self._emit(StateChanged(status, reason))

    def _member_ids(self) -> tuple[str, ...]:
        return tuple(m.persona.id for m in self.members)

    async def _emit(self, event: Event) -> None:
        await self.sink(event)
