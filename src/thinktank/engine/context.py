"""Bounded context: a recent window sent verbatim, older turns folded into a rolling summary.

When the unsummarised transcript exceeds `budget_tokens`, its oldest messages are folded into the
summary until what is left fits in half the budget. Summaries are made in chunks, not every turn,
and each persona's prompt stays bounded however long the conversation runs.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.direct import model_request
from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart
from pydantic_ai.models import Model

from thinktank.domain import Message, Usage
from thinktank.domain.vocabulary import SUMMARISER_OPENING
from thinktank.engine.prompts import transcript_line
from thinktank.models.answer import read_answer
from thinktank.models.chat import approximate_tokens
from thinktank.pricing.prices import UNKNOWN_COST, Cost

SUMMARY_INSTRUCTIONS = (
    f"{SUMMARISER_OPENING} Write a neutral summary of the discussion below in under 150 words: "
    "each person's main position, what they agree on, and the open questions. Use the speakers' names."
)
DEFAULT_BUDGET_TOKENS = 1200
SUMMARY_REPLY_TOKENS = 300


@dataclass(frozen=True, slots=True)
class Summary:
    """The rolling summary of the messages that no longer fit the context window."""

    text: str
    covers_upto: int
    """Messages with an index below this are in the summary and no longer sent verbatim."""


@dataclass(frozen=True, slots=True)
class SummaryCharge:
    """What writing a summary cost, charged to the conversation."""

    model_id: str | None
    usage: Usage
    cost: Cost


_TEXT = operator.attrgetter("text")
MESSAGE_OVERHEAD_TOKENS = 8
"""A message's label and turn markers, on top of its text."""


def message_tokens(message: Message) -> int:
    return approximate_tokens(message.text) + MESSAGE_OVERHEAD_TOKENS


class ContextWindow:
    """What each speaker is sent: the recent messages that fit the token budget, the older ones folded
    into a summary."""

    def __init__(self, *, budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> None:
        if budget_tokens < 100:
            raise ValueError("the context budget must be at least 100 tokens")
        self.budget_tokens = budget_tokens
        self.summary = Summary("", 0)
        self._counted: tuple[Message, Message, int, int] | None = None
        """The window counted last: its first and last message, its length and its tokens."""

    def window(self, messages: Sequence[Message]) -> list[Message]:
        upto = self.summary.covers_upto
        if messages and messages[0].index == 0 and messages[-1].index == len(messages) - 1:
            # Numbered from 0 in order, as the engine keeps a transcript: the window is a slice,
            # not a scan of the whole conversation every turn.
            return list(messages[upto:])
        return [m for m in messages if m.index >= upto]

    def text_tokens(self, window: Sequence[Message]) -> int:
        """The window's text in approximate tokens. A turn asks several times (the summary check,
        the prompt's estimate) and the window changes only when a message is added or folded away,
        so the count is kept: the same window is not counted again, a longer one only for what was
        added."""
        if not window:
            return 0
        counted, length = self._counted, len(window)
        if counted is not None and counted[0] is window[0] and counted[2] <= length:
            first, last, upto, total = counted
            # The transcript only grows and its messages do not change: the same first message and
            # the same message where the count stopped mean the same messages in between.
            if window[upto - 1] is last:
                if upto < length:
                    total += sum(map(approximate_tokens, map(_TEXT, window[upto:])))
                    self._counted = (first, window[-1], length, total)
                return total
        total = sum(map(approximate_tokens, map(_TEXT, window)))
        self._counted = (window[0], window[-1], length, total)
        return total

    def window_tokens(self, window: Sequence[Message]) -> int:
        """The window as sent: its text and each message's label."""
        return self.text_tokens(window) + MESSAGE_OVERHEAD_TOKENS * len(window)

    def needs_folding(self, messages: Sequence[Message]) -> bool:
        return self.window_tokens(self.window(messages)) > self.budget_tokens

    def to_fold(self, messages: Sequence[Message]) -> list[Message]:
        window = self.window(messages)
        remaining = self.window_tokens(window)
        folded = []
        for message in window[:-1]:
            if remaining <= self.budget_tokens // 2:
                break
            folded.append(message)
            remaining -= message_tokens(message)
        return folded

    def _fold_prompt(self, messages: Sequence[Message]) -> tuple[list[Message], str] | None:
        if not self.needs_folding(messages):
            return None
        folded = self.to_fold(messages)
        if not folded:
            return None
        transcript = "\n\n".join(map(transcript_line, folded))
        previous = f"Summary so far:\n{self.summary.text}\n\n" if self.summary.text else ""
        return folded, f"{previous}New messages:\n{transcript}"

    def planned_fold(self, messages: Sequence[Message]) -> Usage | None:
        """The most the next `fold` may use (None: no summary is due), reserved before the turn."""
        prompt = self._fold_prompt(messages)
        if prompt is None:
            return None
        tokens = approximate_tokens(SUMMARY_INSTRUCTIONS) + approximate_tokens(prompt[1])
        return Usage(tokens, SUMMARY_REPLY_TOKENS, 1)

    async def fold(self, messages: Sequence[Message], *, summarizer: Model) -> SummaryCharge | None:
        """Fold old messages into the summary if the window is over budget; return what it cost."""
        prompt = self._fold_prompt(messages)
        if prompt is None:
            return None
        folded, text = prompt
        request = ModelRequest(parts=[SystemPromptPart(SUMMARY_INSTRUCTIONS), UserPromptPart(text)])
        response = await model_request(
            summarizer, [request], model_settings={"temperature": 0.2, "max_tokens": SUMMARY_REPLY_TOKENS}
        )
        answer = read_answer(response)
        self.summary = Summary(answer.text.strip() or self.summary.text, folded[-1].index + 1)
        return SummaryCharge(answer.model_id, answer.usage, answer.cost or UNKNOWN_COST)
