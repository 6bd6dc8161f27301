"""Plain types shared by every layer: personas and conversation templates (seed §9).

They know nothing of files, HTTP, SQL or providers. Validation here is what a persona or template
must satisfy wherever it comes from: the bundled library, a user's directory, or (later) the API.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from thinktank.domain.ids import LOCAL_DEFAULT, ModelId, parse_model_id
from thinktank.errors import InvalidModelIdError

DiscussionMode = Literal["ideation", "refinement", "planning", "debate", "review"]
DISCUSSION_MODES: tuple[DiscussionMode, ...] = ("ideation", "refinement", "planning", "debate", "review")
ExperienceLevel = Literal["Limited", "Junior", "Intermediate", "Senior", "Expert", "Mastery"]
Attitude = Literal["Enthusiastic", "Supportive", "Intrigued", "Neutral", "Skeptical", "Critical"]

MIN_SYSTEM_PROMPT_WORDS = 80
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("must be lowercase words joined by hyphens, like 'senior-engineer'")
    return value


Slug = Annotated[str, AfterValidator(_slug)]


def slug_of(name: str) -> str:
    """An id made from a name: "Night Nurse" -> "night-nurse"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Demographics(_Strict):
    """Who a persona is, in brief: age, education, location."""

    age: int = Field(ge=14, le=110)
    education: str = Field(min_length=1)
    location: str = Field(min_length=1)


class Personality(_Strict):
    """How a persona thinks and speaks: traits, communication and decision-making styles."""

    traits: list[str] = Field(min_length=1)
    communication: str = Field(min_length=1)
    decision_making: str = Field(min_length=1)


class Avatar(_Strict):
    """How a persona is drawn: an emoji on a colour."""

    emoji: str = Field(min_length=1, max_length=8)
    color: str

    @field_validator("color")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _COLOR.match(value):
            raise ValueError("must be a hex colour like '#3366cc'")
        return value.lower()


DEFAULT_CATEGORY = "Custom"
DEFAULT_AVATAR = Avatar(emoji="🧑", color="#64748b")


class Persona(_Strict):
    """Name, role and system prompt make a persona; everything else has a default (a persona with
    no model named runs on the bundled local model, like any persona whose provider has no key)."""

    id: Slug
    name: str = Field(min_length=1, max_length=80)
    role: str = Field(min_length=1, max_length=120)
    system_prompt: str
    category: str = Field(DEFAULT_CATEGORY, min_length=1)
    description: str = ""
    model: str = str(LOCAL_DEFAULT)
    fallbacks: list[str] = Field(default_factory=list)
    demographics: Demographics | None = None
    personality: Personality | None = None
    expertise: list[str] = Field(default_factory=list)
    experience_level: ExperienceLevel = "Senior"
    attitude: Attitude = "Neutral"
    avatar: Avatar = DEFAULT_AVATAR

    @field_validator("model")
    @classmethod
    def _valid_model(cls, value: str) -> str:
        return _checked_model_id(value)

    @field_validator("fallbacks")
    @classmethod
    def _valid_fallbacks(cls, value: list[str]) -> list[str]:
        return [_checked_model_id(v) for v in value]

    @field_validator("system_prompt")
    @classmethod
    def _substantial(cls, value: str) -> str:
        words = len(value.split())
        if words < MIN_SYSTEM_PROMPT_WORDS:
            raise ValueError(
                f"has {words} words; write at least {MIN_SYSTEM_PROMPT_WORDS}: how this person reasons, "
                "what they push on, what they notice, how they speak, what they never do"
            )
        return value

    @property
    def model_id(self) -> ModelId:
        return parse_model_id(self.model)

    @property
    def fallback_ids(self) -> list[ModelId]:
        return [parse_model_id(f) for f in self.fallbacks]


class ConversationTemplate(_Strict):
    """A ready-made discussion: its panel of personas, mode, opening prompt and expected length."""

    id: Slug
    category: str = Field(min_length=1)
    industry: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    personas: list[Slug] = Field(min_length=2)
    mode: DiscussionMode
    estimated_messages: int = Field(ge=1, le=500)
    initial_prompt: str = Field(min_length=1)
    suggested_flow: list[str] = Field(min_length=1)

    @field_validator("personas")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        duplicates = sorted({p for p in value if value.count(p) > 1})
        if duplicates:
            raise ValueError(f"lists {', '.join(duplicates)} more than once")
        return value


def _checked_model_id(value: str) -> str:
    try:
        parse_model_id(value)
    except InvalidModelIdError as exc:
        # pydantic reports ValueError with the field's location, which is what a user needs.
        raise ValueError(str(exc)) from exc
    return value.strip()
