"""What a turn will ask of the models before any of them runs: each member's system prompt and
prompt, and the most each call of the turn may use (what the budget reserves up front)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic_ai.messages import ModelMessage

from thinktank.domain import DiscussionMode, Message, Persona, Usage
from thinktank.engine.budget import Share
from thinktank.engine.config import EngineConfig
from thinktank.engine.context import ContextWindow
from thinktank.engine.members import Member, find_member
from thinktank.engine.prompts import (
    PromptStyle,
    closing_request,
    history_before,
    last_own,
    prompt_style_for,
    system_prompt,
)
from thinktank.models.chat import approximate_tokens
from thinktank.models.ids import ModelId
from thinktank.orchestration.orchestrator import TurnOrchestrator
from thinktank.orchestration.scoring import SelectionContext
from thinktank.pricing.prices import Pricer


@dataclass(frozen=True, slots=True)
class SystemPrompt:
    """A member's system prompt, its approximate tokens, and the others on the panel it names."""

    text: str
    tokens: int
    others: list[Persona]


class SystemPrompts:
    """Each member's system prompt, written once until something in it changes.

    A turn plans with every member's prompt (the reservation covers whoever speaks) and speaks with
    one; the panel, the mode, the topic and the summary change far less often than turns are taken.
    """

    def __init__(self) -> None:
        self._seated: list[Member] = []
        self._setting: tuple[str, str, str] | None = None
        self._written: dict[int, SystemPrompt] = {}

    def system_for(
        self, member: Member, members: Sequence[Member], *, mode: DiscussionMode, topic: str, summary: str
    ) -> SystemPrompt:
        """The member's system prompt as things stand."""
        if (
            (mode, topic, summary) != self._setting
            or len(members) != len(self._seated)
            or any(map(operator.is_not, members, self._seated))
        ):
            # Someone joined, left or was edited, or the discussion moved on: rosters and summaries differ.
            self._setting = (mode, topic, summary)
            self._seated = list(members)  # held, so the ids below stay theirs
            self._written.clear()
        written = self._written.get(id(member))
        if written is None:
            others = [m.persona for m in members if m is not member]
            text = system_prompt(
                member.persona,
                mode=mode,
                topic=topic,
                others=others,
                summary=summary or None,
                style=prompt_style_for(member.models[0]),
            )
            written = self._written[id(member)] = SystemPrompt(text, approximate_tokens(text), others)
        return written


_Segment = tuple[Message, Message, list[ModelMessage]]
"""A stretch of the transcript that ends with a member's own message (its first and last message,
held so their ids stay theirs) as turns: a user turn with what the others said, the member's reply."""


class Histories:
    """Each member's turns up to its own last message in the window, built a stretch at a time.

    A member's prompt is the window as turns: the others' messages as user turns, its own as
    assistant turns, then a closing user turn with what was said since it last spoke. Each stretch
    of the transcript that ends with one of its own messages makes the same two turns every time it
    is sent, so they are built once and reused while the stretch is in the window (the first one
    carries the system prompt and starts where the window does, so a fold or a new summary builds
    that one again). pydantic-ai's messages are values (its preparation replaces, never edits):
    one message object can go out in many requests.
    """

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Member, dict[tuple[int, int, str | None], _Segment]]] = {}
        """By persona id: an edited member's turns replace those of the version before."""

    def prompt(
        self, member: Member, *, system: str, window: Sequence[Message], style: PromptStyle
    ) -> list[ModelMessage]:
        """The member's prompt: what `prompts.build_messages` builds, the same turns in the same order."""
        persona = member.persona
        said = last_own(persona, window)
        if said < 0:
            return [closing_request(persona, system=system, tail=window, style=style)]
        turns = self._history(member, system=system, window=window, said=said)
        turns.append(closing_request(persona, system=None, tail=window[said + 1 :], style=style))
        return turns

    def _history(
        self, member: Member, *, system: str, window: Sequence[Message], said: int
    ) -> list[ModelMessage]:
        persona = member.persona
        kept = self._kept.get(persona.id)
        known = kept[1] if kept is not None and kept[0] is member else {}
        used: dict[tuple[int, int, str | None], _Segment] = {}
        turns: list[ModelMessage] = []
        start = 0
        for i in range(said + 1):
            message = window[i]
            if message.kind != "persona" or message.speaker_id != persona.id:
                continue
            # The transcript only grows and its messages never change: the same first and last
            # message are the same stretch. Only the first stretch carries the system prompt.
            opening = system if start == 0 else None
            key = (id(window[start]), id(message), opening)
            segment = known.get(key)
            if segment is None:
                stretch = window[start : i + 1]
                segment = (window[start], message, history_before(persona, system=opening, window=stretch))
            used[key] = segment
            turns += segment[2]
            start = i + 1
        self._kept[persona.id] = (member, used)  # only what this window uses: the rest has scrolled off
        return turns


@dataclass(frozen=True)
class Panel:
    """The parts of a conversation a turn is planned from, as they stand at the turn."""

    config: EngineConfig
    members: Sequence[Member]
    messages: Sequence[Message]
    context: ContextWindow
    pricer: Pricer
    prompts: SystemPrompts = field(default_factory=SystemPrompts)
    spoken: Sequence[Message] | None = None
    """The personas' messages among `messages`, when the conversation keeps them."""
    histories: Histories = field(default_factory=Histories)

    def selection_context(self) -> SelectionContext:
        """What the orchestrator decides from (one per panel: planning asks first, then deciding)."""
        return self._selection_context

    @functools.cached_property
    def _selection_context(self) -> SelectionContext:
        return SelectionContext(
            topic=self.config.topic,
            members=[m.persona for m in self.members],
            messages=self.messages,
            spoken=self.spoken,
        )

    def system_for(self, member: Member) -> SystemPrompt:
        """The member's system prompt as things stand."""
        return self.prompts.system_for(
            member,
            self.members,
            mode=self.config.mode,
            topic=self.config.topic,
            summary=self.context.summary.text,
        )

    def prompt_for(self, member: Member) -> tuple[list[ModelMessage], list[Persona], Decimal]:
        """The member's prompt, the others on the panel, and the turn's estimated billed cost."""
        system = self.system_for(member)
        window = self.context.window(self.messages)
        prompt = self.histories.prompt(
            member, system=system.text, window=window, style=prompt_style_for(member.models[0])
        )
        prompt_tokens = system.tokens + self.context.text_tokens(window)
        estimate = self.pricer.price(
            member.models[0], input_tokens=prompt_tokens, output_tokens=self.config.reply_tokens
        ).billed or Decimal(0)
        return prompt, system.others, estimate

    def plan_turn(
        self, orchestrator: TurnOrchestrator, *, speaker: str | None, summarizer: Member | None
    ) -> dict[str, Share]:
        """The most each call of the next turn may use: the scorer's, a summary's if one is due, and
        the speaker's (whoever it turns out to be: the largest of the panel's)."""
        shares: dict[str, Share] = {}
        context = self.selection_context()
        if (selection := orchestrator.planned_call(context, requested=speaker)) is not None:
            shares["selection"] = self._share(selection[0], selection[1])
        if (fold := self.context.planned_fold(self.messages)) is not None:
            summarizers = [summarizer] if summarizer else self.members
            shares["summary"] = max((self._share(m.models[0], fold) for m in summarizers), key=_share_size)
        window_tokens = self.context.text_tokens(self.context.window(self.messages))
        candidates = [find_member(self.members, speaker)] if speaker is not None else self.members
        # Of the members on one model, the longest prompt costs the most: price that one only.
        longest: dict[ModelId, int] = {}
        for member in candidates:
            model, prompt = member.models[0], self.system_for(member).tokens + window_tokens
            if prompt > longest.get(model, -1):
                longest[model] = prompt
        reply = self.config.reply_tokens
        speaking = [self._share(model, Usage(prompt, reply, 1)) for model, prompt in longest.items()]
        shares["speaker"] = max(speaking, key=_share_size)
        return shares

    def _share(self, model_id: ModelId, usage: Usage) -> Share:
        cost = self.pricer.price(model_id, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
        return Share(usage.total_tokens, cost.billed or Decimal(0))


def _share_size(share: Share) -> tuple[Decimal, int]:
    return share.cost, share.tokens
