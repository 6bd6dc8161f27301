from __future__ import annotations

from tests.engine.helpers import scripted_engine
from thinktank.engine.context import ContextWindow


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
