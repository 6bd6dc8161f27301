"""One conversation: members, transcript, turn taking, steering and the books.

One generation is in flight at a time (the seed's `isGenerating` guard): a second request gets
`ConversationBusy`, never a second concurrent turn. An interjection during generation is queued
and lands right after the current turn, so the next speaker answers it.

The parts live beside it: settings and persistence in `config`, stop conditions in `limits`, the
pause between auto turns in `pacing`, what a turn will ask of the models in `planning`, a member's
reply and the message it makes in `speaking`, the user's messages and the persona count in
`transcript`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic_ai.messages import ModelMessage

from thinktank.domain import Message, Persona, TurnDecision, Usage
from thinktank.domain.vocabulary import ENDED, PAUSED_BY_USER, RESUMED, STOPPED_BY_USER, SWITCHED_TO_MANUAL
from thinktank.engine.budget import Budget, HeldTurn
from thinktank.engine.config import (
    MAX_CONTINUE,
    MAX_FAILED_TURNS,
    MAX_INTERJECTION_CHARS,
    EngineConfig,
    Persistence,
    check_speed,
)
from thinktank.engine.context import ContextWindow
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
from thinktank.engine.limits import over_cost_cap, reached_after_turn, reached_before_turn
from thinktank.engine.members import Member, find_member
from thinktank.engine.pacing import Pacer
from thinktank.engine.planning import Histories, Panel, SystemPrompts
from thinktank.engine.speaking import Turn, persona_message, stream_turn, why_silent
from thinktank.engine.totals import CostTotals
from thinktank.engine.transcript import PersonaTally, user_message
from thinktank.errors import BudgetExceeded, ConversationBusy, ConversationOver, TransientFailure, UserError
from thinktank.models.clock import Clock, SystemClock
from thinktank.orchestration.orchestrator import TurnOrchestrator
from thinktank.orchestration.scoring import SelectionContext
from thinktank.pricing.prices import Cost, Pricer

# Re-exported: importers may keep taking the settings and persistence types from beside the engine.
__all__ = ["ConversationEngine", "EngineConfig", "Persistence"]


class ConversationEngine:
    """One conversation in memory: its members and transcript, the turns they take, the user's
    steering, and the books (costs, budget, limits), told to a sink and a persistence as it goes."""

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
        check_speed(config.speed)
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
        self._pacer = Pacer()
        self._tally = PersonaTally()
        self._prompts = SystemPrompts()
        self._histories = Histories()
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
        return self._tally.count(self.messages)

    def member(self, persona_id: str) -> Member:
        return find_member(self.members, persona_id)

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
        await self._set_status("paused", PAUSED_BY_USER)

    async def resume(self) -> None:
        self._ensure_open()
        await self._set_status("idle", RESUMED)

    async def leave_auto(self) -> None:
        """Switch to manual: the auto loop ends after the turn in flight, if any."""
        if self.status == "running":
            await self._set_status("idle", SWITCHED_TO_MANUAL)

    async def stop(self, reason: str = STOPPED_BY_USER) -> None:
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
        check_speed(speed)
        self.config.speed = speed
        self.config.turn_delay = None
        self._pacer.wake()

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
            await self._pacer.wait(self.clock, self.config.delay(), after_reply=message is not None)

    async def take_turn(self, *, speaker: str | None = None) -> Message | None:
        """One turn: decide, stream, book. Returns the message, or None if nothing was said."""
        if self._generating:
            raise ConversationBusy(
                "a persona is already speaking in this conversation; wait for the turn to end"
            )
        self._ensure_open()
        self._generating = True
        try:
            if await self._finish_if(reached_before_turn(self.config, self.persona_message_count())):
                return None
            # One view of the transcript for planning and deciding: nothing changes in between.
            panel = self._panel()
            held = await self._hold_turn(speaker, panel)
            if held is None:
                return None
            try:
                decision = await self.orchestrator.decide(
                    panel.selection_context(), requested=speaker, passed_over=self._passed_over
                )
                await self._book_selection(decision, held)
                message = await self._speak(Turn(decision, self.member(decision.persona_id)), held)
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

    def _panel(self) -> Panel:
        return Panel(
            self.config,
            self.members,
            self.messages,
            self.context,
            self.pricer,
            self._prompts,
            self._tally.spoken(self.messages),
            self._histories,
        )

    async def _hold_turn(self, speaker: str | None, panel: Panel) -> HeldTurn | None:
        """Reserve the whole turn before any model runs; refused, the conversation pauses (it can
        go on when the budget allows again) and nothing is spent."""
        if not self.budget.checks_turns:
            return HeldTurn.unplanned(self.budget)
        try:
            plan = panel.plan_turn(self.orchestrator, speaker=speaker, summarizer=self.summarizer)
            return await HeldTurn.reserve(self.budget, plan)
        except BudgetExceeded as exceeded:
            await self._set_status("paused", str(exceeded))
            return None

    async def _speak(self, turn: Turn, held: HeldTurn) -> Message | None:
        await self._fold_context(turn.member, held)
        prompt, others, estimate = self._panel().prompt_for(turn.member)
        if await self._finish_if(over_cost_cap(self.config, self.totals, estimate)):
            return None
        try:
            message = await self._generate(turn, others, prompt)
        except BaseException:
            await held.settle("speaker", tokens=0, cost=Decimal(0), model_id=None)
            raise
        spent = (message.usage.total_tokens, message.cost.billed) if message else (0, Decimal(0))
        await held.settle(
            "speaker", tokens=spent[0], cost=spent[1], model_id=message.model_id if message else None
        )
        return message

    async def _generate(
        self, turn: Turn, others: list[Persona], prompt: list[ModelMessage]
    ) -> Message | None:
        member = turn.member
        # Nobody listens to the default sink: no event object is built for it, one per token least of all.
        listened = self.sink is not discard
        if listened:
            await self._emit(
                TurnDecided(
                    turn.decision, member.persona.name, member.persona.role, tuple(map(str, member.models))
                )
            )
        reply = await stream_turn(
            member,
            prompt,
            others=others,
            config=self.config,
            pricer=self.pricer,
            emit=self._emit,
            show_words=listened,
        )
        if not reply.text:
            error, reason = reply.failure, why_silent(reply)
            if error is None and reply.guard_cut:
                # What the model wrote was paid for, though none of it is kept.
                await self._charge(member.persona.id, reply.model_id, reply.usage, reply.cost)
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
        message = persona_message(turn, reply, index=len(self.messages))
        self._pacer.reply_ended(self.clock)
        self.messages.append(message)
        self.totals.add(
            account=member.persona.id, model_id=reply.model_id, usage=reply.usage, cost=reply.cost
        )
        await self._saved(message)
        if listened:
            await self._emit(CostsUpdated(self.totals.to_json()))
        await self._finish_if(reached_after_turn(self.config, self.totals, self.persona_message_count()))
        return message

    # --- the books -----------------------------------------------------------------------------

    def _selection_context(self) -> SelectionContext:
        return self._panel().selection_context()

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

    async def _finish_if(self, reason: str | None) -> bool:
        """Finish the conversation when a limit gave a reason to; say whether it did."""
        if reason is not None:
            await self._set_status("finished", reason)
        return reason is not None

    # --- transcript and status -----------------------------------------------------------------

    def _append_user(self, text: str) -> Message:
        message = user_message(len(self.messages), text)
        self.messages.append(message)
        return message

    async def _flush_queued(self) -> None:
        while self._queued:
            message = self._append_user(self._queued.pop(0))
            await self._saved(message)

    async def _saved(self, message: Message) -> None:
        await self.persistence.message_saved(message)
        if self.sink is not discard:
            await self._emit(MessageCompleted(message))

    def _ensure_open(self) -> None:
        if self.status in ENDED:
            raise ConversationOver(f"this conversation has ended ({self.stop_reason})")

    async def _set_status(self, status: Status, reason: str) -> None:
        self.status = status
        self.stop_reason = reason
        self._pacer.wake()
        await self.persistence.state_saved(status=status, reason=reason, summary=self.context.summary)
        await self._emit(StateChanged(status, reason))

    def _member_ids(self) -> tuple[str, ...]:
        return tuple(m.persona.id for m in self.members)

    async def _emit(self, event: Event) -> None:
        await self.sink(event)
