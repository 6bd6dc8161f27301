"""Draft a persona from one sentence with a chosen model: the model answers with a JSON object
(named fields, described in the instructions), which is validated here; the builder shows the
draft for editing, and it is saved (and validated again, in full) only when the user saves it."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai.direct import model_request
from pydantic_ai.messages import ModelRequest, SystemPromptPart, UserPromptPart
from pydantic_ai.models import Model

from thinktank.domain.library import MIN_SYSTEM_PROMPT_WORDS, Attitude, ExperienceLevel
from thinktank.errors import UserError
from thinktank.models.answer import read_answer
from thinktank.models.scripted import PERSONA_DRAFTER

MAX_SENTENCE = 500
INSTRUCTIONS = f"""{PERSONA_DRAFTER} for a discussion tool, where several personas debate a question.
From the user's one-sentence description, write one persona. Answer with a single JSON object and
nothing else, with these keys:
  "name": a realistic full name,
  "role": their job or position, under 80 characters,
  "category": one word or two, e.g. Technology, Business, Healthcare, Education,
  "description": one sentence,
  "expertise": a list of 3 to 5 short areas,
  "experience_level": one of {", ".join(get_args(ExperienceLevel))},
  "attitude": one of {", ".join(get_args(Attitude))},
  "system_prompt": at least {MIN_SYSTEM_PROMPT_WORDS + 10} words in the second person, starting
    "You are <name>,": how this person reasons, what they push on, what they notice, how they
    speak, what they never do."""


class PersonaDraft(BaseModel):
    """What the model must give; the rest of a persona has defaults."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=80)
    role: str = Field(min_length=1, max_length=120)
    system_prompt: str = Field(min_length=1, max_length=8000)
    category: str | None = Field(None, max_length=80)
    description: str | None = Field(None, max_length=400)
    expertise: list[str] = Field(default_factory=list, max_length=8)
    experience_level: ExperienceLevel | None = None
    attitude: Attitude | None = None


def _json_object(text: str) -> Any:
    match = re.search(r"\{.*\}", text, re.S)
    if match is None:
        raise ValueError("no JSON object in the answer")
    return json.loads(match.group(0))


async def draft_persona(sentence: str, *, model: Model) -> PersonaDraft:
    """The model's persona for `sentence`, validated; a UserError says why a draft was unusable."""
    sentence = sentence.strip()
    if not sentence:
        raise UserError("describe the persona in a sentence first")
    if len(sentence) > MAX_SENTENCE:
        raise UserError(f"keep the description under {MAX_SENTENCE} characters")
    request = ModelRequest(parts=[SystemPromptPart(INSTRUCTIONS), UserPromptPart(sentence)])
    response = await model_request(model, [request], model_settings={"temperature": 0.4, "max_tokens": 900})
    answer = read_answer(response).text
    try:
        return PersonaDraft.model_validate(_json_object(answer))
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0][:160]
        raise UserError(
            f"the model's answer was not a usable persona ({reason}); try again or another model"
        ) from None
