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

from pydantic_ai.messages import ModelMessage

from thinktank.domain import DiscussionMode, Message, Persona, TurnDecision, Usage
from thinktank.domain.vocabulary import ENDED
from thinktank.engine.budget import Budget, HeldTurn, Share
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
    TurnDecided,
    discard,
)
from thinktank.engine.members import Member
from thinktank.engine.prompts import (
    USER_NAME,
    USER_ROLE,
    build_messages,
    prompt_style_for,
    reply_settings,
    system_prompt,
)
from thinktank.engine.reply import stream_reply
from thinktank.engine.speaker_guard import SpeakerGuard
from thinktank.engine.totals import CostTotals
from thinktank.errors import (
    BudgetExceeded,
    ConversationBusy,
    ConversationOver,
    TransientFailure,
    UnknownIdError,
    UserError,
    public_message,
)
from thinktank.library.loader import closest
from thinktank.models.chat import approximate_tokens
from thinktank.models.clock import Clock, SystemClock
from thinktank.models.ids import ModelId
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
        self._passed_over: set[str] = set()
        self._why_silent = ""
        self._reply_ended: float | None = None
        self._persona_tally: tuple[list[Message] | None, int, Message | None, int] = (None, 0, None, 0)
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
        # Asked twice a turn over a transcript that only grows at its end: count only what was added
        # since the last call, unless the counted part is no longer there as it was (a message taken
        # back, a transcript replaced).
        messages, (counted, upto, last, persona) = self.messages, self._persona_tally
        if counted is not messages or upto > len(messages) or (upto and messages[upto - 1] is not last):
            upto, persona = 0, 0
        persona += sum(1 for m in messages[upto:] if m.kind == "persona")
        self._persona_tally = (messages, len(messages), messages[-1] if messages else None, persona)
        return persona

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
        try:
            await self.persistence.message_saved(message)
        except BaseException:
            self.messages.pop()  # not stored, so not said: no gap in the transcript after a restart
            raise
        await self._emit(MessageCompleted(message))
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
        if self.status not in ENDED:
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
                why = f"paused after {failures} turns in a row produced no reply"
                await self._set_status("paused", f"{why} (the last: {self._why_silent})")
                break
            delay = self.config.delay()
            if message is not None and self._reply_ended is not None:
                # The pause runs from the reply's last word, as the reader saw it, not from the
                # moment the message was committed: under load the group commit takes a while, and
                # waiting for it on top of the pause would slow every conversation by that much.
                delay -= self.clock.monotonic() - self._reply_ended
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
            held = await self._hold_turn(speaker)
            if held is None:
                return None
            try:
                decision = await self.orchestrator.decide(
                    self._selection_context(), requested=speaker, passed_over=self._passed_over
                )
                await self._book_selection(decision, held)
                message = await self._speak(_Turn(decision, self.member(decision.persona_id)), held)
                if message is None:
                    # Asked again with the same transcript, the orchestrator would choose them again.
                    self._passed_over.add(decision.persona_id)
                else:
                    self._passed_over.clear()
                return message
            finally:
                await held.release()
        finally:
            self._generating = False
            await self._flush_queued()

    def _plan_turn(self, speaker: str | None) -> dict[str, Share]:
        """The most each call of the next turn may use: the scorer's, a summary's if one is due, and
        the speaker's (whoever it turns out to be: the largest of the panel's)."""
        shares: dict[str, Share] = {}
        context = self._selection_context()
        if (selection := self.orchestrator.planned_call(context, requested=speaker)) is not None:
            shares["selection"] = self._share(selection[0], selection[1])
        if (fold := self.context.planned_fold(self.messages)) is not None:
            summarizers = [self.summarizer] if self.summarizer else self.members
            shares["summary"] = max((self._share(m.models[0], fold) for m in summarizers), key=_share_size)
        window_tokens = sum(approximate_tokens(m.text) for m in self.context.window(self.messages))
        candidates = [self.member(speaker)] if speaker is not None else self.members
        speaking = []
        for member in candidates:
            prompt = approximate_tokens(self._system_for(member)[0]) + window_tokens
            speaking.append(self._share(member.models[0], Usage(prompt, self.config.reply_tokens, 1)))
        shares["speaker"] = max(speaking, key=_share_size)
        return shares

    def _system_for(self, member: Member) -> tuple[str, list[Persona]]:
        """The member's system prompt as things stand, and the others on the panel."""
        others = [m.persona for m in self.members if m is not member]
        system = system_prompt(
            member.persona,
            mode=self.config.mode,
            topic=self.config.topic,
            others=others,
            summary=self.context.summary.text or None,
            style=prompt_style_for(member.models[0]),
        )
        return system, others

    def _share(self, model_id: ModelId, usage: Usage) -> Share:
        cost = self.pricer.price(model_id, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
        return Share(usage.total_tokens, cost.billed or Decimal(0))

    async def _hold_turn(self, speaker: str | None) -> HeldTurn | None:
        """Reserve the whole turn before any model runs; refused, the conversation pauses (it can
        go on when the budget allows again) and nothing is spent."""
        try:
            return await HeldTurn.reserve(self.budget, self._plan_turn(speaker))
        except BudgetExceeded as exceeded:
            await self._set_status("paused", str(exceeded))
            return None

    async def _speak(self, turn: _Turn, held: HeldTurn) -> Message | None:
        member = turn.member
        await self._fold_context(member, held)
        system, others = self._system_for(member)
        window = self.context.window(self.messages)
        prompt = build_messages(
            member.persona, system=system, window=window, style=prompt_style_for(member.models[0])
        )
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
            message = await self._generate(turn, member, others, prompt)
        except BaseException:
            await held.settle("speaker", tokens=0, cost=Decimal(0), model_id=None)
            raise
        spent = (message.usage.total_tokens, message.cost.billed) if message else (0, Decimal(0))
        await held.settle(
            "speaker", tokens=spent[0], cost=spent[1], model_id=message.model_id if message else None
        )
        return message

    async def _generate(
        self,
        turn: _Turn,
        member: Member,
        others: list[Persona],
        prompt: list[ModelMessage],
    ) -> Message | None:
        # Nobody listens to the default sink: no event object is built for it, one per token least of all.
        listened = self.sink is not discard
        if listened:
            await self._emit(
                TurnDecided(
                    turn.decision, member.persona.name, member.persona.role, tuple(map(str, member.models))
                )
            )
        guard = SpeakerGuard(
            own_name=member.persona.name,
            own_role=member.persona.role,
            others=[(p.name, p.role) for p in others],
        )
        settings = reply_settings(
            member.persona,
            others=others,
            style=prompt_style_for(member.models[0]),
            max_tokens=self.config.reply_tokens,
            temperature=self.config.temperature,
        )
        reply = await stream_reply(
            member, prompt, guard=guard, settings=settings, pricer=self.pricer, emit=self._emit
        )
        if not reply.text:
            error = reply.failure
            if error is not None:
                reason = public_message(error)
            elif reply.guard_cut:
                reason = "the reply spoke for someone else or recited its instructions, so it was cut"
                # What the model wrote was paid for, though none of it is kept.
                await self._charge(member.persona.id, reply.model_id, reply.usage, reply.cost)
            else:
                reason = "the model's reply was empty"
            self._why_silent = f"{member.persona.name}: {reason}"
            await self._emit(
                ErrorOccurred(
                    f"{member.persona.name} could not reply: {reason}",
                    member.persona.id,
                    type(error).__name__ if error else "EmptyReply",
                )
            )
            # A transient failure (a stream dropped before its first word, a provider still down after
            # its retries) costs this turn only: someone else is asked, and three such turns in a row
            # pause the run. A permanent one (a rejected key, a refused request) pauses it now.
            if error is not None and self.status == "running" and not isinstance(error, TransientFailure):
                await self._set_status("paused", f"paused after an error from {member.persona.name}'s model")
            return None
        ended = time.perf_counter()
        self._reply_ended = self.clock.monotonic()
        first_token = reply.first_token_at
        message = Message(
            index=len(self.messages),
            kind="persona",
            speaker_id=member.persona.id,
            speaker_name=member.persona.name,
            speaker_role=member.persona.role,
            text=reply.text,
            created_at=datetime.now(UTC),
            model_id=reply.model_id,
            usage=reply.usage,
            cost=reply.cost,
            latency_s=ended - turn.started,
            time_to_first_token_s=None if first_token is None else first_token - turn.started,
            decision=turn.decision,
            incomplete=reply.error is not None,
            error=reply.error,
            usage_estimated=reply.usage_estimated,
        )
        self.messages.append(message)
        self.totals.add(
            account=member.persona.id, model_id=reply.model_id, usage=reply.usage, cost=reply.cost
        )
        await self._saved(message)
        if listened:
            await self._emit(CostsUpdated(self.totals.to_json()))
        await self._check_limits_after_turn()
        return message

    # --- internals -----------------------------------------------------------------------------

    def _selection_context(self) -> SelectionContext:
        return SelectionContext(topic=self.config.topic, members=self.personas, messages=self.messages)

    async def book(self, *, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        """A charge that belongs to the conversation but to no message (a memo, for instance); the
        caller reserved and settled it with the budget."""
        await self._charge(account, model_id, usage, cost)
        await self._emit(CostsUpdated(self.totals.to_json()))

    async def _book_selection(self, decision: TurnDecision, held: HeldTurn) -> None:
        if decision.selection_usage.requests:
            usage, cost = decision.selection_usage, decision.selection_cost
            model_id = decision.selection_model_id
            await self._charge("orchestrator", model_id, usage, cost)
            await held.settle("selection", tokens=usage.total_tokens, cost=cost.billed, model_id=model_id)

    async def _charge(self, account: str, model_id: str | None, usage: Usage, cost: Cost) -> None:
        self.totals.add(account=account, model_id=model_id, usage=usage, cost=cost)
        await self.persistence.charge_saved(account=account, model_id=model_id, usage=usage, cost=cost)

    async def _fold_context(self, member: Member, held: HeldTurn) -> None:
        summarizer = self.summarizer or member
        charge = await self.context.fold(self.messages, summarizer=summarizer.model)
        if charge is not None:
            await self._charge("summaries", charge.model_id, charge.usage, charge.cost)
            tokens, cost = charge.usage.total_tokens, charge.cost.billed
            await held.settle("summary", tokens=tokens, cost=cost, model_id=charge.model_id)
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
        if self.status in ENDED:
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


def _share_size(share: Share) -> tuple[Decimal, int]:
    return share.cost, share.tokens
