"""The transcript's bookkeeping: the user's messages as they enter it, and the persona messages
among them, which the stop limits and the orchestrator ask about several times a turn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from thinktank.domain import Message
from thinktank.engine.prompts import USER_NAME, USER_ROLE


def user_message(index: int, text: str) -> Message:
    return Message(
        index=index,
        kind="user",
        speaker_id="user",
        speaker_name=USER_NAME,
        speaker_role=USER_ROLE,
        text=text,
        created_at=datetime.now(UTC),
    )


class PersonaTally:
    """Keeps a transcript's persona messages, reading only what was added since it last looked."""

    def __init__(self) -> None:
        self._read: Sequence[Message] | None = None
        self._upto = 0
        self._last: Message | None = None
        self._spoken: list[Message] = []

    def spoken(self, messages: Sequence[Message]) -> list[Message]:
        """The persona messages of `messages`, oldest first (not to be changed: it is kept)."""
        # Asked several times a turn (the stop limits, the orchestrator's rules) over a transcript that
        # only grows at its end: read only what was added, unless the part read is no longer there as
        # it was (a message taken back, a transcript replaced).
        if (
            self._read is not messages
            or self._upto > len(messages)
            or (self._upto and messages[self._upto - 1] is not self._last)
        ):
            self._upto, self._spoken = 0, []  # a new list: a context holding the old one keeps its view
        if len(messages) > self._upto:
            self._spoken.extend(m for m in messages[self._upto :] if m.kind == "persona")
        self._read, self._upto = messages, len(messages)
        self._last = messages[-1] if messages else None
        return self._spoken

    def count(self, messages: Sequence[Message]) -> int:
        return len(self.spoken(messages))
