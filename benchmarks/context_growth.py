"""Prompt tokens over a 200-message conversation: bounded context vs. sending the full history.

Both runs use the same panel, seed and scripted replies; the bounded run also pays for its
rolling summaries, which are counted. Targets: total <= 25% of full history; per-turn flat
after the budget.
"""

from __future__ import annotations

import asyncio

from _common import PANEL, scripted_panel, table, write
from thinktank.engine.context import DEFAULT_BUDGET_TOKENS

MESSAGES = 200
PERSONAS = PANEL
UNBOUNDED = 10**9


async def run(budget: int) -> tuple[list[int], int]:
    engine = scripted_panel(messages=MESSAGES, context_budget_tokens=budget)
    while engine.status != "finished":
        await engine.take_turn()
    per_turn = [m.usage.input_tokens for m in engine.messages if m.kind == "persona"]
    summaries = engine.totals.by_persona.get("summaries")
    return per_turn, summaries.usage.input_tokens if summaries else 0


async def main() -> dict[str, object]:
    bounded, summary_tokens = await run(DEFAULT_BUDGET_TOKENS)
    full, _ = await run(UNBOUNDED)
    bounded_total = sum(bounded) + summary_tokens
    full_total = sum(full)
    ratio = bounded_total / full_total
    checkpoints = [10, 25, 50, 100, 150, 200]
    table(
        f"Prompt tokens per turn ({MESSAGES} messages, budget {DEFAULT_BUDGET_TOKENS} tokens verbatim)",
        ["message", "bounded", "full history"],
        [[n, bounded[n - 1], full[n - 1]] for n in checkpoints],
    )
    late = bounded[100:]
    flat = max(late) <= max(bounded[30:100]) * 1.15
    table(
        "Totals",
        ["", "prompt tokens"],
        [
            ["bounded (incl. summaries)", bounded_total],
            ["  of which summaries", summary_tokens],
            ["full history", full_total],
            ["bounded / full", f"{ratio:.3f}"],
        ],
    )
    verdict = "meets" if ratio <= 0.25 else "misses"
    print(f"  target total <= 25% of full: {verdict} ({ratio:.1%}); per-turn flat after the budget: {flat}")
    write(
        "context_growth",
        {
            "messages": MESSAGES,
            "budget_tokens": DEFAULT_BUDGET_TOKENS,
            "bounded_per_turn": bounded,
            "full_per_turn": full,
            "bounded_total": bounded_total,
            "summary_tokens": summary_tokens,
            "full_total": full_total,
            "ratio": ratio,
            "meets_target": ratio <= 0.25,
            "flat_after_budget": flat,
        },
    )
    return {"ratio": ratio}


if __name__ == "__main__":
    asyncio.run(main())
