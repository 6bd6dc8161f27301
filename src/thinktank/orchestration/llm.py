"""The LLM scorer: ONE structured-output call per turn that scores every candidate together.

Its input is bounded (the roster and a recent window of trimmed messages, never the whole
transcript), so its cost per turn is flat. The seed called a model once per persona per turn; we
never do. Participation is counted, not guessed. Any error or invalid output falls back to the
heuristic scorer for that turn, and the decision says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pydantic import BaseModel, Field, ValidationError
from pydantic_ai.direct import model_request
from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart
from pydantic_ai.models import Model

from thinktank.domain import Persona, Usage
from thinktank.errors import ProviderFailure
from thinktank.models.answer import Answer, read_answer
from thinktank.models.chat import approximate_tokens
from thinktank.models.ids import ModelId
from thinktank.orchestration.heuristic import HeuristicScorer
from thinktank.orchestration.scoring import (
    Factors,
    ScoreSheet,
    SelectionContext,
    addressed_by_last,
    participation,
)

WINDOW_MESSAGES = 6
MESSAGE_CHARS = 400
REPLY_TOKENS = 600

INSTRUCTIONS = """You moderate a panel discussion and judge who should speak next.
For EVERY candidate, score from 0 to 1:
- relevance: how relevant they are to what was just said
- expertise: how much their expertise bears on the current question
- flow: how natural it is for them to speak now (asked directly, a reply is owed to them)
Answer with JSON only, exactly this shape:
{"scores": [{"persona_id": "...", "relevance": 0.0, "expertise": 0.0, "flow": 0.0}]}"""


class CandidateScore(BaseModel):
    """One candidate's factors as the scoring model returns them."""

    persona_id: str
    relevance: float = Field(ge=0, le=1)
    expertise: float = Field(ge=0, le=1)
    flow: float = Field(ge=0, le=1)


class LlmScores(BaseModel):
    """The scoring model's JSON answer: a score per candidate."""

    scores: list[CandidateScore]


def selection_prompt(context: SelectionContext, candidates: Sequence[Persona]) -> str:
    roster = [
        {"persona_id": p.id, "name": p.name, "role": p.role, "expertise": p.expertise} for p in candidates
    ]
    recent = [
        {"speaker": f"{m.speaker_name} ({m.speaker_role})", "text": m.text[:MESSAGE_CHARS]}
        for m in context.messages[-WINDOW_MESSAGES:]
    ]
    return json.dumps(
        {"topic": context.topic[:MESSAGE_CHARS], "candidates": roster, "recent_messages": recent}
    )


def _json_object(text: str) -> str:
    match = re.search(r"\{.*\}", text, re.S)
    if match is None:
        raise ValueError("no JSON object in the answer")
    return match.group(0)


class LlmScorer:
    """Asks a model to score the candidates; falls back to the heuristic when the model fails."""

    name = "llm"

    def __init__(self, model: Model, *, model_id: ModelId, fallback: HeuristicScorer | None = None) -> None:
        self.model = model
        self.model_id = model_id
        """Who is asked first (what its call is priced at before it runs)."""
        self.fallback = fallback or HeuristicScorer()

    def planned_call(self, context: SelectionContext, candidates: Sequence[Persona]) -> tuple[ModelId, Usage]:
        prompt = approximate_tokens(INSTRUCTIONS) + approximate_tokens(selection_prompt(context, candidates))
        return self.model_id, Usage(prompt, REPLY_TOKENS, 1)

    async def score(self, context: SelectionContext, candidates: Sequence[Persona]) -> ScoreSheet:
        messages = [
            ModelRequest(
                parts=[SystemPromptPart(INSTRUCTIONS), UserPromptPart(selection_prompt(context, candidates))]
            )
        ]
        try:
            response = await model_request(
                self.model, messages, model_settings={"temperature": 0.0, "max_tokens": REPLY_TOKENS}
            )
        except ProviderFailure as failure:
            return await self._fallback(context, candidates, f"{type(failure).__name__}", reply=None)
        reply = read_answer(response)
        answer = reply.text
        try:
            parsed = LlmScores.model_validate_json(_json_object(answer))
            by_id = {s.persona_id: s for s in parsed.scores}
            missing = [p.id for p in candidates if p.id not in by_id]
            if missing:
                raise ValueError(f"no score for {', '.join(missing)}")
        except (ValidationError, ValueError) as exc:
            return await self._fallback(
                context, candidates, f"invalid output: {exc}".splitlines()[0], reply=reply
            )
        shares = participation(context, candidates)
        asked = addressed_by_last(context, candidates)
        factors = {}
        for persona in candidates:
            s = by_id[persona.id]
            factors[persona.id] = Factors(
                s.relevance, s.expertise, shares[persona.id], s.flow, addressed=persona.id in asked
            )
        return _charged(ScoreSheet(factors=factors, scorer=self.name), reply)

    async def _fallback(
        self, context: SelectionContext, candidates: Sequence[Persona], why: str, *, reply: Answer | None
    ) -> ScoreSheet:
        sheet = await self.fallback.score(context, candidates)
        sheet.note = f"llm scorer failed ({why[:120]}); heuristic used"
        return sheet if reply is None else _charged(sheet, reply)


def _charged(sheet: ScoreSheet, reply: Answer) -> ScoreSheet:
    """The sheet carrying what the scoring call spent, and on which model (for the books by model)."""
    sheet.usage = reply.usage
    sheet.model_id = reply.model_id
    if reply.cost is not None:
        sheet.cost = reply.cost
    return sheet
