"""Prompt tokens over a conversation: bounded context vs. sending the full history.

Both runs use the same panel, seed and scripted replies; the bounded run also pays for its
rolling summaries, which are counted. Measured twice:

scripted  200 messages; tokens are the scripted model's own ~4-characters-a-token estimates and the
          summaries are its extractive ones (fast, deterministic, but not a real tokenizer)
local     100 messages; every prompt a persona is sent is counted with the bundled local model's
          own tokenizer (its chat template applied), and the summaries are written by that local
          model, whose token counts come from the same tokenizer
Targets: total <= 25% of full history at 200 messages; per-turn flat after the budget.
"""

from __future__ import annotations

import asyncio
from typing import Any

from _common import PANEL, LocalTokenizer, scripted_panel, table, watching_scripted_model, write
from thinktank.engine.context import DEFAULT_BUDGET_TOKENS
from thinktank.models.ids import LOCAL_DEFAULT
from thinktank.models.local import LocalModelPool

MESSAGES = 200
LOCAL_MESSAGES = 100
PERSONAS = PANEL
UNBOUNDED = 10**9


async def scripted_run(budget: int, messages: int = MESSAGES) -> tuple[list[int], int]:
    engine = scripted_panel(messages=messages, context_budget_tokens=budget)
    while engine.status != "finished":
        await engine.take_turn()
    per_turn = [m.usage.input_tokens for m in engine.messages if m.kind == "persona"]
    summaries = engine.totals.by_persona.get("summaries")
    return per_turn, summaries.usage.input_tokens if summaries else 0


async def local_run(
    budget: int, tokenizer: LocalTokenizer, pool: LocalModelPool
) -> tuple[list[int], int, int]:
    """Per-turn prompt tokens (local tokenizer), summary input tokens and summaries written."""
    engine = scripted_panel(
        messages=LOCAL_MESSAGES, context_budget_tokens=budget, summary_model=LOCAL_DEFAULT, local_pool=pool
    )
    with watching_scripted_model() as watch:
        while engine.status != "finished":
            await engine.take_turn()
    per_turn = [tokenizer.count_chat(prompt) for prompt in watch.prompts]
    summaries = engine.totals.by_persona.get("summaries")
    if summaries is None:
        return per_turn, 0, 0
    return per_turn, summaries.usage.input_tokens, summaries.usage.requests


def _quarters(messages: int) -> list[int]:
    return sorted({10, messages // 4, messages // 2, 3 * messages // 4, messages})


def flat_after_budget(per_turn: list[int]) -> bool:
    late, settled = per_turn[len(per_turn) // 2 :], per_turn[len(per_turn) // 6 : len(per_turn) // 2]
    return max(late) <= max(settled) * 1.15


async def main() -> dict[str, object]:
    bounded, summary_tokens = await scripted_run(DEFAULT_BUDGET_TOKENS)
    full, _ = await scripted_run(UNBOUNDED)
    bounded_total = sum(bounded) + summary_tokens
    full_total = sum(full)
    ratio = bounded_total / full_total
    checkpoints = [10, 25, 50, 100, 150, 200]
    table(
        f"Prompt tokens per turn, scripted estimates ({MESSAGES} messages, budget {DEFAULT_BUDGET_TOKENS})",
        ["message", "bounded", "full history"],
        [[n, bounded[n - 1], full[n - 1]] for n in checkpoints],
    )

    pool = LocalModelPool()
    tokenizer = LocalTokenizer()
    try:
        local_bounded, local_summary_tokens, local_summaries = await local_run(
            DEFAULT_BUDGET_TOKENS, tokenizer, pool
        )
        local_full, _, _ = await local_run(UNBOUNDED, tokenizer, pool)
    finally:
        tokenizer.close()
        pool.close()
    local_bounded_total = sum(local_bounded) + local_summary_tokens
    local_full_total = sum(local_full)
    local_ratio = local_bounded_total / local_full_total
    # The scripted run at the same length, so the two measurements compare like with like.
    short_bounded, short_summaries = await scripted_run(DEFAULT_BUDGET_TOKENS, LOCAL_MESSAGES)
    short_ratio = (sum(short_bounded) + short_summaries) / sum(full[:LOCAL_MESSAGES])
    table(
        f"Prompt tokens per turn, local tokenizer, local summaries ({LOCAL_MESSAGES} messages)",
        ["message", "bounded", "full history"],
        [[n, local_bounded[n - 1], local_full[n - 1]] for n in _quarters(LOCAL_MESSAGES)],
    )
    flat = flat_after_budget(bounded)
    local_flat = flat_after_budget(local_bounded)
    table(
        "Totals",
        [
            "",
            f"scripted estimates, {MESSAGES} msgs",
            f"local tokenizer + local summaries, {LOCAL_MESSAGES} msgs",
        ],
        [
            ["bounded (incl. summaries)", bounded_total, local_bounded_total],
            ["  of which summaries (input)", summary_tokens, local_summary_tokens],
            ["full history", full_total, local_full_total],
            ["bounded / full", f"{ratio:.3f}", f"{local_ratio:.3f}"],
            ["per-turn flat after the budget", flat, local_flat],
        ],
    )
    verdict = "meets" if ratio <= 0.25 else "misses"
    print(f"  target total <= 25% of full (200 messages, scripted): {verdict} ({ratio:.1%})")
    print(
        f"  local tokenizer, {LOCAL_MESSAGES} messages: {local_ratio:.1%}"
        f" ({local_summaries} local summaries);"
        f" the scripted estimates at {LOCAL_MESSAGES} messages: {short_ratio:.1%}"
    )
    data: dict[str, Any] = {
        "scripted": {
            "messages": MESSAGES,
            "budget_tokens": DEFAULT_BUDGET_TOKENS,
            "counted_with": "the scripted model's ~4-characters-a-token estimate",
            "bounded_per_turn": bounded,
            "full_per_turn": full,
            "bounded_total": bounded_total,
            "summary_tokens": summary_tokens,
            "full_total": full_total,
            "ratio": ratio,
            "meets_target": ratio <= 0.25,
            "flat_after_budget": flat,
        },
        "local": {
            "messages": LOCAL_MESSAGES,
            "budget_tokens": DEFAULT_BUDGET_TOKENS,
            "counted_with": (
                "SmolLM2-135M-Instruct's tokenizer, chat template applied; summaries by that model"
            ),
            "bounded_per_turn": local_bounded,
            "full_per_turn": local_full,
            "bounded_total": local_bounded_total,
            "summary_tokens": local_summary_tokens,
            "summaries": local_summaries,
            "full_total": local_full_total,
            "ratio": local_ratio,
            "flat_after_budget": local_flat,
            "scripted_ratio_same_length": short_ratio,
        },
    }
    write("context_growth", data)
    return {"ratio": ratio, "local_ratio": local_ratio}


if __name__ == "__main__":
    asyncio.run(main())
