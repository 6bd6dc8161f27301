"""What conversations come to, as the API answers it: costs, decision memos, comparisons, family
trees and my usage. The shapes are those the services build; these models declare them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CostPublic(BaseModel):
    """What something cost, as plain decimal strings (USD)."""

    raw_usd: str | None = Field(description="What the provider charges; null when a price is unknown")
    billed_usd: str | None = Field(description="What is billed (with any markup); null when unknown")


class LinePublic(CostPublic):
    """Tokens, requests and cost of one account (a persona, a provider, a model, or all)."""

    input_tokens: int
    output_tokens: int
    requests: int


class TotalsPublic(BaseModel):
    """A conversation's costs: in all, and by persona, provider and model."""

    total: LinePublic
    by_persona: dict[str, LinePublic] = Field(
        description="Persona ids, and `orchestrator`, `summaries` and `memo` for the panel's overhead"
    )
    by_provider: dict[str, LinePublic]
    by_model: dict[str, LinePublic]


class DailyCost(LinePublic):
    """One UTC day of my spend, in all and by provider."""

    day: str = Field(description="UTC date, YYYY-MM-DD")
    by_provider: dict[str, LinePublic]


class MemoUsage(BaseModel):
    """The tokens the chair that wrote the memo used."""

    input_tokens: int
    output_tokens: int


class MemoAttemptPublic(BaseModel):
    """One chair asked to write the memo: its model, why it failed (if it did), its cost."""

    model_id: str
    error: str | None
    cost: CostPublic


class MemoPublic(BaseModel):
    """A decision memo and what writing it took (every chair tried, in order)."""

    memo: dict[str, Any] = Field(
        description="question, options, agreements, disagreements, risks, recommendation, "
        "action_items and stances; every claim cites the indices of the messages it comes from"
    )
    model_id: str
    usage: MemoUsage
    cost: CostPublic
    attempts: list[MemoAttemptPublic]


class CompareSide(BaseModel):
    """One conversation of a comparison: its setup, what it cost and its memo."""

    id: str
    title: str
    change: str | None = Field(description="What the rerun changed; null for the original")
    scorer: str
    seed: int
    models: dict[str, list[str]] = Field(description="persona id -> the models it runs on")
    messages: int = Field(description="Persona messages")
    totals: LinePublic
    memo: MemoPublic


class Comparison(BaseModel):
    """A rerun and its original (or any two conversations), side by side."""

    first: CompareSide
    second: CompareSide


class ForkNode(BaseModel):
    """A conversation in its family tree, with the forks made from it."""

    id: str
    title: str
    forked_at: int | None
    children: list[ForkNode]


class DayUsage(BaseModel):
    """Tokens used today, the plan's limit and what is left (null: no limit)."""

    tokens_used: int
    tokens_limit: int | None
    tokens_left: int | None


class MonthUsage(DayUsage):
    """This month: tokens, what was billed, and the plan's credits left."""

    billed_usd: str
    credits_usd: str | None
    credits_left_usd: str | None


class UsagePublic(BaseModel):
    """My plan, what I used today and this month, what is left (null: no limit) and cost alerts."""

    tier: str
    day: DayUsage
    month: MonthUsage
    concurrent_personas: int | None
    alerts: list[str]
