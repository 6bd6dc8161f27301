"""Tokens sent to choose the next speaker, per turn, at turns 10, 50 and 200.

heuristic  our default: no model call at all
llm        our LLM scorer: one call scoring every candidate, bounded input (roster + recent window)
seed       the seed's design, reproduced here only: one call per persona per turn, each carrying
           the recent messages, the persona's background and its message count
Tokens are counted with the documented ~4-characters-a-token approximation on the exact text
each design would send. Targets: heuristic 0; llm <= 1 call and flat.
"""

from __future__ import annotations

import asyncio
import json

from _common import PANEL, scripted_panel, table, write
from thinktank.domain import Persona
from thinktank.models.chat import approximate_tokens
from thinktank.orchestration.heuristic import HeuristicScorer
from thinktank.orchestration.llm import INSTRUCTIONS, selection_prompt
from thinktank.orchestration.scoring import SelectionContext

CHECKPOINTS = (10, 50, 200)
PERSONAS = PANEL
SEED_SYSTEM = (
    "Score how well {name} should speak next. Consider: relevance to topic, expertise, participation "
    "balance. Return JSON: {{relevance: 0-1, expertise: 0-1, participation: 0-1, flow: 0-1}}"
)
SEED_ANSWER_TOKENS = 30
LLM_ANSWER_TOKENS_PER_CANDIDATE = 25


def seed_design_tokens(context: SelectionContext, personas: list[Persona]) -> tuple[int, int]:
    recent = [{"speaker": m.speaker_name, "text": m.text} for m in context.messages[-5:]]
    total = 0
    for persona in personas:
        payload = json.dumps(
            {
                "recentMessages": recent,
                "personaBackground": persona.model_dump(mode="json"),
                "messageCount": sum(1 for m in context.messages if m.speaker_id == persona.id),
            }
        )
        total += approximate_tokens(SEED_SYSTEM.format(name=persona.name)) + approximate_tokens(payload)
        total += SEED_ANSWER_TOKENS
    return len(personas), total


def llm_tokens(context: SelectionContext, personas: list[Persona]) -> tuple[int, int]:
    sent = approximate_tokens(INSTRUCTIONS) + approximate_tokens(selection_prompt(context, personas))
    return 1, sent + LLM_ANSWER_TOKENS_PER_CANDIDATE * len(personas)


async def main() -> dict[str, object]:
    engine = scripted_panel(messages=max(CHECKPOINTS))
    assert isinstance(engine.orchestrator.scorer, HeuristicScorer)
    rows, results = [], {}
    for turn in range(1, max(CHECKPOINTS) + 1):
        message = await engine.take_turn()
        assert message is not None
        assert message.decision is not None
        if turn not in CHECKPOINTS:
            continue
        heuristic_tokens = message.decision.selection_usage.total_tokens
        context = SelectionContext(
            topic=engine.config.topic, members=engine.personas, messages=engine.messages
        )
        llm_calls, llm = llm_tokens(context, engine.personas)
        seed_calls, seed = seed_design_tokens(context, engine.personas)
        results[turn] = {
            "heuristic": {"calls": 0, "tokens": heuristic_tokens},
            "llm": {"calls": llm_calls, "tokens": llm},
            "seed": {"calls": seed_calls, "tokens": seed},
        }
        rows.append(
            [
                turn,
                f"0 / {heuristic_tokens}",
                f"{llm_calls} / {llm}",
                f"{seed_calls} / {seed}",
                f"{seed / llm:.1f}x",
            ]
        )
    table(
        f"Speaker selection per turn ({len(PERSONAS)} personas): calls / tokens",
        ["turn", "heuristic", "llm", "seed design", "seed / llm"],
        rows,
    )
    llm_values = [results[t]["llm"]["tokens"] for t in CHECKPOINTS]
    flat = max(llm_values) <= min(llm_values) * 1.25
    heuristic_zero = all(results[t]["heuristic"]["tokens"] == 0 for t in CHECKPOINTS)
    spread = max(llm_values) / min(llm_values)
    print(f"  heuristic uses 0 tokens: {heuristic_zero}; llm: one call, flat (max/min {spread:.2f}): {flat}")
    write(
        "selection_cost",
        {"personas": len(PERSONAS), "per_turn": results, "llm_flat": flat, "heuristic_zero": heuristic_zero},
    )
    return results


if __name__ == "__main__":
    asyncio.run(main())
