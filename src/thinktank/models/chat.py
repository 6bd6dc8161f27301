"""Flatten pydantic-ai messages into the role/content turns that our own models read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)

# The approximation is a domain rule (pricing estimates use it too); the models read it from here.
from thinktank.domain.tokens import approximate_tokens as approximate_tokens

Role = Literal["system", "user", "assistant"]


class ChatTurn(NamedTuple):
    """One turn of a plain chat transcript (system, user or assistant), as local models take it.
    A named tuple: every reply of our own models turns its whole prompt into these, and a tuple is
    built in C where a frozen dataclass runs Python for each."""

    role: Role
    content: str


def to_chat(messages: Sequence[ModelMessage], *, instructions: str | None = None) -> list[ChatTurn]:
    """System prompts first (joined), then user and assistant turns in order."""
    system: list[str] = [instructions] if instructions else []
    turns: list[ChatTurn] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, SystemPromptPart):
                    system.append(part.content)
                elif isinstance(part, UserPromptPart):
                    content = part.content
                    text = (
                        content
                        if isinstance(content, str)
                        else " ".join(c for c in content if isinstance(c, str))
                    )
                    turns.append(ChatTurn("user", text))
        elif isinstance(message, ModelResponse):
            parts = message.parts
            if len(parts) == 1 and isinstance(parts[0], TextPart):
                text = parts[0].content  # a reply as the engine keeps it: one text part
            else:
                text = "".join(part.content for part in parts if isinstance(part, TextPart))
            turns.append(ChatTurn("assistant", text))
    if system:
        turns.insert(0, ChatTurn("system", "\n\n".join(system)))
    return turns
