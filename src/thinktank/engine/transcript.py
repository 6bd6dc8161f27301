"""The transcript's bookkeeping: the user's messages as they enter it, and the running count of
persona messages that the stop limits ask about twice a turn."""

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
    """Counts a transcript's persona messages, reading only what was added since the last count."""

    def __init__(self) -> None:
        self._counted: Sequence[Message] | None = None
        self._upto = 0
        self._last: Message | None = None
        self._persona = 0

    def count(self, messages: Sequence[Message]) -> int:
        # Asked twice a turn over a transcript that only grows at its end: count only what was added
        # since the last call, unless the counted part is no longer there as it was (a message taken
        # back, a transcript replaced).
        upto, persona = self._upto, self._persona
        if (
            self._counted is not messages
            or upto > len(messages)
            or (upto and messages[upto - 1] is not self._last)
        ):
            upto, persona = 0, 0
        persona += sum(1 for m in messages[upto:] if m.kind == "persona")
        self._counted, self._upto, self._persona = messages, len(messages), persona
        self._last = messages[-1] if messages else None
        return persona
