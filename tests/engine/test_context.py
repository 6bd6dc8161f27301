from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tests.engine.helpers import scripted_engine
from thinktank.domain import Message
from thinktank.domain.tokens import approximate_tokens
from thinktank.engine.context import ContextWindow, Summary


async def test_prompts_stop_growing_once_the_budget_is_reached_and_old_turns_are_summarised() -> None:
    engine, _ = scripted_engine(messages=60, budget=400)
    while engine.status != "finished":
        await engine.take_turn()
    prompts = [m.usage.input_tokens for m in engine.messages if m.kind == "persona"]
    early_peak = max(prompts[10:30])
    late_peak = max(prompts[30:])
    assert late_peak <= early_peak * 1.15, "per-turn prompt tokens are flat after the budget"
    assert sum(prompts) < len(prompts) * prompts[-1] * 1.5
    summary = engine.context.summary
    assert summary.text
    assert summary.covers_upto > 30
    assert "summaries" in engine.totals.by_persona, "summaries are paid for and booked"


async def test_short_conversations_send_everything_verbatim() -> None:
    engine, _ = scripted_engine(messages=4, budget=5000)
    while engine.status != "finished":
        await engine.take_turn()
    assert engine.context.summary.text == ""
    assert engine.context.window(engine.messages) == engine.messages


def test_budget_must_be_sensible() -> None:
    import pytest

    with pytest.raises(ValueError, match="at least 100"):
        ContextWindow(budget_tokens=10)


def test_the_window_of_a_transcript_not_numbered_from_zero_is_found_by_index() -> None:
    def said(index: int, text: str) -> Message:
        return Message(index, "user", "you", "You", "convener", text, datetime.now(UTC))

    window = ContextWindow(budget_tokens=100)
    window.summary = Summary("earlier", 3)
    numbered = [said(i, f"message {i}") for i in range(6)]
    assert [m.index for m in window.window(numbered)] == [3, 4, 5]
    gapped = [said(i, f"message {i}") for i in (0, 2, 4, 6)]
    assert [m.index for m in window.window(gapped)] == [4, 6]


def test_the_counted_window_follows_the_transcript() -> None:
    window = ContextWindow(budget_tokens=100)
    transcript = [Message(0, "user", "you", "You", "convener", "abcd" * 10, datetime.now(UTC))]
    assert window.text_tokens(window.window(transcript)) == 10
    transcript.append(Message(1, "user", "you", "You", "convener", "abcd" * 5, datetime.now(UTC)))
    assert window.text_tokens(window.window(transcript)) == 15
    transcript[-1] = Message(1, "user", "you", "You", "convener", "abcd", datetime.now(UTC))
    assert window.text_tokens(window.window(transcript)) == 11, "a replaced last message is counted anew"


@given(st.lists(st.tuples(st.sampled_from(["add", "add", "add", "replace", "fold"]), st.integers(0, 60))))
def test_the_kept_count_is_always_the_count_of_the_window_as_it_is(steps: list[tuple[str, int]]) -> None:
    """Counted a message at a time as the transcript grows, the window's tokens are what counting
    the whole window again gives, through folds and a replaced last message."""
    window = ContextWindow(budget_tokens=100)
    transcript: list[Message] = []
    for step, size in steps:
        said = Message(len(transcript), "user", "you", "You", "convener", "w" * size, datetime.now(UTC))
        if step == "add" or not transcript:
            transcript.append(said)
        elif step == "replace":
            transcript[-1] = replace(said, index=len(transcript) - 1)
        else:
            window.summary = Summary("earlier", min(window.summary.covers_upto + size % 3, len(transcript)))
        current = window.window(transcript)
        assert window.text_tokens(current) == sum(approximate_tokens(m.text) for m in current)
