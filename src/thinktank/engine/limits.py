"""When a conversation is done: the message limit and the cost cap, checked before and after turns.

Each check answers with the reason the conversation finishes, or None while it may go on.
"""

from __future__ import annotations

from decimal import Decimal

from thinktank.engine.config import EngineConfig
from thinktank.engine.totals import CostTotals


def reached_before_turn(config: EngineConfig, persona_messages: int) -> str | None:
    """The message limit, met before a turn starts (it was lowered, or the run resumed at it)."""
    limit = config.max_messages
    if limit is not None and persona_messages >= limit:
        return f"reached {limit} messages"
    return None


def over_cost_cap(config: EngineConfig, totals: CostTotals, estimate: Decimal) -> str | None:
    """Would the next turn, at its estimated billed cost, pass the conversation's cap?"""
    cap, spent = config.max_cost, totals.total.cost.billed
    if cap is None or spent is None or spent + estimate <= cap:
        return None
    return f"cost cap of ${cap} would be passed by the next turn"


def reached_after_turn(config: EngineConfig, totals: CostTotals, persona_messages: int) -> str | None:
    cap, spent = config.max_cost, totals.total.cost.billed
    if cap is not None and spent is not None and spent >= cap:
        return f"cost cap of ${cap} reached (spent ${spent:.4f})"
    if config.max_messages is not None and persona_messages >= config.max_messages:
        return f"reached {config.max_messages} messages"
    return None
