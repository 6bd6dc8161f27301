"""The decision memo: a chair model's structured synthesis of a transcript, every claim cited.

The memo is a pydantic schema; the chair answers with JSON, which is validated, and then every
citation is checked against the conversation (each must name a real message, each owner and
stance a real speaker). A chair that fails, answers badly or cites what does not exist is
replaced by the next in the chain, ending with the scripted chair, which writes an extractive
memo offline. Every attempt is paid for and booked; the transcript is never touched.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_ai.direct import model_request
from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart
from pydantic_ai.models import Model

from thinktank.domain import Message, Usage
from thinktank.domain.vocabulary import CHAIR_OPENING
from thinktank.engine.budget import Budget, HeldTurn, Share
from thinktank.engine.engine import ConversationEngine
from thinktank.errors import ProviderFailure, public_message
from thinktank.models.answer import read_answer
from thinktank.models.chat import approximate_tokens
from thinktank.models.ids import SCRIPTED, ModelId
from thinktank.models.stack import ModelFactory
from thinktank.pricing.prices import FREE, UNKNOWN_COST, Cost, Pricer

CHAIR_INSTRUCTIONS = CHAIR_OPENING
MESSAGE_CHARS = 700
WINDOW = 80
REPLY_TOKENS = 2000


class Claim(BaseModel):
    """A statement of the memo with the messages it comes from."""

    text: str = Field(min_length=1, max_length=800)
    cites: list[int] = Field(min_length=1, description="Indices of the messages this comes from")


class Side(BaseModel):
    """One member's position in a disagreement."""

    persona_id: str
    position: str = Field(min_length=1, max_length=600)
    cites: list[int] = Field(min_length=1)


class Disagreement(BaseModel):
    """A point the panel did not agree on, with each side."""

    topic: str = Field(min_length=1, max_length=300)
    sides: list[Side] = Field(min_length=1)


class ActionItem(BaseModel):
    """A task the discussion leads to, with its owner."""

    task: str = Field(min_length=1, max_length=400)
    owner: str = Field(description="persona id")
    cites: list[int] = Field(min_length=1)


class Stance(BaseModel):
    """Where one member stands at the end."""

    persona_id: str
    stance: str = Field(min_length=1, max_length=300)
    cites: list[int] = Field(min_length=1)


class DecisionMemo(BaseModel):
    """The panel's decision memo: question, options, agreements, disagreements, risks, recommendation,
    action items and stances, each citing messages."""

    question: str = Field(min_length=1, max_length=1000)
    options: list[Claim]
    agreements: list[Claim]
    disagreements: list[Disagreement]
    risks: list[Claim]
    recommendation: Claim
    action_items: list[ActionItem]
    stances: list[Stance]


@functools.cache
def memo_schema() -> str:
    """The memo's JSON schema as the chair reads it (made once: pydantic builds it slowly)."""
    schema = DecisionMemo.model_json_schema()
    # The chair reads the fields' descriptions; the classes' docstrings are for readers of this code
    # and would only lengthen every chair prompt.
    schema.pop("description", None)
    for definition in schema.get("$defs", {}).values():
        definition.pop("description", None)
    return json.dumps(schema)


def citation_problems(memo: DecisionMemo, messages: Sequence[Message]) -> list[str]:
    """Everything in the memo that points at a message or a speaker that is not there."""
    indices = {m.index for m in messages}
    speakers = {m.speaker_id for m in messages if m.kind == "persona"}
    problems: list[str] = []

    def cited(where: str, cites: Sequence[int]) -> None:
        missing = [c for c in cites if c not in indices]
        if missing:
            problems.append(f"{where} cites messages that do not exist: {missing}")

    for name in ("options", "agreements", "risks"):
        for i, claim in enumerate(getattr(memo, name)):
            cited(f"{name}[{i}]", claim.cites)
    cited("recommendation", memo.recommendation.cites)
    for i, disagreement in enumerate(memo.disagreements):
        for j, side in enumerate(disagreement.sides):
            cited(f"disagreements[{i}].sides[{j}]", side.cites)
            if side.persona_id not in speakers:
                problems.append(f"disagreements[{i}].sides[{j}] names {side.persona_id!r}, who did not speak")
    for i, item in enumerate(memo.action_items):
        cited(f"action_items[{i}]", item.cites)
        if item.owner not in speakers:
            problems.append(f"action_items[{i}] is owned by {item.owner!r}, who did not speak")
    for i, stance in enumerate(memo.stances):
        cited(f"stances[{i}]", stance.cites)
        if stance.persona_id not in speakers:
            problems.append(f"stances[{i}] is for {stance.persona_id!r}, who did not speak")
    return problems


def chair_prompt(topic: str, messages: Sequence[Message], summary: str | None) -> str:
    lines = [f"Question: {topic}", ""]
    if summary:
        lines += [f"Summary of earlier messages: {summary}", ""]
    lines.append("Transcript (each message starts with its index):")
    for m in messages[-WINDOW:]:
        lines.append(
            f"[{m.index}] {m.speaker_name} ({m.speaker_id}, {m.speaker_role}): {m.text[:MESSAGE_CHARS]}"
        )
    lines += [
        "",
        "Write the decision memo as JSON only, matching this JSON schema exactly. Cite the indices of the",
        "messages each claim comes from; use persona ids (the word in parentheses) for owners and stances.",
        memo_schema(),
    ]
    return "\n".join(lines)


@dataclass
class MemoAttempt:
    """One model's try at writing the memo: usage, cost, and why it failed if it did."""

    model_id: str
    usage: Usage
    cost: Cost
    error: str | None = None


@dataclass
class MemoResult:
    """A memo that passed its checks, the model that wrote it, and every attempt made."""

    memo: DecisionMemo
    model_id: str
    attempts: list[MemoAttempt] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for attempt in self.attempts:
            total = total + attempt.usage
        return total

    @property
    def cost(self) -> Cost:
        total = FREE
        for attempt in self.attempts:
            total = total + attempt.cost
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "memo": self.memo.model_dump(mode="json"),
            "model_id": self.model_id,
            "usage": {"input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens},
            "cost": self.cost.to_json(),
            "attempts": [
                {"model_id": a.model_id, "error": a.error, "cost": a.cost.to_json()} for a in self.attempts
            ],
        }


class MemoFailed(ProviderFailure):
    """No model could write a memo that passes its checks."""


async def write_memo(
    *,
    topic: str,
    messages: Sequence[Message],
    summary: str | None,
    chairs: Sequence[tuple[ModelId, Model]],
    budget: Budget | None = None,
    pricer: Pricer | None = None,
) -> MemoResult:
    """Try each chair in turn until one writes a valid, correctly cited memo. Each chair's call is
    reserved with `budget` before it runs (BudgetExceeded: no chair is asked) and settled after."""
    prompt = chair_prompt(topic, messages, summary)
    request = [ModelRequest(parts=[SystemPromptPart(CHAIR_INSTRUCTIONS), UserPromptPart(prompt)])]
    prompt_tokens = approximate_tokens(CHAIR_INSTRUCTIONS) + approximate_tokens(prompt)
    attempts: list[MemoAttempt] = []
    for model_id, model in chairs:
        price = (
            pricer.price(model_id, input_tokens=prompt_tokens, output_tokens=REPLY_TOKENS) if pricer else FREE
        )
        held = await HeldTurn.reserve(
            budget or Budget(), {"chair": Share(prompt_tokens + REPLY_TOKENS, price.billed or Decimal(0))}
        )
        try:
            try:
                response = await model_request(
                    model, request, model_settings={"temperature": 0.2, "max_tokens": REPLY_TOKENS}
                )
            except ProviderFailure as failure:
                attempts.append(MemoAttempt(str(model_id), Usage(), FREE, public_message(failure)))
                continue
            reply = read_answer(response)
            attempt = MemoAttempt(reply.model_id or str(model_id), reply.usage, reply.cost or UNKNOWN_COST)
            attempts.append(attempt)
            await held.settle(
                "chair",
                tokens=reply.usage.total_tokens,
                cost=attempt.cost.billed,
                model_id=attempt.model_id,
            )
        finally:
            await held.release()
        answer = reply.text
        try:
            match = re.search(r"\{.*\}", answer, re.S)
            memo = DecisionMemo.model_validate_json(match.group(0) if match else answer)
        except ValidationError as exc:
            attempt.error = f"invalid memo: {exc.errors()[0]['msg']}"
            continue
        if problems := citation_problems(memo, messages):
            attempt.error = "bad citations: " + "; ".join(problems[:3])
            continue
        return MemoResult(memo, attempt.model_id, attempts)
    reasons = "; ".join(f"{a.model_id}: {a.error}" for a in attempts)
    raise MemoFailed(f"no chair could write the memo ({reasons})", provider="chair")


async def memo_for_conversation(
    engine: ConversationEngine, factory: ModelFactory, *, chair: ModelId | None = None
) -> MemoResult:
    """The memo of a conversation: the chosen chair, else the panel's own models, else the scripted
    chair; every attempt is booked on the conversation under `memo`."""
    wanted = ([chair] if chair else []) + [m.models[0] for m in engine.members] + [SCRIPTED]
    result = await write_memo(
        topic=engine.config.topic,
        messages=engine.messages,
        summary=engine.context.summary.text or None,
        chairs=[(model_id, factory.build(model_id)) for model_id in dict.fromkeys(wanted)],
        budget=engine.budget,
        pricer=engine.pricer,
    )
    for attempt in result.attempts:
        await engine.book(account="memo", model_id=attempt.model_id, usage=attempt.usage, cost=attempt.cost)
    return result
