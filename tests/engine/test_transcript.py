"""The persona tally reads only what was added, yet always answers as a scan of the whole would."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from thinktank.domain import Message
from thinktank.engine.transcript import PersonaTally, user_message


def said(index: int, kind: str) -> Message:
    if kind == "user":
        return user_message(index, f"question {index}")
    return Message(index, "persona", "ana", "Ana", "analyst", f"answer {index}", datetime.now(UTC))


@given(st.lists(st.sampled_from(["persona", "user", "take back", "new transcript", "look"]), max_size=40))
def test_spoken_is_the_persona_messages_however_the_transcript_changed(steps: list[str]) -> None:
    tally = PersonaTally()
    messages: list[Message] = []
    held: list[tuple[list[Message], int]] = []
    for step in steps:
        if step in ("persona", "user"):
            messages.append(said(len(messages), step))
        elif step == "take back" and messages:
            messages.pop()
        elif step == "new transcript":
            messages = [said(i, "persona" if i % 2 else "user") for i in range(len(messages))]
        spoken = tally.spoken(messages)
        assert spoken == [m for m in messages if m.kind == "persona"]
        assert tally.count(messages) == len(spoken)
        held.append((spoken, len(spoken)))
    for spoken, length in held:
        assert len(spoken) >= length, "a list handed out is only ever extended, never emptied"
